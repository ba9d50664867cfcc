//! The incidents end to end: `mwictl lab break` causes each one for real against the lab, `mwictl
//! doctor` names it from the agent's own log (S1–S4; S6 and S7 with a lab proxy that advertises
//! an address this host cannot reach) or `mwictl lint` finds it in tbot.yaml (S5–S7), the fix
//! (`mwictl recover ... --yes`, `mwictl lint --fix`, `TBOT_USE_PROXY_ADDR=yes`) repairs it, and a
//! restarted agent renews again, checked in its log and over gRPC.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use mwi_proto::machineid::GetBotInstanceRequest;
use mwi_proto::machineid::bot_instance_service_client::BotInstanceServiceClient;
use mwi_proto::proto::GetLocksRequest;
use mwi_proto::proto::auth_service_client::AuthServiceClient;
use mwi_proto::types::LockTarget;

use crate::harness::{BIN, Lab, Run, closed_port, run, snapshot_settings, with_admin};

/// How long a restarted agent gets to renew twice (it renews every 300ms).
const RENEW_LIMIT: Duration = Duration::from_secs(15);

/// The working directory `lab break` uses for a bot, and its files.
struct BotDir {
    dir: PathBuf,
}

impl BotDir {
    fn new(lab: &Lab, bot: &str) -> BotDir {
        BotDir {
            dir: lab.root().join("bots").join(bot),
        }
    }

    fn arg(&self) -> &str {
        self.dir.to_str().expect("utf-8 temp path")
    }

    fn config(&self) -> String {
        self.dir.join("tbot.yaml").display().to_string()
    }

    fn log(&self) -> String {
        self.dir.join("tbot.log").display().to_string()
    }

    /// The bot instance and generation of the identity the agent stored.
    fn stored(&self) -> (String, u64) {
        let pem = std::fs::read_to_string(self.dir.join("data").join("tlscert"))
            .expect("the agent stored its certificate");
        let cert = mwi_identity::CertIdentity::from_pem(&pem).expect("a certificate");
        (cert.bot_instance_id.unwrap_or_default(), cert.generation)
    }
}

/// `mwictl lab break SCENARIO --bot BOT --dir DIR`, which must succeed.
fn break_bot(lab: &Lab, scenario: &str, bot: &BotDir, name: &str) -> Run {
    let started = Instant::now();
    let out = run(&mut lab.cmd(&["lab", "break", scenario, "--bot", name, "--dir", bot.arg()]));
    assert_eq!(
        out.code, 0,
        "lab break {scenario}:\n{}\n{}",
        out.stdout, out.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "lab break {scenario} took {:?}",
        started.elapsed()
    );
    out
}

