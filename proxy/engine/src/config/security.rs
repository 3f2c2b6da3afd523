//! The security settings the core enforces (ADR-010): how each listener
//! authenticates, where the audit log goes, where the master key comes from,
//! and per namespace who may do what, how fast, and which schema binds values.

use serde::Deserialize;

use crate::PrismError;

/// How the data-plane listener authenticates callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum AuthMode {
    /// Everyone is `anonymous`; development only (a loud warning at start).
    #[default]
    #[serde(rename = "none")]
    None,
    /// TLS, no client identity: everyone is `anonymous`.
    #[serde(rename = "tls")]
    Tls,
    /// TLS with a client certificate from `client_ca_file`; its SAN (or CN) is the principal.
    #[serde(rename = "mtls")]
    Mtls,
    /// A bearer JWT; TLS too when `tls.cert_file` is set (a warning otherwise).
    #[serde(rename = "jwt")]
    Jwt,
    /// Both: the JWT's subject is the principal, the certificate identity is `cert:<id>`.
    #[serde(rename = "mtls+jwt")]
    MtlsJwt,
}

impl AuthMode {
    pub fn name(self) -> &'static str {
        match self {
            AuthMode::None => "none",
            AuthMode::Tls => "tls",
            AuthMode::Mtls => "mtls",
            AuthMode::Jwt => "jwt",
            AuthMode::MtlsJwt => "mtls+jwt",
        }
    }

    pub fn needs_client_cert(self) -> bool {
        matches!(self, AuthMode::Mtls | AuthMode::MtlsJwt)
    }

    pub fn needs_jwt(self) -> bool {
        matches!(self, AuthMode::Jwt | AuthMode::MtlsJwt)
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct TlsConfig {
    /// PEM certificate chain of the listener.
    pub cert_file: String,
    /// PEM private key of the listener.
    pub key_file: String,
    /// PEM CA bundle that client certificates must chain to (mtls modes).
    pub client_ca_file: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct JwtConfig {
    /// Expected `iss`; with no `jwks_url`, keys are discovered from
    /// `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// Expected `aud` (one of, when the token lists several).
    pub audience: String,
    /// JWKS document URL (RS256 and ES256 keys), cached and refreshed.
    pub jwks_url: String,
    /// Shared HS256 secret, for development; read from this environment variable.
    pub hs256_secret_env: String,
    pub jwks_refresh_seconds: u64,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway_seconds: u64,
    /// Claim naming the principal.
    pub principal_claim: String,
    /// Claim holding the caller's groups (a list of strings, or one string).
    pub groups_claim: String,
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            audience: String::new(),
            jwks_url: String::new(),
            hs256_secret_env: String::new(),
            jwks_refresh_seconds: 300,
            leeway_seconds: 30,
            principal_claim: "sub".into(),
            groups_claim: "groups".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    pub mode: AuthMode,
    pub tls: TlsConfig,
    pub jwt: JwtConfig,
    /// Largest request header block (metadata) accepted, in bytes.
    pub max_metadata_bytes: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::None,
            tls: TlsConfig::default(),
            jwt: JwtConfig::default(),
            max_metadata_bytes: 16 * 1024,
        }
    }
}

impl AuthConfig {
    pub fn validate(&self) -> Result<(), PrismError> {
        let has_cert = !self.tls.cert_file.is_empty() && !self.tls.key_file.is_empty();
        if matches!(self.mode, AuthMode::Tls | AuthMode::Mtls | AuthMode::MtlsJwt) && !has_cert {
            return Err(PrismError::invalid(
                "server.auth.tls",
                format!("mode '{}' needs tls.cert_file and tls.key_file", self.mode.name()),
            ));
        }
        if self.mode.needs_client_cert() && self.tls.client_ca_file.is_empty() {
            return Err(PrismError::invalid(
                "server.auth.tls.client_ca_file",
                format!("mode '{}' needs the CA that signs client certificates", self.mode.name()),
            ));
        }
        if self.mode.needs_jwt() {
            let jwt = &self.jwt;
            if jwt.hs256_secret_env.is_empty() && jwt.jwks_url.is_empty() && jwt.issuer.is_empty() {
                return Err(PrismError::invalid(
                    "server.auth.jwt",
                    "mode needs keys: jwks_url, an issuer to discover them from, or hs256_secret_env",
                ));
            }
            if jwt.audience.is_empty() {
                return Err(PrismError::invalid("server.auth.jwt.audience", "is required to verify tokens"));
            }
        }
        if self.max_metadata_bytes < 1024 {
            return Err(PrismError::invalid("server.auth.max_metadata_bytes", "must be at least 1024"));
        }
        Ok(())
    }
}

/// The data-access audit log (JSON lines), written off the hot path.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct AuditConfig {
    /// File to append to; empty: no audit log.
    pub path: String,
    /// Rotate when the file reaches this size.
    pub max_bytes: u64,
    /// Rotated files kept (`<path>.1` is the newest).
    pub keep: usize,
    /// Records queued between the data path and the writer.
    pub channel_capacity: usize,
    /// Environment variable holding the key of the key fingerprints (HMAC-SHA256);
    /// unset or empty: a random key per process.
    pub fingerprint_key_env: String,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            path: String::new(),
            max_bytes: 64 << 20,
            keep: 5,
            channel_capacity: 8192,
            fingerprint_key_env: "PRISM_AUDIT_KEY".into(),
        }
    }
}

/// Where the master key that wraps namespace data keys comes from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct KeysConfig {
    /// Environment variable with the base64 (or hex) 32-byte master key.
    pub master_key_env: String,
    /// File with the key, used when the variable is unset.
    pub master_key_file: String,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self { master_key_env: "PRISM_MASTER_KEY".into(), master_key_file: String::new() }
    }
}

/// Who may do what on a namespace. Each entry is a selector: `*` (anyone),
/// `<principal>`, `group:<name>`, `claim:<name>=<value>` or `cert:<identity>`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct AccessPolicy {
    pub read: Vec<String>,
    pub write: Vec<String>,
    pub admin: Vec<String>,
    /// May read PII fields in plaintext; everyone else reads them masked.
    pub pii_read: Vec<String>,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        Self { read: vec!["*".into()], write: vec!["*".into()], admin: Vec::new(), pii_read: Vec::new() }
    }
}

/// Token buckets; a zero rate means no limit.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct RateLimit {
    /// Sustained requests per second for the whole namespace.
    pub requests_per_second: f64,
    /// Bucket size; 0 means one second's worth.
    pub burst: u32,
    /// Sustained requests per second for each principal.
    pub per_principal_requests_per_second: f64,
    pub per_principal_burst: u32,
}

/// A data key wrapped by the master key (AES-256-GCM: nonce || ciphertext+tag, base64).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WrappedKey {
    pub version: u32,
    pub wrapped: String,
}

/// A schema bound to a namespace: values are messages of `message`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SchemaBinding {
    /// A serialized `google.protobuf.FileDescriptorSet`, base64.
    pub descriptor_set: String,
    /// Full name of the value message, e.g. `acme.users.v1.User`.
    pub message: String,
    /// Data keys, every version ever used; the highest encrypts new writes.
    #[serde(default)]
    pub data_keys: Vec<WrappedKey>,
}
