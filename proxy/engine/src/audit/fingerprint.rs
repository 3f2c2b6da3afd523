//! Key fingerprints for the audit log: HMAC-SHA256 under a secret key, first
//! 16 bytes in hex. The same key gives the same fingerprint, so accesses to one
//! key can be correlated, while the raw key cannot be recovered or guessed by
//! hashing candidates without the secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const HEX: &[u8; 16] = b"0123456789abcdef";

#[derive(Clone)]
pub struct Fingerprinter {
    /// Keyed once; cloned per fingerprint (cheaper than re-keying).
    keyed: HmacSha256,
}

impl Fingerprinter {
    pub fn with_key(key: &[u8]) -> Self {
        Self { keyed: HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length") }
    }

    /// The key is the bytes of the environment variable `var`. Unset or empty: a
    /// random key for this process (fingerprints then do not correlate across restarts).
    pub fn from_env(var: &str) -> Self {
        match std::env::var(var).ok().filter(|v| !v.is_empty()) {
            Some(key) => Self::with_key(key.as_bytes()),
            None => {
                if !var.is_empty() {
                    tracing::warn!(
                        "audit: ${var} is not set; key fingerprints use a random per-process key \
                         and will not match across restarts"
                    );
                }
                Self::with_key(&rand::random::<[u8; 32]>())
            }
        }
    }

    pub fn fingerprint(&self, data: &[u8]) -> [u8; 16] {
        let mut mac = self.keyed.clone();
        mac.update(data);
        let digest = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        out
    }

    /// Appends the 32 hex characters of the fingerprint of `data`.
    pub fn write_hex(&self, out: &mut Vec<u8>, data: &[u8]) {
        for byte in self.fingerprint(data) {
            out.push(HEX[(byte >> 4) as usize]);
            out.push(HEX[(byte & 15) as usize]);
        }
    }

    pub fn hex(&self, data: &[u8]) -> String {
        let mut out = Vec::with_capacity(32);
        self.write_hex(&mut out, data);
        String::from_utf8(out).expect("hex is ASCII")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc4231_case_2_truncated() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let fp = Fingerprinter::with_key(b"Jefe");
        assert_eq!(fp.hex(b"what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c7");
    }

    #[test]
    fn depends_on_the_key() {
        let (a, b) = (Fingerprinter::with_key(b"one"), Fingerprinter::with_key(b"two"));
        assert_eq!(a.hex(b"k"), a.hex(b"k"));
        assert_ne!(a.hex(b"k"), b.hex(b"k"));
    }
}
