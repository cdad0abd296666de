//! Compiles `proto/` with protox (pure Rust, no `protoc`) and generates tonic code.
//! `compile_fds` ignores `file_descriptor_set_path`, so the descriptor set that
//! server reflection needs is written here by hand.
use prost::Message;
use std::{env, fs, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/warta/v1/article.proto"];
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(protos, ["proto"])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("warta_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // prost with smaller first buffers (see `SmallBuffers` in src/proto.rs)
        .codec_path("crate::proto::SmallBuffers")
        .compile_fds(fds)?;
    Ok(())
}
