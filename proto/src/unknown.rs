//! Keeps fields this version of mwictl does not know. prost drops unknown fields when it decodes;
//! a resource edited through typed structs is grafted back onto the bytes it was read from, so
//! every unknown field (at any depth) is written back as it came.

use prost::Message;
use prost_reflect::{DynamicMessage, MapKey, ReflectMessage, Value};

/// Encodes `edited`, carrying over every unknown field found in `original` (the bytes the
/// resource was read as). Nested messages are matched by field, map values by key, and repeated
/// messages by equal known content first, then by position.
pub fn keep_unknown<M: Message + prost::Name>(original: &[u8], edited: &M) -> Vec<u8> {
    let Some(desc) = crate::descriptor_pool().get_message_by_name(&M::full_name()) else {
        return edited.encode_to_vec();
    };
    let Ok(orig) = DynamicMessage::decode(desc.clone(), original) else {
        return edited.encode_to_vec();
    };
    let mut new = match DynamicMessage::decode(desc, edited.encode_to_vec().as_slice()) {
        Ok(m) => m,
        Err(_) => return edited.encode_to_vec(),
    };
    graft(&orig, &mut new);
    new.encode_to_vec()
}

/// True when `bytes`, decoded as `M`, has unknown fields at any depth.
pub fn has_unknown<M: prost::Name>(bytes: &[u8]) -> bool {
    let Some(desc) = crate::descriptor_pool().get_message_by_name(&M::full_name()) else {
        return false;
    };
    DynamicMessage::decode(desc, bytes)
        .map(|m| any_unknown(&m))
        .unwrap_or(false)
}

fn any_unknown(m: &DynamicMessage) -> bool {
    if m.unknown_fields().next().is_some() {
        return true;
    }
    m.fields().any(|(_, v)| value_has_unknown(v))
}

fn value_has_unknown(v: &Value) -> bool {
    match v {
        Value::Message(m) => any_unknown(m),
        Value::List(items) => items.iter().any(value_has_unknown),
        Value::Map(map) => map.values().any(value_has_unknown),
        _ => false,
    }
}

fn graft(orig: &DynamicMessage, new: &mut DynamicMessage) {
    let mut buf = Vec::new();
    for field in orig.unknown_fields() {
        field.encode(&mut buf);
    }
    if !buf.is_empty() {
        // Merging bytes of undeclared numbers appends them as unknown fields.
        let _ = new.merge(buf.as_slice());
    }
    let desc = orig.descriptor();
    for field in desc.fields() {
        if !orig.has_field(&field) || !new.has_field(&field) {
            continue;
        }
        let old_value = orig.get_field(&field);
        let Some(new_value) = new.get_field_mut(&field).into() else {
            continue;
        };
        graft_value(&old_value, new_value);
    }
}

fn graft_value(old: &Value, new: &mut Value) {
    match (old, new) {
        (Value::Message(o), Value::Message(n)) => graft(o, n),
        (Value::Map(o), Value::Map(n)) => {
            for (key, nv) in n.iter_mut() {
                if let Some(ov) = o.get::<MapKey>(key) {
                    graft_value(ov, nv);
                }
            }
        }
        (Value::List(o), Value::List(n)) => graft_list(o, n),
        _ => {}
    }
}

fn graft_list(old: &[Value], new: &mut [Value]) {
    let known = |v: &Value| match v {
        Value::Message(m) => Some(strip_unknown(m).encode_to_vec()),
        _ => None,
    };
    let old_keys: Vec<_> = old.iter().map(known).collect();
    let mut used = vec![false; old.len()];
    let same_len = old.len() == new.len();
    for (i, nv) in new.iter_mut().enumerate() {
        let Some(key) = known(nv) else { continue };
        let by_content = old_keys
            .iter()
            .enumerate()
            .position(|(j, k)| !used[j] && k.as_ref() == Some(&key));
        let pick = by_content.or_else(|| (same_len && !used[i]).then_some(i));
        if let Some(j) = pick {
            used[j] = true;
            graft_value(&old[j], nv);
        }
    }
}

