//! Splits a decoded message into its public part and its PII part, and lays the
//! PII part back over the public one.
//!
//! The PII part is a message of the same type holding only the PII fields, at
//! the same positions: a repeated message field keeps one element per original
//! element (empty where that element has no PII), a map keeps the keys whose
//! values have PII. The public part keeps every message it descended into, so
//! laying the parts together restores the original exactly.

use std::collections::HashMap;

use prost_reflect::{DynamicMessage, MapKey, ReflectMessage, Value};

use super::schema::Schema;

/// Removes the PII fields from `message` (at every depth) and returns them.
pub fn take_pii(schema: &Schema, message: &mut DynamicMessage) -> DynamicMessage {
    let descriptor = message.descriptor();
    let plan = schema.plan(&descriptor);
    let mut secret = DynamicMessage::new(descriptor);
    for field in &plan.sealed {
        if message.has_field(field) {
            if let Some(value) = message.take_field(field) {
                secret.set_field(field, value);
            }
        }
    }
    for field in &plan.descend {
        if !message.has_field(field) {
            continue;
        }
        let part = match message.get_field_mut(field) {
            Value::Message(inner) => {
                Some(take_pii(schema, inner)).filter(|s| !is_empty(s)).map(Value::Message)
            }
            Value::List(items) => {
                let parts: Vec<DynamicMessage> = items
                    .iter_mut()
                    .filter_map(|item| item.as_message_mut().map(|inner| take_pii(schema, inner)))
                    .collect();
                parts
                    .iter()
                    .any(|p| !is_empty(p))
                    .then(|| Value::List(parts.into_iter().map(Value::Message).collect()))
            }
            Value::Map(entries) => {
                let parts: HashMap<MapKey, Value> = entries
                    .iter_mut()
                    .filter_map(|(key, value)| match value {
                        Value::Message(inner) => {
                            let part = take_pii(schema, inner);
                            (!is_empty(&part)).then(|| (key.clone(), Value::Message(part)))
                        }
                        _ => None,
                    })
                    .collect();
                (!parts.is_empty()).then_some(Value::Map(parts))
            }
            _ => None,
        };
        if let Some(part) = part {
            secret.set_field(field, part);
        }
    }
    secret
}

pub fn is_empty(message: &DynamicMessage) -> bool {
    message.fields().next().is_none()
}

/// Lays `secret` over `public`: fields the public part lacks are set, nested
/// messages (singular, list elements by position, map values by key) are laid
/// over recursively, and anything else takes the secret's value.
pub fn overlay(public: &mut DynamicMessage, secret: DynamicMessage) {
    let mut secret = secret;
    let fields: Vec<_> = secret.take_fields().collect();
    for (field, value) in fields {
        if !public.has_field(&field) {
            public.set_field(&field, value);
            continue;
        }
        match (public.get_field_mut(&field), value) {
            (Value::Message(p), Value::Message(s)) => overlay(p, s),
            (Value::List(p), Value::List(s)) if p.len() == s.len() => {
                for (p, s) in p.iter_mut().zip(s) {
                    match (p, s) {
                        (Value::Message(p), Value::Message(s)) => overlay(p, s),
                        (p, s) => *p = s,
                    }
                }
            }
            (Value::Map(p), Value::Map(s)) => {
                for (key, s) in s {
                    match (p.get_mut(&key), s) {
                        (Some(Value::Message(p)), Value::Message(s)) => overlay(p, s),
                        (_, s) => {
                            p.insert(key, s);
                        }
                    }
                }
            }
            (p, s) => *p = s,
        }
    }
}
