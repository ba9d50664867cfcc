//! The lab proxy's look at a TLS ClientHello before it decides where a connection goes: its
//! offered ALPN protocols and server name, read from the first record, never trusted further.

/// The TLS record header: type, version, length.
const RECORD_HEADER: usize = 5;
/// A record's body is at most 2^14 bytes (RFC 8446 §5.1); a ClientHello must fit in the first.
const MAX_RECORD: usize = 16 * 1024;
/// The most a caller needs to buffer to get a verdict.
pub(crate) const MAX_HELLO: usize = RECORD_HEADER + MAX_RECORD;

const CONTENT_HANDSHAKE: u8 = 22;
const CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;

/// What the ClientHello offers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Hello {
    /// ALPN protocols in the client's order (the first decides the route, as in Teleport).
    pub alpn: Vec<Vec<u8>>,
    pub server_name: Option<String>,
}

/// Why the bytes are not (yet) a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HelloError {
    /// More bytes are needed: at least this many in all.
    #[error("a truncated TLS ClientHello (need {0} bytes)")]
    Incomplete(usize),
    #[error("not a TLS ClientHello: {0}")]
    Invalid(&'static str),
}

/// Reads the ClientHello at the start of `buf` (the bytes received so far).
pub(crate) fn parse(buf: &[u8]) -> Result<Hello, HelloError> {
    let Some(header) = buf.get(..RECORD_HEADER) else {
        // Fail early on a first byte that is no handshake record (plain HTTP, say).
        if buf.first().is_some_and(|&b| b != CONTENT_HANDSHAKE) {
            return Err(HelloError::Invalid("the first record is not a handshake"));
        }
        return Err(HelloError::Incomplete(RECORD_HEADER));
    };
    if header[0] != CONTENT_HANDSHAKE {
        return Err(HelloError::Invalid("the first record is not a handshake"));
    }
    if header[1] != 3 {
        return Err(HelloError::Invalid("unknown record version"));
    }
    let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
    if len == 0 || len > MAX_RECORD {
        return Err(HelloError::Invalid("bad record length"));
    }
    let body = buf
        .get(RECORD_HEADER..RECORD_HEADER + len)
        .ok_or(HelloError::Incomplete(RECORD_HEADER + len))?;
    let mut r = Reader(body);
    if r.u8()? != CLIENT_HELLO {
        return Err(HelloError::Invalid(
            "the first handshake message is not a ClientHello",
        ));
    }
    let len = r.u24()?;
    let mut hello = Reader(r.take(len)?);
    hello.take(2 + 32)?; // legacy version, random
    hello.vec8()?; // session id
    hello.vec16()?; // cipher suites
    hello.vec8()?; // compression methods
    let mut found = Hello::default();
    if hello.0.is_empty() {
        return Ok(found);
    }
    let mut extensions = Reader(hello.vec16()?);
    while !extensions.0.is_empty() {
        let kind = extensions.u16()?;
        let mut data = Reader(extensions.vec16()?);
        match kind {
            EXT_ALPN => {
                let mut list = Reader(data.vec16()?);
                while !list.0.is_empty() {
                    let protocol = list.vec8()?;
                    if protocol.is_empty() {
                        return Err(HelloError::Invalid("an empty ALPN protocol"));
                    }
                    found.alpn.push(protocol.to_vec());
                }
            }
            EXT_SERVER_NAME => {
                let mut list = Reader(data.vec16()?);
                while !list.0.is_empty() {
                    let name_type = list.u8()?;
                    let name = list.vec16()?;
                    if name_type == 0 && found.server_name.is_none() {
                        found.server_name = std::str::from_utf8(name).ok().map(str::to_string);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(found)
}

/// A cursor over a complete record: running out of bytes inside it is malformed, not truncated.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], HelloError> {
        if n > self.0.len() {
            return Err(HelloError::Invalid("a length runs past the ClientHello"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, HelloError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, HelloError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u24(&mut self) -> Result<usize, HelloError> {
        let b = self.take(3)?;
        Ok(usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }

    fn vec8(&mut self) -> Result<&'a [u8], HelloError> {
        let n = usize::from(self.u8()?);
        self.take(n)
    }

    fn vec16(&mut self) -> Result<&'a [u8], HelloError> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ClientHello rustls sends offering `alpn` for `name`.
    fn real_hello(alpn: &[&[u8]], name: &str) -> Vec<u8> {
        let mut config = rustls::ClientConfig::builder_with_provider(mwi_identity::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(mwi_identity::tls::AnyCertificate::new())
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let name = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
        let mut conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
        let mut out = Vec::new();
        conn.write_tls(&mut out).unwrap();
        out
    }

    #[test]
    fn reads_alpn_in_order_and_the_server_name() {
        let alpn: &[&[u8]] = &[b"teleport-auth@6c6162.teleport.cluster.local", b"h2"];
        let bytes = real_hello(alpn, "6c6162.teleport.cluster.local");
        let hello = parse(&bytes).unwrap();
        assert_eq!(
            hello.alpn,
            alpn.iter().map(|p| p.to_vec()).collect::<Vec<_>>()
        );
        assert_eq!(
            hello.server_name.as_deref(),
            Some("6c6162.teleport.cluster.local")
        );
        // Bytes after the first record (the client's next flight) are not looked at.
        let mut more = bytes.clone();
        more.extend_from_slice(b"\x17\x03\x03junk");
        assert_eq!(parse(&more).unwrap(), hello);
    }

    #[test]
    fn every_prefix_is_incomplete_and_asks_for_more() {
        let bytes = real_hello(&[b"h2"], "localhost");
        for cut in 0..bytes.len() {
            match parse(&bytes[..cut]) {
                Err(HelloError::Incomplete(need)) => assert!(need > cut && need <= bytes.len()),
                other => panic!("prefix {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn plain_http_and_garbage_are_refused_at_once_in_one_line() {
        for input in [
            &b"GET /webapi/find HTTP/1.1\r\n"[..],
            b"G",
            b"\x16\x02\x00\x00\x01\x01",
            b"\x16\x03\x01\x00\x00",
            b"\x16\x03\x01\xff\xff",
            b"\x16\x03\x01\x00\x04\x02\x00\x00\x00",
            b"\x16\x03\x01\x00\x04\x01\xff\xff\xff",
        ] {
            let err = parse(input).unwrap_err();
            assert!(matches!(err, HelloError::Invalid(_)), "{input:?}: {err:?}");
            assert!(!err.to_string().contains('\n'));
        }
    }

    /// A deterministic generator (xorshift64*), so a failure reproduces from the seed.
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

    /// No input panics: mutations of real hellos (flipped, dropped, inserted bytes, lengths set
    /// to extremes) and random bytes; every verdict is a value.
    #[test]
    fn no_mutation_of_a_hello_panics() {
        let seeds = [
            real_hello(
                &[b"teleport-auth@6c6162.teleport.cluster.local", b"h2"],
                "a.b",
            ),
            real_hello(&[], "localhost"),
            real_hello(&[b"http/1.1"], "proxy.example.com"),
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..20_000 {
            let mut input = seeds[round % seeds.len()].clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(input.len());
                match rng.below(5) {
                    0 => input[at] ^= 1 << rng.below(8),
                    1 => input[at] = [0, 0xff, 1, 0x7f][rng.below(4)],
                    2 => {
                        input.remove(at);
                    }
                    3 => input.insert(at, rng.next() as u8),
                    _ => input.truncate(at),
                }
                if input.is_empty() {
                    break;
                }
            }
            let _ = parse(&input);
        }
        for _ in 0..5_000 {
            let len = rng.below(64);
            let mut input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if rng.below(2) == 0 && !input.is_empty() {
                input[0] = CONTENT_HANDSHAKE;
            }
            let _ = parse(&input);
        }
    }
}
