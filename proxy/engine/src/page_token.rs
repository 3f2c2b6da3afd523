//! Opaque page tokens: base64url(version byte, fingerprint, cursor).
//!
//! The fingerprint hashes the namespace and the query selector, so a token
//! replayed against another namespace or another scan is refused instead of
//! silently resuming at the wrong place. The hash is stable across processes
//! (FNV-1a), so a token stays valid on another proxy or after a restart.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::PrismError;

const KV_VERSION: u8 = 1;
const TS_VERSION: u8 = 2;

/// FNV-1a over length-prefixed parts (so ("ab","c") differs from ("a","bc")).
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= *b as u64;
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for part in parts {
        feed(&(part.len() as u64).to_le_bytes());
        feed(part);
    }
    hash
}

fn invalid(message: &str) -> PrismError {
    PrismError::invalid("page_token", message)
}

fn decode(token: &str, version: u8, fingerprint: u64) -> Result<Vec<u8>, PrismError> {
    let raw = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid("malformed page token; pass the next_page_token of the previous page"))?;
    if raw.len() < 9 || raw[0] != version {
        return Err(invalid("malformed page token; pass the next_page_token of the previous page"));
    }
    let found = u64::from_le_bytes(raw[1..9].try_into().expect("8 bytes"));
    if found != fingerprint {
        return Err(invalid(
            "page token belongs to a different query (namespace, selector or filters changed)",
        ));
    }
    Ok(raw[9..].to_vec())
}

fn encode(version: u8, fingerprint: u64, cursor: &[u8]) -> String {
    let mut raw = Vec::with_capacity(9 + cursor.len());
    raw.push(version);
    raw.extend_from_slice(&fingerprint.to_le_bytes());
    raw.extend_from_slice(cursor);
    URL_SAFE_NO_PAD.encode(raw)
}

/// Scan tokens carry the last returned key.
pub fn encode_scan(fingerprint: u64, last_key: &[u8]) -> String {
    encode(KV_VERSION, fingerprint, last_key)
}

pub fn decode_scan(token: &str, fingerprint: u64) -> Result<Vec<u8>, PrismError> {
    decode(token, KV_VERSION, fingerprint)
}

/// Query tokens carry the (time, event id) of the last returned event.
pub fn encode_query(fingerprint: u64, time_ns: i64, event_id: &str) -> String {
    let mut cursor = time_ns.to_le_bytes().to_vec();
    cursor.extend_from_slice(event_id.as_bytes());
    encode(TS_VERSION, fingerprint, &cursor)
}

pub fn decode_query(token: &str, fingerprint: u64) -> Result<(i64, String), PrismError> {
    let cursor = decode(token, TS_VERSION, fingerprint)?;
    if cursor.len() < 8 {
        return Err(invalid("malformed page token; pass the next_page_token of the previous page"));
    }
    let time = i64::from_le_bytes(cursor[..8].try_into().expect("8 bytes"));
    let id = String::from_utf8(cursor[8..].to_vec()).map_err(|_| invalid("malformed page token"))?;
    Ok((time, id))
}
