//! What callers without pii-read see in place of PII (ADR-011): strings become
//! `***` (each element of a repeated string too), and every other PII field is
//! left out, so it reads as its default (empty bytes, zero, false, the first
//! enum value, an absent message, an empty list or map). A string's presence is
//! kept on purpose: it tells the reader "there is a value you may not see".

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, ReflectMessage, Value};

use super::schema::Schema;

pub const MASK: &str = "***";

/// Masks, in place, the PII part of a message (as `split::take_pii` returns it).
pub fn mask(schema: &Schema, secret: &mut DynamicMessage) {
    let descriptor = secret.descriptor();
    let plan = schema.plan(&descriptor);
    let fields: Vec<FieldDescriptor> = secret.fields().map(|(field, _)| field).collect();
    for field in fields {
        if plan.descend.iter().any(|d| d.number() == field.number()) {
            match secret.get_field_mut(&field) {
                Value::Message(inner) => mask(schema, inner),
                Value::List(items) => {
                    items.iter_mut().filter_map(Value::as_message_mut).for_each(|m| mask(schema, m))
                }
                Value::Map(entries) => {
                    entries.values_mut().filter_map(Value::as_message_mut).for_each(|m| mask(schema, m))
                }
                _ => {}
            }
            continue;
        }
        match masked(&field, &secret.get_field(&field)) {
            Some(value) => secret.set_field(&field, value),
            None => secret.clear_field(&field),
        }
    }
}

fn masked(field: &FieldDescriptor, value: &Value) -> Option<Value> {
    if field.kind() != Kind::String || field.is_map() {
        return None;
    }
    match value {
        Value::String(_) => Some(Value::String(MASK.into())),
        Value::List(items) => Some(Value::List(items.iter().map(|_| Value::String(MASK.into())).collect())),
        _ => None,
    }
}
