//! Native Redis reads (`backend::redis`) against a real Redis server.
//!
//! The tests that need a server are `#[ignore]`d in a plain `cargo test` (it runs before
//! the stack is up) and run by tests/plugins/test_redis_native_reads.py with
//! `-- --ignored` against the stack's Redis (`PRISM_TEST_REDIS_URL` or `PRISM_REDIS_URL`,
//! e.g. redis://127.0.0.1:26379/0); run that way without a URL they fail, never pass
//! vacuously. Each test writes under its own random prefix and removes it.
//! Items are written as the plugin lays them out (hash {val, ver, exp?} at
//! `<prefix>kv:<key>`), with raw RESP commands: the test needs no Redis client crate.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prism_engine::backend::redis::RedisReads;
use prism_engine::backend::{Backend, MemoryBackend, PutEntry};
use prism_engine::config::NativeReads;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn server_url() -> String {
    std::env::var("PRISM_TEST_REDIS_URL").or_else(|_| std::env::var("PRISM_REDIS_URL")).expect(
        "set PRISM_TEST_REDIS_URL (or PRISM_REDIS_URL) to a Redis server, e.g. redis://127.0.0.1:26379/0",
    )
}

fn host_port(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    authority.rsplit('@').next().unwrap().to_string()
}

fn native(url: &str, prefix: &str, socket_timeout_ms: u64) -> NativeReads {
    NativeReads {
        kind: "redis".into(),
        url: url.into(),
        key_prefix: prefix.into(),
        connect_timeout_ms: 1000,
        socket_timeout_ms,
        table: None,
    }
}

fn reads(url: &str, prefix: &str) -> RedisReads {
    RedisReads::wrap(Arc::new(MemoryBackend::new()), &native(url, prefix, 2000), "test").unwrap()
}

fn now_ms() -> i64 {
    prism_engine::time::now_ms()
}

/// A bare RESP connection for arranging data (one command, one reply, read until complete).
struct Raw(TcpStream);

impl Raw {
    async fn open(url: &str) -> Self {
        Self(TcpStream::connect(host_port(url)).await.unwrap())
    }

    async fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.0.write_all(&out).await.unwrap();
        // Replies to the commands used here are one line (+OK, :n, -ERR).
        let mut reply = Vec::new();
        while !reply.ends_with(b"\r\n") {
            let mut byte = [0u8; 1];
            self.0.read_exact(&mut byte).await.unwrap();
            reply.push(byte[0]);
        }
        reply
    }

    async fn item(&mut self, prefix: &str, key: &str, value: &str, version: u64, exp: Option<i64>) {
        let hash = format!("{prefix}kv:{key}");
        let ver = version.to_string();
        let mut args: Vec<&[u8]> =
            vec![b"HSET", hash.as_bytes(), b"val", value.as_bytes(), b"ver", ver.as_bytes()];
        let exp = exp.map(|e| e.to_string());
        if let Some(exp) = &exp {
            args.extend([&b"exp"[..], exp.as_bytes()]);
        }
        let reply = self.cmd(&args).await;
        assert!(reply.starts_with(b":"), "HSET answered {:?}", String::from_utf8_lossy(&reply));
    }

    async fn drop_items(&mut self, prefix: &str, keys: &[&str]) {
        for key in keys {
            self.cmd(&[b"DEL", format!("{prefix}kv:{key}").as_bytes()]).await;
        }
    }
}

fn prefix() -> String {
    format!("prism:rtest{}:", rand::random::<u32>())
}

fn keys(list: &[&str]) -> Vec<Bytes> {
    list.iter().map(|k| Bytes::copy_from_slice(k.as_bytes())).collect()
}

