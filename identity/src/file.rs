//! Reads and writes Teleport identity files: private key PEM, SSH certificate line, TLS
//! certificate PEM, `@cert-authority` lines and TLS CA PEMs, in that order.

use std::path::{Path, PathBuf};

use crate::{CertIdentity, IdentityError};

/// An identity file's blocks, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityFile {
    /// The private key PEM block (PKCS#1, PKCS#8 or SEC1).
    pub private_key_pem: String,
    /// The SSH certificate, one line (`<type>-cert-v01@openssh.com AAAA...`).
    pub ssh_cert: String,
    /// The TLS client certificate PEM block.
    pub tls_cert_pem: String,
    /// `@cert-authority ...` lines (the SSH host CAs, known_hosts form).
    pub ssh_ca_lines: Vec<String>,
    /// TLS CA certificate PEM blocks (the cluster's host CA).
    pub tls_ca_pems: Vec<String>,
}

/// An identity file read from disk, with warnings (such as a too-open file mode).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub identity: IdentityFile,
    pub warnings: Vec<String>,
}

const SSH_CERT_MARKER: &str = "-cert-v01@openssh.com";

impl IdentityFile {
    /// Parses an identity file following Teleport's rules: a line whose first word is an SSH
    /// certificate type is the SSH cert; `@cert-authority` lines are SSH CAs; of the PEM blocks the
    /// first is the key, the second the TLS cert, the rest TLS CAs; anything else is ignored.
    pub fn parse(text: &str) -> Result<IdentityFile, IdentityError> {
        let mut ssh_cert = None;
        let mut ssh_ca_lines = Vec::new();
        let mut pems: Vec<String> = Vec::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            let trimmed = line.trim_end();
            if let Some(block) = current.as_mut() {
                block.push_str(trimmed);
                block.push('\n');
                if trimmed.starts_with("-----END ") {
                    pems.extend(current.take());
                }
                continue;
            }
            if trimmed.starts_with("-----BEGIN ") {
                current = Some(format!("{trimmed}\n"));
            } else if trimmed.starts_with("@cert-authority") {
                ssh_ca_lines.push(trimmed.to_string());
            } else if trimmed
                .split_whitespace()
                .next()
                .is_some_and(|w| w.ends_with(SSH_CERT_MARKER))
            {
                ssh_cert = Some(trimmed.to_string());
            }
        }
        if current.is_some() {
            return Err(IdentityError::Malformed(
                "a PEM block has no END line (file truncated?)".into(),
            ));
        }
        let mut pems = pems.into_iter();
        let private_key_pem = pems
            .next()
            .filter(|p| p.contains("PRIVATE KEY"))
            .ok_or_else(|| {
                IdentityError::Malformed("no private key PEM block at the start".into())
            })?;
        let tls_cert_pem = pems
            .next()
            .filter(|p| p.starts_with("-----BEGIN CERTIFICATE-----"))
            .ok_or_else(|| {
                IdentityError::Malformed("no TLS certificate PEM block after the key".into())
            })?;
        let tls_ca_pems: Vec<String> = pems.collect();
        if tls_ca_pems.is_empty() {
            return Err(IdentityError::Malformed(
                "no TLS CA certificate block (the cluster's CA)".into(),
            ));
        }
        let ssh_cert =
            ssh_cert.ok_or_else(|| IdentityError::Malformed("no SSH certificate line".into()))?;
        Ok(IdentityFile {
            private_key_pem,
            ssh_cert,
            tls_cert_pem,
            ssh_ca_lines,
            tls_ca_pems,
        })
    }

    /// Renders the file in Teleport's order, each block followed by a newline.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut push = |block: &str| {
            out.push_str(block.trim_end());
            out.push('\n');
        };
        push(&self.private_key_pem);
        push(&self.ssh_cert);
        push(&self.tls_cert_pem);
        for line in &self.ssh_ca_lines {
            push(line);
        }
        for pem in &self.tls_ca_pems {
            push(pem);
        }
        out
    }

    /// Reads and parses an identity file; warns (as ssh does) when group or others may read it.
    pub fn read(path: &Path) -> Result<Loaded, IdentityError> {
        let text = std::fs::read_to_string(path).map_err(|e| IdentityError::File {
            path: path.to_path_buf(),
            reason: match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "not found; pass -i with a file from `tctl auth sign` or `mwictl lab start`"
                        .into()
                }
                _ => format!("cannot read it: {e}"),
            },
        })?;
        let identity = IdentityFile::parse(&text).map_err(|e| e.at(path))?;
        let mut warnings = Vec::new();
        if let Some(mode) = file_mode(path)
            && mode & 0o077 != 0
        {
            warnings.push(format!(
                "identity file {} is readable by group or others (mode {:04o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o7777,
                path.display()
            ));
        }
        Ok(Loaded {
            path: path.to_path_buf(),
            identity,
            warnings,
        })
    }

    /// Writes the file atomically with mode 0600 (see `durable`).
    pub fn write(&self, path: &Path) -> Result<(), IdentityError> {
        let options = crate::durable::Options::mode(0o600);
        crate::durable::replace(path, self.to_text().as_bytes(), &options)
            .map(|_| ())
            .map_err(|e| IdentityError::File {
                path: path.to_path_buf(),
                reason: format!("cannot write it: {}", e.into_io()),
            })
    }

    /// The identity that the TLS certificate names.
    pub fn cert(&self) -> Result<CertIdentity, IdentityError> {
        CertIdentity::from_pem(&self.tls_cert_pem)
    }
}

