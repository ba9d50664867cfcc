//! The two streaming join RPCs: `teleport.join.v1.JoinService/Join` (the `token` and
//! `bound_keypair` methods) and the legacy `proto.JoinService/RegisterUsingBoundKeypairMethod`.
//! Each stream is one conversation run by a task; its messages are decoded here and the
//! bound-keypair decisions are made in `bound_keypair`.

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use mwi_identity::CertIdentity;
use mwi_proto::proto::{
    Certs, RegisterUsingBoundKeypairCertificates, RegisterUsingBoundKeypairChallenge,
    RegisterUsingBoundKeypairMethodRequest, RegisterUsingBoundKeypairMethodResponse,
    RegisterUsingBoundKeypairRotationRequest,
    register_using_bound_keypair_method_request as legacy_req,
    register_using_bound_keypair_method_response as legacy_resp,
};
use mwi_proto::teleport::join::v1::{
    BotResult, BoundKeypairChallenge, BoundKeypairResult, BoundKeypairRotationRequest,
    Certificates, Challenge, JoinRequest, JoinResponse, PublicKeys, ServerInit, challenge,
    challenge_solution, client_params, join_request, join_response,
};
use mwi_proto::types::{ProvisionTokenV2, RegisterUsingTokenRequest};
use prost::Message;
use tokio::sync::mpsc;
use tonic::Status;
use x509_cert::der::{Decode, EncodePem};
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::bound_keypair::{self, Request};
use crate::certs::Keys;
use crate::error::ApiError;
use crate::rpc::{Method, decode};
use crate::server::Auth;
use crate::store::{Kind, now_ms};
use crate::tls::ConnInfo;
use crate::tokens::TOKEN_METHOD;

type Outbound = mpsc::Sender<Result<Bytes, Status>>;
pub(crate) type ResponseStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<Bytes, Status>> + Send>>;

/// One side of a join stream: the client's messages in, ours out.
pub(crate) struct Conversation {
    inbound: tonic::Streaming<Bytes>,
    outbound: Outbound,
}

impl Conversation {
    async fn recv<M: Message + Default + prost::Name>(&mut self) -> Result<M, ApiError> {
        match self.inbound.message().await {
            Ok(Some(bytes)) => decode(&bytes),
            Ok(None) => Err(ApiError::BadParameter(
                "the client closed the join stream before the join finished".into(),
            )),
            Err(status) => Err(ApiError::BadParameter(format!(
                "reading the join stream: {}",
                status.message()
            ))),
        }
    }

    async fn send<M: Message>(&mut self, message: &M) -> Result<(), ApiError> {
        self.outbound
            .send(Ok(message.encode_to_vec().into()))
            .await
            .map_err(|_| ApiError::BadParameter("the client left the join stream".into()))
    }
}

/// The challenges of a bound-keypair join in either RPC's messages.
pub(crate) enum Wire<'a> {
    V1(&'a mut Conversation),
    Legacy(&'a mut Conversation),
}

impl Wire<'_> {
    /// Sends a challenge for `public_key` and returns the client's compact JWS.
    pub(crate) async fn challenge(
        &mut self,
        public_key: &str,
        challenge: &str,
    ) -> Result<String, ApiError> {
        let solution = match self {
            Wire::V1(conv) => {
                conv.send(&v1_challenge(challenge::Payload::BoundKeypairChallenge(
                    BoundKeypairChallenge {
                        public_key: public_key.as_bytes().to_vec(),
                        challenge: challenge.to_string(),
                    },
                )))
                .await?;
                match v1_solution(conv).await? {
                    challenge_solution::Payload::BoundKeypairChallengeSolution(s) => s.solution,
                    _ => return Err(unexpected("a bound keypair challenge solution")),
                }
            }
            Wire::Legacy(conv) => {
                conv.send(&RegisterUsingBoundKeypairMethodResponse {
                    response: Some(legacy_resp::Response::Challenge(
                        RegisterUsingBoundKeypairChallenge {
                            public_key: public_key.to_string(),
                            challenge: challenge.to_string(),
                        },
                    )),
                })
                .await?;
                let req: RegisterUsingBoundKeypairMethodRequest = conv.recv().await?;
                match req.payload {
                    Some(legacy_req::Payload::ChallengeResponse(r)) => r.solution,
                    _ => return Err(unexpected("a challenge response")),
                }
            }
        };
        String::from_utf8(solution)
            .map_err(|_| ApiError::BadParameter("the challenge solution is not text".into()))
    }

    /// Asks for a new keypair and returns its authorized_keys line.
    pub(crate) async fn rotate(&mut self, suite: &str) -> Result<String, ApiError> {
        let key = match self {
            Wire::V1(conv) => {
                conv.send(&v1_challenge(
                    challenge::Payload::BoundKeypairRotationRequest(BoundKeypairRotationRequest {
                        signature_algorithm_suite: suite.to_string(),
                    }),
                ))
                .await?;
                match v1_solution(conv).await? {
                    challenge_solution::Payload::BoundKeypairRotationResponse(r) => {
                        String::from_utf8(r.public_key).map_err(|_| {
                            ApiError::BadParameter(
                                "requesting a new public key: the key is not text".into(),
                            )
                        })?
                    }
                    _ => return Err(unexpected("a rotation response")),
                }
            }
            Wire::Legacy(conv) => {
                conv.send(&RegisterUsingBoundKeypairMethodResponse {
                    response: Some(legacy_resp::Response::Rotation(
                        RegisterUsingBoundKeypairRotationRequest {},
                    )),
                })
                .await?;
                let req: RegisterUsingBoundKeypairMethodRequest = conv.recv().await?;
                match req.payload {
                    Some(legacy_req::Payload::RotationResponse(r)) => r.public_key,
                    _ => return Err(unexpected("a rotation response")),
                }
            }
        };
        Ok(key)
    }
}

