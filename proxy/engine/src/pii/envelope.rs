//! The stored form of a value with PII (ADR-011): the message without its PII
//! fields, followed by one length-delimited field number 536870911 (the largest
//! protobuf allows, refused in bound schemas) holding the envelope:
//!
//! ```text
//! format (1 byte, = 1) | key version (4 bytes, big-endian) | nonce (12) | AES-256-GCM(ciphertext || tag)
//! ```
//!
//! The plaintext is the PII fields encoded as a message of the bound type. The
//! AAD binds the header, the namespace and the row (the KV key, or a time-series
//! event's series and id), so an envelope moved to another row or namespace, or
//! relabelled with another key version, does not open.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::Nonce;
use rand::RngCore;

use super::keys::{DataKeys, NONCE_BYTES};
use super::wire;

pub const ENVELOPE_FIELD: u32 = wire::MAX_FIELD;
const FORMAT: u8 = 1;
const HEADER_BYTES: usize = 1 + 4;

/// The row a value belongs to, bound into the AAD.
#[derive(Debug, Clone, Copy)]
pub enum Row<'a> {
    Kv(&'a [u8]),
    Event { series_id: &'a str, event_id: &'a str },
}

/// Why an envelope does not open. Carries no value bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum OpenError {
    Malformed,
    UnknownVersion(u32),
    /// Wrong key, another row's envelope, or tampered bytes: GCM cannot tell which.
    Rejected,
}

fn aad(header: &[u8], namespace: &str, row: Row<'_>) -> Vec<u8> {
    let mut out = b"prism-pii".to_vec();
    out.extend_from_slice(header);
    let mut part = |bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    part(namespace.as_bytes());
    match row {
        Row::Kv(key) => {
            part(b"kv");
            part(key);
        }
        Row::Event { series_id, event_id } => {
            part(b"event");
            part(series_id.as_bytes());
            part(event_id.as_bytes());
        }
    }
    out
}

/// Encrypts `plaintext` under the current data key. The nonce is random, or,
/// for a write carrying an idempotency token, derived (HMAC-SHA256 under a key
/// derived from the data key) from the token, the AAD and the plaintext: only a
/// byte-identical retry of the same write repeats it, and then the whole
/// envelope repeats, which reveals nothing but "same write".
pub fn seal(
    keys: &DataKeys,
    namespace: &str,
    row: Row<'_>,
    plaintext: &[u8],
    idempotency_token: Option<&str>,
) -> Vec<u8> {
    let (version, cipher) = keys.current();
    let mut out = Vec::with_capacity(HEADER_BYTES + NONCE_BYTES + plaintext.len() + 16);
    out.push(FORMAT);
    out.extend_from_slice(&version.to_be_bytes());
    let aad = aad(&out, namespace, row);
    let nonce = match idempotency_token {
        None => {
            let mut nonce = [0u8; NONCE_BYTES];
            rand::rng().fill_bytes(&mut nonce);
            nonce
        }
        Some(token) => keys.derived_nonce(version, &[token.as_bytes(), &aad, plaintext]),
    };
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad })
        .expect("AES-GCM encryption fails only past 64 GiB");
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

/// Decrypts an envelope made by `seal`.
pub fn open(keys: &DataKeys, namespace: &str, row: Row<'_>, envelope: &[u8]) -> Result<Vec<u8>, OpenError> {
    if envelope.len() < HEADER_BYTES + NONCE_BYTES + 16 || envelope[0] != FORMAT {
        return Err(OpenError::Malformed);
    }
    let (header, rest) = envelope.split_at(HEADER_BYTES);
    let version = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    let cipher = keys.get(version).ok_or(OpenError::UnknownVersion(version))?;
    let (nonce, sealed) = rest.split_at(NONCE_BYTES);
    let aad = aad(header, namespace, row);
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad })
        .map_err(|_| OpenError::Rejected)
}

/// The public part and the envelope of a stored value; `None` when it carries
/// no envelope (written before PII was bound, or with no PII field set) or is
/// not protobuf at all.
pub fn split(stored: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut public = Vec::with_capacity(stored.len());
    let mut envelope = None;
    for field in wire::fields(stored) {
        let field = field.ok()?;
        if field.number == ENVELOPE_FIELD && field.wire_type == wire::LEN {
            envelope = Some(field.payload);
        } else {
            public.extend_from_slice(field.span);
        }
    }
    envelope.map(|e| (public, e))
}

/// The stored form: the public message bytes with the envelope field after them.
pub fn attach(mut public: Vec<u8>, envelope: &[u8]) -> Vec<u8> {
    wire::put_len_field(&mut public, ENVELOPE_FIELD, envelope);
    public
}
