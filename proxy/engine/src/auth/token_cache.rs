//! Verified tokens, keyed by their SHA-256, until they expire (ADR-010): a
//! repeat caller costs one hash and one map lookup instead of a signature check.
//! Only the hash is kept, never the token. The map is bounded: when full, the
//! expired entries go first, then arbitrary ones (they are only re-verified).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use sha2::{Digest, Sha256};

use crate::identity::Identity;

pub type TokenKey = [u8; 32];

/// The cache key of a token, bound to the certificate identity it came with
/// (mtls+jwt), so a token replayed over another certificate is verified anew.
pub fn key(token: &str, cert: Option<&str>) -> TokenKey {
    let mut hasher = Sha256::new();
    hasher.update(token.as_bytes());
    if let Some(cert) = cert {
        // The separator cannot occur in a JWT, so (token, cert) pairs cannot collide.
        hasher.update([0u8]);
        hasher.update(cert.as_bytes());
    }
    hasher.finalize().into()
}

struct Entry {
    identity: Arc<Identity>,
    /// Unix seconds after which the entry is no longer served.
    valid_until: u64,
}

pub struct TokenCache {
    entries: RwLock<HashMap<TokenKey, Entry>>,
    capacity: usize,
}

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        Self { entries: RwLock::new(HashMap::new()), capacity: capacity.max(1) }
    }

    pub fn get(&self, key: &TokenKey, now: u64) -> Option<Arc<Identity>> {
        let entries = self.entries.read();
        let entry = entries.get(key)?;
        // An expired entry is left for the next insert to sweep; the caller
        // re-verifies, which yields the precise "expired at" error.
        (now < entry.valid_until).then(|| entry.identity.clone())
    }

    pub fn insert(&self, key: TokenKey, identity: Arc<Identity>, valid_until: u64, now: u64) {
        if valid_until <= now {
            return;
        }
        let mut entries = self.entries.write();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, entry| entry.valid_until > now);
            // Still full of live tokens: drop an eighth, whichever the map yields first.
            if entries.len() >= self.capacity {
                let excess = entries.len() + 1 - self.capacity + self.capacity / 8;
                let victims: Vec<TokenKey> = entries.keys().take(excess).copied().collect();
                for victim in victims {
                    entries.remove(&victim);
                }
            }
        }
        entries.insert(key, Entry { identity, valid_until });
    }

    pub fn len(&self) -> usize {
        self.entries.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(name: &str) -> Arc<Identity> {
        Arc::new(Identity { principal: name.into(), ..Identity::anonymous() })
    }

    #[test]
    fn serves_until_valid_until_then_misses() {
        let cache = TokenCache::new(8);
        let k = key("a.b.c", None);
        cache.insert(k, who("alice"), 100, 50);
        assert_eq!(cache.get(&k, 99).unwrap().principal, "alice");
        assert!(cache.get(&k, 100).is_none());
    }

    #[test]
    fn key_binds_the_certificate() {
        assert_ne!(key("a.b.c", None), key("a.b.c", Some("spiffe://x")));
        assert_ne!(key("a.b.c", Some("one")), key("a.b.c", Some("two")));
    }

    #[test]
    fn stays_bounded_and_sweeps_expired_first() {
        let cache = TokenCache::new(16);
        for i in 0..16u8 {
            cache.insert([i; 32], who("old"), 10, 0);
        }
        cache.insert([99; 32], who("new"), 1000, 20);
        assert_eq!(cache.len(), 1, "expired entries are swept");
        for i in 0..100u8 {
            cache.insert([i; 32], who("live"), 1000, 20);
            assert!(cache.len() <= 16);
        }
        assert_eq!(cache.get(&[99; 32], 20).unwrap().principal, "live", "the newest entry is kept");
    }

    #[test]
    fn already_expired_tokens_are_not_cached() {
        let cache = TokenCache::new(4);
        cache.insert([1; 32], who("x"), 10, 10);
        assert!(cache.is_empty());
    }
}
