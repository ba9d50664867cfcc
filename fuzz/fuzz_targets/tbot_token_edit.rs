//! Fuzzes the tbot.yaml token writer used by `recover --tbot-config`: any text must be edited or
//! refused, never panic, and an edited file must read back the new token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mwi_diag::tbot_config::{TokenEdit, current_token, plan_token_edit};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = current_token(&text);
    let token = "0123456789abcdef0123456789abcdef";
    if let Ok(TokenEdit::Config(edited)) = plan_token_edit(&text, token) {
        assert_eq!(
            current_token(&edited).expect("an edited file scans"),
            Some(token.to_string())
        );
    }
});
