//! End-to-end timings of the real (release) mwictl binary against an in-process lab on loopback:
//! a fresh `locks ls` process vs a fresh `ping` process (TLS handshake + one Ping), `locks ls`
//! through the lab proxy (TLS routing) and through a second lab's proxy as an L7 load balancer
//! (the connection upgrade, detected as Teleport does) vs direct, and
//! `unlock --bot` with 10,000 unrelated locks and 3 matching. Run:
//! `cargo bench -p mwictl --bench commands`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mwi_auth::lab::{LabConfig, LabHandle, ProxyConfig, spawn};
use mwi_proto::machineid::bot_service_client::BotServiceClient;
use mwi_proto::machineid::{Bot, BotSpec, CreateBotRequest};
use mwi_proto::proto::UpsertTokenV2Request;
use mwi_proto::proto::auth_service_client::AuthServiceClient;
use mwi_proto::proto::join_service_client::JoinServiceClient;
use mwi_proto::proto::upsert_token_v2_request::Token;
use mwi_proto::types::{
    LockSpecV2, LockTarget, LockV2, Metadata, ProvisionTokenSpecV2, ProvisionTokenV2,
    RegisterUsingTokenRequest,
};
use mwictl::connect::{self, ClientIdentity, Target};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

const BIN: &str = env!("CARGO_BIN_EXE_mwictl");
/// Fresh processes per command in the process-start comparison.
const PROCESSES: usize = 30;
const UNRELATED_LOCKS: usize = 10_000;
const UNLOCK_ROUNDS: usize = 9;
/// Concurrent writers while filling the lab with locks.
const WRITERS: usize = 16;
const BOT: &str = "bench";

struct Setup {
    addr: String,
    /// The lab proxy (TLS routing to the same lab).
    proxy: String,
    identity: PathBuf,
    home: PathBuf,
    /// A second lab behind its proxy in L7 mode: its address, admin identity and web CA.
    l7_proxy: String,
    l7_identity: PathBuf,
    l7_web_ca: PathBuf,
}

impl Setup {
    fn mwictl(&self, args: &[&str]) -> Command {
        self.mwictl_at(args, &["--auth-server", &self.addr])
    }

    /// The command reaching auth through the lab proxy.
    fn via_proxy(&self, args: &[&str]) -> Command {
        self.mwictl_at(args, &["--proxy", &self.proxy])
    }

    /// The command reaching the second lab's auth through the connection upgrade, the web
    /// certificate trusted through SSL_CERT_FILE.
    fn via_upgrade(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(args, &["--proxy", &self.l7_proxy], &self.l7_identity);
        cmd.env("SSL_CERT_FILE", &self.l7_web_ca)
            .env_remove("TELEPORT_TLS_ROUTING_CONN_UPGRADE");
        cmd
    }

    fn mwictl_at(&self, args: &[&str], server: &[&str]) -> Command {
        self.command(args, server, &self.identity)
    }

    fn command(&self, args: &[&str], server: &[&str], identity: &PathBuf) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .args(server)
            .arg("-i")
            .arg(identity)
            .env("MWICTL_HOME", &self.home)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs the command once and returns its wall time; a failure aborts the benchmark.
    fn time(&self, args: &[&str]) -> Duration {
        self.time_command(args, self.mwictl(args))
    }

