//! tsh profiles as credentials, found the way tctl finds them (TELEPORT_HOME or ~/.tsh; the profile
//! named after the --proxy/--auth-server host, else `current-profile`), read from tsh v17+'s
//! split-key layout (`keys/<proxy>/<user>.key|.crt`, `cas/<cluster>.pem`); v16's layout is refused
//! with tctl's words. Facts: teleport-reach.md §1 (api/profile, api/utils/keypaths, tctl v17).

use std::path::{Path, PathBuf};

use mwi_identity::{CertIdentity, keys};
use serde::Deserialize;

use crate::connect::ClientIdentity;
use crate::environment;

/// The profile file's fields mwictl uses; tsh writes more, which are ignored.
#[derive(Debug, Deserialize)]
struct ProfileYaml {
    #[serde(default)]
    web_proxy_addr: String,
    #[serde(default, alias = "username")]
    user: String,
    #[serde(default, alias = "site_name")]
    cluster: String,
    #[serde(default)]
    tls_routing_enabled: bool,
}

/// One tsh profile: `<home>/<name>.yaml` and its keys under `<home>/keys/<name>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TshProfile {
    /// The profile name: the host of its web proxy address.
    pub name: String,
    pub home: PathBuf,
    /// `HOST:PORT` of the cluster's web proxy.
    pub web_proxy_addr: String,
    pub user: String,
    /// The cluster the profile is logged in to (a leaf when not the root).
    pub cluster: String,
    /// Whether the proxy routes auth connections by ALPN on its web port.
    pub tls_routing_enabled: bool,
}

/// Why a tsh profile cannot be used. Each renders as one line naming the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum TshError {
    #[error("tsh profile {path}: cannot read it: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("invalid or empty profile at {path:?} ({reason}); log in again with `tsh login`")]
    Invalid { path: PathBuf, reason: String },
    #[error("tsh profile {name}: {file} is missing; log in again with `tsh login --proxy={proxy}`")]
    Missing {
        name: String,
        file: PathBuf,
        proxy: String,
    },
    /// tctl v17+'s words (tool/tctl/common/tctl.go @000ebb98).
    #[error(
        "it appears tsh v16 or older was used to log in, make sure to use tsh and tctl on the same major version: user TLS certificate was found at unsupported legacy path (expected path: {}, found path: {})",
        .expected.display(), .found.display()
    )]
    Legacy { expected: PathBuf, found: PathBuf },
    #[error("tsh profile {name}: {file}: {reason}")]
    Unusable {
        name: String,
        file: PathBuf,
        reason: String,
    },
    /// tctl's words (lib/client keyring, v16+), with the proxy to log in to.
    #[error(
        "your credentials are for cluster {cluster:?}, please run `tsh login {root:?}` to log in to the root cluster"
    )]
    Leaf { cluster: String, root: String },
    /// tctl's words (v16+), with the proxy named.
    #[error(
        "your credentials have expired, please log in using `tsh login` (tsh profile {name}: `tsh login --proxy={proxy}`)"
    )]
    Expired { name: String, proxy: String },
    #[error(
        "tsh profile {name}: its proxy {proxy} has no TLS routing, and mwictl reaches auth through a proxy only with TLS routing; pass --auth-server HOST:PORT of the auth service"
    )]
    NoTlsRouting { name: String, proxy: String },
}

/// Where tsh keeps its profiles: `TELEPORT_HOME`, else `~/.tsh`.
pub fn home() -> Option<PathBuf> {
    match environment::TELEPORT_HOME.get_os() {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => dirs::home_dir().map(|h| h.join(".tsh")),
    }
}

/// The host of `HOST:PORT` (or of a bare host, `[v6]:port`), as tsh names profiles.
pub fn host_of(addr: &str) -> &str {
    let addr = addr.trim();
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => addr,
    }
}

impl TshProfile {
    /// The profile named after `host`, when `<home>/<host>.yaml` exists.
    pub fn named(home: &Path, host: &str) -> Result<Option<TshProfile>, TshError> {
        if host.is_empty() || host.contains(['/', '\\']) {
            return Ok(None);
        }
        TshProfile::load(home, host)
    }

