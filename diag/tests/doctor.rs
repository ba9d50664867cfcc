//! The log doctor over the corpus: each incident in each era's wording and each log format,
//! related lines collapsed into one finding, text and JSON reports snapshotted.

use mwi_diag::doctor::{
    Confidence, Doctor, DoctorError, Finding, Incident, LineFormat, LiveCheck, Other, Report,
    Sources,
};
use mwi_diag::incident::Incident as Product;
use std::io::Write;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/logs/");

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{CORPUS}{name}")).expect("corpus file")
}

fn diagnose(names: &[&str]) -> Report {
    let mut doctor = Doctor::new();
    for name in names {
        doctor
            .feed_reader(name, read(name).as_slice())
            .expect("reading a slice");
    }
    doctor.finish()
}

fn text(report: &Report) -> String {
    let mut out = Vec::new();
    report.render_text(&mut out, false).expect("render");
    String::from_utf8(out).expect("utf-8")
}

fn only(report: &Report) -> &Finding {
    assert_eq!(report.findings.len(), 1, "{}", text(report));
    &report.findings[0]
}

fn lines(finding: &Finding) -> Vec<(String, u64)> {
    finding
        .evidence
        .iter()
        .map(|e| (e.source.clone(), e.line))
        .collect()
}

#[test]
fn legacy_mismatch_access_denied_and_lock_are_one_finding() {
    let report = diagnose(&["s1_legacy_seed.txt"]);
    let finding = only(&report);
    assert_eq!(
        finding.incident,
        Incident::Product(Product::GenerationMismatch)
    );
    assert_eq!(finding.bot.as_deref(), Some("example"));
    assert!(
        finding
            .variant
            .as_deref()
            .is_some_and(|v| v.starts_with("v9–v15"))
    );
    assert_eq!(finding.facts.get("stored").map(String::as_str), Some("3"));
    assert_eq!(
        finding.facts.get("lock_target").map(String::as_str),
        Some("user: bot-example")
    );
    assert_eq!(
        finding.live_check,
        Some(LiveCheck::LockForBot {
            bot: Some("example".into())
        })
    );
    assert_eq!(
        finding.fix.mwictl.as_deref(),
        Some("mwictl recover generation-mismatch --bot example")
    );
    assert!(
        finding
            .fix
            .tctl
            .contains(&"tctl bots rm example".to_string()),
        "legacy servers need the bot recreated"
    );
    assert_eq!(report.exit_code(), 1);
    insta::assert_snapshot!(text(&report));
}

#[test]
fn legacy_mismatch_json_report() {
    let report = diagnose(&["s1_legacy_seed.txt"]);
    insta::assert_snapshot!(serde_json::to_string_pretty(&report).expect("json"));
}

#[test]
fn v16_json_log_mismatch_names_bot_and_instance() {
    let report = diagnose(&["s1_v16_json.log"]);
    let finding = only(&report);
    assert_eq!(
        finding.incident,
        Incident::Product(Product::GenerationMismatch)
    );
    assert_eq!(finding.bot.as_deref(), Some("ci"));
    assert_eq!(
        finding.facts.get("instance").map(String::as_str),
        Some("0b5e5f1c-3c1f-4a0b-9d5e-2f7c1a9e8b21")
    );
    assert!(
        finding
            .variant
            .as_deref()
            .is_some_and(|v| v.starts_with("v16–v18"))
    );
    assert!(
        finding
            .evidence
            .iter()
            .all(|e| e.format == LineFormat::Json)
    );
    assert!(
        finding
            .fix
            .tctl
            .contains(&"tctl bots instances add ci".to_string())
    );
    // The access denied retries and tbot giving up belong to the same incident.
    assert_eq!(
        lines(finding).iter().map(|(_, l)| *l).collect::<Vec<_>>(),
        vec![4, 5, 6, 7]
    );
    insta::assert_snapshot!(text(&report));
}

#[test]
fn newest_journal_mismatch_locks_the_instance() {
    let report = diagnose(&["s1_newest_journal.log"]);
    let finding = only(&report);
    assert_eq!(finding.bot.as_deref(), Some("deploy"));
    assert_eq!(
        finding.facts.get("lock_target").map(String::as_str),
        Some("bot_instance_id: 7f7a2c1e-9d2b-4c55-8a0e-5b1f9c3d2e10")
    );
    assert!(
        finding
            .variant
            .as_deref()
            .is_some_and(|v| v.starts_with("newest"))
    );
    assert!(
        finding
            .evidence
            .iter()
            .all(|e| e.format == LineFormat::Journal)
    );
    insta::assert_snapshot!(text(&report));
}

