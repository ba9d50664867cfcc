//! Fuzzes the log doctor: any bytes (gzip-compressed or not), read through buffers of any size,
//! must give a report that renders as text and JSON without a panic; binary input may be refused.
#![no_main]

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
    let _ = doctor.feed_reader("fuzz.log", log);
    let report = doctor.finish();
    let mut sink = Vec::new();
    report.render_text(&mut sink, true).expect("rendering to memory cannot fail");
    serde_json::to_vec(&report).expect("the report serializes");
});
