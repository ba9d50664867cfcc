//! Bound-keypair joins against a real lab over `teleport.join.v1.JoinService/Join` (and the
//! legacy RPC), with a small client written here: onboarding, refresh, recovery, rotation, the
//! recovery limit, join-state locks, and bad input refused with nothing changed on the server.

use mwi_identity::jose::{self, SigningKey};
use mwi_proto::proto::join_service_client::JoinServiceClient as LegacyJoinClient;
use mwi_proto::proto::{
    RegisterUsingBoundKeypairChallengeResponse, RegisterUsingBoundKeypairInitialRequest,
    RegisterUsingBoundKeypairMethodRequest, UpsertTokenV2Request,
    register_using_bound_keypair_method_request as legacy_req,
    register_using_bound_keypair_method_response as legacy_resp, upsert_token_v2_request,
};
use mwi_proto::teleport::join::v1::join_service_client::JoinServiceClient;
use mwi_proto::teleport::join::v1::{
    BotParams, BoundKeypairChallengeSolution, BoundKeypairInit, BoundKeypairRotationResponse,
    ChallengeSolution, ClientInit, ClientParams, JoinRequest, PublicKeys, TokenInit, challenge,
    challenge_solution, client_params, join_request, join_response, result,
};
use mwi_proto::types::provision_token_spec_v2_bound_keypair::OnboardingSpec;
use mwi_proto::types::{
    ProvisionTokenStatusV2, ProvisionTokenStatusV2BoundKeypair, ProvisionTokenV2, ResourceRequest,
};
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
use tokio::sync::mpsc;
use tonic::Code;
use tonic::transport::Channel;

use mwi_testkit::Lab;
use mwi_testkit::fixtures::{ClientKey, client_key};

const BOT: &str = "example";
const TOKEN: &str = "bkp-token";

/// How the test client answers a challenge: `(challenge, public key) -> solution`.
type Solver<'a> = &'a mut dyn FnMut(&str, &str) -> Vec<u8>;
/// A solver the test owns.
type Boxed = Box<dyn FnMut(&str, &str) -> Vec<u8>>;

/// What one successful join gave the client.
struct Joined {
    cert_pem: String,
    key_pem: String,
    join_state: Vec<u8>,
    public_key: String,
}

/// The key signing for `public_key` among `keys`.
fn signer<'a>(keys: &'a [SigningKey], public_key: &str) -> &'a SigningKey {
    keys.iter()
        .find(|k| k.verifying_key().to_authorized_key().unwrap() == public_key.trim())
        .expect("challenged for a key the client holds")
}

fn honest(keys: Vec<SigningKey>) -> impl FnMut(&str, &str) -> Vec<u8> {
    move |challenge, public_key| {
        jose::sign(signer(&keys, public_key), None, challenge.as_bytes()).into_bytes()
    }
}

/// A bot's client parameters: `key`'s TLS public key (DER), no SSH key, no expiry asked.
fn bot_params(key: &ClientKey) -> ClientParams {
    let tls_der = p256::PublicKey::from_public_key_pem(&key.tls_public_pem)
        .unwrap()
        .to_public_key_der()
        .unwrap()
        .into_vec();
    ClientParams {
        payload: Some(client_params::Payload::BotParams(BotParams {
            public_keys: Some(PublicKeys {
                public_tls_key: tls_der,
                public_ssh_key: Vec::new(),
            }),
            expires: None,
        })),
    }
}

/// [`join`] with no identity (onboarding or recovery), no secret and no rotation.
async fn anonymous(
    lab: &Lab,
    join_state: &[u8],
    solve: Solver<'_>,
) -> Result<Joined, tonic::Status> {
    join(lab.anonymous().await, "", join_state, solve, None).await
}

