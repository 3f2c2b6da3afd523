//! The generated route table (src/routes_generated.rs, from the protos' `prism.*`
//! options) agrees with the protos and covers exactly the methods the core serves.

use prism_engine::call::Method;
use prism_engine::routes_generated::{route, Permission, ROUTES};

#[test]
fn put_needs_write_and_is_not_retried() {
    let put = Method::KvPut.route();
    assert_eq!(put.permission, Permission::Write);
    assert!(!put.idempotent, "a Put without a token must not be retried blindly");
    assert!(!put.cacheable);
    assert_eq!(put.capability, "core");
}

#[test]
fn get_is_a_cacheable_idempotent_read() {
    let get = Method::KvGet.route();
    assert_eq!(get.permission, Permission::Read);
    assert!(get.idempotent);
    assert!(get.cacheable);
    assert_eq!(get.capability, "core");
}

#[test]
fn optional_capabilities_come_from_the_protos() {
    assert_eq!(Method::KvBatchGet.route().capability, "batch");
    assert_eq!(Method::KvScan.route().capability, "scan");
    assert_eq!(Method::TsAggregate.route().capability, "aggregate");
    assert_eq!(Method::TsTail.route().capability, "tail");
    assert_eq!(Method::TsAppend.route().permission, Permission::Write);
    assert!(Method::TsAppend.route().idempotent, "appends are idempotent on (series, time, id)");
}

#[test]
fn every_method_has_a_route_and_every_route_a_method() {
    for method in Method::ALL {
        assert!(route(method.path()).is_some(), "{method:?} has no generated route");
        assert!(method.path().ends_with(method.name()), "{method:?}: path and name disagree");
    }
    let served: Vec<&str> = Method::ALL.iter().map(|m| m.path()).collect();
    for (path, _) in ROUTES {
        assert!(served.contains(path), "{path} is in the protos but no Method serves it");
    }
}

#[test]
fn routes_are_sorted_for_the_binary_search() {
    assert!(ROUTES.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(route("/prism.keyvalue.v1.KeyValue/Nope"), None);
}

#[test]
fn the_capability_layer_agrees_with_the_protos() {
    // `Method::capability` is what the capability layer checks; it must say what the
    // protos say until it reads the generated table itself.
    for method in Method::ALL {
        assert_eq!(method.capability(), method.route().capability, "{method:?}");
    }
}
