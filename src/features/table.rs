//! The vectorizer's lookup tables: every word of every text is looked up in them, most
//! once or twice per word, so they are built for that one query. Open addressing with
//! linear probing at load factor ≤ ½, written once when a model loads, read-only after.

use crate::text::fasthash::FxHasher;
use crate::text::swar::{le4, le8};
use std::hash::Hasher;

const EMPTY: u32 = u32::MAX;

/// Slot index of a hash: its top bits after a Fibonacci multiply (the low bits of an Fx
/// hash of packed ids are weak).
#[inline]
fn slot_of(hash: u64, shift: u32) -> usize {
    (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
}

/// Table size for `n` keys: a power of two at least twice `n` (and at least 2).
fn capacity(n: usize) -> (usize, u32) {
    let size = (2 * n).max(2).next_power_of_two();
    (size, 64 - size.trailing_zeros())
}

#[inline(always)]
fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(bytes);
    h.finish()
}

/// `a == b` for two byte strings already known to have the same length, from fixed-size
/// loads: terms are short, and a variable-length compare is a library call.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=8 => le4(a, 0) == le4(b, 0) && le4(a, n - 4) == le4(b, n - 4),
        _ => {
            // whole words, then the last eight bytes (overlapping the last word)
            let mut at = 0;
            while at + 8 <= n {
                if le8(a, at) != le8(b, at) {
                    return false;
                }
                at += 8;
            }
            at == n || le8(a, n - 8) == le8(b, n - 8)
        }
    }
}

/// Term → value (a term id, or a marker such as the stopword mark).
#[derive(Debug, Clone, Default)]
pub(super) struct TermTable {
    /// One slot per bucket, `EMPTY` length when free. The value sits in the slot itself, and
    /// so does a key of up to 8 bytes (most words): a hit on one costs the slot's cache line
    /// alone, and the caller can go on with the value while the compare is still in flight.
    slots: Vec<TermSlot>,
    shift: u32,
    /// The bytes of every key longer than 8, one after the other.
    keys: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct TermSlot {
    /// A key of up to 8 bytes: [`short_word`] of it. A longer one: the low 32 bits of its
    /// hash, and its place in `keys` above them.
    word: u64,
    value: u32,
    len: u32,
}

const FREE: TermSlot = TermSlot {
    word: 0,
    value: 0,
    len: EMPTY,
};

/// Longest key kept in its slot.
const SHORT: usize = 8;

/// A key of up to [`SHORT`] bytes as one word, from fixed-size loads: different keys of the
/// same length give different words (the loads together cover every byte).
#[inline(always)]
fn short_word(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    match n {
        0 => 0,
        1..=3 => bytes[0] as u64 | (bytes[n / 2] as u64) << 8 | (bytes[n - 1] as u64) << 16,
        4..=7 => le4(bytes, 0) | le4(bytes, n - 4) << 32,
        _ => le8(bytes, 0),
    }
}

impl TermTable {
    /// The table of `pairs`; `Err` with the first key that comes twice, or when the keys
    /// exceed 4 GiB.
    pub fn build<'a>(pairs: impl ExactSizeIterator<Item = (&'a str, u32)>) -> Result<TermTable, String> {
        let (size, shift) = capacity(pairs.len());
        let mut t = TermTable {
            slots: vec![FREE; size],
            shift,
            keys: Vec::new(),
        };
        let too_big = || "the vocabulary exceeds 4 GiB".to_string();
        for (key, value) in pairs {
            let (short, hash) = Self::hash(key);
            if t.get_hashed(key, (short, hash)).is_some() {
                return Err(key.to_string());
            }
            let bytes = key.as_bytes();
            let len = u32::try_from(bytes.len())
                .ok()
                .filter(|&l| l != EMPTY)
                .ok_or_else(too_big)?;
            let word = if bytes.len() <= SHORT {
                short
            } else {
                let start = u32::try_from(t.keys.len()).map_err(|_| too_big())?;
                t.keys.extend_from_slice(bytes);
                u32::try_from(t.keys.len()).map_err(|_| too_big())?;
                u64::from(start) << 32 | (hash & 0xffff_ffff)
            };
            let mut i = slot_of(hash, shift);
            while t.slots[i].len != EMPTY {
                i = (i + 1) & (size - 1);
            }
            t.slots[i] = TermSlot { word, value, len };
        }
        Ok(t)
    }

    #[inline(always)]
    pub fn get(&self, key: &str) -> Option<u32> {
        self.get_hashed(key, Self::hash(key))
    }

    /// Ask the cache for the first slot of a key hashed by [`Self::hash`], ahead of
    /// [`Self::get_hashed`]: a text's words can be hashed before the first is looked up, so
    /// their misses overlap instead of queueing one behind the other.
    #[inline(always)]
    pub fn prefetch(&self, (_, hash): (u64, u64)) {
        if let Some(slot) = self.slots.get(slot_of(hash, self.shift)) {
            prefetch(slot);
        }
    }

    /// A short key's word and hash (the word mixed with the length), or a long key's hash.
    #[inline(always)]
    pub fn hash(key: &str) -> (u64, u64) {
        let bytes = key.as_bytes();
        if bytes.len() <= SHORT {
            let word = short_word(bytes);
            let h = (word ^ (bytes.len() as u64) << 59).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
            (word, h ^ (h >> 32))
        } else {
            (0, hash_bytes(bytes))
        }
    }

    #[inline(always)]
    pub fn get_hashed(&self, key: &str, (word, hash): (u64, u64)) -> Option<u32> {
        let bytes = key.as_bytes();
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = slot_of(hash, self.shift);
        if bytes.len() <= SHORT {
            loop {
                let slot = self.slots.get(i)?;
                if slot.len == EMPTY {
                    return None;
                }
                if slot.word == word && slot.len as usize == bytes.len() {
                    return Some(slot.value);
                }
                i = (i + 1) & mask;
            }
        }
        loop {
            let slot = self.slots.get(i)?;
            if slot.len == EMPTY {
                return None;
            }
            if slot.word as u32 == hash as u32 && slot.len as usize == bytes.len() {
                let start = (slot.word >> 32) as usize;
                let stored = self.keys.get(start..start + bytes.len())?;
                if same_bytes(stored, bytes) {
                    return Some(slot.value);
                }
            }
            i = (i + 1) & mask;
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.len != EMPTY).count()
    }
}

