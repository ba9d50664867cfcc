//! No text makes the instance query parser panic: random strings built from the language's own
//! tokens and characters, on the stable toolchain (fuzz/fuzz_targets/instance_query.rs goes
//! further on nightly). An error always points inside the text.

use mwi_diag::query::{Instance, Query};

/// xorshift64*, so a failure reproduces from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

const PIECES: &[&str] = &[
    "(",
    ")",
    ",",
    ".",
    "&&",
    "||",
    "!",
    "==",
    "!=",
    "=",
    "&",
    "\"",
    "`",
    "\\",
    " ",
    "é",
    "version",
    "hostname",
    "spec.bot_name",
    "status.latest_heartbeat.one_shot",
    "true",
    "older_than",
    "between",
    "contains",
    "exact_version",
    "newer_than",
    "nope",
    "\"18.1.0\"",
    "\"1.2.3-rc.1\"",
    "\"x\"",
    "\"\"",
    "1",
    "#",
    "\n",
];

#[test]
fn random_queries_never_panic_and_errors_point_inside_the_text() {
    let instance = Instance {
        name: "u1",
        bot_name: "web",
        instance_id: "u1",
        hostname: "host",
        version: "18.1.0",
        one_shot: true,
        ..Instance::default()
    };
    for seed in 1..=20_000u64 {
        let mut rng = Rng(seed);
        let len = 1 + rng.next() % 24;
        let text: String = (0..len).map(|_| rng.pick(PIECES)).collect();
        match Query::parse(&text) {
            Ok(query) => {
                query.matches(&instance);
            }
            Err(e) => {
                if let Some(column) = e.column() {
                    assert!(
                        column >= 1 && column <= text.chars().count() + 1,
                        "seed {seed}: {text:?} gave column {column}: {e}"
                    );
                }
            }
        }
    }
}