#[test]
fn auth_log_and_client_log_collapse_into_one_finding() {
    let report = diagnose(&["s1_client_only.log", "s1_auth_only.log"]);
    let finding = only(&report);
    assert_eq!(
        finding.incident,
        Incident::Product(Product::GenerationMismatch)
    );
    assert_eq!(finding.bot.as_deref(), Some("web"));
    assert_eq!(
        lines(finding),
        vec![
            ("s1_client_only.log".to_string(), 2),
            ("s1_auth_only.log".to_string(), 3)
        ]
    );
}

#[test]
fn access_denied_alone_suggests_checking_locks() {
    let report = diagnose(&["s1_client_only.log"]);
    let finding = only(&report);
    assert_eq!(finding.incident, Incident::Other(Other::AccessDenied));
    assert_eq!(
        finding.live_check,
        Some(LiveCheck::LockForBot { bot: None })
    );
    assert_eq!(
        finding.fix.mwictl.as_deref(),
        Some("mwictl unlock --bot BOT_NAME")
    );
}

#[test]
fn expired_identity_and_bad_certificate_are_one_finding() {
    let report = diagnose(&["s2_expired_seed.txt"]);
    let finding = only(&report);
    assert_eq!(finding.incident, Incident::Product(Product::Expired));
    assert_eq!(
        finding.bot.as_deref(),
        Some("test"),
        "from roles=[bot-test]"
    );
    assert_eq!(
        finding.live_check,
        Some(LiveCheck::InstanceExpired {
            bot: Some("test".into())
        })
    );
    // The fallback dial's IP SANs error is part of it, not a finding of its own.
    assert!(finding.evidence.iter().any(|e| e.text.contains("IP SANs")));
    insta::assert_snapshot!(text(&report));
}

#[test]
fn journal_json_output_is_read() {
    let report = diagnose(&["s2_journal_json.log"]);
    let finding = only(&report);
    assert_eq!(finding.incident, Incident::Product(Product::Expired));
    assert_eq!(finding.bot.as_deref(), Some("runner"));
    assert!(
        finding
            .evidence
            .iter()
            .all(|e| e.format == LineFormat::JournalJson)
    );
}

#[test]
fn ssh_failure_names_login_and_granted_principals() {
    let report = diagnose(&["s3_ssh_seed.txt"]);
    let finding = only(&report);
    assert_eq!(finding.incident, Incident::Product(Product::SshLogin));
    assert_eq!(finding.facts.get("login").map(String::as_str), Some("bob"));
    assert_eq!(
        finding.facts.get("principals").map(String::as_str),
        Some("/opt/machine-id: alice")
    );
    assert_eq!(
        finding.live_check,
        Some(LiveCheck::LoginMissing {
            bot: None,
            login: Some("bob".into())
        })
    );
    insta::assert_snapshot!(text(&report));
}

#[test]
fn ssh_failure_uses_the_latest_renewal() {
    let report = diagnose(&["s3_ssh_text.log"]);
    let finding = only(&report);
    assert_eq!(finding.bot.as_deref(), Some("ops"));
    assert_eq!(finding.facts.get("login").map(String::as_str), Some("root"));
    assert_eq!(
        finding.facts.get("principals").map(String::as_str),
        Some("/opt/machine-id: ubuntu ec2-user")
    );
    assert_eq!(
        finding.fix.mwictl.as_deref(),
        Some("mwictl recover ssh-login --bot ops --login root")
    );
}

#[test]
fn database_not_found_names_the_database() {
    let report = diagnose(&["s4_database_seed.txt"]);
    let finding = only(&report);
    assert_eq!(finding.incident, Incident::Product(Product::DbAccess));
    assert_eq!(
        finding.live_check,
        Some(LiveCheck::RoleLacksDbAccess {
            bot: None,
            db: "example".into()
        })
    );
    let report = diagnose(&["s4_tsh_json.log"]);
    let finding = only(&report);
    assert_eq!(finding.facts.get("db").map(String::as_str), Some("pg-prod"));
    // Both causes of this one error, and how to tell them apart.
    for needle in [
        "roles cannot see it",
        "renamed",
        "teleport.internal/discovered-name=pg-prod",
        "`tctl get db` tells them apart",
    ] {
        assert!(
            finding.cause.contains(needle),
            "{needle}: {}",
            finding.cause
        );
    }
    assert_eq!(
        finding.fix.tctl.first().map(String::as_str),
        Some("tctl get db")
    );
    assert_eq!(finding.bot.as_deref(), Some("reporting"));
    insta::assert_snapshot!(text(&report));
}

#[test]
fn exec_plugin_error_points_to_lint_fix() {
    for name in ["s5_kube_seed.txt", "s5_kube_json.log"] {
        let report = diagnose(&[name]);
        let finding = only(&report);
        assert_eq!(finding.incident, Incident::Product(Product::K8sSecret));
        assert_eq!(
            finding.facts.get("secret").map(String::as_str),
            Some("identity-output")
        );
        assert_eq!(
            finding.fix.mwictl.as_deref(),
            Some("mwictl lint --fix /etc/tbot.yaml")
        );
        assert_eq!(finding.live_check, None);
    }
}

