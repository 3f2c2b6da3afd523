//! Bounded fuzzing of the PII codec (ADR-011): arbitrary bytes never panic the
//! schema check, generated messages survive seal then open unchanged and come
//! back masked without their PII, and any flipped envelope byte is an error,
//! never a value.

mod pii_support;

use std::collections::HashMap;

use proptest::prelude::*;
use prost::Message;
use prost_reflect::{DynamicMessage, MapKey, Value};

use pii_support::{binding, decode_user, master, user_descriptor, wrapped};
use prism_engine::pii::{envelope, PiiCodec, Row, View};
use prism_engine::PrismError;

fn codec() -> &'static PiiCodec {
    static CODEC: std::sync::OnceLock<PiiCodec> = std::sync::OnceLock::new();
    CODEC.get_or_init(|| {
        let keys = vec![wrapped("users", 1, [1; 32]), wrapped("users", 2, [2; 32])];
        PiiCodec::new("users", &binding("acme.User", keys), || Ok(master())).unwrap()
    })
}

const ROW: Row<'static> = Row::Kv(b"row-1");

fn message_of(field: &str) -> DynamicMessage {
    let desc = user_descriptor().get_field_by_name(field).unwrap().kind().as_message().unwrap().clone();
    DynamicMessage::new(desc)
}

fn contact_of(desc_field: &str, kind: String, email: String) -> Value {
    let mut contact = if desc_field == "by_kind" {
        let entry =
            user_descriptor().get_field_by_name("by_kind").unwrap().kind().as_message().unwrap().clone();
        DynamicMessage::new(entry.map_entry_value_field().kind().as_message().unwrap().clone())
    } else {
        message_of("contacts")
    };
    contact.set_field_by_name("kind", Value::String(kind));
    contact.set_field_by_name("email", Value::String(email));
    Value::Message(contact)
}

type Parts = (
    (String, String, i32, Vec<u8>, i64),
    Option<(String, String)>,
    Vec<(String, String)>,
    HashMap<String, (String, String)>,
    Vec<String>,
    Vec<i32>,
);

fn user_strategy() -> impl Strategy<Value = DynamicMessage> {
    let text = || "\\PC{0,12}";
    let scalars = (text(), text(), any::<i32>(), proptest::collection::vec(any::<u8>(), 0..16), any::<i64>());
    let parts = (
        scalars,
        proptest::option::of((text(), text())),
        proptest::collection::vec((text(), text()), 0..4),
        proptest::collection::hash_map(text(), (text(), text()), 0..3),
        proptest::collection::vec(text(), 0..3),
        proptest::collection::vec(any::<i32>(), 0..4),
    );
    parts.prop_map(|((name, email, age, ssn, salary), address, contacts, by_kind, phones, scores): Parts| {
        let mut user = DynamicMessage::new(user_descriptor());
        user.set_field_by_name("name", Value::String(name));
        user.set_field_by_name("email", Value::String(email));
        user.set_field_by_name("age", Value::I32(age));
        user.set_field_by_name("ssn", Value::Bytes(ssn.into()));
        user.set_field_by_name("salary", Value::I64(salary));
        if let Some((street, city)) = address {
            let mut a = message_of("address");
            a.set_field_by_name("street", Value::String(street));
            a.set_field_by_name("city", Value::String(city));
            user.set_field_by_name("address", Value::Message(a));
        }
        let contacts = contacts.into_iter().map(|(k, e)| contact_of("contacts", k, e)).collect();
        user.set_field_by_name("contacts", Value::List(contacts));
        let by_kind: HashMap<MapKey, Value> = by_kind
            .into_iter()
            .map(|(key, (k, e))| (MapKey::String(key), contact_of("by_kind", k, e)))
            .collect();
        user.set_field_by_name("by_kind", Value::Map(by_kind));
        user.set_field_by_name("phones", Value::List(phones.into_iter().map(Value::String).collect()));
        user.set_field_by_name("scores", Value::List(scores.into_iter().map(Value::I32).collect()));
        // Normalized as the wire sees it (defaults are not sent).
        decode_user(&user.encode_to_vec())
    })
}

