//! The error every command returns: one line saying what failed, optional `hint:` lines saying
//! what to do next, and the exit status. Library errors are turned into it here, in one place.

use std::fmt;

use crate::client::{ClientError, Peer, Subject};
use crate::connect::ConnectError;
use crate::exit::ExitStatus;
use crate::upgrade::UpgradeError;

/// A failed command: printed as `error: MESSAGE` and a `hint: ...` line per hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    pub status: ExitStatus,
    pub message: String,
    pub hints: Vec<String>,
}

impl CommandError {
    pub fn new(status: ExitStatus, message: impl Into<String>) -> CommandError {
        CommandError {
            status,
            message: one_line(message.into()),
            hints: Vec::new(),
        }
    }

    /// A general failure (exit 1).
    pub fn failure(message: impl Into<String>) -> CommandError {
        CommandError::new(ExitStatus::Failure, message)
    }

    /// Bad arguments or input files (exit 2).
    pub fn usage(message: impl Into<String>) -> CommandError {
        CommandError::new(ExitStatus::Usage, message)
    }

    /// A resource that does not exist (exit 3).
    pub fn not_found(message: impl Into<String>) -> CommandError {
        CommandError::new(ExitStatus::NotFound, message)
    }

    /// A write that collides with the server's state: it exists, or changed since read (exit 5).
    pub fn conflict(message: impl Into<String>) -> CommandError {
        CommandError::new(ExitStatus::Conflict, message)
    }

    /// Whether this is a missing resource (exit 3), for a caller that reports it differently.
    pub fn is_not_found(&self) -> bool {
        self.status == ExitStatus::NotFound
    }

    /// Adds a line telling the user what to do next.
    pub fn hint(mut self, hint: impl Into<String>) -> CommandError {
        self.hints.push(one_line(hint.into()));
        self
    }