fn v1_challenge(payload: challenge::Payload) -> JoinResponse {
    JoinResponse {
        payload: Some(join_response::Payload::Challenge(Challenge {
            payload: Some(payload),
        })),
    }
}

async fn v1_solution(conv: &mut Conversation) -> Result<challenge_solution::Payload, ApiError> {
    let req: JoinRequest = conv.recv().await?;
    match req.payload {
        Some(join_request::Payload::Solution(s)) => {
            s.payload.ok_or_else(|| unexpected("a challenge solution"))
        }
        Some(join_request::Payload::GivingUp(g)) => Err(gave_up(&g.msg)),
        _ => Err(unexpected("a challenge solution")),
    }
}

fn unexpected(wanted: &str) -> ApiError {
    ApiError::BadParameter(format!(
        "unexpected message in the join stream: expected {wanted}"
    ))
}

fn gave_up(msg: &str) -> ApiError {
    ApiError::BadParameter(format!("the client gave up joining: {msg}"))
}

/// The verified bot identity of the caller, if it presented a current one.
fn caller_bot(conn: Option<&ConnInfo>) -> Option<Arc<CertIdentity>> {
    conn.and_then(|c| c.caller.clone())
        .filter(|id| id.is_bot() && id.bot_instance_id.is_some())
        .filter(|id| !id.expired_at(now_ms() / 1000))
}

