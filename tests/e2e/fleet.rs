//! A seeded lab (`mwictl lab seed`): `bots instances ls` searched, queried and sorted by the
//! server, the bad inputs refused before any RPC, and triage's RPCs growing with pages, not bots.

use std::time::{Duration, Instant};

use crate::bots::{json, table_settings};
use crate::harness::{Lab, run};

/// A lab with 12 bots, 60 instances (versions in turn 16.5.2, 17.4.8, 18.0.0-rc.1, 18.0.0,
/// 18.1.5, 19.0.0; instance i on `host-{i:06}`, of bot `seed-{i % 12:05}`) and 5 locks (on
/// instances 0 to 4), once the running lab enforces them (it notices the outside write within a
/// second, without a restart).
fn seeded() -> Lab {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&[
        "lab",
        "seed",
        "--bots",
        "12",
        "--instances",
        "60",
        "--locks",
        "5",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(
        (&report["bots"], &report["instances"], &report["locks"]),
        (&12.into(), &60.into(), &5.into())
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = run(&mut lab.cmd(&["locks", "ls", "--format", "json"]));
        if json(&out.stdout).as_array().map(Vec::len) == Some(5) {
            return lab;
        }
        assert!(
            Instant::now() < deadline,
            "the lab never saw the seeded locks"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `bots instances ls ARGS --format json` as rows.
fn ls(lab: &Lab, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["bots", "instances", "ls", "--format", "json"];
    all.extend_from_slice(args);
    let out = run(&mut lab.cmd(&all));
    assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    json(&out.stdout).as_array().expect("array").clone()
}

fn column(rows: &[serde_json::Value], key: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn queries_select_by_version_bot_and_hostname() {
    let lab = seeded();
    let old = ls(&lab, &["--query", r#"older_than(version, "18.0.0")"#]);
    assert_eq!(old.len(), 30);
    assert!(
        column(&old, "version")
            .iter()
            .all(|v| ["16.5.2", "17.4.8", "18.0.0-rc.1"].contains(&v.as_str()))
    );
    let between = ls(
        &lab,
        &["--query", r#"between(version, "18.0.0", "19.0.0")"#],
    );
    assert_eq!(between.len(), 20);
    let picked = ls(
        &lab,
        &[
            "--query",
            r#"spec.bot_name == "seed-00003" || contains(hostname, "000059")"#,
        ],
    );
    let mut hosts = column(&picked, "hostname");
    hosts.sort();
    assert_eq!(
        hosts,
        [
            "host-000003",
            "host-000015",
            "host-000027",
            "host-000039",
            "host-000051",
            "host-000059"
        ]
    );
    let negated = ls(&lab, &["--query", r#"!(bot_name != "seed-00001") && true"#]);
    assert_eq!(negated.len(), 5);
    let searched = ls(&lab, &["--search", "HOST-00004"]);
    assert_eq!(searched.len(), 10, "the search ignores case");
    // Every tenth instance (hostname ending in 9) is unhealthy.
    for row in ls(&lab, &["seed-00009"]) {
        let nine = row["hostname"].as_str().is_some_and(|h| h.ends_with('9'));
        let want = if nine { "unhealthy" } else { "healthy" };
        assert_eq!(row["status"], want, "{row}");
    }
}

#[test]
fn the_server_sorts_by_each_index_both_ways() {
    let lab = seeded();
    let by_version = ls(
        &lab,
        &[
            "--sort-index",
            "version_latest",
            "--sort-order",
            "descending",
        ],
    );
    let versions = column(&by_version, "version");
    assert_eq!(versions.len(), 60);
    assert_eq!(versions[..10], ["19.0.0"; 10]);
    assert_eq!(versions[20..30], ["18.0.0"; 10]);
    assert_eq!(
        versions[30..40],
        ["18.0.0-rc.1"; 10],
        "a pre-release sorts below its release"
    );
    assert_eq!(versions[50..], ["16.5.2"; 10]);
    let hosts = column(&ls(&lab, &["--sort-index", "host_name_latest"]), "hostname");
    let mut sorted = hosts.clone();
    sorted.sort();
    assert_eq!(hosts, sorted);
    let seen = column(
        &ls(
            &lab,
            &[
                "--sort-index",
                "active_at_latest",
                "--sort-order",
                "descending",
            ],
        ),
        "last_seen",
    );
    let mut newest_first = seen.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, newest_first);
    let by_bot = ls(&lab, &["--sort-order", "descending"]);
    assert_eq!(by_bot[0]["bot"], "seed-00011");
}

#[test]
fn a_query_listing_prints_tctls_columns() {
    let lab = seeded();
    let out = run(&mut lab.cmd(&[
        "bots",
        "instances",
        "ls",
        "--query",
        r#"contains(hostname, "00000")"#,
        "--sort-index",
        "host_name_latest",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    table_settings().bind(|| insta::assert_snapshot!("fleet_instances_ls_query_text", out.stdout));
}

#[test]
fn seeded_locks_mark_their_instances() {
    let lab = seeded();
    let locked = ls(&lab, &["--query", r#"contains(hostname, "host-00000")"#]);
    let flags: Vec<bool> = locked.iter().map(|r| r["locked"] == true).collect();
    assert_eq!(flags.iter().filter(|l| **l).count(), 5, "{flags:?}");
}

#[test]
fn bad_queries_sort_indexes_and_seeds_are_refused_before_any_rpc() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&[
        "bots",
        "instances",
        "ls",
        "--query",
        r#"older_than(version, "18.0.0""#,
    ]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr.lines().next(),
        Some("error: --query: parsing expression: 1:29: expected ')', found 'EOF'")
    );
    let out = run(&mut lab.cmd(&["bots", "instances", "ls", "--query", "hostnme == \"a\""]));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with(
            "error: --query: parsing expression: 1:1: unknown identifier: \"hostnme\"\n"
        ),
        "{}",
        out.stderr
    );
    let out = run(&mut lab.cmd(&["bots", "instances", "ls", "--sort-index", "hostname"]));
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: unknown --sort-index \"hostname\"; use one of: bot_name, active_at_latest, version_latest, host_name_latest\n"
    );
    let out = run(&mut lab.cmd(&["lab", "seed"]));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with("error: nothing to seed\n"),
        "{}",
        out.stderr
    );
    let out = run(&mut lab.cmd(&["lab", "seed", "--instances", "5"]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("add --bots N too"), "{}", out.stderr);
}

/// Pages a listing of `items` takes at most: the full ones and one more, which may come back
/// empty (mwictl asks for `client::PAGE_SIZE` items a page).
fn pages(items: usize) -> usize {
    items / mwictl::client::PAGE_SIZE as usize + 1
}

/// What `triage --format json` saw of a seeded lab, the roles there are, and the RPCs
/// `bots ls` sent over the same fleet.
struct Triaged {
    bots: usize,
    roles: usize,
    rpcs: usize,
    bots_ls_rpcs: usize,
}

/// The RPCs `mwictl -vv ARGS` sent: its debug log has a `call` line for each.
fn rpcs_of(lab: &Lab, args: &[&str]) -> usize {
    let mut cmd = lab.cmd(&["-vv"]);
    cmd.args(args);
    let out = run(&mut cmd);
    assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    out.stderr
        .lines()
        .filter(|l| l.contains(" DEBUG call ") || l.contains(" DEBUG call (answer streamed) "))
        .count()
}

/// `mwictl lab seed --bots BOTS --instances 2*BOTS --locks 2*BOTS`, then `triage --format
/// json` once the lab lists them.
fn triage_after_seeding(lab: &Lab, bots: usize) -> Triaged {
    let (n, twice) = (bots.to_string(), (2 * bots).to_string());
    let out = run(&mut lab.cmd(&[
        "lab",
        "seed",
        "--bots",
        &n,
        "--instances",
        &twice,
        "--locks",
        &twice,
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The running lab notices the outside write within a second.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (report, count) = loop {
        let out = run(&mut lab.cmd(&["triage", "--format", "json"]));
        assert!([0, 1].contains(&out.code), "{}", out.stderr);
        let report = json(&out.stdout);
        let count = report["bots"].as_u64().expect("bots") as usize;
        if count == bots || Instant::now() > deadline {
            break (report, count);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = run(&mut lab.cmd(&["roles", "ls", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    Triaged {
        bots: count,
        roles: json(&out.stdout).as_array().map_or(0, Vec::len),
        rpcs: report["rpcs"].as_u64().expect("rpcs") as usize,
        bots_ls_rpcs: rpcs_of(lab, &["bots", "ls", "--format", "json"]),
    }
}

/// Issue 15: triage's and `bots ls`'s RPCs are proportional to pages, not to bots. Fifty
/// times the bots (30 → 1,500, with their instances, locks and `bot-NAME` roles) adds only the
/// extra pages of ListBots, ListRoles and ListBotInstancesV2; GetLocks and GetTokens are one
/// call either way.
#[test]
fn triage_and_bots_ls_rpcs_grow_with_pages_not_with_bots() {
    let lab = Lab::start();
    let small = triage_after_seeding(&lab, 30);
    assert_eq!(small.bots, 30);
    // The three listings' pages and calls made once whatever the fleet (ping, tokens and
    // locks today, with room for a few more): a handful, none per bot.
    let listings = pages(30) + pages(small.roles) + pages(60);
    for (what, rpcs) in [("triage", small.rpcs), ("bots ls", small.bots_ls_rpcs)] {
        // At least Ping, ListBots, ListRoles, GetTokens, ListBotInstancesV2 and GetLocks.
        assert!(
            (6..=6 + listings).contains(&rpcs),
            "{what}: {rpcs} RPCs for 30 bots"
        );
    }
    // Seeding again replaces the bots and locks and adds its 3,000 instances to the first 60.
    let big = triage_after_seeding(&lab, 1_500);
    assert_eq!(big.bots, 1_500);
    let more_pages = (pages(1_500) - pages(30))
        + (pages(big.roles) - pages(small.roles))
        + (pages(3_060) - pages(60));
    for (what, big, small) in [
        ("triage", big.rpcs, small.rpcs),
        ("bots ls", big.bots_ls_rpcs, small.bots_ls_rpcs),
    ] {
        assert!(
            big <= small + more_pages,
            "{what}: {big} RPCs for 1,500 bots vs {small} for 30: more than the {more_pages} extra pages"
        );
    }
}