#[tokio::test]
#[ignore = "needs a Redis server: run by tests/plugins/test_redis_native_reads.py"]
async fn gets_mean_what_the_plugin_get_means() {
    let url = server_url();
    let p = prefix();
    let mut raw = Raw::open(&url).await;
    raw.item(&p, "a", "alpha", 3, None).await;
    raw.item(&p, "gone", "old", 4, Some(now_ms() - 1)).await; // expired, not yet evicted
    let later = now_ms() + 60_000;
    raw.item(&p, "ttl", "", 5, Some(later)).await;
    let backend = reads(&url, &p);

    let got = backend.kv_get_many(keys(&["a", "gone", "ttl", "missing", "a"])).await.unwrap();
    let summary: Vec<_> = got
        .iter()
        .map(|i| i.as_ref().map(|i| (i.key.clone(), i.value.clone(), i.version, i.expires_at_ms)))
        .collect();
    let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
    assert_eq!(
        summary,
        vec![
            Some((b("a"), b("alpha"), 3, None)),
            None,
            Some((b("ttl"), b(""), 5, Some(later))),
            None,
            Some((b("a"), b("alpha"), 3, None)),
        ]
    );
    // The duplicate was asked once.
    assert_eq!((backend.stats().batches, backend.stats().keys), (1, 4));
    raw.drop_items(&p, &["a", "gone", "ttl"]).await;
}

