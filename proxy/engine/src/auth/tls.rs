//! The listener's transport security (ADR-010): rustls through tonic. TLS is on
//! whenever `tls.cert_file` and `tls.key_file` are set (modes tls, mtls and
//! mtls+jwt require them; jwt uses them when present). In the mtls modes the
//! handshake itself demands a client certificate chained to `client_ca_file`,
//! so an untrusted or missing certificate never reaches a handler.

use std::net::SocketAddr;
use std::time::Duration;

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::config::{AuthConfig, AuthMode};
use crate::PrismError;

/// A client that opens a connection and stalls the handshake is dropped after this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The rustls server config, or `None` for a plaintext listener.
pub fn server_tls(auth: &AuthConfig) -> Result<Option<ServerTlsConfig>, PrismError> {
    let tls = &auth.tls;
    match (tls.cert_file.is_empty(), tls.key_file.is_empty()) {
        (true, true) => return Ok(None),
        (false, true) => {
            return Err(PrismError::invalid("server.auth.tls.key_file", "is required with cert_file"))
        }
        (true, false) => {
            return Err(PrismError::invalid("server.auth.tls.cert_file", "is required with key_file"))
        }
        (false, false) => {}
    }
    let cert =
        read_pem(&tls.cert_file, "server.auth.tls.cert_file", "-----BEGIN CERTIFICATE-----", "certificate")?;
    let key = read_pem(&tls.key_file, "server.auth.tls.key_file", "PRIVATE KEY-----", "private key")?;
    let mut config =
        ServerTlsConfig::new().identity(Identity::from_pem(cert, key)).timeout(HANDSHAKE_TIMEOUT);
    if auth.mode.needs_client_cert() {
        let ca = read_pem(
            &tls.client_ca_file,
            "server.auth.tls.client_ca_file",
            "-----BEGIN CERTIFICATE-----",
            "CA certificate",
        )?;
        config = config.client_ca_root(Certificate::from_pem(ca)).client_auth_optional(false);
    }
    Ok(Some(config))
}

fn read_pem(path: &str, field: &str, marker: &str, what: &str) -> Result<Vec<u8>, PrismError> {
    let bytes =
        std::fs::read(path).map_err(|e| PrismError::invalid(field, format!("cannot read '{path}': {e}")))?;
    if !String::from_utf8_lossy(&bytes).contains(marker) {
        return Err(PrismError::invalid(field, format!("'{path}' holds no PEM {what}")));
    }
    Ok(bytes)
}

/// The warnings printed when the listener starts: no authentication at all, or
/// bearer tokens over plaintext.
pub fn startup_warnings(auth: &AuthConfig, addr: SocketAddr) -> Vec<String> {
    let has_tls = !auth.tls.cert_file.is_empty() && !auth.tls.key_file.is_empty();
    let mut warnings = Vec::new();
    match auth.mode {
        AuthMode::None => warnings.push(format!(
            "prism: WARNING: authentication is OFF on the data-plane listener {addr} \
             (server.auth.mode = none): every caller is 'anonymous'{}. Development only: \
             set server.auth.mode to tls, mtls, jwt or mtls+jwt.",
            if has_tls { "" } else { " and traffic is plaintext" }
        )),
        AuthMode::Jwt if !has_tls => warnings.push(format!(
            "prism: WARNING: server.auth.mode = jwt without TLS on {addr}: bearer tokens cross \
             the network in plaintext and can be stolen and replayed. Set server.auth.tls.cert_file \
             and key_file."
        )),
        _ => {}
    }
    warnings
}