#[test]
fn proxy_ping_failure_over_several_lines_is_one_finding() {
    let report = diagnose(&["s7_proxy_seed.txt"]);
    let finding = only(&report);
    assert_eq!(finding.incident, Incident::Product(Product::NoProxy));
    assert_eq!(
        finding.facts.get("url").map(String::as_str),
        Some("https://teleport.example.com:443/webapi/find")
    );
    insta::assert_snapshot!(text(&report));
}

#[test]
fn a_failed_dial_to_the_advertised_proxy_address_is_split_dns() {
    // The lab agent's log from `mwictl lab break split-dns` (paths and addresses replaced).
    let report = diagnose(&["s6_split_dns_lab_agent.log"]);
    let finding = only(&report);
    assert_eq!(finding.incident, Incident::Product(Product::SplitDns));
    assert_eq!(
        finding.facts.get("advertised").map(String::as_str),
        Some("proxy.lab.invalid")
    );
    assert_eq!(
        lines(finding),
        [
            ("s6_split_dns_lab_agent.log".to_string(), 5),
            ("s6_split_dns_lab_agent.log".to_string(), 6)
        ]
    );
    insta::assert_snapshot!(text(&report));
}

#[test]
fn named_incidents_are_recognised() {
    let report = diagnose(&["others.log"]);
    let ids: Vec<&str> = report.findings.iter().map(|f| f.incident.id()).collect();
    assert_eq!(
        ids,
        vec![
            "renewal-gave-up",
            "join-token-invalid",
            "legacy-reissue",
            "missing-identity-groups",
            "rbac-denied",
            "bot-locked",
            "cert-ip-sans",
        ]
    );
    let legacy = &report.findings[2];
    assert_eq!(legacy.bot.as_deref(), Some("legacy"));
    let rbac = &report.findings[4];
    assert_eq!(
        rbac.live_check,
        Some(LiveCheck::RoleLacksRule {
            // The nearest line naming a bot is the lock of bot-paused just below.
            bot: Some("paused".into()),
            verb: "read".into(),
            resource: "workload_identity".into()
        })
    );
    insta::assert_snapshot!(text(&report));
}

#[test]
fn noise_alone_is_clean() {
    let report = diagnose(&["noise.log"]);
    assert!(report.findings.is_empty(), "{}", text(&report));
    assert_eq!(report.exit_code(), 0);
    assert_eq!(report.sources[0].lines, 6);
    insta::assert_snapshot!(text(&report), @"No known incident found in 6 lines from 1 source.");
}

#[test]
fn every_incident_in_one_run_keeps_sources_apart() {
    let all = [
        "noise.log",
        "s1_v16_json.log",
        "s2_journal_json.log",
        "s5_kube_json.log",
        "s7_proxy_seed.txt",
    ];
    let report = diagnose(&all);
    let ids: Vec<&str> = report.findings.iter().map(|f| f.incident.id()).collect();
    assert_eq!(ids, vec!["S1", "S2", "S5", "S7"]);
}

#[test]
fn small_buffers_and_crlf_give_the_same_findings() {
    let names = [
        "s1_legacy_seed.txt",
        "s1_v16_json.log",
        "s2_expired_seed.txt",
        "s2_journal_json.log",
        "s3_ssh_seed.txt",
        "s7_proxy_seed.txt",
        "others.log",
    ];
    let summary = |r: &Report| {
        r.findings
            .iter()
            .map(|f| (f.incident, lines(f)))
            .collect::<Vec<_>>()
    };
    for name in names {
        let expected = diagnose(&[name]);
        // Longer than any corpus line, so each refill ends inside some line.
        let mut small = Doctor::with_buffer_capacity(400);
        small
            .feed_reader(name, read(name).as_slice())
            .expect("read");
        assert_eq!(
            serde_json::to_value(small.finish()).expect("json"),
            serde_json::to_value(&expected).expect("json"),
            "{name}"
        );
        // Shorter than some lines: those are read in pieces, the findings stay.
        let mut tiny = Doctor::with_buffer_capacity(64);
        tiny.feed_reader(name, read(name).as_slice()).expect("read");
        assert_eq!(summary(&tiny.finish()), summary(&expected), "{name}");

        let crlf = String::from_utf8_lossy(&read(name)).replace('\n', "\r\n");
        let mut doctor = Doctor::new();
        doctor.feed_reader(name, crlf.as_bytes()).expect("read");
        assert_eq!(summary(&doctor.finish()), summary(&expected), "{name}");
    }
}

