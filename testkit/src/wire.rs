//! Raw gRPC calls and unknown-field markers: what proves that bytes a newer Teleport would send
//! survive every read-modify-write.

use tonic::transport::Channel;

/// The marker `with_unknown` appends.
const FUTURE: &str = "from-the-future";

/// Calls `path` with raw request bytes and returns the raw response bytes.
pub async fn raw_call(
    channel: Channel,
    path: &'static str,
    body: Vec<u8>,
) -> Result<bytes::Bytes, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = http::uri::PathAndQuery::from_static(path);
    grpc.unary(
        tonic::Request::new(bytes::Bytes::from(body)),
        path,
        mwi_proto::raw::RawCodec,
    )
    .await
    .map(tonic::Response::into_inner)
}

/// Appends a field number no Teleport message declares, as a newer server or client would send.
pub fn with_unknown(mut bytes: Vec<u8>) -> Vec<u8> {
    prost::encoding::string::encode(901, &FUTURE.to_string(), &mut bytes);
    bytes
}

/// Whether `bytes` still carry the field `with_unknown` added.
pub fn has_future_field(bytes: &[u8]) -> bool {
    bytes.windows(FUTURE.len()).any(|w| w == FUTURE.as_bytes())
}

/// The bytes of field 1 of `body` (the resource inside Create/Update requests), untouched.
pub fn field_1(body: &bytes::Bytes) -> bytes::Bytes {
    let mut buf = body.clone();
    while !buf.is_empty() {
        let (field, wire) = prost::encoding::decode_key(&mut buf).expect("key");
        if field == 1 && wire == prost::encoding::WireType::LengthDelimited {
            let len = prost::encoding::decode_varint(&mut buf).expect("len");
            return buf.split_to(usize::try_from(len).expect("len"));
        }
        prost::encoding::skip_field(wire, field, &mut buf, Default::default()).expect("skip");
    }
    bytes::Bytes::new()
}
