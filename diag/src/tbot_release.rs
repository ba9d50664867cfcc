//! Facts about tbot that depend on the Teleport release: which release introduced or removed a
//! config form, each with the public source it was checked against; and the default target.
//!
//! A fact's `since` lists, per release line, the first release that has it (ascending); a newer
//! line without an entry has it too (see [`Release::has`]). Sources are gravitational/teleport:
//! its CHANGELOG.md (the 15.4.x and 16.x entries, read up to 16.4.7), pull requests and issues,
//! `lib/tbot/config/config.go` (two copies: one with `LegacyOutputs` and a services list of five
//! kinds, one from 2025 with `Outputs ServiceConfigs` and the `certificate_ttl` alias) and the
//! docs (`reference/machine-id/configuration.mdx`, the v14 and v19 upgrade guides).
//!
//! Checked and not found, so not used as facts:
//! - the 17.x release carrying the `credential_ttl` backport (#52185, merged after 2025-02-14):
//!   the CHANGELOG copy ends at 16.4.7; 17.3.0 is assumed;
//! - when each newer service kind (`workload-identity-*`, `kubernetes/v2`, `spiffe-workload-api`,
//!   `database-tunnel`) appeared: they are accepted on every target;
//! - a removal of `outputs:`, of `certificate_ttl` or of v1 configs: the newest config.go read
//!   still merges `outputs:` into `services:`, reads `certificate_ttl` with a warning ("will be
//!   removed in a future release") and migrates v1 (and unversioned) files in memory.

use crate::lint::target::Release;
use mwi_identity::Version;

const fn v(major: u64, minor: u64, patch: u64) -> Version {
    Version::new(major, minor, patch)
}

/// The release lint judges configs against when none is given: the oldest Teleport major still
/// supported, at its newest patch. Teleport supports the current major and the two before it.
/// At 2026-12 the current major is 19: tbot's per-service `roles:` was removed "from V19.0.0"
/// on master on 2026-07-30 (#69181, v19 upgrade guide), and issue #68344 still speaks of v20 as
/// a future release (the docs' `ver/20.x` is the development branch, as `ver/19.x` was
/// "unreleased" in 2025-09). So 19, 18 and 17 are supported, and 17 is the oldest.
pub const OLDEST_SUPPORTED: Release = Release::line(17);

/// tbot reads v2 configs (`services:`/`outputs:` with `type:`, `storage:` with `type:`); v1
/// files are migrated in memory with a warning, in every release read (docs: "From Teleport
/// 14, tbot supports the v2 configuration version"; config.go `ReadConfig`, case V1 and "").
pub const CONFIG_V2: &[Version] = &[v(14, 0, 0)];

/// `services:` holds every output kind (identity, kubernetes, database, application, ssh_host,
/// spiffe-svid) and `outputs:` is a deprecated alias merged into it. Before, `services:` held
/// only the service kinds (example, spiffe-workload-api, database-tunnel, ssh-multiplexer) and
/// tbot refused an output kind there ("unrecognized service type"). Master #43685 (2024-07-01,
/// "Convert Outputs to Services"); backports #43883 in 15.4.9 and #43876 in 16.1.0 (CHANGELOG).
pub const SERVICES_HOLD_OUTPUTS: &[Version] = &[v(15, 4, 9), v(16, 1, 0), v(17, 0, 0)];

/// `credential_ttl` (top level and per service) replaces `certificate_ttl`, which stays as a
/// deprecated alias (tbot warns and uses it when `credential_ttl` is unset). Before, only
/// `certificate_ttl` exists and a v2 file with `credential_ttl` is refused (strict decoding).
/// Master #51956 (2025-02-07, so 18.0.0); v17 backport #52185 (release not verified: 17.3.0).
pub const CREDENTIAL_TTL: &[Version] = &[v(17, 3, 0), v(18, 0, 0)];

