//! Compiles the KeyValue proto (client and server) from the repository's proto/ folder.
//! Only the public API is compiled: bench_echo and bench_openloop use no engine code, so lane
//! T and the load generator measure tonic alone (bench_gateway links the engine itself).

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../../proto");
    // SAFETY: build scripts are single-threaded; nothing else reads the environment concurrently.
    unsafe { env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?) };
    let protos = [root.join("prism/options.proto"), root.join("prism/keyvalue/v1/keyvalue.proto")];
    let includes = [root.clone(), protoc_bin_vendored::include_path()?];
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_protos(&protos, &includes)?;
    println!("cargo:rerun-if-changed={}", root.join("prism").display());
    Ok(())
}
