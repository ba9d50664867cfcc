//! The tbot.yaml v2 schema (teleport-behaviors.md §3.5–3.6): the keys allowed at every level and
//! the type of each value. Keys tbot does not know are errors, since tbot decodes v2 strictly.

/// The type a value must have.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape {
    /// Any scalar (tbot's YAML decoder reads any scalar into a string).
    Str,
    Bool,
    /// A Go duration string such as `20m` or `1h30m`.
    Duration,
    /// One of the listed words.
    Enum(&'static [&'static str]),
    /// A list of scalars.
    StrList,
    /// A mapping from names to scalars (labels).
    StrMap,
    /// Not checked (sections whose keys vary by release).
    Any,
    Struct(&'static [Field]),
    /// A list of mappings with these fields.
    ListOf(&'static [Field]),
    /// A destination: a directory path, or a mapping whose `type` picks its fields.
    Destination,
    /// A path, or a mapping with these fields (a v1 `directory:`).
    PathOr(&'static [Field]),
    /// A list of services (or deprecated outputs); each entry's `type` picks its fields.
    Services,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub name: &'static str,
    pub shape: Shape,
}

const fn f(name: &'static str, shape: Shape) -> Field {
    Field { name, shape }
}

pub(crate) const JOIN_METHODS: &[&str] = &[
    "token",
    "azure",
    "azure_devops",
    "bitbucket",
    "bound_keypair",
    "circleci",
    "ec2",
    "gcp",
    "github",
    "gitlab",
    "iam",
    "kubernetes",
    "oracle",
    "spacelift",
    "terraform_cloud",
    "tpm",
];

// tbot's BoundKeypairOnboardingConfig (lib/tbot/bot/onboarding/config.go @d63d0135, the v18.2+ and
// v19 shape): `registration_secret`, `registration_secret_path`, `static_private_key_path`.
// The same file in its earlier v18 form has only `registration_secret`; before that (dev builds of
// lib/tbot/config/config.go) the field was an untagged `InitialJoinSecret`, see [`RENAMED`].
pub(crate) const BOUND_KEYPAIR: &[Field] = &[
    f("registration_secret", Shape::Str),
    f("registration_secret_path", Shape::Str),
    f("static_private_key_path", Shape::Str),
];

pub(crate) const ONBOARDING: &[Field] = &[
    f("token", Shape::Str),
    f("join_method", Shape::Enum(JOIN_METHODS)),
    f("ca_path", Shape::Str),
    f("ca_pins", Shape::StrList),
    f("azure", Shape::Struct(&[f("client_id", Shape::Str)])),
    f(
        "gitlab",
        Shape::Struct(&[f("token_env_var_name", Shape::Str)]),
    ),
    f("terraform", Shape::Struct(&[f("audience_tag", Shape::Str)])),
    f("bound_keypair", Shape::Struct(BOUND_KEYPAIR)),
];

/// Keys tbot renamed, by the section they are in: (section, old key, key now). tbot's early
/// bound-keypair config had an untagged `InitialJoinSecret` field (read as `initialjoinsecret`,
/// and its flag was `--initial-join-secret`), which became `registration_secret`.
const RENAMED: &[(&str, &str, &str)] = &[
    (
        "onboarding.bound_keypair",
        "initialjoinsecret",
        "registration_secret",
    ),
    (
        "onboarding.bound_keypair",
        "initial_join_secret",
        "registration_secret",
    ),
];

/// The key that `key` in the section at `path` was renamed to, if tbot renamed it.
pub(crate) fn renamed(path: &str, key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    RENAMED
        .iter()
        .find(|(section, old, _)| *section == path && *old == key)
        .map(|(_, _, new)| *new)
}

pub(crate) const TOP: &[Field] = &[
    f("version", Shape::Enum(&["v1", "v2"])),
    f("auth_server", Shape::Str),
    f("proxy_server", Shape::Str),
    f("join_uri", Shape::Str),
    f("onboarding", Shape::Struct(ONBOARDING)),
    f("storage", Shape::Destination),
    f("credential_ttl", Shape::Duration),
    f("certificate_ttl", Shape::Duration),
    f("renewal_interval", Shape::Duration),
    f("oneshot", Shape::Bool),
    f("debug", Shape::Bool),
    f("fips", Shape::Bool),
    f("diag_addr", Shape::Str),
    f("insecure", Shape::Bool),
    f("services", Shape::Services),
    f("outputs", Shape::Services),
];

const READERS: &[Field] = &[
    f("user", Shape::Str),
    f("uid", Shape::Str),
    f("group", Shape::Str),
    f("gid", Shape::Str),
];

pub(crate) const DESTINATION_TYPES: &[(&str, &[Field])] = &[
    (
        "directory",
        &[
            f("type", Shape::Str),
            f("path", Shape::Str),
            f(
                "symlinks",
                Shape::Enum(&["secure", "try-secure", "insecure"]),
            ),
            f("acls", Shape::Enum(&["off", "try", "required"])),
            f("readers", Shape::ListOf(READERS)),
        ],
    ),
    ("memory", &[f("type", Shape::Str)]),
    (
        "kubernetes_secret",
        &[
            f("type", Shape::Str),
            f("name", Shape::Str),
            f("labels", Shape::StrMap),
            // Added in 17.x (teleport#58106) and 18.x (teleport#62908).
            f("namespace", Shape::Str),
            f("kubeconfig_path", Shape::Str),
            f("kubeconfig_context", Shape::Str),
        ],
    ),
];

/// Fields every service shares.
const COMMON: [Field; 6] = [
    f("type", Shape::Str),
    f("name", Shape::Str),
    f("destination", Shape::Destination),
    f("roles", Shape::StrList),
    f("credential_ttl", Shape::Duration),
    f("renewal_interval", Shape::Duration),
];

const fn with_common<const N: usize, const M: usize>(extra: [Field; N]) -> [Field; M] {
    let mut out = [f("", Shape::Any); M];
    let mut i = 0;
    while i < COMMON.len() {
        out[i] = COMMON[i];
        i += 1;
    }
    let mut j = 0;
    while j < N {
        out[COMMON.len() + j] = extra[j];
        j += 1;
    }
    out
}

const IDENTITY: [Field; 11] = with_common([
    f("cluster", Shape::Str),
    f("ssh_config", Shape::Enum(&["on", "off"])),
    f("allow_reissue", Shape::Bool),
    f("access_request", Shape::Any),
    f("delegation_session_id", Shape::Str),
]);
const KUBERNETES: [Field; 8] = with_common([
    f("kubernetes_cluster", Shape::Str),
    f("disable_exec_plugin", Shape::Bool),
]);
const KUBERNETES_V2: [Field; 10] = with_common([
    f(
        "selectors",
        Shape::ListOf(&[
            f("name", Shape::Str),
            f("labels", Shape::StrMap),
            f("default_namespace", Shape::Str),
        ]),
    ),
    f("disable_exec_plugin", Shape::Bool),
    f("context_name_template", Shape::Str),
    f("relay_server", Shape::Str),
]);
const DATABASE: [Field; 11] = with_common([
    f("service", Shape::Str),
    f("database", Shape::Str),
    f("username", Shape::Str),
    f("format", Shape::Enum(&["", "tls", "mongo", "cockroach"])),
    f("subtype", Shape::Enum(&["", "tls", "mongo", "cockroach"])),
]);
// lib/tbot/services/application/output_config.go (v18): the YAML key is `specific_tls_naming`.
const APPLICATION: [Field; 9] = with_common([
    f("app_name", Shape::Str),
    f("specific_tls_naming", Shape::Bool),
    f("delegation_session_id", Shape::Str),
]);
const SSH_HOST: [Field; 7] = with_common([f("principals", Shape::StrList)]);

/// How long credentials last and how often they are renewed (tbot's inline CredentialLifetime).
const TTL: Field = f("credential_ttl", Shape::Duration);
const INTERVAL: Field = f("renewal_interval", Shape::Duration);

// The tunnels listen rather than write: no `destination`. Fields from tbot's TunnelConfig
// (lib/tbot/services/{database,application}/tunnel_config.go, v18) and, before, from
// lib/tbot/config/service_{database,application}_tunnel.go (v15–v17).
const DATABASE_TUNNEL: &[Field] = &[
    f("type", Shape::Str),
    f("name", Shape::Str),
    f("listen", Shape::Str),
    f("roles", Shape::StrList),
    f("service", Shape::Str),
    f("database", Shape::Str),
    f("username", Shape::Str),
    TTL,
    INTERVAL,
];
const APPLICATION_TUNNEL: &[Field] = &[
    f("type", Shape::Str),
    f("name", Shape::Str),
    f("listen", Shape::Str),
    f("roles", Shape::StrList),
    f("app_name", Shape::Str),
    f("delegation_session_id", Shape::Str),
    TTL,
    INTERVAL,
];

/// A WorkloadIdentity selector: a name or labels (each label a list of values).
const WORKLOAD_SELECTOR: Shape = Shape::Struct(&[f("name", Shape::Str), f("labels", Shape::Any)]);

// Workload identity services (lib/tbot/services/workloadidentity/*_config.go and
// lib/tbot/services/awsra/config.go, v18): no `roles`, the selector picks the identity.
const WORKLOAD_IDENTITY_X509: &[Field] = &[
    f("type", Shape::Str),
    f("name", Shape::Str),
    f("selector", WORKLOAD_SELECTOR),
    f("destination", Shape::Destination),
    f("include_federated_trust_bundles", Shape::Bool),
    TTL,
    INTERVAL,
];
const WORKLOAD_IDENTITY_JWT: &[Field] = &[
    f("type", Shape::Str),
    f("name", Shape::Str),
    f("selector", WORKLOAD_SELECTOR),
    f("destination", Shape::Destination),
    f("audiences", Shape::StrList),
    TTL,
    INTERVAL,
];
const WORKLOAD_IDENTITY_API: &[Field] = &[
    f("type", Shape::Str),
    f("name", Shape::Str),
    f("listen", Shape::Str),
    f("attestors", Shape::Any),
    f("selector", WORKLOAD_SELECTOR),
    f("trust_domains", Shape::Any),
    TTL,
    INTERVAL,
];
const WORKLOAD_IDENTITY_AWS_RA: &[Field] = &[
    f("type", Shape::Str),
    f("name", Shape::Str),
    f("selector", WORKLOAD_SELECTOR),
    f("destination", Shape::Destination),
    f("role_arn", Shape::Str),
    f("profile_arn", Shape::Str),
    f("trust_anchor_arn", Shape::Str),
    f("region", Shape::Str),
    f("session_duration", Shape::Duration),
    f("session_renewal_interval", Shape::Duration),
    f("credential_profile_name", Shape::Str),
    f("artifact_name", Shape::Str),
    f("overwrite_credential_file", Shape::Bool),
];
// lib/tbot/config/service_spiffe_svid.go (v16–v17).
const SPIFFE_SVID: &[Field] = &[
    f("type", Shape::Str),
    f("name", Shape::Str),
    f("destination", Shape::Destination),
    f(
        "svid",
        Shape::Struct(&[
            f("path", Shape::Str),
            f("hint", Shape::Str),
            f(
                "sans",
                Shape::Struct(&[f("dns", Shape::StrList), f("ip", Shape::StrList)]),
            ),
        ]),
    ),
    f("include_federated_trust_bundles", Shape::Bool),
    f(
        "jwts",
        Shape::ListOf(&[f("file_name", Shape::Str), f("audience", Shape::Str)]),
    ),
    TTL,
    INTERVAL,
];

/// A key a service must set (a dotted path for a nested one), with tbot's words when it is not.
pub(crate) struct Required {
    pub key: &'static str,
    pub tbot_says: &'static str,
}

const fn req(key: &'static str, tbot_says: &'static str) -> Required {
    Required { key, tbot_says }
}

/// An output writes somewhere: tbot refuses an output without a destination.
const DESTINATION: Required = req("destination", "no destination configured for output");

/// A selector rule beyond required keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selector {
    None,
    /// `selector:` with exactly one of `name` and `labels` (tbot: "one of ['name', 'labels']
    /// must be set", "at most one of ['name', 'labels'] can be set").
    WorkloadIdentity,
    /// `selectors:`, at least one, each with exactly one of `name` and `labels`.
    Kubernetes,
}

/// A service type, its fields (None: the type's keys are not checked), its required keys and its
/// selector rule, from the `CheckAndSetDefaults` of tbot's config for it.
pub(crate) struct ServiceType {
    pub name: &'static str,
    pub fields: Option<&'static [Field]>,
    pub required: &'static [Required],
    pub selector: Selector,
}

const fn service(
    name: &'static str,
    fields: Option<&'static [Field]>,
    required: &'static [Required],
    selector: Selector,
) -> ServiceType {
    ServiceType {
        name,
        fields,
        required,
        selector,
    }
}

pub(crate) const SERVICE_TYPES: &[ServiceType] = &[
    service("identity", Some(&IDENTITY), &[DESTINATION], Selector::None),
    service(
        "kubernetes",
        Some(&KUBERNETES),
        &[
            DESTINATION,
            req("kubernetes_cluster", "kubernetes_cluster must not be empty"),
        ],
        Selector::None,
    ),
    service(
        "kubernetes/v2",
        Some(&KUBERNETES_V2),
        &[DESTINATION],
        Selector::Kubernetes,
    ),
    service(
        "database",
        Some(&DATABASE),
        &[DESTINATION, req("service", "service must not be empty")],
        Selector::None,
    ),
    service(
        "application",
        Some(&APPLICATION),
        &[DESTINATION, req("app_name", "app_name must not be empty")],
        Selector::None,
    ),
    service(
        "ssh_host",
        Some(&SSH_HOST),
        &[
            DESTINATION,
            req("principals", "at least one principal must be specified"),
        ],
        Selector::None,
    ),
    service(
        "spiffe-svid",
        Some(SPIFFE_SVID),
        &[
            DESTINATION,
            req("svid.path", "svid.path: should not be empty"),
        ],
        Selector::None,
    ),
    // Options that change between releases and were not checked against tbot's code: only the
    // shared keys are checked.
    service("spiffe-workload-api", None, &[], Selector::None),
    service(
        "workload-identity-x509",
        Some(WORKLOAD_IDENTITY_X509),
        &[DESTINATION],
        Selector::WorkloadIdentity,
    ),
    service(
        "workload-identity-jwt",
        Some(WORKLOAD_IDENTITY_JWT),
        &[
            DESTINATION,
            req("audiences", "audiences: must have at least one value"),
        ],
        Selector::WorkloadIdentity,
    ),
    service(
        "workload-identity-api",
        Some(WORKLOAD_IDENTITY_API),
        &[req("listen", "listen: should not be empty")],
        Selector::WorkloadIdentity,
    ),
    service(
        "workload-identity-aws-roles-anywhere",
        Some(WORKLOAD_IDENTITY_AWS_RA),
        &[
            DESTINATION,
            req("role_arn", "role_arn: must be set"),
            req("profile_arn", "profile_arn: must be set"),
            req("trust_anchor_arn", "trust_anchor_arn: must be set"),
        ],
        Selector::WorkloadIdentity,
    ),
    service(
        "database-tunnel",
        Some(DATABASE_TUNNEL),
        &[
            req("listen", "listen: should not be empty"),
            req("service", "service: should not be empty"),
            req("database", "database: should not be empty"),
            req("username", "username: should not be empty"),
        ],
        Selector::None,
    ),
    service(
        "application-tunnel",
        Some(APPLICATION_TUNNEL),
        &[
            req("listen", "listen: should not be empty"),
            req("app_name", "app_name: should not be empty"),
        ],
        Selector::None,
    ),
    // The Argo CD output the tbot chart renders (lib/tbot/services/k8s ArgoCDOutputServiceType):
    // it writes Argo CD cluster secrets itself, so it has no destination.
    service("kubernetes/argo-cd", None, &[], Selector::None),
    service("ssh-multiplexer", None, &[], Selector::None),
    // Newer kinds, named as in tbot's source (lib/tbot/services/k8s/argocd_output_config.go,
    // application/proxy_service_config.go, identity/key_agent_config.go,
    // lib/tbot/config/service_ssh_proxy.go): known, their keys not checked.
    service("kubernetes/argo-cd", None, &[], Selector::None),
    service("application-proxy", None, &[], Selector::None),
    service("identity/key-agent", None, &[], Selector::None),
    service("ssh-proxy", None, &[], Selector::None),
    service("example", None, &[], Selector::None),
];

pub(crate) fn service_type(name: &str) -> Option<&'static ServiceType> {
    SERVICE_TYPES.iter().find(|t| t.name == name)
}

