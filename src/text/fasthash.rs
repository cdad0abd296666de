//! A fast, non-cryptographic hasher (the Fx hash of rustc) for the hot lookups of terms and
//! n-grams. Keys come from our own vocabulary, so hash flooding is not a concern here.

use super::swar::{le4, le8};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(le8(c, 0));
        }
        // the last 1–7 bytes in one word, from fixed-size loads (a variable-length copy is
        // a memcpy call, and most terms end in such a tail); the length keeps "ab" and
        // "abb" apart
        let rest = chunks.remainder();
        let r = rest.len();
        if r >= 4 {
            self.add((le4(rest, 0) | le4(rest, r - 4) << 32) ^ ((r as u64) << 61));
        } else if r > 0 {
            self.add(rest[0] as u64 | (rest[r / 2] as u64) << 8 | (rest[r - 1] as u64) << 16 | (r as u64) << 24);
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    /// The high half folded into the low: a multiply carries entropy only upwards, and the
    /// table picks buckets by the low bits (packed keys such as two term ids or an n-gram's
    /// bytes would otherwise crowd into a few buckets).
    #[inline]
    fn finish(&self) -> u64 {
        self.hash ^ (self.hash >> 32)
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
pub type FastSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn hash_of(s: &str) -> u64 {
        BuildHasherDefault::<FxHasher>::default().hash_one(s)
    }

    #[test]
    fn every_byte_of_a_term_counts() {
        // every string up to 11 bytes over a small alphabet: each length crosses the
        // 8-byte words and the 1–3 and 4–7 byte tails; no two may share a hash
        let alphabet = ['a', 'b', 'n'];
        let mut seen = FastMap::default();
        let mut strings = vec![String::new()];
        for _ in 0..7 {
            strings = strings
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            for s in &strings {
                let padded = format!("{s}ajar");
                for t in [s.as_str(), padded.as_str()] {
                    if let Some(other) = seen.insert(hash_of(t), t.to_string()) {
                        assert_eq!(&other, t, "{other:?} and {t:?} share a hash");
                    }
                }
            }
        }
        assert_eq!(hash_of("migran"), hash_of(&String::from("migran")));
    }
}
