//! Byte scans eight bytes at a time (SWAR: SIMD within a register), for the loops that read
//! every byte of every input: words in the tokenizer, strings in the JSONL reader.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The 4 bytes at `bytes[at..at + 4]` as a little-endian word (a fixed-size load; the caller
/// keeps `at + 4` within `bytes`).
#[inline(always)]
pub fn le4(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(w) as u64
}

/// The 8 bytes at `bytes[at..at + 8]` as a little-endian word (as [`le4`]).
#[inline(always)]
pub fn le8(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The high bit of each byte of `x7` (all high bits clear) that lies in `lo..=hi`.
#[inline(always)]
fn bytes_in(x7: u64, lo: u8, hi: u8) -> u64 {
    // no byte sum can carry into the next: x < 0x80 and the addends are at most 0x80
    let at_least_lo = x7.wrapping_add(ONES * (0x80 - lo) as u64);
    let above_hi = x7.wrapping_add(ONES * (0x7f - hi) as u64);
    at_least_lo & !above_hi & HIGH
}

/// The end of the run of ASCII letters and digits starting at `j`: eight bytes per step
/// (a word's bytes were a third of all tokenizing work one at a time).
#[inline]
pub fn alnum_run(bytes: &[u8], mut j: usize) -> usize {
    while let Some(Ok(chunk)) = bytes.get(j..j + 8).map(<[u8; 8]>::try_from) {
        let v = u64::from_le_bytes(chunk);
        let x7 = v & !HIGH;
        // letters fold to lower case with 0x20; nothing else folds into a..=z
        let alnum = (bytes_in(x7, b'0', b'9') | bytes_in(x7 | (ONES * 0x20), b'a', b'z')) & !v;
        let stop = !alnum & HIGH;
        if stop != 0 {
            return j + (stop.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while bytes.get(j).is_some_and(u8::is_ascii_alphanumeric) {
        j += 1;
    }
    j
}

/// The length of the JSON string contents at the start of `bytes`: up to the first `"`,
/// `\` or control byte (`None` if there is none). Sixteen bytes per step with SSE2 (every
/// x86_64 has it), then eight.
pub fn plain_string_len(bytes: &[u8]) -> Option<usize> {
    let mut j = 0;
    #[cfg(target_arch = "x86_64")]
    while let Some(Ok(chunk)) = bytes.get(j..j + 16).map(<[u8; 16]>::try_from) {
        if let Some(stop) = string_stop_16(&chunk) {
            return Some(j + stop);
        }
        j += 16;
    }
    while let Some(Ok(chunk)) = bytes.get(j..j + 8).map(<[u8; 8]>::try_from) {
        let v = u64::from_le_bytes(chunk);
        let equal = |c: u8| {
            let y = v ^ (ONES * c as u64);
            bytes_in(y & !HIGH, 0, 0) & !y
        };
        let stop = (equal(b'"') | equal(b'\\') | (bytes_in(v & !HIGH, 0, 0x1f) & !v)) & HIGH;
        if stop != 0 {
            return Some(j + (stop.trailing_zeros() / 8) as usize);
        }
        j += 8;
    }
    let tail = bytes.get(j..)?;
    Some(j + tail.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20)?)
}

/// The first `"`, `\` or control byte among 16.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn string_stop_16(chunk: &[u8; 16]) -> Option<usize> {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of every x86_64 target; the load is unaligned-safe and reads the
    // 16 bytes of `chunk`, a live array.
    let mask = unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // unsigned v <= 0x1f exactly when max(v, 0x1f) == 0x1f
        let limit = _mm_set1_epi8(0x1f);
        let control = _mm_cmpeq_epi8(_mm_max_epu8(v, limit), limit);
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
    };
    (mask != 0).then(|| mask.trailing_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eight_byte_scan_agrees_with_the_byte_test_on_every_byte() {
        for b in 0..=255u8 {
            // in the eight-byte steps and in the byte-by-byte tail
            for at in 0..19 {
                let mut bytes = *b"abcdefghij0123456789";
                bytes[at + 1] = b;
                let expected = if b.is_ascii_alphanumeric() { bytes.len() } else { at + 1 };
                assert_eq!(alnum_run(&bytes, 0), expected, "byte {b:#04x} at {at}");
            }
        }
    }

    #[test]
    fn string_ends_at_the_first_quote_backslash_or_control_byte_of_any_byte_value() {
        for b in 0..=255u8 {
            // 40 bytes: two 16-byte steps, one 8-byte step, no tail; then every shorter prefix
            for at in 0..40 {
                let mut bytes = *b"abcdefghij0123456789ABCDEFGHIJ9876543210";
                bytes[at] = b;
                let stops = b == b'"' || b == b'\\' || b < 0x20;
                let expected = if stops { Some(at) } else { None };
                assert_eq!(plain_string_len(&bytes), expected, "byte {b:#04x} at {at}");
                for len in 0..bytes.len() {
                    let want = expected.filter(|&e| e < len);
                    assert_eq!(plain_string_len(&bytes[..len]), want, "byte {b:#04x} at {at} of {len}");
                }
                // and a quote after it ends the string there, if b did not
                let mut quoted = bytes.to_vec();
                quoted.push(b'"');
                assert_eq!(plain_string_len(&quoted), Some(expected.unwrap_or(bytes.len())));
            }
        }
        assert_eq!(plain_string_len(b""), None);
        assert_eq!(
            plain_string_len("Meksiko, “AS” – \"".as_bytes()),
            Some("Meksiko, “AS” – ".len())
        );
    }
}