/// No PII value survives masking: strings are `***` or empty, everything else is unset.
fn assert_no_pii(masked: &DynamicMessage) {
    let is_masked = |v: &Value| matches!(v.as_str(), Some("***") | Some(""));
    assert!(is_masked(&masked.get_field_by_name("email").unwrap()));
    assert!(!masked.has_field_by_name("ssn") && !masked.has_field_by_name("salary"));
    for phone in masked.get_field_by_name("phones").unwrap().as_list().unwrap() {
        assert_eq!(phone.as_str(), Some("***"));
    }
    if let Some(address) = masked.get_field_by_name("address").unwrap().as_message() {
        assert!(is_masked(&address.get_field_by_name("street").unwrap()));
    }
    for c in masked.get_field_by_name("contacts").unwrap().as_list().unwrap() {
        assert!(is_masked(&c.as_message().unwrap().get_field_by_name("email").unwrap()));
    }
    for c in masked.get_field_by_name("by_kind").unwrap().as_map().unwrap().values() {
        assert!(is_masked(&c.as_message().unwrap().get_field_by_name("email").unwrap()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_refused_with_a_field_or_accepted_never_a_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..256)
    ) {
        match codec().seal(&bytes, ROW, "value", None) {
            Ok(stored) => {
                // What the check accepts, the decoder accepts, and it opens back to itself.
                let original = DynamicMessage::decode(user_descriptor(), bytes.as_slice());
                prop_assert!(original.is_ok());
                let stored = stored.unwrap_or_else(|| bytes.clone());
                let opened = codec().reveal(&stored, ROW, View::Plain).unwrap().unwrap_or(stored);
                prop_assert_eq!(decode_user(&opened), original.unwrap());
            }
            Err(PrismError::InvalidArgument { field, message }) => {
                prop_assert!(field.starts_with("value"), "{}", field);
                prop_assert!(message.contains("acme.User"), "{}", message);
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    #[test]
    fn mutated_valid_values_never_panic_the_check(
        user in user_strategy(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = user.encode_to_vec();
        if !bytes.is_empty() {
            for (at, byte) in flips {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
        }
        let result = codec().seal(&bytes, ROW, "value", None);
        prop_assert!(matches!(result, Ok(_) | Err(PrismError::InvalidArgument { .. })), "{result:?}");
    }

    #[test]
    fn sealed_values_open_to_the_original_and_mask_every_pii_field(user in user_strategy()) {
        let bytes = user.encode_to_vec();
        let stored = codec().seal(&bytes, ROW, "value", None).unwrap().unwrap_or_else(|| bytes.clone());
        let opened = codec().reveal(&stored, ROW, View::Plain).unwrap().unwrap_or_else(|| stored.clone());
        prop_assert_eq!(decode_user(&opened), user.clone());
        let masked = codec().reveal(&stored, ROW, View::Masked).unwrap().unwrap_or_else(|| stored.clone());
        assert_no_pii(&decode_user(&masked));
        // With an idempotency token, a retry stores exactly the same bytes (maps included).
        let first = codec().seal(&bytes, ROW, "value", Some("token-1")).unwrap();
        prop_assert_eq!(&first, &codec().seal(&bytes, ROW, "value", Some("token-1")).unwrap());
        let first = first.unwrap_or_else(|| bytes.clone());
        let opened = codec().reveal(&first, ROW, View::Plain).unwrap().unwrap_or(first);
        prop_assert_eq!(decode_user(&opened), user);
    }

    #[test]
    fn any_flipped_envelope_byte_is_an_error_not_a_value(
        user in user_strategy(),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut with_pii = user;
        with_pii.set_field_by_name("email", Value::String("someone@example.com".into()));
        let stored = codec().seal(&with_pii.encode_to_vec(), ROW, "value", None).unwrap().expect("sealed");
        let (public, sealed) = envelope::split(&stored).expect("an envelope");
        let mut sealed = sealed.to_vec();
        let i = at.index(sealed.len());
        sealed[i] ^= flip;
        let tampered = envelope::attach(public, &sealed);
        for view in [View::Plain, View::Masked] {
            match codec().reveal(&tampered, ROW, view) {
                Err(PrismError::Internal(m)) => prop_assert!(m.contains("cannot decrypt"), "{}", m),
                other => prop_assert!(false, "tampered byte {i} gave {other:?}"),
            }
        }
        // The same envelope under another row does not open either.
        prop_assert!(codec().reveal(&stored, Row::Kv(b"row-2"), View::Plain).is_err());
    }
}
