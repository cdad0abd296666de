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
    /// One slot per bucket, `EMPTY` length when free. The value sits in the slot itself, so a
    /// hit costs the slot's cache line and the key's bytes, and the caller can go on with the
    /// value while the key compare is still in flight.
    slots: Vec<TermSlot>,
    shift: u32,
    /// Every key's bytes, one after the other.
    keys: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct TermSlot {
    /// Low 32 bits of the key's hash.
    tag: u32,
    value: u32,
    /// The key's place in `keys`.
    start: u32,
    len: u32,
}

const FREE: TermSlot = TermSlot {
    tag: 0,
    value: 0,
    start: 0,
    len: EMPTY,
};

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
            let bytes = key.as_bytes();
            let hash = hash_bytes(bytes);
            let mut i = slot_of(hash, shift);
            loop {
                let slot = t.slots[i];
                if slot.len == EMPTY {
                    break;
                }
                if slot.tag == hash as u32 && t.key(&slot) == Some(bytes) {
                    return Err(key.to_string());
                }
                i = (i + 1) & (size - 1);
            }
            let start = u32::try_from(t.keys.len()).map_err(|_| too_big())?;
            let len = u32::try_from(bytes.len()).map_err(|_| too_big())?;
            t.keys.extend_from_slice(bytes);
            if u32::try_from(t.keys.len()).map_err(|_| too_big())? == EMPTY {
                return Err(too_big());
            }
            t.slots[i] = TermSlot {
                tag: hash as u32,
                value,
                start,
                len,
            };
        }
        Ok(t)
    }

    fn key(&self, slot: &TermSlot) -> Option<&[u8]> {
        self.keys
            .get(slot.start as usize..slot.start as usize + slot.len as usize)
    }

    #[inline(always)]
    pub fn get(&self, key: &str) -> Option<u32> {
        let bytes = key.as_bytes();
        let hash = hash_bytes(bytes);
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = slot_of(hash, self.shift);
        loop {
            let slot = self.slots.get(i)?;
            if slot.len == EMPTY {
                return None;
            }
            if slot.tag == hash as u32 && slot.len as usize == bytes.len() {
                let stored = self.keys.get(slot.start as usize..slot.start as usize + bytes.len())?;
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
fn prefetch<T>(value: &T) {
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