/// A kubernetes output whose destination is not a directory renders its kubeconfig without the
/// exec plugin and logs that it did; before, tbot failed the output ("must be a directory in
/// exec plugin mode"). Master #43401 (2024-06); backports #43656 in 15.4.7 and #43655 in 16.0.4
/// (CHANGELOG); the v14 backport #43657 was closed unmerged.
pub const KUBE_SECRET_PLUGIN_OFF: &[Version] = &[v(15, 4, 7), v(16, 0, 4), v(17, 0, 0)];

/// A service or output with a non-empty `roles:` is refused ("from V19.0.0, it is no longer
/// possible to configure per-service role impersonation"): PR #69181 (2026-07-30, keeps the
/// field to give a specific error), issue #68344, v19 upgrade guide.
pub const SERVICE_ROLES_REMOVED: &[Version] = &[v(19, 0, 0)];

/// Removals of the deprecated forms: none in any release read (see the module doc); a form
/// listed here becomes an error on the releases that removed it.
pub const OUTPUTS_REMOVED: &[Version] = &[];
pub const CERTIFICATE_TTL_REMOVED: &[Version] = &[];
pub const CONFIG_V1_REMOVED: &[Version] = &[];

/// The `application-tunnel` service: #44446 in 15.4.10, #44443 in 16.1.1 (CHANGELOG).
pub const APPLICATION_TUNNEL: &[Version] = &[v(15, 4, 10), v(16, 1, 1), v(17, 0, 0)];

/// The `ssh-multiplexer` service: #42761 in 15.4.3 (CHANGELOG); in 16.0.0 (CHANGELOG 16.0.4
/// already fixes it).
pub const SSH_MULTIPLEXER: &[Version] = &[v(15, 4, 3), v(16, 0, 0)];

/// The `bound_keypair` join method: experimental in 18.0.0 behind an environment variable, GA in
/// 18.1.0, backported to 17.7.5 (project notes teleport-bound-keypair.md, from the docs and
/// #59999); the 17.x number is not verified against a CHANGELOG.
pub const BOUND_KEYPAIR: &[Version] = &[v(17, 7, 5), v(18, 0, 0)];

/// tbot dials `auth_server` only as an auth service; before, when a direct dial failed it tried
/// the address as a proxy and warned ("Support for providing a proxy address via the
/// 'auth_server' configuration option ... will be removed in v19"). lib/tbot/client (2025):
/// "in major versions earlier than v19, client.New will test the connection" and fall back.
pub const AUTH_SERVER_ONLY_AUTH: &[Version] = &[v(19, 0, 0)];

/// The first release of `since` as people say it: `15.4.9, 16.1.0 or 17.0.0`, `19.0.0`.
pub fn first_releases(since: &[Version]) -> String {
    let names: Vec<String> = since.iter().map(Version::to_string).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_fact_lists_one_ascending_entry_per_line() {
        for since in [
            CONFIG_V2,
            SERVICES_HOLD_OUTPUTS,
            CREDENTIAL_TTL,
            KUBE_SECRET_PLUGIN_OFF,
            SERVICE_ROLES_REMOVED,
            AUTH_SERVER_ONLY_AUTH,
            APPLICATION_TUNNEL,
            SSH_MULTIPLEXER,
            BOUND_KEYPAIR,
        ] {
            assert!(!since.is_empty());
            assert!(
                since.windows(2).all(|w| w[0].major < w[1].major),
                "{since:?}"
            );
        }
    }

    #[test]
    fn releases_are_named_as_a_list() {
        assert_eq!(first_releases(SERVICE_ROLES_REMOVED), "19.0.0");
        assert_eq!(
            first_releases(SERVICES_HOLD_OUTPUTS),
            "15.4.9, 16.1.0 or 17.0.0"
        );
    }

    #[test]
    fn the_default_target_has_every_change_up_to_its_line() {
        assert!(OLDEST_SUPPORTED.has(SERVICES_HOLD_OUTPUTS));
        assert!(OLDEST_SUPPORTED.has(CREDENTIAL_TTL));
        assert!(OLDEST_SUPPORTED.has(KUBE_SECRET_PLUGIN_OFF));
        assert!(!OLDEST_SUPPORTED.has(SERVICE_ROLES_REMOVED));
    }
}
