//! Every environment variable mwictl reads or sets, with what it does: the code takes the names
//! from here, and `--help` and the man page print this list as their ENVIRONMENT section.

use std::ffi::OsString;

/// One environment variable. Only this module builds them, so a name read through one is
/// documented in [`ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvVar {
    name: &'static str,
    about: &'static str,
}

impl EnvVar {
    pub const fn name(self) -> &'static str {
        self.name
    }

    /// What the variable does, one sentence.
    pub const fn about(self) -> &'static str {
        self.about
    }

    /// The value; None when unset or not UTF-8.
    pub fn get(self) -> Option<String> {
        std::env::var(self.name).ok()
    }

    /// The value as the OS gave it; None when unset.
    pub fn get_os(self) -> Option<OsString> {
        std::env::var_os(self.name)
    }
}

pub const MWICTL_HOME: EnvVar = EnvVar {
    name: "MWICTL_HOME",
    about: "Directory of every file mwictl writes (see FILES); default: the user's data dir plus \
            `mwictl`, e.g. ~/.local/share/mwictl on Linux.",
};

pub const XDG_DATA_HOME: EnvVar = EnvVar {
    name: "XDG_DATA_HOME",
    about: "On Linux, without MWICTL_HOME, the files go to $XDG_DATA_HOME/mwictl (default \
            ~/.local/share).",
};

pub const TELEPORT_AUTH_SERVER: EnvVar = EnvVar {
    name: "TELEPORT_AUTH_SERVER",
    about: "Address of the auth service when --auth-server is not given, as for tctl.",
};

pub const TELEPORT_IDENTITY_FILE: EnvVar = EnvVar {
    name: "TELEPORT_IDENTITY_FILE",
    about: "Identity file when -i is not given, as for tctl.",
};

pub const TELEPORT_HOME: EnvVar = EnvVar {
    name: "TELEPORT_HOME",
    about: "tsh's profile directory (default ~/.tsh): without -i, mwictl uses the tsh profile \
            named after the --proxy/--auth-server host, else the saved mwictl profile, else tsh's \
            current-profile.",
};

pub const TELEPORT_CONFIG_FILE: EnvVar = EnvVar {
    name: "TELEPORT_CONFIG_FILE",
    about: "teleport.yaml of an auth host when -c is not given (else /etc/teleport.yaml when it \
            exists): with its auth service enabled, mwictl uses the local Admin identity from its \
            data dir, as tctl does.",
};

pub const TELEPORT_EDITOR: EnvVar = EnvVar {
    name: "TELEPORT_EDITOR",
    about: "Editor of `mwictl edit` (with arguments, e.g. `code --wait`); first of this, VISUAL, \
            EDITOR that is set, else vi.",
};

pub const VISUAL: EnvVar = EnvVar {
    name: "VISUAL",
    about: "Editor of `mwictl edit` when TELEPORT_EDITOR is not set.",
};

pub const EDITOR: EnvVar = EnvVar {
    name: "EDITOR",
    about: "Editor of `mwictl edit` when neither TELEPORT_EDITOR nor VISUAL is set.",
};

pub const TBOT_USE_PROXY_ADDR: EnvVar = EnvVar {
    name: "TBOT_USE_PROXY_ADDR",
    about: "`mwictl lab bot` acts on it as tbot does: exactly `yes` keeps a proxy_server bot on \
            the configured address instead of the one the proxy advertises (split DNS). `mwictl \
            lint` takes tbot's value from --env or --unit, not from here.",
};

pub const TBOT_REGISTRATION_SECRET: EnvVar = EnvVar {
    name: "TBOT_REGISTRATION_SECRET",
    about: "`mwictl lab bot` takes a bound_keypair registration secret from it, as tbot does, \
            when neither tbot.yaml nor --registration-secret gives one.",
};

pub const TBOT_BOUND_KEYPAIR_STATIC_KEY: EnvVar = EnvVar {
    name: "TBOT_BOUND_KEYPAIR_STATIC_KEY",
    about: "`mwictl lab bot` takes a bound_keypair static private key (base64 of its PEM) from \
            it, as tbot does, when static_private_key_path is not set.",
};

pub const TELEPORT_TLS_ROUTING_CONN_UPGRADE: EnvVar = EnvVar {
    name: "TELEPORT_TLS_ROUTING_CONN_UPGRADE",
    about: "Whether --proxy needs the connection upgrade (an L7 load balancer in front), instead \
            of testing it: `true`/`false`, or `HOST:PORT=BOOL` items separated by `,` or `;`, as \
            for tsh and tctl.",
};

pub const SSL_CERT_FILE: EnvVar = EnvVar {
    name: "SSL_CERT_FILE",
    about: "CA bundle (PEM) that the proxy's web certificate is checked against in the \
            connection upgrade, instead of the system's (--insecure skips that check).",
};

pub const SSL_CERT_DIR: EnvVar = EnvVar {
    name: "SSL_CERT_DIR",
    about: "Directories (`:`-separated) of more CA certificates for the proxy's web certificate.",
};

