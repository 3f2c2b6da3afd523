//! Deterministic encoding: equal messages give equal bytes. prost-reflect writes
//! map entries in hash order, which differs between decodes of the same bytes;
//! here entries go in key order. Sealing needs this so that a retried write
//! with the same idempotency token stores (and fingerprints) the same bytes.

use prost::Message;
use prost_reflect::{DynamicMessage, MapKey, ReflectMessage, Value};

use super::wire::put_len_field;

/// Scalar and scalar-list fields first (as one message, in number order), then
/// message fields, list elements and map entries in field-number and key order.
pub fn encode(message: &DynamicMessage) -> Vec<u8> {
    let mut flat = DynamicMessage::new(message.descriptor());
    let mut nested = Vec::new();
    for (field, value) in message.fields() {
        match value {
            Value::Message(inner) => put_len_field(&mut nested, field.number(), &encode(inner)),
            Value::List(items) if items.iter().any(|i| i.as_message().is_some()) => {
                for item in items.iter().filter_map(Value::as_message) {
                    put_len_field(&mut nested, field.number(), &encode(item));
                }
            }
            Value::Map(entries) => {
                let Some(entry_type) = field.kind().as_message().cloned() else { continue };
                let mut keys: Vec<&MapKey> = entries.keys().collect();
                keys.sort();
                for key in keys {
                    let mut entry = DynamicMessage::new(entry_type.clone());
                    entry.set_field_by_number(1, Value::from(key.clone()));
                    entry.set_field_by_number(2, entries[key].clone());
                    put_len_field(&mut nested, field.number(), &encode(&entry));
                }
            }
            _ => flat.set_field(&field, value.clone()),
        }
    }
    let mut out = flat.encode_to_vec();
    out.extend_from_slice(&nested);
    out
}
