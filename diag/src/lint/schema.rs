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

const ONBOARDING: &[Field] = &[
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
    f("bound_keypair", Shape::Any),
];

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

const IDENTITY: [Field; 10] = with_common([
    f("cluster", Shape::Str),
    f("ssh_config", Shape::Enum(&["on", "off"])),
    f("allow_reissue", Shape::Bool),
    f("access_request", Shape::Any),
]);
const KUBERNETES: [Field; 8] = with_common([
    f("kubernetes_cluster", Shape::Str),
    f("disable_exec_plugin", Shape::Bool),
]);
const KUBERNETES_V2: [Field; 9] = with_common([
    f(
        "selectors",
        Shape::ListOf(&[f("name", Shape::Str), f("labels", Shape::StrMap)]),
    ),
    f("disable_exec_plugin", Shape::Bool),
    f("context_name_template", Shape::Str),
]);
const DATABASE: [Field; 11] = with_common([
    f("service", Shape::Str),
    f("database", Shape::Str),
    f("username", Shape::Str),
    f("format", Shape::Enum(&["", "tls", "mongo", "cockroach"])),
    f("subtype", Shape::Enum(&["", "tls", "mongo", "cockroach"])),
]);
const APPLICATION: [Field; 8] = with_common([
    f("app_name", Shape::Str),
    // The YAML key of tbot's `SpecificTLSExtensions` (lib/tbot ApplicationOutput, v14 on).
    f("specific_tls_naming", Shape::Bool),
]);
const SSH_HOST: [Field; 7] = with_common([f("principals", Shape::StrList)]);

/// A service type, its fields (None: the type's keys are not checked) and its required keys.
pub(crate) struct ServiceType {
    pub name: &'static str,
    pub fields: Option<&'static [Field]>,
    pub required: &'static [&'static str],
}

pub(crate) const SERVICE_TYPES: &[ServiceType] = &[
    ServiceType {
        name: "identity",
        fields: Some(&IDENTITY),
        required: &[],
    },
    ServiceType {
        name: "kubernetes",
        fields: Some(&KUBERNETES),
        required: &["kubernetes_cluster"],
    },
    ServiceType {
        name: "kubernetes/v2",
        fields: Some(&KUBERNETES_V2),
        required: &[],
    },
    ServiceType {
        name: "database",
        fields: Some(&DATABASE),
        required: &["service"],
    },
    ServiceType {
        name: "application",
        fields: Some(&APPLICATION),
        required: &["app_name"],
    },
    ServiceType {
        name: "ssh_host",
        fields: Some(&SSH_HOST),
        required: &[],
    },
    // Newer service kinds whose options change between releases: only the shared keys are checked.
    ServiceType {
        name: "spiffe-svid",
        fields: None,
        required: &[],
    },
    ServiceType {
        name: "spiffe-workload-api",
        fields: None,
        required: &[],
    },
    ServiceType {
        name: "workload-identity-x509",
        fields: None,
        required: &[],
    },
    ServiceType {
        name: "workload-identity-jwt",
        fields: None,
        required: &[],
    },
    ServiceType {
        name: "workload-identity-api",
        fields: None,
        required: &[],
    },
    ServiceType {
        name: "workload-identity-aws-roles-anywhere",
        fields: None,
        required: &[],
    },
    // The chart's Argo CD output (lib/tbot/services/k8s ArgoCDOutputServiceType).
    ServiceType {
        name: "kubernetes/argo-cd",
        fields: None,
        required: &[],
    },
    ServiceType {
        name: "database-tunnel",
        fields: None,
        required: &[],
    },
    ServiceType {
        name: "application-tunnel",
        fields: None,
        required: &[],
    },
    ServiceType {
        name: "ssh-multiplexer",
        fields: None,
        required: &[],
    },
    ServiceType {
        name: "example",
        fields: None,
        required: &[],
    },
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
    fn every_service_has_the_shared_fields() {
        for t in SERVICE_TYPES {
            if let Some(fields) = t.fields {
                for shared in shared_service_fields() {
                    assert!(fields.iter().any(|f| f.name == shared.name), "{}", t.name);
                }
                assert!(fields.iter().all(|f| !f.name.is_empty()), "{}", t.name);
            }
        }
    }

    #[test]
    fn misplaced_keys_have_a_home() {
        assert_eq!(
            home_of("disable_exec_plugin").as_deref(),
            Some("a `type: kubernetes` service")
        );
        assert_eq!(home_of("join_method").as_deref(), Some("`onboarding:`"));
    }
}
