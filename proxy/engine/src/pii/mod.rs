//! PII from proto annotations (ADR-011). A namespace that binds a schema gets a
//! `PiiCodec`: writes are checked against the bound message and its PII fields
//! (`prism.pii`, `prism.encrypt_at_rest`) are sealed with AES-256-GCM under the
//! namespace's current data key; reads are opened for callers holding pii-read
//! and masked for everyone else. Errors name fields, never values.

pub mod encode;
pub mod envelope;
pub mod keys;
pub mod mask;
pub mod schema;
pub mod split;
pub mod validate;
pub mod wire;

use prost::Message;
use prost_reflect::DynamicMessage;

pub use envelope::Row;
pub use keys::{DataKeys, MasterKey};
pub use schema::Schema;

use crate::config::SchemaBinding;
use crate::PrismError;

/// How a reader sees PII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The original message (pii-read).
    Plain,
    /// PII masked (`mask`).
    Masked,
}

/// The bound schema and data keys of one namespace.
pub struct PiiCodec {
    namespace: String,
    binding: SchemaBinding,
    schema: Schema,
    /// `None` when the schema has no PII field: values are only checked.
    keys: Option<DataKeys>,
}

impl std::fmt::Debug for PiiCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiiCodec").field("namespace", &self.namespace).field("message", &self.name()).finish()
    }
}

impl PiiCodec {
    /// `master` is asked for only when the schema has PII fields. Errors are
    /// INVALID_ARGUMENT naming the namespace.
    pub fn new(
        namespace: &str,
        binding: &SchemaBinding,
        master: impl FnOnce() -> Result<MasterKey, String>,
    ) -> Result<Self, PrismError> {
        let bad = |reason: String| {
            PrismError::invalid("schema", format!("schema of namespace '{namespace}': {reason}"))
        };
        let schema = Schema::load(binding).map_err(bad)?;
        let keys = if schema.has_pii() {
            if binding.data_keys.is_empty() {
                return Err(bad(format!(
                    "{} has PII fields ({}) but no data_keys are listed",
                    schema.name(),
                    schema.pii_paths().join(", ")
                )));
            }
            let master = master().map_err(bad)?;
            Some(DataKeys::unwrap(&master, namespace, &binding.data_keys).map_err(bad)?)
        } else {
            None
        };
        Ok(Self { namespace: namespace.to_string(), binding: binding.clone(), schema, keys })
    }

    /// Full name of the bound message.
    pub fn name(&self) -> &str {
        self.schema.name()
    }

    pub fn binding(&self) -> &SchemaBinding {
        &self.binding
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Checks a value written to `path` (e.g. `entries[2].value`) and returns
    /// what to store: `None` (the value as sent) when it holds no PII, else the
    /// public fields followed by the envelope. With an idempotency token the
    /// result is deterministic (see `envelope::seal`), so a retry stores the same
    /// bytes and matches the first attempt's fingerprint.
    pub fn seal(
        &self,
        value: &[u8],
        row: Row<'_>,
        path: &str,
        idempotency_token: Option<&str>,
    ) -> Result<Option<Vec<u8>>, PrismError> {
        let refuse = |path: String, reason: String| {
            let message = format!("value does not match schema {}: {reason}", self.name());
            PrismError::invalid(path, message)
        };
        validate::check(&self.schema.message, value, path).map_err(|m| refuse(m.path, m.reason))?;
        let Some(keys) = &self.keys else { return Ok(None) };
        let mut message = DynamicMessage::decode(self.schema.message.clone(), value)
            .map_err(|e| refuse(path.to_string(), e.to_string()))?;
        let secret = split::take_pii(&self.schema, &mut message);
        if split::is_empty(&secret) {
            return Ok(None);
        }
        let sealed = envelope::seal(keys, &self.namespace, row, &encode::encode(&secret), idempotency_token);
        Ok(Some(envelope::attach(encode::encode(&message), &sealed)))
    }

    /// What a reader gets for a stored value; `None` means the stored bytes as they are.
    pub fn reveal(&self, stored: &[u8], row: Row<'_>, view: View) -> Result<Option<Vec<u8>>, PrismError> {
        let Some(keys) = &self.keys else { return Ok(None) };
        let Some((public, sealed)) = envelope::split(stored) else {
            return Ok(self.mask_unsealed(stored, view));
        };
        let plaintext =
            envelope::open(keys, &self.namespace, row, sealed).map_err(|e| self.cannot_open(e))?;
        let corrupted = || self.cannot_open(envelope::OpenError::Malformed);
        let descriptor = self.schema.message.clone();
        let mut message =
            DynamicMessage::decode(descriptor.clone(), public.as_slice()).map_err(|_| corrupted())?;
        let mut secret = DynamicMessage::decode(descriptor, plaintext.as_slice()).map_err(|_| corrupted())?;
        if view == View::Masked {
            mask::mask(&self.schema, &mut secret);
        }
        split::overlay(&mut message, secret);
        Ok(Some(message.encode_to_vec()))
    }

    /// A value stored with no envelope (written before PII was bound, or with no
    /// PII field set) is returned as stored, except that PII found in it is
    /// masked for readers without pii-read. Bytes that are not a message of the
    /// bound type are returned as stored.
    fn mask_unsealed(&self, stored: &[u8], view: View) -> Option<Vec<u8>> {
        if view == View::Plain || stored.is_empty() {
            return None;
        }
        let mut message = DynamicMessage::decode(self.schema.message.clone(), stored).ok()?;
        let mut secret = split::take_pii(&self.schema, &mut message);
        if split::is_empty(&secret) {
            return None;
        }
        mask::mask(&self.schema, &mut secret);
        split::overlay(&mut message, secret);
        Some(message.encode_to_vec())
    }

    fn cannot_open(&self, err: envelope::OpenError) -> PrismError {
        let why = match err {
            envelope::OpenError::Malformed => "its stored form is corrupted".to_string(),
            envelope::OpenError::UnknownVersion(v) => {
                format!("it was sealed under data key version {v}, which the namespace no longer lists")
            }
            envelope::OpenError::Rejected => "wrong key or corrupted".to_string(),
        };
        PrismError::Internal(format!(
            "cannot decrypt the PII of a stored value in namespace '{}' ({why})",
            self.namespace
        ))
    }
}