    /// The text written to stderr.
    pub fn render(&self) -> String {
        let mut out = format!("error: {}\n", self.message);
        for hint in &self.hints {
            out.push_str(&format!("hint: {hint}\n"));
        }
        out
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CommandError {}

/// Messages from servers and libraries may span lines; ours never do.
fn one_line(text: String) -> String {
    if !text.contains('\n') {
        return text;
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The two ways an admin-level request works without a security key: both kinds of identity
/// are exempt from admin MFA (docs: mfa-for-admin-actions; teleport-reach.md §5).
const ADMIN_MFA_WAYS: &str = "use a bot's identity output whose bot has the needed role (-i /opt/machine-id/identity; see the runbook in the README), or run mwictl on the auth host with its local admin identity (-c /etc/teleport.yaml)";

const NEW_IDENTITY: &str = "get a new identity with `tctl auth sign --user=USER --out=FILE`, or restart `mwictl lab start`";

impl From<ConnectError> for CommandError {
    fn from(e: ConnectError) -> CommandError {
        let message = e.to_string();
        match e {
            ConnectError::Identity(_) | ConnectError::Credentials { .. } => {
                CommandError::usage(message).hint(NEW_IDENTITY)
            }
            ConnectError::BadAddress(_) => CommandError::usage(message).hint(
                "pass HOST:PORT, e.g. --auth-server 127.0.0.1:3025 or --proxy proxy.example.com:443",
            ),
            ConnectError::NoClusterName { .. } => CommandError::usage(message)
                .hint("use an identity from `tctl auth sign`, or connect to auth directly with --auth-server"),
            ConnectError::NotProxy { .. } => CommandError::new(ExitStatus::Unreachable, message)
                .hint("pass --proxy the HTTPS web address of a Teleport proxy with TLS routing (often HOST:443), or --auth-server HOST:3025 of the auth service itself"),
            ConnectError::NoTlsRouting { .. } => CommandError::new(ExitStatus::Unreachable, message)
                .hint("turn on TLS routing (auth_service.proxy_listener_mode: multiplex), or pass --auth-server HOST:3025 of the auth service itself"),
            ConnectError::OtherCluster { serves, .. } => CommandError::new(ExitStatus::Unreachable, message)
                .hint(format!("use an identity file of cluster {serves:?} (-i), or the proxy of the identity's cluster (--proxy)")),
            ConnectError::Expired {
                bot: Some(bot),
                path,
                ..
            } => CommandError::new(ExitStatus::AccessDenied, message).hint(format!(
                // tbot's default renewal_interval (lib/tbot/config; teleport-reach.md §6).
                "{} is bot {bot}'s identity output, which tbot renews every 20 minutes (its default renewal_interval) while it runs; mwictl reads it again on every run: check that tbot is running and can reach the cluster, or write it once now with `tbot start --oneshot` (in the lab: `mwictl lab bot -c FILE --oneshot`)",
                path.display()
            )),
            ConnectError::Expired { .. } | ConnectError::NotYetValid { .. } => {
                CommandError::new(ExitStatus::AccessDenied, message).hint(NEW_IDENTITY)
            }
            ConnectError::Refused { via_proxy, .. } | ConnectError::Timeout { via_proxy, .. } => {
                let hint = match via_proxy {
                    true => "is the proxy running and the address right? pass --proxy HOST:PORT (its TLS-routing port, often 443)",
                    false => "is it running? start one with `mwictl lab start`, or pass --auth-server HOST:PORT",
                };
                CommandError::new(ExitStatus::Unreachable, message).hint(hint)
            }
            ConnectError::Unreachable { via_proxy, .. } => {
                let hint = match via_proxy {
                    true => "check the --proxy address and your network",
                    false => "check the address and your network, or start a lab with `mwictl lab start`",
                };
                CommandError::new(ExitStatus::Unreachable, message).hint(hint)
            }
            ConnectError::WrongCa { via_proxy, .. } | ConnectError::Rejected { via_proxy, .. } => {
                let (server, flag) = match via_proxy {
                    true => ("the proxy of its cluster", "--proxy"),
                    false => ("the auth server it belongs to", "--auth-server"),
                };
                CommandError::new(ExitStatus::Unreachable, message).hint(format!(
                    "use the identity file issued by this cluster (-i), or {server} ({flag})"
                ))
            }
            ConnectError::WebCertificate { via_proxy, .. } => {
                let hint = match via_proxy {
                    false => "behind an L7 load balancer, --proxy needs TLS routing with the load balancer passing TLS through (TCP/L4) to the proxy; or pass --auth-server HOST:3025 of the auth service itself",
                    true => "turn on TLS routing (auth_service.proxy_listener_mode: multiplex) and have a load balancer in front of the proxy pass TLS through (TCP/L4); or pass --auth-server HOST:3025 of the auth service itself",
                };
                CommandError::new(ExitStatus::Unreachable, message).hint(hint)
            }
            ConnectError::Tls { via_proxy, .. } => {
                let hint = match via_proxy {
                    true => "check that --proxy points at a Teleport proxy with TLS routing (often port 443), or connect to auth directly with --auth-server",
                    false => "check that --auth-server points at a Teleport auth service (port 3025), or use --proxy",
                };
                CommandError::new(ExitStatus::Unreachable, message).hint(hint)
            }
            ConnectError::Upgrade(e) => {
                let hint = match e {
                    UpgradeError::NotTls { .. } => "pass --proxy the HTTPS web address of a Teleport proxy (often HOST:443); TELEPORT_TLS_ROUTING_CONN_UPGRADE=false turns the connection upgrade off",
                    UpgradeError::Untrusted { .. } | UpgradeError::NoRoots => "trust the CA of the proxy's web certificate (SSL_CERT_FILE=CA.pem, or the system store), or pass --insecure to skip only this check (auth is still checked against the identity's CA)",
                    UpgradeError::Roots { .. } => "point SSL_CERT_FILE at a readable PEM bundle, or unset it to use the system's",
                    UpgradeError::NotFound { .. } => "the proxy behind the load balancer is no Teleport 13+ proxy: upgrade it, have the load balancer pass TLS through (TCP/L4), or set TELEPORT_TLS_ROUTING_CONN_UPGRADE=false if it already does",
                    UpgradeError::Refused { .. } | UpgradeError::Handshake { .. } | UpgradeError::Broken { .. } => "let the load balancer pass WebSocket upgrades on /webapi/connectionupgrade to the proxy, or have it pass TLS through (TCP/L4) and set TELEPORT_TLS_ROUTING_CONN_UPGRADE=false",
                    UpgradeError::Tls { .. } => "check that --proxy points at a Teleport proxy's HTTPS web address (often HOST:443)",
                };
                CommandError::new(ExitStatus::Unreachable, message).hint(hint)
            }
        }
    }
}

impl From<ClientError> for CommandError {
    fn from(e: ClientError) -> CommandError {
        let admin_mfa = e.is_admin_mfa();
        match e {
            ClientError::Connect(c) => c.into(),
            ClientError::TooLarge {
                method,
                subject,
                bytes,
            } => CommandError::usage(format!(
                "{} is {} encoded, more than the {} a Teleport auth service accepts in one request",
                what(subject.as_ref(), method),
                mebibytes(bytes),
                mebibytes(crate::client::MAX_REQUEST_BYTES)
            ))
            .hint("make it smaller (fewer rules, labels or logins), or split it into several resources"),
            ClientError::Decode { .. } => CommandError::failure(e.to_string())
                .hint("the server may be a newer Teleport than this mwictl understands; report it"),
            ClientError::Rpc {
                method,
                subject,
                peer,
                status,
            } => from_status(method, subject.as_ref(), &peer, &status, admin_mfa),
        }
    }
}

/// A size in MiB with one decimal, like `5.0 MiB`.
fn mebibytes(bytes: usize) -> String {
    // Precision loss is irrelevant at one decimal place.
    #[allow(clippy::cast_precision_loss)]
    let mib = bytes as f64 / (1024.0 * 1024.0);
    format!("{mib:.1} MiB")
}

/// The short name of a full method path (`/proto.AuthService/GetLock` → `GetLock`).
fn short(method: &str) -> &str {
    method.rsplit('/').next().unwrap_or(method)
}

fn what(subject: Option<&Subject>, method: &str) -> String {
    subject.map_or_else(|| short(method).to_string(), Subject::to_string)
}

fn from_status(
    method: &'static str,
    subject: Option<&Subject>,
    peer: &Peer,
    status: &tonic::Status,
    admin_mfa: bool,
) -> CommandError {
    use tonic::Code;
    let msg = status.message();
    let rpc = short(method);
    let identity = peer.identity.display();
    if admin_mfa {
        return CommandError::new(
            ExitStatus::MfaRequired,
            format!(
                "the auth server at {} refused {rpc} by {identity}: {msg} (where WebAuthn is the only second factor, a tsh user's admin-level requests need a security key tap, which mwictl cannot give)",
                peer.addr
            ),
        )
        .hint(ADMIN_MFA_WAYS);
    }
    match status.code() {
        Code::NotFound => {
            let err = match subject {
                Some(s @ Subject { name: Some(_), .. }) => {
                    CommandError::new(ExitStatus::NotFound, format!("{s} not found"))
                }
                _ => CommandError::new(ExitStatus::NotFound, format!("{rpc}: not found: {msg}")),
            };
            match subject {
                Some(s) => err.hint(format!("list them with `mwictl get {}`", s.kind)),
                None => err,
            }
        }
        Code::AlreadyExists => CommandError::new(
            ExitStatus::Conflict,
            format!("{} already exists: {msg}", what(subject, method)),
        )
        .hint("read it with `mwictl get KIND/NAME`, or choose another name"),
        Code::FailedPrecondition | Code::Aborted => CommandError::new(
            ExitStatus::Conflict,
            format!(
                "{} changed on the server since it was read (stale revision): {msg}",
                what(subject, method)
            ),
        )
        .hint("run the command again to work from the latest state"),
        Code::PermissionDenied => CommandError::new(
            ExitStatus::AccessDenied,
            format!("access denied: {rpc} on {}: {msg}", what(subject, method)),
        )
        .hint(format!(
            "the identity {identity} may not do this; use an admin identity (`tctl auth sign`), or grant its role the rule"
        )),
        Code::Unauthenticated => CommandError::new(
            ExitStatus::AccessDenied,
            format!("the auth server at {} did not accept the identity {identity}: {msg}", peer.addr),
        )
        .hint(NEW_IDENTITY),
        Code::Unavailable | Code::DeadlineExceeded => CommandError::new(
            ExitStatus::Unreachable,
            format!("lost the connection to the auth server at {} during {rpc}: {msg}", peer.addr),
        )
        .hint("is it still running? try again, or start one with `mwictl lab start`"),
        Code::Unimplemented => CommandError::failure(format!(
            "the auth server at {} does not implement {rpc} (an older Teleport?): {msg}",
            peer.addr
        ))
        .hint("check the server version with `mwictl ping`"),
        Code::InvalidArgument | Code::OutOfRange => CommandError::usage(format!(
            "the auth server rejected {rpc} on {}: {msg}",
            what(subject, method)
        )),
        code => CommandError::failure(format!("{rpc} failed: {code}: {msg}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn rpc(code: tonic::Code, msg: &str, subject: Option<Subject>) -> CommandError {
        client_error(code, msg, subject).into()
    }

    fn client_error(code: tonic::Code, msg: &str, subject: Option<Subject>) -> ClientError {
        ClientError::Rpc {
            method: "/proto.AuthService/GetLock",
            subject,
            peer: Arc::new(Peer {
                addr: "127.0.0.1:3025".into(),
                identity: "/id".into(),
            }),
            status: tonic::Status::new(code, msg),
        }
    }

    fn lock(name: &str) -> Option<Subject> {
        Some(Subject {
            kind: "lock",
            name: Some(name.into()),
        })
    }

    #[test]
    fn the_client_predicates_agree_with_the_exit_statuses() {
        use tonic::Code;
        for code in [
            Code::NotFound,
            Code::AlreadyExists,
            Code::FailedPrecondition,
            Code::Aborted,
            Code::PermissionDenied,
            Code::Unavailable,
            Code::Internal,
        ] {
            for msg in ["plain", "admin-level MFA is required"] {
                let e = client_error(code, msg, lock("x"));
                let status = CommandError::from(client_error(code, msg, lock("x"))).status;
                assert_eq!(
                    e.is_not_found(),
                    status == ExitStatus::NotFound,
                    "{code:?} {msg}"
                );
                assert_eq!(
                    e.is_conflict(),
                    status == ExitStatus::Conflict,
                    "{code:?} {msg}"
                );
            }
        }
    }

    #[test]
    fn not_found_names_the_resource_and_the_listing_command() {
        let e = rpc(tonic::Code::NotFound, "lock x not found", lock("x"));
        assert_eq!(e.status, ExitStatus::NotFound);
        assert_eq!(e.message, "lock \"x\" not found");
        assert_eq!(e.hints, vec!["list them with `mwictl get lock`"]);
    }

    #[test]
    fn stale_revision_is_a_conflict() {
        let e = rpc(
            tonic::Code::FailedPrecondition,
            "resource revision does not match",
            lock("x"),
        );
        assert_eq!(e.status, ExitStatus::Conflict);
        assert!(e.message.contains("stale revision"), "{}", e.message);
    }

    #[test]
    fn admin_mfa_says_what_happened_and_the_two_ways_without_a_security_key() {
        for msg in [
            "admin-level API request requires MFA verification",
            "admin-level MFA is required",
        ] {
            for code in [tonic::Code::PermissionDenied, tonic::Code::Unknown] {
                let e = rpc(code, msg, None);
                assert_eq!(e.status, ExitStatus::MfaRequired, "{code:?} {msg}");
                assert!(
                    e.message.contains("refused GetLock by /id"),
                    "{}",
                    e.message
                );
                assert!(e.message.contains("WebAuthn"), "{}", e.message);
                assert!(e.message.contains(msg), "{}", e.message);
                assert_eq!(e.hints.len(), 1);
                assert!(e.hints[0].contains("bot's identity"), "{}", e.hints[0]);
                assert!(e.hints[0].contains("auth host"), "{}", e.hints[0]);
            }
        }
    }

    #[test]
    fn an_expired_bot_output_says_tbot_renews_it_and_a_users_says_to_sign_again() {
        let expired = |bot: Option<&str>| {
            CommandError::from(ConnectError::Expired {
                path: "/opt/machine-id/identity".into(),
                at: "2025-06-15T14:06:40Z".into(),
                ago: "1h".into(),
                bot: bot.map(str::to_string),
            })
        };
        let e = expired(Some("ops"));
        assert_eq!(e.status, ExitStatus::AccessDenied);
        assert!(
            e.message.contains("/opt/machine-id/identity"),
            "{}",
            e.message
        );
        assert!(
            e.hints[0].starts_with("/opt/machine-id/identity is bot ops's identity output")
                && e.hints[0].contains("every 20 minutes"),
            "{}",
            e.hints[0]
        );
        assert_eq!(expired(None).hints, vec![NEW_IDENTITY]);
    }

    #[test]
    fn access_denied_and_unreachable_have_their_codes() {
        assert_eq!(
            rpc(tonic::Code::PermissionDenied, "access denied", None).status,
            ExitStatus::AccessDenied
        );
        assert_eq!(
            rpc(tonic::Code::Unavailable, "gone", None).status,
            ExitStatus::Unreachable
        );
        assert_eq!(
            rpc(tonic::Code::AlreadyExists, "exists", None).status,
            ExitStatus::Conflict
        );
    }

    #[test]
    fn multi_line_server_messages_are_folded_to_one_line() {
        let e = rpc(tonic::Code::Internal, "boom\nstack line\n", None);
        assert!(!e.message.contains('\n'));
        let rendered = e.render();
        assert_eq!(rendered.lines().count(), 1 + e.hints.len());
    }

    #[test]
    fn refused_connection_is_unreachable_with_a_lab_hint() {
        let e: CommandError = ConnectError::Refused {
            addr: "127.0.0.1:1".into(),
            via_proxy: false,
        }
        .into();
        assert_eq!(e.status, ExitStatus::Unreachable);
        assert_eq!(
            e.render(),
            "error: cannot connect to the auth server at 127.0.0.1:1: connection refused\n\
             hint: is it running? start one with `mwictl lab start`, or pass --auth-server HOST:PORT\n"
        );
    }
}
