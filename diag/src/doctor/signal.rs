//! What one log line says: the signals (generation mismatch, lock, expiry, ...) it carries and
//! the names (bot, database, login, destination) it gives. Only lines holding a signature get here.

use memchr::memmem;
use std::sync::LazyLock;

/// The signature strings the scanner looks for. A line holding none of them is never parsed.
/// Each era's mismatch wording contains `cert generation mismatch`; the escaped `database \"`
/// form is how Go's `%q` and JSON logs print the same message, and `database &#34;` how tbot's
/// HTML-escaped error reports do (lines are decoded before they are classified, but the scan
/// runs on the bytes as written).
pub const SIGNATURES: [&str; 39] = [
    "cert generation mismatch",
    "lock targeting",
    "has been locked due to",
    "access denied",
    "Identity has expired",
    "bad certificate",
    "unable to authenticate",
    "Successfully renewed impersonated certificates",
    "Successfully loaded bot identity",
    "onboarding config ignored",
    "database \"",
    "database \\\"",
    "database &#34;",
    "database &quot;",
    "must be a directory",
    "Failed to ping proxy",
    "/webapi/find",
    "IP SANs",
    "token expired or not found",
    "already been issued a renewable certificate",
    "All retry attempts exhausted",
    "missing identity groups",
    "ssh -F ",
    "tsh ssh ",
    "Authenticating to ",
    "through reverse tunnel",
    "no rejoins remaining",
    "no recovery attempts remaining",
    "join state verification failed",
    "previous join state is required",
    "cannot perform first bound keypair join",
    "a valid registration secret is required",
    "bad backend state",
    "either an initial public key or registration secret",
    "could not lookup signer for public key",
    "public key may not be reused after rotation",
    "static private keys do not support automatic rotation",
    "client requested join method",
    "Bot joins via the token",
];

/// Which check of [`classify`] each signature enables, so a line runs only the checks its
/// signatures call for (a bit per check).
const CHECKS: [u32; 39] = [
    MISMATCH,
    LOCK,
    LOCK,
    DENIED,
    EXPIRED,
    BAD_CERT,
    SSH_AUTH,
    IMPERSONATED,
    LOADED,
    ONBOARDING,
    DATABASE,
    DATABASE,
    DATABASE,
    DATABASE,
    EXEC_PLUGIN,
    PING,
    WEBAPI,
    IP_SANS,
    TOKEN,
    ISSUED,
    RETRIES,
    GROUPS,
    SSH_LOGIN,
    SSH_LOGIN,
    SSH_LOGIN,
    TUNNEL,
    BOUND_KEYPAIR,
    BOUND_KEYPAIR,
    BOUND_KEYPAIR,
    BOUND_KEYPAIR,
    BOUND_KEYPAIR,
    BOUND_KEYPAIR,
    BOUND_KEYPAIR,
    BOUND_KEYPAIR,
    BOUND_KEYPAIR,
    BOUND_KEYPAIR,
    BOUND_KEYPAIR,
    JOIN_METHOD,
    LOCK,
];
const MISMATCH: u32 = 1;
const LOCK: u32 = 1 << 1;
const DENIED: u32 = 1 << 2;
const EXPIRED: u32 = 1 << 3;
const BAD_CERT: u32 = 1 << 4;
const SSH_AUTH: u32 = 1 << 5;
const IMPERSONATED: u32 = 1 << 6;
const LOADED: u32 = 1 << 7;
const ONBOARDING: u32 = 1 << 8;
const DATABASE: u32 = 1 << 9;
const EXEC_PLUGIN: u32 = 1 << 10;
const PING: u32 = 1 << 11;
const WEBAPI: u32 = 1 << 12;
const IP_SANS: u32 = 1 << 13;
const TOKEN: u32 = 1 << 14;
const ISSUED: u32 = 1 << 15;
const RETRIES: u32 = 1 << 16;
const GROUPS: u32 = 1 << 17;
const SSH_LOGIN: u32 = 1 << 18;
const TUNNEL: u32 = 1 << 19;
const BOUND_KEYPAIR: u32 = 1 << 20;
const JOIN_METHOD: u32 = 1 << 21;

/// The checks to run for a line in which the signatures numbered `found` occur.
pub(crate) fn checks_for(found: impl Iterator<Item = usize>) -> u32 {
    found.fold(0, |mask, i| mask | CHECKS.get(i).copied().unwrap_or(0))
}

/// Which release family printed a generation-mismatch error (teleport-behaviors.md §0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MismatchEra {
    /// v9–v15: `renewable cert generation mismatch: stored=S, presented=P`, the bot user is locked.
    Legacy,
    /// v16–v18: `renewable cert generation mismatch for bot NAME/UUID: ...`, the bot user is locked.
    BotInstance,
    /// Newest: `cert generation mismatch for bot NAME/UUID: ...`, the instance or join token is locked.
    Newest,
    /// Newest, when the instance record is gone: `... instance not found, presented=P`.
    NewestInstanceMissing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signal {
    GenerationMismatch {
        bot: Option<String>,
        instance: Option<String>,
        era: MismatchEra,
        stored: Option<String>,
        presented: Option<String>,
    },
    Lock {
        bot: Option<String>,
        /// The lock target as `tctl get locks` prints it, e.g. `user: bot-example`.
        target: Option<String>,
        generation: bool,
    },
    AccessDenied,
    RbacDenied {
        verb: String,
        resource: String,
    },
    IdentityExpired,
    BadCertificate,
    OnboardingIgnored,
    BotIdentityLoaded {
        bot: Option<String>,
    },
    SshUnableToAuthenticate,
    SshLogin {
        login: String,
    },
    Impersonated {
        destination: String,
        roles: Vec<String>,
        principals: Vec<String>,
    },
    DatabaseNotFound {
        db: String,
    },
    ExecPluginNeedsDirectory {
        secret: Option<String>,
    },
    ProxyPingFailed,
    ProxyUnreachable {
        url: Option<String>,
    },
    IpSans {
        host: Option<String>,
    },
    TokenInvalid,
    AlreadyIssued {
        bot: Option<String>,
    },
    RetriesExhausted,
    MissingIdentityGroups,
    /// tbot reached the proxy but could not dial the address it then used for auth: with
    /// `proxy_server`, the one the proxy advertises (`failed dial to auth server through reverse
    /// tunnel: dial tcp …`, lib/auth/authclient/authclient.go `Connect`).
    TunnelDialFailed {
        addr: Option<String>,
    },
    /// A bound-keypair join refused (see [`BkRefusal`]); the token and bot when the line names them.
    BoundKeypair {
        refusal: BkRefusal,
        token: Option<String>,
        bot: Option<String>,
    },
    /// `client requested join method X, provision token only supports method Y` (lib/join's
    /// `checkJoinMethod`): tbot.yaml's join_method does not match the token's.
    JoinMethodMismatch {
        requested: Option<String>,
        supported: Option<String>,
    },
}

