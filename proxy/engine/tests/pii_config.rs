//! Binding a schema (ADR-011): what a namespace apply accepts and refuses, where
//! the master key comes from, and how PII fields are found in a descriptor set.

mod pii_support;

use pii_support::{binding, master, wrapped};
use prism_engine::call::Pattern;
use prism_engine::config::{KeysConfig, NamespaceConfig, SchemaBinding};
use prism_engine::registry::Registry;
use prism_engine::PrismError;

const DEK1: [u8; 32] = [1; 32];

fn namespace(name: &str, schema: Option<SchemaBinding>) -> NamespaceConfig {
    NamespaceConfig {
        name: name.into(),
        patterns: vec![Pattern::KeyValue],
        backend: "memory".into(),
        schema,
        ..Default::default()
    }
}

fn users(keys: &[(u32, [u8; 32])]) -> NamespaceConfig {
    let keys = keys.iter().map(|(v, k)| wrapped("users", *v, *k)).collect();
    namespace("users", Some(binding("acme.User", keys)))
}

#[test]
fn a_schema_without_pii_only_checks_values() {
    let plain = namespace("notes", Some(binding("acme.Plain", Vec::new())));
    let registry = Registry::new(None);
    registry.set_keys(KeysConfig {
        master_key_env: "PRISM_TEST_PII_UNSET_KEY".into(),
        master_key_file: String::new(),
    });
    registry.apply(&[plain]).expect("no PII field: no master key needed");
    let codec = registry.get("notes").unwrap().pii.clone().unwrap();
    let mut note = Vec::new();
    prost::encoding::string::encode(1, &"hello".to_string(), &mut note);
    assert_eq!(
        codec.seal(&note, prism_engine::pii::Row::Kv(b"k"), "value", None).unwrap(),
        None,
        "stored as is"
    );
    assert!(codec.seal(b"\x08\x01", prism_engine::pii::Row::Kv(b"k"), "value", None).is_err());
}

fn apply_error(registry: &Registry, config: NamespaceConfig) -> String {
    match registry.apply(&[config]) {
        Err(PrismError::InvalidArgument { message, .. }) => message,
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }
}

#[test]
fn bad_bindings_and_missing_keys_are_refused_naming_the_namespace() {
    let registry = Registry::new(None);
    registry.set_keys(KeysConfig {
        master_key_env: "PRISM_TEST_PII_UNSET_KEY".into(),
        master_key_file: String::new(),
    });
    let message = apply_error(&registry, users(&[(1, DEK1)]));
    assert!(message.contains("namespace 'users'") && message.contains("no master key"), "{message}");

    registry.set_master_key(prism_engine::pii::MasterKey::from_bytes(&[9; 32]));
    let message = apply_error(&registry, users(&[(1, DEK1)]));
    assert!(message.contains("'users'") && message.contains("does not unwrap"), "{message}");

    registry.set_master_key(master());
    let message = apply_error(&registry, users(&[]));
    assert!(message.contains("no data_keys") && message.contains("email"), "{message}");

    let wrong_message = namespace("users", Some(binding("User", vec![wrapped("users", 1, DEK1)])));
    let message = apply_error(&registry, wrong_message);
    assert!(
        message.contains("message 'User' is not in the descriptor set") && message.contains("acme.User"),
        "{message}"
    );

    let mut garbage = binding("acme.User", vec![wrapped("users", 1, DEK1)]);
    garbage.descriptor_set = "bm90IGEgc2V0".into(); // "not a set"
    let message = apply_error(&registry, namespace("users", Some(garbage)));
    assert!(message.contains("'users'") && message.contains("FileDescriptorSet"), "{message}");

    // Keys wrapped for another namespace do not unwrap here.
    let stolen = namespace("users", Some(binding("acme.User", vec![wrapped("billing", 1, DEK1)])));
    assert!(apply_error(&registry, stolen).contains("does not unwrap"));
    assert!(registry.get("users").is_none(), "a refused config changes nothing");
}

#[test]
fn the_master_key_is_read_from_a_file_when_the_variable_is_unset() {
    let dir = std::env::temp_dir().join(format!("prism-pii-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("master.key");
    let hex: String = pii_support::MASTER.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&file, format!("{hex}\n")).unwrap();
    let registry = Registry::new(None);
    registry.set_keys(KeysConfig {
        master_key_env: "PRISM_TEST_PII_UNSET_KEY".into(),
        master_key_file: file.display().to_string(),
    });
    registry.apply(&[users(&[(1, DEK1)])]).expect("the key from the file unwraps the data key");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn descriptor_sets_with_prism_options_proto_mark_the_same_fields() {
    use base64::Engine;
    let mut with_imports = binding("acme.User", vec![wrapped("users", 1, DEK1)]);
    with_imports.descriptor_set =
        base64::engine::general_purpose::STANDARD.encode(pii_support::descriptor_set(true));
    let master = master();
    let a = prism_engine::pii::PiiCodec::new("users", &with_imports, || Ok(master.clone())).unwrap();
    let b = prism_engine::pii::PiiCodec::new(
        "users",
        &binding("acme.User", vec![wrapped("users", 1, DEK1)]),
        || Ok(master.clone()),
    )
    .unwrap();
    let expected = ["email", "ssn", "phones", "salary", "address.street", "contacts.email", "by_kind.email"];
    for codec in [a, b] {
        let mut paths = codec.schema().pii_paths();
        paths.sort();
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(paths, want);
    }
}
