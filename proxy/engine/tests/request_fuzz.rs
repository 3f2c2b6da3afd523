//! A bounded fuzz run of request decoding and validation (issue 5 §7): arbitrary
//! bytes decoded as requests and arbitrary field values go through the whole
//! stack. Nothing panics, nothing is an INTERNAL error, and a refused write
//! leaves no trace.

mod common;

use common::Harness;
use prism_engine::call::Request;
use prism_engine::pb::kv;
use prism_engine::PrismError;
use proptest::prelude::*;
use prost::Message;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Codes a caller may legitimately get for a malformed or unlucky request.
fn expected(err: &PrismError) -> bool {
    !matches!(err, PrismError::Internal(_) | PrismError::Unavailable(_) | PrismError::DeadlineExceeded(_))
}

/// Point a decoded request at a real namespace half of the time, so validation
/// (not only the namespace lookup) is exercised.
fn aim(namespace: &mut String, aim: bool) {
    if aim {
        *namespace = "kv".into();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_as_put_requests(bytes in proptest::collection::vec(any::<u8>(), 0..512), hit in any::<bool>()) {
        let Ok(mut request) = kv::PutRequest::decode(bytes.as_slice()) else { return Ok(()) };
        aim(&mut request.namespace, hit);
        let h = Harness::new();
        let rt = runtime();
        let key = request.key.clone();
        let namespace = request.namespace.clone();
        match rt.block_on(h.call(Request::Put(request))) {
            Ok(_) => {}
            Err(err) => {
                prop_assert!(expected(&err), "unexpected error {err:?}");
                if namespace == "kv" && !key.is_empty() && key.len() <= 1024 {
                    let get = kv::GetRequest { namespace: "kv".into(), key };
                    let found = match rt.block_on(h.call(Request::Get(get))) {
                        Ok(prism_engine::call::Reply::Get(r)) => r.found,
                        _ => false,
                    };
                    prop_assert!(!found, "a refused put ({err:?}) wrote its key");
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_as_batch_puts_are_all_or_nothing(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let Ok(mut request) = kv::BatchPutRequest::decode(bytes.as_slice()) else { return Ok(()) };
        aim(&mut request.namespace, true);
        let keys: Vec<Vec<u8>> = request.entries.iter().map(|e| e.key.clone()).collect();
        let h = Harness::new();
        let rt = runtime();
        if let Err(err) = rt.block_on(h.call(Request::BatchPut(request))) {
            prop_assert!(expected(&err), "unexpected error {err:?}");
            let scan = kv::ScanRequest { namespace: "kv".into(), ..Default::default() };
            if let Ok(prism_engine::call::Reply::Scan(page)) = rt.block_on(h.call(Request::Scan(scan))) {
                prop_assert!(page.items.is_empty(), "a refused batch of {} wrote {} items", keys.len(), page.items.len());
            }
        }
    }

    #[test]
    fn arbitrary_scans_and_page_tokens(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
        token in ".{0,200}",
        hit in any::<bool>(),
    ) {
        let Ok(mut request) = kv::ScanRequest::decode(bytes.as_slice()) else { return Ok(()) };
        aim(&mut request.namespace, hit);
        request.page_token = token;
        let h = Harness::new();
        if let Err(err) = runtime().block_on(h.call(Request::Scan(request))) {
            prop_assert!(expected(&err), "unexpected error {err:?}");
        }
    }

    #[test]
    fn arbitrary_gets_and_deletes(bytes in proptest::collection::vec(any::<u8>(), 0..256), hit in any::<bool>()) {
        let h = Harness::new();
        let rt = runtime();
        if let Ok(mut request) = kv::GetRequest::decode(bytes.as_slice()) {
            aim(&mut request.namespace, hit);
            if let Err(err) = rt.block_on(h.call(Request::Get(request))) {
                prop_assert!(expected(&err), "unexpected error {err:?}");
            }
        }
        if let Ok(mut request) = kv::BatchDeleteRequest::decode(bytes.as_slice()) {
            aim(&mut request.namespace, hit);
            if let Err(err) = rt.block_on(h.call(Request::BatchDelete(request))) {
                prop_assert!(expected(&err), "unexpected error {err:?}");
            }
        }
    }
}

fn put_entry() -> impl Strategy<Value = kv::PutEntry> {
    (
        proptest::collection::vec(any::<u8>(), 0..1100),
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::option::of((any::<i64>(), any::<i32>())),
        any::<bool>(),
        prop_oneof![Just(0u64), any::<u64>()],
    )
        .prop_map(|(key, value, ttl, if_absent, if_version)| kv::PutEntry {
            key,
            value,
            ttl: ttl.map(|(seconds, nanos)| prost_types::Duration { seconds, nanos }),
            if_absent,
            if_version,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Structured requests reach validation far more often than random bytes do:
    /// odd keys, negative or huge TTLs, conditions on missing versions.
    #[test]
    fn structured_batch_puts_are_validated_all_or_nothing(
        entries in proptest::collection::vec(put_entry(), 0..8),
        namespace in prop_oneof![Just("kv".to_string()), Just(String::new()), ".{0,140}"],
    ) {
        let h = Harness::new();
        let rt = runtime();
        let request = kv::BatchPutRequest { namespace: namespace.clone(), entries, ..Default::default() };
        if let Err(err) = rt.block_on(h.call(Request::BatchPut(request))) {
            prop_assert!(expected(&err), "unexpected error {err:?}");
            if namespace == "kv" {
                let scan = kv::ScanRequest { namespace: "kv".into(), ..Default::default() };
                match rt.block_on(h.call(Request::Scan(scan))) {
                    Ok(prism_engine::call::Reply::Scan(page)) => {
                        prop_assert!(page.items.is_empty(), "a refused batch wrote {} items", page.items.len())
                    }
                    other => prop_assert!(false, "scan after a refused batch failed: {other:?}"),
                }
            }
        }
    }
}