fn strip_unknown(m: &DynamicMessage) -> DynamicMessage {
    let mut copy = m.clone();
    copy.take_unknown_fields().for_each(drop);
    for field in copy.descriptor().fields() {
        if let Value::Message(inner) = copy.get_field(&field).as_ref() {
            let stripped = strip_unknown(inner);
            copy.set_field(&field, Value::Message(stripped));
        }
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{LockSpecV2, LockTarget, LockV2, Metadata, RoleConditions, RoleV6, Rule};

    /// Appends a field with an undeclared number: varint field 900 = 7, and a string field 901.
    fn with_unknown(mut bytes: Vec<u8>) -> Vec<u8> {
        prost::encoding::encode_key(900, prost::encoding::WireType::Varint, &mut bytes);
        prost::encoding::encode_varint(7, &mut bytes);
        prost::encoding::string::encode(901, &"future".to_string(), &mut bytes);
        bytes
    }

    #[test]
    fn top_level_unknown_fields_survive_an_edit() {
        let lock = LockV2 {
            kind: "lock".into(),
            version: "v2".into(),
            metadata: Some(Metadata {
                name: "l1".into(),
                ..Default::default()
            }),
            spec: Some(LockSpecV2 {
                target: Some(LockTarget {
                    user: "bot-a".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let original = with_unknown(lock.encode_to_vec());
        let mut edited = LockV2::decode(original.as_slice()).unwrap();
        edited.spec.as_mut().unwrap().message = "edited".into();
        let out = keep_unknown(&original, &edited);
        assert!(has_unknown::<LockV2>(&out));
        assert!(out.ends_with(&original[lock.encode_to_vec().len()..]));
        assert_eq!(LockV2::decode(out.as_slice()).unwrap(), edited);
    }

    #[test]
    fn nested_unknown_fields_survive_in_repeated_rules_after_an_append() {
        let rule = Rule {
            resources: vec!["db".into()],
            verbs: vec!["read".into()],
            ..Default::default()
        };
        let rule_bytes = with_unknown(rule.encode_to_vec());
        let mut allow = Vec::new();
        prost::encoding::bytes::encode(4, &rule_bytes, &mut allow);
        let cond = RoleConditions::decode(allow.as_slice()).unwrap();
        assert_eq!(cond.rules.len(), 1);
        let mut spec = Vec::new();
        prost::encoding::bytes::encode(2, &allow, &mut spec);
        let mut role = RoleV6 {
            kind: "role".into(),
            ..Default::default()
        }
        .encode_to_vec();
        prost::encoding::bytes::encode(5, &spec, &mut role);

        let mut edited = RoleV6::decode(role.as_slice()).unwrap();
        let allow = edited.spec.as_mut().unwrap().allow.as_mut().unwrap();
        allow.rules.insert(
            0,
            Rule {
                resources: vec!["node".into()],
                ..Default::default()
            },
        );
        let out = keep_unknown(&role, &edited);
        let pool = crate::descriptor_pool();
        let dm = DynamicMessage::decode(
            pool.get_message_by_name("types.RoleV6").unwrap(),
            out.as_slice(),
        )
        .unwrap();
        let rules = dm.get_field_by_name("Spec").unwrap();
        let rules = rules
            .as_message()
            .unwrap()
            .get_field_by_name("Allow")
            .unwrap();
        let rules = rules
            .as_message()
            .unwrap()
            .get_field_by_name("Rules")
            .unwrap();
        let rules = rules.as_list().unwrap().to_vec();
        assert_eq!(rules.len(), 2);
        assert!(
            rules[0]
                .as_message()
                .unwrap()
                .unknown_fields()
                .next()
                .is_none()
        );
        assert_eq!(rules[1].as_message().unwrap().unknown_fields().count(), 2);
    }
}
