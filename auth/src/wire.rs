//! Protobuf wire-level surgery on stored resources: read or replace one field of the bytes as
//! they arrived, so every field the lab does not model (at any depth) is kept byte for byte.

use std::ops::Range;

/// A field of a message as it sits in the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    number: u32,
    /// The whole field: key, length prefix and payload.
    whole: Range<usize>,
    /// The payload of a length-delimited field (empty range for other wire types).
    payload: Range<usize>,
    length_delimited: bool,
}

/// The bytes are not a well-formed protobuf message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed protobuf bytes at offset {0}")]
pub(crate) struct Malformed(usize);

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, Malformed> {
    let start = *pos;
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos).ok_or(Malformed(start))?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Malformed(start))
}

fn skip(buf: &[u8], pos: &mut usize, len: u64) -> Result<(), Malformed> {
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| pos.checked_add(l))
        .filter(|end| *end <= buf.len())
        .ok_or(Malformed(*pos))?;
    *pos = end;
    Ok(())
}

/// Reads one field starting at `pos`; groups are skipped whole, to their matching end.
fn next_field(buf: &[u8], pos: &mut usize) -> Result<Field, Malformed> {
    let start = *pos;
    let key = varint(buf, pos)?;
    let number = u32::try_from(key >> 3).map_err(|_| Malformed(start))?;
    let mut payload = *pos..*pos;
    let mut length_delimited = false;
    match key & 7 {
        0 => {
            varint(buf, pos)?;
        }
        1 => skip(buf, pos, 8)?,
        2 => {
            let len = varint(buf, pos)?;
            let from = *pos;
            skip(buf, pos, len)?;
            payload = from..*pos;
            length_delimited = true;
        }
        3 => loop {
            let inner_start = *pos;
            let inner_key = varint(buf, pos)?;
            if inner_key & 7 == 4 {
                if inner_key >> 3 != u64::from(number) {
                    return Err(Malformed(inner_start));
                }
                break;
            }
            *pos = inner_start;
            next_field(buf, pos)?;
        },
        5 => skip(buf, pos, 4)?,
        _ => return Err(Malformed(start)),
    }
    Ok(Field {
        number,
        whole: start..*pos,
        payload,
        length_delimited,
    })
}

fn fields(buf: &[u8]) -> Result<Vec<Field>, Malformed> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        out.push(next_field(buf, &mut pos)?);
    }
    Ok(out)
}

/// The payload of embedded-message field `number`; several occurrences merge, as protobuf
/// merges them, by concatenation. `None` when the field is absent.
pub(crate) fn message_field(buf: &[u8], number: u32) -> Result<Option<Vec<u8>>, Malformed> {
    let mut found: Option<Vec<u8>> = None;
    for f in fields(buf)? {
        if f.number == number && f.length_delimited {
            found
                .get_or_insert_with(Vec::new)
                .extend_from_slice(&buf[f.payload]);
        }
    }
    Ok(found)
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a length-delimited field (an embedded message, bytes or a string).
pub(crate) fn put_bytes(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    put_varint(out, (u64::from(number) << 3) | 2);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Replaces every occurrence of length-delimited field `number` (a string, bytes or embedded
/// message) with one holding `payload`, at the place of the first occurrence (or at the end);
/// every other field stays as it was.
pub(crate) fn replace_field(buf: &[u8], number: u32, payload: &[u8]) -> Result<Vec<u8>, Malformed> {
    let mut out = Vec::with_capacity(buf.len() + payload.len() + 8);
    let mut placed = false;
    for f in fields(buf)? {
        if f.number == number {
            if !placed {
                put_bytes(&mut out, number, payload);
                placed = true;
            }
        } else {
            out.extend_from_slice(&buf[f.whole]);
        }
    }
    if !placed {
        put_bytes(&mut out, number, payload);
    }
    Ok(out)
}

/// Field 4 of every resource (LockV2, RoleV6, ProvisionTokenV2, Bot, BotInstance) is its
/// metadata; field 8 of both metadata messages (types and teleport.header.v1) is the revision.
const METADATA: u32 = 4;
const REVISION: u32 = 8;

/// The resource bytes with `metadata.revision` set to `revision`, all else unchanged.
pub(crate) fn with_revision(resource: &[u8], revision: &str) -> Result<Vec<u8>, Malformed> {
    let metadata = message_field(resource, METADATA)?.unwrap_or_default();
    let metadata = replace_field(&metadata, REVISION, revision.as_bytes())?;
    replace_field(resource, METADATA, &metadata)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::{LockSpecV2, LockTarget, LockV2, Metadata};
    use prost::Message;

    fn lock() -> LockV2 {
        LockV2 {
            kind: "lock".into(),
            version: "v2".into(),
            metadata: Some(Metadata {
                name: "l1".into(),
                revision: "old".into(),
                ..Default::default()
            }),
            spec: Some(LockSpecV2 {
                target: Some(LockTarget {
                    user: "bot-a".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn revision_is_replaced_and_unknown_fields_kept_at_every_depth() {
        let mut meta = lock().metadata.unwrap().encode_to_vec();
        prost::encoding::string::encode(77, &"meta-future".to_string(), &mut meta);
        let mut bytes = lock().encode_to_vec();
        bytes = replace_field(&bytes, 4, &meta).unwrap();
        prost::encoding::string::encode(99, &"top-future".to_string(), &mut bytes);

        let out = with_revision(&bytes, "new-rev").unwrap();
        let decoded = LockV2::decode(out.as_slice()).unwrap();
        assert_eq!(decoded.metadata.as_ref().unwrap().revision, "new-rev");
        assert_eq!(decoded.metadata.as_ref().unwrap().name, "l1");
        assert!(mwi_proto::unknown::has_unknown::<LockV2>(&out));
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("meta-future") && text.contains("top-future"));
    }

    #[test]
    fn revision_is_added_when_metadata_is_absent() {
        let out = with_revision(&[], "r1").unwrap();
        let decoded = LockV2::decode(out.as_slice()).unwrap();
        assert_eq!(decoded.metadata.unwrap().revision, "r1");
    }

    #[test]
    fn truncated_bytes_are_an_error_not_a_panic() {
        let bytes = lock().encode_to_vec();
        for cut in 0..bytes.len() {
            let _ = with_revision(&bytes[..cut], "r");
        }
        assert!(with_revision(&[0x0a, 0x05, 0x01], "r").is_err());
        assert!(with_revision(&[0xff; 11], "r").is_err());
    }

    #[test]
    fn repeated_metadata_occurrences_merge() {
        let mut bytes = Vec::new();
        put_bytes(
            &mut bytes,
            4,
            &Metadata {
                name: "a".into(),
                ..Default::default()
            }
            .encode_to_vec(),
        );
        put_bytes(
            &mut bytes,
            4,
            &Metadata {
                description: "d".into(),
                ..Default::default()
            }
            .encode_to_vec(),
        );
        let out = with_revision(&bytes, "r").unwrap();
        let meta = LockV2::decode(out.as_slice()).unwrap().metadata.unwrap();
        assert_eq!(
            (
                meta.name.as_str(),
                meta.description.as_str(),
                meta.revision.as_str()
            ),
            ("a", "d", "r")
        );
    }
}