    /// The profile `current-profile` names; None when there is none (as tctl, which then looks
    /// elsewhere).
    pub fn current(home: &Path) -> Result<Option<TshProfile>, TshError> {
        let path = home.join("current-profile");
        let name = match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(TshError::Read {
                    path,
                    reason: e.to_string(),
                });
            }
        };
        if name.is_empty() {
            return Ok(None);
        }
        TshProfile::named(home, &name)
    }

    fn load(home: &Path, name: &str) -> Result<Option<TshProfile>, TshError> {
        let path = home.join(format!("{name}.yaml"));
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(TshError::Read {
                    path,
                    reason: e.to_string(),
                });
            }
        };
        let invalid = |reason: String| TshError::Invalid {
            path: path.clone(),
            reason,
        };
        let yaml: ProfileYaml =
            serde_yaml_ng::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if yaml.web_proxy_addr.is_empty() || yaml.user.is_empty() {
            return Err(invalid("no web_proxy_addr or user".into()));
        }
        Ok(Some(TshProfile {
            name: name.to_string(),
            home: home.to_path_buf(),
            cluster: match yaml.cluster.is_empty() {
                true => name.to_string(),
                false => yaml.cluster,
            },
            web_proxy_addr: yaml.web_proxy_addr,
            user: yaml.user,
            tls_routing_enabled: yaml.tls_routing_enabled,
        }))
    }

    /// `keys/<name>/`: this profile's credentials.
    pub fn keys_dir(&self) -> PathBuf {
        self.home.join("keys").join(&self.name)
    }

    /// The address to dial when no flag names one, and whether it is a TLS-routing proxy.
    pub fn address(&self) -> Result<String, TshError> {
        match self.tls_routing_enabled {
            true => Ok(self.web_proxy_addr.clone()),
            false => Err(TshError::NoTlsRouting {
                name: self.name.clone(),
                proxy: self.web_proxy_addr.clone(),
            }),
        }
    }

    /// Reads the TLS key, certificate and the root cluster's CA; refuses a v16 layout, a leaf
    /// cluster's profile and an expired (or not yet valid) certificate at `now`.
    pub fn identity(&self, now: i64) -> Result<ClientIdentity, TshError> {
        let dir = self.keys_dir();
        let cert_path = dir.join(format!("{}.crt", self.user));
        let key_path = dir.join(format!("{}.key", self.user));
        let legacy = dir.join(format!("{}-x509.pem", self.user));
        if !cert_path.exists() && legacy.exists() {
            return Err(TshError::Legacy {
                expected: cert_path,
                found: legacy,
            });
        }
        let tls_cert_pem = self.read(&cert_path)?;
        let cert =
            CertIdentity::from_pem(&tls_cert_pem).map_err(|e| self.unusable(&cert_path, e))?;
        let key_pem = keys::software_key_pem(&self.read(&key_path)?)
            .map_err(|e| self.unusable(&key_path, e))?;
        let root = cert
            .issuer_cluster
            .clone()
            .or_else(|| cert.teleport_cluster.clone())
            .unwrap_or_else(|| self.cluster.clone());
        if root != self.cluster {
            return Err(TshError::Leaf {
                cluster: self.cluster.clone(),
                root,
            });
        }
        if now >= cert.not_after || now < cert.not_before {
            return Err(TshError::Expired {
                name: self.name.clone(),
                proxy: self.web_proxy_addr.clone(),
            });
        }
        let ca_path = dir.join("cas").join(format!("{root}.pem"));
        let tls_ca_pems = split_pems(&self.read(&ca_path)?);
        if tls_ca_pems.is_empty() {
            return Err(self.unusable(&ca_path, "no CERTIFICATE block (file truncated?)"));
        }
        Ok(ClientIdentity::tls_only(
            dir,
            key_pem,
            tls_cert_pem,
            tls_ca_pems,
            cert,
        ))
    }

    fn read(&self, path: &Path) -> Result<String, TshError> {
        std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => TshError::Missing {
                name: self.name.clone(),
                file: path.to_path_buf(),
                proxy: self.web_proxy_addr.clone(),
            },
            _ => self.unusable(path, format!("cannot read it: {e}")),
        })
    }

    fn unusable(&self, file: &Path, reason: impl std::fmt::Display) -> TshError {
        TshError::Unusable {
            name: self.name.clone(),
            file: file.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}

/// Writes a v17-layout profile for `identity`'s user into the tsh home `home` and makes it the
/// current profile, as `tsh login` would (the lab's stand-in for a login). Files are replaced
/// atomically; the key gets mode 0600, directories 0700.
#[cfg(feature = "lab")]
pub fn write_profile(
    home: &Path,
    web_proxy_addr: &str,
    tls_routing_enabled: bool,
    cluster: &str,
    identity: &mwi_identity::IdentityFile,
) -> Result<TshProfile, TshError> {
    use mwi_identity::durable::{self, Options};
    let user = identity
        .cert()
        .map_err(|e| TshError::Read {
            path: home.to_path_buf(),
            reason: e.to_string(),
        })?
        .username;
    let profile = TshProfile {
        name: host_of(web_proxy_addr).to_string(),
        home: home.to_path_buf(),
        web_proxy_addr: web_proxy_addr.to_string(),
        user: user.clone(),
        cluster: cluster.to_string(),
        tls_routing_enabled,
    };
    let keys = profile.keys_dir();
    let yaml = format!(
        "web_proxy_addr: {web_proxy_addr}\nuser: {user}\ncluster: {cluster}\n\
         tls_routing_enabled: {tls_routing_enabled}\nprivate_key_policy: none\npiv_slot: \"\"\n"
    );
    let files = [
        (
            keys.join(format!("{user}.key")),
            identity.private_key_pem.clone(),
            0o600,
        ),
        (
            keys.join(format!("{user}.crt")),
            identity.tls_cert_pem.clone(),
            0o644,
        ),
        (
            keys.join("cas").join(format!("{cluster}.pem")),
            identity.tls_ca_pems.concat(),
            0o644,
        ),
        (
            keys.join(format!("{user}-ssh"))
                .join(format!("{cluster}-cert.pub")),
            format!("{}\n", identity.ssh_cert),
            0o644,
        ),
        (home.join(format!("{}.yaml", profile.name)), yaml, 0o644),
        (
            home.join("current-profile"),
            format!("{}\n", profile.name),
            0o644,
        ),
    ];
    for (path, text, mode) in files {
        let dir = path.parent().unwrap_or(home);
        let write_err = |e: std::io::Error| TshError::Unusable {
            name: profile.name.clone(),
            file: path.clone(),
            reason: format!("cannot write it: {e}"),
        };
        create_private_dir(dir).map_err(write_err)?;
        durable::replace(&path, text.as_bytes(), &Options::mode(mode))
            .map_err(|e| write_err(e.into_io()))?;
    }
    Ok(profile)
}

#[cfg(feature = "lab")]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The complete `CERTIFICATE` PEM blocks in `text`.
fn split_pems(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim_end) {
        if line == "-----BEGIN CERTIFICATE-----" {
            current = Some(String::new());
        }
        if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
            if line == "-----END CERTIFICATE-----" {
                out.extend(current.take());
            }
        }
    }
    out
}

