//! The message bound to a namespace and where its PII sits. A field is PII when
//! its options set `(prism.pii)` (50201) or `(prism.encrypt_at_rest)` (50202).
//! The options are read from their raw bytes, so a descriptor set compiled with
//! or without `prism/options.proto` in it is understood the same way.
//!
//! For every message type reachable from the bound one, a `Plan` lists the
//! fields sealed whole and the message fields to descend into because PII sits
//! somewhere below them (singular, repeated and map values alike).

use std::collections::{HashMap, HashSet};

use base64::Engine;
use prost::Message;
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};

use super::envelope::ENVELOPE_FIELD;
use super::wire;
use crate::config::SchemaBinding;

const PII_OPTION: u32 = 50201;
const ENCRYPT_AT_REST_OPTION: u32 = 50202;

#[derive(Debug, Default)]
pub struct Plan {
    /// Fields whose whole value is PII.
    pub sealed: Vec<FieldDescriptor>,
    /// Message-typed fields (or maps with message values) with PII below them.
    pub descend: Vec<FieldDescriptor>,
}

pub struct Schema {
    pub message: MessageDescriptor,
    plans: HashMap<String, Plan>,
}

impl Schema {
    /// Errors are phrased to follow "schema of namespace 'x' ...".
    pub fn load(binding: &SchemaBinding) -> Result<Self, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(binding.descriptor_set.trim())
            .map_err(|_| "descriptor_set is not standard base64".to_string())?;
        let pool = DescriptorPool::decode(bytes.as_slice())
            .map_err(|e| format!("descriptor_set is not a valid FileDescriptorSet: {e}"))?;
        let message = pool.get_message_by_name(&binding.message).ok_or_else(|| {
            let mut names: Vec<String> = pool.all_messages().map(|m| m.full_name().to_string()).collect();
            names.retain(|n| !n.starts_with("google.protobuf.") && !n.starts_with("prism."));
            names.truncate(20);
            format!(
                "message '{}' is not in the descriptor set (give a full name; it has: {})",
                binding.message,
                names.join(", ")
            )
        })?;
        if message.get_field(ENVELOPE_FIELD).is_some() {
            return Err(format!(
                "message '{}' uses field number {ENVELOPE_FIELD}, which Prism reserves for sealed PII",
                binding.message
            ));
        }
        let reachable = reachable(&message)?;
        let with_pii = containing_pii(&reachable);
        let plans = reachable
            .iter()
            .map(|m| {
                let mut plan = Plan::default();
                for field in m.fields() {
                    if is_pii(&field) {
                        plan.sealed.push(field);
                    } else if element_message(&field).is_some_and(|e| with_pii.contains(e.full_name())) {
                        plan.descend.push(field);
                    }
                }
                (m.full_name().to_string(), plan)
            })
            .collect();
        Ok(Self { message, plans })
    }

    pub fn name(&self) -> &str {
        self.message.full_name()
    }

    /// The plan of a reachable message type (an empty one for any other).
    pub fn plan(&self, message: &MessageDescriptor) -> &Plan {
        static EMPTY: Plan = Plan { sealed: Vec::new(), descend: Vec::new() };
        self.plans.get(message.full_name()).unwrap_or(&EMPTY)
    }

    /// Whether any field, at any depth, is PII.
    pub fn has_pii(&self) -> bool {
        let root = self.plan(&self.message);
        !root.sealed.is_empty() || !root.descend.is_empty()
    }

    /// Dotted paths of the PII fields, for the ADR's "what is sealed" and for tests.
    pub fn pii_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        self.collect_paths(&self.message, "", &mut out, &mut seen);
        out
    }

    fn collect_paths(
        &self,
        message: &MessageDescriptor,
        prefix: &str,
        out: &mut Vec<String>,
        seen: &mut HashSet<String>,
    ) {
        if !seen.insert(message.full_name().to_string()) {
            return; // recursive types: each type is listed once
        }
        let plan = self.plan(message);
        out.extend(plan.sealed.iter().map(|f| format!("{prefix}{}", f.name())));
        for field in &plan.descend {
            if let Some(element) = element_message(field) {
                self.collect_paths(&element, &format!("{prefix}{}.", field.name()), out, seen);
            }
        }
        seen.remove(message.full_name());
    }
}

/// The message type of a field's values: the field's own type, or a map's value type.
pub fn element_message(field: &FieldDescriptor) -> Option<MessageDescriptor> {
    let Kind::Message(message) = field.kind() else { return None };
    if field.is_map() {
        return message.map_entry_value_field().kind().as_message().cloned();
    }
    Some(message)
}

fn is_pii(field: &FieldDescriptor) -> bool {
    let options = field.options().encode_to_vec();
    wire::fields(&options).map_while(Result::ok).any(|f| {
        (f.number == PII_OPTION || f.number == ENCRYPT_AT_REST_OPTION)
            && f.wire_type == wire::VARINT
            && f.varint != 0
    })
}

/// Every message type reachable from `root` through its fields; groups are refused.
fn reachable(root: &MessageDescriptor) -> Result<Vec<MessageDescriptor>, String> {
    let mut seen = HashSet::from([root.full_name().to_string()]);
    let mut todo = vec![root.clone()];
    let mut out = Vec::new();
    while let Some(message) = todo.pop() {
        for field in message.fields() {
            if field.is_group() {
                return Err(format!(
                    "field '{}' of {} is a group, which Prism schemas do not support",
                    field.name(),
                    message.full_name()
                ));
            }
            if let Kind::Message(child) = field.kind() {
                if seen.insert(child.full_name().to_string()) {
                    todo.push(child);
                }
            }
        }
        out.push(message);
    }
    Ok(out)
}

/// Full names of the message types with a PII field at some depth (a fixpoint, so
/// recursive types terminate).
fn containing_pii(messages: &[MessageDescriptor]) -> HashSet<String> {
    let mut with_pii: HashSet<String> = HashSet::new();
    loop {
        let before = with_pii.len();
        for message in messages {
            if with_pii.contains(message.full_name()) {
                continue;
            }
            let has = message
                .fields()
                .any(|f| is_pii(&f) || element_message(&f).is_some_and(|e| with_pii.contains(e.full_name())));
            if has {
                with_pii.insert(message.full_name().to_string());
            }
        }
        if with_pii.len() == before {
            return with_pii;
        }
    }
}
