//! Fuzzes the tbot.yaml linter: any text, judged against any target release, on or off the bot's
//! host, must lint without a panic, and the text after the safe fixes must lint again without one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mwi_diag::lint::{self, LintOptions, LintReport, Target, TargetSource, target};
use std::path::Path;

/// Releases either side of the facts in `mwi_diag::tbot_release`.
const RELEASES: &[&str] = &[
    "14", "15.4.6", "15.4.9", "16.0.3", "17", "17.3.0", "18", "19",
];

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
        on_host: data.get(1).is_some_and(|b| b % 2 == 0),
        target: Target::new(
            target::parse_release(
                RELEASES[usize::from(data.get(2).copied().unwrap_or(0)) % RELEASES.len()],
            )
            .expect("a release"),
            TargetSource::Flag,
            "fuzz",
        ),
        // `--live` with a token `t` in mode standard whose rotation is pending, so the rules
        // that judge a static key against its token run too.
        live: data.get(3).is_some_and(|b| b % 2 == 0).then(|| lint::LiveTokens::Read {
            cluster: "fuzz".to_string(),
            tokens: [(
                "t".to_string(),
                lint::BoundToken {
                    recovery_mode: "standard".to_string(),
                    rotation_pending: Some("2026-01-01T00:00:00Z".to_string()),
                },
            )]
            .into(),
        }),
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
