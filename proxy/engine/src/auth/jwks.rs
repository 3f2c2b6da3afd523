//! The issuer's public keys (a JWKS), fetched over HTTP and kept fresh (ADR-010).
//!
//! - The first fetch starts with the listener. If it fails, the error is logged
//!   and the fetch retried in the background (1 s, doubling, at most the refresh
//!   period); meanwhile tokens are refused with "no signing keys available".
//! - Once loaded, the set is refetched every `jwks_refresh_seconds`. A failed
//!   refresh keeps the last good set.
//! - A token naming an unknown `kid` triggers one refetch, at most once per
//!   `min_refetch` (10 s), so a flood of made-up key ids cannot flood the issuer.
//! - Only RSA and EC signing keys are kept. Symmetric (`oct`) keys are ignored
//!   on purpose: a JWKS is public, so an HMAC key in it would let anyone sign.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use parking_lot::Mutex;

/// Largest JWKS or discovery document read.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

const RSA_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

#[derive(Debug, Clone)]
pub struct JwksOptions {
    /// Refetch period once the set is loaded.
    pub refresh: Duration,
    /// Least time between two fetches triggered by unknown key ids.
    pub min_refetch: Duration,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            refresh: Duration::from_secs(300),
            min_refetch: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
        }
    }
}

/// One verification key and the algorithms it may be used with.
pub struct VerifyKey {
    pub kid: Option<String>,
    pub algorithms: Vec<Algorithm>,
    pub key: DecodingKey,
}

#[derive(Default)]
pub struct KeySet {
    pub keys: Vec<VerifyKey>,
}

/// Where the keys come from.
enum Source {
    Url(String),
    /// `<issuer>/.well-known/openid-configuration`, whose `jwks_uri` names the set.
    Discovery(String),
}

pub struct Jwks {
    source: Source,
    /// The `jwks_uri` found by discovery, kept once known.
    discovered: Mutex<Option<String>>,
    keys: ArcSwap<KeySet>,
    last_error: Mutex<Option<String>>,
    /// Held for the whole of a fetch, so concurrent callers wait for it instead
    /// of fetching again; holds when the last fetch started.
    fetching: tokio::sync::Mutex<Option<Instant>>,
    client: reqwest::Client,
    options: JwksOptions,
    fetches: AtomicU64,
}

