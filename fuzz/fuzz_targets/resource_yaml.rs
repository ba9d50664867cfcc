//! Fuzzes the tctl-shaped resource reader used by `create` and `edit`: any text must parse or be
//! refused with an error, never panic; what parses must render and parse back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mwictl::resource::{parse_documents, render_json, render_yaml};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(items) = parse_documents(&text) {
        let yaml = render_yaml(&items);
        assert_eq!(parse_documents(&yaml).expect("rendered YAML parses"), items);
        let _ = render_json(&items);
    }
});
