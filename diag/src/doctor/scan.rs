//! The streaming scan of one log source: one multi-pattern search over large buffers finds the
//! lines holding a signature; only those lines, with their numbers, are handed on.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};
use std::io::{self, Read};

/// What a scan saw of one source.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ScanStats {
    pub lines: u64,
    pub bytes: u64,
}

pub(crate) struct Scanner {
    searcher: AhoCorasick,
    capacity: usize,
    /// Bytes kept from the end of a buffer that ends inside a line, so a signature cut in two by
    /// the buffer edge is still found.
    overlap: usize,
}

/// The multi-pattern searcher for `patterns`; leftmost-first, so each line is found at its first
/// signature.
pub(crate) fn build_searcher(patterns: &[&str]) -> AhoCorasick {
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostFirst)
        .build(patterns)
        .expect("the built-in signature list is a valid pattern set")
}

impl Scanner {
    /// A scanner for the patterns of `searcher` (see [`build_searcher`]), the longest being
    /// `longest` bytes, reading through a buffer of `capacity` bytes (raised to a workable minimum).
    pub(crate) fn new(searcher: &AhoCorasick, longest: usize, capacity: usize) -> Scanner {
        let overlap = longest.saturating_sub(1);
        Scanner {
            searcher: searcher.clone(),
            capacity: capacity.max(overlap * 2 + 64),
            overlap,
        }
    }

    /// The numbers of the patterns found in `line` (leftmost, not overlapping).
    pub(crate) fn patterns_in<'a>(&'a self, line: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
        self.searcher
            .find_iter(line)
            .map(|m| m.pattern().as_usize())
    }

    /// Reads `reader` to its end, calling `on_chunk(bytes)` for every buffer of whole lines (or
    /// piece of a long line) before it is searched, and `on_line(number, bytes)` for every line
    /// holding a signature (numbers start at 1). A line longer than the buffer is handed on in
    /// pieces, each piece with the line's number. Memory use is the buffer, whatever the input size.
    pub(crate) fn scan(
        &self,
        mut reader: impl Read,
        mut on_chunk: impl FnMut(&[u8]),
        mut on_line: impl FnMut(u64, &[u8]),
    ) -> io::Result<ScanStats> {
        let mut buf = vec![0u8; self.capacity];
        let mut filled = 0;
        let mut line = 1u64;
        let mut seen = 0;
        let mut stats = ScanStats::default();
        loop {
            let mut eof = false;
            while filled < buf.len() {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        filled += n;
                        stats.bytes += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if eof {
                let chunk = &buf[..filled];
                on_chunk(&chunk[seen..]);
                line += self.search(chunk, line, seen, &mut on_line);
                let ends_open = chunk.last().is_some_and(|&b| b != b'\n');
                stats.lines = line - 1 + u64::from(ends_open);
                return Ok(stats);
            }
            match memchr::memrchr(b'\n', &buf[..filled]) {
                Some(last) => {
                    let end = last + 1;
                    on_chunk(&buf[seen..end]);
                    line += self.search(&buf[..end], line, seen, &mut on_line);
                    buf.copy_within(end..filled, 0);
                    filled -= end;
                    seen = 0;
                }
                None => {
                    on_chunk(&buf[seen..filled]);
                    self.search(&buf[..filled], line, seen, &mut on_line);
                    let keep = self.overlap.min(filled);
                    buf.copy_within(filled - keep..filled, 0);
                    filled = keep;
                    seen = keep;
                }
            }
        }
    }

    /// Searches one buffer of whole lines (or a piece of one long line) whose first line has the
    /// number `first_line`; matches ending within the first `seen` bytes were reported with the
    /// previous piece. Returns the number of newlines in `chunk`.
    fn search(
        &self,
        chunk: &[u8],
        first_line: u64,
        seen: usize,
        on_line: &mut impl FnMut(u64, &[u8]),
    ) -> u64 {
        let mut pos = 0;
        let mut counted_to = 0;
        let mut line = first_line;
        while pos < chunk.len() {
            let Some(found) = self.searcher.find(Input::new(chunk).span(pos..chunk.len())) else {
                break;
            };
            if found.end() <= seen {
                pos = found.start() + 1;
                continue;
            }
            let start = memchr::memrchr(b'\n', &chunk[..found.start()]).map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', &chunk[found.end()..])
                .map_or(chunk.len(), |i| found.end() + i);
            line += count_newlines(&chunk[counted_to..start]);
            counted_to = start;
            let text = &chunk[start..end];
            on_line(line, text.strip_suffix(b"\r").unwrap_or(text));
            pos = end + 1;
        }
        line - first_line + count_newlines(&chunk[counted_to..])
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(input: &[u8], capacity: usize) -> (Vec<(u64, String)>, ScanStats) {
        let scanner = Scanner::new(&build_searcher(&["needle", "pin"]), 6, capacity);
        let mut found = Vec::new();
        let mut chunks = Vec::new();
        let stats = scanner
            .scan(
                input,
                |chunk| chunks.extend_from_slice(chunk),
                |line, text| {
                    found.push((line, String::from_utf8_lossy(text).into_owned()));
                },
            )
            .expect("reading a slice cannot fail");
        assert_eq!(chunks, input, "the chunks are the input, each byte once");
        (found, stats)
    }

    #[test]
    fn reports_matching_lines_with_numbers() {
        let (found, stats) = matches(b"a\nthe needle\nb\r\npin here\r\nz", 1 << 16);
        assert_eq!(
            found,
            vec![(2, "the needle".to_string()), (4, "pin here".to_string())]
        );
        assert_eq!(stats.lines, 5);
        assert_eq!(stats.bytes, 27);
    }

    #[test]
    fn numbers_are_right_across_small_buffers() {
        let mut input = Vec::new();
        for i in 0..500 {
            if i % 37 == 0 {
                input.extend_from_slice(format!("line {i} with a needle\n").as_bytes());
            } else {
                input.extend_from_slice(format!("line {i} plain\n").as_bytes());
            }
        }
        let (found, stats) = matches(&input, 80);
        let lines: Vec<u64> = found.iter().map(|(line, _)| *line).collect();
        let expected: Vec<u64> = (0..500).filter(|i| i % 37 == 0).map(|i| i + 1).collect();
        assert_eq!(lines, expected);
        assert_eq!(stats.lines, 500);
    }

    #[test]
    fn signature_cut_by_the_buffer_edge_in_a_long_line_is_found_once() {
        let mut input = vec![b'x'; 1000];
        input.extend_from_slice(b"needle");
        input.extend(vec![b'y'; 1000]);
        input.extend_from_slice(b"\nnext line pin\n");
        for capacity in [80, 97, 128, 1003] {
            let (found, stats) = matches(&input, capacity);
            let lines: Vec<u64> = found.iter().map(|(line, _)| *line).collect();
            assert_eq!(lines, vec![1, 2], "capacity {capacity}");
            assert_eq!(stats.lines, 2);
        }
    }

    #[test]
    fn empty_input_has_no_lines() {
        let (found, stats) = matches(b"", 100);
        assert!(found.is_empty());
        assert_eq!(stats.lines, 0);
    }
}