/// A bound-keypair refusal, by the wording Teleport uses for it: the auth service's
/// (lib/auth/join_bound_keypair.go, lib/join/boundkeypair/boundkeypair.go) or tbot's
/// (lib/join/joinclient/join_boundkeypair.go, lib/tbot's bound-keypair client state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum BkRefusal {
    /// Recovery in mode standard with `recovery_count >= recovery.limit`.
    NoRejoins,
    /// Onboarding in mode standard with `recovery_count >= recovery.limit`.
    NoRecoveryAttempts,
    /// What the client sees for any join-state failure (the auth service may also lock the token).
    JoinStateFailed,
    /// The auth log's reason when the client sent no join state although one was required.
    JoinStateMissing,
    /// A bot with valid certificates met a token that has no bound key (status wiped).
    FirstJoinWithCredentials,
    /// Onboarding by secret without the right secret (also: the token was re-created while the
    /// bot holds join state, so it no longer sends its secret).
    SecretRequired,
    /// The status has a bound key but no bound bot instance.
    BadBackendState,
    /// A token with neither an initial public key nor a registration secret.
    NoOnboarding,
    /// tbot holds no private key for the public key the auth service challenges.
    SignerNotFound,
    /// A renewal by joining again (tbot renews a bound-keypair bot that way) found its token
    /// gone: it was deleted. Not in [`BkRefusal::WORDINGS`]: the same words refuse a one-time
    /// token, which only a renewal line tells apart.
    TokenDeleted,
    /// A rotation answered with the same key.
    KeyReused,
    /// `rotate_after` asked a static-key bot to rotate (tbot's StaticClientState wording).
    StaticRotation,
}

/// A join refused for a token that does not exist (any join method).
const TOKEN_NOT_FOUND: &str = "token expired or not found";
/// tbot's line when a renewal fails (tbot/renew.go).
const RENEW_FAILED: &str = "Failed to renew bot identity";
/// The join method a line names (tbot's `join_method` field).
const BOUND_KEYPAIR_METHOD: &str = "bound_keypair";

impl BkRefusal {
    /// Each refusal and the words that show it, in the order they are tried.
    const WORDINGS: [(BkRefusal, &'static str); 11] = [
        (BkRefusal::NoRejoins, "no rejoins remaining"),
        (
            BkRefusal::NoRecoveryAttempts,
            "no recovery attempts remaining",
        ),
        (
            BkRefusal::JoinStateMissing,
            "previous join state is required but was not provided",
        ),
        (BkRefusal::JoinStateFailed, "join state verification failed"),
        (
            BkRefusal::FirstJoinWithCredentials,
            "cannot perform first bound keypair join with existing credentials",
        ),
        (
            BkRefusal::SecretRequired,
            "a valid registration secret is required",
        ),
        (
            BkRefusal::BadBackendState,
            "bad backend state, please recreate the join token",
        ),
        (
            BkRefusal::NoOnboarding,
            "either an initial public key or registration secret is required",
        ),
        (
            BkRefusal::SignerNotFound,
            "could not lookup signer for public key",
        ),
        (
            BkRefusal::KeyReused,
            "public key may not be reused after rotation",
        ),
        (
            BkRefusal::StaticRotation,
            "static private keys do not support automatic rotation",
        ),
    ];

    /// The words Teleport uses for this refusal.
    pub(crate) fn wording(self) -> &'static str {
        if self == BkRefusal::TokenDeleted {
            return TOKEN_NOT_FOUND;
        }
        BkRefusal::WORDINGS
            .iter()
            .find(|(refusal, _)| *refusal == self)
            .map_or("", |(_, words)| words)
    }

    /// The first refusal whose words `text` holds: a wrapped error repeats the outer words, the
    /// innermost cause is the one listed first.
    fn find(text: &str) -> Option<BkRefusal> {
        BkRefusal::WORDINGS
            .iter()
            .find(|(_, words)| text.contains(words))
            .map(|(refusal, _)| *refusal)
    }

    /// Whether this refusal is a failed join-state check (S9, or S12 across a fleet).
    pub(crate) fn is_join_state(self) -> bool {
        matches!(
            self,
            BkRefusal::JoinStateFailed | BkRefusal::JoinStateMissing
        )
    }
}

impl Signal {
    /// A small stable number per kind, used to key the evidence store.
    pub(crate) fn kind(&self) -> u8 {
        match self {
            Signal::GenerationMismatch { .. } => 0,
            Signal::Lock { .. } => 1,
            Signal::AccessDenied => 2,
            Signal::RbacDenied { .. } => 3,
            Signal::IdentityExpired => 4,
            Signal::BadCertificate => 5,
            Signal::OnboardingIgnored => 6,
            Signal::BotIdentityLoaded { .. } => 7,
            Signal::SshUnableToAuthenticate => 8,
            Signal::SshLogin { .. } => 9,
            Signal::Impersonated { .. } => 10,
            Signal::DatabaseNotFound { .. } => 11,
            Signal::ExecPluginNeedsDirectory { .. } => 12,
            Signal::ProxyPingFailed => 13,
            Signal::ProxyUnreachable { .. } => 14,
            Signal::IpSans { .. } => 15,
            Signal::TokenInvalid => 16,
            Signal::AlreadyIssued { .. } => 17,
            Signal::RetriesExhausted => 18,
            Signal::MissingIdentityGroups => 19,
            Signal::TunnelDialFailed { .. } => 20,
            Signal::BoundKeypair { .. } => 21,
            Signal::JoinMethodMismatch { .. } => 22,
        }
    }