#[test]
fn a_flood_of_one_error_keeps_memory_bounded_and_counts_all() {
    let mut log = String::new();
    for i in 0..200_000 {
        log.push_str(&format!(
            "2025-01-01T00:00:{:02}.{i:06}Z WARN renewal failed: auth API: access denied [{i}]\n",
            i % 60
        ));
    }
    log.push_str("ERROR: renewable cert generation mismatch: stored=3, presented=2\n");
    let mut doctor = Doctor::new();
    doctor
        .feed_reader("flood.log", log.as_bytes())
        .expect("read");
    let report = doctor.finish();
    let finding = only(&report);
    assert_eq!(
        finding.incident,
        Incident::Product(Product::GenerationMismatch)
    );
    assert_eq!(finding.occurrences, 200_001);
    assert!(finding.evidence.len() <= 24);
    assert_eq!(report.sources[0].matched_lines, 200_001);
}

#[test]
fn a_line_longer_than_the_buffer_is_still_read() {
    let mut log = "x".repeat(3 << 20);
    log.push_str(" Identity has expired. ");
    log.push_str(&"y".repeat(1 << 20));
    log.push_str("\nnext\n");
    let mut doctor = Doctor::new();
    doctor
        .feed_reader("long.log", log.as_bytes())
        .expect("read");
    let report = doctor.finish();
    let finding = only(&report);
    assert_eq!(finding.incident, Incident::Product(Product::Expired));
    assert_eq!(finding.evidence[0].line, 1);
    assert!(finding.evidence[0].text.len() <= 1024 + 3);
    assert_eq!(report.sources[0].lines, 2);
}

#[test]
fn invalid_utf8_is_read_lossily() {
    let mut log = b"\xff\xfe ERROR: database \"caf\xc3\xa9\" not found \xff\n".to_vec();
    // Control bytes other than NUL (which marks a binary file, refused) are read as they are.
    log.extend_from_slice(b"\x01\x02 tls: bad certificate\n");
    let mut doctor = Doctor::new();
    doctor.feed_reader("bin.log", log.as_slice()).expect("read");
    let report = doctor.finish();
    let ids: Vec<&str> = report.findings.iter().map(|f| f.incident.id()).collect();
    assert_eq!(ids, vec!["S4", "S2"]);
    assert_eq!(
        report.findings[0].facts.get("db").map(String::as_str),
        Some("café")
    );
}

#[test]
fn live_answers_are_recorded_and_rendered() {
    let mut report = diagnose(&["s1_legacy_seed.txt"]);
    report.answer_live_checks(|check| {
        assert_eq!(
            check,
            &LiveCheck::LockForBot {
                bot: Some("example".into())
            }
        );
        mwi_diag::doctor::LiveAnswer {
            current: Some(true),
            detail:
                "lock 5cee949f-5203-4f3b-9805-dac35d798a16 targeting user: bot-example is in force"
                    .into(),
        }
    });
    let rendered = text(&report);
    assert!(
        rendered.contains("live:  still current: lock 5cee949f"),
        "{rendered}"
    );
}

#[test]
fn incidents_serialize_as_their_ids_and_parse_back() {
    for incident in Product::ALL.map(Incident::Product).into_iter().chain([
        Incident::Other(Other::BotLocked),
        Incident::Other(Other::JoinTokenInvalid),
        Incident::Other(Other::MissingIdentityGroups),
        Incident::Other(Other::CertIpSans),
    ]) {
        let json = serde_json::to_string(&incident).unwrap();
        assert_eq!(json, format!("\"{}\"", incident.id()));
        assert_eq!(serde_json::from_str::<Incident>(&json).unwrap(), incident);
    }
    assert_eq!(Incident::Product(Product::SshLogin).id(), "S3");
    assert_eq!(Incident::Other(Other::RbacDenied).id(), "rbac-denied");
}

/// What `mwictl doctor` reads: sources by name, `-` (or none) for standard input. Ok when every
/// source was read.
fn read_sources(inputs: &[&str], stdin: &[u8]) -> Result<Report, DoctorError> {
    let mut sources = read_all_sources(inputs, stdin);
    match sources.errors.pop() {
        Some(error) => Err(error),
        None => Ok(sources.report),
    }
}

fn read_all_sources(inputs: &[&str], stdin: &[u8]) -> Sources {
    let names: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
    Doctor::read_sources(&names, stdin, None)
}

#[test]
fn sources_with_findings_exit_1_and_clean_ones_0() {
    let report = read_sources(&[&format!("{CORPUS}s1_legacy_seed.txt")], b"").expect("reads");
    assert_eq!(report.exit_code(), 1);
    let report = read_sources(&[&format!("{CORPUS}noise.log")], b"").expect("reads");
    assert_eq!(report.exit_code(), 0);
    let out = text(&report);
    assert!(out.starts_with("No known incident found"), "{out}");
}

#[test]
fn standard_input_is_read_by_default_and_for_dash() {
    let log = b"ERRO [TBOT] Identity has expired. The renewal is likely to fail.\n";
    for inputs in [&[][..], &["-"][..]] {
        let report = read_sources(inputs, log).expect("reads");
        assert_eq!(report.exit_code(), 1);
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["findings"][0]["incident"], "S2");
        assert_eq!(json["findings"][0]["evidence"][0]["source"], "-");
        assert_eq!(json["schema"], "mwictl.doctor/v1");
    }
}

