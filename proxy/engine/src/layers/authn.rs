//! Authenticates the caller and sets `call.identity` (ADR-010); nothing below
//! runs for a caller that fails. Every failure is UNAUTHENTICATED with the
//! reason, and is handed to the failure hook (the audit log records it there).
//!
//! Hot path: mode none/tls costs nothing (the layer holds no authenticator and
//! the call keeps the shared `anonymous`); a known certificate or an already
//! verified token costs a hash and a map lookup, with no future of its own.

use std::sync::Arc;
use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::CallFuture;
use crate::auth::Authenticator;
use crate::call::{Call, Reply};
use crate::config::{AuthConfig, AuthMode};
use crate::PrismError;

/// Called with the refused call and its error, for each failed authentication.
pub type AuthFailureHook = Arc<dyn Fn(&Call, &PrismError) + Send + Sync>;

#[derive(Clone, Default)]
pub struct AuthnLayer {
    /// `None` in modes none and tls: every caller is anonymous.
    auth: Option<Arc<Authenticator>>,
    on_failure: Option<AuthFailureHook>,
}

impl AuthnLayer {
    pub fn new(auth: Arc<Authenticator>) -> Self {
        Self { auth: Some(auth), on_failure: None }
    }

    /// The layer of a listener; starts the JWKS refresh, so it must run inside
    /// the server's tokio runtime when the mode uses a JWKS.
    pub fn from_config(config: &AuthConfig) -> Result<Self, PrismError> {
        if matches!(config.mode, AuthMode::None | AuthMode::Tls) {
            return Ok(Self::default());
        }
        let auth = Authenticator::from_config(config)?;
        if auth.jwks().is_some() && tokio::runtime::Handle::try_current().is_err() {
            return Err(PrismError::Internal("the JWKS refresh needs a tokio runtime".into()));
        }
        auth.start();
        Ok(Self::new(Arc::new(auth)))
    }

    pub fn with_failure_hook(mut self, hook: AuthFailureHook) -> Self {
        self.on_failure = Some(hook);
        self
    }

    pub fn authenticator(&self) -> Option<&Arc<Authenticator>> {
        self.auth.as_ref()
    }
}

impl<S> Layer<S> for AuthnLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate { inner, auth: self.auth.clone(), on_failure: self.on_failure.clone() }
    }
}

#[derive(Clone)]
pub struct Authenticate<S> {
    inner: S,
    auth: Option<Arc<Authenticator>>,
    on_failure: Option<AuthFailureHook>,
}

fn refuse(hook: Option<&AuthFailureHook>, call: &Call, err: crate::auth::AuthError) -> PrismError {
    let err = PrismError::from(err);
    if let Some(hook) = hook {
        hook(call, &err);
    }
    err
}

impl<S> Service<Call> for Authenticate<S>
where
    S: Service<Call, Response = Reply, Error = PrismError, Future = CallFuture> + Clone + Send + 'static,
{
    type Response = Reply;
    type Error = PrismError;
    type Future = CallFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), PrismError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut call: Call) -> CallFuture {
        let Some(auth) = self.auth.as_ref() else { return self.inner.call(call) };
        match auth.authenticate_cached(&call.credentials) {
            Some(Ok(identity)) => {
                call.identity = identity;
                self.inner.call(call)
            }
            Some(Err(err)) => {
                let err = refuse(self.on_failure.as_ref(), &call, err);
                Box::pin(std::future::ready(Err(err)))
            }
            None => {
                let auth = auth.clone();
                let hook = self.on_failure.clone();
                // The service that was polled ready goes into the future.
                let ready = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, ready);
                Box::pin(async move {
                    match auth.authenticate(&call.credentials).await {
                        Ok(identity) => {
                            call.identity = identity;
                            inner.call(call).await
                        }
                        Err(err) => Err(refuse(hook.as_ref(), &call, err)),
                    }
                })
            }
        }
    }
}
