//! The identity a Teleport client certificate carries in its subject (lib/tlsca Subject):
//! CN user, O roles, L logins, POSTALCODE traits, and Teleport's extra OIDs (renewable, generation,
//! bot name, bot instance). The lab issues with [`CertIdentity::subject_entries`]; both sides read
//! with [`CertIdentity::from_der`].

use x509_parser::prelude::*;

use crate::IdentityError;

/// How every bot's user and role name starts.
pub const BOT_PREFIX: &str = "bot-";

/// The user and role Teleport makes for bot `bot` (its certificates' CN): `bot-` + the name,
/// spaces made dashes. The lab creates bots by it and the client finds them by it.
pub fn bot_resource_name(bot: &str) -> String {
    format!("{BOT_PREFIX}{}", bot.replace(' ', "-"))
}

/// Attribute OIDs of the subject, as arcs.
pub mod oid {
    pub const COMMON_NAME: &[u64] = &[2, 5, 4, 3];
    pub const LOCALITY: &[u64] = &[2, 5, 4, 7];
    pub const STREET: &[u64] = &[2, 5, 4, 9];
    pub const ORGANIZATION: &[u64] = &[2, 5, 4, 10];
    pub const ORGANIZATIONAL_UNIT: &[u64] = &[2, 5, 4, 11];
    pub const POSTAL_CODE: &[u64] = &[2, 5, 4, 17];
    pub const KUBE_USERS: &[u64] = &[1, 3, 9999, 1, 1];
    pub const KUBE_GROUPS: &[u64] = &[1, 3, 9999, 1, 2];
    pub const TELEPORT_CLUSTER: &[u64] = &[1, 3, 9999, 1, 7];
    pub const RENEWABLE: &[u64] = &[1, 3, 9999, 1, 13];
    pub const GENERATION: &[u64] = &[1, 3, 9999, 1, 14];
    pub const DB_SERVICE: &[u64] = &[1, 3, 9999, 2, 1];
    pub const DB_PROTOCOL: &[u64] = &[1, 3, 9999, 2, 2];
    pub const DB_USER: &[u64] = &[1, 3, 9999, 2, 3];
    pub const DB_NAME: &[u64] = &[1, 3, 9999, 2, 4];
    pub const IMPERSONATOR: &[u64] = &[1, 3, 9999, 2, 7];
    pub const SYSTEM_ROLES: &[u64] = &[1, 3, 9999, 2, 11];
    pub const BOT_NAME: &[u64] = &[1, 3, 9999, 2, 18];
    pub const BOT_INSTANCE_ID: &[u64] = &[1, 3, 9999, 2, 20];
}

/// Who a certificate names, and the Teleport attributes that matter to bots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertIdentity {
    /// CN: the Teleport user (`bot-NAME` for a bot).
    pub username: String,
    /// O: the roles (for a bot's own identity: `bot-NAME`).
    pub roles: Vec<String>,
    /// L: the logins (principals).
    pub logins: Vec<String>,
    /// OU: usage restrictions.
    pub usage: Vec<String>,
    /// POSTALCODE: the user's traits as JSON, as issued.
    pub traits_json: Option<String>,
    /// 1.3.9999.1.7: the cluster that issued the certificate.
    pub teleport_cluster: Option<String>,
    /// 1.3.9999.1.13: a renewable (token-joined bot) certificate.
    pub renewable: bool,
    /// 1.3.9999.1.14: the bot certificate generation (0 when absent).
    pub generation: u64,
    /// 1.3.9999.2.18: the bot's name.
    pub bot_name: Option<String>,
    /// 1.3.9999.2.20: the bot instance's ID.
    pub bot_instance_id: Option<String>,
    /// 1.3.9999.2.7: who requested an impersonated certificate.
    pub impersonator: Option<String>,
    /// 1.3.9999.2.11: system roles (e.g. `Bot`).
    pub system_roles: Vec<String>,
    /// 1.3.9999.2.1 / 2.3 / 2.4: database route of a database certificate.
    pub db_service: Option<String>,
    pub db_user: Option<String>,
    pub db_name: Option<String>,
    /// Issuer O: the cluster name of the issuing CA (filled by `from_der`, not issued).
    pub issuer_cluster: Option<String>,
    /// Validity, Unix seconds (filled by `from_der`, not issued).
    pub not_before: i64,
    pub not_after: i64,
}