#[test]
fn an_unreadable_source_is_named_and_the_readable_ones_are_still_reported() {
    let sources = read_all_sources(
        &[
            "/nonexistent/tbot.log",
            &format!("{CORPUS}s1_legacy_seed.txt"),
        ],
        b"",
    );
    assert_eq!(sources.errors.len(), 1);
    let err = &sources.errors[0];
    assert!(matches!(err, DoctorError::Open { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("cannot open /nonexistent/tbot.log:"),
        "{message}"
    );
    assert!(!message.contains('\n'));
    assert_eq!(sources.report.sources.len(), 1, "the good file was read");
    assert_eq!(sources.report.findings[0].incident.id(), "S1");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

fn findings_json(report: &Report) -> serde_json::Value {
    serde_json::to_value(report).expect("json")["findings"].clone()
}

#[test]
fn a_gzip_compressed_log_gives_the_same_findings_as_the_plain_one() {
    for name in [
        "s1_newest_journal.log",
        "s1_v16_json.log",
        "s2_journal_json.log",
    ] {
        let plain = diagnose(&[name]);
        let mut doctor = Doctor::new();
        doctor
            .feed_reader(name, gzip(&read(name)).as_slice())
            .expect("gzip is read");
        let unzipped = doctor.finish();
        assert!(!plain.findings.is_empty(), "{name}");
        assert_eq!(findings_json(&unzipped), findings_json(&plain), "{name}");
    }
}

#[test]
fn concatenated_gzip_members_are_read_as_one_log_from_files_and_stdin() {
    let log = read("s1_legacy_seed.txt");
    let (head, tail) = log.split_at(log.len() / 2);
    let mut rotated = gzip(head);
    rotated.extend(gzip(tail));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tbot.log.1");
    std::fs::write(&path, &rotated).expect("write");
    let from_file = read_sources(&[path.to_str().expect("utf-8")], b"").expect("reads");
    let from_stdin = read_sources(&["-"], &rotated).expect("reads");
    let plain = read_sources(&["-"], &log).expect("reads");
    assert_eq!(from_file.sources[0].lines, plain.sources[0].lines);
    assert_eq!(findings_json(&from_stdin), findings_json(&plain));
    assert_eq!(from_file.findings.len(), plain.findings.len());
}

#[test]
fn binary_input_is_refused_with_no_findings() {
    // Noise with NUL bytes, as a core dump or an image would be.
    let noise: Vec<u8> = (0u32..200_000)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let sources = read_all_sources(&["-"], &noise);
    assert!(sources.report.findings.is_empty());
    let message = sources.errors[0].to_string();
    assert!(
        matches!(sources.errors[0], DoctorError::Binary { .. }),
        "{message}"
    );
    assert!(
        message.starts_with("cannot read -: it is binary"),
        "{message}"
    );
}

#[test]
fn other_compression_is_refused_naming_the_tool_that_reads_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tbot.log.zst");
    std::fs::write(&path, [0x28, 0xB5, 0x2F, 0xFD, 0x04, 0x58, 0x01, 0x00]).expect("write");
    let path = path.to_str().expect("utf-8");
    let sources = read_all_sources(&[path], b"");
    assert!(sources.report.findings.is_empty());
    assert_eq!(
        sources.errors[0].to_string(),
        format!(
            "cannot read {path}: it is zstd-compressed; decompress it first: zstdcat {path} | mwictl doctor -"
        )
    );
}

#[test]
fn live_answers_of_read_sources_reach_the_json_report() {
    let mut report =
        read_sources(&[&format!("{CORPUS}s1_newest_journal.log")], b"").expect("reads");
    let mut asked = Vec::new();
    report.answer_live_checks(|check: &LiveCheck| {
        asked.push(check.clone());
        mwi_diag::doctor::LiveAnswer {
            current: Some(false),
            detail: "no lock targets bot deploy".to_string(),
        }
    });
    assert_eq!(
        asked,
        vec![LiveCheck::LockForBot {
            bot: Some("deploy".into())
        }]
    );
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["findings"][0]["live"]["current"], false);
}

fn diagnose_text(sources: &[(&str, &str)], bot: Option<&str>) -> Report {
    let mut doctor = Doctor::new();
    doctor.assume_bot(bot);
    for (name, text) in sources {
        doctor
            .feed_reader(name, text.as_bytes())
            .expect("reading a slice");
    }
    doctor.finish()
}

/// A person's `tsh ssh` refused (pasted in a public issue of another project's style): nothing
/// in it is tbot's.
const TSH_REFUSED: &str = "$ tsh ssh root@db-1\nERROR: ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain\n";

#[test]
fn s3_without_any_tbot_in_the_input_is_a_low_confidence_note() {
    let report = diagnose_text(&[("tsh.txt", TSH_REFUSED)], None);
    let finding = only(&report);
    assert_eq!(finding.incident, Incident::Product(Product::SshLogin));
    assert_eq!(finding.confidence, Confidence::Low);
    let note = finding.note.as_deref().unwrap_or_default();
    assert!(note.contains("Nothing in the input shows tbot"), "{note}");
    assert!(note.contains("--bot NAME"), "{note}");
    assert_eq!(report.exit_code(), 0, "a note does not fail the run");
    let json = findings_json(&report);
    assert_eq!(json[0]["confidence"], "low", "{json}");
    insta::assert_snapshot!(text(&report));
}

#[test]
fn s3_with_tbot_anywhere_in_the_input_or_a_named_bot_is_high_confidence() {
    let tbot = "2025-03-02T10:40:02Z INFO [TBOT:IDENTITY] Renewed bot identity identity:[kind=tls] service_bot_identity.go:217\n";
    for report in [
        diagnose_text(&[("tsh.txt", TSH_REFUSED), ("tbot.log", tbot)], None),
        diagnose_text(&[("tsh.txt", TSH_REFUSED)], Some("ci")),
        diagnose(&["s3_ssh_seed.txt"]),
    ] {
        let finding = only(&report);
        assert_eq!(finding.incident, Incident::Product(Product::SshLogin));
        assert_eq!(finding.confidence, Confidence::High, "{}", text(&report));
        assert_eq!(report.exit_code(), 1);
    }
}

#[test]
fn a_line_only_tbot_or_the_auth_service_about_a_bot_writes_is_tbot_context() {
    // The legacy generation-mismatch line names no bot and has no tbot marker, but only a bot's
    // renewal produces it: the ssh refusal beside it is the bot's (S3), not a person's.
    let auth = "WARN renewable cert generation mismatch: stored=4, presented=3\n";
    let report = diagnose_text(&[("tsh.txt", TSH_REFUSED), ("auth.log", auth)], None);
    let s3 = report
        .findings
        .iter()
        .find(|f| f.incident == Incident::Product(Product::SshLogin))
        .expect("S3");
    assert_eq!(s3.confidence, Confidence::High, "{}", text(&report));
}

#[test]
fn a_low_confidence_note_beside_a_finding_is_counted_apart() {
    let report = diagnose_text(
        &[
            ("tsh.txt", TSH_REFUSED),
            (
                "auth.log",
                "WARN lock targeting Role:\"ops\" is in force: maintenance\n",
            ),
        ],
        None,
    );
    assert_eq!(report.findings.len(), 2, "{}", text(&report));
    assert_eq!(report.exit_code(), 1);
    let out = text(&report);
    assert!(
        out.ends_with("2 findings (1 of low confidence) in 3 lines from 2 sources.\n"),
        "{out}"
    );
}

#[test]
fn html_escaped_quotes_are_matched_like_plain_ones() {
    let escaped = "ERRO [TBOT:OUTP] Failed to generate impersonated certs error:[\nERROR REPORT:\nOriginal Error: *trace.NotFoundError database &#34;pg-prod&#34; not found\n";
    let report = diagnose_text(&[("tbot.log", escaped)], None);
    let finding = only(&report);
    assert_eq!(finding.incident, Incident::Product(Product::DbAccess));
    assert_eq!(finding.facts.get("db").map(String::as_str), Some("pg-prod"));
    assert!(
        finding.evidence[0].text.contains("&#34;pg-prod&#34;"),
        "evidence keeps the line as written"
    );

    let lock = "[AUTH] WARN lock targeting User:&quot;bot-example&quot; is in force: The bot user &#34;bot-example&#34; has been locked due to a certificate generation mismatch\n";
    let report = diagnose_text(&[("auth.log", lock)], None);
    let finding = only(&report);
    assert_eq!(
        finding.incident,
        Incident::Product(Product::GenerationMismatch)
    );
    assert_eq!(finding.bot.as_deref(), Some("example"));
    assert_eq!(
        finding.facts.get("lock_target").map(String::as_str),
        Some("user: bot-example")
    );
}

#[test]
fn the_older_kubernetes_secret_wording_is_s5() {
    // teleport issue #45078: tbot before the exec plugin was turned off by itself.
    let older = "WARN [TBOT:OUTP] Failed to render output kubernetes (kubernetes_secret: my-cluster-secret) error:[\nERROR REPORT:\nOriginal Error: *trace.BadParameterError Destination kubernetes_secret: my-cluster-secret must be a directory\n";
    let report = diagnose_text(&[("tbot.log", older)], None);
    let finding = only(&report);
    assert_eq!(finding.incident, Incident::Product(Product::K8sSecret));
    assert_eq!(
        finding.facts.get("secret").map(String::as_str),
        Some("my-cluster-secret")
    );
    let other = "mkdir: output_path must be a directory\n";
    assert!(diagnose_text(&[("x.log", other)], None).findings.is_empty());
}

/// Bound-keypair refusals (issue 14, wordings from lib/auth/join_bound_keypair.go and
/// lib/join/joinclient/join_boundkeypair.go): each names its incident S8–S12.
fn bk(incident: mwi_diag::incident::Incident) -> Incident {
    Incident::Product(incident)
}

#[test]
fn bk_recovery_limit_used_up_is_s8_with_the_retries_given_up() {
    use mwi_diag::incident::Incident as Product;
    let report = diagnose(&["s8_bk_exhausted_lab_agent.log"]);
    let finding = only(&report);
    assert_eq!(finding.incident, bk(Product::BkExhausted));
    assert_eq!(finding.incident.id(), "S8");
    assert_eq!(
        lines(finding),
        [
            ("s8_bk_exhausted_lab_agent.log".to_string(), 3),
            ("s8_bk_exhausted_lab_agent.log".to_string(), 5)
        ]
    );
    assert_eq!(
        finding.facts.get("refusals").map(String::as_str),
        Some("no rejoins remaining")
    );
    assert_eq!(
        finding.fix.mwictl.as_deref(),
        Some("mwictl recover bk-exhausted --bot BOT_NAME --wait 5m")
    );
    insta::assert_snapshot!(text(&report));
}

#[test]
fn bk_join_state_failure_and_join_token_lock_are_one_s9() {
    use mwi_diag::incident::Incident as Product;
    let report = diagnose(&["s9_bk_join_state_json.log"]);
    let finding = only(&report);
    assert_eq!(finding.incident, bk(Product::BkJoinState));
    assert_eq!(finding.bot.as_deref(), Some("ci"));
    assert_eq!(
        finding.facts.get("tokens").map(String::as_str),
        Some("bot-ci-0a6f812a")
    );
    assert_eq!(
        finding.fix.mwictl.as_deref(),
        Some("mwictl recover bk-join-state --bot ci --wait 5m")
    );
    assert_eq!(
        finding.live_check,
        Some(LiveCheck::BoundKeypair {
            incident: Product::BkJoinState,
            bot: Some("ci".into()),
            tokens: vec!["bot-ci-0a6f812a".into()],
        })
    );
    insta::assert_snapshot!(text(&report));
}

#[test]
fn bk_token_wiped_is_s10_in_a_journal() {
    use mwi_diag::incident::Incident as Product;
    let report = diagnose(&["s10_bk_token_wiped_journal.log"]);
    let finding = only(&report);
    assert_eq!(finding.incident, bk(Product::BkTokenWiped));
    assert_eq!(finding.incident.id(), "S10");
    assert_eq!(finding.evidence.len(), 2);
    assert!(
        finding
            .fix
            .then
            .as_deref()
            .unwrap()
            .contains("--restore-status")
    );
    insta::assert_snapshot!(text(&report));
}

#[test]
fn bk_keypair_lost_is_s11() {
    use mwi_diag::incident::Incident as Product;
    let report = diagnose(&["s11_bk_keypair_lost_lab_agent.log"]);
    let finding = only(&report);
    assert_eq!(finding.incident, bk(Product::BkKeypairLost));
    assert_eq!(finding.incident.id(), "S11");
    insta::assert_snapshot!(text(&report));
}

#[test]
fn join_state_failures_of_several_bots_are_one_s12() {
    use mwi_diag::incident::Incident as Product;
    let report = diagnose(&["s12_bk_rollback_auth.log"]);
    let finding = only(&report);
    assert_eq!(finding.incident, bk(Product::BkRollback));
    assert_eq!(finding.incident.id(), "S12");
    assert_eq!(
        finding.facts.get("tokens").map(String::as_str),
        Some("bot-web-5f2a9c1e, bot-db-77c1d2e3, bot-ci-0a6f812a")
    );
    assert_eq!(finding.evidence.len(), 3);
    insta::assert_snapshot!(text(&report));
}

#[test]
fn one_bots_repeated_join_state_failures_stay_s9() {
    use mwi_diag::incident::Incident as Product;
    let log = "WARN bound keypair join state verification failed token=bot-a-1 reason=x\n\
               WARN bound keypair join state verification failed token=bot-a-1 reason=y\n";
    let mut doctor = Doctor::new();
    doctor.feed_reader("auth.log", log.as_bytes()).unwrap();
    let report = doctor.finish();
    assert_eq!(only(&report).incident, bk(Product::BkJoinState));
}

#[test]
fn static_key_rotation_and_join_method_mismatch_are_named() {
    let report = diagnose(&["bk_others.log"]);
    let ids: Vec<&str> = report.findings.iter().map(|f| f.incident.id()).collect();
    assert_eq!(ids, ["bk-rotation-refused", "join-method-mismatch"]);
    let mismatch = &report.findings[1];
    assert_eq!(
        mismatch.facts.get("requested").map(String::as_str),
        Some("token")
    );
    assert_eq!(
        mismatch.facts.get("supported").map(String::as_str),
        Some("bound_keypair")
    );
    assert_eq!(
        report.findings[0].incident,
        Incident::Other(Other::BkRotationRefused)
    );
}

#[test]
fn bk_incidents_round_trip_through_json() {
    let report = diagnose(&["s12_bk_rollback_auth.log", "s8_bk_exhausted_lab_agent.log"]);
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"incident\":\"S12\""), "{json}");
    let back: Report = serde_json::from_str(&json).unwrap();
    let ids: Vec<&str> = back.findings.iter().map(|f| f.incident.id()).collect();
    assert_eq!(ids, ["S12", "S8"]);
}

