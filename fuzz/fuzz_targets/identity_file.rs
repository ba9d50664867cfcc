//! Fuzzes the identity-file reader and the certificate-subject reader: any bytes must parse or be
//! refused with an error, never panic; a parsed file must render and parse back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mwi_identity::{CertIdentity, IdentityFile};

fuzz_target!(|data: &[u8]| {
    let _ = CertIdentity::from_der(data);
    let text = String::from_utf8_lossy(data);
    let _ = CertIdentity::from_pem(&text);
    if let Ok(file) = IdentityFile::parse(&text) {
        let again = IdentityFile::parse(&file.to_text()).expect("a rendered file parses");
        assert_eq!(again, file);
        let _ = file.cert();
    }
});
