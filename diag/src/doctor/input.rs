//! What a log source's bytes are: plain text is read as is, gzip (rotated logs) is decompressed
//! on the fly, and any other binary input is refused with the command that would read it.

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

/// How many bytes are looked at to tell a source's kind: enough for every magic number.
const MAGIC_LEN: usize = 6;
/// How much of the text is checked for NUL bytes. Binary files hold them from the start; a log
/// with a run of zeros later (a crash left a hole in it) is still worth reading past it.
const NUL_CHECKED: u64 = 64 * 1024;

/// Binary input the doctor does not read; carried inside an `io::Error` so that a NUL byte found
/// after gigabytes of text stops the scan the same way as one found at the start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Binary {
    #[error("it is {format}-compressed; decompress it first: {tool} FILE | mwictl doctor -")]
    Compressed {
        format: &'static str,
        tool: &'static str,
    },
    #[error(
        "it is binary, not a log (a NUL byte at offset {offset}); give a text log, or decompress it first"
    )]
    Nul { offset: u64 },
}

/// Compression formats other than gzip, by their magic bytes, with the tool that reads them.
const OTHER_COMPRESSION: [(&[u8], &str, &str); 4] = [
    (&[0x28, 0xB5, 0x2F, 0xFD], "zstd", "zstdcat"),
    (&[0xFD, b'7', b'z', b'X', b'Z', 0x00], "xz", "xzcat"),
    (b"BZh", "bzip2", "bzcat"),
    (&[0x04, 0x22, 0x4D, 0x18], "lz4", "lz4cat"),
];
const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];

/// `reader` as text: gzip (any number of concatenated members, as logrotate and `cat` make them)
/// is decompressed while it is read; other compression is an error naming the tool to use; and
/// the start of the text is checked for NUL bytes, which no log starts with.
pub(crate) fn text_of<'a>(reader: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let head = peek(&mut reader, MAGIC_LEN)?;
    if head.is_empty() {
        // The end of input; a terminal's Ctrl-D is one empty read, and reading again would wait.
        return Ok(Box::new(io::empty()));
    }
    if head.starts_with(&GZIP_MAGIC) {
        return Ok(Box::new(NulGuard::new(MultiGzDecoder::new(reader))));
    }
    for (magic, format, tool) in OTHER_COMPRESSION {
        if head.starts_with(magic) {
            return Err(binary(Binary::Compressed { format, tool }));
        }
    }
    Ok(Box::new(NulGuard::new(reader)))
}

/// The first `len` bytes of `reader` (fewer at the end of input), left unread.
fn peek(reader: &mut BufReader<impl Read>, len: usize) -> io::Result<Vec<u8>> {
    loop {
        match reader.fill_buf() {
            Ok(buf) => return Ok(buf[..buf.len().min(len)].to_vec()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn binary(what: Binary) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// The [`Binary`] inside `error`, if that is what stopped the read.
pub(crate) fn binary_cause(error: &io::Error) -> Option<&Binary> {
    error.get_ref().and_then(|inner| inner.downcast_ref())
}

/// Passes bytes through and fails at a NUL byte in the first [`NUL_CHECKED`] bytes: a binary
/// file must not be scanned for signatures, where its noise would make up findings.
struct NulGuard<R> {
    inner: R,
    offset: u64,
}

impl<R> NulGuard<R> {
    fn new(inner: R) -> NulGuard<R> {
        NulGuard { inner, offset: 0 }
    }
}

impl<R: Read> Read for NulGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.offset < NUL_CHECKED
            && let Some(at) = memchr::memchr(0, &buf[..n])
            && self.offset + (at as u64) < NUL_CHECKED
        {
            return Err(binary(Binary::Nul {
                offset: self.offset + at as u64,
            }));
        }
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text).expect("gzip into memory");
        encoder.finish().expect("gzip into memory")
    }

    fn read_all(input: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        text_of(input)?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn plain_text_passes_unchanged() {
        assert_eq!(read_all(b"a\nb\n").expect("text"), b"a\nb\n");
        assert_eq!(read_all(b"").expect("empty"), b"");
    }

    #[test]
    fn concatenated_gzip_members_are_all_read() {
        let mut two = gzip(b"first\n");
        two.extend(gzip(b"second\n"));
        assert_eq!(read_all(&two).expect("gzip"), b"first\nsecond\n");
    }

    #[test]
    fn other_compression_names_its_tool() {
        let e = read_all(&[0x28, 0xB5, 0x2F, 0xFD, 1, 2, 3]).expect_err("zstd");
        assert!(
            e.to_string().contains("zstdcat FILE | mwictl doctor -"),
            "{e}"
        );
        assert!(binary_cause(&e).is_some());
        let e = read_all(b"BZh91AY&SY").expect_err("bzip2");
        assert!(e.to_string().contains("bzcat"), "{e}");
    }

    #[test]
    fn nul_bytes_at_the_start_stop_the_read_even_inside_gzip() {
        let mut text = vec![b'x'; 200_000];
        text[50_000] = 0;
        let e = read_all(&text).expect_err("binary");
        assert!(e.to_string().contains("offset 50000"), "{e}");
        let e = read_all(&gzip(b"ok\n\0")).expect_err("binary in gzip");
        assert!(binary_cause(&e).is_some());
    }

    #[test]
    fn zeros_late_in_a_log_do_not_hide_the_rest() {
        let mut text = vec![b'x'; 200_000];
        text[150_000] = 0;
        assert_eq!(read_all(&text).expect("read past the hole").len(), 200_000);
    }
}