/// u64 key → u32 value (packed n-gram keys → feature ids).
#[derive(Debug, Clone, Default)]
pub(super) struct IdTable {
    /// (key, value), or `EMPTY` values.
    slots: Vec<(u64, u32)>,
    shift: u32,
    len: usize,
}

impl IdTable {
    /// The table of `pairs`; `Err` with the first key that comes twice. Values must not be
    /// `u32::MAX`.
    pub fn build(pairs: impl ExactSizeIterator<Item = (u64, u32)>) -> Result<IdTable, u64> {
        let (size, shift) = capacity(pairs.len());
        let mut t = IdTable {
            slots: vec![(0, EMPTY); size],
            shift,
            len: 0,
        };
        for (key, value) in pairs {
            let mut i = slot_of(key, shift);
            loop {
                let (k, v) = t.slots[i];
                if v == EMPTY {
                    break;
                }
                if k == key {
                    return Err(key);
                }
                i = (i + 1) & (size - 1);
            }
            t.slots[i] = (key, value);
            t.len += 1;
        }
        Ok(t)
    }

    #[inline]
    pub fn get(&self, key: u64) -> Option<u32> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = slot_of(key, self.shift);
        loop {
            let &(k, v) = self.slots.get(i)?;
            if v == EMPTY {
                return None;
            }
            if k == key {
                return Some(v);
            }
            i = (i + 1) & mask;
        }
    }

    /// Whether [`Self::prefetch`] pays: only for a table larger than a core's L2 cache (2 MiB
    /// of slots and up). A smaller one mostly hits, and the hints cost more than they save
    /// (SIB-200's bigrams, 0.25 MiB: 3% slower with them; AG News's, 4 MiB: 2.4% faster).
    pub fn worth_prefetching(&self) -> bool {
        std::mem::size_of_val(self.slots.as_slice()) >= 2 << 20
    }

    /// Ask the cache for `key`'s first slot ahead of [`Self::get`]: a text's word pairs are
    /// all known before the first is looked up, so their misses can overlap instead of
    /// queueing one behind the other.
    #[inline(always)]
    pub fn prefetch(&self, key: u64) {
        if let Some(slot) = self.slots.get(slot_of(key, self.shift)) {
            prefetch(slot);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }
}