    /// The bot this line names by itself, if any.
    pub(crate) fn bot(&self) -> Option<&str> {
        match self {
            Signal::GenerationMismatch { bot, .. }
            | Signal::Lock { bot, .. }
            | Signal::BotIdentityLoaded { bot }
            | Signal::AlreadyIssued { bot }
            | Signal::BoundKeypair { bot, .. } => bot.as_deref(),
            _ => None,
        }
    }

    /// Whether only tbot (or the auth service about a bot) writes this line: it shows that the
    /// input is a bot's.
    pub(crate) fn is_tbots(&self) -> bool {
        match self {
            Signal::GenerationMismatch { .. }
            | Signal::Impersonated { .. }
            | Signal::BotIdentityLoaded { .. }
            | Signal::OnboardingIgnored
            | Signal::IdentityExpired
            | Signal::RetriesExhausted
            | Signal::ExecPluginNeedsDirectory { .. }
            | Signal::BoundKeypair { .. } => true,
            other => other.bot().is_some(),
        }
    }

    /// What distinguishes two signals of one kind for grouping (a bot, a database, ...).
    pub(crate) fn key(&self) -> String {
        match self {
            Signal::RbacDenied { verb, resource } => format!("{verb} {resource}"),
            Signal::SshLogin { login } => login.clone(),
            Signal::Impersonated { destination, .. } => destination.clone(),
            Signal::DatabaseNotFound { db } => db.clone(),
            Signal::ExecPluginNeedsDirectory { secret } => secret.clone().unwrap_or_default(),
            Signal::ProxyUnreachable { url } => url.clone().unwrap_or_default(),
            Signal::TunnelDialFailed { addr } => addr.clone().unwrap_or_default(),
            Signal::IpSans { host } => host.clone().unwrap_or_default(),
            Signal::BoundKeypair { token, bot, .. } => {
                token.clone().or_else(|| bot.clone()).unwrap_or_default()
            }
            other => other.bot().unwrap_or_default().to_string(),
        }
    }
}

/// Every signal `text` carries, in a fixed order. `text` is one line's message (for JSON logs the
/// message and its fields flattened to `key=value`); `checks` (from [`checks_for`]) says which
/// checks its signatures call for.
pub(crate) fn classify(text: &str, checks: u32) -> Vec<Signal> {
    let on = |check: u32| checks & check != 0;
    let mut out = Vec::new();
    if on(MISMATCH) {
        out.extend(mismatch(text));
    }
    if on(LOCK) {
        out.extend(lock(text));
    }
    if on(DENIED) {
        out.extend(access_denied(text));
    }
    if on(EXPIRED) && text.contains("Identity has expired") {
        out.push(Signal::IdentityExpired);
    }
    if on(BAD_CERT) && text.contains("bad certificate") {
        out.push(Signal::BadCertificate);
    }
    if on(ONBOARDING) && text.contains("onboarding config ignored") {
        out.push(Signal::OnboardingIgnored);
    }
    if on(LOADED) && text.contains("Successfully loaded bot identity") {
        out.push(Signal::BotIdentityLoaded {
            bot: bracket_list(text, &ROLES)
                .iter()
                .find_map(|role| bot_from_user(role)),
        });
    }
    if on(SSH_AUTH) && text.contains("unable to authenticate") {
        out.push(Signal::SshUnableToAuthenticate);
    }
    if on(SSH_LOGIN)
        && let Some(login) = ssh_login(text)
    {
        out.push(Signal::SshLogin { login });
    }
    if on(IMPERSONATED) {
        out.extend(impersonated(text));
    }
    if on(DATABASE)
        && let Some(db) = database_not_found(text)
    {
        out.push(Signal::DatabaseNotFound { db });
    }
    if on(EXEC_PLUGIN) {
        out.extend(exec_plugin_needs_directory(text));
    }
    if on(PING) && text.contains("Failed to ping proxy") {
        out.push(Signal::ProxyPingFailed);
    }
    if on(WEBAPI) {
        out.extend(webapi_find(text));
    }
    if on(TUNNEL) {
        out.extend(tunnel_dial_failed(text));
    }
    if on(IP_SANS) && text.contains("doesn't contain any IP SANs") {
        out.push(Signal::IpSans {
            host: between(text, "cannot validate certificate for ", " because").map(clean_name),
        });
    }
    if on(TOKEN) && text.contains(TOKEN_NOT_FOUND) {
        // A renewal presents no one-time token; a bot that renews by joining again with its
        // token (bound_keypair, tbot v18+), or a bound-keypair join (whose token never expires
        // by itself), finds that token deleted.
        out.push(
            if text.contains(RENEW_FAILED) || text.contains(BOUND_KEYPAIR_METHOD) {
                Signal::BoundKeypair {
                    refusal: BkRefusal::TokenDeleted,
                    token: None,
                    bot: None,
                }
            } else {
                Signal::TokenInvalid
            },
        );
    }
    if on(ISSUED) && text.contains("already been issued a renewable certificate") {
        out.push(Signal::AlreadyIssued {
            bot: quoted_after(text, "user ").and_then(|user| bot_from_user(&user)),
        });
    }
    if on(RETRIES) && text.contains("All retry attempts exhausted") {
        out.push(Signal::RetriesExhausted);
    }
    if on(GROUPS) && text.contains("missing identity groups") {
        out.push(Signal::MissingIdentityGroups);
    }
    if on(BOUND_KEYPAIR)
        && let Some(refusal) = BkRefusal::find(text)
    {
        out.push(Signal::BoundKeypair {
            refusal,
            token: join_token_named(text),
            bot: bot_named(text),
        });
    }
    if on(JOIN_METHOD) {
        out.extend(join_method_mismatch(text));
    }
    out
}

