//! Tagger files, framed as topic models are ([`crate::framing`]): every broken file is a
//! one-line error, never a panic.

use super::Tagger;
use crate::framing::{fnv1a, frame, unframe, write_atomically, FrameError};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"WARTA\x00NE";
pub const TAGGER_FORMAT_VERSION: u16 = 3;

#[derive(Debug, thiserror::Error)]
pub enum TaggerFileError {
    #[error("cannot read entity model {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write entity model {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a warta entity model file")]
    NotAModel { path: PathBuf },
    #[error("{path} has entity model format version {found}; this build reads version {TAGGER_FORMAT_VERSION}")]
    Version { path: PathBuf, found: u16 },
    #[error("{path} is truncated or corrupt (checksum mismatch)")]
    Corrupt { path: PathBuf },
    #[error("{path} cannot be decoded: {reason}")]
    Decode { path: PathBuf, reason: String },
}

/// The checksum entity model files carry (FNV-1a of the body); public for tools and fuzzing.
pub fn checksum(bytes: &[u8]) -> u64 {
    fnv1a(bytes)
}

impl Tagger {
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let body = postcard::to_allocvec(self).map_err(|e| e.to_string())?;
        Ok(frame(MAGIC, TAGGER_FORMAT_VERSION, checksum, &body))
    }

    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Tagger, TaggerFileError> {
        let path = path.to_path_buf();
        let body = unframe(MAGIC, TAGGER_FORMAT_VERSION, checksum, bytes).map_err(|e| match e {
            FrameError::NotThisKind => TaggerFileError::NotAModel { path: path.clone() },
            FrameError::Version(found) => TaggerFileError::Version {
                path: path.clone(),
                found,
            },
            FrameError::Corrupt => TaggerFileError::Corrupt { path: path.clone() },
        })?;
        let mut tagger: Tagger = postcard::from_bytes(body).map_err(|e| TaggerFileError::Decode {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        tagger
            .reindex()
            .map_err(|reason| TaggerFileError::Decode { path, reason })?;
        Ok(tagger)
    }

    /// Write atomically: a temporary file beside `path`, then rename.
    pub fn save(&self, path: &Path) -> Result<(), TaggerFileError> {
        let write_err = |source| TaggerFileError::Write {
            path: path.to_path_buf(),
            source,
        };
        let bytes = self.to_bytes().map_err(|e| write_err(std::io::Error::other(e)))?;
        write_atomically(path, &bytes).map_err(write_err)
    }

    pub fn load(path: &Path) -> Result<Tagger, TaggerFileError> {
        let bytes = std::fs::read(path).map_err(|source| TaggerFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Tagger::from_bytes(&bytes, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ner::{NerConfig, TaggedSentence};

    fn tagger() -> Tagger {
        let rows: Vec<TaggedSentence> = [
            ("Joko Widodo tiba di Jakarta .", "B-PER I-PER O O B-LOC O"),
            (
                "Kamala Harris bertemu Pentagon di Washington",
                "B-PER I-PER O B-ORG O B-LOC",
            ),
            ("warga Bogor menunggu", "O B-LOC O"),
        ]
        .iter()
        .map(|(w, t)| TaggedSentence {
            id: String::new(),
            tokens: w.split(' ').map(str::to_string).collect(),
            tags: t.split(' ').map(str::to_string).collect(),
        })
        .collect();
        let config = NerConfig {
            hash_bits: 12,
            epochs: 5,
            ..NerConfig::default()
        };
        Tagger::train(&rows, &config).unwrap()
    }

    #[test]
    fn a_saved_tagger_loads_as_it_was_and_tags_the_same() {
        let t = tagger();
        let bytes = t.to_bytes().unwrap();
        let back = Tagger::from_bytes(&bytes, Path::new("t.ner")).unwrap();
        assert_eq!(back, t);
        let words = ["Presiden", "Joko", "Widodo", "ke", "Bogor"];
        assert_eq!(back.tag(&words), t.tag(&words));
    }

    #[test]
    fn every_truncation_or_flipped_byte_is_an_error_not_a_panic() {
        let bytes = tagger().to_bytes().unwrap();
        for cut in (0..bytes.len()).step_by(97) {
            assert!(Tagger::from_bytes(&bytes[..cut], Path::new("t.ner")).is_err());
        }
        for at in (0..bytes.len()).step_by(89) {
            let mut b = bytes.clone();
            b[at] ^= 0x5a;
            assert!(Tagger::from_bytes(&b, Path::new("t.ner")).is_err(), "flip at {at}");
        }
    }
}
