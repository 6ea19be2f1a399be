//! Compiles proto/cptkit/v1 with protox (pure Rust: no system protoc) and generates prost messages and
//! tonic services. The file descriptor set is kept for gRPC server reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "cptkit/v1/common.proto",
        "cptkit/v1/rates.proto",
        "cptkit/v1/codes.proto",
        "cptkit/v1/claims.proto",
        "cptkit/v1/x12.proto",
    ];
    // compile_fds emits no rerun-if-changed, so name every input ourselves.
    for file in &files {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    let fds = protox::compile(files, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("cptkit_descriptor.bin"), prost::Message::encode_to_vec(&fds))?;
    // Our codec: undecodable request bytes are INVALID_ARGUMENT, not INTERNAL.
    tonic_prost_build::configure().codec_path("crate::codec::Codec").compile_fds(fds)?;
    Ok(())
}
