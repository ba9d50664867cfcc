//! The parts of the tbot.yaml schema that depend on the target release: keys, join methods and
//! service kinds that came in some release (from [`crate::tbot_release`]), and the severity of a
//! deprecated form on the target.

use super::Severity;
use super::target::Release;
use crate::tbot_release::{self as facts, first_releases};
use mwi_identity::Version;

/// The severity of a deprecated form on `release`: a note while tbot still reads it, an error
/// once `removed_in` (the first releases without it; empty when no release removed it).
pub(crate) fn deprecation(release: Release, removed_in: &[Version]) -> Severity {
    if release.has(removed_in) {
        Severity::Error
    } else {
        Severity::Info
    }
}

/// Why `release` refuses `key` where the schema otherwise allows it, if it does.
pub(crate) fn key_not_in(release: Release, key: &str) -> Option<String> {
    match key {
        "credential_ttl" if !release.has(facts::CREDENTIAL_TTL) => Some(format!(
            "`credential_ttl` came in Teleport {}; tbot {release} refuses it",
            first_releases(facts::CREDENTIAL_TTL)
        )),
        "bound_keypair" => join_method_not_in(release, key),
        _ => None,
    }
}

/// Why `release` refuses the join method `method`, if it does.
pub(crate) fn join_method_not_in(release: Release, method: &str) -> Option<String> {
    (method == "bound_keypair" && !release.has(facts::BOUND_KEYPAIR)).then(|| {
        format!(
            "the `bound_keypair` join method came in Teleport {}; tbot {release} does not know it",
            first_releases(facts::BOUND_KEYPAIR)
        )
    })
}

/// The output kinds, which `services:` holds only from [`facts::SERVICES_HOLD_OUTPUTS`].
const OUTPUT_KINDS: &[&str] = &[
    "identity",
    "kubernetes",
    "database",
    "application",
    "ssh_host",
    "spiffe-svid",
];

/// The service kinds of the releases before [`facts::SERVICES_HOLD_OUTPUTS`], which `outputs:`
/// did not hold (config.go's two lists). Kinds whose first release is not known are left out.
const SERVICE_KINDS: &[&str] = &[
    "example",
    "spiffe-workload-api",
    "database-tunnel",
    "ssh-multiplexer",
    "application-tunnel",
];

/// What `release` says of a `type: kind` entry under `list` (`services` or `outputs`), if it
/// refuses it: a kind that came later, or a kind in the list that could not hold it yet.
pub(crate) fn kind_not_in(release: Release, list: &str, kind: &str) -> Option<String> {
    let introduced = match kind {
        "application-tunnel" => Some(facts::APPLICATION_TUNNEL),
        "ssh-multiplexer" => Some(facts::SSH_MULTIPLEXER),
        _ => None,
    };
    if let Some(since) = introduced.filter(|since| !release.has(since)) {
        return Some(format!(
            "the `{kind}` service came in Teleport {}; tbot {release} does not know it",
            first_releases(since)
        ));
    }
    if release.has(facts::SERVICES_HOLD_OUTPUTS) {
        return None;
    }
    let other = match list {
        "services" if OUTPUT_KINDS.contains(&kind) => "outputs",
        "outputs" if SERVICE_KINDS.contains(&kind) => "services",
        _ => return None,
    };
    Some(format!(
        "tbot {release} reads `type: {kind}` only under `{other}:` (`services:` holds the output kinds from Teleport {})",
        first_releases(facts::SERVICES_HOLD_OUTPUTS)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::target::parse_release;

    fn at(text: &str) -> Release {
        parse_release(text).expect("release")
    }

    #[test]
    fn a_deprecation_is_an_error_only_once_removed() {
        assert_eq!(
            deprecation(at("18"), facts::SERVICE_ROLES_REMOVED),
            Severity::Info
        );
        assert_eq!(
            deprecation(at("19.0.0"), facts::SERVICE_ROLES_REMOVED),
            Severity::Error
        );
        assert_eq!(deprecation(at("99"), &[]), Severity::Info);
    }

    #[test]
    fn credential_ttl_is_refused_before_it_came() {
        assert!(key_not_in(at("16.4"), "credential_ttl").is_some());
        assert!(key_not_in(at("17.2.0"), "credential_ttl").is_some());
        assert_eq!(key_not_in(at("17.3.0"), "credential_ttl"), None);
        assert_eq!(key_not_in(at("18.0.0"), "credential_ttl"), None);
        assert_eq!(key_not_in(at("16.0.0"), "certificate_ttl"), None);
        assert!(key_not_in(at("17.6"), "bound_keypair").is_some());
        assert_eq!(key_not_in(at("18.1"), "bound_keypair"), None);
    }

    #[test]
    fn bound_keypair_needs_its_release() {
        assert!(join_method_not_in(at("17.7.4"), "bound_keypair").is_some());
        assert_eq!(join_method_not_in(at("17.7.5"), "bound_keypair"), None);
        assert_eq!(join_method_not_in(at("18"), "bound_keypair"), None);
        assert_eq!(join_method_not_in(at("15"), "token"), None);
    }

    #[test]
    fn services_hold_output_kinds_only_from_their_release() {
        let old = at("16.0.4");
        let new = at("16.1.0");
        let message = kind_not_in(old, "services", "identity").expect("refused");
        assert!(message.contains("only under `outputs:`"), "{message}");
        assert_eq!(kind_not_in(new, "services", "identity"), None);
        assert_eq!(kind_not_in(old, "outputs", "identity"), None);
        assert!(kind_not_in(old, "outputs", "database-tunnel").is_some());
        assert_eq!(kind_not_in(new, "outputs", "database-tunnel"), None);
        assert_eq!(kind_not_in(old, "services", "database-tunnel"), None);
        // A kind whose first release is not known is never refused.
        assert_eq!(kind_not_in(old, "outputs", "kubernetes/v2"), None);
        assert_eq!(kind_not_in(old, "services", "kubernetes/v2"), None);
        assert!(kind_not_in(at("16.1.0"), "services", "application-tunnel").is_some());
        assert_eq!(
            kind_not_in(at("16.1.1"), "services", "application-tunnel"),
            None
        );
        assert!(kind_not_in(at("15.4.2"), "services", "ssh-multiplexer").is_some());
        assert_eq!(
            kind_not_in(at("16.0.0"), "services", "ssh-multiplexer"),
            None
        );
    }
}