    fn time_command(&self, args: &[&str], mut command: Command) -> Duration {
        let start = Instant::now();
        let out = command.output().expect("run mwictl");
        let took = start.elapsed();
        assert!(
            out.status.success(),
            "mwictl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        took
    }

    async fn channel(&self) -> Channel {
        let identity = ClientIdentity::load(&self.identity).expect("admin identity");
        let target = Target {
            addr: self.addr.clone(),
            identity: self.identity.clone(),
            via_proxy: false,
        };
        connect::connect(&target, &identity)
            .await
            .expect("connect as admin")
            .channel
    }
}

fn lock(name: String, target: LockTarget, message: &str) -> LockV2 {
    LockV2 {
        kind: "lock".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name,
            ..Default::default()
        }),
        spec: Some(LockSpecV2 {
            target: Some(target),
            message: message.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Milliseconds: mean and median.
fn stats(samples: &[Duration]) -> (f64, f64) {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    let mid = ms.len() / 2;
    let median = if ms.len().is_multiple_of(2) {
        (ms[mid - 1] + ms[mid]) / 2.0
    } else {
        ms[mid]
    };
    (mean, median)
}

async fn fill_unrelated_locks(setup: &Setup) {
    let channel = setup.channel().await;
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let mut client = AuthServiceClient::new(channel.clone());
        writers.spawn(async move {
            for i in (w..UNRELATED_LOCKS).step_by(WRITERS) {
                let target = LockTarget {
                    user: format!("someone-{i}"),
                    ..Default::default()
                };
                client
                    .upsert_lock(lock(format!("unrelated-{i:05}"), target, "not the bot"))
                    .await
                    .expect("upsert unrelated lock");
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.expect("writer");
    }
}

/// Creates the bot and joins it once, as a fresh tbot would; returns its instance ID.
async fn joined_bot(setup: &Setup, ca_pem: &str) -> String {
    let channel = setup.channel().await;
    let bot = Bot {
        kind: "bot".into(),
        version: "v1".into(),
        metadata: Some(mwi_proto::teleport::header::v1::Metadata {
            name: BOT.into(),
            ..Default::default()
        }),
        spec: Some(BotSpec::default()),
        ..Default::default()
    };
    BotServiceClient::new(channel.clone())
        .create_bot(CreateBotRequest { bot: Some(bot) })
        .await
        .expect("create bot");
    let token = ProvisionTokenV2 {
        kind: "token".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name: "bench-join-token".into(),
            expires: Some((std::time::SystemTime::now() + Duration::from_secs(3600)).into()),
            ..Default::default()
        }),
        spec: Some(ProvisionTokenSpecV2 {
            roles: vec!["Bot".into()],
            join_method: "token".into(),
            bot_name: BOT.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    AuthServiceClient::new(channel)
        .upsert_token_v2(UpsertTokenV2Request {
            token: Some(Token::V2(token)),
        })
        .await
        .expect("upsert token");
    let tls = ClientTlsConfig::new()
        .domain_name("teleport.cluster.local")
        .ca_certificate(Certificate::from_pem(ca_pem));
    let anonymous = Endpoint::from_shared(format!("https://{}", setup.addr))
        .expect("endpoint")
        .tls_config(tls)
        .expect("tls")
        .connect()
        .await
        .expect("connect");
    let key = rcgen::KeyPair::generate().expect("key");
    let certs = JoinServiceClient::new(anonymous)
        .register_using_token(RegisterUsingTokenRequest {
            role: "Bot".into(),
            token: "bench-join-token".into(),
            public_tls_key: key.public_key_pem().into_bytes(),
            ..Default::default()
        })
        .await
        .expect("join")
        .into_inner();
    let pem = String::from_utf8(certs.tls).expect("PEM");
    mwi_identity::CertIdentity::from_pem(&pem)
        .expect("certificate")
        .bot_instance_id
        .expect("an instance ID")
}

/// The three locks that block the bot: its user, its role, and its instance.
async fn lock_the_bot(setup: &Setup, instance: &str, round: usize) {
    let mut client = AuthServiceClient::new(setup.channel().await);
    let user = format!("bot-{BOT}");
    let targets = [
        LockTarget {
            user: user.clone(),
            ..Default::default()
        },
        LockTarget {
            role: user,
            ..Default::default()
        },
        LockTarget {
            bot_instance_id: instance.into(),
            ..Default::default()
        },
    ];
    for (i, target) in targets.into_iter().enumerate() {
        client
            .upsert_lock(lock(
                format!("blocking-{round}-{i}"),
                target,
                "generation mismatch",
            ))
            .await
            .expect("upsert blocking lock");
    }
}

fn row(what: &str, samples: &[Duration]) {
    let (mean, median) = stats(samples);
    println!("{what:<58} {:>5} {mean:>9.1} {median:>9.1}", samples.len());
}

fn main() {
    let root = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut config = LabConfig::new(root.path().join("lab"));
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.proxy = Some(ProxyConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        public_addr: None,
        l7: false,
    });
    let lab: LabHandle = runtime.block_on(spawn(config)).expect("start the lab");
    let mut l7_config = LabConfig::new(root.path().join("lab-l7"));
    l7_config.listen = "127.0.0.1:0".parse().expect("address");
    l7_config.proxy = Some(ProxyConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        public_addr: None,
        l7: true,
    });
    let l7_lab: LabHandle = runtime
        .block_on(spawn(l7_config))
        .expect("start the L7 lab");
    let l7_identity = l7_lab.ready().identity_path.clone();
    let setup = Setup {
        addr: lab.addr().to_string(),
        proxy: lab.ready().proxy.expect("the lab proxy").to_string(),
        identity: lab.ready().identity_path.clone(),
        home: root.path().join("home"),
        l7_proxy: l7_lab.ready().proxy.expect("the L7 proxy").to_string(),
        l7_web_ca: l7_identity.with_file_name("web-ca.crt"),
        l7_identity,
    };
    let ca_pem = mwi_identity::IdentityFile::read(&setup.identity)
        .expect("admin identity")
        .identity
        .tls_ca_pems[0]
        .clone();

    println!("mwictl commands benchmark: release binary {BIN}");
    println!("lab on {} (loopback, in-process)\n", setup.addr);
    println!(
        "{:<58} {:>5} {:>9} {:>9}",
        "fresh process, end to end", "runs", "mean ms", "median ms"
    );

    // Warm the page cache and the lab before measuring.
    for _ in 0..3 {
        setup.time(&["ping"]);
        setup.time(&["locks", "ls"]);
    }
    let args = ["locks", "ls"];
    setup.time_command(&args, setup.via_upgrade(&args));
    let (mut ping, mut ls, mut routed) = (Vec::new(), Vec::new(), Vec::new());
    let mut upgraded = Vec::new();
    for _ in 0..PROCESSES {
        ping.push(setup.time(&["ping"]));
        ls.push(setup.time(&["locks", "ls"]));
        routed.push(setup.time_command(&args, setup.via_proxy(&args)));
        upgraded.push(setup.time_command(&args, setup.via_upgrade(&args)));
    }
    row("mwictl ping (TLS handshake + one Ping)", &ping);
    row("mwictl locks ls", &ls);
    row("mwictl --proxy locks ls (lab proxy, TLS routing)", &routed);
    row(
        "mwictl --proxy locks ls (L7 load balancer, conn upgrade)",
        &upgraded,
    );
    let (_, routed_median) = stats(&routed);
    let (_, upgraded_median) = stats(&upgraded);
    let (ping_mean, ping_median) = stats(&ping);
    let (ls_mean, ls_median) = stats(&ls);

    let fill = Instant::now();
    runtime.block_on(fill_unrelated_locks(&setup));
    let fill = fill.elapsed();
    let instance = runtime.block_on(joined_bot(&setup, &ca_pem));

    let mut unlock = Vec::new();
    let mut scan = Vec::new();
    for round in 0..UNLOCK_ROUNDS {
        runtime.block_on(lock_the_bot(&setup, &instance, round));
        unlock.push(setup.time(&["unlock", "--bot", BOT, "--yes", "--quiet"]));
        runtime.block_on(lock_the_bot(&setup, &instance, round + UNLOCK_ROUNDS));
        scan.push(setup.time(&["unlock", "--bot", BOT, "--yes", "--quiet", "--scan-all"]));
    }
    assert_removed_everything(&setup);
    let mut ls_big = Vec::new();
    for _ in 0..5 {
        ls_big.push(setup.time(&["locks", "ls", "--bot", BOT]));
    }
    row(
        "mwictl unlock --bot (10,000 unrelated + 3 matching)",
        &unlock,
    );
    row(
        "mwictl unlock --bot --scan-all (same, downloads all)",
        &scan,
    );
    row("mwictl locks ls --bot (10,000 unrelated locks)", &ls_big);

    let (_, unlock_median) = stats(&unlock);
    println!();
    println!(
        "locks ls / ping: {:.2}x by median, {:.2}x by mean (target <= 1.5x)",
        ls_median / ping_median,
        ls_mean / ping_mean
    );
    println!(
        "locks ls through the proxy / direct: {:.2}x by median (target <= 1.3x)",
        routed_median / ls_median
    );
    println!(
        "locks ls through the connection upgrade / direct: {:.2}x by median (target <= 2x)",
        upgraded_median / ls_median
    );
    println!("unlock --bot median: {unlock_median:.1} ms (target <= 150 ms)");
    println!(
        "(setup: {UNRELATED_LOCKS} unrelated locks written in {:.1} s)",
        fill.as_secs_f64()
    );
    runtime.block_on(lab.shutdown()).expect("stop the lab");
    runtime
        .block_on(l7_lab.shutdown())
        .expect("stop the L7 lab");
}

/// After the rounds, no lock targets the bot and every unrelated lock is still there.
fn assert_removed_everything(setup: &Setup) {
    let out = setup
        .mwictl(&["locks", "ls", "--format", "json"])
        .output()
        .expect("locks ls");
    let locks: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let count = locks.as_array().map_or(0, Vec::len);
    assert_eq!(
        count, UNRELATED_LOCKS,
        "unlock removed exactly the bot's locks"
    );
}