/// The join token a bound-keypair line names: a structured field (`token=NAME`, also JSON's
/// `"token":"NAME"` once flattened), or a lock's `JoinToken:"NAME"` / `the token "NAME"`.
fn join_token_named(text: &str) -> Option<String> {
    quoted_after(text, "JoinToken:")
        .or_else(|| quoted_after(text, "the token "))
        .or_else(|| quoted_after(text, "join token "))
        .or_else(|| field(text, "token="))
        .map(|token| clean_name(&token))
        .and_then(non_empty)
}

/// The bot a bound-keypair line names: `bot=NAME`, `bot_name=NAME`, a lock message's
/// `by bot "NAME"`, or a bot user `bot-NAME` in quotes.
fn bot_named(text: &str) -> Option<String> {
    field(text, "bot_name=")
        .or_else(|| field(text, " bot="))
        .or_else(|| quoted_after(text, "by bot "))
        .map(|bot| clean_name(&bot))
        .and_then(non_empty)
        .or_else(|| quoted_after(text, "User:").and_then(|user| bot_from_user(&user)))
}

/// The value of `key` (which ends in `=`) up to the next space, without quotes.
fn field(text: &str, key: &str) -> Option<String> {
    let mut search = text;
    while let Some(at) = search.find(key) {
        let before = search[..at].chars().next_back();
        let rest = &search[at + key.len()..];
        // `join_token=` is a token too; `xtoken=` of another word is not.
        if key.starts_with(' ') || before.is_none_or(|c| !c.is_alphanumeric()) {
            let value = rest
                .trim_start_matches(['"', '\\'])
                .split([' ', '"', ',', ':', ';', '\\'])
                .next()
                .unwrap_or("");
            return non_empty(value.to_string());
        }
        search = rest;
    }
    None
}

fn join_method_mismatch(text: &str) -> Option<Signal> {
    const NEEDLE: &str = "client requested join method ";
    let rest = &text[text.find(NEEDLE)? + NEEDLE.len()..];
    let word = |s: &str| {
        let w = s.split([',', ' ', '"', '\\']).find(|w| !w.is_empty())?;
        non_empty(clean_name(w))
    };
    let requested = word(rest);
    let supported = rest
        .find("only supports method ")
        .and_then(|at| word(&rest[at + "only supports method ".len()..]));
    Some(Signal::JoinMethodMismatch {
        requested,
        supported,
    })
}

fn mismatch(text: &str) -> Option<Signal> {
    const NEEDLE: &str = "cert generation mismatch";
    let at = text.find(NEEDLE)?;
    let renewable = text[..at].ends_with("renewable ");
    let rest = &text[at + NEEDLE.len()..];
    let (bot, instance) = match rest.strip_prefix(" for bot ") {
        Some(named) => {
            let id = named.split(": ").next().unwrap_or("").trim();
            match id.rsplit_once('/') {
                Some((bot, instance)) => {
                    (non_empty(clean_name(bot)), non_empty(clean_name(instance)))
                }
                None => (non_empty(clean_name(id)), None),
            }
        }
        None => (None, None),
    };
    let era = match (renewable, bot.is_some()) {
        (true, false) => MismatchEra::Legacy,
        (true, true) => MismatchEra::BotInstance,
        (false, _) if rest.contains("instance not found") => MismatchEra::NewestInstanceMissing,
        (false, _) => MismatchEra::Newest,
    };
    Some(Signal::GenerationMismatch {
        bot,
        instance,
        era,
        stored: number_after(rest, "stored="),
        presented: number_after(rest, "presented="),
    })
}

fn lock(text: &str) -> Option<Signal> {
    if let Some(at) = text.find("lock targeting ") {
        let rest = &text[at + "lock targeting ".len()..];
        let end = rest.find(" is in force")?;
        let target = parse_lock_target(&rest[..end]);
        let message = &rest[end..];
        let bot = target
            .as_ref()
            .and_then(|(kind, value)| (kind == "user").then(|| bot_from_user(value)).flatten())
            .or_else(|| bot_from_lock_message(message));
        return Some(Signal::Lock {
            bot,
            target: target.map(|(kind, value)| format!("{kind}: {value}")),
            generation: message.contains("generation mismatch"),
        });
    }
    // The join-token lock's message on its own, as the auth service logs its creation.
    if text.contains("have been locked due to a certificate generation mismatch") {
        return Some(Signal::Lock {
            bot: bot_from_lock_message(text),
            target: quoted_after(text, "the token ")
                .map(|token| format!("join_token: {}", clean_name(&token))),
            generation: true,
        });
    }
    if text.contains("has been locked due to a certificate generation mismatch") {
        let bot = bot_from_lock_message(text);
        return Some(Signal::Lock {
            target: bot
                .as_ref()
                .map(|bot| format!("user: bot-{bot}"))
                .filter(|_| text.contains("The bot user")),
            bot,
            generation: true,
        });
    }
    None
}

/// `User:"bot-example"` (or with `\"`) → `("user", "bot-example")`.
fn parse_lock_target(raw: &str) -> Option<(String, String)> {
    let raw = raw.trim();
    let (field, value) = raw.split_once(':')?;
    let value = value.trim().replace("\\\"", "\"");
    let value = value.trim_matches('"').to_string();
    if value.is_empty() {
        return None;
    }
    let kind = match field.trim() {
        "User" => "user".to_string(),
        "Role" => "role".to_string(),
        "Login" => "login".to_string(),
        "Node" | "ServerID" => "server_id".to_string(),
        "MFADevice" => "mfa_device".to_string(),
        "WindowsDesktop" => "windows_desktop".to_string(),
        "AccessRequest" => "access_request".to_string(),
        "Device" => "device".to_string(),
        "BotInstanceID" => "bot_instance_id".to_string(),
        "JoinToken" => "join_token".to_string(),
        other => other.to_ascii_lowercase(),
    };
    Some((kind, value))
}

