//! Deterministic mutations of sample inputs for the workspace's tests: the stable-toolchain
//! companion of the fuzz targets in fuzz/ (no input may panic, edits must read back).

/// Calls `f` with `rounds` mutations of `base` (bytes overwritten, cut or duplicated; lossily
/// decoded as UTF-8), from a fixed seed so failures reproduce.
pub fn for_each_mutation(base: &str, rounds: usize, mut f: impl FnMut(&str)) {
    for_each_byte_mutation(base.as_bytes(), rounds, |bytes| {
        f(&String::from_utf8_lossy(bytes))
    });
}

/// [`for_each_mutation`] for binary inputs (wire messages): the same mutations, as bytes.
pub fn for_each_byte_mutation(base: &[u8], rounds: usize, mut f: impl FnMut(&[u8])) {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..rounds {
        let mut bytes = base.to_vec();
        for _ in 0..(next() % 8) {
            if bytes.is_empty() {
                break;
            }
            let at = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[at] = next() as u8,
                1 => bytes.truncate(at),
                _ => {
                    let piece = bytes[at..].to_vec();
                    bytes.extend_from_slice(&piece);
                }
            }
        }
        f(&bytes);
    }
}