#[cfg(unix)]
fn file_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode())
}

#[cfg(not(unix))]
fn file_mode(_: &Path) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> IdentityFile {
        IdentityFile {
            private_key_pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
                .into(),
            ssh_cert: "ecdsa-sha2-nistp256-cert-v01@openssh.com AAAAcert".into(),
            tls_cert_pem: "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n".into(),
            ssh_ca_lines: vec![
                "@cert-authority lab,*.lab ecdsa-sha2-nistp256 AAAAca type=host".into(),
            ],
            tls_ca_pems: vec![
                "-----BEGIN CERTIFICATE-----\nCCCC\n-----END CERTIFICATE-----\n".into(),
            ],
        }
    }

    #[test]
    fn text_round_trips() {
        let id = sample();
        assert_eq!(IdentityFile::parse(&id.to_text()).unwrap(), id);
    }

    #[test]
    fn missing_ssh_cert_is_refused() {
        let text = sample()
            .to_text()
            .replace("ecdsa-sha2-nistp256-cert-v01@openssh.com AAAAcert\n", "");
        let err = IdentityFile::parse(&text).unwrap_err().to_string();
        assert!(err.contains("no SSH certificate line"), "{err}");
    }

    #[test]
    fn missing_ca_is_refused() {
        let mut id = sample();
        id.tls_ca_pems.clear();
        let err = IdentityFile::parse(&id.to_text()).unwrap_err().to_string();
        assert!(err.contains("no TLS CA"), "{err}");
    }

    #[test]
    fn truncated_pem_is_refused() {
        let text = sample().to_text();
        let cut = &text[..text.len() - 30];
        assert!(IdentityFile::parse(cut).is_err());
    }

    #[test]
    fn written_file_is_private_and_reads_back_without_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin.identity");
        sample().write(&path).unwrap();
        let loaded = IdentityFile::read(&path).unwrap();
        assert_eq!(loaded.identity, sample());
        assert!(loaded.warnings.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_file_warns_like_ssh() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        sample().write(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let loaded = IdentityFile::read(&path).unwrap();
        assert_eq!(loaded.warnings.len(), 1);
        assert!(loaded.warnings[0].contains("chmod 600"));
    }

    #[test]
    fn missing_file_names_the_path_and_the_fix() {
        let err = IdentityFile::read(Path::new("/nonexistent/x.identity")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/nonexistent/x.identity") && msg.contains("tctl auth sign"),
            "{msg}"
        );
    }

    /// Mutated identity files (bytes flipped, cut, duplicated) parse or fail, never panic, and
    /// whatever parses renders back to itself. A stable-toolchain companion of the fuzz target.
    #[test]
    fn mutated_files_never_panic() {
        let base = sample().to_text().into_bytes();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let mut bytes = base.clone();
            for _ in 0..(next() % 8) {
                let at = (next() as usize) % bytes.len().max(1);
                match next() % 3 {
                    0 => bytes[at] = next() as u8,
                    1 => bytes.truncate(at),
                    _ => {
                        let piece = bytes[at..].to_vec();
                        bytes.extend_from_slice(&piece);
                    }
                }
                if bytes.is_empty() {
                    break;
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(file) = IdentityFile::parse(&text) {
                assert_eq!(IdentityFile::parse(&file.to_text()).unwrap(), file);
                let _ = file.cert();
            }
        }
    }
}
