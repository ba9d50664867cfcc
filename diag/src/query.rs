//! The bot instance query language (`bots instances ls --query`, `ListBotInstancesV2`'s
//! `filter.query`): Teleport's predicate language as its bot instance parser defines it, parsed
//! and type-checked up front, then evaluated per instance without allocating.
//!
//! Teleport parses these with vulcand/predicate on Go's expression syntax (so syntax errors read
//! like Go's, `1:COL: expected ')', found 'EOF'`), with the names of
//! lib/auth/machineid/machineidv1/expression (`spec.bot_name`,
//! `status.latest_heartbeat.version`, ...) and the version functions `older_than`,
//! `newer_than`, `between` (from inclusive, to exclusive) and `exact_version`, compared as
//! semantic versions. mwictl also accepts the short names of Teleport's unified filter
//! (`version`, `hostname`, `name`) and `contains(TEXT, PART)`.

use std::cmp::Ordering;
use std::fmt;

/// What a query can ask about one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `name`, `metadata.name`: the instance ID (the resource's name).
    Name,
    /// `spec.bot_name`, `bot_name`.
    BotName,
    /// `spec.instance_id`, `instance_id`.
    InstanceId,
    /// `status.latest_heartbeat.hostname`, `hostname`.
    Hostname,
    /// `status.latest_heartbeat.version`, `version`.
    Version,
    /// `status.latest_heartbeat.os`.
    Os,
    /// `status.latest_heartbeat.architecture`.
    Architecture,
    /// `status.latest_heartbeat.one_shot` (a boolean).
    OneShot,
    /// `status.latest_authentication.join_method`, `join_method`.
    JoinMethod,
}

/// Every name a query may use, and what it reads.
const NAMES: &[(&str, Field)] = &[
    ("name", Field::Name),
    ("metadata.name", Field::Name),
    ("spec.bot_name", Field::BotName),
    ("bot_name", Field::BotName),
    ("spec.instance_id", Field::InstanceId),
    ("instance_id", Field::InstanceId),
    ("status.latest_heartbeat.hostname", Field::Hostname),
    ("hostname", Field::Hostname),
    ("status.latest_heartbeat.version", Field::Version),
    ("version", Field::Version),
    ("status.latest_heartbeat.os", Field::Os),
    ("status.latest_heartbeat.architecture", Field::Architecture),
    ("status.latest_heartbeat.one_shot", Field::OneShot),
    (
        "status.latest_authentication.join_method",
        Field::JoinMethod,
    ),
    ("join_method", Field::JoinMethod),
];

/// The names a query may use, for help and error hints.
pub fn field_names() -> impl Iterator<Item = &'static str> {
    NAMES.iter().map(|(n, _)| *n)
}

/// The functions a query may call.
pub const FUNCTIONS: &[&str] = &[
    "older_than",
    "newer_than",
    "between",
    "exact_version",
    "contains",
];

/// The values of one instance that a query reads; empty strings for what it has not reported.
#[derive(Debug, Clone, Copy, Default)]
pub struct Instance<'a> {
    pub name: &'a str,
    pub bot_name: &'a str,
    pub instance_id: &'a str,
    pub hostname: &'a str,
    pub version: &'a str,
    pub os: &'a str,
    pub architecture: &'a str,
    pub one_shot: bool,
    pub join_method: &'a str,
}

/// Why a query was refused: where (a 1-based column, as Go's parser counts it) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("empty expression")]
    Empty,
    #[error("the query is {bytes} bytes long; the most is {MAX_LEN}")]
    TooLong { bytes: usize },
    /// Go's `line:column: message`; a query is one line.
    #[error("1:{column}: {message}")]
    Syntax { column: usize, message: String },
}