pub(crate) fn shared_service_fields() -> &'static [Field] {
    &COMMON
}

/// Where else in the schema a key is allowed, for "belongs in ..." hints.
pub(crate) fn home_of(key: &str) -> Option<String> {
    if TOP.iter().any(|f| f.name == key) {
        return Some("the top level".to_string());
    }
    if ONBOARDING.iter().any(|f| f.name == key) {
        return Some("`onboarding:`".to_string());
    }
    if BOUND_KEYPAIR.iter().any(|f| f.name == key) {
        return Some("`onboarding.bound_keypair:`".to_string());
    }
    for t in SERVICE_TYPES {
        if let Some(fields) = t.fields
            && fields.iter().any(|f| f.name == key)
        {
            return Some(format!("a `type: {}` service", t.name));
        }
    }
    for (name, fields) in DESTINATION_TYPES {
        if fields.iter().any(|f| f.name == key) {
            return Some(format!("a `type: {name}` destination"));
        }
    }
    None
}

/// The closest of `candidates` to `word` (edit distance at most 2, or a case-only difference).
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate.is_empty() {
            continue;
        }
        let distance = if candidate == lower {
            0
        } else {
            edit_distance(&lower, candidate)
        };
        let limit = if candidate.len() <= 4 { 1 } else { 2 };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// The one candidate that holds every word of `key` in order (words split at `_`), for a key