/// Joins over the new RPC on `channel`, answering rotation requests with `rotate_to`.
async fn join(
    channel: Channel,
    secret: &str,
    join_state: &[u8],
    solve: Solver<'_>,
    rotate_to: Option<&SigningKey>,
) -> Result<Joined, tonic::Status> {
    let key = client_key();
    let params = bot_params(&key);
    let (tx, rx) = mpsc::channel(4);
    tx.send(JoinRequest {
        payload: Some(join_request::Payload::ClientInit(ClientInit {
            join_method: Some("bound_keypair".into()),
            token_name: TOKEN.into(),
            system_role: "Bot".into(),
            ..Default::default()
        })),
    })
    .await
    .unwrap();
    let mut inbound = JoinServiceClient::new(channel)
        .join(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner();
    let mut sent_init = false;
    loop {
        let Some(msg) = inbound.message().await? else {
            panic!("the stream ended without a result")
        };
        let reply = match msg.payload.unwrap() {
            join_response::Payload::Init(init) => {
                assert_eq!(init.join_method, "bound_keypair");
                assert!(!sent_init);
                sent_init = true;
                join_request::Payload::BoundKeypairInit(BoundKeypairInit {
                    client_params: Some(params.clone()),
                    initial_join_secret: secret.into(),
                    previous_join_state: join_state.to_vec(),
                })
            }
            join_response::Payload::Challenge(c) => match c.payload.unwrap() {
                challenge::Payload::BoundKeypairChallenge(c) => {
                    let public_key = String::from_utf8(c.public_key).unwrap();
                    join_request::Payload::Solution(ChallengeSolution {
                        payload: Some(challenge_solution::Payload::BoundKeypairChallengeSolution(
                            BoundKeypairChallengeSolution {
                                solution: solve(&c.challenge, &public_key),
                            },
                        )),
                    })
                }
                challenge::Payload::BoundKeypairRotationRequest(r) => {
                    assert_eq!(r.signature_algorithm_suite, "balanced-v1");
                    let new = rotate_to.expect("the server asked for a rotation");
                    join_request::Payload::Solution(ChallengeSolution {
                        payload: Some(challenge_solution::Payload::BoundKeypairRotationResponse(
                            BoundKeypairRotationResponse {
                                public_key: new
                                    .verifying_key()
                                    .to_authorized_key()
                                    .unwrap()
                                    .into_bytes(),
                            },
                        )),
                    })
                }
                other => panic!("unexpected challenge {other:?}"),
            },
            join_response::Payload::Result(r) => {
                let Some(result::Payload::BotResult(bot)) = r.payload else {
                    panic!("not a bot result")
                };
                let certs = bot.certificates.unwrap();
                let bk = bot.bound_keypair_result.unwrap();
                let cert_pem = x509_cert::der::pem::encode_string(
                    "CERTIFICATE",
                    x509_cert::der::pem::LineEnding::LF,
                    &certs.tls_cert,
                )
                .unwrap();
                return Ok(Joined {
                    cert_pem,
                    key_pem: key.key_pem,
                    join_state: bk.join_state,
                    public_key: String::from_utf8(bk.public_key).unwrap(),
                });
            }
        };
        tx.send(JoinRequest {
            payload: Some(reply),
        })
        .await
        .unwrap();
    }
}

fn bound_token(onboarding: OnboardingSpec, limit: u32, mode: &str) -> ProvisionTokenV2 {
    mwi_testkit::fixtures::bound_keypair_token(TOKEN, BOT, onboarding, limit, mode)
}

async fn put(lab: &Lab, token: ProvisionTokenV2) {
    lab.auth()
        .await
        .upsert_token_v2(UpsertTokenV2Request {
            token: Some(upsert_token_v2_request::Token::V2(token)),
        })
        .await
        .expect("UpsertTokenV2");
}

async fn read(lab: &Lab) -> ProvisionTokenV2 {
    lab.auth()
        .await
        .get_token(ResourceRequest { name: TOKEN.into() })
        .await
        .expect("GetToken")
        .into_inner()
}

fn status(token: &ProvisionTokenV2) -> ProvisionTokenStatusV2BoundKeypair {
    token
        .status
        .clone()
        .and_then(|s| s.bound_keypair)
        .unwrap_or_default()
}

/// A lab with bot `example` and a token preregistering `key` (limit, mode).
async fn lab_with_key(key: &SigningKey, limit: u32, mode: &str) -> Lab {
    let lab = Lab::start().await;
    lab.create_bot(BOT, &[], &[]).await;
    let onboarding = OnboardingSpec {
        initial_public_key: key.verifying_key().to_authorized_key().unwrap(),
        ..Default::default()
    };
    put(&lab, bound_token(onboarding, limit, mode)).await;
    lab
}

/// The message of the lab's lock on the join token, which must exist.
async fn token_lock_message(lab: &Lab) -> String {
    let locks = lab.locks().await;
    let lock = locks
        .iter()
        .find(|l| l.spec.as_ref().unwrap().target.as_ref().unwrap().join_token == TOKEN)
        .expect("a lock on the join token");
    lock.spec.as_ref().unwrap().message.clone()
}

fn cert(joined: &Joined) -> mwi_identity::CertIdentity {
    mwi_identity::CertIdentity::from_pem(&joined.cert_pem).unwrap()
}

#[tokio::test]
async fn a_preregistered_key_onboards_refreshes_recovers_and_then_runs_out_of_rejoins() {
    let key = SigningKey::generate_ed25519();
    let lab = lab_with_key(&key, 2, "standard").await;
    let mut solve = honest(vec![key.clone()]);

    let first = anonymous(&lab, &[], &mut solve).await.unwrap();
    let id = cert(&first);
    assert_eq!(id.username, "bot-example");
    assert!(
        !id.renewable,
        "bound-keypair certificates are not renewable"
    );
    assert_eq!(id.generation, 1);
    let s = status(&read(&lab).await);
    assert_eq!(s.recovery_count, 1, "onboarding counts as a recovery");
    assert_eq!(s.bound_bot_instance_id, id.bot_instance_id.clone().unwrap());
    assert_eq!(s.bound_public_key, first.public_key);
    assert!(s.last_recovered_at.is_some());
    // The join state is a JWT signed with kid by the lab's bound_keypair CA.
    let state = std::str::from_utf8(&first.join_state).unwrap();
    let parsed = jose::parse(state).unwrap();
    assert!(parsed.header.kid.is_some());
    let claims: serde_json::Value = serde_json::from_slice(&parsed.payload).unwrap();
    assert_eq!(claims["recovery_sequence"], 1);
    assert_eq!(claims["sub"], BOT);
    assert!(claims.get("exp").is_none());

    // Refresh over mTLS with the current identity: same instance, next generation, no count.
    let channel = lab
        .channel_as(&first.cert_pem, &first.key_pem)
        .await
        .unwrap();
    let refreshed = join(channel, "", &first.join_state, &mut solve, None)
        .await
        .unwrap();
    assert_eq!(cert(&refreshed).bot_instance_id, id.bot_instance_id);
    assert_eq!(cert(&refreshed).generation, 2);
    assert_eq!(status(&read(&lab).await).recovery_count, 1);

    // Recovery (no identity, as after expiry): count rises, new instance linked to the old one.
    let recovered = anonymous(&lab, &refreshed.join_state, &mut solve)
        .await
        .unwrap();
    let new_id = cert(&recovered).bot_instance_id.unwrap();
    assert_ne!(Some(new_id.clone()), id.bot_instance_id);
    let s = status(&read(&lab).await);
    assert_eq!(s.recovery_count, 2);
    assert_eq!(s.bound_bot_instance_id, new_id);
    let instances = lab.bot_instances(BOT).await;
    let new = instances
        .iter()
        .find(|i| i.spec.as_ref().unwrap().instance_id == new_id)
        .unwrap();
    assert_eq!(
        Some(new.spec.as_ref().unwrap().previous_instance_id.clone()),
        id.bot_instance_id
    );

    // The limit (2) is used up: refused with Teleport's words, nothing changed.
    let before = read(&lab).await;
    let err = anonymous(&lab, &recovered.join_state, &mut solve)
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(err.message(), "no rejoins remaining");
    assert_eq!(read(&lab).await, before);
}

#[tokio::test]
async fn a_registration_secret_onboards_a_new_key_once_and_a_wrong_one_is_refused() {
    let lab = Lab::start().await;
    lab.create_bot(BOT, &[], &[]).await;
    let mut token = bound_token(OnboardingSpec::default(), 1, "");
    token.status = Some(ProvisionTokenStatusV2 {
        bound_keypair: Some(ProvisionTokenStatusV2BoundKeypair {
            registration_secret: "s3cret".into(),
            ..Default::default()
        }),
    });
    put(&lab, token).await;
    let before = read(&lab).await;
    let new = SigningKey::generate_ed25519();
    let mut solve = honest(vec![new.clone()]);
    let err = join(lab.anonymous().await, "wrong", &[], &mut solve, Some(&new))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(err.message(), "a valid registration secret is required");
    assert_eq!(read(&lab).await, before);

    let joined = join(lab.anonymous().await, "s3cret", &[], &mut solve, Some(&new))
        .await
        .unwrap();
    assert_eq!(
        joined.public_key,
        new.verifying_key().to_authorized_key().unwrap()
    );
    let s = status(&read(&lab).await);
    assert_eq!(s.bound_public_key, joined.public_key);
    assert_eq!(s.registration_secret, "", "the secret is cleared once used");
    assert_eq!(s.recovery_count, 1);
}

#[tokio::test]
async fn rotate_after_rotates_the_bound_key_once() {
    let key = SigningKey::generate_ed25519();
    let lab = lab_with_key(&key, 5, "standard").await;
    let new = SigningKey::generate_p256();
    let mut solve = honest(vec![key.clone(), new.clone()]);
    let first = anonymous(&lab, &[], &mut solve).await.unwrap();
    let mut token = read(&lab).await;
    token
        .spec
        .as_mut()
        .unwrap()
        .bound_keypair
        .as_mut()
        .unwrap()
        .rotate_after = Some(std::time::SystemTime::now().into());
    put(&lab, token).await;
    let channel = lab
        .channel_as(&first.cert_pem, &first.key_pem)
        .await
        .unwrap();
    let rotated = join(channel, "", &first.join_state, &mut solve, Some(&new))
        .await
        .unwrap();
    let new_line = new.verifying_key().to_authorized_key().unwrap();
    assert_eq!(rotated.public_key, new_line);
    let s = status(&read(&lab).await);
    assert_eq!(s.bound_public_key, new_line);
    assert!(s.last_rotated_at.is_some());
    assert_eq!(s.recovery_count, 1, "a rotation is not a recovery");
    // Done once: the next join is challenged for the new key without another rotation.
    let channel = lab
        .channel_as(&rotated.cert_pem, &rotated.key_pem)
        .await
        .unwrap();
    join(channel, "", &rotated.join_state, &mut solve, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_stale_join_state_locks_the_join_token() {
    let key = SigningKey::generate_ed25519();
    let lab = lab_with_key(&key, 10, "standard").await;
    let mut solve = honest(vec![key.clone()]);
    let first = anonymous(&lab, &[], &mut solve).await.unwrap();
    anonymous(&lab, &first.join_state, &mut solve)
        .await
        .unwrap();
    // A copy of the keypair holding the older state shows up.
    let before = status(&read(&lab).await);
    let err = anonymous(&lab, &first.join_state, &mut solve)
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(err.message(), "join state verification failed");
    assert_eq!(status(&read(&lab).await), before);
    assert_eq!(
        token_lock_message(&lab).await,
        format!(
            "The join token \"{TOKEN}\" has been locked by bot \"{BOT}\" after a client failed \
             to verify its join state, possibly indicating a stolen keypair."
        )
    );
    let err = anonymous(&lab, &[], &mut solve).await.err().unwrap();
    assert!(
        err.message().starts_with("lock targeting JoinToken:")
            && err.message().contains("is in force"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn bad_solutions_and_forged_join_states_are_refused_and_change_nothing() {
    let key = SigningKey::generate_ed25519();
    let lab = lab_with_key(&key, 10, "standard").await;
    let mut solve = honest(vec![key.clone()]);
    let first = anonymous(&lab, &[], &mut solve).await.unwrap();
    let before = read(&lab).await;

    let mut last = String::new();
    let mut record = |challenge: &str, _: &str| {
        let s = jose::sign(&key, None, challenge.as_bytes());
        last = s.clone();
        s.into_bytes()
    };
    anonymous(&lab, &first.join_state, &mut record)
        .await
        .unwrap();
    let before_replay = read(&lab).await;
    assert_ne!(before_replay, before);
    let state = status(&before_replay);

    let other = SigningKey::generate_ed25519();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Teleport's messages (trace.UserMessage of the wrapped errors) and codes: its own checks
    // are AccessDenied, go-jose's errors are untyped (Unknown).
    let cases: Vec<(Code, &[&str], Boxed)> = vec![
        (
            Code::Unknown,
            &[
                "validating challenge response\n\tparsing signed response\n\t\tgo-jose/go-jose: compact JWS format must have three parts",
            ],
            Box::new(|_: &str, _: &str| b"not-a-jws".to_vec()),
        ),
        (
            Code::Unknown,
            &["validating challenge response\n\tgo-jose/go-jose: error in cryptographic primitive"],
            Box::new(move |c: &str, _: &str| jose::sign(&other, None, c.as_bytes()).into_bytes()),
        ),
        // A replayed solution: its times differ unless it was issued in the same second, when
        // its nonce does.
        (
            Code::PermissionDenied,
            &[
                "validating challenge response\n\tinvalid challenge document",
                "validating challenge response\n\tinvalid nonce",
            ],
            {
                let replay = last.clone();
                Box::new(move |_: &str, _: &str| replay.clone().into_bytes())
            },
        ),
        (
            Code::Unknown,
            &[
                "validating challenge response\n\tvalidating challenge claims\n\t\tgo-jose/go-jose/jwt: validation failed, token is expired (exp)",
            ],
            {
                let key = key.clone();
                Box::new(move |c: &str, _: &str| {
                    let mut doc: serde_json::Value = serde_json::from_str(c).unwrap();
                    doc["exp"] = (now - 600).into();
                    jose::sign(&key, None, doc.to_string().as_bytes()).into_bytes()
                })
            },
        ),
        (
            Code::PermissionDenied,
            &["validating challenge response\n\tinvalid nonce"],
            {
                let key = key.clone();
                Box::new(move |c: &str, _: &str| {
                    let mut doc: serde_json::Value = serde_json::from_str(c).unwrap();
                    doc["nonce"] = "00".repeat(16).into();
                    jose::sign(&key, None, doc.to_string().as_bytes()).into_bytes()
                })
            },
        ),
    ];
    assert_eq!(status(&read(&lab).await), state);
    for (code, want, mut solver) in cases {
        let err = anonymous(&lab, &[], &mut *solver).await.err().unwrap();
        assert_eq!(err.code(), code, "{want:?}: {err}");
        assert!(
            want.contains(&err.message()),
            "{want:?}: {:?}",
            err.message()
        );
        assert_eq!(read(&lab).await, before_replay, "{want:?}");
    }

    // A join state signed by another key (forged) is refused and locks the token.
    let forger = SigningKey::generate_ed25519();
    let forged = jose::sign_claims(
        &forger,
        Some(&forger.verifying_key().key_id()),
        &serde_json::json!({
            "iss": "lab", "aud": "lab", "sub": BOT, "iat": now,
            "bot_instance_id": state.bound_bot_instance_id,
            "recovery_sequence": state.recovery_count,
        }),
    )
    .unwrap();
    let err = anonymous(&lab, forged.as_bytes(), &mut solve)
        .await
        .err()
        .unwrap();
    assert_eq!(err.message(), "join state verification failed");
    assert_eq!(status(&read(&lab).await), state);
}

#[tokio::test]
async fn the_legacy_rpc_onboards_and_refuses_a_token_of_another_method() {
    let key = SigningKey::generate_ed25519();
    let lab = lab_with_key(&key, 1, "").await;
    let client_key = client_key();
    let (tx, rx) = mpsc::channel(4);
    let init = |token: &str| RegisterUsingBoundKeypairMethodRequest {
        payload: Some(legacy_req::Payload::Init(
            RegisterUsingBoundKeypairInitialRequest {
                join_request: Some(mwi_proto::types::RegisterUsingTokenRequest {
                    token: token.into(),
                    role: "Bot".into(),
                    public_tls_key: client_key.tls_public_pem.clone().into_bytes(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )),
    };
    tx.send(init(TOKEN)).await.unwrap();
    let mut inbound = LegacyJoinClient::new(lab.anonymous().await)
        .register_using_bound_keypair_method(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let Some(legacy_resp::Response::Challenge(c)) =
        inbound.message().await.unwrap().unwrap().response
    else {
        panic!("expected a challenge")
    };
    assert_eq!(
        c.public_key,
        key.verifying_key().to_authorized_key().unwrap()
    );
    tx.send(RegisterUsingBoundKeypairMethodRequest {
        payload: Some(legacy_req::Payload::ChallengeResponse(
            RegisterUsingBoundKeypairChallengeResponse {
                solution: jose::sign(&key, None, c.challenge.as_bytes()).into_bytes(),
            },
        )),
    })
    .await
    .unwrap();
    let Some(legacy_resp::Response::Certs(certs)) =
        inbound.message().await.unwrap().unwrap().response
    else {
        panic!("expected certificates")
    };
    assert!(
        certs
            .certs
            .unwrap()
            .tls
            .starts_with(b"-----BEGIN CERTIFICATE-----")
    );
    assert!(!certs.join_state.is_empty());
    assert_eq!(status(&read(&lab).await).recovery_count, 1);

    // A `token`-method token through the bound-keypair RPC.
    let plain = lab.bot_token(BOT).await;
    let (tx, rx) = mpsc::channel(4);
    tx.send(init(&plain)).await.unwrap();
    let err = LegacyJoinClient::new(lab.anonymous().await)
        .register_using_bound_keypair_method(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.message(),
        "specified join token is not for `bound_keypair` method"
    );
}

#[tokio::test]
async fn the_new_rpc_joins_a_token_method_token_and_checks_the_requested_method() {
    let lab = Lab::start().await;
    lab.create_bot(BOT, &[], &[]).await;
    let token = lab.bot_token(BOT).await;
    let open = |method: Option<&str>| {
        let (tx, rx) = mpsc::channel(4);
        let first = JoinRequest {
            payload: Some(join_request::Payload::ClientInit(ClientInit {
                join_method: method.map(str::to_string),
                token_name: token.clone(),
                system_role: "Bot".into(),
                ..Default::default()
            })),
        };
        (tx, rx, first)
    };
    let (tx, rx, first) = open(Some("bound_keypair"));
    tx.send(first).await.unwrap();
    let err = JoinServiceClient::new(lab.anonymous().await)
        .join(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.message(),
        "client requested join method bound_keypair, provision token only supports method token"
    );

    let (tx, rx, first) = open(None);
    tx.send(first).await.unwrap();
    let mut inbound = JoinServiceClient::new(lab.anonymous().await)
        .join(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let Some(join_response::Payload::Init(init)) =
        inbound.message().await.unwrap().unwrap().payload
    else {
        panic!("expected ServerInit")
    };
    assert_eq!(init.join_method, "token");
    tx.send(JoinRequest {
        payload: Some(join_request::Payload::TokenInit(TokenInit {
            client_params: Some(bot_params(&client_key())),
        })),
    })
    .await
    .unwrap();
    let Some(join_response::Payload::Result(r)) = inbound.message().await.unwrap().unwrap().payload
    else {
        panic!("expected a result")
    };
    let Some(result::Payload::BotResult(bot)) = r.payload else {
        panic!("not a bot result")
    };
    assert!(bot.bound_keypair_result.is_none());
    let der = bot.certificates.unwrap().tls_cert;
    let id = mwi_identity::CertIdentity::from_der(&der).unwrap();
    assert!(id.renewable, "a token join stays renewable");
    assert_eq!(id.username, "bot-example");
}

#[tokio::test]
async fn an_older_certificate_generation_locks_the_join_token() {
    let key = SigningKey::generate_ed25519();
    let lab = lab_with_key(&key, 1, "standard").await;
    let mut solve = honest(vec![key.clone()]);
    let first = anonymous(&lab, &[], &mut solve).await.unwrap();
    let first_channel = lab
        .channel_as(&first.cert_pem, &first.key_pem)
        .await
        .unwrap();
    join(
        first_channel.clone(),
        "",
        &first.join_state,
        &mut solve,
        None,
    )
    .await
    .unwrap();
    // The generation-1 certificate refreshes again: someone else holds a copy.
    let before = read(&lab).await;
    let err = join(first_channel, "", &first.join_state, &mut solve, None)
        .await
        .err()
        .unwrap();
    let instance = cert(&first).bot_instance_id.unwrap();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(
        err.message(),
        format!("cert generation mismatch for bot {BOT}/{instance}: stored=2, presented=1")
    );
    assert_eq!(read(&lab).await, before);
    assert_eq!(
        token_lock_message(&lab).await,
        format!(
            "Bot joins via the token \"{TOKEN}\" have been locked due to a certificate \
             generation mismatch by {BOT}/{instance}, possibly indicating a stolen certificate."
        )
    );
}

#[tokio::test]
async fn a_failed_onboarding_challenge_says_only_that_it_failed() {
    let key = SigningKey::generate_ed25519();
    let lab = lab_with_key(&key, 1, "standard").await;
    let before = read(&lab).await;
    let other = SigningKey::generate_ed25519();
    let mut wrong = honest(vec![other.clone()]);
    let err = join(
        lab.anonymous().await,
        "",
        &[],
        &mut |c: &str, _: &str| wrong(c, &other.verifying_key().to_authorized_key().unwrap()),
        None,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(err.message(), "failed to complete challenge");
    assert_eq!(read(&lab).await, before);
}

#[tokio::test]
async fn onboarding_needs_a_recovery_left_and_no_existing_credentials() {
    let key = SigningKey::generate_ed25519();
    let lab = lab_with_key(&key, 0, "standard").await;
    let mut solve = honest(vec![key.clone()]);
    let before = read(&lab).await;
    let err = anonymous(&lab, &[], &mut solve).await.err().unwrap();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(err.message(), "no recovery attempts remaining");
    assert_eq!(read(&lab).await, before);

    // The bot's identity from a token join cannot make the first bound-keypair join.
    put(
        &lab,
        bound_token(
            OnboardingSpec {
                initial_public_key: key.verifying_key().to_authorized_key().unwrap(),
                ..Default::default()
            },
            1,
            "standard",
        ),
    )
    .await;
    let before = read(&lab).await;
    let token_bot = lab.join_bot(&lab.bot_token(BOT).await).await.unwrap();
    let err = join(lab.channel_of(&token_bot).await, "", &[], &mut solve, None)
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.message(),
        "cannot perform first bound keypair join with existing credentials"
    );
    assert_eq!(read(&lab).await, before);
}
