use aho_corasick::{AhoCorasickBuilder, MatchKind, Input};
use std::time::Instant;
#[allow(dead_code)]
#[path = "doctor_vs_grep.rs"]
mod g;
fn main() {
    let path = std::path::Path::new("/tmp/scratch-bench.log");
    if !path.exists() { g::generate(path, 256 << 20).unwrap(); }
    let data = std::fs::read(&path).unwrap();
    let mb = data.len() as f64 / 1048576.0;
    let t = Instant::now();
    let n = memchr::memchr_iter(b'\n', &data).count();
    println!("newlines {n}: {:.0} MB/s", mb / t.elapsed().as_secs_f64());
    for kind in [MatchKind::LeftmostFirst, MatchKind::Standard] {
        let ac = AhoCorasickBuilder::new().match_kind(kind).build(mwi_diag::doctor::SIGNATURES).unwrap();
        let t = Instant::now();
        let c = ac.find_iter(Input::new(&data[..])).count();
        println!("{kind:?} matches {c}: {:.0} MB/s", mb / t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let mut d = mwi_diag::doctor::Doctor::new();
    d.feed_reader("x", &data[..]).unwrap();
    let r = d.finish();
    println!("doctor in-memory {}: {:.0} MB/s", r.findings.len(), mb / t.elapsed().as_secs_f64());
}
