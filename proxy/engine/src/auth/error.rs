//! Why a caller was not authenticated. Each message says what was wrong and,
//! where it helps, what to send instead; none ever contains the token itself.
//! Values taken from a token (key ids, issuers, schemes) are shortened and
//! stripped of control characters before they reach a message (`shown`).

use crate::PrismError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token (metadata 'authorization: Bearer <jwt>')")]
    MissingToken,
    #[error("authorization metadata must be 'Bearer <jwt>', not scheme '{0}'")]
    WrongScheme(String),
    #[error("malformed bearer token: {0}")]
    Malformed(&'static str),
    #[error("token algorithm 'none' is not allowed")]
    AlgorithmNone,
    #[error("token algorithm '{alg}' is not allowed ({accepted})")]
    AlgorithmNotAllowed { alg: String, accepted: String },
    #[error("token header lists critical extensions this server does not understand")]
    CriticalHeader,
    #[error("token expired at {0}")]
    Expired(String),
    #[error("token not valid before {0}")]
    NotYetValid(String),
    #[error("token audience does not include '{0}'")]
    Audience(String),
    #[error("token issuer '{got}' is not the expected '{expected}'")]
    Issuer { got: String, expected: String },
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has no '{0}' claim")]
    MissingClaim(String),
    #[error("token claim '{0}' is malformed")]
    BadClaim(String),
    #[error("token claim '{claim}' must be {expected}")]
    ClaimType { claim: String, expected: &'static str },
    #[error("unknown key id '{kid}' (not in the JWKS from {url})")]
    UnknownKeyId { kid: String, url: String },
    #[error("no key in the JWKS from {url} accepts algorithm '{alg}'")]
    NoKeyForAlgorithm { alg: String, url: String },
    #[error("no signing keys available from {url}{}", last_error.as_deref().map(|e| format!(" (last fetch: {e})")).unwrap_or_default())]
    NoKeys { url: String, last_error: Option<String> },
    #[error("token cannot be verified: {0}")]
    Unverifiable(String),
    #[error("client certificate required")]
    CertificateRequired,
    #[error("client certificate cannot be read: {0}")]
    BadCertificate(String),
    #[error("client certificate names no identity (no URI SAN, DNS SAN or CN)")]
    NoCertificateIdentity,
}

impl From<AuthError> for PrismError {
    fn from(err: AuthError) -> Self {
        PrismError::Unauthenticated(err.to_string())
    }
}

/// A caller-supplied value made safe to echo: at most 64 characters, control
/// characters replaced, so a hostile token cannot flood or forge log lines.
pub fn shown(value: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = value.chars().take(MAX).map(|c| if c.is_control() { '?' } else { c }).collect();
    if value.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_bounds_and_cleans_values() {
        assert_eq!(shown("kid-1"), "kid-1");
        assert_eq!(shown("a\nb\u{7}"), "a?b?");
        let long = "x".repeat(200);
        assert_eq!(shown(&long).chars().count(), 65);
    }

    #[test]
    fn no_keys_message_names_the_url_and_the_last_error() {
        let err = AuthError::NoKeys { url: "http://idp/jwks".into(), last_error: Some("refused".into()) };
        assert_eq!(err.to_string(), "no signing keys available from http://idp/jwks (last fetch: refused)");
        let err = AuthError::NoKeys { url: "http://idp/jwks".into(), last_error: None };
        assert_eq!(err.to_string(), "no signing keys available from http://idp/jwks");
    }
}
