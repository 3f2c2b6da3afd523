//! Bridge wire format <-> engine types. Plain tuples, lists and dicts: the
//! cheapest shapes to build and unpack on both sides (see prism.plugins.api).

use std::collections::BTreeMap;

use bytes::Bytes;
use prism_engine::backend::*;
use prism_engine::bridge::{BridgeOp, BridgeReply, OpKind};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

fn bytes<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyAny> {
    PyBytes::new(py, b).into_any()
}

fn event_to_py<'py>(py: Python<'py>, e: &Event) -> PyResult<Bound<'py, PyAny>> {
    let tags = PyDict::new(py);
    for (k, v) in &e.tags {
        tags.set_item(k, v)?;
    }
    Ok(PyTuple::new(
        py,
        [
            e.series_id.as_str().into_pyobject(py)?.into_any(),
            e.time_ns.into_pyobject(py)?.into_any(),
            e.event_id.as_str().into_pyobject(py)?.into_any(),
            tags.into_any(),
            e.value.into_pyobject(py)?.into_any(),
            bytes(py, &e.payload),
        ],
    )?
    .into_any())
}

fn tags_to_py<'py>(py: Python<'py>, tags: &BTreeMap<String, String>) -> PyResult<Bound<'py, PyAny>> {
    let dict = PyDict::new(py);
    for (k, v) in tags {
        dict.set_item(k, v)?;
    }
    Ok(dict.into_any())
}

pub fn op_to_py<'py>(py: Python<'py>, op: &BridgeOp) -> PyResult<Bound<'py, PyAny>> {
    Ok(match op {
        BridgeOp::KvGet(keys) => PyList::new(py, keys.iter().map(|k| PyBytes::new(py, k)))?.into_any(),
        BridgeOp::KvPut(entries) => {
            let list = PyList::empty(py);
            for e in entries {
                list.append((
                    PyBytes::new(py, &e.key),
                    PyBytes::new(py, &e.value),
                    e.expires_at_ms,
                    e.if_absent,
                    e.if_version,
                ))?;
            }
            list.into_any()
        }
        BridgeOp::KvDelete(entries) => {
            let list = PyList::empty(py);
            for e in entries {
                list.append((PyBytes::new(py, &e.key), e.if_version))?;
            }
            list.into_any()
        }
        BridgeOp::KvScan(q) => (
            PyBytes::new(py, &q.start),
            q.end.as_ref().map(|e| PyBytes::new(py, e)),
            q.after.as_ref().map(|a| PyBytes::new(py, a)),
            q.limit,
        )
            .into_pyobject(py)?
            .into_any(),
        BridgeOp::TsAppend(events) => {
            let list = PyList::empty(py);
            for e in events {
                list.append(event_to_py(py, e)?)?;
            }
            list.into_any()
        }
        BridgeOp::TsQuery(q) => (
            q.series_id.as_str(),
            q.start_ns,
            q.end_ns,
            tags_to_py(py, &q.tag_filter)?,
            q.descending,
            q.after.clone(),
            q.limit,
        )
            .into_pyobject(py)?
            .into_any(),
        BridgeOp::TsAggregate(q) => {
            (q.series_id.as_str(), q.start_ns, q.end_ns, q.width_ns, tags_to_py(py, &q.tag_filter)?)
                .into_pyobject(py)?
                .into_any()
        }
        BridgeOp::Noop => py.None().into_bound(py),
    })
}

fn item_from_py(value: &Bound<'_, PyAny>) -> PyResult<Item> {
    let (key, val, version, expires_at_ms): (Vec<u8>, Vec<u8>, u64, Option<i64>) = value.extract()?;
    Ok(Item { key: Bytes::from(key), value: Bytes::from(val), version, expires_at_ms })
}

fn event_from_py(value: &Bound<'_, PyAny>) -> PyResult<Event> {
    let (series_id, time_ns, event_id, tags, value, payload): (
        String,
        i64,
        String,
        BTreeMap<String, String>,
        Option<f64>,
        Vec<u8>,
    ) = value.extract()?;
    Ok(Event { series_id, time_ns, event_id, tags, value, payload: Bytes::from(payload) })
}

fn list_of<T>(value: &Bound<'_, PyAny>, f: impl Fn(&Bound<'_, PyAny>) -> PyResult<T>) -> PyResult<Vec<T>> {
    value.try_iter()?.map(|item| f(&item?)).collect()
}

pub fn reply_from_py(kind: OpKind, value: &Bound<'_, PyAny>) -> PyResult<BridgeReply> {
    Ok(match kind {
        OpKind::KvGet => BridgeReply::Items(list_of(value, |v| {
            if v.is_none() {
                Ok(None)
            } else {
                item_from_py(v).map(Some)
            }
        })?),
        OpKind::KvPut => BridgeReply::Written(list_of(value, |v| {
            let (version, expires_at_ms): (u64, Option<i64>) = v.extract()?;
            Ok(Written { version, expires_at_ms })
        })?),
        OpKind::KvDelete => BridgeReply::Deleted(value.extract()?),
        OpKind::KvScan => BridgeReply::Scanned(list_of(value, item_from_py)?),
        OpKind::TsAppend => {
            let (appended, duplicates): (u32, u32) = value.extract()?;
            BridgeReply::Appended(AppendOutcome { appended, duplicates })
        }
        OpKind::TsQuery => BridgeReply::Events(list_of(value, event_from_py)?),
        OpKind::TsAggregate => BridgeReply::Buckets(list_of(value, |v| {
            let (start_ns, count, value_count, sum, min, max): (i64, u64, u64, f64, f64, f64) =
                v.extract()?;
            Ok(BucketStat { start_ns, count, value_count, sum, min, max })
        })?),
        OpKind::Noop => BridgeReply::Noop,
    })
}
