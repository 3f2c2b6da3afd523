//! KeyValue semantics on top of any backend.

use bytes::Bytes;
use prost::Message;

use super::convert::item_to_pb;
use crate::backend::{DeleteEntry, Item, PutEntry, ScanQuery};
use crate::call::{Reply, Request};
use crate::idempotency::{IdempotencyStore, Mutation};
use crate::page_token::{decode_scan, encode_scan, stable_hash};
use crate::pb::kv;
use crate::registry::Namespace;
use crate::time::{duration_to_ns, ms_to_timestamp, now_ms};
use crate::PrismError;

pub async fn handle(
    ns: &Namespace,
    request: Request,
    tokens: &IdempotencyStore,
) -> Result<Reply, PrismError> {
    match request {
        Request::Get(r) => {
            let item = first(ns.backend.kv_get_many(vec![Bytes::from(r.key)]).await?);
            Ok(Reply::Get(kv::GetResponse { found: item.is_some(), item: item.map(item_to_pb) }))
        }
        Request::Exists(r) => {
            let item = first(ns.backend.kv_get_many(vec![Bytes::from(r.key)]).await?);
            let version = item.as_ref().map_or(0, |i| i.version);
            Ok(Reply::Exists(kv::ExistsResponse { exists: item.is_some(), version }))
        }
        Request::BatchGet(r) => {
            let keys: Vec<Bytes> = r.keys.into_iter().map(Bytes::from).collect();
            let found = ns.backend.kv_get_many(keys.clone()).await?;
            let mut response = kv::BatchGetResponse::default();
            for (key, item) in keys.into_iter().zip(found) {
                match item {
                    Some(item) => response.items.push(item_to_pb(item)),
                    None => response.missing_keys.push(key.to_vec()),
                }
            }
            Ok(Reply::BatchGet(response))
        }
        Request::Put(r) => mutate(ns, tokens, r.idempotency_token.clone(), &r, put(ns, &r)).await,
        Request::BatchPut(r) => mutate(ns, tokens, r.idempotency_token.clone(), &r, batch_put(ns, &r)).await,
        Request::Delete(r) => mutate(ns, tokens, r.idempotency_token.clone(), &r, delete(ns, &r)).await,
        Request::BatchDelete(r) => {
            mutate(ns, tokens, r.idempotency_token.clone(), &r, batch_delete(ns, &r)).await
        }
        Request::Scan(r) => scan(ns, r).await.map(Reply::Scan),
        _ => Err(PrismError::Internal("a TimeSeries request reached KeyValue dispatch".into())),
    }
}

fn first(mut items: Vec<Option<Item>>) -> Option<Item> {
    items.pop().flatten()
}

/// Runs a mutation, once per idempotency token when the client sent one.
async fn mutate<M: Message + Clone>(
    ns: &Namespace,
    tokens: &IdempotencyStore,
    token: Option<kv::IdempotencyToken>,
    request: &M,
    write: impl std::future::Future<Output = Result<Mutation, PrismError>>,
) -> Result<Reply, PrismError> {
    let outcome = match token {
        None => write.await?,
        Some(token) => {
            // The fingerprint covers the request as sent, token included, so
            // only a byte-identical retry replays the first outcome.
            let fingerprint = stable_hash(&[&request.encode_to_vec()]);
            tokens.run(&ns.name, &token.id, fingerprint, || write).await?
        }
    };
    Ok(match outcome {
        Mutation::Put(r) => Reply::Put(r),
        Mutation::BatchPut(r) => Reply::BatchPut(r),
        Mutation::Delete(r) => Reply::Delete(r),
        Mutation::BatchDelete(r) => Reply::BatchDelete(r),
    })
}

fn expiry(ttl: Option<&prost_types::Duration>) -> Option<i64> {
    let ns = ttl.map(duration_to_ns).filter(|ns| *ns > 0)?;
    Some(now_ms().saturating_add(((ns + 999_999) / 1_000_000) as i64))
}

