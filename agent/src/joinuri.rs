//! tbot's joining URI (`tbot+proxy+bound-keypair://TOKEN:SECRET@HOST:PORT`): address kind, join
//! method, token and the method's parameter in one value, refused with tbot's wording.
//!
//! Rules from gravitational/teleport `lib/tbot/config/joinuri/uri.go` (2025): three `+`-separated
//! scheme parts, prefix `tbot`, kind `proxy` or `auth`, URL-safe method names (`bound-keypair` or
//! `boundkeypair` for `bound_keypair`), the token in the user field, the parameter (for
//! bound_keypair, the registration secret) in the password field.

/// Which kind of address the URI names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    Proxy,
    Auth,
}

/// A parsed joining URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinUri {
    pub kind: AddressKind,
    /// The join method as Teleport names it (`bound_keypair`, `token`, ...).
    pub join_method: String,
    pub token: String,
    /// The method's parameter; empty when absent.
    pub parameter: String,
    /// `HOST:PORT` of the proxy or auth service.
    pub address: String,
}

/// Join methods tbot knows (`lib/tbot/bot/onboarding/config.go` SupportedJoinMethods); a method
/// already spelled this way is taken as it is.
const SUPPORTED_JOIN_METHODS: &[&str] = &[
    "azure",
    "azure_devops",
    "bitbucket",
    "circleci",
    "gcp",
    "github",
    "gitlab",
    "iam",
    "kubernetes",
    "spacelift",
    "token",
    "tpm",
    "terraform_cloud",
    "oracle",
    "bound_keypair",
    "env0",
    "generic_oidc",
];

/// A URI that cannot be used; the text is tbot's where tbot has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JoinUriError(String);

/// The Teleport name of a URL-safe join method name.
fn join_method(name: &str) -> Result<String, JoinUriError> {
    if SUPPORTED_JOIN_METHODS.contains(&name) {
        return Ok(name.to_string());
    }
    let method = match name {
        "bound-keypair" | "boundkeypair" => "bound_keypair",
        "azure-devops" | "azuredevops" => "azure_devops",
        "terraform-cloud" | "terraformcloud" => "terraform_cloud",
        "generic-oidc" | "genericoidc" => "generic_oidc",
        _ => {
            return Err(JoinUriError(format!(
                "unsupported join method {}",
                go_quote(name)
            )));
        }
    };
    Ok(method.to_string())
}

/// Parses a joining URI.
pub fn parse(text: &str) -> Result<JoinUri, JoinUriError> {
    let text = text.trim();
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) if is_scheme(scheme) => (scheme, rest),
        _ => ("", text),
    };
    let parts: Vec<&str> = scheme.splitn(3, '+').collect();
    let [prefix, kind, method] = parts[..] else {
        return Err(JoinUriError(format!(
            "unsupported joining URI scheme: {}",
            go_quote(scheme)
        )));
    };
    if prefix != "tbot" {
        return Err(JoinUriError(format!(
            "unsupported joining URI scheme {}: scheme prefix must be \"tbot\"",
            go_quote(scheme)
        )));
    }
    let kind = match kind {
        "proxy" => AddressKind::Proxy,
        "auth" => AddressKind::Auth,
        other => {
            return Err(JoinUriError(format!(
                "unsupported joining URI scheme {}: address kind must be one of [\"proxy\", \"auth\"], got: {}",
                go_quote(scheme),
                go_quote(other)
            )));
        }
    };
    let join_method = join_method(method)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let Some((user_info, address)) = authority.rsplit_once('@') else {
        return Err(JoinUriError(
            "invalid joining URI: must contain join token in user field".into(),
        ));
    };
    let (token, parameter) = match user_info.split_once(':') {
        Some((token, parameter)) => (decode(token)?, decode(parameter)?),
        None => (decode(user_info)?, String::new()),
    };
    // tbot would go on with an empty token and fail at the join; refusing it here says why.
    if token.is_empty() {
        return Err(JoinUriError(
            "invalid joining URI: must contain join token in user field".into(),
        ));
    }
    if address.is_empty() {
        return Err(JoinUriError(format!(
            "invalid joining URI: must contain the {} address after the @, like HOST:PORT",
            match kind {
                AddressKind::Proxy => "proxy",
                AddressKind::Auth => "auth",
            }
        )));
    }
    Ok(JoinUri {
        kind,
        join_method,
        token,
        parameter,
        address: address.to_string(),
    })
}

