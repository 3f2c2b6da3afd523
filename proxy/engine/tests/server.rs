//! The server end to end on loopback: a real tonic client, the metrics
//! endpoint, bind errors and shutdown. `Server::start` owns its runtime, so
//! these are plain tests with a separate runtime for the client.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::memory_ns;
use prism_engine::call::Pattern;
use prism_engine::config::{ProxyConfig, ServerConfig};
use prism_engine::pb::kv;
use prism_engine::pb::kv::key_value_client::KeyValueClient;
use prism_engine::server::{Server, StartError};
use tonic_types::StatusExt;

fn config(listen: &str) -> ProxyConfig {
    ProxyConfig {
        server: ServerConfig {
            listen: listen.into(),
            metrics_listen: "127.0.0.1:0".into(),
            worker_threads: 2,
            ..Default::default()
        },
        namespaces: vec![memory_ns("default", &[Pattern::KeyValue])],
    }
}

fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).unwrap();
    body
}

#[test]
fn put_then_get_over_loopback_and_shutdown() {
    let mut server = Server::start(config("127.0.0.1:0"), None).expect("start");
    assert_ne!(server.grpc_addr.port(), 0, "the bound port is reported");
    let grpc_addr = server.grpc_addr;
    let url = format!("http://{grpc_addr}");

    client_runtime().block_on(async {
        let mut client = KeyValueClient::connect(url).await.expect("connect");
        let put = kv::PutRequest {
            namespace: "default".into(),
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        };
        let version = client.put(put).await.expect("put").into_inner().version;
        assert!(version > 0);
        let got = client
            .get(kv::GetRequest { namespace: "default".into(), key: b"k".to_vec() })
            .await
            .expect("get")
            .into_inner();
        assert!(got.found);
        let item = got.item.unwrap();
        assert_eq!((item.value.as_slice(), item.version), (&b"v"[..], version));

        let missing =
            client.get(kv::GetRequest { namespace: "nope".into(), key: b"k".to_vec() }).await.unwrap_err();
        assert_eq!(missing.code(), tonic::Code::NotFound);
        assert!(missing.message().contains("'nope'"), "{}", missing.message());

        let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc_addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        for service in ["", "prism.keyvalue.v1.KeyValue", "prism.timeseries.v1.TimeSeries"] {
            let request = tonic_health::pb::HealthCheckRequest { service: service.into() };
            let status = health.check(request).await.expect("health").into_inner().status;
            assert_eq!(
                status,
                tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
                "{service:?}"
            );
        }

        let empty =
            client.get(kv::GetRequest { namespace: "default".into(), key: Vec::new() }).await.unwrap_err();
        assert_eq!(empty.code(), tonic::Code::InvalidArgument);
        let violation =
            &empty.get_details_bad_request().expect("details survive the wire").field_violations[0];
        assert_eq!(violation.field, "key");
    });

    let metrics = http_get(server.metrics_addr, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(
        metrics.contains("prism_requests_total{namespace=\"default\",method=\"KeyValue/Put\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("code=\"NOT_FOUND\""), "{metrics}");
    assert!(metrics.contains("prism_in_flight_requests 0"), "{metrics}");
    assert_eq!(server.metrics().requests("default", prism_engine::call::Method::KvGet), 2);

    let started = Instant::now();
    server.shutdown(Duration::from_secs(2));
    assert!(started.elapsed() < Duration::from_secs(5), "shutdown returned in {:?}", started.elapsed());
    let refused = std::net::TcpStream::connect_timeout(&server.grpc_addr, Duration::from_millis(500));
    assert!(refused.is_err(), "the listener is closed after shutdown");
}

#[test]
fn a_taken_port_is_a_bind_error_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = Server::start(config(&addr), None).err().expect("the port is taken");
    match &err {
        StartError::Bind { addr: reported, .. } => assert_eq!(reported, &addr),
        other => panic!("expected StartError::Bind, got {other:?}"),
    }
    assert!(err.to_string().starts_with(&format!("cannot listen on {addr}: ")), "{err}");
}

#[test]
fn an_invalid_config_is_refused_before_binding() {
    let mut bad = config("127.0.0.1:0");
    bad.server.max_concurrency = 0;
    let err = Server::start(bad, None).err().expect("invalid");
    assert!(
        matches!(&err, StartError::Config(e) if e.to_string().contains("server.max_concurrency")),
        "{err:?}"
    );
}

#[test]
fn namespaces_update_without_restart() {
    let server = Server::start(config("127.0.0.1:0"), None).expect("start");
    let url = format!("http://{}", server.grpc_addr);
    let rt = client_runtime();
    let mut client = rt.block_on(KeyValueClient::connect(url)).expect("connect");
    let get = |ns: &str| kv::GetRequest { namespace: ns.into(), key: b"k".to_vec() };
    assert_eq!(rt.block_on(client.get(get("added"))).unwrap_err().code(), tonic::Code::NotFound);
    server
        .update_namespaces(&[
            memory_ns("default", &[Pattern::KeyValue]),
            memory_ns("added", &[Pattern::KeyValue]),
        ])
        .expect("update");
    assert!(!rt.block_on(client.get(get("added"))).expect("served after update").into_inner().found);
    let bad = memory_ns("bad name!", &[Pattern::KeyValue]);
    assert!(server.update_namespaces(&[bad]).is_err());
    assert!(rt.block_on(client.get(get("added"))).is_ok(), "a refused update keeps the last config");
}
