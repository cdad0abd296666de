//! The one file framing every warta model uses: an 8-byte magic naming the kind of model, a
//! format version, a checksum of the body (each kind names its hash), then the body
//! (postcard). Atomic writes. And the two hashes: [`hash64`] for topic models, FNV-1a for
//! entity models.

use std::path::{Path, PathBuf};

/// Bytes before the body.
pub(crate) const HEADER: usize = 8 + 2 + 8;

/// Why bytes are not a body of the expected kind.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// Another kind of file (wrong magic).
    NotThisKind,
    /// The right kind, another format version.
    Version(u16),
    /// Truncated, or the checksum does not match.
    Corrupt,
}

/// How a kind of file sums its body.
pub(crate) type Checksum = fn(&[u8]) -> u64;

/// `magic`, `version`, `checksum(body)`, `body`.
pub(crate) fn frame(magic: &[u8; 8], version: u16, checksum: Checksum, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&checksum(body).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// The body of a framed file, checked against `magic`, `version` and the checksum.
pub(crate) fn unframe<'a>(
    magic: &[u8; 8],
    version: u16,
    checksum: Checksum,
    bytes: &'a [u8],
) -> Result<&'a [u8], FrameError> {
    let (body, sum) = open(magic, version, bytes)?;
    if sum != checksum(body) {
        return Err(FrameError::Corrupt);
    }
    Ok(body)
}

/// FNV-1a, 64 bit, of `bytes`: the checksum of entity model files. One byte per step, so
/// about 1 ms a MB; fine for a tagger, a fifth of loading an AG News topic model.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A 64-bit hash of `bytes` from `seed`: four independent lanes over 32 bytes a step, each
/// word taken in by a step that is a bijection of the lane and of the word, then the lanes
/// and the length mixed by bijections. So a change confined to one 8-byte word always changes
/// the hash, as one byte changes FNV-1a's; and it runs about twenty times as fast (a
/// multiply per 8 bytes on each of four chains, instead of one per byte on a single chain).
/// Not cryptographic. Little-endian on every platform, so a model's version is the same
/// wherever it is computed.
pub fn hash64(seed: u64, bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    #[inline(always)]
    fn step(lane: u64, word: u64) -> u64 {
        (lane ^ word).wrapping_mul(K).rotate_left(31)
    }
    #[inline(always)]
    fn word(bytes: &[u8]) -> u64 {
        let mut w = [0u8; 8];
        let n = bytes.len().min(8);
        w[..n].copy_from_slice(&bytes[..n]);
        u64::from_le_bytes(w)
    }
    let mut lanes = [
        seed ^ 0x243F_6A88_85A3_08D3,
        seed ^ 0x1319_8A2E_0370_7344,
        seed ^ 0xA409_3822_299F_31D0,
        seed ^ 0x082E_FA98_EC4E_6C89,
    ];
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        for (lane, at) in lanes.iter_mut().zip([0, 8, 16, 24]) {
            *lane = step(*lane, word(&block[at..]));
        }
    }
    // the last 0–31 bytes, zero-padded words into the first lanes; the length tells
    // "ab" from "ab\0"
    for (lane, part) in lanes.iter_mut().zip(blocks.remainder().chunks(8)) {
        *lane = step(*lane, word(part));
    }
    let mut h = (bytes.len() as u64).wrapping_mul(K) ^ seed;
    for lane in lanes {
        h = (h ^ lane).wrapping_mul(K);
        h ^= h >> 29;
    }
    h = (h ^ (h >> 32)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^ (h >> 33)
}

/// The body of a framed file checked against `magic` and `version`, and the checksum it
/// should have, for a reader that hashes the body itself on the way (see
/// `TopicModel::from_bytes`).
pub(crate) fn open<'a>(magic: &[u8; 8], version: u16, bytes: &'a [u8]) -> Result<(&'a [u8], u64), FrameError> {
    if bytes.len() < magic.len() || &bytes[..magic.len()] != magic {
        return Err(FrameError::NotThisKind);
    }
    if bytes.len() < HEADER {
        return Err(FrameError::Corrupt);
    }
    let found = u16::from_le_bytes([bytes[8], bytes[9]]);
    if found != version {
        return Err(FrameError::Version(found));
    }
    let mut sum = [0u8; 8];
    sum.copy_from_slice(&bytes[10..HEADER]);
    Ok((&bytes[HEADER..], u64::from_le_bytes(sum)))
}

