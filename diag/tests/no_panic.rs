//! No input makes the log reader or the YAML linter panic: random bytes and mutated corpus
//! files, on the stable toolchain (the cargo-fuzz targets in /fuzz go further on nightly).

use mwi_diag::doctor::{Doctor, DoctorError};
use mwi_diag::lint::{self, LintOptions, Target, TargetSource, target};
use std::path::Path;

/// A small deterministic generator (xorshift64*), so failures reproduce from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to YAML and to log lines, so random input reaches deep paths.
const ALPHABET: &[u8] =
    b"  \n\n\t-:#'\"[]{},&*!|>?%@`\\.=/abcdeftruoxyzABC0123456789\r\x00\xc3\xa9\xff";
const WORDS: &[&str] = &[
    "version: v2\n",
    "services:\n",
    "  - type: kubernetes\n",
    "    destination:\n      type: kubernetes_secret\n",
    "auth_server: a:3025\n",
    "- type: identity\n",
    "ssh_config:",
    "disable_exec_plugin",
    "outputs:",
    "{a: [b, {c: d}]}",
    "'it''s'",
    "\"esc\\x41\\u00e9\"",
    "|+\n  block\n",
    "renewable cert generation mismatch for bot a/b: stored=1, presented=2\n",
    "lock targeting User:\"bot-x\" is in force: ",
    "auth API: access denied",
    "Identity has expired",
    "database \"x\" not found",
    "Successfully renewed impersonated certificates for directory /d, principals=[a]",
    "ssh -F cfg bob@host\n",
    "{\"message\":\"tls: bad certificate\",\"MESSAGE\":",
    "Jan 21 18:11:16 h tbot[1]: ",
    "/webapi/find connection refused",
    // v1 files (a schema of their own) and the forms that depend on the target release.
    "destinations:\n  - directory:\n      path: /d\n",
    "storage:\n  memory: {}\n  directory: /s\n",
    "configs: [ssh_client, {mongo: {}}]\n",
    "certificate_ttl: 30m\n",
    "credential_ttl: 1h\n",
    "    roles: [a]\n",
    "  - type: database-tunnel\n    listen: tcp://127.0.0.1:0\n",
    "  - type: kubernetes/v2\n    selectors: [{labels: {a: b}}]\n",
    "  - type: workload-identity-x509\n    selector: {name: w}\n",
    // tbot's HTML-escaped error reports and older wordings.
    "error=&#34;database &quot;x&quot; not found&#34; &#x27;&amp;&lt;&gt;&#99999999;&#",
    "Destination kubernetes_secret: out must be a directory",
    "ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey]",
];

/// Releases lint is asked to judge against, either side of the facts in `tbot_release`.
const RELEASES: &[&str] = &[
    "14", "15.4.6", "15.4.9", "16.0.3", "17", "17.3.0", "18", "19", "25.1.2",
];

fn corpus() -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    // Ours, then the real-world corpora the e2e tests label (other people's configs and logs).
    for dir in [
        "tests/corpus/logs",
        "tests/corpus/configs",
        "../tests/fixtures/real-tbot-configs",
        "../tests/fixtures/real-logs",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .expect("corpus dir")
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.path());
        for entry in entries {
            files.push(std::fs::read(entry.path()).expect("corpus file"));
        }
    }
    files
}

fn random_input(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut out = if rng.below(3) == 0 {
        Vec::new()
    } else {
        corpus[rng.below(corpus.len())].clone()
    };
    for _ in 0..=rng.below(12) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 => {
                let n = rng.below(64);
                let bytes: Vec<u8> = (0..n)
                    .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                    .collect();
                out.splice(at..at, bytes);
            }
            1 => {
                let word = WORDS[rng.below(WORDS.len())].as_bytes();
                out.splice(at..at, word.iter().copied());
            }
            2 if !out.is_empty() => {
                let end = (at + rng.below(32)).min(out.len());
                out.drain(at.min(end)..end);
            }
            3 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            4 => {
                let other = &corpus[rng.below(corpus.len())];
                let start = rng.below(other.len() + 1);
                let end = (start + rng.below(200)).min(other.len());
                out.splice(at..at, other[start..end].iter().copied());
            }
            _ => {
                let n = rng.below(8) * 2;
                out.splice(at..at, std::iter::repeat_n(b' ', n));
            }
        }
    }
    out
}

