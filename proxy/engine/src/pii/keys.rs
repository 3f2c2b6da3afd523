//! The master key and the namespace data keys it wraps (ADR-011).
//!
//! The master key (32 bytes, base64 or 64 hex digits) comes from an environment
//! variable or a file and never leaves this process. A data key is stored wrapped:
//! `base64(nonce(12) || AES-256-GCM(master, nonce, dek(32),
//! aad = "prism-dek:" + namespace + ":" + version))`, so a wrapped key copied to
//! another namespace or version does not unwrap.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::{KeysConfig, WrappedKey};

pub const KEY_BYTES: usize = 32;
pub const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;

/// The key that wraps data keys. Its bytes are never printed; clones share it.
#[derive(Clone)]
pub struct MasterKey(std::sync::Arc<Aes256Gcm>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8; KEY_BYTES]) -> Self {
        Self(std::sync::Arc::new(Aes256Gcm::new(bytes.into())))
    }

    /// Base64 of 32 bytes (standard or URL-safe alphabet), or 64 hex digits;
    /// surrounding whitespace is ignored (as the admin reads it).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bytes = if text.len() == 2 * KEY_BYTES && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            decode_hex(text)
        } else {
            let standard = text.replace('-', "+").replace('_', "/");
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(standard.trim_end_matches('='))
                .map_err(|_| "is neither 64 hex digits nor base64".to_string())?
        };
        let bytes: [u8; KEY_BYTES] =
            bytes.try_into().map_err(|b: Vec<u8>| format!("must be {KEY_BYTES} bytes, not {}", b.len()))?;
        Ok(Self::from_bytes(&bytes))
    }

    /// The key named by `config`: its environment variable when set, else its file.
    pub fn load(config: &KeysConfig) -> Result<Self, String> {
        let env = config.master_key_env.as_str();
        if let Some(text) = (!env.is_empty()).then(|| std::env::var(env).ok()).flatten() {
            if !text.trim().is_empty() {
                return Self::parse(&text).map_err(|e| format!("master key in ${env} {e}"));
            }
        }
        let file = config.master_key_file.as_str();
        if file.is_empty() {
            return Err(format!(
                "no master key: set ${} or server.keys.master_key_file",
                if env.is_empty() { "PRISM_MASTER_KEY" } else { env }
            ));
        }
        let bytes =
            std::fs::read(file).map_err(|e| format!("cannot read the master key file {file}: {e}"))?;
        if let Ok(raw) = <[u8; KEY_BYTES]>::try_from(bytes.as_slice()) {
            return Ok(Self::from_bytes(&raw)); // a file of 32 raw bytes
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("master key in {file} is not 32 raw bytes, hex or base64"))?;
        Self::parse(&text).map_err(|e| format!("master key in {file} {e}"))
    }

    /// Wraps a data key (what the admin does; here for tools and tests).
    pub fn wrap(&self, namespace: &str, version: u32, dek: &[u8; KEY_BYTES]) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let aad = wrap_aad(namespace, version);
        let sealed = self
            .0
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: dek, aad: &aad })
            .expect("AES-GCM encryption of 32 bytes cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    /// The data key's cipher and its derived nonce key.
    fn unwrap(&self, namespace: &str, key: &WrappedKey) -> Result<(Aes256Gcm, [u8; 32]), String> {
        let what = format!("data key version {}", key.version);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(key.wrapped.trim())
            .map_err(|_| format!("{what} is not standard base64"))?;
        if raw.len() != NONCE_BYTES + KEY_BYTES + TAG_BYTES {
            return Err(format!("{what} is {} bytes; a wrapped key is {}", raw.len(), NONCE_BYTES + 48));
        }
        let (nonce, sealed) = raw.split_at(NONCE_BYTES);
        let aad = wrap_aad(namespace, key.version);
        let dek = self
            .0
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad })
            .map_err(|_| format!("{what} does not unwrap with this master key (wrong key, or wrapped for another namespace or version)"))?;
        let cipher =
            Aes256Gcm::new_from_slice(&dek).map_err(|_| format!("{what} is not {KEY_BYTES} bytes"))?;
        let nonce_key: [u8; 32] =
            Sha256::new().chain_update(b"prism-pii-nonce").chain_update(&dek).finalize().into();
        Ok((cipher, nonce_key))
    }
}