#[test]
fn expiry_lines_beside_a_bound_keypair_refusal_are_its_context_not_s2() {
    use mwi_diag::incident::Incident as Product;
    // As the lab agent (`mwictl lab bot`) prints a refused recovery.
    let agent = "2026-12-06T05:32:44Z ERROR [TBOT]      Identity has expired. The renewal is likely to fail.\n\
                 2026-12-06T05:32:44Z ERROR [TBOT]      Failed to join error:\"access denied: no rejoins remaining\"\n";
    let expired_only = "2026-12-06T05:32:44Z ERROR [TBOT]      Identity has expired. The renewal is likely to fail.\n";
    let report = |sources: &[(&str, &str)]| {
        let mut doctor = Doctor::new();
        for (name, text) in sources {
            doctor.feed_reader(name, text.as_bytes()).unwrap();
        }
        doctor.finish()
    };
    let one = report(&[("tbot.log", agent)]);
    assert_eq!(only(&one).incident, bk(Product::BkExhausted));
    assert_eq!(only(&one).evidence.len(), 2);
    // Without a bound-keypair refusal it is S2; in another source it stays S2.
    let alone = report(&[("tbot.log", expired_only)]);
    assert_eq!(only(&alone).incident, Incident::Product(Product::Expired));
    let apart = report(&[("a.log", expired_only), ("b.log", agent)]);
    let ids: Vec<&str> = apart.findings.iter().map(|f| f.incident.id()).collect();
    assert_eq!(ids, ["S2", "S8"]);
}

