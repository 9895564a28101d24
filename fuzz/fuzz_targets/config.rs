//! Fuzzes the configuration parser: any text must give a value tree or an error naming a
//! position — never a panic, a hang or a stack overflow — and mapping the tree to typed options
//! must not panic either. Variables resolve against an empty environment; includes point at a
//! path that does not exist, so they fail cleanly.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let no_env = |_: &str| -> Option<String> { None };
    if let Ok(map) = strom_conf::parse_str_with_env(&text, "fuzz.conf", &no_env) {
        let _ = strom_conf::ServerConfig::from_map(&map);
    }
});
