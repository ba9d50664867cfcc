//! Fuzzes the readers of versions other programs print: `tbot version` output, a release the user
//! wrote (`--teleport-version`) and the version a cluster reports in Ping. Any text gives a
//! version or None, never a panic; a tbot version read back from its own text is the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mwi_diag::lint::target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(version) = target::parse_tbot_version(&text) {
        let again = target::parse_tbot_version(&format!("Teleport v{version} git:x go1"));
        assert_eq!(again, Some(version));
    }
    if let Some(release) = target::parse_release(&text) {
        assert!(release.version.major > 0 && (1..=3).contains(&release.parts));
    }
    target::cluster_release(&text);
});
