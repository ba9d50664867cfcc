//! WebSocket framing (RFC 6455) for Teleport's ALPN connection upgrade: frames parsed and encoded,
//! the handshake's accept key, and a byte stream over binary frames that answers pings.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use base64ct::{Base64, Encoding};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The GUID a server hashes with the client's key (RFC 6455 §1.3).
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The largest frame payload read. The inner TLS is written in records of at most 16 KiB plus
/// overhead; a peer sending more than this is not carrying TLS.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// The largest payload written in one frame (a few TLS records).
const MAX_WRITE: usize = 64 * 1024;

/// A control frame's payload is at most this long (RFC 6455 §5.5).
const MAX_CONTROL: usize = 125;

/// What a server answers in `Sec-WebSocket-Accept` to the client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut hash = Sha1::new();
    hash.update(key.as_bytes());
    hash.update(GUID.as_bytes());
    Base64::encode_string(&hash.finalize())
}

/// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64.
pub fn new_key() -> String {
    Base64::encode_string(&rand::random::<[u8; 16]>())
}

/// Frame types (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Opcode {
    fn of(bits: u8) -> Option<Opcode> {
        Some(match bits {
            0 => Opcode::Continuation,
            1 => Opcode::Text,
            2 => Opcode::Binary,
            8 => Opcode::Close,
            9 => Opcode::Ping,
            10 => Opcode::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0,
            Opcode::Text => 1,
            Opcode::Binary => 2,
            Opcode::Close => 8,
            Opcode::Ping => 9,
            Opcode::Pong => 10,
        }
    }

    fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// One frame, its payload unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: Opcode,
    pub payload: Vec<u8>,
}

/// Which end of the connection this is: clients mask what they send, servers must not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

/// Why bytes are not a frame this end accepts; one line each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a WebSocket frame with reserved bits set")]
    Reserved,
    #[error("a WebSocket frame of unknown type {0}")]
    UnknownOpcode(u8),
    #[error("a fragmented or oversized WebSocket control frame")]
    BadControl,
    #[error("a WebSocket frame of {0} bytes, over the {MAX_PAYLOAD}-byte limit")]
    TooLarge(u64),
    #[error("an unmasked WebSocket frame from a client")]
    Unmasked,
    #[error("a masked WebSocket frame from a server")]
    Masked,
}

/// Reads the frame at the start of `buf`, sent to `receiver`: the frame and the bytes it took, or
/// `None` while more bytes are needed.
pub fn parse(buf: &[u8], receiver: Role) -> Result<Option<(Frame, usize)>, FrameError> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(FrameError::Reserved);
    }
    let fin = b0 & 0x80 != 0;
    let opcode = Opcode::of(b0 & 0x0f).ok_or(FrameError::UnknownOpcode(b0 & 0x0f))?;
    let masked = b1 & 0x80 != 0;
    match (receiver, masked) {
        (Role::Server, false) => return Err(FrameError::Unmasked),
        (Role::Client, true) => return Err(FrameError::Masked),
        _ => {}
    }
    let (len, mut at) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => (u64::from_be_bytes(b.try_into().unwrap_or_default()), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if opcode.is_control() && (!fin || len > MAX_CONTROL as u64) {
        return Err(FrameError::BadControl);
    }
    if len > MAX_PAYLOAD as u64 {
        return Err(FrameError::TooLarge(len));
    }
    let len = len as usize;
    let mask = match masked {
        true => {
            let Some(key) = buf.get(at..at + 4) else {
                return Ok(None);
            };
            at += 4;
            Some([key[0], key[1], key[2], key[3]])
        }
        false => None,
    };
    let Some(payload) = buf.get(at..at + len) else {
        return Ok(None);
    };
    let mut payload = payload.to_vec();
    if let Some(key) = mask {
        apply_mask(&mut payload, key);
    }
    Ok(Some((
        Frame {
            fin,
            opcode,
            payload,
        },
        at + len,
    )))
}

/// Appends one final frame to `out`, masked with `mask` when given (a client's).
pub fn encode(opcode: Opcode, payload: &[u8], mask: Option<[u8; 4]>, out: &mut Vec<u8>) {
    out.push(0x80 | opcode.bits());
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    let body = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[body..], key);
    }
}