/// Starts the conversation of a join stream; the response stream ends with its outcome.
pub(crate) fn serve(
    auth: Arc<Auth>,
    method: Method,
    conn: Option<ConnInfo>,
    inbound: tonic::Streaming<Bytes>,
) -> ResponseStream {
    let (tx, rx) = mpsc::channel(4);
    let conv = Conversation {
        inbound,
        outbound: tx.clone(),
    };
    let caller = caller_bot(conn.as_ref());
    let task = tokio::spawn(async move {
        let mut conv = conv;
        match method {
            Method::Join => join_v1(&auth, caller, &mut conv).await,
            _ => join_legacy(&auth, caller, &mut conv).await,
        }
    });
    tokio::spawn(async move {
        let end = match task.await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => Status::from(e),
            // A panic in one join must not take the lab down; the client gets Internal.
            Err(_) => {
                Status::internal("the lab auth service failed on this join (a bug); see its log")
            }
        };
        let _ = tx.send(Err(end)).await;
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// `teleport.join.v1.JoinService/Join`.
async fn join_v1(
    auth: &Auth,
    caller: Option<Arc<CertIdentity>>,
    conv: &mut Conversation,
) -> Result<(), ApiError> {
    let first: JoinRequest = conv.recv().await?;
    let init = match first.payload {
        Some(join_request::Payload::ClientInit(init)) => init,
        _ => return Err(unexpected("ClientInit first")),
    };
    // A forwarded stream carries the proxy's credentials, not the joining client's.
    let caller = caller.filter(|_| !init.forwarded_by_proxy);
    let name = init.token_name.clone();
    let row = auth.store.read(move |r| r.get(Kind::Token, &name)).await?;
    let token_method = row
        .map(|row| ProvisionTokenV2::decode(row.value.as_ref()))
        .transpose()
        .map_err(|e| ApiError::Internal(format!("a stored token is unreadable: {e}")))?
        .and_then(|t| t.spec)
        .map(|s| s.join_method)
        .map(|m| {
            if m.is_empty() {
                TOKEN_METHOD.to_string()
            } else {
                m
            }
        });
    let Some(method) = token_method else {
        return Err(ApiError::AccessDenied(format!(
            "{:?} can not join the cluster with role {:?}, token expired or not found",
            "", init.system_role
        )));
    };
    if let Some(asked) = init.join_method.as_deref().filter(|m| *m != method) {
        return Err(ApiError::BadParameter(format!(
            "client requested join method {asked}, provision token only supports method {method}"
        )));
    }
    if method != TOKEN_METHOD && method != bound_keypair::METHOD {
        return Err(ApiError::NotImplemented(format!(
            "join method {method} is not yet implemented by the new join service"
        )));
    }
    conv.send(&JoinResponse {
        payload: Some(join_response::Payload::Init(ServerInit {
            join_method: method.clone(),
            signature_algorithm_suite: bound_keypair::SUITE.into(),
        })),
    })
    .await?;
    let next: JoinRequest = conv.recv().await?;
    let (params, secret, join_state) = match next.payload {
        Some(join_request::Payload::TokenInit(t)) if method == TOKEN_METHOD => {
            (t.client_params, String::new(), Vec::new())
        }
        Some(join_request::Payload::BoundKeypairInit(b)) if method == bound_keypair::METHOD => (
            b.client_params,
            b.initial_join_secret,
            b.previous_join_state,
        ),
        Some(join_request::Payload::GivingUp(g)) => return Err(gave_up(&g.msg)),
        _ => return Err(unexpected(&format!("the {method} method's init"))),
    };
    let Some(client_params::Payload::BotParams(bot)) = params.and_then(|p| p.payload) else {
        return Err(ApiError::BadParameter(
            "the lab auth service joins only bots: send bot_params".into(),
        ));
    };
    let public_keys = bot.public_keys.unwrap_or_default();
    let certs = if method == TOKEN_METHOD {
        let (tls, ssh) = pem_keys(&public_keys)?;
        let req = RegisterUsingTokenRequest {
            token: init.token_name,
            role: init.system_role,
            public_tls_key: tls,
            public_ssh_key: ssh,
            expires: bot.expires,
            ..Default::default()
        };
        let body = auth
            .register_using_token(req.encode_to_vec().into())
            .await?;
        let certs = Certs::decode(body.as_ref())
            .map_err(|e| ApiError::Internal(format!("re-reading issued certificates: {e}")))?;
        BotResult {
            certificates: Some(der_certificates(&certs)?),
            bound_keypair_result: None,
        }
    } else {
        let req = Request {
            token: init.token_name,
            system_role: init.system_role,
            caller,
            secret,
            join_state,
            keys: der_keys(&public_keys)?,
            expires: bot.expires,
        };
        let outcome = auth.bound_keypair_join(req, &mut Wire::V1(conv)).await?;
        BotResult {
            certificates: Some(der_certificates(&outcome.certs)?),
            bound_keypair_result: Some(BoundKeypairResult {
                join_state: outcome.join_state.into_bytes(),
                public_key: outcome.public_key.into_bytes(),
            }),
        }
    };
    conv.send(&JoinResponse {
        payload: Some(join_response::Payload::Result(
            mwi_proto::teleport::join::v1::Result {
                payload: Some(mwi_proto::teleport::join::v1::result::Payload::BotResult(
                    certs,
                )),
            },
        )),
    })
    .await
}

/// `proto.JoinService/RegisterUsingBoundKeypairMethod`.
async fn join_legacy(
    auth: &Auth,
    caller: Option<Arc<CertIdentity>>,
    conv: &mut Conversation,
) -> Result<(), ApiError> {
    let first: RegisterUsingBoundKeypairMethodRequest = conv.recv().await?;
    let Some(legacy_req::Payload::Init(init)) = first.payload else {
        return Err(unexpected("the init request first"));
    };
    let join = init.join_request.unwrap_or_default();
    let req = Request {
        token: join.token,
        system_role: join.role,
        caller,
        secret: init.initial_join_secret,
        join_state: init.previous_join_state,
        keys: Keys::parse(&join.public_tls_key, &join.public_ssh_key)?,
        expires: join.expires,
    };
    let outcome = auth
        .bound_keypair_join(req, &mut Wire::Legacy(conv))
        .await?;
    conv.send(&RegisterUsingBoundKeypairMethodResponse {
        response: Some(legacy_resp::Response::Certs(
            RegisterUsingBoundKeypairCertificates {
                certs: Some(outcome.certs),
                join_state: outcome.join_state.into_bytes(),
                public_key: outcome.public_key,
            },
        )),
    })
    .await
}

/// The new RPC's keys (PKIX DER, SSH wire) as the lab's parsed keys.
fn der_keys(keys: &PublicKeys) -> Result<Keys, ApiError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        ApiError::BadParameter(format!("{what} public key: {e}"))
    };
    let tls = (!keys.public_tls_key.is_empty())
        .then(|| {
            SubjectPublicKeyInfoOwned::from_der(&keys.public_tls_key).map_err(|e| bad("TLS", &e))
        })
        .transpose()?;
    let ssh = (!keys.public_ssh_key.is_empty())
        .then(|| ssh_key::PublicKey::from_bytes(&keys.public_ssh_key).map_err(|e| bad("SSH", &e)))
        .transpose()?;
    if tls.is_none() {
        return Err(ApiError::BadParameter(
            "public_tls_key is required to join (PKIX DER)".into(),
        ));
    }
    Ok(Keys { tls, ssh })
}

