//! Join benchmark of the lab auth service: 64 concurrent clients over loopback TLS joining with
//! `teleport.join.v1.JoinService/Join`, bound-keypair recoveries (challenge, join-state check,
//! new bot instance, token patch, join-state JWT) against one-time `token` joins. Issue 13's
//! goal is a bound-keypair join costing at most twice a token join.
//! Run: `cargo bench -p mwi-auth --bench join_load`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mwi_auth::lab::{LabConfig, spawn};
use mwi_identity::IdentityFile;
use mwi_identity::jose::{self, SigningKey};
use mwi_proto::machineid::bot_service_client::BotServiceClient;
use mwi_proto::machineid::{Bot, BotSpec, CreateBotRequest};
use mwi_proto::proto::auth_service_client::AuthServiceClient;
use mwi_proto::proto::{UpsertTokenV2Request, upsert_token_v2_request};
use mwi_proto::teleport::join::v1::join_service_client::JoinServiceClient;
use mwi_proto::teleport::join::v1::{
    BotParams, BoundKeypairChallengeSolution, BoundKeypairInit, ChallengeSolution, ClientInit,
    ClientParams, JoinRequest, PublicKeys, TokenInit, challenge, challenge_solution, client_params,
    join_request, join_response, result,
};
use mwi_proto::types::provision_token_spec_v2_bound_keypair::{OnboardingSpec, RecoverySpec};
use mwi_proto::types::{
    Metadata, ProvisionTokenSpecV2, ProvisionTokenSpecV2BoundKeypair, ProvisionTokenV2,
};
use p256::pkcs8::EncodePublicKey;
use tokio::sync::mpsc;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

const CLIENTS: usize = 64;
const CONNECTIONS: usize = 4;

/// What a worker joins with.
#[derive(Clone)]
enum Method {
    /// One-time tokens `tok-N`.
    Token,
    /// Its own bound-keypair token `bk-W` and key, recovering each time.
    BoundKeypair,
}

