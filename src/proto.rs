//! Code generated from `proto/warta/v1/*.proto` by build.rs.

#[allow(clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("warta.v1");
}

/// Encoded `FileDescriptorSet` of our protos, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/warta_descriptor.bin"));
