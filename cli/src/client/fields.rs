//! A unary gRPC answer split into its top-level fields while its bytes arrive: each
//! length-delimited field is handed over whole as soon as it is complete, so an unpaged listing
//! (`GetLocks`) costs the memory of one item instead of the whole answer.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use tonic::codegen::Service;
use tonic::transport::Channel;

/// The largest single field accepted; a lock or a token is a few hundred bytes.
pub const MAX_FIELD_BYTES: usize = 16 * 1024 * 1024;

/// Why an answer could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("the answer is compressed (flag {0}), which mwictl did not ask for")]
    Compressed(u8),
    #[error("the answer holds more than one message")]
    SecondMessage,
    #[error("the answer holds no message")]
    NoMessage,
    #[error("the answer ended {0} bytes short of its message")]
    Truncated(usize),
    #[error("a field key or length is not a valid varint")]
    Varint,
    #[error("field number {0} is not valid")]
    FieldNumber(u64),
    #[error("field {field} has wire type {wire_type}, which protobuf 3 does not use")]
    WireType { field: u32, wire_type: u8 },
    #[error("field {field} runs past the end of the message")]
    PastEnd { field: u32 },
    #[error("field {field} is {bytes} bytes, more than one item may be ({MAX_FIELD_BYTES})")]
    TooLarge { field: u32, bytes: u64 },
    #[error("field {field} does not decode: {error}")]
    Item {
        field: u32,
        error: prost::DecodeError,
    },
}

/// Splits one gRPC message frame (`flag`, big-endian length, message) into its top-level
/// fields as chunks of it are pushed.
#[derive(Debug, Default)]
pub struct FieldSplitter {
    /// Bytes received and not yet consumed.
    pending: BytesMut,
    /// Bytes of the message not yet consumed; `None` before its frame header.
    left: Option<usize>,
    /// Whether a frame header was read (a unary answer has exactly one).
    framed: bool,
}

/// What a varint at the start of a slice is.
enum Varint {
    Value(u64, usize),
    /// The slice ends inside it.
    Incomplete,
    Invalid,
}

fn varint(bytes: &[u8]) -> Varint {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            // The tenth byte may only carry the top bit of a u64.
            return if i == 9 && b > 1 {
                Varint::Invalid
            } else {
                Varint::Value(value, i + 1)
            };
        }
    }
    if bytes.len() >= 10 {
        Varint::Invalid
    } else {
        Varint::Incomplete
    }
}

/// One step of parsing the message: a field's extent, or why there is none yet.
enum Step {
    /// `skip` bytes of key (and length), then `len` bytes of a length-delimited value (when
    /// `delimited`) or nothing more.
    Field {
        field: u32,
        skip: usize,
        len: usize,
        delimited: bool,
    },
    NeedMore,
}

impl FieldSplitter {
    pub fn new() -> FieldSplitter {
        FieldSplitter::default()
    }

    /// Takes the next chunk of the answer; `each` gets the number and bytes of every
    /// length-delimited field completed by it, in order. Other fields are skipped.
    pub fn push(
        &mut self,
        chunk: &[u8],
        each: &mut dyn FnMut(u32, Bytes) -> Result<(), prost::DecodeError>,
    ) -> Result<(), SplitError> {
        self.pending.extend_from_slice(chunk);
        loop {
            let Some(left) = self.left else {
                if self.pending.len() < 5 {
                    return Ok(());
                }
                if self.framed {
                    return Err(SplitError::SecondMessage);
                }
                let flag = self.pending[0];
                if flag != 0 {
                    return Err(SplitError::Compressed(flag));
                }
                self.pending.advance(1);
                self.left = Some(self.pending.get_u32() as usize);
                self.framed = true;
                continue;
            };
            if left == 0 {
                if self.pending.is_empty() {
                    return Ok(());
                }
                self.left = None;
                continue;
            }
            let available = &self.pending[..self.pending.len().min(left)];
            let more_coming = available.len() < left;
            match step(available, more_coming)? {
                Step::NeedMore => return Ok(()),
                Step::Field {
                    field,
                    skip,
                    len,
                    delimited,
                } => {
                    if skip + len > left {
                        return Err(SplitError::PastEnd { field });
                    }
                    if skip + len > available.len() {
                        return Ok(());
                    }
                    self.pending.advance(skip);
                    let value = self.pending.split_to(len).freeze();
                    self.left = Some(left - skip - len);
                    if delimited {
                        each(field, value).map_err(|error| SplitError::Item { field, error })?;
                    }
                }
            }
        }
    }

