//! `RedisRows`: the `RowReader` of a `redis` namespace: the plugin's `get` script on
//! its item hashes, rows read as the plugin reads them. `RedisReads` is the namespace's
//! backend with its gets read (coalesced, `backend::native`) by it.

use async_trait::async_trait;
use bytes::Bytes;

use super::client::Client;
use super::resp::Value;
use crate::backend::native::{CoalescedReads, RowReader};
use crate::backend::Item;
use crate::PrismError;

/// A `redis` namespace's backend whose gets are read natively.
pub type RedisReads = CoalescedReads<RedisRows>;

/// The namespace's item hashes: one `get` script call per read.
pub struct RedisRows {
    pub(super) client: Client,
    pub(super) prefix: Bytes,
}

#[async_trait]
impl RowReader for RedisRows {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn read(&self, unique: &[&Bytes]) -> Result<Vec<Option<Item>>, PrismError> {
        let rows = self.client.get_rows(&self.prefix, unique).await?;
        if rows.len() != unique.len() {
            return Err(PrismError::Internal(format!(
                "redis: the get script answered {} rows for {} keys",
                rows.len(),
                unique.len()
            )));
        }
        let now = crate::time::now_ms();
        unique.iter().zip(rows).map(|(key, row)| item(key, row, now)).collect()
    }
}

/// One `[val, ver, exp]` row as the plugin's `_item` reads it: missing when `val` or
/// `ver` is absent, expired when `exp` is at or before `now`.
fn item(key: &Bytes, row: Value, now: i64) -> Result<Option<Item>, PrismError> {
    let fields = match row {
        Value::Array(fields) if fields.len() == 3 => fields,
        other => {
            return Err(PrismError::Internal(format!("redis: the get script answered the row {other:?}")))
        }
    };
    let mut fields = fields.into_iter();
    let (value, version, expires) = (fields.next(), fields.next(), fields.next());
    let (Some(Value::Bulk(value)), Some(Value::Bulk(version))) = (value, version) else { return Ok(None) };
    let version = number::<u64>(key, "ver", &version)?;
    let expires_at_ms = match expires {
        Some(Value::Bulk(exp)) => Some(number::<i64>(key, "exp", &exp)?),
        _ => None,
    };
    if expires_at_ms.is_some_and(|exp| exp <= now) {
        return Ok(None);
    }
    Ok(Some(Item { key: key.clone(), value, version, expires_at_ms }))
}

fn number<T: std::str::FromStr>(key: &Bytes, field: &str, text: &[u8]) -> Result<T, PrismError> {
    std::str::from_utf8(text).ok().and_then(|t| t.trim().parse().ok()).ok_or_else(|| {
        PrismError::Internal(format!(
            "redis: field '{field}' of the item hash of key {:?} is not an integer",
            String::from_utf8_lossy(key)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn reads_rows_as_the_plugin_does() {
        let key = Bytes::from_static(b"k");
        let row = |v, ver, exp| Value::Array(vec![v, ver, exp]);
        let live = item(&key, row(bulk("v"), bulk("7"), Value::Nil), 1000).unwrap().unwrap();
        assert_eq!((live.value.as_ref(), live.version, live.expires_at_ms), (&b"v"[..], 7, None));
        let ttl = item(&key, row(bulk(""), bulk("8"), bulk("1001")), 1000).unwrap().unwrap();
        assert_eq!((ttl.value.as_ref(), ttl.expires_at_ms), (&b""[..], Some(1001)));
        // Expired at exactly `now`, as `expires_at <= now` in the plugin.
        assert_eq!(item(&key, row(bulk("v"), bulk("8"), bulk("1000")), 1000).unwrap(), None);
        assert_eq!(item(&key, row(Value::Nil, Value::Nil, Value::Nil), 1000).unwrap(), None);
        assert_eq!(item(&key, row(bulk("v"), Value::Nil, Value::Nil), 1000).unwrap(), None);
        let bad = item(&key, row(bulk("v"), bulk("x"), Value::Nil), 1000).unwrap_err();
        assert_eq!(bad.code_name(), "internal");
        assert!(item(&key, Value::Array(vec![]), 1000).is_err());
    }
}
