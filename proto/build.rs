//! Compiles `nubo/**/*.proto` with `protox`, a protobuf compiler written in
//! Rust, so building nubo needs no `protoc` on the machine.

const PROTOS: &[&str] = &[
    "nubo/auth/v1/auth.proto",
    "nubo/cdn/v1/cdn.proto",
    "nubo/data/v1/data.proto",
    "nubo/dns/v1/dns.proto",
    "nubo/functions/v1/functions.proto",
    "nubo/gateway/v1/gateway.proto",
    "nubo/storage/v1/storage.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(PROTOS, ["."])?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(descriptors)?;
    Ok(())
}
