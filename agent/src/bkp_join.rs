//! The bound-keypair ceremony on the wire: `teleport.join.v1.JoinService/Join` first and, when the
//! server does not implement it, the legacy `proto.JoinService/RegisterUsingBoundKeypairMethod`;
//! challenges signed as compact JWS, rotation requests answered, the join state kept.
//!
//! Order and fallback follow gravitational/teleport `lib/join/joinclient` (join.go,
//! join_boundkeypair.go, 2025): ClientInit, ServerInit, BoundKeypairInit, then challenges and
//! rotation requests until the result; a failed solution is reported with GivingUp. Unimplemented
//! falls back to the legacy stream (tbot also falls back after a connection failure on the new
//! RPC; the lab agent reports that failure instead, since both RPCs share the connection).

use std::time::{Duration, SystemTime};

use mwi_proto::proto::join_service_client::JoinServiceClient as LegacyClient;
use mwi_proto::proto::register_using_bound_keypair_method_request::Payload as LegacyRequest;
use mwi_proto::proto::register_using_bound_keypair_method_response::Response as LegacyResponse;
use mwi_proto::proto::{
    Certs, RegisterUsingBoundKeypairChallengeResponse, RegisterUsingBoundKeypairInitialRequest,
    RegisterUsingBoundKeypairMethodRequest, RegisterUsingBoundKeypairRotationResponse,
};
use mwi_proto::teleport::join::v1 as join;
use mwi_proto::types::RegisterUsingTokenRequest;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use crate::bkp::ClientState;
use crate::keys::KeyPair;
use crate::log::Logger;
use crate::rpc::Failure;
use crate::store::Store;

/// The teleport system role a bot joins with.
const BOT_ROLE: &str = "Bot";
/// The method named in ClientInit and in the server's answer.
const METHOD: &str = "bound_keypair";
/// The suite assumed when the legacy rotation request names none (its July-2025 form is empty).
const LEGACY_SUITE: &str = "legacy";

/// What one ceremony needs.
pub struct Ceremony<'a> {
    pub token: &'a str,
    /// The key the certificates are issued for (not the bound key).
    pub key: &'a KeyPair,
    pub ttl: Duration,
    /// The configured registration secret (sent only while no join state is held).
    pub secret: Option<&'a str>,
    pub store: &'a Store,
    pub log: &'a Logger,
}

/// Which RPC a ceremony ran over, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rpc {
    Join,
    Legacy,
}

/// Runs the ceremony over `channel` (mTLS as the bot for a refresh, anonymous otherwise) and
/// returns the certificates; `state` is updated and stored.
pub async fn run(
    channel: Channel,
    ceremony: &Ceremony<'_>,
    state: &mut ClientState,
) -> Result<(Certs, Rpc), Failure> {
    match new_rpc(channel.clone(), ceremony, state).await {
        Err(Fallback::Legacy) => legacy_rpc(channel, ceremony, state)
            .await
            .map(|certs| (certs, Rpc::Legacy)),
        Err(Fallback::Failed(failure)) => Err(failure),
        Ok(certs) => Ok((certs, Rpc::Join)),
    }
}

enum Fallback {
    /// The server does not know the new RPC.
    Legacy,
    Failed(Failure),
}

impl From<Failure> for Fallback {
    fn from(failure: Failure) -> Fallback {
        Fallback::Failed(failure)
    }
}

fn expires(ttl: Duration) -> Option<prost_types::Timestamp> {
    Some((SystemTime::now() + ttl).into())
}

fn send_failed() -> Failure {
    Failure::local("the auth server closed the join stream")
}