fn local(_: &Path) -> Option<String> {
    None
}

/// `--live`'s answer: not asked, unread, or a cluster whose token `bot-ci-static` (the corpus's
/// static-key config) is in mode standard with a rotation pending.
fn live(which: usize) -> Option<lint::LiveTokens> {
    let token = lint::BoundToken {
        recovery_mode: "standard".to_string(),
        rotation_pending: Some("2026-01-01T00:00:00Z".to_string()),
    };
    match which {
        0 => None,
        1 => Some(lint::LiveTokens::Unread("not asked in tests".to_string())),
        _ => Some(lint::LiveTokens::Read {
            cluster: "fuzz".to_string(),
            tokens: [("bot-ci-static".to_string(), token)].into(),
        }),
    }
}

fn exercise(input: &[u8], rng: &mut Rng) {
    let mut doctor = Doctor::with_buffer_capacity(64 + rng.below(1024));
    // Binary input is refused, and a corrupt gzip stream cannot be read; nothing else fails.
    match doctor.feed_reader("fuzz.log", input) {
        Ok(()) | Err(DoctorError::Binary { .. } | DoctorError::Compressed { .. }) => {}
        Err(DoctorError::Read { .. }) if input.starts_with(&[0x1F, 0x8B]) => {}
        Err(e) => panic!("reading a slice failed: {e}"),
    }
    let report = doctor.finish();
    let mut sink = Vec::new();
    report
        .render_text(&mut sink, rng.below(2) == 0)
        .expect("render");
    serde_json::to_string(&report).expect("json");

    let options = LintOptions {
        tbot_env: [None, Some("yes"), Some("1")][rng.below(3)]
            .map(|v| [("TBOT_USE_PROXY_ADDR".to_string(), v.to_string())].into()),
        network_fs: local,
        on_host: rng.below(2) == 0,
        proxy_probe: Some(|address| {
            if address.len() % 2 == 0 {
                lint::ProxyProbe::Proxy(format!("cluster {address}"))
            } else {
                lint::ProxyProbe::NoAnswer("not asked in tests".to_string())
            }
        }),
        target: Target::new(
            target::parse_release(RELEASES[rng.below(RELEASES.len())]).expect("a release"),
            TargetSource::Flag,
            "fuzz",
        ),
        live: live(rng.below(3)),
    };
    let text = String::from_utf8_lossy(input);
    target::parse_release(&text);
    target::parse_tbot_version(&text);
    target::cluster_release(&text);
    let file = lint::lint_source("fuzz.yaml", &text, &options);
    if let Some(fixed) = file.fixed_text() {
        lint::lint_source("fuzz.yaml", &fixed, &options);
    }
    let report = lint::LintReport::new(vec![file]);
    report.render_text(&mut sink, false).expect("render");
}

#[test]
fn random_and_mutated_inputs_never_panic() {
    let corpus = corpus();
    let seed = std::env::var("MWI_NO_PANIC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_CAFE_u64);
    let rounds: usize = std::env::var("MWI_NO_PANIC_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let mut rng = Rng(seed);
    for round in 0..rounds {
        let input = random_input(&mut rng, &corpus);
        let outcome =
            std::panic::catch_unwind(|| exercise(&input, &mut Rng(seed ^ round as u64 | 1)));
        assert!(
            outcome.is_ok(),
            "round {round} (seed {seed}) panicked on input {:?}",
            String::from_utf8_lossy(&input)
        );
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let options = LintOptions {
        tbot_env: None,
        network_fs: local,
        ..LintOptions::default()
    };
    for input in [
        "[".repeat(100_000),
        "{a: ".repeat(50_000),
        "- ".repeat(50_000),
        (0..2000)
            .map(|i| format!("{}k:\n", " ".repeat(i)))
            .collect::<String>(),
        "&a &b ".repeat(20_000),
    ] {
        let file = lint::lint_source("deep.yaml", &input, &options);
        assert!(
            file.findings.iter().any(|f| f.rule == "yaml-syntax"),
            "{:?}",
            &input[..20]
        );
    }
}
