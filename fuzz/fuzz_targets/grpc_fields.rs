//! Fuzzes the splitter that reads a unary gRPC answer as it arrives (`GetLocks` in triage,
//! `fleet serve` and `bots ls`): any bytes, cut into chunks of any size, give the same fields
//! and the same error as the bytes pushed whole, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mwictl::client::fields::{FieldSplitter, SplitError};

fn split(answer: &[u8], chunk: usize) -> (Vec<(u32, Vec<u8>)>, Result<(), SplitError>) {
    let mut splitter = FieldSplitter::new();
    let mut fields = Vec::new();
    for part in answer.chunks(chunk.max(1)) {
        let pushed = splitter.push(part, &mut |field, bytes| {
            fields.push((field, bytes.to_vec()));
            Ok(())
        });
        if pushed.is_err() {
            return (fields, pushed);
        }
    }
    let end = splitter.finish();
    (fields, end)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, answer)) = data.split_first() else {
        return;
    };
    assert_eq!(
        split(answer, usize::from(cut % 17) + 1),
        split(answer, answer.len())
    );
});
