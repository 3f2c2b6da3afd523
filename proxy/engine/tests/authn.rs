//! Authentication of calls (ADR-010): bearer JWTs (HS256 with a secret, RS256
//! and ES256 from a JWKS served by the test), client certificate identities,
//! the verified-token cache, and the authn layer's failure hook. Keys and
//! certificates are generated at test time.

mod authkit;

use std::sync::Arc;
use std::time::Duration;

use authkit::{claims, ec_key, hs256, now, rsa_key, sign, unsigned, Ca, JwksServer, AUDIENCE, ISSUER};
use jsonwebtoken::{Algorithm, EncodingKey};
use parking_lot::Mutex;
use prism_engine::auth::{AuthError, Authenticator, JwksOptions};
use prism_engine::call::{anonymous, Call, Reply, Request};
use prism_engine::config::{AuthConfig, AuthMode, JwtConfig};
use prism_engine::identity::{Credentials, Identity};
use prism_engine::layers::authn::AuthnLayer;
use prism_engine::layers::CallFuture;
use prism_engine::pb::kv;
use prism_engine::PrismError;
use rcgen::ExtendedKeyUsagePurpose;
use serde_json::json;
use tonic::transport::CertificateDer;
use tower::{Layer, ServiceExt};

const SECRET_ENV: &str = "PRISM_TEST_AUTHN_SECRET";
const SECRET: &str = "a-development-secret-of-at-least-32-bytes";

fn hs256_config(mode: AuthMode) -> AuthConfig {
    // Every test sets the same value, so parallel tests do not race on it.
    std::env::set_var(SECRET_ENV, SECRET);
    AuthConfig {
        mode,
        jwt: JwtConfig {
            hs256_secret_env: SECRET_ENV.into(),
            audience: AUDIENCE.into(),
            issuer: ISSUER.into(),
            ..JwtConfig::default()
        },
        ..AuthConfig::default()
    }
}

fn jwks_config(url: &str) -> AuthConfig {
    AuthConfig {
        mode: AuthMode::Jwt,
        jwt: JwtConfig {
            jwks_url: url.into(),
            audience: AUDIENCE.into(),
            issuer: ISSUER.into(),
            ..JwtConfig::default()
        },
        ..AuthConfig::default()
    }
}

fn fast_jwks() -> JwksOptions {
    JwksOptions {
        refresh: Duration::from_secs(1),
        min_refetch: Duration::from_millis(100),
        timeout: Duration::from_secs(2),
    }
}

fn bearer(token: &str) -> Credentials {
    Credentials::with_authorization(&format!("Bearer {token}"))
}

fn with_cert(der: &[u8], authorization: Option<String>) -> Credentials {
    Credentials {
        peer_certs: Some(Arc::new(vec![CertificateDer::from(der.to_vec())])),
        ..authorization.as_deref().map(Credentials::with_authorization).unwrap_or_default()
    }
}

async fn refused(auth: &Authenticator, credentials: &Credentials) -> String {
    match auth.authenticate(credentials).await {
        Ok(identity) => panic!("accepted as {}", identity.principal),
        Err(err) => err.to_string(),
    }
}

// ---- HS256 ----

#[tokio::test]
async fn hs256_token_names_principal_groups_and_claims_and_is_cached() {
    let auth = Authenticator::from_config(&hs256_config(AuthMode::Jwt)).unwrap();
    let mut c = claims("alice");
    c["groups"] = json!(["analysts", "ops"]);
    c["tenant"] = json!("acme");
    let token = hs256(SECRET, &c);
    let creds = bearer(&token);

    assert!(auth.authenticate_cached(&creds).is_none(), "an unseen token needs a signature check");
    let identity = auth.authenticate(&creds).await.unwrap();
    assert_eq!(identity.principal, "alice");
    assert_eq!(identity.groups, vec!["analysts", "ops"]);
    assert_eq!(identity.claims["tenant"], "acme");
    assert_eq!(identity.cert, None);

    let cached = auth.authenticate_cached(&creds).expect("served from the cache").unwrap();
    assert!(Arc::ptr_eq(&identity, &cached), "the cached identity is shared, not rebuilt");
    assert_eq!(auth.cached_tokens(), 1);
}

#[tokio::test]
async fn hs256_single_string_group_and_custom_principal_claim() {
    let mut config = hs256_config(AuthMode::Jwt);
    config.jwt.principal_claim = "email".into();
    config.jwt.groups_claim = "role".into();
    let auth = Authenticator::from_config(&config).unwrap();
    let mut c = claims("ignored");
    c["email"] = json!("bob@example.com");
    c["role"] = json!("admin");
    let identity = auth.authenticate(&bearer(&hs256(SECRET, &c))).await.unwrap();
    assert_eq!(identity.principal, "bob@example.com");
    assert_eq!(identity.groups, vec!["admin"]);

    c["role"] = json!(42);
    let message = refused(&auth, &bearer(&hs256(SECRET, &c))).await;
    assert_eq!(message, "token claim 'role' must be a list of strings or a string");
}