impl QueryError {
    /// The 1-based column the error points at (none for an empty query).
    pub fn column(&self) -> Option<usize> {
        match self {
            QueryError::Empty | QueryError::TooLong { .. } => None,
            QueryError::Syntax { column, .. } => Some(*column),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    OlderThan,
    NewerThan,
    Between,
    ExactVersion,
    Contains,
}

impl Func {
    fn parse(name: &str) -> Option<Func> {
        Some(match name {
            "older_than" => Func::OlderThan,
            "newer_than" => Func::NewerThan,
            "between" => Func::Between,
            "exact_version" => Func::ExactVersion,
            "contains" => Func::Contains,
            _ => return None,
        })
    }

    fn arity(self) -> usize {
        match self {
            Func::Between => 3,
            _ => 2,
        }
    }

    /// Whether the arguments are versions (every one but `contains`).
    fn versions(self) -> bool {
        self != Func::Contains
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    Text(String),
    Bool(bool),
    Field(Field),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// Left, right, `==` (else `!=`), whether both sides are true/false (else text).
    Eq(Box<Expr>, Box<Expr>, bool, bool),
    Call(Func, Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Text,
    Bool,
}

/// A parsed, type-checked query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    expr: Expr,
}

// ---- lexing ----

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    Dot,
    And,
    Or,
    Not,
    EqEq,
    NotEq,
    Eof,
}

impl Tok {
    /// As Go's parser names a token in "found ..." messages.
    fn describe(&self) -> String {
        match self {
            Tok::Ident(name) => name.clone(),
            Tok::Str(_) => "STRING".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::Dot => "'.'".into(),
            Tok::And => "'&&'".into(),
            Tok::Or => "'||'".into(),
            Tok::Not => "'!'".into(),
            Tok::EqEq => "'=='".into(),
            Tok::NotEq => "'!='".into(),
            Tok::Eof => "'EOF'".into(),
        }
    }
}

struct Token {
    tok: Tok,
    /// Byte offset in the query.
    at: usize,
}

fn column(text: &str, at: usize) -> usize {
    text.get(..at).map_or(at, |s| s.chars().count()) + 1
}

fn syntax(text: &str, at: usize, message: impl Into<String>) -> QueryError {
    QueryError::Syntax {
        column: column(text, at),
        message: message.into(),
    }
}

fn lex(text: &str) -> Result<Vec<Token>, QueryError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let tok = match c {
            c if c.is_whitespace() => continue,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            '.' => Tok::Dot,
            '&' | '|' | '=' => {
                if chars.next_if(|(_, n)| *n == c).is_none() {
                    return Err(syntax(
                        text,
                        at,
                        format!("operator {c:?} is not supported; use {c}{c}"),
                    ));
                }
                match c {
                    '&' => Tok::And,
                    '|' => Tok::Or,
                    _ => Tok::EqEq,
                }
            }
            '!' => {
                if chars.next_if(|(_, n)| *n == '=').is_some() {
                    Tok::NotEq
                } else {
                    Tok::Not
                }
            }
            '"' => Tok::Str(quoted(text, at, &mut chars)?),
            '`' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some((_, '`')) => break,
                        Some((_, c)) => s.push(c),
                        None => return Err(syntax(text, at, "raw string literal not terminated")),
                    }
                }
                Tok::Str(s)
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut name = String::from(c);
                while let Some((_, n)) = chars.next_if(|(_, n)| n.is_alphanumeric() || *n == '_') {
                    name.push(n);
                }
                Tok::Ident(name)
            }
            c => {
                return Err(syntax(
                    text,
                    at,
                    format!("illegal character U+{:04X} {c:?}", u32::from(c)),
                ));
            }
        };
        tokens.push(Token { tok, at });
    }
    tokens.push(Token {
        tok: Tok::Eof,
        at: text.len(),
    });
    Ok(tokens)
}

