//! Bearer JWT verification (ADR-010): HS256 with a shared secret (development),
//! RS256/ES256 (and the other RSA and EC algorithms a JWKS key allows) with the
//! issuer's keys. The header is read here first so that `alg: none`, unknown
//! algorithms and algorithms the key was not issued for are refused with a
//! precise message before any signature check; `jsonwebtoken` then checks the
//! signature and the registered claims (`exp`, `nbf`, `aud`, `iss`).
//!
//! HS256 is verified only with the configured secret and never with a JWKS key,
//! so a token "signed" with an RSA public key as an HMAC secret gets nowhere.

use std::collections::HashSet;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::{shown, AuthError};
use super::jwks::{Jwks, JwksOptions, KeySet, VerifyKey};
use crate::config::JwtConfig;
use crate::identity::Identity;
use crate::PrismError;

/// A verified token: who it names and until when (unix seconds).
pub struct Verified {
    pub identity: Identity,
    pub exp: u64,
}

pub struct JwtVerifier {
    audience: String,
    issuer: Option<String>,
    leeway: u64,
    principal_claim: String,
    groups_claim: String,
    hs256: Option<DecodingKey>,
    jwks: Option<Arc<Jwks>>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

impl JwtVerifier {
    /// Reads the HS256 secret from its environment variable and prepares the
    /// JWKS (not fetched until `start`). Keys come from the JWKS when `jwks_url`
    /// is set, or when an issuer is set and no HS256 secret is.
    pub fn from_config(config: &JwtConfig, options: JwksOptions) -> Result<Self, PrismError> {
        let hs256 = if config.hs256_secret_env.is_empty() {
            None
        } else {
            let name = &config.hs256_secret_env;
            let secret = std::env::var(name).unwrap_or_default();
            if secret.is_empty() {
                return Err(PrismError::invalid(
                    "server.auth.jwt.hs256_secret_env",
                    format!("environment variable '{name}' (the HS256 secret) is not set or empty"),
                ));
            }
            Some(DecodingKey::from_secret(secret.as_bytes()))
        };
        let use_jwks = !config.jwks_url.is_empty() || (!config.issuer.is_empty() && hs256.is_none());
        let jwks = if use_jwks {
            Some(Jwks::new(&config.jwks_url, &config.issuer, options).map_err(PrismError::Internal)?)
        } else {
            None
        };
        Ok(Self {
            audience: config.audience.clone(),
            issuer: (!config.issuer.is_empty()).then(|| config.issuer.clone()),
            leeway: config.leeway_seconds,
            principal_claim: config.principal_claim.clone(),
            groups_claim: config.groups_claim.clone(),
            hs256,
            jwks,
        })
    }

    pub fn jwks(&self) -> Option<&Arc<Jwks>> {
        self.jwks.as_ref()
    }

    pub fn leeway(&self) -> u64 {
        self.leeway
    }

