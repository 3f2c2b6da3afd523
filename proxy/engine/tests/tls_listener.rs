//! The real listener with TLS (ADR-010): in mtls mode only clients with a
//! certificate from the configured CA get through (the handshake refuses the
//! others, and the server keeps serving); in jwt mode over TLS the bearer token
//! travels in metadata and failures come back as UNAUTHENTICATED with the
//! reason; oversized metadata is refused; bad TLS files fail the start clearly.
//! Certificates are generated at test time.

mod authkit;
mod common;

use authkit::{claims, hs256, now, Ca, TempDir, AUDIENCE, ISSUER};
use common::memory_ns;
use prism_engine::auth::tls::startup_warnings;
use prism_engine::call::Pattern;
use prism_engine::config::{AuthConfig, AuthMode, JwtConfig, ProxyConfig, ServerConfig, TlsConfig};
use prism_engine::pb::kv;
use prism_engine::pb::kv::key_value_client::KeyValueClient;
use prism_engine::server::Server;
use rcgen::ExtendedKeyUsagePurpose;
use serde_json::json;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

const SECRET_ENV: &str = "PRISM_TEST_TLS_LISTENER_SECRET";
const SECRET: &str = "tls-listener-secret-tls-listener-secret";

struct Pki {
    dir: TempDir,
    ca: Ca,
    tls: TlsConfig,
}

fn pki() -> Pki {
    let dir = TempDir::new("tls");
    let ca = Ca::new("Prism Test CA");
    let server = ca.leaf(Some("prism"), &["localhost"], ExtendedKeyUsagePurpose::ServerAuth);
    let tls = TlsConfig {
        cert_file: dir.write("server.pem", &server.cert_pem),
        key_file: dir.write("server.key", &server.key_pem),
        client_ca_file: dir.write("ca.pem", &ca.pem),
    };
    Pki { dir, ca, tls }
}

fn config(auth: AuthConfig) -> ProxyConfig {
    ProxyConfig {
        server: ServerConfig {
            listen: "127.0.0.1:0".into(),
            metrics_listen: "127.0.0.1:0".into(),
            worker_threads: 2,
            auth,
            ..Default::default()
        },
        namespaces: vec![memory_ns("default", &[Pattern::KeyValue])],
    }
}

fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A TLS client trusting the test CA, optionally presenting `identity`.
fn endpoint(server: &Server, ca_pem: &str, identity: Option<(&str, &str)>) -> Endpoint {
    let mut tls =
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem)).domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Endpoint::from_shared(format!("https://{}", server.grpc_addr)).unwrap().tls_config(tls).unwrap()
}

fn put(key: &str) -> kv::PutRequest {
    kv::PutRequest {
        namespace: "default".into(),
        key: key.into(),
        value: b"v".to_vec(),
        ..Default::default()
    }
}

/// Connects and puts; the error text when either fails.
async fn try_put(endpoint: Endpoint, request: tonic::Request<kv::PutRequest>) -> Result<(), tonic::Status> {
    let channel: Channel =
        endpoint.connect().await.map_err(|e| tonic::Status::unavailable(format!("{e:?}")))?;
    KeyValueClient::new(channel).put(request).await.map(|_| ())
}

#[test]
fn mtls_listener_admits_only_certificates_from_the_client_ca() {
    let pki = pki();
    let server = Server::start(
        config(AuthConfig { mode: AuthMode::Mtls, tls: pki.tls.clone(), ..AuthConfig::default() }),
        None,
    )
    .expect("start");
    let trusted = pki.ca.leaf(None, &["uri:spiffe://prism.test/app"], ExtendedKeyUsagePurpose::ClientAuth);
    let rogue_ca = Ca::new("Rogue CA");
    let rogue = rogue_ca.leaf(None, &["uri:spiffe://prism.test/app"], ExtendedKeyUsagePurpose::ClientAuth);

    client_runtime().block_on(async {
        let ok = endpoint(&server, &pki.ca.pem, Some((&trusted.cert_pem, &trusted.key_pem)));
        try_put(ok.clone(), tonic::Request::new(put("a"))).await.expect("a trusted client gets through");

        let anonymous = endpoint(&server, &pki.ca.pem, None);
        assert!(try_put(anonymous, tonic::Request::new(put("b"))).await.is_err(), "no client certificate");

        let untrusted = endpoint(&server, &pki.ca.pem, Some((&rogue.cert_pem, &rogue.key_pem)));
        assert!(
            try_put(untrusted, tonic::Request::new(put("c"))).await.is_err(),
            "certificate from another CA"
        );

        let plaintext = Endpoint::from_shared(format!("http://{}", server.grpc_addr)).unwrap();
        assert!(
            try_put(plaintext, tonic::Request::new(put("d"))).await.is_err(),
            "plaintext to a TLS listener"
        );

        // Metadata over max_metadata_bytes (16 KiB by default) is refused by HTTP/2.
        let mut big = tonic::Request::new(put("e"));
        big.metadata_mut().insert("x-padding", "p".repeat(20_000).parse().unwrap());
        let status = try_put(ok.clone(), big).await.expect_err("oversized metadata");
        assert!(status.message().contains("431"), "refused by HTTP/2 before any handler: {status:?}");

        // Refused handshakes did not take the listener down, and wrote nothing.
        try_put(ok.clone(), tonic::Request::new(put("f"))).await.expect("still serving trusted clients");
        let mut client = KeyValueClient::new(ok.connect().await.unwrap());
        for key in ["b", "c", "d", "e"] {
            let get = kv::GetRequest { namespace: "default".into(), key: key.into() };
            assert!(
                !client.get(get).await.unwrap().into_inner().found,
                "refused put of '{key}' was not applied"
            );
        }
    });
    drop(pki.dir);
}