    /// Ends the answer: an error unless exactly one whole message came.
    pub fn finish(&self) -> Result<(), SplitError> {
        match self.left {
            Some(left) if left > 0 => Err(SplitError::Truncated(left - self.pending.len())),
            None if !self.pending.is_empty() => Err(SplitError::Truncated(5 - self.pending.len())),
            _ if !self.framed => Err(SplitError::NoMessage),
            _ => Ok(()),
        }
    }
}

/// The extent of the field starting `bytes` (the rest of the message received so far;
/// `more_coming` when the message goes on past it).
fn step(bytes: &[u8], more_coming: bool) -> Result<Step, SplitError> {
    let need_more = |_| {
        if more_coming {
            Ok(Step::NeedMore)
        } else {
            Err(SplitError::Varint)
        }
    };
    let (key, key_len) = match varint(bytes) {
        Varint::Value(v, n) => (v, n),
        Varint::Incomplete => return need_more(()),
        Varint::Invalid => return Err(SplitError::Varint),
    };
    let number = key >> 3;
    let field = u32::try_from(number)
        .ok()
        .filter(|&f| f != 0 && f < 1 << 29)
        .ok_or(SplitError::FieldNumber(number))?;
    let fixed = |len| {
        Ok(Step::Field {
            field,
            skip: key_len,
            len,
            delimited: false,
        })
    };
    match key & 7 {
        0 => match varint(&bytes[key_len..]) {
            Varint::Value(_, n) => fixed(n),
            Varint::Incomplete => need_more(()),
            Varint::Invalid => Err(SplitError::Varint),
        },
        1 => fixed(8),
        5 => fixed(4),
        2 => match varint(&bytes[key_len..]) {
            Varint::Value(len, n) => {
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&l| l <= MAX_FIELD_BYTES)
                    .ok_or(SplitError::TooLarge { field, bytes: len })?;
                Ok(Step::Field {
                    field,
                    skip: key_len + n,
                    len,
                    delimited: true,
                })
            }
            Varint::Incomplete => need_more(()),
            Varint::Invalid => Err(SplitError::Varint),
        },
        wire_type => Err(SplitError::WireType {
            field,
            wire_type: wire_type as u8,
        }),
    }
}

/// Why a streamed call failed: the server's (or the transport's) status, or an answer that does
/// not split.
#[derive(Debug)]
pub(super) enum Failure {
    Status(tonic::Status),
    Split(SplitError),
}

