//! Fuzzes the log doctor: any bytes (gzip-compressed or not), read through buffers of any size,
//! must give a report that renders as text and JSON without a panic; binary input may be refused.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use mwi_diag::doctor::Doctor;

fuzz_target!(|data: &[u8]| {
    // The first two bytes pick the buffer size, so buffer edges land everywhere in the input.
    let (capacity, log) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        _ => (0, data),
    };
    let mut doctor = Doctor::with_buffer_capacity(capacity);
    // Refusing binary input (NUL bytes, other compression, a corrupt gzip stream) is an answer.
    let plain = doctor.feed_reader("fuzz.log", log);
    // The same bytes gzip-compressed read the same (unless they were compressed already).
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(log).expect("compressing into memory cannot fail");
    let zipped = encoder.finish().expect("compressing into memory cannot fail");
    let unzipped = doctor.feed_reader("fuzz.log.gz", zipped.as_slice());
    let report = doctor.finish();
    if plain.is_ok() && !log.starts_with(&[0x1F, 0x8B]) {
        unzipped.expect("a readable log is readable gzip-compressed");
        assert_eq!(report.sources[0].lines, report.sources[1].lines);
        assert_eq!(report.sources[0].matched_lines, report.sources[1].matched_lines);
    }
    let mut sink = Vec::new();
    report.render_text(&mut sink, true).expect("rendering to memory cannot fail");
    serde_json::to_vec(&report).expect("the report serializes");
});