#[test]
fn jwt_over_tls_passes_tokens_and_explains_refusals() {
    std::env::set_var(SECRET_ENV, SECRET);
    let pki = pki();
    let auth = AuthConfig {
        mode: AuthMode::Jwt,
        tls: TlsConfig { client_ca_file: String::new(), ..pki.tls.clone() },
        jwt: JwtConfig {
            hs256_secret_env: SECRET_ENV.into(),
            audience: AUDIENCE.into(),
            issuer: ISSUER.into(),
            ..JwtConfig::default()
        },
        ..AuthConfig::default()
    };
    let server = Server::start(config(auth), None).expect("start");

    client_runtime().block_on(async {
        let tls = endpoint(&server, &pki.ca.pem, None);
        let with = |token: &str, key: &str| {
            let mut request = tonic::Request::new(put(key));
            request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
            request
        };
        try_put(tls.clone(), with(&hs256(SECRET, &claims("alice")), "a")).await.expect("valid token");

        let status = try_put(tls.clone(), tonic::Request::new(put("b"))).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert_eq!(status.message(), "missing bearer token (metadata 'authorization: Bearer <jwt>')");

        let mut expired = claims("alice");
        expired["exp"] = json!(now() - 3600);
        let status = try_put(tls.clone(), with(&hs256(SECRET, &expired), "c")).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert!(status.message().starts_with("token expired at"), "{}", status.message());

        let mut wrong_aud = claims("alice");
        wrong_aud["aud"] = json!("someone-else");
        let status = try_put(tls, with(&hs256(SECRET, &wrong_aud), "d")).await.unwrap_err();
        assert_eq!(status.message(), "token audience does not include 'prism'");
    });
}

#[test]
fn bad_tls_files_fail_the_start_with_the_field_to_fix() {
    let pki = pki();
    let missing = TlsConfig { cert_file: "/nonexistent/server.pem".into(), ..pki.tls.clone() };
    let err = Server::start(
        config(AuthConfig { mode: AuthMode::Tls, tls: missing, ..AuthConfig::default() }),
        None,
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(err.contains("server.auth.tls.cert_file") && err.contains("cannot read"), "{err}");

    let garbage = TlsConfig { key_file: pki.dir.write("garbage.key", "not a key"), ..pki.tls.clone() };
    let err = Server::start(
        config(AuthConfig { mode: AuthMode::Tls, tls: garbage, ..AuthConfig::default() }),
        None,
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(err.contains("server.auth.tls.key_file") && err.contains("holds no PEM private key"), "{err}");
}

#[test]
fn startup_warns_when_authentication_is_off_or_tokens_travel_in_plaintext() {
    let addr = "127.0.0.1:8980".parse().unwrap();
    let none = startup_warnings(&AuthConfig::default(), addr);
    assert_eq!(none.len(), 1);
    assert!(none[0].contains("authentication is OFF") && none[0].contains("plaintext"), "{}", none[0]);

    let jwt = AuthConfig { mode: AuthMode::Jwt, ..AuthConfig::default() };
    let warnings = startup_warnings(&jwt, addr);
    assert!(warnings.len() == 1 && warnings[0].contains("bearer tokens cross the network in plaintext"));

    let with_tls = AuthConfig {
        mode: AuthMode::Jwt,
        tls: TlsConfig { cert_file: "c.pem".into(), key_file: "k.pem".into(), ..TlsConfig::default() },
        ..AuthConfig::default()
    };
    assert!(startup_warnings(&with_tls, addr).is_empty());
}
