//! Compiles our .proto declarations with protox (a pure-Rust protobuf compiler, so no protoc is
//! needed anywhere) and generates prost messages and tonic clients from them.

use std::path::PathBuf;

const FILES: &[&str] = &[
    "teleport/legacy/types/wrappers/wrappers.proto",
    "teleport/legacy/types/types.proto",
    "teleport/legacy/client/proto/certs.proto",
    "teleport/legacy/client/proto/authservice.proto",
    "teleport/legacy/client/proto/joinservice.proto",
    "teleport/join/v1/joinservice.proto",
    "teleport/header/v1/metadata.proto",
    "teleport/header/v1/resourceheader.proto",
    "teleport/machineid/v1/bot.proto",
    "teleport/machineid/v1/bot_service.proto",
    "teleport/machineid/v1/bot_instance.proto",
    "teleport/machineid/v1/bot_instance_service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(FILES, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;

    let mut config = prost_build::Config::new();
    config.enable_type_names();
    config.btree_map(["."]);
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .compile_fds_with_config(fds, config)?;
    Ok(())
}