/// One v1 join; returns the new join state for bound-keypair joins.
async fn join(
    channel: Channel,
    token: String,
    tls_der: Vec<u8>,
    key: Option<&SigningKey>,
    join_state: Vec<u8>,
) -> Vec<u8> {
    let (tx, rx) = mpsc::channel(4);
    tx.send(JoinRequest {
        payload: Some(join_request::Payload::ClientInit(ClientInit {
            token_name: token,
            system_role: "Bot".into(),
            ..Default::default()
        })),
    })
    .await
    .expect("send");
    let mut inbound = JoinServiceClient::new(channel)
        .join(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect("Join")
        .into_inner();
    let params = Some(ClientParams {
        payload: Some(client_params::Payload::BotParams(BotParams {
            public_keys: Some(PublicKeys {
                public_tls_key: tls_der,
                public_ssh_key: Vec::new(),
            }),
            expires: None,
        })),
    });
    let mut params = Some(params);
    loop {
        let msg = inbound.message().await.expect("join").expect("a result");
        let reply = match msg.payload.expect("payload") {
            join_response::Payload::Init(_) => {
                let client_params = params.take().expect("one ServerInit");
                match key {
                    None => join_request::Payload::TokenInit(TokenInit { client_params }),
                    Some(_) => join_request::Payload::BoundKeypairInit(BoundKeypairInit {
                        client_params,
                        initial_join_secret: String::new(),
                        previous_join_state: join_state.clone(),
                    }),
                }
            }
            join_response::Payload::Challenge(c) => {
                let Some(challenge::Payload::BoundKeypairChallenge(c)) = c.payload else {
                    panic!("unexpected challenge")
                };
                let key = key.expect("a bound key");
                join_request::Payload::Solution(ChallengeSolution {
                    payload: Some(challenge_solution::Payload::BoundKeypairChallengeSolution(
                        BoundKeypairChallengeSolution {
                            solution: jose::sign(key, None, c.challenge.as_bytes()).into_bytes(),
                        },
                    )),
                })
            }
            join_response::Payload::Result(r) => {
                let Some(result::Payload::BotResult(bot)) = r.payload else {
                    panic!("not a bot result")
                };
                return bot
                    .bound_keypair_result
                    .map(|b| b.join_state)
                    .unwrap_or_default();
            }
        };
        tx.send(JoinRequest {
            payload: Some(reply),
        })
        .await
        .expect("send");
    }
}

struct Measured {
    name: &'static str,
    count: usize,
    per_sec: f64,
    p50: Duration,
    p99: Duration,
}

async fn run(
    name: &'static str,
    method: Method,
    count: usize,
    channels: &[Channel],
    keys: &[SigningKey],
    states: &mut [Vec<u8>],
) -> Measured {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..CLIENTS {
        let channel = channels[worker % channels.len()].clone();
        let next = next.clone();
        let method = method.clone();
        let key = keys[worker].clone();
        let mut state = std::mem::take(&mut states[worker]);
        let tls_der = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng)
            .verifying_key()
            .to_public_key_der()
            .expect("der")
            .into_vec();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return (worker, state, latencies);
                }
                let sent = Instant::now();
                match method {
                    Method::Token => {
                        join(
                            channel.clone(),
                            format!("tok-{i}"),
                            tls_der.clone(),
                            None,
                            Vec::new(),
                        )
                        .await;
                    }
                    Method::BoundKeypair => {
                        state = join(
                            channel.clone(),
                            format!("bk-{worker}"),
                            tls_der.clone(),
                            Some(&key),
                            state,
                        )
                        .await;
                    }
                }
                latencies.push(sent.elapsed());
            }
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    for w in workers {
        let (worker, state, l) = w.await.expect("worker");
        states[worker] = state;
        latencies.extend(l);
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Measured {
        name,
        count,
        per_sec: count as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn endpoint(addr: std::net::SocketAddr, admin: &IdentityFile, mtls: bool) -> Endpoint {
    let mut tls = ClientTlsConfig::new()
        .domain_name("teleport.cluster.local")
        .ca_certificate(Certificate::from_pem(&admin.tls_ca_pems[0]));
    if mtls {
        tls = tls.identity(Identity::from_pem(
            &admin.tls_cert_pem,
            &admin.private_key_pem,
        ));
    }
    Endpoint::from_shared(format!("https://{addr}"))
        .expect("endpoint")
        .tls_config(tls)
        .expect("tls")
}

fn bot(name: &str) -> Bot {
    Bot {
        kind: "bot".into(),
        version: "v1".into(),
        metadata: Some(mwi_proto::teleport::header::v1::Metadata {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(BotSpec::default()),
        ..Default::default()
    }
}

fn token(name: String, bot: &str, bound: Option<&SigningKey>) -> ProvisionTokenV2 {
    ProvisionTokenV2 {
        kind: "token".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name,
            ..Default::default()
        }),
        spec: Some(ProvisionTokenSpecV2 {
            roles: vec!["Bot".into()],
            bot_name: bot.into(),
            join_method: if bound.is_some() {
                "bound_keypair"
            } else {
                "token"
            }
            .into(),
            bound_keypair: bound.map(|key| ProvisionTokenSpecV2BoundKeypair {
                onboarding: Some(OnboardingSpec {
                    initial_public_key: key.verifying_key().to_authorized_key().expect("key"),
                    ..Default::default()
                }),
                // Relaxed: recoveries are unlimited, the join state is still checked.
                recovery: Some(RecoverySpec {
                    limit: 1,
                    mode: "relaxed".into(),
                }),
                rotate_after: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn bench(count: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = LabConfig::new(dir.path().join("data"));
    config.listen = "127.0.0.1:0".parse().expect("addr");
    let lab = spawn(config).await.expect("lab starts");
    let admin = IdentityFile::read(&lab.ready().identity_path)
        .expect("admin identity")
        .identity;
    let admin_channel = endpoint(lab.addr(), &admin, true)
        .connect()
        .await
        .expect("admin");
    let mut auth = AuthServiceClient::new(admin_channel.clone());
    let mut bots = BotServiceClient::new(admin_channel);
    let put = |t: ProvisionTokenV2| UpsertTokenV2Request {
        token: Some(upsert_token_v2_request::Token::V2(t)),
    };
    bots.create_bot(CreateBotRequest {
        bot: Some(bot("bench-token")),
    })
    .await
    .expect("bot");
    for i in 0..count {
        auth.upsert_token_v2(put(token(format!("tok-{i}"), "bench-token", None)))
            .await
            .expect("token");
    }
    let keys: Vec<SigningKey> = (0..CLIENTS)
        .map(|_| SigningKey::generate_ed25519())
        .collect();
    for (w, key) in keys.iter().enumerate() {
        let name = format!("bench-bk-{w}");
        bots.create_bot(CreateBotRequest {
            bot: Some(bot(&name)),
        })
        .await
        .expect("bot");
        auth.upsert_token_v2(put(token(format!("bk-{w}"), &name, Some(key))))
            .await
            .expect("token");
    }
    let mut channels = Vec::new();
    for _ in 0..CONNECTIONS {
        channels.push(
            endpoint(lab.addr(), &admin, false)
                .connect()
                .await
                .expect("connect"),
        );
    }
    let mut states = vec![Vec::new(); CLIENTS];
    // Onboarding, one per worker, is warm-up.
    run(
        "onboard",
        Method::BoundKeypair,
        CLIENTS,
        &channels,
        &keys,
        &mut states,
    )
    .await;
    let token = run("token", Method::Token, count, &channels, &keys, &mut states).await;
    let bound = run(
        "bound_keypair",
        Method::BoundKeypair,
        count,
        &channels,
        &keys,
        &mut states,
    )
    .await;
    println!(
        "join_load: {CLIENTS} concurrent clients over {CONNECTIONS} TLS connections (loopback)"
    );
    println!(
        "{:<14} {:>6} {:>9} {:>8} {:>8}",
        "join", "count", "joins/s", "p50 ms", "p99 ms"
    );
    for r in [&token, &bound] {
        println!(
            "{:<14} {:>6} {:>9.0} {:>8.2} {:>8.2}",
            r.name,
            r.count,
            r.per_sec,
            ms(r.p50),
            ms(r.p99)
        );
    }
    let ratio = token.per_sec / bound.per_sec;
    println!(
        "bound_keypair costs {ratio:.2}x a token join in throughput, {:.2}x in p50 latency \
         (goal <= 2x: {})",
        ms(bound.p50) / ms(token.p50),
        if ratio <= 2.0 { "met" } else { "MISSED" }
    );
    lab.shutdown().await.expect("lab stops");
}

fn main() {
    // The real measurement under `cargo bench` (which passes `--bench`), a smoke run otherwise.
    let count = if std::env::args().any(|a| a == "--bench") {
        2_000
    } else {
        64
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench(count));
}