impl CertIdentity {
    /// Reads the identity from a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<CertIdentity, IdentityError> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| IdentityError::Certificate(format!("not an X.509 certificate: {e}")))?;
        let mut id = CertIdentity {
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            ..Default::default()
        };
        for attr in cert.subject().iter_attributes() {
            let arcs: Vec<u64> = match attr.attr_type().iter() {
                Some(it) => it.collect(),
                None => continue,
            };
            let Ok(value) = attr.as_str() else { continue };
            id.absorb(&arcs, value.to_string());
        }
        id.issuer_cluster = cert
            .issuer()
            .iter_organization()
            .find_map(|a| a.as_str().ok().map(str::to_string));
        Ok(id)
    }

    /// Reads the identity from the first PEM certificate in `pem`.
    pub fn from_pem(pem: &str) -> Result<CertIdentity, IdentityError> {
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map_err(|e| IdentityError::Certificate(format!("not a PEM certificate: {e}")))?;
        CertIdentity::from_der(&block.contents)
    }

    fn absorb(&mut self, arcs: &[u64], value: String) {
        match arcs {
            oid::COMMON_NAME => self.username = value,
            oid::ORGANIZATION => self.roles.push(value),
            oid::LOCALITY => self.logins.push(value),
            oid::ORGANIZATIONAL_UNIT => self.usage.push(value),
            oid::POSTAL_CODE => self.traits_json = Some(value),
            oid::TELEPORT_CLUSTER => self.teleport_cluster = Some(value),
            oid::RENEWABLE => self.renewable = value == "true",
            oid::GENERATION => self.generation = value.parse().unwrap_or(0),
            oid::BOT_NAME => self.bot_name = Some(value),
            oid::BOT_INSTANCE_ID => self.bot_instance_id = Some(value),
            oid::IMPERSONATOR => self.impersonator = Some(value),
            oid::SYSTEM_ROLES => self.system_roles.push(value),
            oid::DB_SERVICE => self.db_service = Some(value),
            oid::DB_USER => self.db_user = Some(value),
            oid::DB_NAME => self.db_name = Some(value),
            _ => {}
        }
    }

    /// The subject attributes to issue, in Teleport's order; an attribute type may repeat (one
    /// O per role, one L per login), as Teleport encodes them.
    pub fn subject_entries(&self) -> Vec<(&'static [u64], String)> {
        let mut out: Vec<(&'static [u64], String)> =
            vec![(oid::COMMON_NAME, self.username.clone())];
        out.extend(self.roles.iter().map(|r| (oid::ORGANIZATION, r.clone())));
        out.extend(
            self.usage
                .iter()
                .map(|u| (oid::ORGANIZATIONAL_UNIT, u.clone())),
        );
        out.extend(self.logins.iter().map(|l| (oid::LOCALITY, l.clone())));
        let optional = [
            (oid::POSTAL_CODE, &self.traits_json),
            (oid::TELEPORT_CLUSTER, &self.teleport_cluster),
            (oid::DB_SERVICE, &self.db_service),
            (oid::DB_USER, &self.db_user),
            (oid::DB_NAME, &self.db_name),
            (oid::IMPERSONATOR, &self.impersonator),
            (oid::BOT_NAME, &self.bot_name),
            (oid::BOT_INSTANCE_ID, &self.bot_instance_id),
        ];
        out.extend(
            optional
                .into_iter()
                .filter_map(|(o, v)| v.clone().map(|v| (o, v))),
        );
        if self.renewable {
            out.push((oid::RENEWABLE, "true".into()));
        }
        if self.generation > 0 {
            out.push((oid::GENERATION, self.generation.to_string()));
        }
        out.extend(
            self.system_roles
                .iter()
                .map(|r| (oid::SYSTEM_ROLES, r.clone())),
        );
        out
    }

    /// True for a bot's identity (it names a bot).
    pub fn is_bot(&self) -> bool {
        self.bot_name.is_some()
    }

    /// Whether the certificate has expired at `now` (Unix seconds).
    pub fn expired_at(&self, now: i64) -> bool {
        now >= self.not_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_resource_name_is_prefixed_with_spaces_made_dashes() {
        assert_eq!(bot_resource_name("example"), "bot-example");
        assert_eq!(bot_resource_name("my bot"), "bot-my-bot");
    }

    fn issue(entries: &[(&'static [u64], String)]) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        for (o, v) in entries {
            dn.push(rcgen::DnType::CustomDnType(o.to_vec()), v.clone());
        }
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn bot_attributes_round_trip_through_a_certificate() {
        let id = CertIdentity {
            username: "bot-example".into(),
            roles: vec!["bot-example".into()],
            renewable: true,
            generation: 3,
            bot_name: Some("example".into()),
            bot_instance_id: Some("7f0c".into()),
            ..Default::default()
        };
        let read = CertIdentity::from_der(&issue(&id.subject_entries())).unwrap();
        assert_eq!(read.username, "bot-example");
        assert_eq!(read.roles, vec!["bot-example"]);
        assert!(read.renewable);
        assert_eq!(read.generation, 3);
        assert_eq!(read.bot_name.as_deref(), Some("example"));
        assert_eq!(read.bot_instance_id.as_deref(), Some("7f0c"));
        assert!(read.is_bot());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(CertIdentity::from_der(b"not a cert").is_err());
        assert!(
            CertIdentity::from_pem(
                "-----BEGIN CERTIFICATE-----\nZm9v\n-----END CERTIFICATE-----\n"
            )
            .is_err()
        );
    }
}
