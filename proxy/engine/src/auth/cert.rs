//! The identity a client certificate names (ADR-010): its first URI SAN (a
//! SPIFFE id, say), else its first DNS SAN, else its subject CN. The TLS
//! handshake has already checked the chain against `client_ca_file`; this only
//! reads the name. Identities are cached by the certificate's bytes, since every
//! request of a connection presents the same certificate.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use x509_parser::extensions::GeneralName;

use super::error::AuthError;
use crate::identity::Identity;

/// The identity named by a DER certificate.
pub fn identity_of(der: &[u8]) -> Result<String, AuthError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| AuthError::BadCertificate(e.to_string()))?;
    let sans = cert.subject_alternative_name().map_err(|e| AuthError::BadCertificate(e.to_string()))?;
    let names = sans.map(|ext| ext.value.general_names.as_slice()).unwrap_or_default();
    let uri = names.iter().find_map(|name| match name {
        GeneralName::URI(uri) if !uri.is_empty() => Some(*uri),
        _ => None,
    });
    let dns = || {
        names.iter().find_map(|name| match name {
            GeneralName::DNSName(dns) if !dns.is_empty() => Some(*dns),
            _ => None,
        })
    };
    let cn = || cert.subject().iter_common_name().find_map(|cn| cn.as_str().ok()).filter(|cn| !cn.is_empty());
    uri.or_else(dns).or_else(cn).map(str::to_owned).ok_or(AuthError::NoCertificateIdentity)
}

/// Certificate bytes -> the identity of an mTLS caller (principal and `cert`
/// both the certificate identity). Bounded: cleared when full, so the cost is
/// one parse again, never a wrong answer.
pub struct CertCache {
    entries: RwLock<HashMap<Box<[u8]>, Arc<Identity>>>,
    capacity: usize,
}

impl CertCache {
    pub fn new(capacity: usize) -> Self {
        Self { entries: RwLock::new(HashMap::new()), capacity: capacity.max(1) }
    }

    pub fn identity(&self, der: &[u8]) -> Result<Arc<Identity>, AuthError> {
        if let Some(identity) = self.entries.read().get(der) {
            return Ok(identity.clone());
        }
        let id = identity_of(der)?;
        let identity = Arc::new(Identity { principal: id.clone(), cert: Some(id), ..Identity::anonymous() });
        let mut entries = self.entries.write();
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(der.into(), identity.clone());
        Ok(identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_clear_error_not_a_panic() {
        let err = identity_of(b"not a certificate").unwrap_err();
        assert!(err.to_string().starts_with("client certificate cannot be read"), "{err}");
    }

    #[test]
    fn cache_does_not_keep_failures() {
        let cache = CertCache::new(2);
        assert!(cache.identity(b"junk").is_err());
        assert!(cache.entries.read().is_empty());
    }
}
