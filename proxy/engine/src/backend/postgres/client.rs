//! The connections of one namespace's native reads: `CONNECTIONS` of them, each opened
//! on first use with the get statement prepared on it once, used round-robin (calls on
//! one connection are pipelined by tokio-postgres).
//!
//! A connection found closed is dropped and the next call opens a new one; a call that
//! met a connection gone stale (e.g. after a server restart) is retried once on a fresh
//! one, as the plugin's `Database.read` does: a read has no effect to duplicate. Calls
//! that waited on a failed connect attempt share its error instead of each waiting out
//! the connect timeout. A statement without an answer within the socket timeout drops
//! its connection (the server's `statement_timeout`, set to the same bound, usually
//! answers first).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Config, NoTls, Row, Statement};

use super::errors;
use crate::PrismError;

/// Connections per namespace: as many as gets in flight (`reads::MAX_IN_FLIGHT`).
pub const CONNECTIONS: usize = 2;

pub struct Client {
    config: Config,
    query: String,
    connect_timeout: Duration,
    socket_timeout: Duration,
    slots: [Slot; CONNECTIONS],
    next: AtomicUsize,
}

#[derive(Default)]
struct Slot {
    live: Mutex<Option<Arc<Live>>>,
    /// Held while connecting; the last failed attempt and its generation.
    connecting: tokio::sync::Mutex<Option<(u64, PrismError)>>,
    /// Connect attempts finished so far.
    attempts: AtomicU64,
}

/// An open connection: the client handle, its prepared get and the task driving it.
struct Live {
    client: tokio_postgres::Client,
    get: Statement,
    driver: JoinHandle<()>,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.driver.abort(); // closes the socket even with a statement still running
    }
}

impl Client {
    /// `config` is complete (application name, statement timeout); `table` is quoted.
    pub fn new(config: Config, table: &str, connect_timeout: Duration, socket_timeout: Duration) -> Self {
        // Exactly the plugin's get (prism_postgres/keyvalue.py).
        let query = format!(
            "SELECT key, value, version, expires_at_ms FROM {table} \
             WHERE key = ANY($1::bytea[]) AND (expires_at_ms IS NULL OR expires_at_ms > $2)"
        );
        Self {
            config,
            query,
            connect_timeout,
            socket_timeout,
            slots: Default::default(),
            next: AtomicUsize::new(0),
        }
    }

    /// The live rows among `keys` (distinct), as of `now_ms`.
    pub async fn get_rows(&self, keys: &[&Bytes], now_ms: i64) -> Result<Vec<Row>, PrismError> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % CONNECTIONS];
        let params: Vec<&[u8]> = keys.iter().map(|k| k.as_ref()).collect();
        let mut retried = false;
        loop {
            let (live, fresh) = self.live(slot).await?;
            let args: [&(dyn ToSql + Sync); 2] = [&params, &now_ms];
            let run = live.client.query(&live.get, &args);
            let err = match tokio::time::timeout(self.socket_timeout, run).await {
                Ok(Ok(rows)) => return Ok(rows),
                Ok(Err(err)) => err,
                Err(_) => {
                    slot.forget(&live);
                    return Err(PrismError::Unavailable(format!(
                        "postgres: no answer within {} ms",
                        self.socket_timeout.as_millis()
                    )));
                }
            };
            // Lost its prepared statement (a pooler's DISCARD ALL): prepare on a new one.
            let stale = errors::is_connection_error(&err)
                || err.code() == Some(&SqlState::INVALID_SQL_STATEMENT_NAME);
            if stale {
                slot.forget(&live);
            }
            if stale && !fresh && !retried {
                retried = true;
                continue;
            }
            return Err(errors::statement_failed(&err));
        }
    }

    /// The slot's open connection (`false`) or a new one (`true`).
    async fn live(&self, slot: &Slot) -> Result<(Arc<Live>, bool), PrismError> {
        if let Some(live) = slot.open() {
            return Ok((live, false));
        }
        let seen = slot.attempts.load(Ordering::Acquire);
        let mut failed = slot.connecting.lock().await;
        if let Some(live) = slot.open() {
            return Ok((live, false)); // opened while this call waited
        }
        if let Some((attempt, err)) = &*failed {
            if *attempt > seen {
                return Err(err.clone()); // failed while this call waited
            }
        }
        let outcome = self.connect().await;
        let attempt = slot.attempts.fetch_add(1, Ordering::AcqRel) + 1;
        match outcome {
            Ok(live) => {
                *failed = None;
                *slot.live.lock() = Some(live.clone());
                Ok((live, true))
            }
            Err(err) => {
                *failed = Some((attempt, err.clone()));
                Err(err)
            }
        }
    }

    async fn connect(&self) -> Result<Arc<Live>, PrismError> {
        let timed_out = |what: &str, bound: Duration| {
            PrismError::Unavailable(format!("postgres: cannot {what} within {} ms", bound.as_millis()))
        };
        let (client, connection) = tokio::time::timeout(self.connect_timeout, self.config.connect(NoTls))
            .await
            .map_err(|_| timed_out("connect", self.connect_timeout))?
            .map_err(|err| errors::connect_failed(&err))?;
        let driver = tokio::spawn(async move {
            let _ = connection.await; // ends when the socket closes; failures surface in calls
        });
        let prepare = client.prepare_typed(&self.query, &[Type::BYTEA_ARRAY, Type::INT8]);
        let get = match tokio::time::timeout(self.socket_timeout, prepare).await {
            Ok(Ok(get)) => get,
            failed => {
                driver.abort();
                return Err(match failed {
                    Ok(Err(err)) => errors::statement_failed(&err),
                    _ => timed_out("prepare the get", self.socket_timeout),
                });
            }
        };
        Ok(Arc::new(Live { client, get, driver }))
    }
}

impl Slot {
    fn open(&self) -> Option<Arc<Live>> {
        self.live.lock().clone().filter(|live| !live.client.is_closed())
    }

    /// Drops `live` if it is still the slot's connection: the next call reconnects.
    fn forget(&self, live: &Arc<Live>) {
        let mut current = self.live.lock();
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, live)) {
            *current = None;
        }
    }
}