async fn put(ns: &Namespace, r: &kv::PutRequest) -> Result<Mutation, PrismError> {
    let entry = PutEntry {
        key: Bytes::from(r.key.clone()),
        value: Bytes::from(r.value.clone()),
        expires_at_ms: expiry(r.ttl.as_ref()),
        if_absent: r.if_absent,
        if_version: r.if_version,
    };
    let written = ns.backend.kv_put(vec![entry]).await?;
    let w = written.first().ok_or_else(|| PrismError::Internal("backend wrote nothing".into()))?;
    Ok(Mutation::Put(kv::PutResponse {
        version: w.version,
        expires_at: w.expires_at_ms.map(ms_to_timestamp),
    }))
}

async fn batch_put(ns: &Namespace, r: &kv::BatchPutRequest) -> Result<Mutation, PrismError> {
    let entries = r
        .entries
        .iter()
        .map(|e| PutEntry {
            key: Bytes::from(e.key.clone()),
            value: Bytes::from(e.value.clone()),
            expires_at_ms: expiry(e.ttl.as_ref()),
            if_absent: e.if_absent,
            if_version: e.if_version,
        })
        .collect();
    let written = ns.backend.kv_put(entries).await?;
    Ok(Mutation::BatchPut(kv::BatchPutResponse { versions: written.iter().map(|w| w.version).collect() }))
}

async fn delete(ns: &Namespace, r: &kv::DeleteRequest) -> Result<Mutation, PrismError> {
    let entry = DeleteEntry { key: Bytes::from(r.key.clone()), if_version: r.if_version };
    let deleted = ns.backend.kv_delete(vec![entry]).await?;
    Ok(Mutation::Delete(kv::DeleteResponse { deleted: deleted.first().copied().unwrap_or(false) }))
}

async fn batch_delete(ns: &Namespace, r: &kv::BatchDeleteRequest) -> Result<Mutation, PrismError> {
    let entries = r.keys.iter().map(|k| DeleteEntry { key: Bytes::from(k.clone()), if_version: 0 }).collect();
    let deleted = ns.backend.kv_delete(entries).await?;
    Ok(Mutation::BatchDelete(kv::BatchDeleteResponse {
        deleted_count: deleted.iter().filter(|d| **d).count() as u32,
    }))
}

/// The smallest key greater than every key with this prefix (`None`: no bound).
pub fn prefix_end(prefix: &[u8]) -> Option<Bytes> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(Bytes::from(end));
        }
    }
    None
}

async fn scan(ns: &Namespace, r: kv::ScanRequest) -> Result<kv::ScanResponse, PrismError> {
    use kv::scan_request::Selector;
    let (kind, start, end): (&[u8], Bytes, Option<Bytes>) = match r.selector {
        Some(Selector::Prefix(p)) => {
            let end = prefix_end(&p);
            (b"prefix", Bytes::from(p), end)
        }
        Some(Selector::Range(range)) => {
            let end = (!range.end.is_empty()).then(|| Bytes::from(range.end));
            (b"range", Bytes::from(range.start), end)
        }
        None => (b"all", Bytes::new(), None),
    };
    let salt = ns.token_salt.to_le_bytes();
    let end_part: &[u8] = end.as_deref().unwrap_or(b"");
    let has_end: &[u8] = if end.is_some() { b"1" } else { b"0" };
    let fingerprint = stable_hash(&[&salt, kind, &start, has_end, end_part]);
    let after = match r.page_token.as_str() {
        "" => None,
        token => Some(Bytes::from(decode_scan(token, fingerprint)?)),
    };
    let limit = if r.limit == 0 { ns.limits.default_page_items } else { r.limit as usize };
    let limit_bytes = if r.limit_bytes == 0 { ns.limits.default_page_bytes } else { r.limit_bytes as usize };
    let mut found = ns.backend.kv_scan(ScanQuery { start, end, after, limit: limit + 1 }).await?;
    let mut more = found.len() > limit;
    found.truncate(limit);
    let mut page = Vec::with_capacity(found.len());
    let mut bytes = 0;
    for item in found {
        // One oversize item is returned alone; otherwise never exceed the bound.
        if !page.is_empty() && bytes + item.size() > limit_bytes {
            more = true;
            break;
        }
        bytes += item.size();
        page.push(item);
    }
    let next_page_token = match (more, page.last()) {
        (true, Some(last)) => encode_scan(fingerprint, &last.key),
        _ => String::new(),
    };
    Ok(kv::ScanResponse { items: page.into_iter().map(item_to_pb).collect(), next_page_token })
}