/// The bot named by a lock message: `The bot user "bot-X" ...` or `The bot instance X/UUID ...`.
fn bot_from_lock_message(text: &str) -> Option<String> {
    if let Some(user) = quoted_after(text, "The bot user ") {
        return bot_from_user(&user);
    }
    // Join-token locks: `... locked by bot "NAME" after ...` (join state) and `... mismatch by
    // NAME/UUID, ...` (generation), lib/auth/join_bound_keypair.go and lib/auth/bot.go.
    if let Some(bot) = quoted_after(text, "locked by bot ") {
        return non_empty(clean_name(&bot));
    }
    if let Some(at) = text.find("generation mismatch by ") {
        let id = text[at + "generation mismatch by ".len()..]
            .split([' ', ','])
            .next()?;
        let bot = id.rsplit_once('/').map_or(id, |(bot, _)| bot);
        return non_empty(clean_name(bot));
    }
    let rest = &text[text.find("The bot instance ")? + "The bot instance ".len()..];
    let id = rest.split_whitespace().next()?;
    let bot = id.rsplit_once('/').map_or(id, |(bot, _)| bot);
    non_empty(clean_name(bot))
}

fn access_denied(text: &str) -> Option<Signal> {
    let at = text.find("access denied")?;
    let rest = &text[at..];
    if let Some(verb) = quoted_after(rest, "to perform action ")
        && let Some(resource) = quoted_after(rest, "\" on ")
    {
        return Some(Signal::RbacDenied { verb, resource });
    }
    Some(Signal::AccessDenied)
}

fn impersonated(text: &str) -> Option<Signal> {
    // The most frequent signature line in a healthy log: its searcher is built once.
    const NEEDLE: &str = "Successfully renewed impersonated certificates for ";
    static FINDER: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(NEEDLE));
    let rest = &text[FINDER.find(text.as_bytes())? + NEEDLE.len()..];
    let destination = rest.split(',').next().unwrap_or("").trim();
    let destination = destination
        .strip_prefix("directory ")
        .unwrap_or(destination);
    Some(Signal::Impersonated {
        destination: clean_name(destination),
        roles: bracket_list(text, &ROLES),
        principals: bracket_list(text, &PRINCIPALS)
            .into_iter()
            .filter(|p| !p.starts_with("-teleport-"))
            .collect(),
    })
}

fn database_not_found(text: &str) -> Option<String> {
    let mut search = text;
    while let Some(at) = search.find("database ") {
        let rest = &search[at + "database ".len()..];
        if let Some((name, after)) = quoted(rest, "")
            && after
                .trim_start_matches(['\\', '"'])
                .starts_with(" not found")
        {
            return non_empty(clean_name(&name));
        }
        search = rest;
    }
    None
}

/// tbot's kubernetes output refusing a destination that is not a directory. Two wordings:
/// `Destination kubernetes_secret: NAME must be a directory` (tbot's template_kubernetes.go as
/// quoted in teleport issue #45078, 2024) and `... must be a directory in exec plugin mode`.
/// Newer tbots (service_kubernetes_output.go) turn the exec plugin off themselves and only log an
/// INFO line, which is no incident. Without the exec-plugin words only a kubernetes_secret
/// destination counts: "must be a directory" alone is said by many programs.
fn exec_plugin_needs_directory(text: &str) -> Option<Signal> {
    let at = text.find(" must be a directory")?;
    let head = &text[..at];
    let secret = head
        .rfind("kubernetes_secret: ")
        .map(|start| &head[start + "kubernetes_secret: ".len()..])
        .map(clean_name)
        .filter(|name| !name.is_empty());
    let exec_plugin = text[at..].starts_with(" must be a directory in exec plugin mode");
    (exec_plugin || secret.is_some()).then_some(Signal::ExecPluginNeedsDirectory { secret })
}

fn webapi_find(text: &str) -> Option<Signal> {
    let at = text.find("/webapi/find")?;
    const REASONS: &[&str] = &[
        "connection refused",
        "no such host",
        "i/o timeout",
        "network is unreachable",
        "no route to host",
        "connection reset",
    ];
    if !REASONS.iter().any(|reason| text.contains(reason)) {
        return None;
    }
    let head = &text[..at];
    let url = head
        .rfind("https://")
        .or_else(|| head.rfind("http://"))
        .map(|start| format!("{}/webapi/find", &head[start..]));
    Some(Signal::ProxyUnreachable { url })
}

/// A tunnel dial that failed after the proxy answered: the address it names, `lookup HOST` (a
/// name that does not resolve) or `dial tcp HOST:PORT`. When `/webapi/find` itself failed, the
/// proxy was not reached at all (S7's signature covers that).
fn tunnel_dial_failed(text: &str) -> Option<Signal> {
    const MARKER: &str = "failed dial to auth server through reverse tunnel";
    let rest = &text[text.find(MARKER)? + MARKER.len()..];
    if rest.contains("/webapi/find") || !rest.contains("dial tcp") {
        return None;
    }
    Some(Signal::TunnelDialFailed {
        addr: tunnel_dial_address(rest),
    })
}

fn tunnel_dial_address(rest: &str) -> Option<String> {
    let word = |after: &str| {
        rest.find(after).and_then(|at| {
            rest[at + after.len()..]
                .split([' ', ':', '"'])
                .next()
                .filter(|w| !w.is_empty())
                .map(str::to_string)
        })
    };
    if let Some(host) = word("lookup ") {
        return Some(host);
    }
    let at = rest.find("dial tcp ")? + "dial tcp ".len();
    let addr: String = rest[at..]
        .split(": ")
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    (!addr.is_empty()).then_some(addr)
}

