//! Checks that a value is a well-formed message of the bound type before it is
//! decoded, so a refusal can name the field to fix: its name, number and path
//! (`value.address.zip`, `entries[2].value.emails[1]`). Field numbers the
//! schema does not declare are refused too. Messages describe the shape only:
//! a value's bytes never appear in them.

use std::collections::HashMap;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

use super::wire::{self, RawField};

/// Nesting deeper than this is refused (protobuf's own default recursion limit).
const MAX_DEPTH: usize = 100;

/// Why a value does not match; `path` is the request field to fix.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub path: String,
    /// What is wrong, naming the field when there is one.
    pub reason: String,
}

/// Checks `bytes` as a message of `message`; `path` names the value in the request.
pub fn check(message: &MessageDescriptor, bytes: &[u8], path: &str) -> Result<(), Mismatch> {
    check_message(message, bytes, path, 0)
}

fn check_message(
    message: &MessageDescriptor,
    bytes: &[u8],
    path: &str,
    depth: usize,
) -> Result<(), Mismatch> {
    if depth > MAX_DEPTH {
        return Err(Mismatch { path: path.into(), reason: format!("nested more than {MAX_DEPTH} deep") });
    }
    // Occurrences per repeated field, for `name[i]` paths.
    let mut seen: HashMap<u32, usize> = HashMap::new();
    let mut walk = wire::fields(bytes);
    while let Some(raw) = walk.next() {
        let raw = raw.map_err(|e| match walk.field_number().and_then(|n| message.get_field(n)) {
            Some(field) => Mismatch {
                path: format!("{path}.{}", field.name()),
                reason: format!("field '{}' ({}): {e}", field.name(), field.number()),
            },
            None => Mismatch {
                path: path.into(),
                reason: format!("{} is not a valid protobuf message ({e})", message.full_name()),
            },
        })?;
        let Some(field) = message.get_field(raw.number) else {
            return Err(Mismatch {
                path: path.into(),
                reason: format!("field number {} is not in {}", raw.number, message.full_name()),
            });
        };
        let field_path = if field.is_list() || field.is_map() {
            let index = seen.entry(raw.number).or_default();
            *index += 1;
            if raw.wire_type == wire::LEN && is_packable(&field.kind()) {
                format!("{path}.{}", field.name())
            } else {
                format!("{path}.{}[{}]", field.name(), *index - 1)
            }
        } else {
            format!("{path}.{}", field.name())
        };
        check_field(&field, &raw, &field_path, depth)?;
    }
    Ok(())
}

/// Checks one occurrence; a mismatch inside a nested message keeps its own path.
fn check_field(
    field: &FieldDescriptor,
    raw: &RawField<'_>,
    path: &str,
    depth: usize,
) -> Result<(), Mismatch> {
    let here = |reason: String| Mismatch {
        path: path.to_string(),
        reason: format!("field '{}' ({}): {reason}", field.name(), field.number()),
    };
    let kind = field.kind();
    let expected = wire_type_of(&kind);
    if raw.wire_type == expected {
        return match kind {
            Kind::String => {
                std::str::from_utf8(raw.payload).map(|_| ()).map_err(|_| here("is not valid UTF-8".into()))
            }
            Kind::Message(inner) => check_message(&inner, raw.payload, path, depth + 1).map_err(|m| {
                if m.path == path {
                    here(m.reason)
                } else {
                    m
                }
            }),
            _ => Ok(()),
        };
    }
    // Repeated scalars may come packed: one LEN field holding the elements back to back.
    if field.is_list() && raw.wire_type == wire::LEN && is_packable(&kind) {
        return check_packed(expected, raw.payload).map_err(here);
    }
    Err(here(format!(
        "expected {} ({}), got {}",
        wire_name(expected),
        kind_name(&kind),
        wire_name(raw.wire_type)
    )))
}

fn check_packed(element: u8, payload: &[u8]) -> Result<(), String> {
    let size = match element {
        wire::I32 => 4,
        wire::I64 => 8,
        _ => {
            let mut pos = 0;
            while pos < payload.len() {
                wire::read_varint(payload, &mut pos).map_err(|e| format!("has a packed element with {e}"))?;
            }
            return Ok(());
        }
    };
    if payload.len() % size != 0 {
        return Err(format!("is packed but its length is not a multiple of {size}"));
    }
    Ok(())
}

fn wire_type_of(kind: &Kind) -> u8 {
    match kind {
        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => wire::I64,
        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => wire::I32,
        Kind::String | Kind::Bytes | Kind::Message(_) => wire::LEN,
        _ => wire::VARINT,
    }
}

fn is_packable(kind: &Kind) -> bool {
    !matches!(kind, Kind::String | Kind::Bytes | Kind::Message(_))
}

fn wire_name(wire_type: u8) -> &'static str {
    match wire_type {
        wire::VARINT => "a varint",
        wire::I64 => "a 64-bit fixed value",
        wire::I32 => "a 32-bit fixed value",
        wire::LEN => "a length-delimited value",
        _ => "an unsupported wire type",
    }
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => m.full_name().to_string(),
        Kind::Enum(e) => e.full_name().to_string(),
        other => format!("{other:?}").to_lowercase(),
    }
}
