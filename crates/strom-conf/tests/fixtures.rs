//! Differential test: every seed configuration gets the verdict `nats-server -t -c FILE`
//! (2.15.1) gives it, valid or refused, at the same places.
//!
//! The verdicts were recorded by running nats-server by hand; the test never calls it. The
//! environment is given explicitly, since `$VAR`s fall back to it. `nats-server -t` also
//! refuses files that only have warnings, so a warning counts as a refusal here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use strom_conf::{parse_file_with_env, ConfError, ServerConfig};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/seed-configs");

enum Verdict {
    Valid,
    /// nats-server's problems as (line, column, a word of our message); column 0 where
    /// nats-server gives only a line.
    Refused(&'static [(u32, u32, &'static str)]),
}

struct Case {
    file: &'static str,
    env: &'static [(&'static str, &'static str)],
    verdict: Verdict,
}

const SOVEREIGN_VARS: &[(&str, &str)] = &[
    ("CLUSTER_ADVERTISE", "x"),
    ("API_PASSWORD", "a"),
    ("MOBILE_PASSWORD", "b"),
    ("ANALYTICS_PASSWORD", "c"),
];

const SOVEREIGN_ALL_VARS: &[(&str, &str)] = &[
    ("CLUSTER_ADVERTISE", "x"),
    ("API_PASSWORD", "a"),
    ("MOBILE_PASSWORD", "b"),
    ("ANALYTICS_PASSWORD", "c"),
    ("SYS", "SYS"),
];

const TEEI_VARS: &[(&str, &str)] = &[
    ("POD_NAME", "nats-0"),
    ("NATS_CLUSTER_USER", "u"),
    ("NATS_CLUSTER_PASSWORD", "p"),
    ("NATS_ADMIN_PASSWORD", "a"),
    ("NATS_APP_PASSWORD", "b"),
];

const CASES: &[Case] = &[
    // nats-server: variable reference for 'CLUSTER_ADVERTISE' on line 15 can not be found
    Case {
        file: "global-sovereign.conf",
        env: &[],
        verdict: Verdict::Refused(&[(15, 22, "CLUSTER_ADVERTISE")]),
    },
    // nats-server: variable reference for 'SYS' on line 108 can not be found
    Case {
        file: "global-sovereign.conf",
        env: SOVEREIGN_VARS,
        verdict: Verdict::Refused(&[(108, 17, "SYS")]),
    },
    // nats-server: global-sovereign.conf:73:3: unknown field "default_user"
    //              global-sovereign.conf:91:1: unknown field "logging"
    //              (and 19:3, the TLS certificate files do not exist: tls is not checked here)
    Case {
        file: "global-sovereign.conf",
        env: SOVEREIGN_ALL_VARS,
        verdict: Verdict::Refused(&[(73, 3, "default_user"), (91, 1, "logging")]),
    },
    // nats-server: configuration file noetl.conf is valid
    Case {
        file: "noetl.conf",
        env: &[],
        verdict: Verdict::Valid,
    },
    // nats-server: variable reference for 'POD_NAME' on line 5 can not be found
    Case {
        file: "teei-us-east-1.conf",
        env: &[],
        verdict: Verdict::Refused(&[(5, 14, "POD_NAME")]),
    },
    // nats-server: configuration file teei-us-east-1.conf is valid
    Case {
        file: "teei-us-east-1.conf",
        env: TEEI_VARS,
        verdict: Verdict::Valid,
    },
];

/// Our verdict: the problems' positions and texts, empty when valid.
fn problems(path: &Path, vars: &[(&str, &str)]) -> Vec<(u32, u32, String)> {
    let env = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let result = parse_file_with_env(path, &env).and_then(|map| ServerConfig::from_map(&map));
    let listed = |e: &ConfError| {
        let at = e.position().map_or((0, 0), |p| (p.line, p.column));
        (at.0, at.1, e.to_string())
    };
    match result {
        Ok(config) => config
            .warnings
            .iter()
            .map(|w| (w.at.line, w.at.column, w.to_string()))
            .collect(),
        Err(e) => e.errors().into_iter().map(listed).collect(),
    }
}

#[test]
fn seed_configs_get_the_verdict_nats_server_gives() {
    let dir = PathBuf::from(FIXTURES);
    let Ok(listing) = std::fs::read_dir(&dir) else {
        eprintln!("skipped: no fixtures folder at {}", dir.display());
        return;
    };
    let on_disk: BTreeSet<String> = listing
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let known: BTreeSet<String> = CASES.iter().map(|c| c.file.to_string()).collect();
    let unrecorded: Vec<&String> = on_disk.difference(&known).collect();
    assert!(
        unrecorded.is_empty(),
        "no recorded nats-server verdict for {unrecorded:?}: run `nats-server -t -c FILE` and add it to CASES"
    );

    for case in CASES.iter().filter(|c| on_disk.contains(c.file)) {
        let got = problems(&dir.join(case.file), case.env);
        let label = format!("{} with {} variables set", case.file, case.env.len());
        match case.verdict {
            Verdict::Valid => assert!(
                got.is_empty(),
                "{label}: nats-server accepts it, we refuse: {got:#?}"
            ),
            Verdict::Refused(expected) => {
                assert_eq!(got.len(), expected.len(), "{label}: {got:#?}");
                for ((line, col, text), (eline, ecol, word)) in got.iter().zip(expected) {
                    assert_eq!((line, col), (eline, ecol), "{label}: {text}");
                    assert!(text.contains(word), "{label}: {text} should name {word}");
                    assert!(
                        text.contains(case.file),
                        "{label}: {text} should name the file"
                    );
                }
            }
        }
    }
}
