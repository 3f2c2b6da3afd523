//! The namespace's connection to Redis and the `get` script call over it.
//!
//! At most one connection is live. It is opened on the first call and, after any
//! failure, again on the next call (not in the background: an idle namespace keeps no
//! retry loop). Opening sends AUTH and SELECT from the URL, CLIENT SETNAME
//! `prism-core-reads:<namespace>` and SCRIPT LOAD of the `get` script in one pipelined
//! round trip; SCRIPT LOAD answers the script's SHA1, so the
//! core hashes nothing itself and uses the same SHA as the plugin (same source file).
//! A reply later than the socket timeout aborts the connection, failing every call on
//! it with UNAVAILABLE, as the plugin's reader does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;

use super::connection::Connection;
use super::endpoint::Endpoint;
use super::errors::{reply_error, unavailable};
use super::resp::{Command, Value};
use crate::PrismError;

/// The `get` script, the very file the plugin loads (patterns/redis/prism_redis/lua).
pub const GET_SCRIPT: &str = include_str!("../../../../../patterns/redis/prism_redis/lua/get.lua");

struct Live {
    conn: Connection,
    sha: Bytes,
}

#[derive(Default)]
struct Attempts {
    /// The outcome of the latest connection attempt, if it failed.
    last_error: Option<PrismError>,
}

pub struct Client {
    endpoint: Endpoint,
    /// CLIENT SETNAME: operators can tell the core's connections in CLIENT LIST.
    name: String,
    connect_timeout: Duration,
    socket_timeout: Duration,
    live: parking_lot::Mutex<Option<Arc<Live>>>,
    /// Held while connecting, so concurrent calls share one attempt.
    connecting: tokio::sync::Mutex<Attempts>,
    /// Connection attempts finished so far.
    attempts: AtomicU64,
}

impl Client {
    pub fn new(
        endpoint: Endpoint,
        namespace: &str,
        connect_timeout: Duration,
        socket_timeout: Duration,
    ) -> Self {
        Self {
            endpoint,
            name: format!("prism-core-reads:{namespace}"),
            connect_timeout,
            socket_timeout,
            live: parking_lot::Mutex::new(None),
            connecting: tokio::sync::Mutex::new(Attempts::default()),
            attempts: AtomicU64::new(0),
        }
    }

    /// The `get` script's reply for these item hash keys: one row per key.
    pub async fn get_rows(&self, prefix: &[u8], keys: &[&Bytes]) -> Result<Vec<Value>, PrismError> {
        let live = self.connection().await?;
        let call = |command: &[u8], script: &[u8]| {
            let count = keys.len().to_string();
            let mut cmd = Command::new(3 + keys.len()).arg(command).arg(script).arg(count.as_bytes());
            for key in keys {
                cmd = cmd.arg_parts(&[prefix, b"kv:", key]);
            }
            cmd.finish()
        };
        let mut reply = self.request(&live, call(b"EVALSHA", &live.sha)).await?;
        if matches!(&reply, Value::Error(text) if text.starts_with("NOSCRIPT")) {
            // Script cache flushed (restart, SCRIPT FLUSH): EVAL runs and caches it again.
            reply = self.request(&live, call(b"EVAL", GET_SCRIPT.as_bytes())).await?;
        }
        match reply {
            Value::Array(rows) => Ok(rows),
            Value::Error(text) => Err(reply_error(&text)),
            other => Err(PrismError::Internal(format!("redis: the get script answered {other:?}, not rows"))),
        }
    }

    async fn connection(&self) -> Result<Arc<Live>, PrismError> {
        if let Some(live) = self.current() {
            return Ok(live);
        }
        let seen = self.attempts.load(Ordering::Acquire);
        let mut attempts = self.connecting.lock().await;
        if let Some(live) = self.current() {
            return Ok(live);
        }
        // An attempt ended while this call waited for the lock: share its failure
        // rather than make every queued call wait out its own connect timeout.
        if self.attempts.load(Ordering::Acquire) != seen {
            if let Some(err) = &attempts.last_error {
                return Err(err.clone());
            }
        }
        let outcome = self.open().await;
        attempts.last_error = outcome.as_ref().err().cloned();
        self.attempts.fetch_add(1, Ordering::Release);
        let live = Arc::new(outcome?);
        *self.live.lock() = Some(live.clone());
        Ok(live)
    }

    fn current(&self) -> Option<Arc<Live>> {
        self.live.lock().as_ref().filter(|live| live.conn.is_open()).cloned()
    }

    async fn open(&self) -> Result<Live, PrismError> {
        let address = self.endpoint.address();
        let connect = TcpStream::connect((self.endpoint.host.as_str(), self.endpoint.port));
        let stream = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => return Err(unavailable(format!("cannot connect to {address}: {err}"))),
            Err(_) => {
                return Err(unavailable(format!(
                    "cannot connect to {address} within {} ms",
                    self.connect_timeout.as_millis()
                )))
            }
        };
        let _ = stream.set_nodelay(true); // small requests: no Nagle delay
        let conn = Connection::start(stream);
        let mut setup = Vec::new();
        if let Some(password) = &self.endpoint.password {
            setup.push(match &self.endpoint.username {
                Some(user) => Command::new(3).arg(b"AUTH").arg(user.as_bytes()).arg(password.as_bytes()),
                None => Command::new(2).arg(b"AUTH").arg(password.as_bytes()),
            });
        }
        if self.endpoint.db != 0 {
            setup.push(Command::new(2).arg(b"SELECT").arg(self.endpoint.db.to_string().as_bytes()));
        }
        // AUTH and SELECT must succeed; the name is a courtesy (an ACL may refuse it).
        let named = setup.len();
        setup.push(Command::new(3).arg(b"CLIENT").arg(b"SETNAME").arg(self.name.as_bytes()));
        setup.push(Command::new(3).arg(b"SCRIPT").arg(b"LOAD").arg(GET_SCRIPT.as_bytes()));
        let pending: Vec<_> = setup
            .into_iter()
            .map(|cmd| conn.send(cmd.finish()).map_err(unavailable))
            .collect::<Result<_, _>>()?;
        let mut last = Value::Nil;
        for (i, rx) in pending.into_iter().enumerate() {
            last = match self.wait(&conn, rx).await? {
                Value::Error(text) if i != named => return Err(reply_error(&text)),
                reply => reply,
            };
        }
        match last {
            Value::Bulk(sha) => Ok(Live { conn, sha }),
            other => Err(PrismError::Internal(format!("redis: SCRIPT LOAD answered {other:?}, not a SHA1"))),
        }
    }

    async fn request(&self, live: &Live, command: Bytes) -> Result<Value, PrismError> {
        let rx = live.conn.send(command).map_err(unavailable)?;
        self.wait(&live.conn, rx).await
    }

    async fn wait(
        &self,
        conn: &Connection,
        rx: tokio::sync::oneshot::Receiver<Value>,
    ) -> Result<Value, PrismError> {
        match tokio::time::timeout(self.socket_timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(unavailable(format!("{}: {}", self.endpoint.address(), conn.failure()))),
            Err(_) => {
                let reason = format!(
                    "no reply from {} within {} ms",
                    self.endpoint.address(),
                    self.socket_timeout.as_millis()
                );
                conn.abort(reason.clone());
                Err(unavailable(reason))
            }
        }
    }
}
