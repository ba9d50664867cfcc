//! Shared helpers for the agent's integration tests: argument parsing as the CLI embeds the
//! agent, running it to its end with a log file, and a stored identity in tbot's layout.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use clap::Parser;
use mwi_agent::{AgentArgs, AgentExit};
use mwi_identity::CertIdentity;

#[derive(Parser)]
struct Cli {
    /// As mwictl's global flag, which `mwictl lab bot` hands to the agent.
    #[arg(long)]
    auth_server: Option<String>,
    #[command(flatten)]
    agent: AgentArgs,
}

pub fn args(list: &[&str]) -> AgentArgs {
    let cli = Cli::try_parse_from(std::iter::once("bot").chain(list.iter().copied()))
        .expect("test arguments parse");
    AgentArgs {
        auth_server: cli.auth_server,
        ..cli.agent
    }
}

/// Runs the agent until it ends by itself (it must, within `limit`) and returns its log.
pub async fn run_to_end(list: &[&str], log: &Path, limit: Duration) -> (AgentExit, String) {
    let mut list = list.to_vec();
    let log_arg = log.to_str().expect("utf-8 temp path").to_string();
    list.extend(["--log-file", &log_arg]);
    let exit = tokio::time::timeout(limit, mwi_agent::run(args(&list), std::future::pending()))
        .await
        .expect("the agent ends by itself in time");
    (exit, std::fs::read_to_string(log).unwrap_or_default())
}

/// A bot identity as tbot stores it in `dir`, issued by a throwaway CA, valid `from..to`
/// (Unix seconds), joined with `token` (its hash goes to `tokenhash`).
pub fn store_identity(dir: &Path, generation: u64, from: i64, to: i64, token: &str) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "lab");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let key = rcgen::KeyPair::generate().unwrap();
    let id = CertIdentity {
        username: "bot-example".into(),
        roles: vec!["bot-example".into()],
        renewable: true,
        generation,
        bot_name: Some("example".into()),
        bot_instance_id: Some("5cee949f-5203-4f3b-9805-dac35d798a16".into()),
        ..Default::default()
    };
    let mut params = rcgen::CertificateParams::default();
    for (oid, value) in id.subject_entries() {
        params
            .distinguished_name
            .push(rcgen::DnType::CustomDnType(oid.to_vec()), value);
    }
    params.not_before = time::OffsetDateTime::from_unix_timestamp(from).unwrap();
    params.not_after = time::OffsetDateTime::from_unix_timestamp(to).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();

    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("key"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("tlscert"), cert.pem()).unwrap();
    std::fs::write(dir.join("tlscacerts"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("tokenhash"), sha256_hex(token)).unwrap();
}

pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An address nothing listens on.
pub fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    addr
}
