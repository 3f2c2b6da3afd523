//! Who is calling: what the transport and the metadata presented
//! (`Credentials`), and what the authn layer concluded (`Identity`).

use std::sync::Arc;

use tonic::metadata::AsciiMetadataValue;
use tonic::transport::CertificateDer;

/// What a request presented, captured by the gRPC services before the stack runs.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// The `authorization` metadata value, if any (e.g. `Bearer eyJ...`): the header
    /// itself, shared with the request rather than copied (only listeners that verify
    /// tokens read it).
    pub authorization: Option<AsciiMetadataValue>,
    /// The client's certificate chain, leaf first, when it presented one over TLS.
    pub peer_certs: Option<Arc<Vec<CertificateDer<'static>>>>,
    /// The client's address, for the audit lines of failed authentications.
    pub peer: Option<std::net::SocketAddr>,
}

impl Credentials {
    /// Credentials carrying only an `authorization` value; one that is not valid header
    /// text counts as absent, as it would on the wire.
    pub fn with_authorization(value: &str) -> Self {
        Self { authorization: AsciiMetadataValue::try_from(value).ok(), ..Self::default() }
    }

    /// The `authorization` value as text; None when absent or not visible ASCII.
    pub fn authorization(&self) -> Option<&str> {
        self.authorization.as_ref().and_then(|value| value.to_str().ok())
    }
}

/// The authenticated caller. Policy selectors match against it (ADR-010).
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The principal: the JWT subject, else the client certificate identity,
    /// else `anonymous`.
    pub principal: String,
    /// Groups from the JWT's groups claim.
    pub groups: Vec<String>,
    /// Every claim of the verified JWT (empty without one).
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// The client certificate identity (URI or DNS SAN, else CN) under mTLS.
    pub cert: Option<String>,
}

impl Identity {
    pub const ANONYMOUS: &'static str = "anonymous";

    pub fn anonymous() -> Self {
        Self {
            principal: Self::ANONYMOUS.into(),
            groups: Vec::new(),
            claims: serde_json::Map::new(),
            cert: None,
        }
    }
}

impl Default for Identity {
    fn default() -> Self {
        Self::anonymous()
    }
}