/// A hint to load the cache line holding `value`; nothing else happens, whatever the address.
#[inline(always)]
pub(super) fn prefetch<T>(value: &T) {
    // SAFETY: SSE is part of every x86_64 target, and a prefetch only hints the cache: it
    // never faults and changes no memory (here the address is a live reference anyway).
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((value as *const T).cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_found_exactly_and_others_are_not() {
        let words: Vec<String> = (0..5000).map(|i| format!("w{}{}", i, "x".repeat(i % 19))).collect();
        let t = TermTable::build(words.iter().enumerate().map(|(i, w)| (w.as_str(), i as u32))).unwrap();
        assert_eq!(t.len(), words.len());
        for (i, w) in words.iter().enumerate() {
            assert_eq!(t.get(w), Some(i as u32), "{w}");
            // one byte more, one byte less, one byte changed: never found
            assert_eq!(
                t.get(&format!("{w}x")).filter(|_| !words.contains(&format!("{w}x"))),
                None
            );
            assert_eq!(
                t.get(&w[..w.len() - 1])
                    .filter(|_| !words.contains(&w[..w.len() - 1].to_string())),
                None
            );
            let changed = format!("v{}", &w[1..]);
            assert_eq!(t.get(&changed), None);
        }
        assert_eq!(t.get(""), None);
        assert_eq!(
            TermTable::build(["a", "b", "a"].into_iter().map(|w| (w, 0))).unwrap_err(),
            "a"
        );
        let empty = TermTable::build(std::iter::empty::<(&str, u32)>()).unwrap();
        assert_eq!(empty.get("a"), None);
    }

    #[test]
    fn short_and_long_keys_differ_in_every_byte_and_length() {
        // keys of every length across the 8-byte boundary (kept in the slot up to 8, in
        // `keys` beyond), each with every one-byte change, and keys whose short words
        // coincide ("ab" and "abb" load the same bytes): only the exact key is found
        let base: Vec<String> = (1..=20).map(|n| "abcdefghijklmnopqrstu"[..n].to_string()).collect();
        let twins = ["ab", "abb", "aab", "a", "aa", "aaa", "abab", "ababa", "abbab"];
        let keys: Vec<&str> = base.iter().map(String::as_str).chain(twins).collect();
        let mut unique = keys.clone();
        unique.sort_unstable();
        unique.dedup();
        let t = TermTable::build(unique.iter().enumerate().map(|(i, &k)| (k, i as u32))).unwrap();
        for (i, k) in unique.iter().enumerate() {
            assert_eq!(t.get(k), Some(i as u32), "{k}");
            for at in 0..k.len() {
                let mut changed = k.as_bytes().to_vec();
                changed[at] = b'z';
                let changed = String::from_utf8(changed).unwrap();
                assert_eq!(t.get(&changed), None, "{k} changed at {at}");
            }
            assert_eq!(
                t.get(&format!("{k}a"))
                    .filter(|_| !unique.contains(&format!("{k}a").as_str())),
                None
            );
        }
        assert_eq!(t.get(""), None);
    }

    #[test]
    fn same_bytes_compares_every_length() {
        for n in 0..40 {
            let a: Vec<u8> = (0..n as u8).map(|i| b'a' + i % 26).collect();
            assert!(same_bytes(&a, &a.clone()));
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 1;
                assert!(!same_bytes(&a, &b), "length {n}, byte {at}");
            }
        }
        assert!(!same_bytes(b"ab", b"abc"));
    }

    #[test]
    fn ids_are_found_exactly() {
        let keys: Vec<u64> = (0..20_000u64)
            .map(|i| i.wrapping_mul(0x1234_5678_9abc_def1) ^ (i << 56))
            .collect();
        let t = IdTable::build(keys.iter().enumerate().map(|(i, &k)| (k, i as u32))).unwrap();
        assert_eq!(t.len(), keys.len());
        for (i, &k) in keys.iter().enumerate() {
            assert_eq!(t.get(k), Some(i as u32));
            assert_eq!(t.get(k ^ 1).filter(|_| !keys.contains(&(k ^ 1))), None);
        }
        assert_eq!(IdTable::build([(7, 0), (7, 1)].into_iter()).unwrap_err(), 7);
        assert_eq!(IdTable::default().get(7), None);
    }
}
