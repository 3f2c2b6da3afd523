//! A schema with PII fields at every depth, built at test time as a serialized
//! FileDescriptorSet (the field options carry `(prism.pii)` / `(prism.encrypt_at_rest)`
//! as raw option bytes, as protoc writes them), plus keys and sample values.
#![allow(dead_code)] // each test binary uses a different subset

use base64::Engine;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MapKey, MessageDescriptor, Value};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto, MessageOptions};

use prism_engine::config::{SchemaBinding, WrappedKey};
use prism_engine::pii::MasterKey;

pub const PII: u32 = 50201;
pub const ENCRYPT_AT_REST: u32 = 50202;

pub const MASTER: [u8; 32] = [0x4d; 32];

pub fn master() -> MasterKey {
    MasterKey::from_bytes(&MASTER)
}

fn len_field(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    prost::encoding::encode_key(number, prost::encoding::WireType::LengthDelimited, out);
    prost::encoding::encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

struct F {
    name: &'static str,
    number: i32,
    ty: Type,
    repeated: bool,
    type_name: Option<&'static str>,
    option: Option<u32>,
}

fn f(name: &'static str, number: i32, ty: Type) -> F {
    F { name, number, ty, repeated: false, type_name: None, option: None }
}

impl F {
    fn repeated(mut self) -> Self {
        self.repeated = true;
        self
    }
    fn of(mut self, type_name: &'static str) -> Self {
        self.type_name = Some(type_name);
        self
    }
    fn pii(mut self) -> Self {
        self.option = Some(PII);
        self
    }
    fn at_rest(mut self) -> Self {
        self.option = Some(ENCRYPT_AT_REST);
        self
    }

    fn encode(&self) -> Vec<u8> {
        let proto = FieldDescriptorProto {
            name: Some(self.name.into()),
            number: Some(self.number),
            label: Some(if self.repeated { Label::Repeated } else { Label::Optional } as i32),
            r#type: Some(self.ty as i32),
            type_name: self.type_name.map(str::to_string),
            json_name: Some(self.name.into()),
            ..Default::default()
        };
        let mut out = proto.encode_to_vec();
        if let Some(option) = self.option {
            // FieldDescriptorProto.options (8) = FieldOptions { <option>: true }
            let mut options = Vec::new();
            prost::encoding::encode_key(option, prost::encoding::WireType::Varint, &mut options);
            prost::encoding::encode_varint(1, &mut options);
            len_field(&mut out, 8, &options);
        }
        out
    }
}

fn message(name: &str, fields: &[F], nested: &[Vec<u8>], map_entry: bool) -> Vec<u8> {
    let proto = DescriptorProto {
        name: Some(name.into()),
        options: map_entry.then(|| MessageOptions { map_entry: Some(true), ..Default::default() }),
        ..Default::default()
    };
    let mut out = proto.encode_to_vec();
    for field in fields {
        len_field(&mut out, 2, &field.encode());
    }
    for n in nested {
        len_field(&mut out, 3, n);
    }
    out
}

/// `acme/user.proto`, optionally importing `prism/options.proto`.
fn user_file(import_options: bool) -> Vec<u8> {
    let proto = FileDescriptorProto {
        name: Some("acme/user.proto".into()),
        package: Some("acme".into()),
        syntax: Some("proto3".into()),
        dependency: if import_options { vec!["prism/options.proto".into()] } else { Vec::new() },
        ..Default::default()
    };
    let mut out = proto.encode_to_vec();
    let address =
        message("Address", &[f("street", 1, Type::String).pii(), f("city", 2, Type::String)], &[], false);
    let contact =
        message("Contact", &[f("kind", 1, Type::String), f("email", 2, Type::String).pii()], &[], false);
    let by_kind_entry = message(
        "ByKindEntry",
        &[f("key", 1, Type::String), f("value", 2, Type::Message).of(".acme.Contact")],
        &[],
        true,
    );
    let user = message(
        "User",
        &[
            f("name", 1, Type::String),
            f("email", 2, Type::String).pii(),
            f("age", 3, Type::Int32),
            f("ssn", 4, Type::Bytes).at_rest(),
            f("address", 5, Type::Message).of(".acme.Address"),
            f("contacts", 6, Type::Message).of(".acme.Contact").repeated(),
            f("by_kind", 7, Type::Message).of(".acme.User.ByKindEntry").repeated(),
            f("phones", 8, Type::String).repeated().pii(),
            f("salary", 9, Type::Int64).pii(),
            f("scores", 10, Type::Int32).repeated(),
        ],
        &[by_kind_entry],
        false,
    );
    let plain = message("Plain", &[f("note", 1, Type::String)], &[], false);
    for m in [address, contact, user, plain] {
        len_field(&mut out, 4, &m);
    }
    out
}

/// A FileDescriptorSet holding `acme/user.proto` (and, when asked, the files it imports).
pub fn descriptor_set(import_options: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if import_options {
        let prism = prost_types::FileDescriptorSet::decode(prism_engine::pb::FILE_DESCRIPTOR_SET).unwrap();
        for file in prism.file {
            let name = file.name();
            if name == "prism/options.proto" || name == "google/protobuf/descriptor.proto" {
                len_field(&mut out, 1, &file.encode_to_vec());
            }
        }
    }
    len_field(&mut out, 1, &user_file(import_options));
    out
}

pub fn wrapped(namespace: &str, version: u32, dek: [u8; 32]) -> WrappedKey {
    WrappedKey { version, wrapped: master().wrap(namespace, version, &dek) }
}

pub fn binding(message: &str, keys: Vec<WrappedKey>) -> SchemaBinding {
    SchemaBinding {
        descriptor_set: base64::engine::general_purpose::STANDARD.encode(descriptor_set(false)),
        message: message.into(),
        data_keys: keys,
    }
}

/// One pool for the whole test binary: descriptors of different pools never compare equal.
pub fn user_descriptor() -> MessageDescriptor {
    static POOL: std::sync::OnceLock<DescriptorPool> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| DescriptorPool::decode(descriptor_set(false).as_slice()).unwrap());
    pool.get_message_by_name("acme.User").unwrap()
}

