//! Compiles proto/ into Rust (prost + tonic) and a descriptor set for reflection.
//! protoc comes vendored from crates.io so a fresh machine needs nothing else.

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let out = PathBuf::from(env::var("OUT_DIR")?);
    // SAFETY: build scripts are single-threaded; nothing else reads the environment concurrently.
    unsafe { env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?) };
    let protos = [
        root.join("prism/options.proto"),
        root.join("prism/keyvalue/v1/keyvalue.proto"),
        root.join("prism/timeseries/v1/timeseries.proto"),
    ];
    let includes = [root.clone(), protoc_bin_vendored::include_path()?];
    tonic_prost_build::configure()
        .build_client(true)
        .file_descriptor_set_path(out.join("prism_descriptor.bin"))
        .compile_protos(&protos, &includes)?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}