/// A double-quoted string with Go's common escapes; `start` is the opening quote.
fn quoted(
    text: &str,
    start: usize,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<String, QueryError> {
    let mut s = String::new();
    loop {
        match chars.next() {
            Some((_, '"')) => return Ok(s),
            Some((at, '\\')) => match chars.next() {
                Some((_, c @ ('"' | '\\'))) => s.push(c),
                Some((_, 'n')) => s.push('\n'),
                Some((_, 't')) => s.push('\t'),
                Some((_, 'r')) => s.push('\r'),
                _ => return Err(syntax(text, at, "unknown escape sequence")),
            },
            Some((_, '\n')) | None => {
                return Err(syntax(text, start, "string literal not terminated"));
            }
            Some((_, c)) => s.push(c),
        }
    }
}

// ---- parsing ----

struct Parser<'t> {
    text: &'t str,
    tokens: Vec<Token>,
    pos: usize,
}

/// Nesting deeper than this is refused, so a hostile query cannot exhaust the stack.
const MAX_DEPTH: usize = 64;
/// Longer queries are refused: a chain of `&&` is as deep as it is long when evaluated.
pub const MAX_LEN: usize = 10_000;

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos.min(self.tokens.len() - 1)].tok
    }

    fn at(&self) -> usize {
        self.tokens[self.pos.min(self.tokens.len() - 1)].at
    }

    fn bump(&mut self) -> Tok {
        let tok = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        tok
    }

    fn error_here(&self, message: impl Into<String>) -> QueryError {
        syntax(self.text, self.at(), message)
    }

    fn expect(&mut self, want: Tok) -> Result<(), QueryError> {
        if *self.peek() == want {
            self.bump();
            Ok(())
        } else {
            Err(self.error_here(format!(
                "expected {}, found {}",
                want.describe(),
                self.peek().describe()
            )))
        }
    }

    fn or(&mut self, depth: usize) -> Result<(Expr, Type, usize), QueryError> {
        let mut left = self.and(depth)?;
        while *self.peek() == Tok::Or {
            let at = self.at();
            self.bump();
            let right = self.and(depth)?;
            left = (self.logical(left, right, "||", Expr::Or)?, Type::Bool, at);
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<(Expr, Type, usize), QueryError> {
        let mut left = self.comparison(depth)?;
        while *self.peek() == Tok::And {
            let at = self.at();
            self.bump();
            let right = self.comparison(depth)?;
            left = (self.logical(left, right, "&&", Expr::And)?, Type::Bool, at);
        }
        Ok(left)
    }

    fn logical(
        &self,
        left: (Expr, Type, usize),
        right: (Expr, Type, usize),
        op: &str,
        make: fn(Box<Expr>, Box<Expr>) -> Expr,
    ) -> Result<Expr, QueryError> {
        for side in [&left, &right] {
            if side.1 != Type::Bool {
                return Err(syntax(
                    self.text,
                    side.2,
                    format!("operator {op} needs true/false on both sides, not text"),
                ));
            }
        }
        Ok(make(Box::new(left.0), Box::new(right.0)))
    }

    fn comparison(&mut self, depth: usize) -> Result<(Expr, Type, usize), QueryError> {
        let left = self.unary(depth)?;
        let equal = match self.peek() {
            Tok::EqEq => true,
            Tok::NotEq => false,
            _ => return Ok(left),
        };
        let at = self.at();
        self.bump();
        let right = self.unary(depth)?;
        if left.1 != right.1 {
            return Err(syntax(
                self.text,
                at,
                format!(
                    "cannot compare {} with {}",
                    type_name(left.1),
                    type_name(right.1)
                ),
            ));
        }
        Ok((
            Expr::Eq(
                Box::new(left.0),
                Box::new(right.0),
                equal,
                left.1 == Type::Bool,
            ),
            Type::Bool,
            left.2,
        ))
    }

    fn unary(&mut self, depth: usize) -> Result<(Expr, Type, usize), QueryError> {
        if depth > MAX_DEPTH {
            return Err(self.error_here("expression nested too deeply"));
        }
        if *self.peek() == Tok::Not {
            let at = self.at();
            self.bump();
            let (inner, ty, _) = self.unary(depth + 1)?;
            if ty != Type::Bool {
                return Err(syntax(
                    self.text,
                    at,
                    "operator ! needs true/false, not text",
                ));
            }
            return Ok((Expr::Not(Box::new(inner)), Type::Bool, at));
        }
        self.primary(depth)
    }

    fn primary(&mut self, depth: usize) -> Result<(Expr, Type, usize), QueryError> {
        let at = self.at();
        match self.bump() {
            Tok::LParen => {
                let inner = self.or(depth + 1)?;
                self.expect(Tok::RParen)?;
                Ok((inner.0, inner.1, at))
            }
            Tok::Str(s) => Ok((Expr::Text(s), Type::Text, at)),
            Tok::Ident(first) => self.name(first, at, depth),
            other => Err(syntax(
                self.text,
                at,
                format!("expected operand, found {}", other.describe()),
            )),
        }
    }

    /// A dotted name: a field, `true`/`false`, a call `f(...)` or a method call `x.f(...)`.
    fn name(
        &mut self,
        first: String,
        at: usize,
        depth: usize,
    ) -> Result<(Expr, Type, usize), QueryError> {
        let mut parts = vec![first];
        while *self.peek() == Tok::Dot {
            self.bump();
            match self.bump() {
                Tok::Ident(part) => parts.push(part),
                other => {
                    return Err(syntax(
                        self.text,
                        self.tokens[self.pos.saturating_sub(1)].at,
                        format!(
                            "expected selector or type assertion, found {}",
                            other.describe()
                        ),
                    ));
                }
            }
        }
        if *self.peek() != Tok::LParen {
            let name = parts.join(".");
            return match name.as_str() {
                "true" => Ok((Expr::Bool(true), Type::Bool, at)),
                "false" => Ok((Expr::Bool(false), Type::Bool, at)),
                _ => match NAMES.iter().find(|(n, _)| *n == name) {
                    Some((_, field)) => Ok((Expr::Field(*field), field_type(*field), at)),
                    None => Err(syntax(
                        self.text,
                        at,
                        format!("unknown identifier: {name:?}"),
                    )),
                },
            };
        }
        let call_at = self.at();
        self.bump();
        let mut args = Vec::new();
        // A method call: `version.older_than("18.0.0")` is `older_than(version, "18.0.0")`.
        let whole = parts.join(".");
        let func_name = if Func::parse(&whole).is_some() || parts.len() == 1 {
            whole
        } else {
            let method = parts.pop().unwrap_or_default();
            let receiver = parts.join(".");
            match NAMES.iter().find(|(n, _)| *n == receiver) {
                Some((_, field)) => args.push((Expr::Field(*field), field_type(*field), at)),
                None => {
                    return Err(syntax(
                        self.text,
                        at,
                        format!("unknown identifier: {receiver:?}"),
                    ));
                }
            }
            method
        };
        let Some(func) = Func::parse(&func_name) else {
            return Err(syntax(
                self.text,
                at,
                format!(
                    "unsupported function: {func_name} (supported: {})",
                    FUNCTIONS.join(", ")
                ),
            ));
        };
        if *self.peek() != Tok::RParen {
            loop {
                args.push(self.or(depth + 1)?);
                if *self.peek() == Tok::Comma {
                    self.bump();
                    continue;
                }
                break;
            }
        }
        self.expect(Tok::RParen)?;
        if args.len() != func.arity() {
            return Err(syntax(
                self.text,
                call_at,
                format!(
                    "function {func_name} takes {} arguments, got {}",
                    func.arity(),
                    args.len()
                ),
            ));
        }
        for (expr, ty, arg_at) in &args {
            if *ty != Type::Text {
                return Err(syntax(
                    self.text,
                    *arg_at,
                    format!("function {func_name} takes text arguments, not true/false"),
                ));
            }
            if func.versions()
                && let Expr::Text(literal) = expr
                && Version::parse(literal).is_none()
            {
                return Err(syntax(
                    self.text,
                    *arg_at,
                    format!(
                        "{literal:?} is not a version (expected MAJOR.MINOR.PATCH, e.g. \"18.1.0\")"
                    ),
                ));
            }
        }
        let args = args.into_iter().map(|(e, _, _)| e).collect();
        Ok((Expr::Call(func, args), Type::Bool, at))
    }
}

fn field_type(field: Field) -> Type {
    if field == Field::OneShot {
        Type::Bool
    } else {
        Type::Text
    }
}

fn type_name(ty: Type) -> &'static str {
    match ty {
        Type::Text => "text",
        Type::Bool => "true/false",
    }
}