#[tokio::test]
#[ignore = "needs a Redis server: run by tests/plugins/test_redis_native_reads.py"]
async fn only_gets_are_native_the_rest_goes_to_the_wrapped_backend() {
    let url = server_url();
    let p = prefix();
    let backend = reads(&url, &p);
    let put = PutEntry {
        key: Bytes::from_static(b"w"),
        value: Bytes::from_static(b"v"),
        expires_at_ms: None,
        if_absent: false,
        if_version: 0,
    };
    backend.kv_put(vec![put]).await.unwrap(); // into the wrapped memory backend
    assert_eq!(backend.kv_get_many(keys(&["w"])).await.unwrap(), vec![None]); // Redis has no such item
    assert_eq!(backend.kind(), "memory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Redis server: run by tests/plugins/test_redis_native_reads.py"]
async fn concurrent_gets_are_coalesced_and_each_answered() {
    let url = server_url();
    let p = prefix();
    let mut raw = Raw::open(&url).await;
    let names: Vec<String> = (0..300).map(|i| format!("k{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        raw.item(&p, name, &format!("v{i}"), i as u64 + 1, None).await;
    }
    let backend = Arc::new(reads(&url, &p));
    let calls =
        names.iter().map(|name| {
            let backend = backend.clone();
            let key = Bytes::copy_from_slice(name.as_bytes());
            async move {
                backend.kv_get_many(vec![key.clone(), Bytes::from_static(b"nope")]).await.map(|r| (key, r))
            }
        });
    for result in futures::future::join_all(calls).await {
        let (key, items) = result.unwrap();
        let item = items[0].as_ref().expect("stored item found");
        assert_eq!(item.key, key);
        let i: u64 = std::str::from_utf8(&key[1..]).unwrap().parse().unwrap();
        assert_eq!((item.value.as_ref(), item.version), (format!("v{i}").as_bytes(), i + 1));
        assert_eq!(items[1], None);
    }
    // 300 gets, at most 2 script calls in flight: the first two go alone, the rest wait
    // and leave in batches of up to 512 keys.
    let stats = backend.stats();
    assert!(stats.batches <= 10, "300 concurrent gets took {} script calls", stats.batches);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    raw.drop_items(&p, &names).await;
}

#[tokio::test]
#[ignore = "needs a Redis server: run by tests/plugins/test_redis_native_reads.py"]
async fn a_flushed_script_cache_is_refilled_with_eval() {
    let url = server_url();
    let p = prefix();
    let mut raw = Raw::open(&url).await;
    raw.item(&p, "a", "alpha", 1, None).await;
    let backend = reads(&url, &p);
    assert!(backend.kv_get_many(keys(&["a"])).await.unwrap()[0].is_some());
    // Empties the server's whole script cache: every Prism path (plugin and core) answers
    // NOSCRIPT with EVAL or a reload, so other users of the server only pay one retry.
    raw.cmd(&[b"SCRIPT", b"FLUSH", b"ASYNC"]).await;
    let item = backend.kv_get_many(keys(&["a"])).await.unwrap().remove(0).unwrap();
    assert_eq!(item.value.as_ref(), b"alpha");
    raw.drop_items(&p, &["a"]).await;
}

#[tokio::test]
#[ignore = "needs a Redis server: run by tests/plugins/test_redis_native_reads.py"]
async fn bad_credentials_are_permission_denied() {
    let url = server_url();
    let wrong = format!("redis://prism-nobody:not-the-password@{}/0", host_port(&url));
    let backend = RedisReads::wrap(Arc::new(MemoryBackend::new()), &native(&wrong, "p:", 2000), "t").unwrap();
    let err = backend.kv_get_many(keys(&["a"])).await.unwrap_err();
    assert_eq!(err.code_name(), "permission_denied", "{err}");
    assert!(!err.to_string().contains("not-the-password"), "{err}");
}

#[tokio::test]
#[ignore = "needs a Redis server: run by tests/plugins/test_redis_native_reads.py"]
async fn an_unreachable_server_fails_fast_and_a_returning_one_is_used_again() {
    let url = server_url();
    let p = prefix();
    let mut raw = Raw::open(&url).await;
    raw.item(&p, "a", "alpha", 1, None).await;
    // A forwarder in front of Redis that the test can take down and bring back.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let target = host_port(&url);
    let forward = tokio::spawn(forwarder(listener, target.clone()));
    let backend = reads(&format!("redis://{address}/0"), &p);
    assert!(backend.kv_get_many(keys(&["a"])).await.unwrap()[0].is_some());

    forward.abort(); // closes the listener and every forwarded connection
    let _ = forward.await;
    let started = std::time::Instant::now();
    let mut codes = Vec::new();
    for _ in 0..3 {
        let err = backend.kv_get_many(keys(&["a"])).await.unwrap_err();
        assert!(err.to_string().starts_with("redis: "), "{err}");
        codes.push(err.code_name());
    }
    assert_eq!(codes, vec!["unavailable"; 3]);
    assert!(started.elapsed() < Duration::from_secs(1), "failing took {:?}", started.elapsed());

    let listener = TcpListener::bind(address).await.unwrap();
    let forward = tokio::spawn(forwarder(listener, target));
    let item = backend.kv_get_many(keys(&["a"])).await.unwrap().remove(0).unwrap();
    assert_eq!(item.value.as_ref(), b"alpha");
    forward.abort();
    raw.drop_items(&p, &["a"]).await;
}

#[tokio::test]
async fn a_server_that_stops_answering_times_out_as_unavailable() {
    // No Redis needed: a listener that accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let config = native(&format!("redis://{address}/0"), "p:", 300);
    let backend = RedisReads::wrap(Arc::new(MemoryBackend::new()), &config, "t").unwrap();
    let started = std::time::Instant::now();
    let err = backend.kv_get_many(keys(&["a"])).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.code_name(), "unavailable", "{err}");
    assert!(err.to_string().contains("within 300 ms"), "{err}");
    assert!(took >= Duration::from_millis(290) && took < Duration::from_secs(2), "took {took:?}");
    silent.abort();
}

#[test]
fn bad_native_read_configs_name_the_field() {
    let wrap = |config: NativeReads| RedisReads::wrap(Arc::new(MemoryBackend::new()), &config, "x");
    let err = wrap(native("rediss://u:secret@h:1/0", "p:", 1)).err().unwrap();
    assert_eq!(err.code_name(), "invalid_argument");
    assert!(
        err.to_string().contains("namespaces[x].native_reads.url") && !err.to_string().contains("secret"),
        "{err}"
    );
    let err = wrap(NativeReads { kind: "memcached".into(), ..native("redis://h", "p:", 1) }).err().unwrap();
    assert!(err.to_string().contains("namespaces[x].native_reads.kind"), "{err}");
    let err = wrap(native("redis://h", "p:", 0)).err().unwrap();
    assert!(err.to_string().contains("socket_timeout_ms"), "{err}");
    let debug = format!("{:?}", native("redis://u:secret@h:1/0", "p:", 1));
    assert!(!debug.contains("secret"), "{debug}");
}

async fn forwarder(listener: TcpListener, target: String) {
    let mut links = tokio::task::JoinSet::new();
    while let Ok((mut client, _)) = listener.accept().await {
        let target = target.clone();
        links.spawn(async move {
            if let Ok(mut server) = TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
    }
}