async fn new_rpc(
    channel: Channel,
    ceremony: &Ceremony<'_>,
    state: &mut ClientState,
) -> Result<Certs, Fallback> {
    let (tx, rx) = mpsc::channel(4);
    let send = |payload: join::join_request::Payload| {
        let tx = tx.clone();
        async move {
            tx.send(join::JoinRequest {
                payload: Some(payload),
            })
            .await
            .map_err(|_| send_failed())
        }
    };
    send(join::join_request::Payload::ClientInit(join::ClientInit {
        join_method: Some(METHOD.into()),
        token_name: ceremony.token.into(),
        system_role: BOT_ROLE.into(),
        ..Default::default()
    }))
    .await?;
    let mut responses = match join::join_service_client::JoinServiceClient::new(channel)
        .join(ReceiverStream::new(rx))
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) if falls_back(&status) => return Err(Fallback::Legacy),
        Err(status) => return Err(Failure::status(&status).into()),
    };
    let mut first = true;
    loop {
        let message = match responses.message().await {
            Ok(Some(message)) => message,
            Ok(None) => return Err(send_failed().into()),
            Err(status) if first && falls_back(&status) => return Err(Fallback::Legacy),
            Err(status) => return Err(Failure::status(&status).into()),
        };
        first = false;
        use join::join_response::Payload;
        match message.payload {
            Some(Payload::Init(init)) => {
                if !init.join_method.is_empty() && init.join_method != METHOD {
                    return Err(Failure::local(format!(
                        "the auth server answered with join method {:?}, not bound_keypair",
                        init.join_method
                    ))
                    .into());
                }
                send(join::join_request::Payload::BoundKeypairInit(
                    join::BoundKeypairInit {
                        client_params: Some(bot_params(ceremony)?),
                        initial_join_secret: state
                            .secret_to_send(ceremony.secret)
                            .unwrap_or_default()
                            .into(),
                        previous_join_state: state.join_state().to_vec(),
                    },
                ))
                .await?;
            }
            Some(Payload::Challenge(challenge)) => {
                use join::challenge::Payload as Asked;
                use join::challenge_solution::Payload as Answer;
                let answer = match challenge.payload {
                    Some(Asked::BoundKeypairChallenge(challenge)) => {
                        let public_key = String::from_utf8_lossy(&challenge.public_key);
                        match solve(state, &public_key, &challenge.challenge) {
                            Ok(solution) => Answer::BoundKeypairChallengeSolution(
                                join::BoundKeypairChallengeSolution { solution },
                            ),
                            Err(failure) => return Err(give_up(&send, failure).await.into()),
                        }
                    }
                    Some(Asked::BoundKeypairRotationRequest(request)) => {
                        match rotate(state, ceremony, &request.signature_algorithm_suite) {
                            Ok(public_key) => Answer::BoundKeypairRotationResponse(
                                join::BoundKeypairRotationResponse {
                                    public_key: public_key.into_bytes(),
                                },
                            ),
                            Err(failure) => return Err(give_up(&send, failure).await.into()),
                        }
                    }
                    _ => {
                        return Err(Failure::local(
                            "server sent unexpected message type (a challenge of another join method)",
                        )
                        .into());
                    }
                };
                send(join::join_request::Payload::Solution(
                    join::ChallengeSolution {
                        payload: Some(answer),
                    },
                ))
                .await?;
            }
            Some(Payload::Result(result)) => {
                let Some(join::result::Payload::BotResult(bot)) = result.payload else {
                    return Err(Failure::local("the auth server sent no bot result").into());
                };
                let bound = bot.bound_keypair_result.ok_or_else(|| {
                    Failure::local("register result is missing bound keypair parameters")
                })?;
                let certs = certs_from_wire(bot.certificates.unwrap_or_default())?;
                state
                    .update(
                        &String::from_utf8_lossy(&bound.public_key),
                        &bound.join_state,
                        ceremony.store,
                    )
                    .map_err(|e| Failure::local(e.to_string()))?;
                return Ok(certs);
            }
            None => return Err(Failure::local("the auth server sent an empty message").into()),
        }
    }
}

/// Whether a refusal of the new RPC means "use the legacy one": the server does not implement it.
fn falls_back(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::Unimplemented
}

async fn give_up<F, Fut>(send: &F, failure: Failure) -> Failure
where
    F: Fn(join::join_request::Payload) -> Fut,
    Fut: std::future::Future<Output = Result<(), Failure>>,
{
    let _ = send(join::join_request::Payload::GivingUp(join::GivingUp {
        reason: join::giving_up::Reason::ChallengeSolutionFailed.into(),
        msg: failure.text.clone(),
    }))
    .await;
    failure
}