impl Query {
    /// Parses and type-checks `text`; the result must be true or false.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        if text.trim().is_empty() {
            return Err(QueryError::Empty);
        }
        if text.len() > MAX_LEN {
            return Err(QueryError::TooLong { bytes: text.len() });
        }
        let mut parser = Parser {
            text,
            tokens: lex(text)?,
            pos: 0,
        };
        let (expr, ty, at) = parser.or(0)?;
        if *parser.peek() != Tok::Eof {
            return Err(parser.error_here(format!(
                "expected 'EOF', found {}",
                parser.peek().describe()
            )));
        }
        if ty != Type::Bool {
            return Err(syntax(
                text,
                at,
                "the query must be true or false for an instance, not text (compare it with == or call a function)",
            ));
        }
        Ok(Query { expr })
    }

    /// Whether `instance` matches. A version that is not a semantic version (or is missing)
    /// matches no version function, as in Teleport.
    pub fn matches(&self, instance: &Instance<'_>) -> bool {
        eval(&self.expr, instance)
    }
}

fn text<'a>(expr: &'a Expr, i: &Instance<'a>) -> &'a str {
    match expr {
        Expr::Text(s) => s,
        Expr::Field(f) => match f {
            Field::Name => i.name,
            Field::BotName => i.bot_name,
            Field::InstanceId => i.instance_id,
            Field::Hostname => i.hostname,
            Field::Version => i.version,
            Field::Os => i.os,
            Field::Architecture => i.architecture,
            Field::JoinMethod => i.join_method,
            Field::OneShot => "",
        },
        _ => "",
    }
}

