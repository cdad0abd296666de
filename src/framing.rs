//! The one file framing every warta model uses: an 8-byte magic naming the kind of model, a
//! format version, an FNV-1a checksum of the body, then the body (postcard). Atomic writes.

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

/// `magic`, `version`, checksum, `body`.
pub(crate) fn frame(magic: &[u8; 8], version: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&crate::model::checksum(body).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// The body of a framed file, checked against `magic`, `version` and the checksum.
pub(crate) fn unframe<'a>(magic: &[u8; 8], version: u16, bytes: &'a [u8]) -> Result<&'a [u8], FrameError> {
    let (body, sum) = open(magic, version, bytes)?;
    if sum != crate::model::checksum(body) {
        return Err(FrameError::Corrupt);
    }
    Ok(body)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_kind_of_damage() {
        let f = frame(b"WARTA\x00XX", 7, b"body");
        assert_eq!(unframe(b"WARTA\x00XX", 7, &f), Ok(&b"body"[..]));
        assert_eq!(unframe(b"WARTA\x00YY", 7, &f), Err(FrameError::NotThisKind));
        assert_eq!(unframe(b"WARTA\x00XX", 8, &f), Err(FrameError::Version(7)));
        assert_eq!(unframe(b"WARTA\x00XX", 7, &f[..f.len() - 1]), Err(FrameError::Corrupt));
        assert_eq!(unframe(b"WARTA\x00XX", 7, &f[..9]), Err(FrameError::Corrupt));
    }
}
