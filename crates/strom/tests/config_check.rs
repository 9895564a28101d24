//! `-t -c FILE`: the verdict on every seed fixture matches nats-server's, and errors name
//! file:line:col.

mod common;

use std::path::PathBuf;

use common::{config_check, reference_or_skip, strom_bin, TempDir};

fn fixtures() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seed-configs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("no fixtures at {}", dir.display());
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    files.sort();
    files
}

#[test]
fn seed_fixtures_get_nats_server_verdicts() {
    let Some(reference) = reference_or_skip() else {
        return;
    };
    let files = fixtures();
    for file in &files {
        let (ours, our_text) = config_check(&strom_bin(), file);
        let (theirs, their_text) = config_check(&reference, file);
        assert_eq!(
            ours,
            theirs,
            "{}:\n strom: {our_text}\n nats-server: {their_text}",
            file.display()
        );
        if !ours {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            assert!(
                our_text.contains(name),
                "the error names the file: {our_text}"
            );
        }
    }
}

#[test]
fn errors_name_file_line_and_column_and_suggest() {
    let dir = TempDir::new("badconf");
    let path = dir.0.join("bad.conf");
    std::fs::write(&path, "port: 4222\ndefault_user: guest\n").expect("written");
    let (ok, text) = config_check(&strom_bin(), &path);
    assert!(!ok);
    let want = format!("{}:2:1", path.display());
    assert!(text.contains(&want), "{text}");
    assert!(
        text.contains("no_auth_user"),
        "suggests the field meant: {text}"
    );
}

#[test]
fn valid_config_passes_the_check() {
    let dir = TempDir::new("goodconf");
    let path = dir.0.join("good.conf");
    std::fs::write(
        &path,
        "port: 4222\nmax_payload: 2MB\nping_interval: \"30s\"\n",
    )
    .expect("written");
    let (ok, text) = config_check(&strom_bin(), &path);
    assert!(ok, "{text}");
    assert!(text.contains("is valid"), "{text}");
}