/// Write to a temporary file beside `path`, then rename: readers never see half a model.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// `#[serde(with = "crate::framing::f32s")]`: a run of `f32`s as one byte string, each
/// little-endian. postcard writes a float sequence value by value and reads it back through
/// a visitor call per value (AG News's 570,000 weights: 1.6 ms of a 16 ms load); as bytes
/// it is one copy each way.
pub(crate) mod f32s {
    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &[f32], serializer: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        serializer.serialize_bytes(&bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f32>, D::Error> {
        struct Floats;
        impl Visitor<'_> for Floats {
            type Value = Vec<f32>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("little-endian f32s as bytes")
            }

            fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<Vec<f32>, E> {
                if bytes.len() % 4 != 0 {
                    return Err(E::invalid_length(bytes.len(), &"a multiple of 4 bytes"));
                }
                Ok(bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect())
            }
        }
        deserializer.deserialize_bytes(Floats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Floats(#[serde(with = "f32s")] Vec<f32>);

    #[test]
    fn floats_as_bytes_round_trip_exactly() {
        let values = Floats(vec![0.0, -0.0, 1.5, -3.25e-7, f32::MAX, f32::MIN_POSITIVE, 1e30]);
        let bytes = postcard::to_allocvec(&values).unwrap();
        let back: Floats = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(
            back.0.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            values.0.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        // one length prefix and 4 bytes a value
        assert_eq!(bytes.len(), 1 + 4 * values.0.len());
        // a byte string that is not whole floats is an error, not a panic
        let ragged = postcard::to_allocvec(&serde_bytes_like(&[1, 2, 3])).unwrap();
        assert!(postcard::from_bytes::<Floats>(&ragged).is_err());
        let empty: Floats = postcard::from_bytes(&postcard::to_allocvec(&Floats(Vec::new())).unwrap()).unwrap();
        assert!(empty.0.is_empty());
    }

    /// A byte string as postcard writes one.
    fn serde_bytes_like(bytes: &[u8]) -> impl serde::Serialize + '_ {
        struct B<'a>(&'a [u8]);
        impl serde::Serialize for B<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        B(bytes)
    }

    #[test]
    fn round_trip_and_every_kind_of_damage() {
        for sum in [fnv1a as Checksum, |b: &[u8]| hash64(0, b)] {
            let f = frame(b"WARTA\x00XX", 7, sum, b"body");
            assert_eq!(unframe(b"WARTA\x00XX", 7, sum, &f), Ok(&b"body"[..]));
            assert_eq!(unframe(b"WARTA\x00YY", 7, sum, &f), Err(FrameError::NotThisKind));
            assert_eq!(unframe(b"WARTA\x00XX", 8, sum, &f), Err(FrameError::Version(7)));
            assert_eq!(
                unframe(b"WARTA\x00XX", 7, sum, &f[..f.len() - 1]),
                Err(FrameError::Corrupt)
            );
            assert_eq!(unframe(b"WARTA\x00XX", 7, sum, &f[..9]), Err(FrameError::Corrupt));
        }
    }

    #[test]
    fn the_hash_sees_every_byte_and_the_length() {
        // every single-bit change of bodies of every length up to 100 changes the hash, and
        // so does a trailing zero byte; no two of these bodies share a hash
        let mut seen = std::collections::HashMap::new();
        for n in 0..100usize {
            let body: Vec<u8> = (0..n).map(|i| (i * 37 % 251) as u8).collect();
            let mut variants = vec![body.clone()];
            let mut longer = body.clone();
            longer.push(0);
            variants.push(longer);
            for at in 0..n {
                for bit in [0, 3, 7] {
                    let mut v = body.clone();
                    v[at] ^= 1 << bit;
                    variants.push(v);
                }
            }
            for v in variants {
                if let Some(other) = seen.insert(hash64(5, &v), v.clone()) {
                    assert_eq!(other, v, "two bodies share a hash");
                }
            }
        }
        assert_ne!(hash64(1, b"model"), hash64(2, b"model"), "the seed counts");
        // fixed values: a model's version must not change between builds or platforms
        assert_eq!(hash64(0, b""), 0x864e_b5fb_e4f8_06e4);
        assert_eq!(
            hash64(0, b"warta: berita, 2026, a 40-byte body!!!!"),
            0xd4cc_8abc_c991_8d2d
        );
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
