//! The single rescue point: every `PrismError` becomes exactly one gRPC code,
//! with `google.rpc` details where they help the caller.

use std::time::Duration;

use prism_engine::layers::load_shed::Overloaded;
use prism_engine::rescue::code_of;
use prism_engine::PrismError;
use tonic::{Code, Status};
use tonic_types::StatusExt;

fn every_error() -> Vec<(PrismError, Code, &'static str)> {
    vec![
        (PrismError::NotFound("nf".into()), Code::NotFound, "not_found"),
        (PrismError::AlreadyExists("ae".into()), Code::AlreadyExists, "already_exists"),
        (PrismError::FailedPrecondition("fp".into()), Code::FailedPrecondition, "failed_precondition"),
        (PrismError::invalid("key", "ia"), Code::InvalidArgument, "invalid_argument"),
        (
            PrismError::ResourceExhausted { message: "re".into(), retry_after: None },
            Code::ResourceExhausted,
            "resource_exhausted",
        ),
        (PrismError::DeadlineExceeded("de".into()), Code::DeadlineExceeded, "deadline_exceeded"),
        (PrismError::Unavailable("un".into()), Code::Unavailable, "unavailable"),
        (PrismError::Unimplemented("ui".into()), Code::Unimplemented, "unimplemented"),
        (PrismError::Unauthenticated("ua".into()), Code::Unauthenticated, "unauthenticated"),
        (PrismError::PermissionDenied("pd".into()), Code::PermissionDenied, "permission_denied"),
        (PrismError::Internal("in".into()), Code::Internal, "internal"),
    ]
}

#[test]
fn every_variant_maps_to_its_code_and_keeps_the_message() {
    for (err, code, _) in every_error() {
        let message = err.to_string();
        let status = Status::from(err.clone());
        assert_eq!(status.code(), code, "{err:?}");
        assert_eq!(status.message(), message, "{err:?}");
    }
}

#[test]
fn code_of_agrees_with_the_status_conversion() {
    assert_eq!(code_of::<()>(&Ok(())), Code::Ok);
    for (err, code, _) in every_error() {
        assert_eq!(code_of::<()>(&Err(err.clone())), code, "{err:?}");
    }
}

#[test]
fn invalid_argument_carries_a_bad_request_field_violation() {
    let status = Status::from(PrismError::invalid("entries[2].key", "must not be empty"));
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), "entries[2].key: must not be empty");
    let bad_request = status.get_details_bad_request().expect("BadRequest detail");
    assert_eq!(bad_request.field_violations.len(), 1);
    assert_eq!(bad_request.field_violations[0].field, "entries[2].key");
    let description = &bad_request.field_violations[0].description;
    assert!(description.contains("must not be empty"), "{description}");
    assert!(status.get_error_details().retry_info().is_none());
}

#[test]
fn invalid_argument_without_field_has_no_violation() {
    let status = Status::from(PrismError::invalid("", "bad payload"));
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), "bad payload");
    assert!(status.get_details_bad_request().is_none());
}

#[test]
fn load_shedding_is_resource_exhausted_with_retry_info() {
    let status = Status::from(PrismError::from(Overloaded { limit: 7 }));
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.message().contains("7 requests already in flight"), "{}", status.message());
    let retry = status.get_details_retry_info().expect("RetryInfo detail");
    assert_eq!(retry.retry_delay, Some(Duration::from_millis(50)));
}

#[test]
fn resource_exhausted_without_delay_has_no_retry_info() {
    let err = PrismError::ResourceExhausted { message: "too big".into(), retry_after: None };
    let status = Status::from(err);
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.get_details_retry_info().is_none());
}

#[test]
fn code_names_round_trip_through_from_code() {
    for (err, code, name) in every_error() {
        assert_eq!(err.code_name(), name);
        let back = PrismError::from_code(name, "from python".into());
        assert_eq!(back.code_name(), name);
        assert_eq!(Status::from(back.clone()).code(), code);
        assert!(back.to_string().contains("from python"), "{back:?}");
    }
}

#[test]
fn bridged_invalid_argument_has_no_field_and_unknown_codes_are_internal() {
    let back = PrismError::from_code("invalid_argument", "bad".into());
    assert_eq!(back, PrismError::invalid("", "bad"));
    let back = PrismError::from_code("resource_exhausted", "full".into());
    assert_eq!(back, PrismError::ResourceExhausted { message: "full".into(), retry_after: None });
    let unknown = PrismError::from_code("no_such_code", "boom".into());
    assert_eq!(unknown, PrismError::Internal("boom".into()));
}

#[test]
fn only_timing_dependent_errors_are_transient() {
    let transient: Vec<&str> =
        every_error().into_iter().filter(|(e, _, _)| e.is_transient()).map(|(_, _, n)| n).collect();
    assert_eq!(transient, ["resource_exhausted", "deadline_exceeded", "unavailable", "internal"]);
}