/// The SSH login from a pasted command (`ssh -F cfg bob@host`, `tsh ssh -l bob host`) or from
/// OpenSSH's verbose `Authenticating to host:22 as 'bob'`.
fn ssh_login(text: &str) -> Option<String> {
    if let Some(rest) = text.split("Authenticating to ").nth(1)
        && let Some(login) = rest
            .split(" as '")
            .nth(1)
            .and_then(|r| r.split('\'').next())
    {
        return non_empty(login.to_string());
    }
    let start = text.find("ssh -F ").or_else(|| text.find("tsh ssh "))?;
    let words: Vec<&str> = text[start..].split_whitespace().skip(1).collect();
    let mut words = words.into_iter();
    // Options of ssh and tsh that take a value; their value is never the destination.
    const WITH_VALUE: &[&str] = &[
        "-F",
        "-i",
        "-o",
        "-p",
        "-J",
        "-L",
        "-R",
        "-D",
        "-E",
        "-b",
        "-c",
        "-m",
        "-S",
        "-W",
        "-w",
        "--proxy",
        "--user",
        "--cluster",
    ];
    let mut login = None;
    while let Some(word) = words.next() {
        if word == "ssh" {
            continue;
        }
        if word == "-l" || word == "--login" {
            login = words.next().map(str::to_string);
        } else if let Some(value) = word.strip_prefix("--login=") {
            login = Some(value.to_string());
        } else if WITH_VALUE.contains(&word) {
            words.next();
        } else if word.starts_with('-') {
            continue;
        } else {
            if let Some((user, _host)) = word.split_once('@') {
                login = Some(user.to_string());
            }
            break;
        }
    }
    login.as_deref().map(clean_name).and_then(non_empty)
}

static ROLES: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new("roles=["));
static PRINCIPALS: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new("principals=["));

/// `key=[a b c]` → `["a", "b", "c"]`, `open` finding `key=[`.
fn bracket_list(text: &str, open: &memmem::Finder) -> Vec<String> {
    let Some(at) = open.find(text.as_bytes()) else {
        return Vec::new();
    };
    let rest = &text[at + open.needle().len()..];
    let inner = rest.split(']').next().unwrap_or("");
    inner
        .split([' ', ','])
        .map(|item| item.trim_matches('"').trim())
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// The text of the double-quoted string right after `prefix` (quotes may be backslash-escaped).
fn quoted_after(text: &str, prefix: &str) -> Option<String> {
    quoted(text, prefix).map(|(value, _)| value)
}

/// Like [`quoted_after`], also giving the text after the closing quote.
fn quoted<'a>(text: &'a str, prefix: &str) -> Option<(String, &'a str)> {
    let at = text.find(prefix)?;
    let rest = text[at + prefix.len()..].trim_start_matches('\\');
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    let value = rest[..end].trim_end_matches('\\');
    Some((value.to_string(), &rest[end..]))
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let rest = &text[text.find(open)? + open.len()..];
    Some(&rest[..rest.find(close)?])
}

