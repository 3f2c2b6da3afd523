//! Serves Get, Exists and BatchGet from the namespace's read cache and keeps it
//! coherent with writes through this proxy (see `read_cache` for the rules).
//! It sits right above dispatch: requests are validated and their capabilities
//! checked before a hit is served, exactly as for a miss.

use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::CallFuture;
use crate::backend::Item;
use crate::call::{Call, Reply, Request};
use crate::dispatch::convert::{item_from_pb, item_to_pb};
use crate::pb::kv;
use crate::read_cache::ReadCache;
use crate::time::now_ms;
use crate::PrismError;

#[derive(Clone, Default)]
pub struct CacheLayer;

impl<S> Layer<S> for CacheLayer {
    type Service = ReadThrough<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ReadThrough { inner }
    }
}

#[derive(Clone)]
pub struct ReadThrough<S> {
    inner: S,
}

/// The keys a mutation touches, or `None` for reads.
fn written_keys(request: &Request) -> Option<Vec<&[u8]>> {
    match request {
        Request::Put(r) => Some(vec![r.key.as_slice()]),
        Request::BatchPut(r) => Some(r.entries.iter().map(|e| e.key.as_slice()).collect()),
        Request::Delete(r) => Some(vec![r.key.as_slice()]),
        Request::BatchDelete(r) => Some(r.keys.iter().map(|k| k.as_slice()).collect()),
        _ => None,
    }
}

/// A reply served entirely from the cache, if every key is a hit.
fn hit(cache: &ReadCache, request: &Request) -> Option<Reply> {
    let now = now_ms();
    match request {
        Request::Get(r) => {
            let item = cache.get(&r.key, now)?;
            Some(Reply::Get(kv::GetResponse { found: true, item: Some(item_to_pb(item)) }))
        }
        Request::Exists(r) => {
            let item = cache.get(&r.key, now)?;
            Some(Reply::Exists(kv::ExistsResponse { exists: true, version: item.version }))
        }
        Request::BatchGet(r) => {
            let items: Option<Vec<Item>> = r.keys.iter().map(|k| cache.get(k, now)).collect();
            let items = items?.into_iter().map(item_to_pb).collect();
            Some(Reply::BatchGet(kv::BatchGetResponse { items, missing_keys: Vec::new() }))
        }
        _ => None,
    }
}

fn fill(cache: &ReadCache, reply: &Reply, epoch: u64) {
    match reply {
        Reply::Get(kv::GetResponse { item: Some(item), .. }) => {
            cache.insert_if_current(item_from_pb(item), epoch)
        }
        Reply::BatchGet(r) => r.items.iter().for_each(|i| cache.insert_if_current(item_from_pb(i), epoch)),
        _ => {}
    }
}

impl<S> Service<Call> for ReadThrough<S>
where
    S: Service<Call, Response = Reply, Error = PrismError, Future = CallFuture>,
{
    type Response = Reply;
    type Error = PrismError;
    type Future = CallFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), PrismError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call) -> CallFuture {
        let Some(cache) = call.namespace.as_ref().and_then(|ns| ns.cache.clone()) else {
            return self.inner.call(call);
        };
        if let Some(keys) = written_keys(&call.request) {
            // Before the write: in-flight reads may not fill the old value back in.
            cache.invalidate(keys.iter().copied());
            let owned: Vec<Vec<u8>> = keys.into_iter().map(<[u8]>::to_vec).collect();
            let fut = self.inner.call(call);
            return Box::pin(async move {
                let result = fut.await;
                // After it too: a read that began between the two may have filled it.
                cache.invalidate(owned.iter().map(Vec::as_slice));
                result
            });
        }
        if let Some(reply) = hit(&cache, &call.request) {
            return Box::pin(async move { Ok(reply) });
        }
        let epoch = cache.epoch();
        let fut = self.inner.call(call);
        Box::pin(async move {
            let result = fut.await;
            if let Ok(reply) = &result {
                fill(&cache, reply, epoch);
            }
            result
        })
    }
}
