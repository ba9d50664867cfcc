//! `lab start --proxy-listen` and `--proxy`: the lab proxy with TLS routing, reached the way
//! admins reach a Teleport proxy, and the one-line errors for addresses that are not one.

use crate::harness::{Lab, mwictl_cmd, run};

/// A lab with a proxy on a free loopback port; its `127.0.0.1:PORT`.
fn lab_with_proxy(extra: &[&str]) -> (Lab, String) {
    let mut args = vec!["--proxy-listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let lab = Lab::start_with(&args);
    let proxy = lab.proxy.clone().expect("the ready line names the proxy");
    (lab, proxy)
}

#[test]
fn the_ready_line_names_the_proxy_and_the_web_ca_is_beside_the_data() {
    let (lab, proxy) = lab_with_proxy(&[]);
    assert!(
        proxy.starts_with("127.0.0.1:") && proxy != "127.0.0.1:0",
        "{proxy}"
    );
    assert!(
        lab.ready_line
            .ends_with(&format!(" cluster=lab proxy={proxy}")),
        "{}",
        lab.ready_line
    );
    let data = lab.identity.parent().unwrap();
    assert!(data.join("web-ca.crt").is_file());
    // The web CA is the lab proxy's own: it is not among the CAs an admin identity trusts.
    let web_ca = std::fs::read_to_string(data.join("web-ca.crt")).unwrap();
    let identity = std::fs::read_to_string(&lab.identity).unwrap();
    assert!(!identity.contains(web_ca.trim()));
}

#[test]
fn locks_ls_through_the_lab_proxy_as_the_admin() {
    let (lab, proxy) = lab_with_proxy(&[]);
    let home = tempfile::tempdir().unwrap();
    let identity = lab.identity.display().to_string();
    let out = run(&mut mwictl_cmd(
        home.path(),
        &["--proxy", &proxy, "-i", &identity, "locks", "ls"],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "no locks found\n");
}