fn doctor_on(text: &str) -> Report {
    let mut doctor = Doctor::new();
    doctor.feed_reader("auth.log", text.as_bytes()).unwrap();
    doctor.finish()
}

#[test]
fn join_token_locks_are_s9_alone_and_s12_in_a_fleet() {
    use mwi_diag::incident::Incident as Product;
    // lib/auth/bot.go's generation lock on a bound-keypair join token: S9, not S1.
    let generation = r#"WARN lock targeting JoinToken:"bot-web-1" is in force: Bot joins via the token "bot-web-1" have been locked due to a certificate generation mismatch by web/7f7a, possibly indicating a stolen certificate."#;
    let report = doctor_on(generation);
    assert_eq!(only(&report).incident, bk(Product::BkJoinState));
    assert_eq!(only(&report).bot.as_deref(), Some("web"));
    let fleet = format!(
        "{generation}\nWARN bound keypair join state verification failed token=bot-web-1\n\
         WARN bound keypair join state verification failed token=bot-db-2\n"
    );
    let report = doctor_on(&fleet);
    let finding = only(&report);
    assert_eq!(finding.incident, bk(Product::BkRollback));
    assert_eq!(finding.evidence.len(), 3);
    assert_eq!(
        finding.facts.get("tokens").map(String::as_str),
        Some("bot-web-1, bot-db-2")
    );
}

#[test]
fn a_refused_rotation_names_the_token_to_edit() {
    let report = doctor_on(
        "ERROR join failed token=bot-ci-9: public key may not be reused after rotation\n",
    );
    let finding = only(&report);
    assert_eq!(finding.incident, Incident::Other(Other::BkRotationRefused));
    assert_eq!(
        finding.fix.mwictl.as_deref(),
        Some("mwictl edit token/bot-ci-9")
    );
}

#[test]
fn an_expiry_line_joins_the_bound_keypair_finding_of_its_own_bot() {
    use mwi_diag::incident::Incident as Product;
    let report = doctor_on(
        "WARN join failed error=\"no rejoins remaining\" bot=a\n\
         WARN join failed error=\"could not lookup signer for public key k\" bot=b\n\
         ERROR [TBOT] Identity has expired. The renewal is likely to fail.\n",
    );
    let ids: Vec<(&str, Option<&str>, usize)> = report
        .findings
        .iter()
        .map(|f| (f.incident.id(), f.bot.as_deref(), f.evidence.len()))
        .collect();
    assert_eq!(ids, [("S8", Some("a"), 1), ("S11", Some("b"), 2)]);
    assert_eq!(report.findings[1].incident, bk(Product::BkKeypairLost));
}