    pub async fn verify(&self, token: &str) -> Result<Verified, AuthError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed("expected three base64url parts separated by '.'"));
        };
        let header: Header =
            decode_part(header).ok_or(AuthError::Malformed("the header is not base64url JSON"))?;
        if header.alg.eq_ignore_ascii_case("none") {
            return Err(AuthError::AlgorithmNone);
        }
        if header.crit.is_some() {
            return Err(AuthError::CriticalHeader);
        }
        if signature.is_empty() {
            return Err(AuthError::Malformed("the signature is empty"));
        }
        let alg: Algorithm = header.alg.parse().map_err(|_| self.not_allowed(&header.alg))?;
        let claims: Map<String, Value> =
            decode_part(payload).ok_or(AuthError::Malformed("the payload is not base64url JSON"))?;

        let verified = if alg == Algorithm::HS256 {
            let key = self.hs256.as_ref().ok_or_else(|| self.not_allowed(&header.alg))?;
            self.check(token, alg, key, &claims)?
        } else {
            let jwks = match &self.jwks {
                Some(jwks) if !matches!(alg, Algorithm::HS384 | Algorithm::HS512) => jwks,
                _ => return Err(self.not_allowed(&header.alg)),
            };
            let kid = header.kid.as_deref();
            let mut keys = jwks.keys();
            if needs_refetch(&keys, kid) {
                jwks.refetch_for_unknown_key().await;
                keys = jwks.keys();
            }
            let candidates = candidates(&keys, kid, alg, jwks)?;
            let mut outcome = Err(AuthError::BadSignature);
            for key in candidates {
                outcome = self.check(token, alg, &key.key, &claims);
                // Another key of the set may have signed it; any other error means
                // the signature held and a claim did not.
                if !matches!(outcome, Err(AuthError::BadSignature)) {
                    break;
                }
            }
            outcome?
        };
        self.identity(verified)
    }

    fn not_allowed(&self, alg: &str) -> AuthError {
        let mut accepted = Vec::new();
        if self.hs256.is_some() {
            accepted.push("HS256");
        }
        if self.jwks.is_some() {
            accepted.push("RS256, ES256 (keys from the JWKS)");
        }
        AuthError::AlgorithmNotAllowed {
            alg: shown(alg),
            accepted: format!("accepted: {}", accepted.join(", ")),
        }
    }

    /// Signature and registered claims; returns the claims and `exp`.
    fn check(
        &self,
        token: &str,
        alg: Algorithm,
        key: &DecodingKey,
        claims: &Map<String, Value>,
    ) -> Result<(Map<String, Value>, u64), AuthError> {
        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_audience(&[&self.audience]);
        let mut required: HashSet<String> = ["exp", "aud"].into_iter().map(String::from).collect();
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.insert("iss".into());
        }
        validation.required_spec_claims = required;
        match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
            Ok(data) => {
                // `exp` may be a float (NumericDate allows it); jsonwebtoken accepted it.
                let exp =
                    data.claims.get("exp").and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f as u64)));
                let exp = exp.unwrap_or(0);
                Ok((data.claims, exp))
            }
            Err(err) => Err(self.explain(err.kind(), claims)),
        }
    }

    fn explain(&self, kind: &ErrorKind, claims: &Map<String, Value>) -> AuthError {
        let time_of = |claim: &str| match claims.get(claim).and_then(Value::as_f64) {
            Some(secs) => prost_types::Timestamp { seconds: secs as i64, nanos: 0 }.to_string(),
            None => "?".into(),
        };
        match kind {
            ErrorKind::ExpiredSignature => AuthError::Expired(time_of("exp")),
            ErrorKind::ImmatureSignature => AuthError::NotYetValid(time_of("nbf")),
            ErrorKind::InvalidAudience => AuthError::Audience(self.audience.clone()),
            ErrorKind::InvalidIssuer => AuthError::Issuer {
                got: shown(
                    &claims
                        .get("iss")
                        .map(|v| v.as_str().map_or(v.to_string(), str::to_owned))
                        .unwrap_or_default(),
                ),
                expected: self.issuer.clone().unwrap_or_default(),
            },
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim(claim.clone()),
            ErrorKind::InvalidClaimFormat(claim) => AuthError::BadClaim(claim.clone()),
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                AuthError::Unverifiable("the algorithm does not match the key".into())
            }
            ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
                AuthError::Malformed("not a well-formed JWS compact token")
            }
            ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => {
                AuthError::Unverifiable("the signing key is unusable".into())
            }
            other => AuthError::Unverifiable(format!("{other:?}")),
        }
    }

    fn identity(&self, (claims, exp): (Map<String, Value>, u64)) -> Result<Verified, AuthError> {
        let principal = match claims.get(&self.principal_claim) {
            Some(Value::String(p)) if !p.is_empty() => p.clone(),
            Some(_) => {
                return Err(AuthError::ClaimType {
                    claim: self.principal_claim.clone(),
                    expected: "a non-empty string",
                })
            }
            None => return Err(AuthError::MissingClaim(self.principal_claim.clone())),
        };
        let groups = match claims.get(&self.groups_claim) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(group)) => vec![group.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.groups_error())?,
            Some(_) => return Err(self.groups_error()),
        };
        Ok(Verified { identity: Identity { principal, groups, claims, cert: None }, exp })
    }

    fn groups_error(&self) -> AuthError {
        AuthError::ClaimType { claim: self.groups_claim.clone(), expected: "a list of strings or a string" }
    }
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// No key yet, or the token names a key the set does not hold.
fn needs_refetch(keys: &KeySet, kid: Option<&str>) -> bool {
    keys.keys.is_empty() || kid.is_some_and(|kid| !keys.keys.iter().any(|k| k.kid.as_deref() == Some(kid)))
}

/// The keys that may have signed a token: the one its `kid` names, or without a
/// `kid`, every key allowed for its algorithm.
fn candidates<'a>(
    keys: &'a KeySet,
    kid: Option<&str>,
    alg: Algorithm,
    jwks: &Jwks,
) -> Result<Vec<&'a VerifyKey>, AuthError> {
    if keys.keys.is_empty() {
        return Err(AuthError::NoKeys { url: jwks.url().to_string(), last_error: jwks.last_error() });
    }
    let alg_name = || format!("{alg:?}");
    match kid {
        Some(kid) => {
            let named: Vec<&VerifyKey> = keys.keys.iter().filter(|k| k.kid.as_deref() == Some(kid)).collect();
            if named.is_empty() {
                return Err(AuthError::UnknownKeyId { kid: shown(kid), url: jwks.url().to_string() });
            }
            let usable: Vec<&VerifyKey> =
                named.iter().copied().filter(|k| k.algorithms.contains(&alg)).collect();
            if usable.is_empty() {
                let allowed: Vec<String> = named[0].algorithms.iter().map(|a| format!("{a:?}")).collect();
                return Err(AuthError::AlgorithmNotAllowed {
                    alg: alg_name(),
                    accepted: format!("key '{}' is for {}", shown(kid), allowed.join(", ")),
                });
            }
            Ok(usable)
        }
        None => {
            let usable: Vec<&VerifyKey> = keys.keys.iter().filter(|k| k.algorithms.contains(&alg)).collect();
            if usable.is_empty() {
                return Err(AuthError::NoKeyForAlgorithm { alg: alg_name(), url: jwks.url().to_string() });
            }
            Ok(usable)
        }
    }
}