#[tokio::test]
async fn hs256_failures_say_what_is_wrong() {
    let auth = Authenticator::from_config(&hs256_config(AuthMode::Jwt)).unwrap();

    let mut expired = claims("alice");
    expired["exp"] = json!(now() - 3600);
    let message = refused(&auth, &bearer(&hs256(SECRET, &expired))).await;
    assert!(message.starts_with("token expired at 20") && message.ends_with('Z'), "{message}");

    let mut early = claims("alice");
    early["nbf"] = json!(now() + 3600);
    let message = refused(&auth, &bearer(&hs256(SECRET, &early))).await;
    assert!(message.starts_with("token not valid before 20"), "{message}");

    let mut other_aud = claims("alice");
    other_aud["aud"] = json!(["billing", "crm"]);
    assert_eq!(
        refused(&auth, &bearer(&hs256(SECRET, &other_aud))).await,
        "token audience does not include 'prism'"
    );

    let mut no_aud = claims("alice");
    no_aud.as_object_mut().unwrap().remove("aud");
    assert_eq!(refused(&auth, &bearer(&hs256(SECRET, &no_aud))).await, "token has no 'aud' claim");

    let mut other_iss = claims("alice");
    other_iss["iss"] = json!("https://evil.test");
    assert_eq!(
        refused(&auth, &bearer(&hs256(SECRET, &other_iss))).await,
        "token issuer 'https://evil.test' is not the expected 'https://idp.test'"
    );

    let forged = hs256("another-secret-another-secret-another", &claims("alice"));
    assert_eq!(refused(&auth, &bearer(&forged)).await, "token signature is invalid");

    assert_eq!(
        refused(&auth, &bearer(&unsigned(&claims("alice")))).await,
        "token algorithm 'none' is not allowed"
    );

    let mut no_sub = claims("alice");
    no_sub.as_object_mut().unwrap().remove("sub");
    assert_eq!(refused(&auth, &bearer(&hs256(SECRET, &no_sub))).await, "token has no 'sub' claim");

    assert_eq!(
        refused(&auth, &Credentials::default()).await,
        "missing bearer token (metadata 'authorization: Bearer <jwt>')"
    );
    assert_eq!(
        refused(&auth, &bearer("not-a-jwt")).await,
        "malformed bearer token: expected three base64url parts separated by '.'"
    );
    assert_eq!(auth.cached_tokens(), 0, "nothing refused is cached");
}

#[tokio::test]
async fn within_leeway_an_expired_token_is_still_accepted() {
    let auth = Authenticator::from_config(&hs256_config(AuthMode::Jwt)).unwrap();
    let mut c = claims("alice");
    c["exp"] = json!(now() - 5); // leeway_seconds defaults to 30
    assert_eq!(auth.authenticate(&bearer(&hs256(SECRET, &c))).await.unwrap().principal, "alice");
}

#[tokio::test]
async fn missing_secret_variable_is_a_clear_start_error() {
    let mut config = hs256_config(AuthMode::Jwt);
    config.jwt.hs256_secret_env = "PRISM_TEST_AUTHN_SECRET_THAT_IS_NOT_SET".into();
    let err = Authenticator::from_config(&config).err().expect("refused");
    assert!(err.to_string().contains("server.auth.jwt.hs256_secret_env"), "{err}");
    assert!(err.to_string().contains("PRISM_TEST_AUTHN_SECRET_THAT_IS_NOT_SET"), "{err}");
}

