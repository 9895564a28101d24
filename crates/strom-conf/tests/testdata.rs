//! Data-driven tests: each `tests/testdata/*.conf` says in its comments what must come of it.
//!
//! `# expect: LINE:COL TEXT` — an error at that place whose message contains TEXT, one line per
//! error in the order they are reported; `# expect-warning: LINE:COL TEXT` — the same for a
//! warning on an accepted file; `# expect: valid` — accepted without warnings. Files under
//! `testdata/include/` are only there to be included.

use std::path::{Path, PathBuf};

use strom_conf::{parse_file_with_env, ServerConfig};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/testdata");

#[derive(Debug, PartialEq)]
struct Found {
    line: u32,
    column: u32,
    text: String,
}

struct Expected {
    errors: Vec<(u32, u32, String)>,
    warnings: Vec<(u32, u32, String)>,
    valid: bool,
}

fn expectations(path: &Path) -> Expected {
    let text = std::fs::read_to_string(path).expect("testdata files are readable");
    let mut expected = Expected {
        errors: Vec::new(),
        warnings: Vec::new(),
        valid: false,
    };
    for line in text.lines() {
        let (list, rest) = if let Some(rest) = line.strip_prefix("# expect-warning: ") {
            (&mut expected.warnings, rest)
        } else if let Some(rest) = line.strip_prefix("# expect: ") {
            if rest.trim() == "valid" {
                expected.valid = true;
                continue;
            }
            (&mut expected.errors, rest)
        } else {
            continue;
        };
        let (place, words) = rest.split_once(' ').expect("`LINE:COL TEXT`");
        let (l, c) = place.split_once(':').expect("`LINE:COL`");
        let number = |s: &str| s.parse::<u32>().expect("a number");
        list.push((number(l), number(c), words.to_string()));
    }
    expected
}

fn check(path: &Path) -> Result<(), String> {
    let expected = expectations(path);
    let name = path.display();
    if !expected.valid && expected.errors.is_empty() && expected.warnings.is_empty() {
        return Err(format!("{name}: no `# expect:` line"));
    }
    // No environment: the files must not depend on the machine running the tests.
    let result = parse_file_with_env(path, &|_| None).and_then(|m| ServerConfig::from_map(&m));
    let (errors, warnings) = match &result {
        Ok(config) => (
            Vec::new(),
            config
                .warnings
                .iter()
                .map(|w| Found {
                    line: w.at.line,
                    column: w.at.column,
                    text: w.to_string(),
                })
                .collect(),
        ),
        Err(e) => (
            e.errors()
                .into_iter()
                .map(|e| {
                    let at = e.position();
                    Found {
                        line: at.map_or(0, |p| p.line),
                        column: at.map_or(0, |p| p.column),
                        text: e.to_string(),
                    }
                })
                .collect(),
            Vec::new(),
        ),
    };
    compare(&name.to_string(), "error", &expected.errors, &errors)?;
    compare(&name.to_string(), "warning", &expected.warnings, &warnings)
}

fn compare(
    name: &str,
    kind: &str,
    expected: &[(u32, u32, String)],
    found: &[Found],
) -> Result<(), String> {
    if expected.len() != found.len() {
        return Err(format!(
            "{name}: expected {} {kind}(s), found {found:#?}",
            expected.len()
        ));
    }
    for ((line, column, words), f) in expected.iter().zip(found) {
        if (f.line, f.column) != (*line, *column) || !f.text.contains(words.as_str()) {
            return Err(format!(
                "{name}: expected a {kind} at {line}:{column} containing {words:?}, found {f:#?}"
            ));
        }
    }
    Ok(())
}

#[test]
fn every_testdata_file_gets_its_expected_result() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(TESTDATA)
        .expect("tests/testdata exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    files.sort();
    assert!(files.len() > 10, "testdata is missing");
    let failures: Vec<String> = files.iter().filter_map(|p| check(p).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
