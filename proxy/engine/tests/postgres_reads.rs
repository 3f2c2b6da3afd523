//! Native PostgreSQL reads (`backend::postgres`) against a real PostgreSQL server.
//!
//! The tests that need a server are `#[ignore]`d in a plain `cargo test` (it runs before
//! the stack is up) and run by tests/plugins/test_postgres_native_reads.py with
//! `-- --ignored` against the stack's PostgreSQL (`PRISM_TEST_POSTGRES_URL` or
//! `PRISM_POSTGRES_URL`, e.g. postgresql://prism@127.0.0.1:25432/prism); run that way
//! without a URL they fail, never pass vacuously. Each test creates its own table with
//! the plugin's DDL (prism_postgres/provisioning.py) under a random name and drops it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prism_engine::backend::postgres::{application_name, PostgresReads};
use prism_engine::backend::{Backend, MemoryBackend, PutEntry};
use prism_engine::config::NativeReads;
use tokio::net::{TcpListener, TcpStream};
use tokio_postgres::NoTls;

fn server_url() -> String {
    std::env::var("PRISM_TEST_POSTGRES_URL").or_else(|_| std::env::var("PRISM_POSTGRES_URL")).expect(
        "set PRISM_TEST_POSTGRES_URL (or PRISM_POSTGRES_URL) to a PostgreSQL server, \
         e.g. postgresql://prism@127.0.0.1:25432/prism",
    )
}

/// `host:port` of a postgresql://user[:pw]@host:port/db URL.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split(['/', '?']).next().unwrap();
    authority.rsplit('@').next().unwrap().to_string()
}

/// `url` with its host:port replaced.
fn via(url: &str, address: &str) -> String {
    url.replacen(&host_port(url), address, 1)
}

fn native(url: &str, table: &str, connect_timeout_ms: u64) -> NativeReads {
    NativeReads {
        kind: "postgres".into(),
        url: url.into(),
        key_prefix: String::new(),
        connect_timeout_ms,
        socket_timeout_ms: 2000,
        table: Some(table.into()),
    }
}

fn reads(url: &str, table: &Table, namespace: &str) -> PostgresReads {
    let config = native(url, &table.quoted, 2000);
    PostgresReads::wrap(Arc::new(MemoryBackend::new()), &config, namespace).unwrap()
}

fn now_ms() -> i64 {
    prism_engine::time::now_ms()
}

fn keys(list: &[&str]) -> Vec<Bytes> {
    list.iter().map(|k| Bytes::copy_from_slice(k.as_bytes())).collect()
}

/// A KeyValue table laid out as the plugin provisions it, and a session to arrange data.
struct Table {
    sql: tokio_postgres::Client,
    quoted: String,
}

impl Table {
    async fn create(url: &str) -> Self {
        let (sql, connection) =
            tokio_postgres::connect(url, NoTls).await.expect("connect to the test server");
        tokio::spawn(connection);
        let name = format!("kv_ptest{}", rand::random::<u32>());
        let quoted = format!("\"{name}\"");
        // The plugin's KeyValue DDL (provisioning.py `schema`).
        sql.batch_execute(&format!(
            "CREATE TABLE {quoted} (key bytea NOT NULL, value bytea NOT NULL, version bigint NOT NULL, \
             expires_at_ms bigint NULL, CONSTRAINT \"kvpk_{name}\" PRIMARY KEY (key))"
        ))
        .await
        .unwrap();
        Self { sql, quoted }
    }

    async fn item(&self, key: &str, value: &str, version: i64, exp: Option<i64>) {
        let statement = format!(
            "INSERT INTO {} (key, value, version, expires_at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version, \
             expires_at_ms = excluded.expires_at_ms",
            self.quoted
        );
        self.sql.execute(&statement, &[&key.as_bytes(), &value.as_bytes(), &version, &exp]).await.unwrap();
    }

    /// Backend pids of the core's connections for `namespace`.
    async fn core_pids(&self, namespace: &str) -> Vec<i32> {
        let rows = self
            .sql
            .query(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid",
                &[&application_name(namespace)],
            )
            .await
            .unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    }

    async fn drop(self) {
        self.sql.batch_execute(&format!("DROP TABLE IF EXISTS {}", self.quoted)).await.unwrap();
    }
}

/// An item's key, value, version and expiry.
type Fields = (Bytes, Bytes, u64, Option<i64>);

fn summary(got: &[Option<prism_engine::backend::Item>]) -> Vec<Option<Fields>> {
    got.iter()
        .map(|i| i.as_ref().map(|i| (i.key.clone(), i.value.clone(), i.version, i.expires_at_ms)))
        .collect()
}

