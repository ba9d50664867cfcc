//! Bots as tests of the bot operations build them: a stored bot, its spec, and a fetched copy
//! carrying a field from a future version.

use mwi_proto::machineid::{Bot, BotSpec, Trait};
use mwi_proto::teleport::header::v1::Metadata;

use crate::client::Fetched;

use super::spec::set_logins;

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub fn spec(roles: &[&str], logins: &[&str]) -> BotSpec {
    let mut spec = BotSpec {
        roles: strings(roles),
        traits: vec![Trait {
            name: "env".into(),
            values: strings(&["prod"]),
        }],
        ..Default::default()
    };
    set_logins(&mut spec, strings(logins));
    spec
}

pub fn fetched_with_unknown(bot: Bot) -> Fetched<Bot> {
    use prost::Message;
    let mut raw = bot.encode_to_vec();
    prost::encoding::string::encode(901, &"from-the-future".to_string(), &mut raw);
    Fetched::decode(raw.into()).unwrap()
}

pub fn stored_bot() -> Bot {
    Bot {
        kind: "bot".into(),
        version: "v1".into(),
        metadata: Some(Metadata {
            name: "example".into(),
            revision: "r1".into(),
            ..Default::default()
        }),
        spec: Some(spec(&["access"], &["root"])),
        status: Some(mwi_proto::machineid::BotStatus {
            user_name: "bot-example".into(),
            role_name: "bot-example".into(),
        }),
        ..Default::default()
    }
}

pub fn has_future_field(bytes: &[u8]) -> bool {
    bytes.windows(15).any(|w| w == b"from-the-future")
}