/// Signs the challenge document as-is with the key whose public half the server names.
fn solve(state: &ClientState, public_key: &str, challenge: &str) -> Result<Vec<u8>, Failure> {
    let key = state
        .signer_for(public_key)
        .map_err(|e| Failure::local(e.to_string()))?;
    Ok(key.sign_challenge(challenge).into_bytes())
}

fn rotate(
    state: &mut ClientState,
    ceremony: &Ceremony<'_>,
    suite: &str,
) -> Result<String, Failure> {
    let suite = if suite.is_empty() {
        LEGACY_SUITE
    } else {
        suite
    };
    ceremony.log.info(
        crate::agent::caller::JOIN,
        "Server has requested keypair rotation",
        &[("suite", suite.into())],
    );
    let key = state
        .rotate(suite, ceremony.store)
        .map_err(|e| Failure::local(format!("requesting new keypair: {e}")))?;
    ceremony.log.info(
        crate::agent::caller::JOIN,
        "Generated new keypair",
        &[("public_key", key.public.clone())],
    );
    Ok(key.public)
}

/// The bot's certificate keys as the new RPC carries them: PKIX DER and SSH wire format.
fn bot_params(ceremony: &Ceremony<'_>) -> Result<join::ClientParams, Failure> {
    use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
    let unusable =
        |e: &dyn std::fmt::Display| Failure::local(format!("the new key is unusable: {e}"));
    let tls = p256::PublicKey::from_public_key_pem(&ceremony.key.tls_public_pem)
        .and_then(|k| k.to_public_key_der())
        .map_err(|e| unusable(&e))?;
    let ssh = ssh_key::PublicKey::from_openssh(&ceremony.key.ssh_public)
        .and_then(|k| k.to_bytes())
        .map_err(|e| unusable(&e))?;
    Ok(join::ClientParams {
        payload: Some(join::client_params::Payload::BotParams(join::BotParams {
            public_keys: Some(join::PublicKeys {
                public_tls_key: tls.into_vec(),
                public_ssh_key: ssh,
            }),
            expires: expires(ceremony.ttl),
        })),
    })
}