impl Jwks {
    /// Keys from `jwks_url`, or discovered from `issuer` when the URL is empty.
    pub fn new(jwks_url: &str, issuer: &str, options: JwksOptions) -> Result<Arc<Self>, String> {
        let source = if !jwks_url.is_empty() {
            Source::Url(jwks_url.to_string())
        } else {
            Source::Discovery(format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/')))
        };
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .build()
            .map_err(|e| format!("cannot build the JWKS HTTP client: {e}"))?;
        Ok(Arc::new(Self {
            source,
            discovered: Mutex::new(None),
            keys: ArcSwap::from_pointee(KeySet::default()),
            last_error: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(None),
            client,
            options,
            fetches: AtomicU64::new(0),
        }))
    }

    /// The URL error messages name: the JWKS URL, or the discovery document.
    pub fn url(&self) -> &str {
        match &self.source {
            Source::Url(url) | Source::Discovery(url) => url,
        }
    }

    pub fn keys(&self) -> Arc<KeySet> {
        self.keys.load_full()
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().clone()
    }

    /// How many fetches were attempted (for tests and diagnostics).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Starts the background fetch and refresh; must run inside a tokio runtime.
    /// The task ends when the `Jwks` is dropped.
    pub fn start(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let first_retry = Duration::from_secs(1).min(self.options.refresh);
        tokio::spawn(refresh_loop(weak, first_retry));
    }

    /// Refetches after a token named an unknown key, unless a fetch started less
    /// than `min_refetch` ago. Waits for a fetch already running.
    pub async fn refetch_for_unknown_key(&self) {
        let mut last = self.fetching.lock().await;
        if last.is_some_and(|at| at.elapsed() < self.options.min_refetch) {
            return;
        }
        *last = Some(Instant::now());
        let _ = self.fetch_and_store().await;
    }

    /// One scheduled fetch; true when the set is loaded.
    async fn scheduled_fetch(&self) -> bool {
        let mut last = self.fetching.lock().await;
        // A request that found no keys may have fetched just before the first run.
        if last.is_some_and(|at| at.elapsed() < self.options.min_refetch) && !self.keys.load().keys.is_empty()
        {
            return true;
        }
        *last = Some(Instant::now());
        self.fetch_and_store().await
    }

    async fn fetch_and_store(&self) -> bool {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        match self.fetch().await {
            Ok(set) => {
                let recovered = self.last_error.lock().take();
                if let Some(previous) = recovered {
                    eprintln!("prism: JWKS from {} loaded again after: {previous}", self.url());
                }
                self.keys.store(Arc::new(set));
                true
            }
            Err(err) => {
                let mut last = self.last_error.lock();
                // Logged when the problem starts or changes, not on every retry.
                if last.as_deref() != Some(err.as_str()) {
                    let kept = self.keys.load().keys.len();
                    eprintln!(
                        "prism: ERROR cannot fetch the JWKS from {}: {err} (keeping {kept} keys)",
                        self.url()
                    );
                    tracing::error!(url = self.url(), "cannot fetch the JWKS: {err}");
                }
                *last = Some(err);
                false
            }
        }
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let url = match &self.source {
            Source::Url(url) => url.clone(),
            Source::Discovery(document) => {
                let known = self.discovered.lock().clone();
                match known {
                    Some(url) => url,
                    None => {
                        let doc = self.get_json(document).await?;
                        let url = doc
                            .get("jwks_uri")
                            .and_then(|v| v.as_str())
                            .ok_or_else(|| format!("{document} has no 'jwks_uri'"))?
                            .to_string();
                        *self.discovered.lock() = Some(url.clone());
                        url
                    }
                }
            }
        };
        let doc = self.get_json(&url).await?;
        parse_key_set(&doc).map_err(|e| format!("{url}: {e}"))
    }

    async fn get_json(&self, url: &str) -> Result<serde_json::Value, String> {
        let response = self.client.get(url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        if response.content_length().is_some_and(|n| n as usize > MAX_DOCUMENT_BYTES) {
            return Err(format!("GET {url}: document larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
        let body = response.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("GET {url}: document larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON: {e}"))
    }
}

async fn refresh_loop(jwks: Weak<Jwks>, first_retry: Duration) {
    let mut retry = first_retry;
    loop {
        let Some(this) = jwks.upgrade() else { return };
        let loaded = this.scheduled_fetch().await;
        let refresh = this.options.refresh;
        drop(this);
        let wait = if loaded {
            retry = first_retry;
            refresh
        } else {
            let wait = retry;
            retry = (retry * 2).min(refresh);
            wait
        };
        tokio::time::sleep(wait).await;
    }
}

/// The usable signing keys of a JWKS document; an error when there are none.
pub fn parse_key_set(doc: &serde_json::Value) -> Result<KeySet, String> {
    let entries = doc.get("keys").and_then(|k| k.as_array()).ok_or("not a JWKS (no 'keys' list)")?;
    let mut keys = Vec::new();
    let mut skipped = 0usize;
    for entry in entries {
        // Each key on its own: one key of an unknown type must not hide the others.
        match serde_json::from_value::<Jwk>(entry.clone()).ok().and_then(|jwk| verify_key(&jwk)) {
            Some(key) => keys.push(key),
            None => skipped += 1,
        }
    }
    if keys.is_empty() {
        return Err(format!("no usable RSA or EC signing key ({skipped} skipped)"));
    }
    Ok(KeySet { keys })
}

fn verify_key(jwk: &Jwk) -> Option<VerifyKey> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let family: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => RSA_ALGORITHMS.to_vec(),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return None,
        },
        // Symmetric keys never come from a public document; EdDSA is not offered.
        AlgorithmParameters::OctetKey(_) | AlgorithmParameters::OctetKeyPair(_) => return None,
    };
    // A key that names its algorithm is used with that algorithm only.
    let algorithms = match jwk.common.key_algorithm {
        Some(named) => {
            let alg: Algorithm = named.to_string().parse().ok()?;
            if !family.contains(&alg) {
                return None;
            }
            vec![alg]
        }
        None => family,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(VerifyKey { kid: jwk.common.key_id.clone(), algorithms, key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_rsa_and_ec_and_drops_the_rest() {
        let doc = json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "EC", "crv": "P-256", "kid": "ec",
             "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
             "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"},
            {"kty": "EC", "crv": "P-256", "kid": "enc", "use": "enc",
             "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
             "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"},
            {"kty": "weird"},
        ]});
        let set = parse_key_set(&doc).unwrap();
        assert_eq!(set.keys.len(), 1);
        assert_eq!(set.keys[0].kid.as_deref(), Some("ec"));
        assert_eq!(set.keys[0].algorithms, vec![Algorithm::ES256]);
    }

    #[test]
    fn a_set_without_usable_keys_is_an_error() {
        let err = parse_key_set(&json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})).err().unwrap();
        assert!(err.contains("no usable RSA or EC signing key (1 skipped)"), "{err}");
        assert!(parse_key_set(&json!({"nope": 1})).is_err());
    }
}