fn wrap_aad(namespace: &str, version: u32) -> Vec<u8> {
    format!("prism-dek:{namespace}:{version}").into_bytes()
}

fn decode_hex(text: &str) -> Vec<u8> {
    let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
    text.as_bytes().chunks(2).map(|pair| digit(pair[0]) << 4 | digit(pair[1])).collect()
}

/// The unwrapped data keys of one namespace; the highest version seals new values.
pub struct DataKeys {
    current: u32,
    keys: BTreeMap<u32, Aes256Gcm>,
    /// Per version, the HMAC key of derived nonces: SHA-256("prism-pii-nonce" || dek).
    nonce_keys: BTreeMap<u32, [u8; 32]>,
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeys").field("versions", &self.keys.keys().collect::<Vec<_>>()).finish()
    }
}

impl DataKeys {
    pub fn unwrap(master: &MasterKey, namespace: &str, wrapped: &[WrappedKey]) -> Result<Self, String> {
        let mut keys = BTreeMap::new();
        let mut nonce_keys = BTreeMap::new();
        for key in wrapped {
            let (cipher, nonce_key) = master.unwrap(namespace, key)?;
            if keys.insert(key.version, cipher).is_some() {
                return Err(format!("data key version {} is listed twice", key.version));
            }
            nonce_keys.insert(key.version, nonce_key);
        }
        let current = *keys.keys().next_back().ok_or("lists no data_keys")?;
        Ok(Self { current, keys, nonce_keys })
    }

    /// A nonce determined by `parts` (each length-prefixed) under the version's nonce key.
    pub fn derived_nonce(&self, version: u32, parts: &[&[u8]]) -> [u8; NONCE_BYTES] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.nonce_keys[&version])
            .expect("HMAC takes keys of any length");
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        let digest = mac.finalize().into_bytes();
        let mut nonce = [0u8; NONCE_BYTES];
        nonce.copy_from_slice(&digest[..NONCE_BYTES]);
        nonce
    }

    /// The version and key that seal new values.
    pub fn current(&self) -> (u32, &Aes256Gcm) {
        (self.current, &self.keys[&self.current])
    }

    pub fn get(&self, version: u32) -> Option<&Aes256Gcm> {
        self.keys.get(&version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_keys_parse_from_hex_and_base64_and_refuse_other_lengths() {
        let hex = "00".repeat(31) + "ff";
        assert!(MasterKey::parse(&hex).is_ok());
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert!(MasterKey::parse(&format!("{b64}\n")).is_ok());
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        assert_eq!(MasterKey::parse(&short).unwrap_err(), "must be 32 bytes, not 16");
        assert!(MasterKey::parse("not a key!").unwrap_err().contains("neither"));
    }

    #[test]
    fn wrapped_keys_unwrap_only_for_their_namespace_and_version() {
        let master = MasterKey::from_bytes(&[1; 32]);
        let wrapped = master.wrap("users", 2, &[9; 32]);
        let key = |version| WrappedKey { version, wrapped: wrapped.clone() };
        let keys = DataKeys::unwrap(&master, "users", &[key(2)]).unwrap();
        assert_eq!(keys.current().0, 2);
        assert!(DataKeys::unwrap(&master, "other", &[key(2)]).unwrap_err().contains("version 2"));
        assert!(DataKeys::unwrap(&master, "users", &[key(3)]).is_err());
        let other_master = MasterKey::from_bytes(&[2; 32]);
        assert!(DataKeys::unwrap(&other_master, "users", &[key(2)]).is_err());
        assert!(DataKeys::unwrap(&master, "users", &[]).unwrap_err().contains("no data_keys"));
    }
}
