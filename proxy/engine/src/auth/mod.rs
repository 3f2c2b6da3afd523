//! Listener authentication (ADR-010): from what a call presented (`Credentials`)
//! to who it is (`Identity`), per `server.auth.mode`.
//!
//! | mode | identity |
//! |---|---|
//! | `none`, `tls` | the shared `anonymous` |
//! | `mtls` | principal and `cert`: the client certificate identity (`cert.rs`) |
//! | `jwt` | principal: the `principal_claim`, groups: the `groups_claim`, all claims kept |
//! | `mtls+jwt` | as `jwt`, plus `cert` from the client certificate |
//!
//! The hot path is `authenticate_cached`: a certificate or a token seen before
//! costs a hash and a map lookup. Only a token not yet verified goes through
//! `authenticate`, which checks its signature (and may wait for the JWKS).

pub mod cert;
pub mod error;
pub mod jwks;
pub mod jwt;
pub mod tls;
pub mod token_cache;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use error::AuthError;
pub use jwks::JwksOptions;

use crate::call::anonymous;
use crate::config::{AuthConfig, AuthMode};
use crate::identity::{Credentials, Identity};
use crate::PrismError;
use cert::CertCache;
use jwt::JwtVerifier;
use token_cache::TokenCache;

/// Verified tokens kept (each holds an `Identity` with its claims).
const TOKEN_CACHE_ENTRIES: usize = 16_384;
/// Distinct client certificates kept.
const CERT_CACHE_ENTRIES: usize = 4_096;

pub struct Authenticator {
    mode: AuthMode,
    jwt: Option<JwtVerifier>,
    tokens: TokenCache,
    certs: CertCache,
}

impl Authenticator {
    pub fn from_config(auth: &AuthConfig) -> Result<Self, PrismError> {
        let options = JwksOptions {
            refresh: std::time::Duration::from_secs(auth.jwt.jwks_refresh_seconds.max(1)),
            ..JwksOptions::default()
        };
        Self::with_jwks_options(auth, options)
    }

    /// As `from_config`, with the JWKS timings given (tests shorten them).
    pub fn with_jwks_options(auth: &AuthConfig, options: JwksOptions) -> Result<Self, PrismError> {
        let jwt =
            if auth.mode.needs_jwt() { Some(JwtVerifier::from_config(&auth.jwt, options)?) } else { None };
        Ok(Self {
            mode: auth.mode,
            jwt,
            tokens: TokenCache::new(TOKEN_CACHE_ENTRIES),
            certs: CertCache::new(CERT_CACHE_ENTRIES),
        })
    }

    /// Starts fetching the JWKS in the background, if there is one. Must run
    /// inside a tokio runtime.
    pub fn start(&self) {
        if let Some(jwks) = self.jwks() {
            jwks.start();
        }
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    pub fn jwks(&self) -> Option<&Arc<jwks::Jwks>> {
        self.jwt.as_ref().and_then(JwtVerifier::jwks)
    }

    /// Tokens currently cached as verified.
    pub fn cached_tokens(&self) -> usize {
        self.tokens.len()
    }

    /// The answer when it needs no signature check: anonymous, a certificate
    /// identity, a cached token, or a failure found without verifying anything.
    /// `None`: call `authenticate`.
    pub fn authenticate_cached(&self, credentials: &Credentials) -> Option<Result<Arc<Identity>, AuthError>> {
        match self.mode {
            AuthMode::None | AuthMode::Tls => Some(Ok(anonymous())),
            AuthMode::Mtls => Some(self.cert_identity(credentials)),
            AuthMode::Jwt | AuthMode::MtlsJwt => {
                let (token, cert) = match self.token_and_cert(credentials) {
                    Ok(found) => found,
                    Err(err) => return Some(Err(err)),
                };
                let key = token_cache::key(token, cert.as_ref().map(|c| c.principal.as_str()));
                self.tokens.get(&key, now()).map(Ok)
            }
        }
    }

    /// The full check: the cached answer, else the token's signature and claims.
    pub async fn authenticate(&self, credentials: &Credentials) -> Result<Arc<Identity>, AuthError> {
        if let Some(answer) = self.authenticate_cached(credentials) {
            return answer;
        }
        let Some(jwt) = self.jwt.as_ref() else { return Ok(anonymous()) };
        let (token, cert) = self.token_and_cert(credentials)?;
        let cert_id = cert.map(|c| c.principal.clone());
        let verified = jwt.verify(token).await?;
        let key = token_cache::key(token, cert_id.as_deref());
        let identity = Arc::new(Identity { cert: cert_id, ..verified.identity });
        // Cached exactly as long as verification itself would accept it.
        self.tokens.insert(key, identity.clone(), verified.exp.saturating_add(jwt.leeway()), now());
        Ok(identity)
    }

    fn cert_identity(&self, credentials: &Credentials) -> Result<Arc<Identity>, AuthError> {
        let leaf = credentials.peer_certs.as_ref().and_then(|chain| chain.first());
        self.certs.identity(leaf.ok_or(AuthError::CertificateRequired)?)
    }

    /// The bearer token, and under mtls+jwt the certificate identity too.
    fn token_and_cert<'c>(
        &self,
        credentials: &'c Credentials,
    ) -> Result<(&'c str, Option<Arc<Identity>>), AuthError> {
        let cert = if self.mode == AuthMode::MtlsJwt { Some(self.cert_identity(credentials)?) } else { None };
        Ok((bearer(credentials)?, cert))
    }
}

/// The token of `authorization: Bearer <token>` (scheme case-insensitive).
pub fn bearer(credentials: &Credentials) -> Result<&str, AuthError> {
    let value = credentials.authorization().map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(AuthError::MissingToken);
    }
    let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Echo only what looks like a scheme name: a bare token sent without
        // "Bearer" must not end up in the message.
        let looks_like_scheme =
            scheme.len() <= 16 && scheme.chars().all(|c| c.is_ascii_alphabetic() || c == '-');
        let shown = if looks_like_scheme { scheme.to_string() } else { "(not shown)".to_string() };
        return Err(AuthError::WrongScheme(shown));
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(AuthError::MissingToken);
    }
    Ok(token)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_auth(value: &str) -> Credentials {
        Credentials::with_authorization(value)
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(&with_auth("Bearer a.b.c")).unwrap(), "a.b.c");
        assert_eq!(bearer(&with_auth("bearer   a.b.c ")).unwrap(), "a.b.c");
        assert_eq!(bearer(&Credentials::default()).unwrap_err(), AuthError::MissingToken);
        assert_eq!(bearer(&with_auth("Bearer ")).unwrap_err(), AuthError::MissingToken);
        assert_eq!(bearer(&with_auth("Basic dXNlcg==")).unwrap_err(), AuthError::WrongScheme("Basic".into()));
        let bare = bearer(&with_auth("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")).unwrap_err();
        assert!(!bare.to_string().contains("eyJ"), "a bare token is not echoed: {bare}");
    }
}