fn eval(expr: &Expr, i: &Instance<'_>) -> bool {
    match expr {
        Expr::Bool(b) => *b,
        Expr::Field(Field::OneShot) => i.one_shot,
        Expr::Text(_) | Expr::Field(_) => false,
        Expr::Not(inner) => !eval(inner, i),
        Expr::And(a, b) => eval(a, i) && eval(b, i),
        Expr::Or(a, b) => eval(a, i) || eval(b, i),
        Expr::Eq(a, b, equal, booleans) => {
            let same = if *booleans {
                eval(a, i) == eval(b, i)
            } else {
                text(a, i) == text(b, i)
            };
            same == *equal
        }
        Expr::Call(func, args) => {
            let arg = |n: usize| args.get(n).map_or("", |e| text(e, i));
            if *func == Func::Contains {
                return arg(0).contains(arg(1));
            }
            let version = |n: usize| Version::parse(arg(n));
            let (Some(v), Some(a)) = (version(0), version(1)) else {
                return false;
            };
            match func {
                Func::OlderThan => v < a,
                Func::NewerThan => v > a,
                Func::ExactVersion => v == a,
                Func::Between => version(2).is_some_and(|b| v >= a && v < b),
                Func::Contains => false,
            }
        }
    }
}

/// A semantic version as github.com/coreos/go-semver reads it (MAJOR.MINOR.PATCH, an optional
/// `-PRERELEASE` and `+BUILD`), ordered by semver precedence (build metadata ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Vec<String>,
}

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let core = text.split_once('+').map_or(text, |(core, _)| core);
        let (numbers, pre) = match core.split_once('-') {
            Some((numbers, pre)) => (numbers, Some(pre)),
            None => (core, None),
        };
        let mut parts = numbers.split('.');
        let mut number = || -> Option<u64> {
            let part = parts.next()?;
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let (major, minor, patch) = (number()?, number()?, number()?);
        if parts.next().is_some() {
            return None;
        }
        let pre = match pre {
            Some(pre) => {
                let ids: Vec<String> = pre.split('.').map(str::to_owned).collect();
                if ids.iter().any(|id| id.is_empty()) {
                    return None;
                }
                ids
            }
            None => Vec::new(),
        };
        Some(Version {
            major,
            minor,
            patch,
            pre,
        })
    }

    /// A string that sorts as the version does (for an index): fixed-width numbers, then the
    /// pre-release (a release, `~`, sorts after its pre-releases). Approximate only between
    /// pre-releases whose numeric identifiers differ in width.
    pub fn sort_key(&self) -> String {
        let pre = if self.pre.is_empty() {
            "~".to_owned()
        } else {
            format!("!{}", self.pre.join("."))
        };
        format!(
            "{:020}.{:020}.{:020}{pre}",
            self.major, self.minor, self.patch
        )
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_pre(&self.pre, &other.pre),
            })
    }
}