/// The new RPC's keys in the legacy request's text forms (PEM, authorized_keys).
fn pem_keys(keys: &PublicKeys) -> Result<(Vec<u8>, Vec<u8>), ApiError> {
    let parsed = der_keys(keys)?;
    let tls = parsed
        .tls
        .as_ref()
        .map(|k| k.to_pem(x509_cert::der::pem::LineEnding::LF))
        .transpose()
        .map_err(|e| ApiError::BadParameter(format!("TLS public key: {e}")))?
        .unwrap_or_default();
    let ssh = parsed
        .ssh
        .as_ref()
        .map(|k| k.to_openssh())
        .transpose()
        .map_err(|e| ApiError::BadParameter(format!("SSH public key: {e}")))?
        .unwrap_or_default();
    Ok((tls.into_bytes(), ssh.into_bytes()))
}

/// Certificates in the new RPC's binary forms (DER, SSH wire) from the legacy text forms.
fn der_certificates(certs: &Certs) -> Result<Certificates, ApiError> {
    let internal = |e: &dyn std::fmt::Display| {
        ApiError::Internal(format!("re-encoding issued certificates: {e}"))
    };
    let der = |pem: &[u8]| -> Result<Vec<u8>, ApiError> {
        let text = std::str::from_utf8(pem).map_err(|e| internal(&e))?;
        x509_cert::der::pem::decode_vec(text.trim().as_bytes())
            .map(|(_, der)| der)
            .map_err(|e| internal(&e))
    };
    let ssh_wire = |line: &[u8]| -> Result<Vec<u8>, ApiError> {
        let text = std::str::from_utf8(line).map_err(|e| internal(&e))?;
        ssh_key::PublicKey::from_openssh(text.trim())
            .and_then(|k| k.to_bytes())
            .map_err(|e| internal(&e))
    };
    let ssh_cert = if certs.ssh.is_empty() {
        Vec::new()
    } else {
        let text = std::str::from_utf8(&certs.ssh).map_err(|e| internal(&e))?;
        ssh_key::Certificate::from_openssh(text.trim())
            .and_then(|c| c.to_bytes())
            .map_err(|e| internal(&e))?
    };
    Ok(Certificates {
        tls_cert: der(&certs.tls)?,
        tls_ca_certs: certs
            .tlsca_certs
            .iter()
            .map(|c| der(c))
            .collect::<Result<_, _>>()?,
        ssh_cert,
        ssh_ca_keys: certs
            .sshca_certs
            .iter()
            .map(|c| ssh_wire(c))
            .collect::<Result<_, _>>()?,
    })
}