pub const PATH: EnvVar = EnvVar {
    name: "PATH",
    about: "`mwictl lint` without --teleport-version, --live or --tbot runs the `tbot` found here \
            (`tbot version`) and judges configs against its release.",
};

pub const RUST_LOG: EnvVar = EnvVar {
    name: "RUST_LOG",
    about: "Log filter for -v logging on stderr (tracing syntax, e.g. `debug`); overrides -v.",
};

pub const MWICTL_RECOVER_BOT: EnvVar = EnvVar {
    name: "MWICTL_RECOVER_BOT",
    about: "Set (not read) for the command of `recover --restart-cmd`: the bot's name.",
};

pub const MWICTL_RECOVER_TOKEN: EnvVar = EnvVar {
    name: "MWICTL_RECOVER_TOKEN",
    about: "Set (not read) for the command of `recover --restart-cmd` once a token is issued: \
            its name.",
};

/// Every variable, in the order `--help` lists them.
pub const ALL: [EnvVar; 19] = [
    MWICTL_HOME,
    XDG_DATA_HOME,
    TELEPORT_AUTH_SERVER,
    TELEPORT_IDENTITY_FILE,
    TELEPORT_HOME,
    TELEPORT_CONFIG_FILE,
    TELEPORT_EDITOR,
    VISUAL,
    EDITOR,
    TBOT_USE_PROXY_ADDR,
    TBOT_REGISTRATION_SECRET,
    TBOT_BOUND_KEYPAIR_STATIC_KEY,
    TELEPORT_TLS_ROUTING_CONN_UPGRADE,
    SSL_CERT_FILE,
    SSL_CERT_DIR,
    PATH,
    RUST_LOG,
    MWICTL_RECOVER_BOT,
    MWICTL_RECOVER_TOKEN,
];

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    /// Read by the code but not documented, each with why.
    const UNDOCUMENTED: [&str; 1] = [
        // A test hook compiled into debug builds only (recover/engine.rs).
        "MWICTL_TEST_CRASH_AFTER_STEP",
    ];

    /// How code reads the environment, or names a variable clap reads.
    /// How the code reads a variable (clap's `env = …` counts only as an attribute argument: see
    /// `is_read`).
    const READS: [&str; 6] = [
        "env::var(",
        "env::var_os(",
        "env::vars",
        "from_default_env",
        "try_from_env(",
        "env = ",
    ];

    /// `env = ` is clap's attribute argument only after `(` or `,`; a local named `env` is no read.
    fn is_read(text: &str, at: usize, read: &str) -> bool {
        read != "env = " || text[..at].trim_end().ends_with(['(', ','])
    }

    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() && !path.ends_with("tests") {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.ends_with("tests.rs")
                && !path.ends_with("testing.rs")
            {
                out.push(path);
            }
        }
    }

    /// `text` without its unit-test module (by convention the last item of a file).
    fn without_tests(text: &str) -> &str {
        match text.find("#[cfg(test)]\nmod ") {
            Some(at) => &text[..at],
            None => text,
        }
    }

    fn documented(name: &str) -> bool {
        ALL.iter().any(|v| v.name == name)
    }

    #[test]
    fn every_variable_the_code_reads_is_documented() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        for krate in ["cli", "diag", "identity", "auth", "agent", "proto"] {
            sources(&root.join(krate).join("src"), &mut files);
        }
        assert!(files.len() > 50, "{files:?}");
        let this = Path::new(file!()).file_name().unwrap();
        let mut bad = Vec::new();
        let mut reads = 0;
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            let ours = file.file_name() == Some(this) && file.parent().unwrap().ends_with("src");
            for (at, read) in READS
                .iter()
                .flat_map(|r| without_tests(&text).match_indices(r))
                .filter(|(at, read)| is_read(&text, *at, read))
            {
                let arg = text[at + read.len()..]
                    .split([')', ',', '\n'])
                    .next()
                    .unwrap_or_default()
                    .trim();
                let ok = match arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
                    Some(name) => documented(name) || UNDOCUMENTED.contains(&name),
                    // A name from this module (`environment::RUST_LOG.name()`), or its own reads.
                    None => {
                        (arg.contains("environment::") && arg.ends_with(".name("))
                            || (ours && arg == "self.name")
                    }
                };
                reads += 1;
                if !ok {
                    bad.push(format!("{}: {read}{arg}", file.display()));
                }
            }
        }
        assert!(reads >= 5, "the scan found only {reads} reads");
        assert!(
            bad.is_empty(),
            "read these through crate::environment (and document them in ALL): {bad:#?}"
        );
    }

    #[test]
    fn every_variable_of_this_module_is_listed_once() {
        let text = include_str!("environment.rs");
        let defined = text.matches(concat!(": EnvVar", " = EnvVar {")).count();
        assert_eq!(defined, ALL.len());
        for (i, var) in ALL.iter().enumerate() {
            assert!(!ALL[..i].contains(var), "{} twice", var.name);
            assert!(
                text.contains(&format!("name: \"{}\"", var.name)),
                "{}",
                var.name
            );
        }
    }
}