impl From<TshError> for crate::error::CommandError {
    fn from(e: TshError) -> Self {
        let status = match e {
            TshError::Expired { .. } => crate::exit::ExitStatus::AccessDenied,
            _ => crate::exit::ExitStatus::Usage,
        };
        crate::error::CommandError::new(status, e.to_string())
    }
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    /// A tsh home with one v17-layout profile `proxy.example.com` for `alice` in cluster `root`
    /// whose certificate is valid from `from` to `to` (Unix seconds).
    struct Home {
        dir: tempfile::TempDir,
    }

    fn date(unix: i64) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    impl Home {
        fn new(issuer: &str, from: i64, to: i64, key: Option<String>) -> Home {
            Home::with_key(issuer, from, to, rcgen::KeyPair::generate().unwrap(), key)
        }

        /// `user_key` is the certified key; `key` what alice.key holds (default: `user_key`).
        fn with_key(
            issuer: &str,
            from: i64,
            to: i64,
            user_key: rcgen::KeyPair,
            key: Option<String>,
        ) -> Home {
            let dir = tempfile::tempdir().unwrap();
            let ca_key = rcgen::KeyPair::generate().unwrap();
            let mut ca = rcgen::CertificateParams::default();
            ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let mut dn = rcgen::DistinguishedName::new();
            dn.push(rcgen::DnType::CommonName, issuer);
            dn.push(rcgen::DnType::OrganizationName, issuer);
            ca.distinguished_name = dn;
            let ca_cert = ca.self_signed(&ca_key).unwrap();
            let issuer_ca = rcgen::Issuer::new(ca, ca_key);
            let mut user = rcgen::CertificateParams::default();
            let mut dn = rcgen::DistinguishedName::new();
            dn.push(rcgen::DnType::CommonName, "alice");
            dn.push(rcgen::DnType::OrganizationName, "access");
            user.distinguished_name = dn;
            user.not_before = date(from);
            user.not_after = date(to);
            let user_cert = user.signed_by(&user_key, &issuer_ca).unwrap();
            let keys = dir.path().join("keys/proxy.example.com");
            std::fs::create_dir_all(keys.join("cas")).unwrap();
            std::fs::write(
                keys.join("alice.key"),
                key.unwrap_or_else(|| user_key.serialize_pem()),
            )
            .unwrap();
            std::fs::write(keys.join("alice.crt"), user_cert.pem()).unwrap();
            std::fs::write(
                keys.join("cas").join(format!("{issuer}.pem")),
                ca_cert.pem(),
            )
            .unwrap();
            std::fs::write(
                dir.path().join("proxy.example.com.yaml"),
                "web_proxy_addr: proxy.example.com:443\nssh_proxy_addr: proxy.example.com:3023\n\
                 user: alice\ncluster: root\ntls_routing_enabled: true\nmfa_mode: auto\n\
                 private_key_policy: none\npiv_slot: \"\"\nsome_future_field: [1, 2]\n",
            )
            .unwrap();
            std::fs::write(dir.path().join("current-profile"), "proxy.example.com\n").unwrap();
            Home { dir }
        }

        fn valid() -> Home {
            Home::new("root", NOW - 60, NOW + 3600, None)
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        fn keys(&self, file: &str) -> PathBuf {
            self.path().join("keys/proxy.example.com").join(file)
        }

        fn profile(&self) -> TshProfile {
            TshProfile::current(self.path()).unwrap().unwrap()
        }
    }

    #[test]
    fn the_current_profile_of_a_v17_layout_is_read_with_unknown_fields_tolerated() {
        let home = Home::valid();
        let profile = home.profile();
        assert_eq!(profile.name, "proxy.example.com");
        assert_eq!(profile.web_proxy_addr, "proxy.example.com:443");
        assert_eq!(profile.user, "alice");
        assert_eq!(profile.cluster, "root");
        assert!(profile.tls_routing_enabled);
        assert_eq!(profile.address().unwrap(), "proxy.example.com:443");
        let identity = profile.identity(NOW).unwrap();
        assert_eq!(identity.cert.username, "alice");
        assert_eq!(identity.path, home.keys(""));
        assert_eq!(identity.file.tls_ca_pems.len(), 1);
        identity.tls_config(Some("root")).unwrap();
    }

    #[test]
    fn a_profile_is_found_by_the_flags_host_and_missing_ones_are_none() {
        let home = Home::valid();
        let by_host = TshProfile::named(home.path(), host_of("proxy.example.com:3080")).unwrap();
        assert_eq!(by_host, Some(home.profile()));
        assert_eq!(
            TshProfile::named(home.path(), "other.example.com").unwrap(),
            None
        );
        std::fs::remove_file(home.path().join("current-profile")).unwrap();
        assert_eq!(TshProfile::current(home.path()).unwrap(), None);
        let empty = tempfile::tempdir().unwrap();
        std::fs::write(empty.path().join("current-profile"), "  \n").unwrap();
        assert_eq!(TshProfile::current(empty.path()).unwrap(), None);
    }

    #[test]
    fn host_of_drops_the_port() {
        assert_eq!(host_of("proxy.example.com:443"), "proxy.example.com");
        assert_eq!(host_of("proxy.example.com"), "proxy.example.com");
        assert_eq!(host_of("[::1]:3025"), "::1");
        assert_eq!(host_of("127.0.0.1:3025"), "127.0.0.1");
    }

    #[test]
    fn an_empty_profile_is_invalid_as_tctl_says() {
        let home = Home::valid();
        std::fs::write(home.path().join("proxy.example.com.yaml"), "").unwrap();
        let err = TshProfile::current(home.path()).unwrap_err().to_string();
        assert!(err.starts_with("invalid or empty profile at"), "{err}");
    }

    #[test]
    fn a_v16_layout_gets_tctls_error() {
        let home = Home::valid();
        std::fs::rename(home.keys("alice.crt"), home.keys("alice-x509.pem")).unwrap();
        let err = home.profile().identity(NOW).unwrap_err().to_string();
        assert!(
            err.starts_with("it appears tsh v16 or older was used to log in, make sure to use tsh and tctl on the same major version"),
            "{err}"
        );
        assert!(
            err.contains("alice-x509.pem") && err.contains("alice.crt"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_file_is_named_with_the_login_that_fixes_it() {
        for file in ["alice.key", "alice.crt", "cas/root.pem"] {
            let home = Home::valid();
            std::fs::remove_file(home.keys(file)).unwrap();
            let err = home.profile().identity(NOW).unwrap_err().to_string();
            assert!(err.contains(&*home.keys(file).to_string_lossy()), "{err}");
            assert!(
                err.contains("tsh login --proxy=proxy.example.com:443"),
                "{err}"
            );
            assert!(!err.contains('\n'));
        }
    }

    #[test]
    fn a_truncated_key_or_certificate_names_the_file() {
        let home = Home::valid();
        let key = std::fs::read_to_string(home.keys("alice.key")).unwrap();
        std::fs::write(home.keys("alice.key"), &key[..key.len() / 2]).unwrap();
        let err = home.profile().identity(NOW).unwrap_err().to_string();
        assert!(
            err.contains("alice.key") && err.contains("truncated"),
            "{err}"
        );

        let home = Home::valid();
        let crt = std::fs::read_to_string(home.keys("alice.crt")).unwrap();
        std::fs::write(home.keys("alice.crt"), &crt[..crt.len() / 2]).unwrap();
        let err = home.profile().identity(NOW).unwrap_err().to_string();
        assert!(err.contains("alice.crt"), "{err}");

        let home = Home::valid();
        let ca = home.keys("cas/root.pem");
        let text = std::fs::read_to_string(&ca).unwrap();
        std::fs::write(&ca, &text[..text.len() / 2]).unwrap();
        let err = home.profile().identity(NOW).unwrap_err().to_string();
        assert!(
            err.contains("root.pem") && err.contains("truncated"),
            "{err}"
        );
    }

    #[test]
    fn keys_in_other_formats_are_read() {
        let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let pem = ed.serialize_pem();
        let home = Home::with_key("root", NOW - 60, NOW + 60, ed, Some(pem));
        let identity = home.profile().identity(NOW).unwrap();
        identity.tls_config(Some("root")).unwrap();
    }

    #[test]
    fn a_hardware_key_says_to_use_an_identity_file() {
        let piv = "-----BEGIN PIV YUBIKEY PRIVATE KEY-----\nAAAA\n-----END PIV YUBIKEY PRIVATE KEY-----\n";
        let home = Home::new("root", NOW - 60, NOW + 60, Some(piv.into()));
        let err = home.profile().identity(NOW).unwrap_err().to_string();
        assert!(
            err.contains("alice.key")
                && err.contains("needs the hardware key")
                && err.contains("use an identity file"),
            "{err}"
        );
    }

    #[test]
    fn expired_credentials_say_tsh_login_with_the_proxy() {
        let home = Home::new("root", NOW - 7200, NOW - 3600, None);
        let err = home.profile().identity(NOW).unwrap_err();
        assert!(matches!(err, TshError::Expired { .. }));
        let line = err.to_string();
        assert!(
            line.starts_with("your credentials have expired, please log in using `tsh login`"),
            "{line}"
        );
        assert!(
            line.contains("tsh login --proxy=proxy.example.com:443"),
            "{line}"
        );
        let status = crate::error::CommandError::from(err).status;
        assert_eq!(status, crate::exit::ExitStatus::AccessDenied);
    }

    #[test]
    fn a_leaf_clusters_profile_names_the_root() {
        let home = Home::valid();
        let yaml = home.path().join("proxy.example.com.yaml");
        let text = std::fs::read_to_string(&yaml)
            .unwrap()
            .replace("cluster: root", "cluster: leaf");
        std::fs::write(&yaml, text).unwrap();
        let err = home.profile().identity(NOW).unwrap_err().to_string();
        assert_eq!(
            err,
            "your credentials are for cluster \"leaf\", please run `tsh login \"root\"` to log in to the root cluster"
        );
    }

    #[test]
    fn a_proxy_without_tls_routing_is_said_in_one_line() {
        let home = Home::valid();
        let yaml = home.path().join("proxy.example.com.yaml");
        let text = std::fs::read_to_string(&yaml)
            .unwrap()
            .replace("tls_routing_enabled: true", "tls_routing_enabled: false");
        std::fs::write(&yaml, text).unwrap();
        let err = home.profile().address().unwrap_err().to_string();
        assert!(
            err.contains("proxy.example.com:443 has no TLS routing")
                && err.contains("--auth-server"),
            "{err}"
        );
    }
}