/// An RFC 3986 scheme: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Percent-decodes one user-info part, as Go's url.Parse does.
fn decode(text: &str) -> Result<String, JoinUriError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).unwrap_or_default();
            let byte = u8::from_str_radix(hex, 16).map_err(|_| {
                JoinUriError(format!(
                    "parsing joining URI: invalid URL escape {}",
                    go_quote(&text[i..(i + 3).min(text.len())])
                ))
            })?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| JoinUriError("parsing joining URI: user field is not UTF-8".into()))
}

/// Go's `%q` for the plain text these messages quote.
fn go_quote(text: &str) -> String {
    format!("{text:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_form_with_secret() {
        let uri =
            parse("tbot+proxy+bound-keypair://bot-example-0a6f812a:abc123@example.teleport.sh:443")
                .unwrap();
        assert_eq!(
            uri,
            JoinUri {
                kind: AddressKind::Proxy,
                join_method: "bound_keypair".into(),
                token: "bot-example-0a6f812a".into(),
                parameter: "abc123".into(),
                address: "example.teleport.sh:443".into(),
            }
        );
    }

    #[test]
    fn auth_form_without_secret_and_alternate_names() {
        let uri = parse("tbot+auth+boundkeypair://tok@127.0.0.1:3025").unwrap();
        assert_eq!(uri.kind, AddressKind::Auth);
        assert_eq!(uri.join_method, "bound_keypair");
        assert_eq!(uri.parameter, "");
        assert_eq!(uri.address, "127.0.0.1:3025");
        // An underscore is not allowed in a URL scheme, so Go's url.Parse finds none.
        assert_eq!(
            parse("tbot+auth+bound_keypair://tok@h:1")
                .unwrap_err()
                .to_string(),
            "unsupported joining URI scheme: \"\""
        );
        assert_eq!(
            parse("tbot+proxy+token://t%40x:p%3Aq@h:1").unwrap(),
            JoinUri {
                kind: AddressKind::Proxy,
                join_method: "token".into(),
                token: "t@x".into(),
                parameter: "p:q".into(),
                address: "h:1".into(),
            }
        );
    }

    #[test]
    fn missing_parts_are_refused_in_tbots_words() {
        let cases = [
            ("", "unsupported joining URI scheme: \"\""),
            (
                "https://example.com",
                "unsupported joining URI scheme: \"https\"",
            ),
            (
                "tbot+bound-keypair://t@h:1",
                "unsupported joining URI scheme: \"tbot+bound-keypair\"",
            ),
            (
                "foo+proxy+token://t@h:1",
                "unsupported joining URI scheme \"foo+proxy+token\": scheme prefix must be \"tbot\"",
            ),
            (
                "tbot+foo+token://example.com",
                "unsupported joining URI scheme \"tbot+foo+token\": address kind must be one of [\"proxy\", \"auth\"], got: \"foo\"",
            ),
            (
                "tbot+proxy+bar://example.com",
                "unsupported join method \"bar\"",
            ),
            (
                "tbot+proxy+bound-keypair://example.com:443",
                "invalid joining URI: must contain join token in user field",
            ),
            (
                "tbot+proxy+bound-keypair://:secret@example.com:443",
                "invalid joining URI: must contain join token in user field",
            ),
            (
                "tbot+auth+bound-keypair://tok:secret@",
                "invalid joining URI: must contain the auth address after the @, like HOST:PORT",
            ),
            (
                "tbot+proxy+bound-keypair://t%zz@h:1",
                "parsing joining URI: invalid URL escape \"%zz\"",
            ),
        ];
        for (uri, want) in cases {
            assert_eq!(parse(uri).unwrap_err().to_string(), want, "{uri}");
        }
    }
}