fn contact(kind: &str, email: &str) -> Value {
    let mut c = DynamicMessage::new(
        user_descriptor().get_field_by_name("contacts").unwrap().kind().as_message().unwrap().clone(),
    );
    c.set_field_by_name("kind", Value::String(kind.into()));
    c.set_field_by_name("email", Value::String(email.into()));
    Value::Message(c)
}

/// A user with every kind of PII set; its PII strings all contain "SECRET".
pub fn sample_user() -> DynamicMessage {
    let desc = user_descriptor();
    let mut user = DynamicMessage::new(desc.clone());
    user.set_field_by_name("name", Value::String("Alice Public".into()));
    user.set_field_by_name("email", Value::String("SECRET-alice@example.com".into()));
    user.set_field_by_name("age", Value::I32(41));
    user.set_field_by_name("ssn", Value::Bytes(b"SECRET-123-45-6789".to_vec().into()));
    let mut address =
        DynamicMessage::new(desc.get_field_by_name("address").unwrap().kind().as_message().unwrap().clone());
    address.set_field_by_name("street", Value::String("SECRET 1 Hidden Lane".into()));
    address.set_field_by_name("city", Value::String("Springfield".into()));
    user.set_field_by_name("address", Value::Message(address));
    user.set_field_by_name(
        "contacts",
        Value::List(vec![contact("work", "SECRET-work@acme.test"), contact("blog", "")]),
    );
    let mut by_kind = std::collections::HashMap::new();
    by_kind.insert(MapKey::String("home".into()), contact("home", "SECRET-home@mail.test"));
    user.set_field_by_name("by_kind", Value::Map(by_kind));
    user.set_field_by_name(
        "phones",
        Value::List(vec![Value::String("SECRET+1555".into()), Value::String("SECRET+1666".into())]),
    );
    user.set_field_by_name("salary", Value::I64(987_654_321));
    user.set_field_by_name("scores", Value::List(vec![Value::I32(3), Value::I32(-7)]));
    user
}

pub fn decode_user(bytes: &[u8]) -> DynamicMessage {
    DynamicMessage::decode(user_descriptor(), bytes).expect("a valid acme.User")
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
