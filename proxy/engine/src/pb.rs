//! Generated protobuf and tonic code for the public APIs (from `proto/`).
#![allow(clippy::all, missing_docs)]

pub mod prism {
    tonic::include_proto!("prism");
    pub mod keyvalue {
        pub mod v1 {
            tonic::include_proto!("prism.keyvalue.v1");
        }
    }
    pub mod timeseries {
        pub mod v1 {
            tonic::include_proto!("prism.timeseries.v1");
        }
    }
}

pub use prism::keyvalue::v1 as kv;
pub use prism::timeseries::v1 as ts;

/// Encoded descriptors of every Prism proto, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("prism_descriptor");