/// Sends the unary call `method` with the encoded request `body` on `channel` and splits the
/// answer as it arrives, handing each length-delimited top-level field to `each`. The status
/// comes from the trailers (or, for an answer without a message, the headers) as tonic reads it.
pub(super) async fn call(
    channel: Channel,
    method: &'static str,
    body: Bytes,
    each: &mut dyn FnMut(u32, Bytes) -> Result<(), prost::DecodeError>,
) -> Result<(), Failure> {
    let transport =
        |e: tonic::transport::Error| Failure::Status(tonic::Status::from_error(e.into()));
    let mut framed = BytesMut::with_capacity(body.len() + 5);
    framed.put_u8(0);
    framed.put_u32(body.len() as u32);
    framed.extend_from_slice(&body);
    let request = http::Request::builder()
        .method(http::Method::POST)
        .uri(method)
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header(http::header::TE, "trailers")
        .body(tonic::body::Body::new(Full::new(framed.freeze())))
        .map_err(|e| Failure::Status(tonic::Status::internal(e.to_string())))?;
    let mut channel = channel;
    std::future::poll_fn(|cx| channel.poll_ready(cx))
        .await
        .map_err(transport)?;
    let response = channel.call(request).await.map_err(transport)?;
    if let Some(status) = tonic::Status::from_header_map(response.headers())
        && status.code() != tonic::Code::Ok
    {
        return Err(Failure::Status(status));
    }
    if response.status() != http::StatusCode::OK {
        return Err(Failure::Status(tonic::Status::unknown(format!(
            "the server answered HTTP {} instead of gRPC",
            response.status()
        ))));
    }
    let mut body = response.into_body();
    let mut splitter = FieldSplitter::new();
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(Failure::Status)?;
        match frame.into_data() {
            Ok(data) => splitter.push(data.as_ref(), each).map_err(Failure::Split)?,
            Err(frame) => trailers = frame.into_trailers().ok().or(trailers),
        }
    }
    match trailers.as_ref().and_then(tonic::Status::from_header_map) {
        Some(status) if status.code() == tonic::Code::Ok => {
            splitter.finish().map_err(Failure::Split)
        }
        Some(status) => Err(Failure::Status(status)),
        None => Err(Failure::Status(tonic::Status::internal(
            "the answer ended without a gRPC status",
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use prost::encoding::{WireType, encode_key, encode_varint};

    /// A framed message: field 1 `a`, a varint field 7, field 1 `bb…`, a fixed64 field 3,
    /// field 2 `tok`, a fixed32 field 4.
    fn answer() -> (Vec<u8>, Vec<(u32, Vec<u8>)>) {
        let mut message = Vec::new();
        let mut expected = Vec::new();
        let mut delimited = |m: &mut Vec<u8>, field: u32, value: &[u8]| {
            encode_key(field, WireType::LengthDelimited, m);
            encode_varint(value.len() as u64, m);
            m.extend_from_slice(value);
            expected.push((field, value.to_vec()));
        };
        delimited(&mut message, 1, b"a");
        encode_key(7, WireType::Varint, &mut message);
        encode_varint(300, &mut message);
        delimited(&mut message, 1, &[b'b'; 200]);
        encode_key(3, WireType::SixtyFourBit, &mut message);
        message.extend_from_slice(&[9; 8]);
        delimited(&mut message, 2, b"tok");
        encode_key(4, WireType::ThirtyTwoBit, &mut message);
        message.extend_from_slice(&[9; 4]);
        (frame(&message), expected)
    }

    fn frame(message: &[u8]) -> Vec<u8> {
        let mut framed = vec![0];
        framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
        framed.extend_from_slice(message);
        framed
    }

    /// The fields an answer gave, and how it ended.
    type Outcome = (Vec<(u32, Vec<u8>)>, Result<(), SplitError>);

    fn split(chunks: &[&[u8]]) -> Result<Vec<(u32, Vec<u8>)>, SplitError> {
        let mut splitter = FieldSplitter::new();
        let mut got = Vec::new();
        for chunk in chunks {
            splitter.push(chunk, &mut |field, bytes| {
                got.push((field, bytes.to_vec()));
                Ok(())
            })?;
        }
        splitter.finish()?;
        Ok(got)
    }

    #[test]
    fn fields_come_out_the_same_however_the_answer_is_cut() {
        let (answer, expected) = answer();
        assert_eq!(split(&[&answer]).unwrap(), expected);
        for cut in 0..=answer.len() {
            let (a, b) = answer.split_at(cut);
            assert_eq!(split(&[a, b]).unwrap(), expected, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = answer.chunks(1).collect();
        assert_eq!(split(&bytes).unwrap(), expected);
    }

    #[test]
    fn a_field_is_handed_over_as_soon_as_it_is_complete() {
        let (answer, _) = answer();
        let mut splitter = FieldSplitter::new();
        let mut got = 0;
        // Header (5), key and length (2) and the one byte of the first field.
        splitter
            .push(&answer[..8], &mut |_, _| {
                got += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(got, 1);
    }

    #[test]
    fn an_empty_message_is_an_answer_and_no_frame_is_not() {
        assert_eq!(split(&[&frame(&[])]).unwrap(), []);
        assert_eq!(split(&[]), Err(SplitError::NoMessage));
    }

    #[test]
    fn a_cut_off_answer_says_how_much_is_missing() {
        let (answer, _) = answer();
        assert_eq!(
            split(&[&answer[..answer.len() - 3]]),
            Err(SplitError::Truncated(3))
        );
        assert_eq!(split(&[&answer[..3]]), Err(SplitError::Truncated(2)));
    }

    #[test]
    fn malformed_answers_are_refused() {
        let (answer, _) = answer();
        let mut compressed = answer.clone();
        compressed[0] = 1;
        assert_eq!(split(&[&compressed]), Err(SplitError::Compressed(1)));
        let twice = [answer.clone(), answer.clone()].concat();
        assert_eq!(split(&[&twice]), Err(SplitError::SecondMessage));
        // A field whose length runs past the message's end.
        let mut message = Vec::new();
        encode_key(1, WireType::LengthDelimited, &mut message);
        encode_varint(50, &mut message);
        message.extend_from_slice(b"short");
        assert_eq!(
            split(&[&frame(&message)]),
            Err(SplitError::PastEnd { field: 1 })
        );
        // A varint of eleven bytes, a group, field number 0, a huge length.
        assert_eq!(split(&[&frame(&[0x8a; 11])]), Err(SplitError::Varint));
        assert_eq!(
            split(&[&frame(&[0x0b])]),
            Err(SplitError::WireType {
                field: 1,
                wire_type: 3
            })
        );
        assert_eq!(
            split(&[&frame(&[0x02, 0])]),
            Err(SplitError::FieldNumber(0))
        );
        let mut huge = Vec::new();
        encode_key(1, WireType::LengthDelimited, &mut huge);
        encode_varint(1 << 40, &mut huge);
        assert_eq!(
            split(&[&frame(&huge)]),
            Err(SplitError::TooLarge {
                field: 1,
                bytes: 1 << 40
            })
        );
        // A key cut off by the end of the message.
        assert_eq!(split(&[&frame(&[0x8a])]), Err(SplitError::Varint));
    }

    #[test]
    fn an_item_that_does_not_decode_stops_the_split_naming_its_field() {
        let (answer, _) = answer();
        let mut splitter = FieldSplitter::new();
        let err = splitter
            .push(&answer, &mut |_, bytes| {
                mwi_proto::types::LockV2::decode(bytes).map(drop)
            })
            .unwrap_err();
        assert!(matches!(err, SplitError::Item { field: 1, .. }), "{err}");
    }

    /// The fuzz target's property on the stable toolchain: mutated answers, cut into chunks of
    /// any size, give the same fields and the same error as pushed whole, never a panic.
    #[test]
    fn mutated_answers_split_the_same_in_chunks_of_any_size() {
        fn run(answer: &[u8], chunk: usize) -> Outcome {
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
        let (valid, _) = answer();
        crate::testing::for_each_byte_mutation(&valid, 3000, |bytes| {
            let whole = run(bytes, bytes.len());
            for chunk in [1, 2, 3, 7] {
                assert_eq!(run(bytes, chunk), whole, "{bytes:?} in chunks of {chunk}");
            }
        });
    }

    #[test]
    fn a_field_may_be_up_to_the_limit_and_no_longer() {
        let declared = |len: usize| {
            let mut message = Vec::new();
            encode_key(1, WireType::LengthDelimited, &mut message);
            encode_varint(len as u64, &mut message);
            // The frame header announces the whole field; only its start has arrived.
            let mut framed = vec![0];
            framed.extend_from_slice(&((message.len() + len) as u32).to_be_bytes());
            framed.extend_from_slice(&message);
            FieldSplitter::new().push(&framed, &mut |_, _| Ok(()))
        };
        assert_eq!(declared(MAX_FIELD_BYTES), Ok(()), "waits for the rest");
        assert_eq!(
            declared(MAX_FIELD_BYTES + 1),
            Err(SplitError::TooLarge {
                field: 1,
                bytes: MAX_FIELD_BYTES as u64 + 1
            })
        );
    }
}
