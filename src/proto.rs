//! Code generated from `proto/warta/v1/*.proto` by build.rs, and the codec it uses.

use std::marker::PhantomData;
use tonic::codec::{BufferSettings, Codec};
use tonic_prost::{ProstDecoder, ProstEncoder};

#[allow(clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("warta.v1");
}

/// Encoded `FileDescriptorSet` of our protos, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/warta_descriptor.bin"));

/// The codec of our services, server and client: prost, starting each call's buffers at
/// 1 KiB instead of tonic's 8 KiB.
///
/// tonic allocates a decode buffer and an encode buffer of this size for every call and grows
/// them as a message needs (a batch of articles still fits, in a few steps). A Classify request
/// with a headline and lead is about 400 bytes and its answer about 100. An 8 KiB block is past
/// glibc's per-thread cache (blocks up to 1 KiB), so each call took two blocks from a shared
/// heap under its lock, which first merged the small blocks freed since (`malloc_consolidate`).
pub struct SmallBuffers<T, U>(PhantomData<(T, U)>);

/// See [`SmallBuffers`].
fn buffers() -> BufferSettings {
    BufferSettings::new(1 << 10, 32 << 10)
}

impl<T, U> Default for SmallBuffers<T, U> {
    fn default() -> Self {
        SmallBuffers(PhantomData)
    }
}

impl<T, U> Codec for SmallBuffers<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProstDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(buffers())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstDecoder::new(buffers())
    }
}
