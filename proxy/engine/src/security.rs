//! The security layers of one server, built once from its config (ADR-010):
//! they hold what outlives a request (verified-token cache, JWKS, audit writer,
//! rate buckets, unwrapped data keys).

use std::sync::Arc;

use crate::audit::AuditSink;
use crate::config::ServerConfig;
use crate::layers::audit::AuditLayer;
use crate::layers::authn::AuthnLayer;
use crate::layers::authz::AuthzLayer;
use crate::layers::pii::PiiLayer;
use crate::layers::rate_limit::RateLimitLayer;
use crate::metrics::Metrics;
use crate::registry::Registry;
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
    /// The audit layer looks namespaces up itself (it runs before the namespace layer)
    /// and the security layers count refusals in `metrics`.
    pub fn from_config(
        server: &ServerConfig,
        registry: &Arc<Registry>,
        metrics: &Arc<Metrics>,
    ) -> Result<Self, PrismError> {
        // No audit path: the audit layer is a pass-through.
        let audit = if server.audit.path.is_empty() {
            AuditLayer::default()
        } else {
            AuditLayer::new(AuditSink::open(&server.audit, metrics.clone())?, registry.clone())
        };
        let mut authn = AuthnLayer::from_config(&server.auth)?;
        // Failed authentications never reach the audit layer (it sits below authn, where
        // the caller is known), so authn reports them to the same sink.
        if let Some(sink) = audit.sink().cloned() {
            authn =
                authn.with_failure_hook(Arc::new(move |call, err| sink.record_unauthenticated(call, err)));
        }
        Ok(Self {
            authn,
            audit,
            authz: AuthzLayer::new(metrics.clone()),
            rate_limit: RateLimitLayer::new(metrics.clone()),
            ..Self::default()
        })
    }
}