/// The new RPC's certificates (DER, SSH wire format) in the legacy form the agent stores (PEM,
/// authorized_keys text).
fn certs_from_wire(certs: join::Certificates) -> Result<Certs, Failure> {
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        Failure::local(format!("the server's answer is unusable: {what}: {e}"))
    };
    let ssh = if certs.ssh_cert.is_empty() {
        Vec::new()
    } else {
        ssh_key::Certificate::from_bytes(&certs.ssh_cert)
            .and_then(|c| c.to_openssh())
            .map_err(|e| bad("SSH certificate", &e))?
            .into_bytes()
    };
    let sshca_certs = certs
        .ssh_ca_keys
        .iter()
        .map(|key| {
            ssh_key::PublicKey::from_bytes(key)
                .and_then(|k| k.to_openssh())
                .map(String::into_bytes)
                .map_err(|e| bad("SSH CA key", &e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Certs {
        ssh,
        tls: der_to_pem(&certs.tls_cert).into_bytes(),
        tlsca_certs: certs
            .tls_ca_certs
            .iter()
            .map(|der| der_to_pem(der).into_bytes())
            .collect(),
        sshca_certs,
    })
}

fn der_to_pem(der: &[u8]) -> String {
    p256::pkcs8::der::pem::encode_string("CERTIFICATE", p256::pkcs8::LineEnding::LF, der)
        .unwrap_or_default()
}

async fn legacy_rpc(
    channel: Channel,
    ceremony: &Ceremony<'_>,
    state: &mut ClientState,
) -> Result<Certs, Failure> {
    let (tx, rx) = mpsc::channel(4);
    let send = |payload: LegacyRequest| {
        let tx = tx.clone();
        async move {
            tx.send(RegisterUsingBoundKeypairMethodRequest {
                payload: Some(payload),
            })
            .await
            .map_err(|_| send_failed())
        }
    };
    send(LegacyRequest::Init(
        RegisterUsingBoundKeypairInitialRequest {
            join_request: Some(RegisterUsingTokenRequest {
                role: BOT_ROLE.into(),
                token: ceremony.token.into(),
                public_tls_key: ceremony.key.tls_public_pem.clone().into_bytes(),
                public_ssh_key: ceremony.key.ssh_public.clone().into_bytes(),
                expires: expires(ceremony.ttl),
                ..Default::default()
            }),
            initial_join_secret: state
                .secret_to_send(ceremony.secret)
                .unwrap_or_default()
                .into(),
            previous_join_state: state.join_state().to_vec(),
        },
    ))
    .await?;
    let mut responses = LegacyClient::new(channel)
        .register_using_bound_keypair_method(ReceiverStream::new(rx))
        .await
        .map_err(|s| Failure::status(&s))?
        .into_inner();
    loop {
        let message = responses
            .message()
            .await
            .map_err(|s| Failure::status(&s))?
            .ok_or_else(send_failed)?;
        match message.response {
            Some(LegacyResponse::Challenge(challenge)) => {
                let solution = solve(state, &challenge.public_key, &challenge.challenge)?;
                send(LegacyRequest::ChallengeResponse(
                    RegisterUsingBoundKeypairChallengeResponse { solution },
                ))
                .await?;
            }
            Some(LegacyResponse::Rotation(_)) => {
                let public_key = rotate(state, ceremony, LEGACY_SUITE)?;
                send(LegacyRequest::RotationResponse(
                    RegisterUsingBoundKeypairRotationResponse { public_key },
                ))
                .await?;
            }
            Some(LegacyResponse::Certs(result)) => {
                let certs = result.certs.unwrap_or_default();
                state
                    .update(&result.public_key, &result.join_state, ceremony.store)
                    .map_err(|e| Failure::local(e.to_string()))?;
                return Ok(certs);
            }
            None => return Err(Failure::local("the auth server sent an empty message")),
        }
    }
}

#[cfg(test)]
mod tests {
    //! A server that knows only the legacy RPC (as a July-2025 v18 auth does): the agent falls
    //! back to it, answers its rotation request and challenge, and keeps what it returns.

    use std::convert::Infallible;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::Bytes;
    use mwi_identity::jose::{self, VerifyingKey};
    use mwi_proto::proto::{
        RegisterUsingBoundKeypairCertificates, RegisterUsingBoundKeypairChallenge,
        RegisterUsingBoundKeypairMethodResponse, RegisterUsingBoundKeypairRotationRequest,
    };
    use mwi_proto::raw::RawCodec;
    use prost::Message;
    use tonic::Status;
    use tonic::body::Body;

    use super::*;
    use crate::bkp::StoredState;
    use crate::log::LogFormat;

    const LEGACY_PATH: &str = "/proto.JoinService/RegisterUsingBoundKeypairMethod";
    const CHALLENGE: &str = r#"{"nonce":"0123456789abcdef0123456789abcdef"}"#;

    type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

    /// Everything but the legacy stream is Unimplemented, as tonic answers an unknown path.
    #[derive(Clone)]
    struct LegacyOnly;

    impl tower::Service<http::Request<Body>> for LegacyOnly {
        type Response = http::Response<Body>;
        type Error = Infallible;
        type Future = BoxFuture<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<Body>) -> Self::Future {
            Box::pin(async move {
                if request.uri().path() != LEGACY_PATH {
                    return Ok(Status::unimplemented("unknown service").into_http());
                }
                let mut grpc = tonic::server::Grpc::new(RawCodec);
                Ok(grpc.streaming(Stream, request).await)
            })
        }
    }

    struct Stream;

    type Out = tokio_stream::wrappers::ReceiverStream<Result<Bytes, Status>>;

    impl tonic::server::StreamingService<Bytes> for Stream {
        type Response = Bytes;
        type ResponseStream = Out;
        type Future = BoxFuture<Result<tonic::Response<Out>, Status>>;

        fn call(&mut self, request: tonic::Request<tonic::Streaming<Bytes>>) -> Self::Future {
            Box::pin(async move {
                let (tx, rx) = mpsc::channel(4);
                tokio::spawn(converse(request.into_inner(), tx));
                Ok(tonic::Response::new(ReceiverStream::new(rx)))
            })
        }
    }

    async fn recv(inbound: &mut tonic::Streaming<Bytes>) -> LegacyRequest {
        let bytes = inbound.message().await.unwrap().unwrap();
        RegisterUsingBoundKeypairMethodRequest::decode(bytes)
            .unwrap()
            .payload
            .unwrap()
    }

    async fn send(tx: &mpsc::Sender<Result<Bytes, Status>>, response: LegacyResponse) {
        let message = RegisterUsingBoundKeypairMethodResponse {
            response: Some(response),
        };
        tx.send(Ok(message.encode_to_vec().into())).await.unwrap();
    }

    /// Onboarding by secret as the legacy server runs it: rotation request, challenge for the
    /// new key, certificates with the join state.
    async fn converse(
        mut inbound: tonic::Streaming<Bytes>,
        tx: mpsc::Sender<Result<Bytes, Status>>,
    ) {
        let LegacyRequest::Init(init) = recv(&mut inbound).await else {
            panic!("init first")
        };
        assert_eq!(init.initial_join_secret, "s3cret");
        assert!(init.previous_join_state.is_empty());
        let join = init.join_request.unwrap();
        assert_eq!(
            (join.token.as_str(), join.role.as_str()),
            ("bkp-token", "Bot")
        );
        assert!(
            String::from_utf8(join.public_tls_key)
                .unwrap()
                .starts_with("-----BEGIN PUBLIC KEY")
        );
        send(
            &tx,
            LegacyResponse::Rotation(RegisterUsingBoundKeypairRotationRequest {}),
        )
        .await;
        let LegacyRequest::RotationResponse(rotated) = recv(&mut inbound).await else {
            panic!("a rotation response")
        };
        send(
            &tx,
            LegacyResponse::Challenge(RegisterUsingBoundKeypairChallenge {
                public_key: rotated.public_key.clone(),
                challenge: CHALLENGE.into(),
            }),
        )
        .await;
        let LegacyRequest::ChallengeResponse(answer) = recv(&mut inbound).await else {
            panic!("a challenge response")
        };
        let key = VerifyingKey::from_authorized_key(&rotated.public_key).unwrap();
        let solution = String::from_utf8(answer.solution).unwrap();
        let signed = jose::verify(&solution, &key).expect("signed by the new key");
        assert_eq!(
            signed,
            CHALLENGE.as_bytes(),
            "the challenge is signed as it is"
        );
        send(
            &tx,
            LegacyResponse::Certs(RegisterUsingBoundKeypairCertificates {
                certs: Some(Certs {
                    tls: b"tls".to_vec(),
                    ..Default::default()
                }),
                join_state: b"state-1".to_vec(),
                public_key: rotated.public_key,
            }),
        )
        .await;
    }

    #[tokio::test]
    async fn a_server_without_the_new_rpc_gets_the_legacy_stream() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(tonic::transport::Server::builder().serve_with_incoming(
            LegacyOnly,
            tokio_stream::wrappers::TcpListenerStream::new(listener),
        ));
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), false).unwrap();
        let log = Logger::stderr(LogFormat::Text);
        let key = KeyPair::generate().unwrap();
        let ceremony = Ceremony {
            token: "bkp-token",
            key: &key,
            ttl: Duration::from_secs(60),
            secret: Some("s3cret"),
            store: &store,
            log: &log,
        };
        let mut state = ClientState::Stored(StoredState::default());
        let (certs, rpc) = run(channel, &ceremony, &mut state).await.unwrap();
        assert_eq!(rpc, Rpc::Legacy);
        assert_eq!(certs.tls, b"tls");
        let files = store.load_bkp().unwrap().unwrap().files;
        assert_eq!(files.join_state, b"state-1");
        assert!(
            files.public_key.starts_with("ssh-ed25519 "),
            "legacy suite: Ed25519"
        );
        assert_eq!(files.history.len(), 1);
        assert_eq!(state.secret_to_send(Some("s3cret")), None, "bound now");
    }
}