/// with a word left out, such as `static_key_path` for `static_private_key_path`. A key of one
/// word matches nothing (`ttl` is in too many keys to mean one), nor do several candidates.
pub(crate) fn words_of<'a>(
    key: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let key = key.to_ascii_lowercase();
    let words: Vec<&str> = key.split('_').filter(|w| !w.is_empty()).collect();
    if words.len() < 2 {
        return None;
    }
    let mut found = None;
    for candidate in candidates {
        let mut rest = candidate.split('_');
        if words.iter().all(|w| rest.any(|c| c == *w)) {
            if found.is_some() {
                return None;
            }
            found = Some(candidate);
        }
    }
    found
}

/// Damerau–Levenshtein distance (adjacent swaps count once), on characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().take(64).collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// Seconds in a Go duration string (`1h30m`, `90s`, `0`, `-5m`), or None if it is not one.
pub(crate) fn parse_duration(text: &str) -> Option<f64> {
    let (negative, d) = mwi_identity::duration::parse_signed(text.trim()).ok()?;
    let seconds = d.as_secs_f64();
    Some(if negative { -seconds } else { seconds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_go_syntax() {
        assert_eq!(parse_duration("20m"), Some(1200.0));
        assert_eq!(parse_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_duration("1.5h"), Some(5400.0));
        assert_eq!(parse_duration("0"), Some(0.0));
        assert_eq!(parse_duration("20"), None);
        assert_eq!(parse_duration("1d"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn suggestions_allow_typos_and_case() {
        let keys = TOP.iter().map(|f| f.name);
        assert_eq!(
            did_you_mean("renewal_intervall", keys.clone()),
            Some("renewal_interval")
        );
        assert_eq!(
            did_you_mean("Auth_Server", keys.clone()),
            Some("auth_server")
        );
        assert_eq!(did_you_mean("servcies", keys.clone()), Some("services"));
        assert_eq!(did_you_mean("completely_else", keys), None);
    }

    #[test]
    fn a_key_with_a_word_left_out_matches_the_one_key_with_all_its_words() {
        let keys = BOUND_KEYPAIR.iter().map(|f| f.name);
        assert_eq!(
            words_of("static_key_path", keys.clone()),
            Some("static_private_key_path")
        );
        assert_eq!(
            words_of("Secret_Path", keys.clone()),
            Some("registration_secret_path")
        );
        // Words out of order, one word, or several keys holding them: nothing.
        assert_eq!(words_of("path_key", keys.clone()), None);
        assert_eq!(words_of("path", keys.clone()), None);
        assert_eq!(
            words_of(
                "registration_secret",
                ["a_registration_secret", "registration_secret_b"]
            ),
            None
        );
        assert_eq!(
            words_of("static__path", keys),
            Some("static_private_key_path")
        );
    }

    #[test]
    fn renames_are_known_only_in_their_section() {
        assert_eq!(
            renamed("onboarding.bound_keypair", "Initial_Join_Secret"),
            Some("registration_secret")
        );
        assert_eq!(
            renamed("onboarding.bound_keypair", "initialjoinsecret"),
            Some("registration_secret")
        );
        assert_eq!(renamed("onboarding", "initial_join_secret"), None);
        assert_eq!(
            renamed("onboarding.bound_keypair", "registration_secret"),
            None
        );
    }

    #[test]
    fn every_service_has_type_name_and_the_destination_it_needs() {
        for t in SERVICE_TYPES {
            if let Some(fields) = t.fields {
                for shared in ["type", "name"] {
                    assert!(fields.iter().any(|f| f.name == shared), "{}", t.name);
                }
                assert!(fields.iter().all(|f| !f.name.is_empty()), "{}", t.name);
                let writes = fields.iter().any(|f| f.name == "destination");
                let needs = t.required.iter().any(|r| r.key == "destination");
                assert_eq!(writes, needs, "{}", t.name);
            }
            for required in t.required {
                let top = required.key.split('.').next().unwrap_or("");
                if let Some(fields) = t.fields {
                    assert!(fields.iter().any(|f| f.name == top), "{}.{top}", t.name);
                }
            }
        }
    }

    #[test]
    fn newer_kinds_are_known() {
        for kind in [
            "kubernetes/argo-cd",
            "application-proxy",
            "identity/key-agent",
        ] {
            assert!(
                service_type(kind).is_some_and(|t| t.fields.is_none()),
                "{kind}"
            );
        }
    }

    #[test]
    fn misplaced_keys_have_a_home() {
        assert_eq!(
            home_of("disable_exec_plugin").as_deref(),
            Some("a `type: kubernetes` service")
        );
        assert_eq!(home_of("join_method").as_deref(), Some("`onboarding:`"));
        assert_eq!(
            home_of("static_private_key_path").as_deref(),
            Some("`onboarding.bound_keypair:`")
        );
    }
}