fn apply_mask(bytes: &mut [u8], key: [u8; 4]) {
    for (i, b) in bytes.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// How a server checks that the client is alive: a ping every `interval`, and the connection
/// ends when `limit` pings in a row went unanswered.
#[derive(Debug)]
struct Pinger {
    interval: tokio::time::Interval,
    unanswered: u32,
    limit: u32,
}

/// The payload of the server's pings, as Teleport's proxy sends them (lib/web/conn_upgrade.go).
pub const PING_PAYLOAD: &[u8] = b"teleport";

/// A byte stream carried in binary frames over `inner` (after the HTTP upgrade). Reading answers
/// pings with pongs and ends at a close frame; writing sends each buffer as one binary frame,
/// masked by a client.
#[derive(Debug)]
pub struct WsStream<S> {
    inner: S,
    role: Role,
    /// Bytes read from `inner`, not yet a whole frame.
    raw: Vec<u8>,
    /// Payload decoded, not yet read.
    data: Vec<u8>,
    data_pos: usize,
    /// Frames encoded, not yet written to `inner`.
    out: Vec<u8>,
    out_pos: usize,
    /// A close frame was received (reads end) or sent (no more writes).
    closed_in: bool,
    closed_out: bool,
    pinger: Option<Pinger>,
    pongs: u64,
}

impl<S> WsStream<S> {
    /// The stream over `inner`, whose first bytes are `already` (read past the HTTP head).
    pub fn new(inner: S, role: Role, already: Vec<u8>) -> WsStream<S> {
        WsStream {
            inner,
            role,
            raw: already,
            data: Vec::new(),
            data_pos: 0,
            out: Vec::new(),
            out_pos: 0,
            closed_in: false,
            closed_out: false,
            pinger: None,
            pongs: 0,
        }
    }

    /// A server's stream that pings at once and then every `interval`, and fails reads with
    /// `TimedOut` once `limit` pings in a row went unanswered.
    pub fn with_pings(mut self, interval: Duration, limit: u32) -> WsStream<S> {
        let mut interval = tokio::time::interval(interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.pinger = Some(Pinger {
            interval,
            unanswered: 0,
            limit,
        });
        self
    }

    /// How many pongs arrived so far.
    pub fn pongs(&self) -> u64 {
        self.pongs
    }

    fn queue(&mut self, opcode: Opcode, payload: &[u8]) {
        let mask = match self.role {
            Role::Client => Some(rand::random::<[u8; 4]>()),
            Role::Server => None,
        };
        encode(opcode, payload, mask, &mut self.out);
    }
}

impl<S: AsyncWrite + Unpin> WsStream<S> {
    /// Writes queued frames; `Ready(Ok)` once all are written.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.out_pos < self.out.len() {
            let n = match Pin::new(&mut self.inner).poll_write(cx, &self.out[self.out_pos..]) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out_pos += n;
        }
        self.out.clear();
        self.out_pos = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.data_pos < this.data.len() {
                let n = buf.remaining().min(this.data.len() - this.data_pos);
                buf.put_slice(&this.data[this.data_pos..this.data_pos + n]);
                this.data_pos += n;
                return Poll::Ready(Ok(()));
            }
            if this.closed_in {
                return Poll::Ready(Ok(()));
            }
            let mut due = 0;
            if let Some(pinger) = &mut this.pinger {
                // Until Pending, which registers the wake-up for the next tick.
                while pinger.interval.poll_tick(cx).is_ready() {
                    if pinger.unanswered >= pinger.limit {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("{} WebSocket pings went unanswered", pinger.unanswered),
                        )));
                    }
                    pinger.unanswered += 1;
                    due += 1;
                }
            }
            for _ in 0..due {
                this.queue(Opcode::Ping, PING_PAYLOAD);
            }
            // Pongs and pings go out while reading, whoever writes next.
            if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
                return Poll::Ready(Err(e));
            }
            match parse(&this.raw, this.role) {
                Ok(Some((frame, used))) => {
                    this.raw.drain(..used);
                    match frame.opcode {
                        Opcode::Binary | Opcode::Continuation => {
                            this.data = frame.payload;
                            this.data_pos = 0;
                        }
                        Opcode::Ping => this.queue(Opcode::Pong, &frame.payload),
                        Opcode::Pong => {
                            this.pongs += 1;
                            if let Some(pinger) = &mut this.pinger {
                                pinger.unanswered = 0;
                            }
                        }
                        Opcode::Close => {
                            this.closed_in = true;
                            if !this.closed_out {
                                this.closed_out = true;
                                this.queue(Opcode::Close, &frame.payload);
                                let _ = this.poll_drain(cx);
                            }
                        }
                        // Teleport carries nothing in text frames; they are skipped as it does.
                        Opcode::Text => {}
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e))),
            }
            let mut chunk = [0u8; 16 * 1024];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    if this.raw.is_empty() {
                        this.closed_in = true;
                        return Poll::Ready(Ok(()));
                    }
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the connection ended inside a WebSocket frame",
                    )));
                }
                Poll::Ready(Ok(())) => this.raw.extend_from_slice(read.filled()),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.closed_out {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other.map_ok(|()| 0),
        }
        let n = buf.len().min(MAX_WRITE);
        this.queue(Opcode::Binary, &buf[..n]);
        // The frame is ours now; what the socket does not take yet goes on the next call.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.closed_out {
            this.closed_out = true;
            // Status 1000: normal closure.
            this.queue(Opcode::Close, &1000u16.to_be_bytes());
        }
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_accept_key_is_rfc_6455s_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let key = new_key();
        assert_eq!(Base64::decode_vec(&key).unwrap().len(), 16);
        assert_ne!(key, new_key());
    }

    #[test]
    fn frames_round_trip_at_each_length_encoding_masked_or_not() {
        for len in [0, 1, 125, 126, 65_535, 65_536, 200_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for (mask, receiver) in [(Some([1, 2, 3, 4]), Role::Server), (None, Role::Client)] {
                let mut bytes = Vec::new();
                encode(Opcode::Binary, &payload, mask, &mut bytes);
                bytes.extend_from_slice(b"next");
                let (frame, used) = parse(&bytes, receiver).unwrap().unwrap();
                assert_eq!(used, bytes.len() - 4, "{len}");
                assert_eq!(frame.opcode, Opcode::Binary);
                assert!(frame.fin);
                assert_eq!(frame.payload, payload);
                if mask.is_some() && len > 4 {
                    assert_ne!(
                        &bytes[used - len..used],
                        &payload[..],
                        "the payload is masked"
                    );
                }
                for cut in [0, 1, used / 2, used - 1] {
                    assert_eq!(parse(&bytes[..cut], receiver).unwrap(), None, "{len} {cut}");
                }
            }
        }
    }

    #[test]
    fn rfc_examples_parse() {
        // RFC 6455 §5.7: a single-frame unmasked and masked "Hello", and an unmasked ping.
        let (frame, _) = parse(b"\x81\x05Hello", Role::Client).unwrap().unwrap();
        assert_eq!(
            (frame.opcode, &frame.payload[..]),
            (Opcode::Text, &b"Hello"[..])
        );
        let masked = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
        let (frame, _) = parse(masked, Role::Server).unwrap().unwrap();
        assert_eq!(frame.payload, b"Hello");
        let (frame, _) = parse(b"\x89\x05Hello", Role::Client).unwrap().unwrap();
        assert_eq!(frame.opcode, Opcode::Ping);
    }

    #[test]
    fn bad_frames_are_refused_in_one_line() {
        let cases: [(&[u8], Role, FrameError); 7] = [
            (b"\xc2\x00", Role::Client, FrameError::Reserved),
            (b"\x83\x00", Role::Client, FrameError::UnknownOpcode(3)),
            (b"\x09\x00", Role::Client, FrameError::BadControl),
            (b"\x89\x7e\x00\x7e", Role::Client, FrameError::BadControl),
            (
                b"\x82\x7f\x00\x00\x00\x01\x00\x00\x00\x01",
                Role::Client,
                FrameError::TooLarge((1 << 32) + 1),
            ),
            (b"\x82\x01a", Role::Server, FrameError::Unmasked),
            (
                b"\x82\x81\x00\x00\x00\x00a",
                Role::Client,
                FrameError::Masked,
            ),
        ];
        for (bytes, role, want) in cases {
            let err = parse(bytes, role).unwrap_err();
            assert_eq!(err, want, "{bytes:?}");
            assert!(!err.to_string().contains('\n'));
        }
    }

    /// A deterministic generator (xorshift64*), so a failure reproduces from the seed.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    #[test]
    fn no_input_panics_the_parser() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            let len = (xorshift(&mut state) % 24) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
            for role in [Role::Client, Role::Server] {
                if let Ok(Some((_, used))) = parse(&bytes, role) {
                    assert!(used <= bytes.len());
                }
            }
        }
    }

    #[tokio::test]
    async fn a_client_stream_answers_pings_and_carries_bytes_both_ways() {
        let (client_io, mut server_io) = tokio::io::duplex(1 << 20);
        let mut client = WsStream::new(client_io, Role::Client, Vec::new());
        // The server pings, then sends data split over a binary and a continuation frame.
        let mut from_server = Vec::new();
        encode(Opcode::Ping, PING_PAYLOAD, None, &mut from_server);
        encode(Opcode::Binary, b"inner ", None, &mut from_server);
        encode(Opcode::Continuation, b"tls", None, &mut from_server);
        server_io.write_all(&from_server).await.unwrap();
        let mut got = [0u8; 9];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"inner tls");
        client.write_all(b"hello").await.unwrap();
        client.flush().await.unwrap();

        let mut raw = vec![0u8; 256];
        let n = server_io.read(&mut raw).await.unwrap();
        let (pong, used) = parse(&raw[..n], Role::Server).unwrap().unwrap();
        assert_eq!(
            (pong.opcode, &pong.payload[..]),
            (Opcode::Pong, PING_PAYLOAD)
        );
        let rest = match parse(&raw[used..n], Role::Server).unwrap() {
            Some((frame, _)) => frame,
            None => {
                let more = server_io.read(&mut raw[n..]).await.unwrap();
                parse(&raw[used..n + more], Role::Server)
                    .unwrap()
                    .unwrap()
                    .0
            }
        };
        assert_eq!(
            (rest.opcode, &rest.payload[..]),
            (Opcode::Binary, &b"hello"[..])
        );

        // A close frame ends the reads and is echoed.
        let mut close = Vec::new();
        encode(Opcode::Close, &1000u16.to_be_bytes(), None, &mut close);
        server_io.write_all(&close).await.unwrap();
        assert_eq!(client.read(&mut got).await.unwrap(), 0);
        let n = server_io.read(&mut raw).await.unwrap();
        assert_eq!(
            parse(&raw[..n], Role::Server).unwrap().unwrap().0.opcode,
            Opcode::Close
        );
    }

    #[tokio::test]
    async fn a_server_stream_pings_and_gives_up_on_a_silent_client() {
        let (client_io, server_io) = tokio::io::duplex(1 << 16);
        let mut server = WsStream::new(server_io, Role::Server, Vec::new())
            .with_pings(Duration::from_millis(40), 2);
        // An answering client: the server keeps reading and counts the pongs.
        let mut client = WsStream::new(client_io, Role::Client, Vec::new());
        let answering = tokio::spawn(async move {
            let mut sink = [0u8; 16];
            let _ = client.read(&mut sink).await;
            client
        });
        let mut buf = [0u8; 16];
        let waited = tokio::time::timeout(Duration::from_millis(300), server.read(&mut buf)).await;
        assert!(waited.is_err(), "no data, no error while pongs come");
        assert!(server.pongs() >= 2, "{}", server.pongs());
        answering.abort();

        // A client that never reads: after two unanswered pings the server's read fails.
        let (silent, server_io) = tokio::io::duplex(1 << 16);
        let mut server = WsStream::new(server_io, Role::Server, Vec::new())
            .with_pings(Duration::from_millis(40), 2);
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(
            err.to_string()
                .contains("2 WebSocket pings went unanswered"),
            "{err}"
        );
        drop(silent);
    }

    #[tokio::test]
    async fn a_stream_ending_inside_a_frame_is_an_error_and_between_frames_an_end() {
        let (mut a, b) = tokio::io::duplex(1024);
        let mut ws = WsStream::new(b, Role::Client, b"\x82\x05hel".to_vec());
        a.shutdown().await.unwrap();
        drop(a);
        let err = ws.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);

        let (a, b) = tokio::io::duplex(1024);
        let mut ws = WsStream::new(b, Role::Client, b"\x82\x02hi".to_vec());
        drop(a);
        let mut got = Vec::new();
        ws.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hi");
    }
}
