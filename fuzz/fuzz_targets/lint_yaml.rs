//! Fuzzes the tbot.yaml linter: any text must lint without a panic, and the text after the safe
//! fixes must lint again without one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mwi_diag::lint::{self, LintOptions, LintReport};
use std::path::Path;

fn local(_: &Path) -> Option<String> {
    None
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let options = LintOptions {
        tbot_env: data.first().map(|b| {
            let value = if b % 2 == 0 { "yes" } else { "no" };
            [("TBOT_USE_PROXY_ADDR".to_string(), value.to_string())].into()
        }),
        network_fs: local,
        ..LintOptions::default()
    };
    let file = lint::lint_source("fuzz.yaml", &text, &options);
    if let Some(fixed) = file.fixed_text() {
        lint::lint_source("fuzz.yaml", &fixed, &options);
    }
    let mut sink = Vec::new();
    LintReport::new(vec![file])
        .render_text(&mut sink, false)
        .expect("rendering to memory cannot fail");
});
