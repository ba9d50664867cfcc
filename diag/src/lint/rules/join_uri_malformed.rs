//! `join-uri-malformed`: a `join_uri` tbot cannot parse. The shape is
//! `tbot+proxy|auth+METHOD://TOKEN[:PARAMETER]@HOST[:PORT]` (lib/tbot/config/joinuri/uri.go);
//! the URI holds the registration secret, so messages name only its scheme.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context, set_entry};
use crate::lint::schema::JOIN_METHODS;

pub(crate) const RULE: Rule = Rule {
    id: "join-uri-malformed",
    severities: &[Severity::Error],
    incident: None,
    doc: "`join_uri` is not `tbot+KIND+METHOD://TOKEN[:SECRET]@HOST:PORT`, KIND `proxy` or `auth` (tbot refuses it)",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let Some(entry) = set_entry(context.config.map, "join_uri") else {
        return;
    };
    let Some(uri) = entry.value.as_str() else {
        return;
    };
    if let Err(problem) = problem(uri) {
        checker
            .add(
                &RULE,
                entry.value.span.start,
                "join_uri",
                format!("`join_uri` cannot be used: {problem}"),
            )
            .fix = Some(
            "copy the joining URI as `tctl bots add` or `mwictl tokens add` printed it: tbot+proxy+bound-keypair://TOKEN:SECRET@HOST:PORT".to_string(),
        );
    }
}

/// What is wrong with `uri`, in tbot's words where it has them.
fn problem(uri: &str) -> Result<(), String> {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Err("unsupported joining URI scheme: it has no `scheme://`".to_string());
    };
    let parts: Vec<&str> = scheme.splitn(3, '+').collect();
    let [prefix, kind, method] = parts[..] else {
        return Err(format!("unsupported joining URI scheme: {scheme:?}"));
    };
    if prefix != "tbot" {
        return Err(format!(
            "unsupported joining URI scheme {scheme:?}: scheme prefix must be \"tbot\""
        ));
    }
    if kind != "proxy" && kind != "auth" {
        return Err(format!(
            "unsupported joining URI scheme {scheme:?}: address kind must be one of [\"proxy\", \"auth\"], got: {kind:?}"
        ));
    }
    if join_method(method).is_none() {
        return Err(format!("unsupported join method {method:?}"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let Some((user, host)) = authority.rsplit_once('@') else {
        return Err("invalid joining URI: must contain join token in user field".to_string());
    };
    let token = user.split(':').next().unwrap_or("");
    if token.is_empty() {
        return Err("invalid joining URI: must contain join token in user field".to_string());
    }
    if host.is_empty() {
        return Err("invalid joining URI: it names no host after `@`".to_string());
    }
    Ok(())
}

/// The join method a URI's URL-safe name stands for: hyphens for underscores, and the
/// hyphen-less spellings tbot also accepts.
fn join_method(name: &str) -> Option<&'static str> {
    let name = match name {
        "boundkeypair" => "bound-keypair",
        "terraformcloud" => "terraform-cloud",
        "azuredevops" => "azure-devops",
        other => other,
    };
    let name = name.replace('-', "_");
    JOIN_METHODS.iter().copied().find(|m| *m == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::LintOptions;
    use crate::lint::rules::test_findings as findings;

    #[test]
    fn well_formed_uris_pass() {
        for uri in [
            "tbot+proxy+bound-keypair://bot-ci-0a6f812a:abc123@example.teleport.sh:443",
            "tbot+auth+boundkeypair://token:param@example.com",
            "tbot+proxy+token://asdf@example.com:1234",
            "tbot+proxy+terraform-cloud://t@h:443",
        ] {
            assert_eq!(problem(uri), Ok(()), "{uri}");
        }
    }

    #[test]
    fn each_malformed_part_is_named() {
        for (uri, words) in [
            (
                "https://example.com",
                "unsupported joining URI scheme: \"https\"",
            ),
            ("example.com:443", "has no `scheme://`"),
            (
                "tbot+proxy://t@h",
                "unsupported joining URI scheme: \"tbot+proxy\"",
            ),
            ("tctl+proxy+token://t@h", "scheme prefix must be"),
            ("tbot+foo+token://t@h", "address kind must be one of"),
            ("tbot+proxy+bar://t@h", "unsupported join method \"bar\""),
            (
                "tbot+proxy+bound-keypair://example.com:443",
                "join token in user field",
            ),
            (
                "tbot+proxy+bound-keypair://:secret@example.com",
                "join token in user field",
            ),
            ("tbot+proxy+bound-keypair://t:s@", "no host"),
        ] {
            let got = problem(uri).expect_err(uri);
            assert!(got.contains(words), "{uri}: {got}");
        }
    }

    #[test]
    fn the_finding_never_shows_the_secret() {
        let yaml =
            "version: v2\njoin_uri: tbot+proxy+bound-keypair://:s3cretvalue@example.com:443\n";
        let found = findings(yaml, &LintOptions::default(), "join-uri-malformed");
        assert_eq!(found.len(), 1);
        assert!(
            !found[0].message.contains("s3cretvalue"),
            "{}",
            found[0].message
        );
        let fine =
            "version: v2\njoin_uri: tbot+proxy+bound-keypair://t:s3cretvalue@example.com:443\n";
        assert!(findings(fine, &LintOptions::default(), "join-uri-malformed").is_empty());
    }
}
