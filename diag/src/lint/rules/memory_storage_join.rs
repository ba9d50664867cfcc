//! `memory-storage-join`: memory storage loses the identity at restart; a one-time token cannot
//! join again (error) and a bound keypair spends a recovery each time (warning).

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context, Storage};

pub(crate) const RULE: Rule = Rule {
    id: "memory-storage-join",
    severities: &[Severity::Error, Severity::Warning],
    incident: None,
    doc: "memory storage with a join method that cannot join again after a restart (error for `token`, warning for `bound_keypair`)",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let Storage::Memory(entry) = context.storage else {
        return;
    };
    let config = &context.config;
    let (severity, what) = match config.join_method() {
        Some("token") => (Severity::Error, "a one-time token cannot join again"),
        Some("bound_keypair") => (
            Severity::Warning,
            "the bound keypair is lost and each restart spends a recovery",
        ),
        _ => return,
    };
    let method = config.join_method().unwrap_or("");
    let message = format!(
        "`storage` is memory with `join_method: {method}`: the identity is lost when tbot restarts, and {what}"
    );
    checker
        .add_as(&RULE, severity, entry.key_span.start, "storage", message)
        .fix = Some("use `storage: {type: directory, path: ...}`".to_string());
}
