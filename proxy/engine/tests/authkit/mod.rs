//! Test-time key material for the authentication tests: a CA and certificates
//! (rcgen), EC and RSA signing keys, tokens signed with them, and a small JWKS
//! HTTP server whose key set and health the test controls.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parking_lot::Mutex;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use serde_json::{json, Value};

pub const AUDIENCE: &str = "prism";
pub const ISSUER: &str = "https://idp.test";

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Claims of a token for `sub` valid for the next hour, for `AUDIENCE` and `ISSUER`.
pub fn claims(sub: &str) -> Value {
    json!({"sub": sub, "aud": AUDIENCE, "iss": ISSUER, "exp": now() + 3600, "iat": now()})
}

pub fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

pub fn hs256(secret: &str, claims: &Value) -> String {
    sign(Algorithm::HS256, None, claims, &EncodingKey::from_secret(secret.as_bytes()))
}

/// `{"alg":"none"}` + payload + an empty signature, as an attacker would send it.
pub fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// A P-256 key: its signing key and its public JWK.
pub struct EcKey {
    pub encoding: EncodingKey,
    pub kid: String,
    pub jwk: Value,
}

pub fn ec_key(kid: &str) -> EcKey {
    let pair = KeyPair::generate().expect("P-256 key");
    let raw = pair.public_key_raw(); // 0x04 || x || y
    assert_eq!(raw.len(), 65);
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&raw[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&raw[33..65]),
    });
    let encoding = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("EC PEM");
    EcKey { encoding, kid: kid.into(), jwk }
}

/// An RSA key (2048 bits, generated once per test binary; the workspace builds
/// `rsa` and `num-bigint-dig` optimised in dev so this takes well under a second).
pub struct RsaKey {
    pub encoding: EncodingKey,
    pub jwk: Value,
}

pub fn rsa_key(kid: &str) -> RsaKey {
    use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
    use rsa::traits::PublicKeyParts;
    static KEY: std::sync::OnceLock<rsa::RsaPrivateKey> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key"));
    let pem = key.to_pkcs1_pem(LineEnding::LF).expect("RSA PEM");
    let jwk = json!({
        "kty": "RSA", "kid": kid, "use": "sig",
        "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    });
    RsaKey { encoding: EncodingKey::from_rsa_pem(pem.as_bytes()).expect("RSA PEM"), jwk }
}

/// A JWKS (and OpenID discovery document) served on loopback by the test's runtime.
pub struct JwksServer {
    pub base: String,
    keys: Arc<Mutex<Vec<Value>>>,
    hits: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
}

impl JwksServer {
    pub async fn start(keys: Vec<Value>) -> Self {
        use axum::extract::State;
        use axum::http::StatusCode;
        use axum::routing::get;

        #[derive(Clone)]
        struct Shared {
            base: String,
            keys: Arc<Mutex<Vec<Value>>>,
            hits: Arc<AtomicUsize>,
            down: Arc<AtomicBool>,
        }

        async fn jwks(State(s): State<Shared>) -> (StatusCode, String) {
            s.hits.fetch_add(1, Ordering::SeqCst);
            if s.down.load(Ordering::SeqCst) {
                return (StatusCode::SERVICE_UNAVAILABLE, "down".into());
            }
            (StatusCode::OK, json!({"keys": *s.keys.lock()}).to_string())
        }

        async fn discovery(State(s): State<Shared>) -> String {
            json!({"issuer": s.base, "jwks_uri": format!("{}/jwks", s.base)}).to_string()
        }

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared = Shared {
            base: base.clone(),
            keys: Arc::new(Mutex::new(keys)),
            hits: Arc::new(AtomicUsize::new(0)),
            down: Arc::new(AtomicBool::new(false)),
        };
        let app = axum::Router::new()
            .route("/jwks", get(jwks))
            .route("/.well-known/openid-configuration", get(discovery))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, keys: shared.keys, hits: shared.hits, down: shared.down }
    }

    pub fn url(&self) -> String {
        format!("{}/jwks", self.base)
    }

    pub fn set_keys(&self, keys: Vec<Value>) {
        *self.keys.lock() = keys;
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A CA that signs test certificates.
pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).unwrap();
        Self { pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    /// A leaf certificate: `sans` as DNS names (or `uri:`-prefixed URIs), an optional CN.
    pub fn leaf(&self, cn: Option<&str>, sans: &[&str], usage: ExtendedKeyUsagePurpose) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        for san in sans {
            params.subject_alt_names.push(match san.strip_prefix("uri:") {
                Some(uri) => SanType::URI(uri.try_into().unwrap()),
                None => SanType::DnsName((*san).try_into().unwrap()),
            });
        }
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf { cert_pem: cert.pem(), key_pem: key.serialize_pem(), der: cert.der().to_vec() }
    }
}

pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

/// A fresh directory for PEM files, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("prism-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn write(&self, name: &str, contents: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