#[tokio::test]
#[ignore = "needs a PostgreSQL server: run by tests/plugins/test_postgres_native_reads.py"]
async fn gets_mean_what_the_plugin_get_means() {
    let url = server_url();
    let table = Table::create(&url).await;
    table.item("a", "alpha", 3, None).await;
    table.item("gone", "old", 4, Some(now_ms() - 1)).await; // expired, not yet purged
    let later = now_ms() + 60_000;
    table.item("ttl", "", 5, Some(later)).await;
    let backend = reads(&url, &table, "pt1");

    let got = backend.kv_get_many(keys(&["a", "gone", "ttl", "missing", "a"])).await.unwrap();
    let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
    assert_eq!(
        summary(&got),
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
    // A change made directly in SQL is seen by the very next get: nothing is cached.
    table.item("a", "changed", 9, None).await;
    let got = backend.kv_get_many(keys(&["a"])).await.unwrap();
    assert_eq!(summary(&got), vec![Some((b("a"), b("changed"), 9, None))]);
    table.drop().await;
}

#[tokio::test]
#[ignore = "needs a PostgreSQL server: run by tests/plugins/test_postgres_native_reads.py"]
async fn only_gets_are_native_the_rest_goes_to_the_wrapped_backend() {
    let url = server_url();
    let table = Table::create(&url).await;
    let backend = reads(&url, &table, "pt2");
    let put = PutEntry {
        key: Bytes::from_static(b"w"),
        value: Bytes::from_static(b"v"),
        expires_at_ms: None,
        if_absent: false,
        if_version: 0,
    };
    backend.kv_put(vec![put]).await.unwrap(); // into the wrapped memory backend
    assert_eq!(backend.kv_get_many(keys(&["w"])).await.unwrap(), vec![None]); // not in the table
    assert_eq!(backend.kind(), "memory");
    table.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a PostgreSQL server: run by tests/plugins/test_postgres_native_reads.py"]
async fn concurrent_gets_are_coalesced_and_each_answered() {
    let url = server_url();
    let table = Table::create(&url).await;
    let names: Vec<String> = (0..300).map(|i| format!("k{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        table.item(name, &format!("v{i}"), i as i64 + 1, None).await;
    }
    let backend = Arc::new(reads(&url, &table, "pt3"));
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
    // 300 gets, at most 2 statements in flight: the first two go alone, the rest wait
    // and leave in batches of up to 512 keys.
    let stats = backend.stats();
    assert!(stats.batches <= 10, "300 concurrent gets took {} statements", stats.batches);
    // At most two connections, named for the namespace.
    let pids = table.core_pids("pt3").await;
    assert!((1..=2).contains(&pids.len()), "{pids:?}");
    table.drop().await;
}

#[tokio::test]
#[ignore = "needs a PostgreSQL server: run by tests/plugins/test_postgres_native_reads.py"]
async fn a_terminated_connection_is_replaced_without_failing_the_get() {
    let url = server_url();
    let table = Table::create(&url).await;
    table.item("a", "alpha", 1, None).await;
    let backend = reads(&url, &table, "pt4");
    // Two gets: one per connection (round-robin), so both are open.
    for _ in 0..2 {
        assert!(backend.kv_get_many(keys(&["a"])).await.unwrap()[0].is_some());
    }
    let before = table.core_pids("pt4").await;
    assert_eq!(before.len(), 2, "{before:?}");
    // As after a server restart: every connection of the core is gone.
    table
        .sql
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&application_name("pt4")],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A read has no effect to duplicate: a stale connection is retried on a fresh one.
    for _ in 0..2 {
        let item = backend.kv_get_many(keys(&["a"])).await.unwrap().remove(0).unwrap();
        assert_eq!(item.value.as_ref(), b"alpha");
    }
    let after = table.core_pids("pt4").await;
    assert!(after.iter().all(|pid| !before.contains(pid)) && !after.is_empty(), "{before:?} {after:?}");
    table.drop().await;
}

#[tokio::test]
#[ignore = "needs a PostgreSQL server: run by tests/plugins/test_postgres_native_reads.py"]
async fn a_table_not_provisioned_is_internal_as_in_the_plugin() {
    let url = server_url();
    let config = native(&url, &format!("\"kv_ptest_missing{}\"", rand::random::<u32>()), 2000);
    let backend = PostgresReads::wrap(Arc::new(MemoryBackend::new()), &config, "pt5").unwrap();
    let err = backend.kv_get_many(keys(&["a"])).await.unwrap_err();
    assert_eq!(err.code_name(), "internal", "{err}");
    assert!(err.to_string().starts_with("postgres: 42P01: "), "{err}");
}

#[tokio::test]
#[ignore = "needs a PostgreSQL server: run by tests/plugins/test_postgres_native_reads.py"]
async fn rejected_credentials_are_unavailable_as_in_the_plugin_and_keep_the_password() {
    let url = server_url();
    let table = Table::create(&url).await;
    let wrong = format!("postgresql://prism_nobody:not-the-password@{}/prism", host_port(&url));
    let backend = reads(&wrong, &table, "pt6");
    let err = backend.kv_get_many(keys(&["a"])).await.unwrap_err();
    // The plugin's pool cannot connect either: UNAVAILABLE (prism_postgres/db.py).
    assert_eq!(err.code_name(), "unavailable", "{err}");
    assert!(err.to_string().starts_with("postgres: cannot connect"), "{err}");
    assert!(!err.to_string().contains("not-the-password"), "{err}");
    table.drop().await;
}

#[tokio::test]
#[ignore = "needs a PostgreSQL server: run by tests/plugins/test_postgres_native_reads.py"]
async fn an_unreachable_server_fails_fast_and_a_returning_one_is_used_again() {
    let url = server_url();
    let table = Table::create(&url).await;
    table.item("a", "alpha", 1, None).await;
    // A forwarder in front of PostgreSQL that the test can take down and bring back.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let target = host_port(&url);
    let forward = tokio::spawn(forwarder(listener, target.clone()));
    let backend = reads(&via(&url, &address.to_string()), &table, "pt7");
    assert!(backend.kv_get_many(keys(&["a"])).await.unwrap()[0].is_some());

    forward.abort(); // closes the listener and every forwarded connection
    let _ = forward.await;
    let started = std::time::Instant::now();
    let mut codes = Vec::new();
    for _ in 0..3 {
        let err = backend.kv_get_many(keys(&["a"])).await.unwrap_err();
        assert!(err.to_string().starts_with("postgres: "), "{err}");
        codes.push(err.code_name());
    }
    assert_eq!(codes, vec!["unavailable"; 3]);
    assert!(started.elapsed() < Duration::from_secs(1), "failing took {:?}", started.elapsed());

    let listener = TcpListener::bind(address).await.unwrap();
    let forward = tokio::spawn(forwarder(listener, target));
    let item = backend.kv_get_many(keys(&["a"])).await.unwrap().remove(0).unwrap();
    assert_eq!(item.value.as_ref(), b"alpha");
    forward.abort();
    table.drop().await;
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_unavailable() {
    // No PostgreSQL needed: a listener that accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let config = native(&format!("postgresql://u@{address}/db"), "\"kv_t\"", 300);
    let backend = PostgresReads::wrap(Arc::new(MemoryBackend::new()), &config, "t").unwrap();
    let started = std::time::Instant::now();
    let err = backend.kv_get_many(keys(&["a"])).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.code_name(), "unavailable", "{err}");
    assert!(err.to_string().starts_with("postgres: ") && err.to_string().contains("within 300 ms"), "{err}");
    assert!(took >= Duration::from_millis(290) && took < Duration::from_secs(2), "took {took:?}");
    silent.abort();
}

#[test]
fn bad_native_read_configs_name_the_field() {
    let wrap = |config: NativeReads| PostgresReads::wrap(Arc::new(MemoryBackend::new()), &config, "x");
    let err = wrap(native("postgresql://u:secret@h:1/db?sslmode=require", "\"kv_x\"", 1)).err().unwrap();
    assert_eq!(err.code_name(), "invalid_argument");
    let text = err.to_string();
    assert!(text.contains("namespaces[x].native_reads.url") && !text.contains("secret"), "{text}");
    let err = wrap(native("postgresql://u:secret@h:1/db?sslmode=verify-full", "\"kv_x\"", 1)).err().unwrap();
    assert!(err.to_string().contains("native_reads.url") && !err.to_string().contains("secret"), "{err}");
    let err = wrap(native("postgresql://u@h:1/db", "kv_x; DROP TABLE y", 1)).err().unwrap();
    assert!(err.to_string().contains("namespaces[x].native_reads.table"), "{err}");
    let err =
        wrap(NativeReads { table: None, ..native("postgresql://u@h:1/db", "\"kv_x\"", 1) }).err().unwrap();
    assert!(err.to_string().contains("native_reads.table"), "{err}");
    let err = wrap(native("postgresql://u@h:1/db", "\"kv_x\"", 0)).err().unwrap();
    assert!(err.to_string().contains("connect_timeout_ms"), "{err}");
    let err = wrap(NativeReads { kind: "redis".into(), ..native("postgresql://u@h:1/db", "\"kv_x\"", 1) })
        .err()
        .unwrap();
    assert!(err.to_string().contains("native_reads.kind"), "{err}");
    let debug = format!("{:?}", native("postgresql://u:secret@h:1/db", "\"kv_x\"", 1));
    assert!(!debug.contains("secret") && debug.contains("kv_x"), "{debug}");
}

#[test]
fn the_dispatch_picks_the_reader_of_the_kind() {
    let wrap = |config: &NativeReads| {
        prism_engine::backend::native::wrap(Arc::new(MemoryBackend::new()), config, "x")
            .map(|b| b.kind().to_string())
    };
    let pg = native("postgresql://u@h:1/db", "\"kv_x\"", 1);
    assert_eq!(wrap(&pg).unwrap(), "memory"); // wrapped, the inner backend's kind
    let err = wrap(&NativeReads { kind: "memcached".into(), ..pg.clone() }).err().unwrap();
    assert!(err.to_string().contains("known: redis, postgres"), "{err}");
    // A redis entry goes to the redis reader, which rejects a postgresql:// URL by name.
    let err = wrap(&NativeReads { kind: "redis".into(), ..pg }).err().unwrap();
    assert!(err.to_string().contains("native_reads.url"), "{err}");
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
