//! Enforces a namespace's bound schema (ADR-011): values written (KV Put and
//! BatchPut values, TimeSeries event payloads) must be messages of the bound type
//! and leave here with their PII fields sealed; values read (Get, BatchGet, Scan,
//! Query, Tail) come back opened for callers holding pii-read and masked for
//! everyone else. It sits above the read cache, so the cache, like the backend,
//! only ever holds the sealed form, and every hit is opened or masked per caller.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::StreamExt;
use tower::{Layer, Service};

use super::CallFuture;
use crate::call::{Call, Reply, Request};
use crate::identity::Identity;
use crate::pb::{kv, ts};
use crate::pii::{PiiCodec, Row, View};
use crate::registry::Namespace;
use crate::PrismError;

#[derive(Clone, Default)]
pub struct PiiLayer;

impl<S> Layer<S> for PiiLayer {
    type Service = ProtectPii<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ProtectPii { inner }
    }
}

#[derive(Clone)]
pub struct ProtectPii<S> {
    inner: S,
}

impl<S> Service<Call> for ProtectPii<S>
where
    S: Service<Call, Response = Reply, Error = PrismError, Future = CallFuture>,
{
    type Response = Reply;
    type Error = PrismError;
    type Future = CallFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), PrismError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut call: Call) -> CallFuture {
        let Some(ns) = call.namespace.clone() else { return self.inner.call(call) };
        let Some(codec) = ns.pii.clone() else { return self.inner.call(call) };
        if let Err(err) = seal_request(&codec, &mut call.request) {
            return Box::pin(async move { Err(err) });
        }
        if !reads_values(&call.request) {
            return self.inner.call(call);
        }
        let view = if may_read_pii(&ns, &call.identity) { View::Plain } else { View::Masked };
        let fut = self.inner.call(call);
        Box::pin(async move { reveal_reply(&codec, fut.await?, view) })
    }
}

fn may_read_pii(ns: &Namespace, identity: &Identity) -> bool {
    ns.may_read_pii(identity)
}

fn reads_values(request: &Request) -> bool {
    matches!(
        request,
        Request::Get(_) | Request::BatchGet(_) | Request::Scan(_) | Request::Query(_) | Request::Tail(_)
    )
}

fn replace(value: &mut Vec<u8>, sealed: Option<Vec<u8>>) {
    if let Some(sealed) = sealed {
        *value = sealed;
    }
}

fn seal_request(codec: &PiiCodec, request: &mut Request) -> Result<(), PrismError> {
    match request {
        Request::Put(r) => {
            let token = r.idempotency_token.as_ref().map(|t| t.id.as_str());
            let sealed = codec.seal(&r.value, Row::Kv(&r.key), "value", token)?;
            replace(&mut r.value, sealed);
        }
        Request::BatchPut(r) => {
            let token = r.idempotency_token.as_ref().map(|t| t.id.as_str());
            for (i, entry) in r.entries.iter_mut().enumerate() {
                let path = format!("entries[{i}].value");
                let sealed = codec.seal(&entry.value, Row::Kv(&entry.key), &path, token)?;
                replace(&mut entry.value, sealed);
            }
        }
        Request::Append(r) => {
            for (i, event) in r.events.iter_mut().enumerate() {
                let row = Row::Event { series_id: &event.series_id, event_id: &event.event_id };
                // Re-appends are recognised by (series, time, id), not by payload: no token needed.
                let sealed = codec.seal(&event.payload, row, &format!("events[{i}].payload"), None)?;
                replace(&mut event.payload, sealed);
            }
        }
        _ => {}
    }
    Ok(())
}

fn reveal_item(codec: &PiiCodec, item: &mut kv::Item, view: View) -> Result<(), PrismError> {
    let revealed = codec.reveal(&item.value, Row::Kv(&item.key), view)?;
    replace(&mut item.value, revealed);
    Ok(())
}

fn reveal_event(codec: &PiiCodec, event: &mut ts::Event, view: View) -> Result<(), PrismError> {
    let row = Row::Event { series_id: &event.series_id, event_id: &event.event_id };
    let revealed = codec.reveal(&event.payload, row, view)?;
    replace(&mut event.payload, revealed);
    Ok(())
}

fn reveal_reply(codec: &Arc<PiiCodec>, reply: Reply, view: View) -> Result<Reply, PrismError> {
    let mut reply = reply;
    match &mut reply {
        Reply::Get(r) => {
            if let Some(item) = r.item.as_mut() {
                reveal_item(codec, item, view)?;
            }
        }
        Reply::BatchGet(r) => r.items.iter_mut().try_for_each(|item| reveal_item(codec, item, view))?,
        Reply::Scan(r) => r.items.iter_mut().try_for_each(|item| reveal_item(codec, item, view))?,
        Reply::Query(r) => r.events.iter_mut().try_for_each(|event| reveal_event(codec, event, view))?,
        Reply::Tail(_) => {
            let Reply::Tail(stream) = reply else { unreachable!("matched Tail above") };
            let codec = codec.clone();
            let opened = stream.map(move |event| {
                let mut event = event?;
                reveal_event(&codec, &mut event, view)?;
                Ok(event)
            });
            return Ok(Reply::Tail(Box::pin(opened)));
        }
        _ => {}
    }
    Ok(reply)
}