fn number_after(text: &str, prefix: &str) -> Option<String> {
    let rest = &text[text.find(prefix)? + prefix.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    non_empty(digits)
}

/// `bot-example` → `example`; users that are not bots give `None`.
pub(crate) fn bot_from_user(user: &str) -> Option<String> {
    user.strip_prefix(mwi_identity::BOT_PREFIX)
        .map(clean_name)
        .and_then(non_empty)
}

/// Names taken from logs are shown and put in commands: keep only what a name can hold, so a
/// mangled line cannot smuggle quotes, spaces or control characters into a suggested command.
fn clean_name(raw: &str) -> String {
    raw.trim()
        .trim_matches(|c| c == '"' || c == '\'' || c == '\\')
        .chars()
        .filter(|c| c.is_alphanumeric() || "-_.@:/[]".contains(*c))
        .take(128)
        .collect()
}

fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<Signal> {
        classify(text, u32::MAX)
    }

    #[test]
    fn every_check_has_a_signature() {
        let all_checks = checks_for(0..SIGNATURES.len());
        assert_eq!(all_checks, (JOIN_METHOD << 1) - 1);
    }

    #[test]
    fn legacy_mismatch_has_counters_but_no_bot() {
        let signals = all("ERROR: renewable cert generation mismatch: stored=3, presented=2");
        assert_eq!(
            signals,
            vec![Signal::GenerationMismatch {
                bot: None,
                instance: None,
                era: MismatchEra::Legacy,
                stored: Some("3".into()),
                presented: Some("2".into()),
            }]
        );
    }

    #[test]
    fn bot_instance_mismatch_names_bot_and_instance() {
        let signals = all(
            "renewable cert generation mismatch for bot example/5cee949f-5203-4f3b-9805-dac35d798a16: stored=3, presented=2",
        );
        let Signal::GenerationMismatch {
            bot, instance, era, ..
        } = &signals[0]
        else {
            panic!("expected a mismatch, got {signals:?}");
        };
        assert_eq!(bot.as_deref(), Some("example"));
        assert_eq!(
            instance.as_deref(),
            Some("5cee949f-5203-4f3b-9805-dac35d798a16")
        );
        assert_eq!(*era, MismatchEra::BotInstance);
    }

    #[test]
    fn newest_mismatch_without_instance_record() {
        let signals =
            all("cert generation mismatch for bot ci/abc: instance not found, presented=4");
        let Signal::GenerationMismatch { era, presented, .. } = &signals[0] else {
            panic!("expected a mismatch, got {signals:?}");
        };
        assert_eq!(*era, MismatchEra::NewestInstanceMissing);
        assert_eq!(presented.as_deref(), Some("4"));
    }

    #[test]
    fn lock_in_force_names_bot_from_user_target() {
        let signals = all(
            r#"[AUTH]      WARN lock targeting User:"bot-example" is in force: The bot user "bot-example" has been locked due to a certificate generation mismatch, possibly indicating a stolen certificate. auth/apiserver.go:224"#,
        );
        assert_eq!(
            signals,
            vec![Signal::Lock {
                bot: Some("example".into()),
                target: Some("user: bot-example".into()),
                generation: true,
            }]
        );
    }

    #[test]
    fn instance_lock_names_bot_from_message() {
        let signals = all(
            r#"lock targeting BotInstanceID:\"0a1b\" is in force: The bot instance ci/0a1b has been locked due to a certificate generation mismatch"#,
        );
        assert_eq!(
            signals,
            vec![Signal::Lock {
                bot: Some("ci".into()),
                target: Some("bot_instance_id: 0a1b".into()),
                generation: true,
            }]
        );
    }

    #[test]
    fn rbac_denial_names_verb_and_resource() {
        let signals = all(r#"access denied to perform action "read" on "workload_identity""#);
        assert_eq!(
            signals,
            vec![Signal::RbacDenied {
                verb: "read".into(),
                resource: "workload_identity".into()
            }]
        );
    }

    #[test]
    fn impersonated_renewal_lists_principals_without_internal_ones() {
        let signals = all(
            "INFO [TBOT]      Successfully renewed impersonated certificates for directory /opt/machine-id, valid: after=2022-07-21T21:49:26Z, before=2022-07-21T22:50:26Z, duration=1h1m0s | kind=tls, renewable=false, disallow-reissue=true, roles=[access], principals=[alice -teleport-internal-join], generation=0 tbot/renew.go:630",
        );
        assert_eq!(
            signals,
            vec![Signal::Impersonated {
                destination: "/opt/machine-id".into(),
                roles: vec!["access".into()],
                principals: vec!["alice".into()],
            }]
        );
    }

    #[test]
    fn ssh_command_gives_login() {
        assert_eq!(
            ssh_login("$ ssh -F /opt/machine-id/ssh_config bob@node.example.com").as_deref(),
            Some("bob")
        );
        assert_eq!(ssh_login("tsh ssh -l carol node").as_deref(), Some("carol"));
        assert_eq!(
            ssh_login("debug1: Authenticating to node:22 as 'dave'").as_deref(),
            Some("dave")
        );
    }

    #[test]
    fn database_name_in_plain_and_escaped_quotes() {
        assert_eq!(
            database_not_found(r#"ERROR: Failed to generate impersonated certs for directory /opt/machine-id: database "example" not found"#)
                .as_deref(),
            Some("example")
        );
        assert_eq!(
            database_not_found(r#""\tdatabase \"pg-prod\" not found""#).as_deref(),
            Some("pg-prod")
        );
        assert_eq!(database_not_found(r#"database "x" connected"#), None);
    }

    #[test]
    fn both_wordings_of_the_kubernetes_secret_refusal_are_s5() {
        let exec = "ERROR: Destination kubernetes_secret: identity-output must be a directory in exec plugin mode";
        // teleport issue #45078 (template_kubernetes.go:145).
        let older = "Original Error: *trace.BadParameterError Destination kubernetes_secret: my-cluster-secret must be a directory";
        let memory = "ERROR: Destination memory must be a directory in exec plugin mode";
        for (text, secret) in [
            (exec, Some("identity-output")),
            (older, Some("my-cluster-secret")),
            (memory, None),
        ] {
            assert_eq!(
                all(text),
                vec![Signal::ExecPluginNeedsDirectory {
                    secret: secret.map(str::to_string)
                }],
                "{text}"
            );
        }
    }

    #[test]
    fn other_directory_complaints_are_not_s5() {
        for text in [
            "error: output_path must be a directory",
            "Destination memory must be a directory",
            "INFO Kubernetes template will be rendered without exec plugin because destination is not a directory. Explicitly set `disable_exec_plugin: true` in the output to suppress this message destination:kubernetes_secret: out",
        ] {
            assert_eq!(all(text), vec![], "{text}");
        }
    }

    #[test]
    fn a_failed_tunnel_dial_names_the_advertised_address() {
        assert_eq!(
            all(
                "ERROR [TBOT] Failed to generate impersonated certs for directory /out: failed dial to auth server through reverse tunnel: dial tcp: lookup proxy.example.com: no such host"
            ),
            vec![Signal::TunnelDialFailed {
                addr: Some("proxy.example.com".into())
            }]
        );
        assert_eq!(
            all(
                "failed direct dial to auth server: x, failed dial to auth server through reverse tunnel: dial tcp 10.0.0.1:443: connect: connection refused"
            ),
            vec![Signal::TunnelDialFailed {
                addr: Some("10.0.0.1:443".into())
            }]
        );
        // The proxy itself did not answer: no advertised address was dialed.
        assert_eq!(
            all(
                "failed dial to auth server through reverse tunnel: Get \"https://p:443/webapi/find\": dial tcp 1.2.3.4:443: connect: connection refused"
            ),
            vec![Signal::ProxyUnreachable {
                url: Some("https://p:443/webapi/find".into())
            }]
        );
    }

    #[test]
    fn webapi_find_refusal_keeps_the_url() {
        let signals = all(
            r#"Original Error: *url.Error Get "https://teleport.example.com:443/webapi/find": dial tcp 1.2.3.4:443: connect: connection refused"#,
        );
        assert_eq!(
            signals,
            vec![Signal::ProxyUnreachable {
                url: Some("https://teleport.example.com:443/webapi/find".into())
            }]
        );
    }

    #[test]
    fn every_bound_keypair_wording_gives_its_refusal() {
        for (refusal, words) in BkRefusal::WORDINGS {
            let line =
                format!("WARN Failed to renew bot identity error:\"access denied: {words}\"");
            assert_eq!(
                classify(&line, BOUND_KEYPAIR),
                vec![Signal::BoundKeypair {
                    refusal,
                    token: None,
                    bot: None
                }],
                "{words}"
            );
            assert_eq!(refusal.wording(), words);
            // The words are among the scanner's signatures, and only that check runs for them.
            let found = SIGNATURES
                .iter()
                .enumerate()
                .filter(|(_, sig)| line.contains(**sig))
                .map(|(i, _)| i);
            assert_eq!(checks_for(found) & BOUND_KEYPAIR, BOUND_KEYPAIR, "{words}");
            assert_eq!(classify(&line, !BOUND_KEYPAIR & !DENIED), vec![]);
        }
    }

    #[test]
    fn a_missing_token_in_a_renewal_is_a_deleted_bound_keypair_token_and_in_a_join_a_bad_token() {
        let renewal = r#"ERROR [TBOT]      Failed to renew bot identity: "" can not join the cluster with role "Bot", token expired or not found error:"auth API: access denied [00]" tbot/renew.go:421"#;
        let refusals: Vec<BkRefusal> = all(renewal)
            .into_iter()
            .filter_map(|s| match s {
                Signal::BoundKeypair { refusal, .. } => Some(refusal),
                _ => None,
            })
            .collect();
        assert_eq!(refusals, [BkRefusal::TokenDeleted]);
        assert_eq!(refusals[0].wording(), "token expired or not found");
        let bound = r#"ERROR [TBOT]      Failed to join the cluster with the token: "" can not join the cluster with role "Bot", token expired or not found join_method:bound_keypair"#;
        assert!(
            all(bound).iter().any(|s| matches!(
                s,
                Signal::BoundKeypair {
                    refusal: BkRefusal::TokenDeleted,
                    ..
                }
            )),
            "{:?}",
            all(bound)
        );
        let join = r#"ERROR [TBOT]      Failed to join the cluster with the token: "" can not join the cluster with role "Bot", token expired or not found join_method:token"#;
        assert!(all(join).contains(&Signal::TokenInvalid), "{:?}", all(join));
        assert!(
            !all(join)
                .iter()
                .any(|s| matches!(s, Signal::BoundKeypair { .. })),
            "{:?}",
            all(join)
        );
    }

    #[test]
    fn the_auth_logs_reason_wins_over_the_clients_words() {
        let line =
            "join state verification failed: previous join state is required but was not provided";
        let [Signal::BoundKeypair { refusal, .. }] = all(line)[..] else {
            panic!("{:?}", all(line));
        };
        assert_eq!(refusal, BkRefusal::JoinStateMissing);
        assert!(refusal.is_join_state());
        assert!(BkRefusal::JoinStateFailed.is_join_state());
        assert!(!BkRefusal::NoRejoins.is_join_state());
        assert!(!BkRefusal::SignerNotFound.is_join_state());
    }

    #[test]
    fn a_bound_keypair_line_names_its_token_and_bot() {
        let token = |text: &str| join_token_named(text);
        assert_eq!(
            token("failed token=bot-a-1 reason=x").as_deref(),
            Some("bot-a-1")
        );
        assert_eq!(
            token("failed join_token=bot-a-2").as_deref(),
            Some("bot-a-2")
        );
        assert_eq!(
            token(r#"lock targeting JoinToken:\"t-3\" is in force"#).as_deref(),
            Some("t-3")
        );
        assert_eq!(
            token(r#"The join token "t-4" has been locked"#).as_deref(),
            Some("t-4")
        );
        assert_eq!(token("failed xtoken=nope"), None);
        assert_eq!(
            token(r#"locked via the token "t-5" have"#).as_deref(),
            Some("t-5")
        );
        assert_eq!(token("token=t-6").as_deref(), Some("t-6"));
        assert_eq!(
            field(r#"a token=\"q-1\" b"#, "token=").as_deref(),
            Some("q-1")
        );
        assert_eq!(
            field("a xtoken=1 token=q-2", "token=").as_deref(),
            Some("q-2")
        );
        assert_eq!(field("token=", "token="), None);
        assert_eq!(token("no rejoins remaining"), None);
        assert_eq!(
            bot_named("failed bot_name=web token=t").as_deref(),
            Some("web")
        );
        assert_eq!(bot_named("failed token=t bot=db").as_deref(), Some("db"));
        assert_eq!(
            bot_named(r#"has been locked by bot "ci" after"#).as_deref(),
            Some("ci")
        );
        assert_eq!(
            bot_named(r#"lock targeting User:"bot-ops" is"#).as_deref(),
            Some("ops")
        );
        assert_eq!(bot_named("robot=r2d2"), None);
    }

    #[test]
    fn join_token_locks_name_token_and_bot() {
        assert_eq!(
            all(
                r#"lock targeting JoinToken:"bot-ci-1" is in force: The join token "bot-ci-1" has been locked by bot "ci" after a client failed to verify its join state, possibly indicating a stolen keypair."#
            ),
            vec![Signal::Lock {
                bot: Some("ci".into()),
                target: Some("join_token: bot-ci-1".into()),
                generation: false,
            }]
        );
        // lib/auth/bot.go's lock message for bound-keypair certificates, on its own.
        assert_eq!(
            all(
                r#"Bot joins via the token "bot-web-2" have been locked due to a certificate generation mismatch by web/7f7a, possibly indicating a stolen certificate."#
            ),
            vec![Signal::Lock {
                bot: Some("web".into()),
                target: Some("join_token: bot-web-2".into()),
                generation: true,
            }]
        );
    }

    #[test]
    fn join_method_mismatch_names_both_methods() {
        assert_eq!(
            all(
                "client requested join method token, provision token only supports method bound_keypair"
            ),
            vec![Signal::JoinMethodMismatch {
                requested: Some("token".into()),
                supported: Some("bound_keypair".into()),
            }]
        );
        assert_eq!(
            all("client requested join method iam"),
            vec![Signal::JoinMethodMismatch {
                requested: Some("iam".into()),
                supported: None,
            }]
        );
    }

    #[test]
    fn names_cannot_carry_shell_characters() {
        assert_eq!(
            bot_from_user("bot-ex;rm -rf $HOME").as_deref(),
            Some("exrm-rfHOME")
        );
    }
}