fn compare_pre(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre.join("."))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance<'a>(bot: &'a str, hostname: &'a str, version: &'a str) -> Instance<'a> {
        Instance {
            name: "u1",
            bot_name: bot,
            instance_id: "u1",
            hostname,
            version,
            os: "linux",
            architecture: "amd64",
            one_shot: false,
            join_method: "token",
        }
    }

    fn matches(query: &str, i: &Instance<'_>) -> bool {
        Query::parse(query)
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .matches(i)
    }

    #[test]
    fn version_functions_compare_as_semver() {
        let old = instance("web", "host-a", "17.4.2");
        let new = instance("web", "host-b", "18.10.0");
        for (query, want_old, want_new) in [
            (r#"older_than(version, "18.1.0")"#, true, false),
            (r#"newer_than(version, "18.2.0")"#, false, true),
            (r#"between(version, "17.4.2", "18.0.0")"#, true, false),
            (r#"between(version, "18.0.0", "18.10.0")"#, false, false),
            (
                r#"exact_version(status.latest_heartbeat.version, "18.10.0")"#,
                false,
                true,
            ),
            (r#"version.older_than("18.1.0")"#, true, false),
            (r#"version.between("17.0.0", "19.0.0")"#, true, true),
        ] {
            assert_eq!(matches(query, &old), want_old, "{query} on 17.4.2");
            assert_eq!(matches(query, &new), want_new, "{query} on 18.10.0");
        }
    }

    #[test]
    fn a_missing_or_odd_version_matches_no_version_function() {
        for version in ["", "dev", "18.1"] {
            let i = instance("web", "h", version);
            assert!(
                !matches(r#"older_than(version, "99.0.0")"#, &i),
                "{version:?}"
            );
            assert!(
                !matches(r#"newer_than(version, "0.0.1")"#, &i),
                "{version:?}"
            );
        }
    }

    #[test]
    fn equality_contains_and_logic() {
        let i = instance("web-prod", "ip-10-0-0-1", "18.1.0");
        assert!(matches(r#"spec.bot_name == "web-prod""#, &i));
        assert!(matches(r#"bot_name != "db""#, &i));
        assert!(matches(
            r#"hostname == "ip-10-0-0-1" && contains(bot_name, "prod")"#,
            &i
        ));
        assert!(matches(
            r#"contains(hostname, "nope") || contains(hostname, "10-0")"#,
            &i
        ));
        assert!(matches(r#"!(bot_name == "db")"#, &i));
        assert!(!matches(r#"!contains(name, "u")"#, &i));
        assert!(matches(r#"hostname.contains("ip-")"#, &i));
        assert!(matches("status.latest_heartbeat.one_shot == false", &i));
        assert!(matches(r#"join_method == "token""#, &i));
        assert!(matches(r#"(bot_name == "x") == false"#, &i));
        // && binds tighter than ||.
        assert!(matches(r#"bot_name == "x" && bot_name == "y" || true"#, &i));
        assert!(!matches(
            r#"bot_name == "x" && (bot_name == "y" || true)"#,
            &i
        ));
    }

    fn error(query: &str) -> String {
        Query::parse(query).expect_err(query).to_string()
    }

    #[test]
    fn syntax_errors_say_where_as_gos_parser_does() {
        assert_eq!(
            error(r#"older_than(version, "18.1.0""#),
            "1:29: expected ')', found 'EOF'"
        );
        assert_eq!(error("bot_name == "), "1:13: expected operand, found 'EOF'");
        assert_eq!(
            error(r#"hostname = "a""#),
            "1:10: operator '=' is not supported; use =="
        );
        assert_eq!(
            error(r#"hostname == "a" )"#),
            "1:17: expected 'EOF', found ')'"
        );
        assert_eq!(
            error(r#"hostname == "a"#),
            "1:13: string literal not terminated"
        );
        assert_eq!(error("hostname # x"), "1:10: illegal character U+0023 '#'");
        assert_eq!(error(""), "empty expression");
    }

    #[test]
    fn names_functions_and_types_are_checked_up_front() {
        assert_eq!(
            error(r#"hostnme == "a""#),
            "1:1: unknown identifier: \"hostnme\""
        );
        assert_eq!(
            error(r#"older(version, "1.0.0")"#),
            "1:1: unsupported function: older (supported: older_than, newer_than, between, exact_version, contains)"
        );
        assert_eq!(
            error(r#"between(version, "1.0.0")"#),
            "1:8: function between takes 3 arguments, got 2"
        );
        assert_eq!(
            error(r#"older_than(version, "18")"#),
            "1:21: \"18\" is not a version (expected MAJOR.MINOR.PATCH, e.g. \"18.1.0\")"
        );
        assert_eq!(
            error("hostname"),
            "1:1: the query must be true or false for an instance, not text (compare it with == or call a function)"
        );
        assert_eq!(
            error(r#"hostname == true"#),
            "1:10: cannot compare text with true/false"
        );
        assert_eq!(
            error(r#"hostname && true"#),
            "1:1: operator && needs true/false on both sides, not text"
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(
            error(r#"hostname == "é" )"#),
            "1:17: expected 'EOF', found ')'"
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("{}true{}", "(".repeat(3_000), ")".repeat(3_000));
        assert!(error(&deep).contains("nested too deeply"));
        let nots = format!("{}true", "!".repeat(5_000));
        assert!(error(&nots).contains("nested too deeply"));
        let long = format!("true{}", " && true".repeat(2_000));
        assert!(error(&long).contains("bytes long"), "{}", error(&long));
        let chain = format!("true{}", "&&true".repeat(1_600));
        assert!(Query::parse(&chain).unwrap().matches(&Instance::default()));
    }

    #[test]
    fn versions_order_by_semver_precedence() {
        let v = |s| Version::parse(s).unwrap();
        assert!(v("1.0.0-alpha") < v("1.0.0-alpha.1"));
        assert!(v("1.0.0-alpha.1") < v("1.0.0-beta"));
        assert!(v("1.0.0-beta.2") < v("1.0.0-beta.11"));
        assert!(v("1.0.0-rc.1") < v("1.0.0"));
        assert!(v("9.0.0") < v("10.0.0"));
        assert_eq!(v("18.1.0+build"), v("18.1.0"));
        assert!(v("9.0.0").sort_key() < v("10.0.0").sort_key());
        assert!(v("1.0.0-rc.1").sort_key() < v("1.0.0").sort_key());
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "v1.2.3",
            "1.x.3",
            "1.2.3-",
            "1.2.3-a..b",
        ] {
            assert_eq!(Version::parse(bad), None, "{bad:?}");
        }
    }
}
