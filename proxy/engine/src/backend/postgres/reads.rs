//! `PostgresRows`: the `RowReader` of a `postgres` namespace: the plugin's get
//! statement on its KeyValue table. `PostgresReads` is the namespace's backend with its
//! gets read (coalesced, `backend::native`) by it.

use std::collections::HashMap;

use async_trait::async_trait;
use bytes::Bytes;
use tokio_postgres::Row;

use super::client::Client;
use crate::backend::native::{CoalescedReads, RowReader};
use crate::backend::Item;
use crate::PrismError;

/// A `postgres` namespace's backend whose gets are read natively.
pub type PostgresReads = CoalescedReads<PostgresRows>;

/// The namespace's KeyValue table: one get statement per read.
pub struct PostgresRows {
    pub(super) client: Client,
}

#[async_trait]
impl RowReader for PostgresRows {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn read(&self, unique: &[&Bytes]) -> Result<Vec<Option<Item>>, PrismError> {
        let rows = self.client.get_rows(unique, crate::time::now_ms()).await?;
        // Rows come for live keys only: place each at its key.
        let position: HashMap<&Bytes, usize> = unique.iter().enumerate().map(|(i, key)| (*key, i)).collect();
        let mut found: Vec<Option<Item>> = vec![None; unique.len()];
        for row in rows {
            let item = item(&row)?;
            if let Some(&i) = position.get(&item.key) {
                found[i] = Some(item);
            }
        }
        Ok(found)
    }
}

/// A `(key, value, version, expires_at_ms)` row as the plugin returns it: the live
/// filter is the statement's, the fields are taken as stored.
fn item(row: &Row) -> Result<Item, PrismError> {
    let bad = |err: tokio_postgres::Error| PrismError::Internal(format!("postgres: a get row: {err}"));
    let key: &[u8] = row.try_get(0).map_err(bad)?;
    let value: &[u8] = row.try_get(1).map_err(bad)?;
    let version: i64 = row.try_get(2).map_err(bad)?;
    let expires_at_ms: Option<i64> = row.try_get(3).map_err(bad)?;
    let version = u64::try_from(version)
        .map_err(|_| PrismError::Internal(format!("postgres: a stored item has the version {version}")))?;
    Ok(Item {
        key: Bytes::copy_from_slice(key),
        value: Bytes::copy_from_slice(value),
        version,
        expires_at_ms,
    })
}