/// The incident ids `mwictl doctor --format json LOG` reports (it exits 1 on findings).
fn doctor_incidents(lab: &Lab, log: &str) -> Vec<(String, Option<String>)> {
    let out = run(&mut lab.cmd(&["doctor", "--format", "json", log]));
    assert_eq!(
        out.code, 1,
        "doctor finds something:\n{}\n{}",
        out.stdout, out.stderr
    );
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("doctor JSON");
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["incident"].as_str().unwrap_or_default().to_string(),
                f["bot"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// `mwictl recover ARGS --yes`, which must succeed.
fn recover(lab: &Lab, args: &[&str]) -> Run {
    let mut all = vec!["recover"];
    all.extend_from_slice(args);
    all.push("--yes");
    let out = run(&mut lab.cmd(&all));
    assert_eq!(
        out.code, 0,
        "recover {args:?}:\n{}\n{}",
        out.stdout, out.stderr
    );
    out
}

/// `mwictl lab bot -c CONFIG --renewal-interval 300ms` as a child process with its log (stderr)
/// in a file; stopped with SIGTERM when dropped.
struct Agent {
    child: Child,
    log: PathBuf,
}

impl Agent {
    fn start(lab: &Lab, config: &str, log: PathBuf, extra: &[&str]) -> Agent {
        let file = std::fs::File::create(&log).expect("agent log");
        let child = std::process::Command::new(BIN)
            .args(["lab", "bot", "-c", config, "--renewal-interval", "300ms"])
            .args(extra)
            .envs(crate::harness::hermetic_env(&lab.home()))
            .env_remove("TELEPORT_AUTH_SERVER")
            .env_remove("TELEPORT_IDENTITY_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn mwictl lab bot");
        Agent { child, log }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `count` lines with `needle`; panics with the log otherwise.
    fn wait_for(&mut self, needle: &str, count: usize) -> String {
        let deadline = Instant::now() + RENEW_LIMIT;
        loop {
            let text = self.text();
            if text.lines().filter(|l| l.contains(needle)).count() >= count {
                return text;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the agent exited ({status}) before {count}× {needle:?}:\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "no {count}× {needle:?} in time:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        mwi_testkit::process::terminate(&mut self.child, Duration::from_secs(5));
    }
}

/// The generation the server last recorded for instance `bot/id`.
fn server_generation(lab: &Lab, bot: &str, id: &str) -> i32 {
    with_admin(lab, async |channel| {
        let instance = BotInstanceServiceClient::new(channel)
            .get_bot_instance(GetBotInstanceRequest {
                bot_name: bot.into(),
                instance_id: id.into(),
            })
            .await
            .expect("get the bot instance")
            .into_inner();
        let status = instance.status.unwrap_or_default();
        status
            .latest_authentications
            .last()
            .or(status.initial_authentication.as_ref())
            .map_or(0, |a| a.generation)
    })
}

/// The names of the locks in force that target the bot's user.
fn user_locks(lab: &Lab, bot: &str) -> Vec<String> {
    with_admin(lab, async |channel| {
        AuthServiceClient::new(channel)
            .get_locks(GetLocksRequest {
                targets: vec![LockTarget {
                    user: format!("bot-{bot}"),
                    ..Default::default()
                }],
                in_force_only: true,
            })
            .await
            .expect("get locks")
            .into_inner()
            .locks
            .into_iter()
            .filter_map(|l| l.metadata.map(|m| m.name))
            .collect()
    })
}

/// Restarts the agent on `bot`'s tbot.yaml and checks it renews twice and the server's record of
/// its instance rises with it; returns the restarted agent and the instance ID.
fn restart_and_renew_twice(lab: &Lab, bot: &BotDir, name: &str, extra: &[&str]) -> (Agent, String) {
    let mut agent = Agent::start(lab, &bot.config(), bot.dir.join("restart.log"), extra);
    let text = agent.wait_for("Successfully renewed bot identity", 2);
    assert!(
        !text.contains("Failed to renew bot identity"),
        "the restarted agent renews without failures:\n{text}"
    );
    let (instance, generation) = bot.stored();
    let on_server = server_generation(lab, name, &instance);
    assert!(
        on_server >= 2 && u64::try_from(on_server).unwrap_or(0) >= generation,
        "server generation {on_server}, stored {generation}"
    );
    (agent, instance)
}

#[test]
fn s1_generation_mismatch_is_diagnosed_recovered_and_renews_again() {
    let lab = Lab::start();
    let bot = BotDir::new(&lab, "s1");
    let broke = break_bot(&lab, "generation-mismatch", &bot, "s1");
    assert!(
        broke
            .stdout
            .starts_with("S1 generation-mismatch: bot s1 is locked"),
        "{}",
        broke.stdout
    );
    assert!(
        broke.stdout.contains(&format!(
            "mwictl recover generation-mismatch --bot s1 --tbot-config {} --yes",
            bot.config()
        )),
        "{}",
        broke.stdout
    );
    let locks = user_locks(&lab, "s1");
    assert_eq!(locks.len(), 1, "the lab locked the bot: {locks:?}");
    let again = run(&mut lab.cmd(&[
        "lab",
        "break",
        "generation-mismatch",
        "--bot",
        "s1",
        "--dir",
        bot.arg(),
    ]));
    assert_eq!(
        again.code, 5,
        "a locked bot is not broken twice: {}",
        again.stderr
    );
    assert!(again.stderr.contains(&locks[0]), "{}", again.stderr);
    let (old_instance, _) = bot.stored();

    let found = doctor_incidents(&lab, &bot.log());
    assert!(
        found.contains(&("S1".to_string(), Some("s1".to_string()))),
        "{found:?}"
    );

    let before = std::fs::read_to_string(bot.config()).unwrap();
    recover(
        &lab,
        &[
            "generation-mismatch",
            "--bot",
            "s1",
            "--tbot-config",
            &bot.config(),
        ],
    );
    assert!(user_locks(&lab, "s1").is_empty(), "the lock is gone");
    let after = std::fs::read_to_string(bot.config()).unwrap();
    assert_ne!(before, after, "recover wrote the new token");
    assert!(
        after.starts_with("# Written by mwictl lab break generation-mismatch"),
        "comments kept:\n{after}"
    );

    let (agent, instance) = restart_and_renew_twice(&lab, &bot, "s1", &[]);
    assert_ne!(instance, old_instance, "the agent joined as a new instance");
    assert!(
        agent.text().contains("Fetched new bot identity"),
        "{}",
        agent.text()
    );
}

#[test]
fn s2_expired_identity_is_diagnosed_recovered_and_renews_again() {
    let lab = Lab::start();
    let bot = BotDir::new(&lab, "s2");
    let broke = break_bot(&lab, "expired", &bot, "s2");
    assert!(broke.stdout.starts_with("S2 expired: "), "{}", broke.stdout);
    let log = std::fs::read_to_string(bot.log()).unwrap();
    assert!(log.contains("Identity has expired"), "{log}");
    let (old_instance, _) = bot.stored();

    let found = doctor_incidents(&lab, &bot.log());
    assert!(found.iter().any(|(id, _)| id == "S2"), "{found:?}");

    recover(
        &lab,
        &["expired", "--bot", "s2", "--tbot-config", &bot.config()],
    );
    let (_agent, instance) = restart_and_renew_twice(&lab, &bot, "s2", &[]);
    assert_ne!(
        instance, old_instance,
        "the agent joined with the new token"
    );
}

#[test]
fn s3_missing_ssh_login_is_diagnosed_granted_and_the_output_succeeds() {
    let lab = Lab::start();
    let bot = BotDir::new(&lab, "s3");
    let broke = break_bot(&lab, "ssh-login", &bot, "s3");
    assert!(
        broke.stdout.contains("do not allow SSH login bob"),
        "{}",
        broke.stdout
    );

    let lint = lab.cmd(&["lint", &bot.config()]).output().unwrap();
    assert!(
        lint.status.success(),
        "the tbot.yaml lab break writes holds only tbot's keys:\n{}",
        String::from_utf8_lossy(&lint.stdout)
    );

    let found = doctor_incidents(&lab, &bot.log());
    assert!(found.iter().any(|(id, _)| id == "S3"), "{found:?}");

    recover(
        &lab,
        &[
            "ssh-login",
            "--bot",
            "s3",
            "--login",
            "bob",
            "--role",
            "access-s3",
        ],
    );
    let (mut agent, _) = restart_and_renew_twice(&lab, &bot, "s3", &["--ssh-login", "bob"]);
    let text = agent.wait_for("Successfully renewed impersonated certificates", 2);
    assert!(
        !text.contains("unable to authenticate"),
        "the SSH check passes after the fix:\n{text}"
    );
    assert!(
        text.lines()
            .filter(|l| l.contains("Successfully renewed impersonated certificates"))
            .any(|l| l.contains("principals=[") && l.contains("bob")),
        "the output's certificate now carries login bob:\n{text}"
    );
}

#[test]
fn s4_database_hidden_by_rbac_is_diagnosed_granted_and_the_output_succeeds() {
    let lab = Lab::start();
    let bot = BotDir::new(&lab, "s4");
    let broke = break_bot(&lab, "db-access", &bot, "s4");
    assert!(
        broke.stdout.contains("hide database example"),
        "{}",
        broke.stdout
    );

    let found = doctor_incidents(&lab, &bot.log());
    assert!(found.iter().any(|(id, _)| id == "S4"), "{found:?}");

    recover(
        &lab,
        &[
            "db-access",
            "--bot",
            "s4",
            "--db",
            "example",
            "--db-labels",
            "env=dev",
            "--role",
            "access-s4",
        ],
    );
    let (mut agent, _) = restart_and_renew_twice(&lab, &bot, "s4", &[]);
    let text = agent.wait_for("Successfully renewed impersonated certificates", 2);
    assert!(
        !text.contains("not found"),
        "the database output works after the fix:\n{text}"
    );
}

/// `mwictl lint --format json --on-host CONFIG` (with `--env TBOT_USE_PROXY_ADDR=env`): exit
/// code and the rules found. The lab's bot directory is on this host.
fn lint(lab: &Lab, config: &str, fix: bool, env: Option<&str>) -> (i32, Vec<String>) {
    let pair = env.map(|value| format!("TBOT_USE_PROXY_ADDR={value}"));
    let mut args = vec!["lint", "--format", "json", "--on-host"];
    if fix {
        args.push("--fix");
    }
    if let Some(pair) = &pair {
        args.extend(["--env", pair]);
    }
    args.push(config);
    let (code, findings) = lint_json(lab, &args);
    let rules = findings
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or_default().to_string())
        .collect();
    (code, rules)
}

/// `mwictl ARGS` (a `lint --format json`) without TBOT_USE_PROXY_ADDR in its own environment:
/// exit code and the findings.
fn lint_json(lab: &Lab, args: &[&str]) -> (i32, Vec<serde_json::Value>) {
    let mut cmd = lab.cmd(args);
    cmd.env_remove("TBOT_USE_PROXY_ADDR");
    let out = run(&mut cmd);
    let report: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("lint JSON ({e}):\n{}\n{}", out.stdout, out.stderr));
    let findings = report["files"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["findings"].as_array().cloned().unwrap_or_default())
        .collect();
    (out.code, findings)
}

/// Breaks `scenario` (no lab agent runs), checks lint finds `rule` (exiting `code`: 0 when it is
/// a note for the default release), fixes it and checks it is gone.
fn lint_finds_and_fixes(scenario: &str, rule: &str, code: i32) {
    let lab = Lab::start();
    let bot = BotDir::new(&lab, "linted");
    let broke = break_bot(&lab, scenario, &bot, "linted");
    assert!(
        broke
            .stdout
            .contains(&format!("mwictl lint --fix {}", bot.config())),
        "{}",
        broke.stdout
    );
    assert_eq!(
        lint(&lab, &bot.config(), false, None),
        (code, vec![rule.to_string()])
    );
    let (_, after_fix) = lint(&lab, &bot.config(), true, None);
    assert!(!after_fix.contains(&rule.to_string()), "{after_fix:?}");
    assert_eq!(lint(&lab, &bot.config(), false, None), (0, Vec::new()));
}

#[test]
fn s5_kubernetes_secret_without_disable_exec_plugin_is_found_and_fixed_by_lint() {
    // Current releases turn the exec plugin off themselves and log it: a note.
    let lab = Lab::start();
    let bot = BotDir::new(&lab, "old-tbot");
    break_bot(&lab, "k8s-secret", &bot, "old-tbot");
    // A release that fails the output instead: an error there.
    let (code, findings) = lint_json(
        &lab,
        &[
            "lint",
            "--format",
            "json",
            "--teleport-version",
            "15.4.6",
            &bot.config(),
        ],
    );
    assert_eq!(code, 1);
    let s5 = findings
        .iter()
        .find(|f| f["rule"] == "kube-secret-exec-plugin")
        .expect("S5 on 15.4.6");
    assert_eq!(s5["severity"], "error", "{s5}");
    lint_finds_and_fixes("k8s-secret", "kube-secret-exec-plugin", 0);
}

#[test]
fn s7_auth_server_with_ssh_config_on_is_found_and_fixed_by_lint() {
    lint_finds_and_fixes("no-proxy", "auth-server-ssh-config", 1);
}

#[test]
fn s6_split_dns_config_gets_lints_tbot_use_proxy_addr_advice() {
    let lab = Lab::start();
    let bot = BotDir::new(&lab, "split");
    let broke = break_bot(&lab, "split-dns", &bot, "split");
    assert!(
        broke.stdout.contains("TBOT_USE_PROXY_ADDR"),
        "{}",
        broke.stdout
    );
    let config = bot.config();
    // Unset: a note on what to set behind split DNS.
    assert_eq!(
        lint(&lab, &config, false, None),
        (0, vec!["use-proxy-addr".to_string()])
    );
    // A value tbot ignores is the mistake: a warning, exit 1.
    assert_eq!(
        lint(&lab, &config, false, Some("true")),
        (1, vec!["use-proxy-addr".to_string()])
    );
    // The fix: exactly `yes`, with proxy_server set, leaves only the note that it is in effect.
    assert_eq!(
        lint(&lab, &config, false, Some("yes")),
        (0, vec!["use-proxy-addr".to_string()])
    );
}

/// The one finding `mwictl doctor --format json LOG` reports: its incident and its mwictl fix
/// with tbot's default config path replaced by `config`.
fn doctor_fix(lab: &Lab, log: &str, config: &str) -> (String, String, String) {
    let out = run(&mut lab.cmd(&["doctor", "--format", "json", log]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("doctor JSON");
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{report:#}");
    let finding = &findings[0];
    let fix = finding["fix"]["mwictl"].as_str().unwrap_or_default();
    (
        finding["incident"].as_str().unwrap_or_default().to_string(),
        fix.replace("/etc/tbot.yaml", config),
        finding["fix"]["then"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// `mwictl lab bot -c CONFIG --oneshot`, with `TBOT_USE_PROXY_ADDR` as given.
fn agent_once(lab: &Lab, config: &str, use_proxy_addr: Option<&str>) -> Run {
    let mut cmd = lab.cmd(&["lab", "bot", "-c", config, "--oneshot"]);
    cmd.env_remove("TBOT_USE_PROXY_ADDR");
    if let Some(value) = use_proxy_addr {
        cmd.env("TBOT_USE_PROXY_ADDR", value);
    }
    run(&mut cmd)
}

#[test]
fn s6_for_real_the_advertised_address_fails_doctor_names_it_and_tbot_use_proxy_addr_fixes_it() {
    let lab = Lab::start_with(&[
        "--proxy-listen",
        "127.0.0.1:0",
        "--proxy-public-addr",
        "proxy.lab.invalid:3080",
    ]);
    let proxy = lab.proxy.clone().expect("the lab proxy");
    let bot = BotDir::new(&lab, "split");
    let broke = break_bot(&lab, "split-dns", &bot, "split");
    assert!(
        broke.stdout.contains(&format!(
            "TBOT_USE_PROXY_ADDR=yes mwictl lab bot -c {}",
            bot.config()
        )),
        "{}",
        broke.stdout
    );
    let config = bot.config();
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(&format!("proxy_server: {proxy}\n")), "{text}");
    let log = std::fs::read_to_string(bot.log()).unwrap();
    assert!(
        log.contains("failed dial to auth server through reverse tunnel: dial tcp: lookup proxy.lab.invalid: no such host"),
        "{log}"
    );

    let (incident, fix, then) = doctor_fix(&lab, &bot.log(), &config);
    assert_eq!(incident, "S6");
    assert!(then.contains("TBOT_USE_PROXY_ADDR=yes"), "{then}");
    // The lint the doctor suggests confirms the variable takes effect with this config.
    let args: Vec<&str> = fix.split_whitespace().skip(1).collect();
    assert_eq!(args[..2], ["lint", "--env"], "{fix}");
    let linted = run(&mut lab.cmd(&args));
    assert_eq!(linted.code, 0, "{}\n{}", linted.stdout, linted.stderr);
    assert!(
        linted.stdout.contains("TBOT_USE_PROXY_ADDR=yes"),
        "{}",
        linted.stdout
    );

    // Anything but exactly `yes` leaves tbot on the advertised address.
    let still = agent_once(&lab, &config, Some("true"));
    assert_eq!(still.code, 1, "{}", still.stderr);
    assert!(
        still.stderr.contains("through reverse tunnel"),
        "{}",
        still.stderr
    );
    let fixed = agent_once(&lab, &config, Some("yes"));
    assert_eq!(fixed.code, 0, "{}", fixed.stderr);
    assert!(
        fixed.stderr.contains("Successfully renewed bot identity"),
        "{}",
        fixed.stderr
    );
    let out = bot.dir.join("out");
    let ssh_config = std::fs::read_to_string(out.join("ssh_config")).unwrap();
    assert!(
        ssh_config.contains(&format!("--proxy-server='{proxy}'")),
        "{ssh_config}"
    );
    assert!(out.join("known_hosts").is_file() && out.join("identity").is_file());
}

#[test]
fn s7_for_real_the_proxy_ping_fails_doctor_names_it_and_its_lint_fix_works() {
    let unreachable = closed_port();
    let lab = Lab::start_with(&[
        "--proxy-listen",
        "127.0.0.1:0",
        "--proxy-public-addr",
        &unreachable,
    ]);
    let bot = BotDir::new(&lab, "noproxy");
    let broke = break_bot(&lab, "no-proxy", &bot, "noproxy");
    let config = bot.config();
    assert!(
        broke
            .stdout
            .contains(&format!("mwictl lint --on-host --fix {config}")),
        "{}",
        broke.stdout
    );
    let log = std::fs::read_to_string(bot.log()).unwrap();
    assert!(
        log.contains("Failed to ping proxy.")
            && log.contains(&format!(
                "Get \"https://{unreachable}/webapi/find\": dial tcp {unreachable}: connect: connection refused"
            )),
        "{log}"
    );
    let still = agent_once(&lab, &config, None);
    assert_eq!(still.code, 1, "{}", still.stderr);

    let (incident, fix, _) = doctor_fix(&lab, &bot.log(), &config);
    assert_eq!(incident, "S7");
    let args: Vec<&str> = fix.split_whitespace().skip(1).collect();
    assert_eq!(args, ["lint", "--on-host", "--fix", config.as_str()]);
    let fixed_lint = run(&mut lab.cmd(&args));
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("ssh_config: \"off\""),
        "{}\n{}",
        fixed_lint.stdout,
        fixed_lint.stderr
    );
    let fixed = agent_once(&lab, &config, None);
    assert_eq!(fixed.code, 0, "{}", fixed.stderr);
    let out = bot.dir.join("out");
    assert!(out.join("identity").is_file());
    assert!(!out.join("ssh_config").exists());
}

#[test]
fn s6_for_real_reports_json_and_refuses_a_lab_proxy_whose_address_is_reachable() {
    let lab = Lab::start_with(&[
        "--proxy-listen",
        "127.0.0.1:0",
        "--proxy-public-addr",
        "proxy.lab.invalid:3080",
    ]);
    let bot = BotDir::new(&lab, "json");
    let out = run(&mut lab.cmd(&[
        "lab",
        "break",
        "split-dns",
        "--bot",
        "json",
        "--dir",
        bot.arg(),
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(v["incident"], "S6");
    assert_eq!(v["log"], bot.log().as_str());
    assert!(
        v["seen"][0]
            .as_str()
            .is_some_and(|line| line.contains("through reverse tunnel")),
        "{v:#}"
    );

    // A proxy that advertises its own, reachable address: no split DNS to reproduce.
    let plain = Lab::start_with(&["--proxy-listen", "127.0.0.1:0"]);
    let bot = BotDir::new(&plain, "reachable");
    let out = run(&mut plain.cmd(&[
        "lab",
        "break",
        "split-dns",
        "--bot",
        "reachable",
        "--dir",
        bot.arg(),
    ]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("--proxy-public-addr proxy.lab.invalid:3080"),
        "{}",
        out.stderr
    );
}

#[test]
fn s6_and_s7_without_a_lab_proxy_write_the_lint_file_and_say_how_to_reproduce_them() {
    let lab = Lab::start();
    for scenario in ["split-dns", "no-proxy"] {
        let bot = BotDir::new(&lab, scenario);
        let broke = break_bot(&lab, scenario, &bot, scenario);
        assert!(
            broke
                .stdout
                .contains("--proxy-public-addr proxy.lab.invalid:3080"),
            "{}",
            broke.stdout
        );
        assert!(!bot.dir.join("tbot.log").exists());
    }
}

#[test]
fn s6_lint_takes_tbots_environment_from_env_or_a_systemd_unit_not_its_own() {
    let lab = Lab::start();
    let bot = BotDir::new(&lab, "split");
    break_bot(&lab, "split-dns", &bot, "split");
    let config = bot.config();
    let message = |findings: &[serde_json::Value]| {
        findings
            .iter()
            .find(|f| f["rule"] == "use-proxy-addr")
            .and_then(|f| f["message"].as_str())
            .unwrap_or_default()
            .to_string()
    };

    // Not given: a note that says what could not be checked offline.
    let (code, findings) = lint_json(&lab, &["lint", "--format", "json", &config]);
    assert_eq!(code, 0);
    assert!(
        message(&findings).contains("tbot's environment was not given"),
        "{findings:?}"
    );
    // mwictl's own environment is not tbot's: a bad value there changes nothing.
    let mut own = lab.cmd(&["lint", "--format", "json", &config]);
    own.env("TBOT_USE_PROXY_ADDR", "true");
    assert_eq!(run(&mut own).code, 0);
    // Given and unset: still a note (DNS is not visible offline), saying so plainly.
    let (code, findings) = lint_json(
        &lab,
        &["lint", "--format", "json", "--env", "OTHER=1", &config],
    );
    assert_eq!(code, 0);
    assert!(
        message(&findings).contains("TBOT_USE_PROXY_ADDR is not set in tbot's environment"),
        "{findings:?}"
    );

    // A unit whose Environment= sets a value tbot ignores: the warning, exit 1.
    let unit = bot.dir.join("tbot.service");
    let env_file = bot.dir.join("tbot.env");
    std::fs::write(
        &unit,
        "[Unit]\nDescription=tbot\n[Service]\nEnvironment=\"TBOT_USE_PROXY_ADDR=true\" OTHER=1\nExecStart=/usr/local/bin/tbot start -c /etc/tbot.yaml\n",
    )
    .unwrap();
    let unit_arg = unit.to_str().unwrap();
    let (code, findings) = lint_json(
        &lab,
        &["lint", "--format", "json", "--unit", unit_arg, &config],
    );
    assert_eq!(code, 1, "{findings:?}");
    assert!(message(&findings).contains("`true`"), "{findings:?}");
    // --env overrides the unit.
    let (code, _) = lint_json(
        &lab,
        &[
            "lint",
            "--format",
            "json",
            "--unit",
            unit_arg,
            "--env",
            "TBOT_USE_PROXY_ADDR=yes",
            &config,
        ],
    );
    assert_eq!(code, 0);

    // EnvironmentFile= overrides Environment=; `-` marks a file that may be missing.
    std::fs::write(&env_file, "# tbot\nTBOT_USE_PROXY_ADDR=\"yes\"\n").unwrap();
    std::fs::write(
        &unit,
        format!(
            "[Service]\nEnvironment=TBOT_USE_PROXY_ADDR=true\nEnvironmentFile=-{}/absent.env\nEnvironmentFile={}\n",
            bot.dir.display(),
            env_file.display()
        ),
    )
    .unwrap();
    let (code, findings) = lint_json(
        &lab,
        &["lint", "--format", "json", "--unit", unit_arg, &config],
    );
    assert_eq!(code, 0, "{findings:?}");
    assert!(
        message(&findings).starts_with("TBOT_USE_PROXY_ADDR=yes"),
        "{findings:?}"
    );

    // A required EnvironmentFile= that is missing, or a missing unit: exit 2, naming it.
    std::fs::remove_file(&env_file).unwrap();
    let out = run(&mut lab.cmd(&["lint", "--unit", unit_arg, &config]));
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stderr.contains("tbot.env"), "{}", out.stderr);
    let out = run(&mut lab.cmd(&["lint", "--env", "novalue", &config]));
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn lab_break_refuses_a_directory_it_did_not_write() {
    let lab = Lab::start();
    let dir = lab.root().join("someone-elses");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tbot.yaml"), "version: v2\n").unwrap();
    let out = run(&mut lab.cmd(&[
        "lab",
        "break",
        "no-proxy",
        "--bot",
        "example",
        "--dir",
        dir.to_str().unwrap(),
    ]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("not ours to replace"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("tbot.yaml")).unwrap(),
        "version: v2\n"
    );
}

#[test]
fn lab_break_json_names_the_files_and_next_commands() {
    let lab = Lab::start();
    let bot = BotDir::new(&lab, "json");
    let out = run(&mut lab.cmd(&[
        "lab",
        "break",
        "ssh-login",
        "--bot",
        "json",
        "--dir",
        bot.arg(),
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(v["incident"], "S3");
    assert_eq!(v["log"], bot.log().as_str());
    assert_eq!(v["config"], bot.config().as_str());
    assert_eq!(
        v["next"][0],
        format!("mwictl doctor {}", bot.log()).as_str()
    );
    assert!(
        v["seen"][0]
            .as_str()
            .is_some_and(|l| l.contains("unable to authenticate")),
        "{v}"
    );
}

/// Snapshot settings that also hide the run time and join tokens.
fn break_settings() -> insta::Settings {
    let mut settings = snapshot_settings();
    settings.add_filter(r"took \d+\.\ds", "took [SECONDS]");
    settings.add_filter(r"waited \d+\.\ds", "waited [SECONDS]");
    settings.add_filter(r"\b[0-9a-f]{32}\b", "[TOKEN]");
    settings
}

#[test]
fn lab_break_summaries_in_text() {
    let lab = Lab::start();
    let lint_only = break_bot(&lab, "k8s-secret", &BotDir::new(&lab, "k8s"), "k8s");
    let ssh = break_bot(&lab, "ssh-login", &BotDir::new(&lab, "ssh"), "ssh");
    break_settings().bind(|| {
        insta::assert_snapshot!("lab_break_k8s_secret_text", lab.redact(&lint_only.stdout));
        insta::assert_snapshot!("lab_break_ssh_login_text", lab.redact(&ssh.stdout));
    });
}

#[test]
fn lab_break_writes_a_commented_operator_style_tbot_yaml() {
    let lab = Lab::start();
    let bot = BotDir::new(&lab, "db");
    break_bot(&lab, "db-access", &bot, "db");
    let text = std::fs::read_to_string(bot.config()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(bot.config())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "it holds a join token");
    }
    break_settings().bind(|| {
        insta::assert_snapshot!("lab_break_db_access_tbot_yaml", lab.redact(&text));
    });
}
