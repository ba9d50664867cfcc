//! Auth server addresses: `HOST:PORT`, a bare host or IP (Teleport's default auth port added),
//! IPv6 bare or in brackets. Anything else is refused before dialing. Also the host part of a
//! proxy's web address, the name its certificate must carry.

use std::net::{Ipv6Addr, SocketAddr};

use rustls::pki_types::ServerName;

use super::DEFAULT_AUTH_PORT;

/// An address that is not `HOST[:PORT]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("auth server address {addr:?} is not HOST:PORT")]
pub struct AddressError {
    pub addr: String,
}

/// The part of `addr` before its last `:`, without IPv6 brackets (all of `addr` when it has no
/// `:`): the host of a `HOST:PORT` web address.
pub fn host(addr: &str) -> &str {
    addr.rsplit_once(':')
        .map_or(addr, |(host, _)| host)
        .trim_matches(['[', ']'])
}

/// The TLS server name for a web address `HOST:PORT`: its [`host`]. The error names the host.
pub fn server_name(addr: &str) -> Result<ServerName<'static>, String> {
    let host = host(addr);
    ServerName::try_from(host.to_string()).map_err(|e| format!("{host}: {e}"))
}

/// `addr` as `HOST:PORT`, with [`DEFAULT_AUTH_PORT`] when it names no port. A bare IPv6 address
/// gets brackets; a port must be 1–65535; a host must be non-empty and hold no `:`.
pub fn with_default_port(addr: &str) -> Result<String, AddressError> {
    let addr = addr.trim();
    let bad = || AddressError { addr: addr.into() };
    if let Ok(socket) = addr.parse::<SocketAddr>() {
        return if socket.port() == 0 {
            Err(bad())
        } else {
            Ok(addr.into())
        };
    }
    if addr.parse::<Ipv6Addr>().is_ok() {
        return Ok(format!("[{addr}]:{DEFAULT_AUTH_PORT}"));
    }
    if let Some(inner) = addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
        return match inner.parse::<Ipv6Addr>() {
            Ok(_) => Ok(format!("{addr}:{DEFAULT_AUTH_PORT}")),
            Err(_) => Err(bad()),
        };
    }
    let (host, port) = match addr.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (addr, None),
    };
    if host.is_empty() || host.contains([':', '[', ']', '/']) || host.contains(char::is_whitespace)
    {
        return Err(bad());
    }
    match port {
        None => Ok(format!("{addr}:{DEFAULT_AUTH_PORT}")),
        Some(port) => match port.parse::<u16>() {
            Ok(p) if p != 0 && !port.starts_with('+') => Ok(addr.into()),
            _ => Err(bad()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(addr: &str) -> String {
        with_default_port(addr).unwrap_or_else(|e| panic!("{addr}: {e}"))
    }

    #[test]
    fn a_missing_port_becomes_the_auth_port() {
        assert_eq!(ok("auth.example.com"), "auth.example.com:3025");
        assert_eq!(ok("localhost"), "localhost:3025");
        assert_eq!(ok("10.0.0.1"), "10.0.0.1:3025");
        assert_eq!(ok("  auth.example.com \n"), "auth.example.com:3025");
    }

    #[test]
    fn a_given_port_is_kept() {
        assert_eq!(ok("auth.example.com:443"), "auth.example.com:443");
        assert_eq!(ok("10.0.0.1:443"), "10.0.0.1:443");
        assert_eq!(ok("127.0.0.1:4000"), "127.0.0.1:4000");
        assert_eq!(ok("auth:65535"), "auth:65535");
    }

    #[test]
    fn ipv6_bare_or_bracketed_gets_brackets_and_a_port() {
        assert_eq!(ok("::1"), "[::1]:3025");
        assert_eq!(ok("fd00::5"), "[fd00::5]:3025");
        assert_eq!(ok("[::1]"), "[::1]:3025");
        assert_eq!(ok("[::1]:4000"), "[::1]:4000");
        assert_eq!(ok("[::1]:3025"), "[::1]:3025");
    }

    #[test]
    fn garbage_is_refused_naming_the_address() {
        for bad in [
            "",
            "   ",
            "host:notaport",
            "host:",
            ":3025",
            "host:0",
            "host:65536",
            "host:+80",
            "[::1]:0",
            "[::1",
            "[nothost]",
            "[::1]:x",
            "a:b:c",
            "https://auth.example.com",
            "auth example.com",
        ] {
            assert!(with_default_port(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            with_default_port("host:x").unwrap_err().to_string(),
            "auth server address \"host:x\" is not HOST:PORT"
        );
    }

    #[test]
    fn the_result_is_already_in_canonical_form() {
        for addr in ["auth", "::1", "[::1]", "10.0.0.1", "auth:1"] {
            let once = ok(addr);
            assert_eq!(ok(&once), once, "{addr}");
        }
    }

    #[test]
    fn a_web_address_names_its_host() {
        assert_eq!(host("proxy.example.com:443"), "proxy.example.com");
        assert_eq!(host("[::1]:3080"), "::1");
        assert_eq!(host("proxy"), "proxy");
        assert_eq!(host(":443"), "");
        assert!(server_name("127.0.0.1:3080").is_ok());
        assert_eq!(
            server_name("bad host:443").unwrap_err(),
            "bad host: invalid dns name"
        );
    }
}