#[test]
fn messages_never_contain_the_token() {
    let token = hs256("wrong-secret-wrong-secret-wrong-secret", &claims("alice"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let auth = Authenticator::from_config(&hs256_config(AuthMode::Jwt)).unwrap();
    for value in [format!("Bearer {token}"), token.clone(), format!("Token {token}")] {
        let creds = Credentials::with_authorization(&value);
        let message = rt.block_on(auth.authenticate(&creds)).unwrap_err().to_string();
        for part in token.split('.') {
            assert!(!message.contains(part), "'{message}' leaks the token");
        }
    }
}

// ---- JWKS: ES256, RS256, discovery, rotation ----

#[tokio::test]
async fn es256_from_jwks_and_algorithm_confusion_is_refused() {
    let ec = ec_key("ec-1");
    let jwks = JwksServer::start(vec![ec.jwk.clone()]).await;
    let auth = Authenticator::with_jwks_options(&jwks_config(&jwks.url()), fast_jwks()).unwrap();
    auth.start();

    let token = sign(Algorithm::ES256, Some("ec-1"), &claims("svc-a"), &ec.encoding);
    assert_eq!(auth.authenticate(&bearer(&token)).await.unwrap().principal, "svc-a");

    // A key of the set that did not sign: the signature check fails.
    let impostor = ec_key("ec-1");
    let forged = sign(Algorithm::ES256, Some("ec-1"), &claims("svc-a"), &impostor.encoding);
    assert_eq!(refused(&auth, &bearer(&forged)).await, "token signature is invalid");

    // HS256 "signed" with the public key as the HMAC secret: HS256 is not even offered.
    let public = ec.jwk.to_string();
    let confused =
        sign(Algorithm::HS256, Some("ec-1"), &claims("svc-a"), &EncodingKey::from_secret(public.as_bytes()));
    let message = refused(&auth, &bearer(&confused)).await;
    assert!(message.starts_with("token algorithm 'HS256' is not allowed"), "{message}");

    assert_eq!(
        refused(&auth, &bearer(&unsigned(&claims("svc-a")))).await,
        "token algorithm 'none' is not allowed"
    );
}

#[tokio::test]
async fn rs256_from_jwks_found_by_discovery() {
    let rsa = rsa_key("rsa-1");
    let ec = ec_key("ec-1");
    let jwks = JwksServer::start(vec![rsa.jwk.clone(), ec.jwk.clone()]).await;
    // No jwks_url: the keys are found through <issuer>/.well-known/openid-configuration.
    let mut config = jwks_config("");
    config.jwt.issuer = jwks.base.clone();
    let auth = Authenticator::with_jwks_options(&config, fast_jwks()).unwrap();
    auth.start();

    let mut c = claims("batch-job");
    c["iss"] = json!(jwks.base);
    let token = sign(Algorithm::RS256, Some("rsa-1"), &c, &rsa.encoding);
    let identity = auth.authenticate(&bearer(&token)).await.unwrap();
    assert_eq!(identity.principal, "batch-job");

    // A token without kid is tried against every key allowed for its algorithm.
    let no_kid = sign(Algorithm::RS256, None, &c, &rsa.encoding);
    assert_eq!(auth.authenticate(&bearer(&no_kid)).await.unwrap().principal, "batch-job");

    // ES256 claiming the RSA key's id: the algorithm does not match that key.
    let wrong_alg = sign(Algorithm::ES256, Some("rsa-1"), &c, &ec.encoding);
    let message = refused(&auth, &bearer(&wrong_alg)).await;
    assert!(
        message.starts_with("token algorithm 'ES256' is not allowed (key 'rsa-1' is for RS256"),
        "{message}"
    );
}

#[tokio::test]
async fn unknown_kid_refetches_the_jwks_once_rate_limited() {
    let old = ec_key("old");
    let new = ec_key("new");
    let jwks = JwksServer::start(vec![old.jwk.clone()]).await;
    let slow =
        JwksOptions { refresh: Duration::from_secs(60), min_refetch: Duration::from_secs(10), ..fast_jwks() };
    let auth = Authenticator::with_jwks_options(&jwks_config(&jwks.url()), slow).unwrap();
    auth.start();
    let old_token = sign(Algorithm::ES256, Some("old"), &claims("a"), &old.encoding);
    assert_eq!(auth.authenticate(&bearer(&old_token)).await.unwrap().principal, "a");
    let fetched = jwks.hits();

    // The issuer rotates; right after a fetch, an unknown kid does not fetch again.
    jwks.set_keys(vec![old.jwk.clone(), new.jwk.clone()]);
    let new_token = sign(Algorithm::ES256, Some("new"), &claims("b"), &new.encoding);
    let message = refused(&auth, &bearer(&new_token)).await;
    assert_eq!(message, format!("unknown key id 'new' (not in the JWKS from {})", jwks.url()));
    let made_up = sign(Algorithm::ES256, Some("made-up"), &claims("b"), &new.encoding);
    for _ in 0..5 {
        let _ = auth.authenticate(&bearer(&made_up)).await;
    }
    assert_eq!(jwks.hits(), fetched, "unknown key ids within min_refetch fetch nothing");

    // With a short interval the unknown kid triggers a fetch and the token passes.
    jwks.set_keys(vec![old.jwk.clone()]);
    let quick = JwksOptions { refresh: Duration::from_secs(60), ..fast_jwks() };
    let auth = Authenticator::with_jwks_options(&jwks_config(&jwks.url()), quick).unwrap();
    auth.start();
    assert_eq!(auth.authenticate(&bearer(&old_token)).await.unwrap().principal, "a");
    tokio::time::sleep(Duration::from_millis(150)).await;
    jwks.set_keys(vec![old.jwk.clone(), new.jwk.clone()]);
    assert_eq!(auth.authenticate(&bearer(&new_token)).await.unwrap().principal, "b");
}

#[tokio::test]
async fn jwks_down_at_start_refuses_then_recovers_in_the_background() {
    let ec = ec_key("k");
    let jwks = JwksServer::start(vec![ec.jwk.clone()]).await;
    jwks.set_down(true);
    let auth = Authenticator::with_jwks_options(&jwks_config(&jwks.url()), fast_jwks()).unwrap();
    auth.start();
    let token = sign(Algorithm::ES256, Some("k"), &claims("late"), &ec.encoding);

    let message = refused(&auth, &bearer(&token)).await;
    assert!(message.starts_with(&format!("no signing keys available from {}", jwks.url())), "{message}");
    assert!(message.contains("HTTP 503"), "the last fetch error is named: {message}");

    jwks.set_down(false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Ok(identity) = auth.authenticate(&bearer(&token)).await {
            assert_eq!(identity.principal, "late");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the background retry never loaded the keys");
    }
}

// ---- certificates ----

#[test]
fn certificate_identity_is_uri_san_then_dns_san_then_cn() {
    use prism_engine::auth::cert::identity_of;
    let ca = Ca::new("Test CA");
    let client = ExtendedKeyUsagePurpose::ClientAuth;
    let all = ca.leaf(Some("cn-name"), &["uri:spiffe://prism.test/svc/a", "dns.example"], client.clone());
    assert_eq!(identity_of(&all.der).unwrap(), "spiffe://prism.test/svc/a");
    let dns = ca.leaf(Some("cn-name"), &["dns.example"], client.clone());
    assert_eq!(identity_of(&dns.der).unwrap(), "dns.example");
    let cn = ca.leaf(Some("cn-name"), &[], client.clone());
    assert_eq!(identity_of(&cn.der).unwrap(), "cn-name");
    let nothing = ca.leaf(None, &[], client);
    assert_eq!(identity_of(&nothing.der).unwrap_err(), AuthError::NoCertificateIdentity);
}

#[tokio::test]
async fn mtls_and_mtls_jwt_identities() {
    let ca = Ca::new("Test CA");
    let leaf =
        ca.leaf(Some("ignored"), &["uri:spiffe://prism.test/svc/a"], ExtendedKeyUsagePurpose::ClientAuth);

    let mtls =
        Authenticator::from_config(&AuthConfig { mode: AuthMode::Mtls, ..AuthConfig::default() }).unwrap();
    let identity = mtls.authenticate(&with_cert(&leaf.der, None)).await.unwrap();
    assert_eq!(identity.principal, "spiffe://prism.test/svc/a");
    assert_eq!(identity.cert.as_deref(), Some("spiffe://prism.test/svc/a"));
    assert_eq!(refused(&mtls, &Credentials::default()).await, "client certificate required");

    let both = Authenticator::from_config(&hs256_config(AuthMode::MtlsJwt)).unwrap();
    let token = hs256(SECRET, &claims("alice"));
    let identity = both.authenticate(&with_cert(&leaf.der, Some(format!("Bearer {token}")))).await.unwrap();
    assert_eq!(identity.principal, "alice", "the JWT names the principal");
    assert_eq!(identity.cert.as_deref(), Some("spiffe://prism.test/svc/a"));
    assert_eq!(refused(&both, &bearer(&token)).await, "client certificate required");
    let message = refused(&both, &with_cert(&leaf.der, None)).await;
    assert!(message.starts_with("missing bearer token"), "{message}");

    // The cached token is bound to its certificate: another certificate gets its own identity.
    let other = ca.leaf(None, &["other.example"], ExtendedKeyUsagePurpose::ClientAuth);
    let identity = both.authenticate(&with_cert(&other.der, Some(format!("Bearer {token}")))).await.unwrap();
    assert_eq!(identity.cert.as_deref(), Some("other.example"));
}

// ---- the layer ----

type Seen = Arc<Mutex<Option<Arc<Identity>>>>;

fn recording_service(
    seen: Seen,
) -> impl tower::Service<Call, Response = Reply, Error = PrismError, Future = CallFuture> + Clone + Send + 'static
{
    tower::service_fn(move |call: Call| -> CallFuture {
        *seen.lock() = Some(call.identity.clone());
        Box::pin(async { Ok(Reply::Delete(kv::DeleteResponse::default())) })
    })
}

fn a_call(credentials: Credentials) -> Call {
    let request = Request::Delete(kv::DeleteRequest {
        namespace: "kv".into(),
        key: b"k".to_vec(),
        ..Default::default()
    });
    Call::with_credentials(request, None, credentials)
}

#[tokio::test]
async fn layer_in_mode_none_keeps_the_shared_anonymous_identity() {
    let seen: Seen = Arc::default();
    let layer = AuthnLayer::from_config(&AuthConfig::default()).unwrap();
    assert!(layer.authenticator().is_none());
    layer.layer(recording_service(seen.clone())).oneshot(a_call(bearer("garbage"))).await.unwrap();
    let identity = seen.lock().clone().unwrap();
    assert!(Arc::ptr_eq(&identity, &anonymous()));
}

#[tokio::test]
async fn layer_sets_identity_and_reports_failures_to_the_hook() {
    let seen: Seen = Arc::default();
    let failures: Arc<Mutex<Vec<(String, PrismError)>>> = Arc::default();
    let recorded = failures.clone();
    let layer = AuthnLayer::from_config(&hs256_config(AuthMode::Jwt)).unwrap().with_failure_hook(Arc::new(
        move |call: &Call, err: &PrismError| {
            recorded.lock().push((call.namespace_name().to_string(), err.clone()))
        },
    ));
    let service = layer.layer(recording_service(seen.clone()));

    let token = hs256(SECRET, &claims("alice"));
    for _ in 0..2 {
        // The first call verifies, the second is served from the cache.
        service.clone().oneshot(a_call(bearer(&token))).await.unwrap();
        assert_eq!(seen.lock().take().unwrap().principal, "alice");
    }

    let err = service.clone().oneshot(a_call(Credentials::default())).await.unwrap_err();
    assert!(
        matches!(err, PrismError::Unauthenticated(ref m) if m.starts_with("missing bearer token")),
        "{err:?}"
    );
    let forged = hs256("forged-forged-forged-forged-forged-forged", &claims("alice"));
    let err = service.clone().oneshot(a_call(bearer(&forged))).await.unwrap_err();
    assert_eq!(err, PrismError::Unauthenticated("token signature is invalid".into()));
    assert!(seen.lock().is_none(), "nothing below the layer ran for refused calls");

    let failures = failures.lock();
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0].0, "kv");
    assert_eq!(failures[1].1, PrismError::Unauthenticated("token signature is invalid".into()));
}

// ---- bad input never panics ----

mod fuzz {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use proptest::prelude::*;

    fn check(auth: &Authenticator, rt: &tokio::runtime::Runtime, value: String) {
        let creds = Credentials::with_authorization(&value);
        match rt.block_on(auth.authenticate(&creds)) {
            Ok(identity) => panic!("accepted garbage as {}", identity.principal),
            Err(err) => assert!(matches!(PrismError::from(err), PrismError::Unauthenticated(_))),
        }
    }

    fn setup() -> (Authenticator, tokio::runtime::Runtime) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        (Authenticator::from_config(&hs256_config(AuthMode::Jwt)).unwrap(), rt)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_authorization_values(value in any::<String>()) {
            let (auth, rt) = setup();
            check(&auth, &rt, value.clone());
            check(&auth, &rt, format!("Bearer {value}"));
        }

        #[test]
        fn arbitrary_bytes_in_three_parts(h in proptest::collection::vec(any::<u8>(), 0..64),
                                          p in proptest::collection::vec(any::<u8>(), 0..64),
                                          s in proptest::collection::vec(any::<u8>(), 0..64)) {
            let (auth, rt) = setup();
            let token = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(&h), URL_SAFE_NO_PAD.encode(&p), URL_SAFE_NO_PAD.encode(&s));
            check(&auth, &rt, format!("Bearer {token}"));
        }

        #[test]
        fn plausible_headers_with_random_claims(alg in "(none|None|HS256|HS512|RS256|ES256|PS256|EdDSA|[A-Za-z0-9]{0,8})",
                                                kid in proptest::option::of("[ -~]{0,80}"),
                                                claims in proptest::collection::hash_map("[a-z]{1,5}", any::<i64>(), 0..6),
                                                sig in proptest::collection::vec(any::<u8>(), 0..80)) {
            let (auth, rt) = setup();
            let header = json!({"alg": alg, "kid": kid});
            let token = format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(serde_json::to_string(&claims).unwrap()),
                URL_SAFE_NO_PAD.encode(&sig),
            );
            check(&auth, &rt, format!("Bearer {token}"));
        }
    }
}
