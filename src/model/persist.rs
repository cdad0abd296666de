//! Model files: a small header (magic, format version, checksum) and a postcard body.
//!
//! Every way a file can be wrong — missing, not a model, from another format version,
//! truncated, corrupt, inconsistent — is a one-line [`ModelFileError`], never a panic.

use super::{checksum, content_hash, TopicModel};
use crate::framing::{frame, open, write_atomically, FrameError};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"WARTA\x00TM";
/// Version of the model file format this build reads and writes.
/// 4: the checksum and version hash became [`crate::framing::hash64`] (FNV-1a before), and
/// the weight and IDF arrays are stored as bytes ([`crate::framing::f32s`]).
pub const FORMAT_VERSION: u16 = 4;

#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("cannot read model file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write model file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a warta topic model file")]
    NotAModel { path: PathBuf },
    #[error("{path} has model format version {found}; this build reads version {FORMAT_VERSION}")]
    Version { path: PathBuf, found: u16 },
    #[error("{path} is truncated or corrupt (checksum mismatch)")]
    Corrupt { path: PathBuf },
    #[error("{path} cannot be decoded: {reason}")]
    Decode { path: PathBuf, reason: String },
}

impl TopicModel {
    /// Serialise to the file format.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let body = postcard::to_allocvec(self).map_err(|e| e.to_string())?;
        Ok(frame(MAGIC, FORMAT_VERSION, checksum, &body))
    }

    /// Parse the file format; `path` only names the source in errors. The checksum is
    /// compared first, so a damaged body is called corrupt and one that is intact but does
    /// not make a model undecodable; the model's version is the content hash of the body's
    /// first part (labels, vectorizer, classifier), as [`TopicModel::new`] computes it.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<TopicModel, ModelFileError> {
        let path = path.to_path_buf();
        let (body, sum) = open(MAGIC, FORMAT_VERSION, bytes).map_err(|e| match e {
            FrameError::NotThisKind => ModelFileError::NotAModel { path: path.clone() },
            FrameError::Version(found) => ModelFileError::Version {
                path: path.clone(),
                found,
            },
            FrameError::Corrupt => ModelFileError::Corrupt { path: path.clone() },
        })?;
        if checksum(body) != sum {
            return Err(ModelFileError::Corrupt { path });
        }
        let decode = |reason| ModelFileError::Decode {
            path: path.clone(),
            reason,
        };
        let parts = decode_body(body).map_err(decode)?;
        let hash = content_hash(body.get(..parts.content_len).unwrap_or(body));
        parts.assemble(hash).map_err(decode)
    }

    /// Write atomically: to a temporary file beside `path`, then rename.
    pub fn save(&self, path: &Path) -> Result<(), ModelFileError> {
        let write_err = |source| ModelFileError::Write {
            path: path.to_path_buf(),
            source,
        };
        let bytes = self.to_bytes().map_err(|e| write_err(std::io::Error::other(e)))?;
        write_atomically(path, &bytes).map_err(write_err)
    }

    pub fn load(path: &Path) -> Result<TopicModel, ModelFileError> {
        let bytes = std::fs::read(path).map_err(|source| ModelFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        TopicModel::from_bytes(&bytes, path)
    }
}

/// A model file's body, decoded.
struct BodyParts {
    labels: Vec<String>,
    vectorizer: crate::features::Vectorizer,
    classifier: super::Classifier,
    meta: super::ModelMeta,
    thresholds: Option<Vec<f32>>,
    /// Bytes of labels, vectorizer and classifier at the start of the body: the model's
    /// content, hashed for its version as they lie.
    content_len: usize,
}

impl BodyParts {
    fn assemble(self, content_hash: u64) -> Result<TopicModel, String> {
        TopicModel::from_file_parts(
            self.labels,
            self.vectorizer,
            self.classifier,
            self.meta,
            self.thresholds,
            content_hash,
        )
    }
}

/// The body, field by field as [`TopicModel`]'s serialised form lays them out (postcard
/// writes a struct as its fields one after the other).
fn decode_body(body: &[u8]) -> Result<BodyParts, String> {
    let text = |e: postcard::Error| e.to_string();
    let (labels, rest) = postcard::take_from_bytes(body).map_err(text)?;
    let (vectorizer, rest) = postcard::take_from_bytes(rest).map_err(text)?;
    let (classifier, rest) = postcard::take_from_bytes(rest).map_err(text)?;
    let content_len = body.len() - rest.len();
    let (meta, rest) = postcard::take_from_bytes(rest).map_err(text)?;
    let (thresholds, _) = postcard::take_from_bytes(rest).map_err(text)?;
    Ok(BodyParts {
        labels,
        vectorizer,
        classifier,
        meta,
        thresholds,
        content_len,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{tests::toy, train, TrainConfig};
    use super::*;
    use crate::framing::{unframe, HEADER};

    fn model() -> TopicModel {
        train(&toy(), &TrainConfig::default()).unwrap()
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.warta");
        let m = model();
        m.save(&path).unwrap();
        let back = TopicModel::load(&path).unwrap();
        assert_eq!(back.version(), m.version());
        assert_eq!(back.labels(), m.labels());
        assert_eq!(back.classify("kartel kokain", 0), m.classify("kartel kokain", 0));
        // every algorithm's model comes back as it was saved
        for algorithm in crate::model::Algorithm::ALL {
            let cfg = TrainConfig {
                algorithm,
                ..TrainConfig::default()
            };
            let m = train(&toy(), &cfg).unwrap();
            let back = TopicModel::from_bytes(&m.to_bytes().unwrap(), Path::new("m.warta")).unwrap();
            assert_eq!(back.algorithm(), algorithm);
            assert_eq!(back.version(), m.version());
            assert_eq!(back.classify("kartel kokain", 0), m.classify("kartel kokain", 0));
        }
    }

    #[test]
    fn a_loaded_model_has_the_version_it_was_saved_with_single_or_multi_label() {
        let single = model();
        let mut multi = model();
        let k = multi.labels().len();
        multi.set_thresholds(vec![0.4; k]).unwrap();
        assert_ne!(multi.version(), single.version());
        for m in [single, multi] {
            let bytes = m.to_bytes().unwrap();
            let back = TopicModel::from_bytes(&bytes, Path::new("m.warta")).unwrap();
            assert_eq!(back.version(), m.version());
            assert_eq!(back.thresholds(), m.thresholds());
            // and the same as decoding it whole and hashing it again
            let whole: TopicModel =
                postcard::from_bytes(unframe(MAGIC, FORMAT_VERSION, checksum, &bytes).unwrap()).unwrap();
            assert_eq!(whole.version(), m.version());
        }
    }

    #[test]
    fn every_broken_file_is_a_clear_error() {
        let p = Path::new("m.warta");
        let good = model().to_bytes().unwrap();
        let err = |b: &[u8]| TopicModel::from_bytes(b, p).unwrap_err().to_string();
        assert!(err(b"").contains("not a warta topic model"));
        assert!(err(b"{\"json\": true}").contains("not a warta topic model"));
        assert!(err(&good[..12]).contains("truncated or corrupt"));
        assert!(err(&good[..good.len() / 2]).contains("truncated or corrupt"));
        let mut flipped = good.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0x55;
        assert!(err(&flipped).contains("truncated or corrupt"));
        let mut future = good.clone();
        future[8] = 99;
        assert!(err(&future).contains("format version 99"));
        // a body that passes the checksum but does not decode
        let mut forged = good[..HEADER].to_vec();
        let body = [0xffu8; 40];
        forged[10..HEADER].copy_from_slice(&checksum(&body).to_le_bytes());
        forged.extend_from_slice(&body);
        assert!(err(&forged).contains("cannot be decoded"));
        let missing = TopicModel::load(Path::new("/nonexistent/m.warta"))
            .unwrap_err()
            .to_string();
        assert!(missing.starts_with("cannot read model file /nonexistent/m.warta"));
        for e in [err(b""), err(&flipped), missing] {
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn truncation_at_every_length_never_panics() {
        let good = model().to_bytes().unwrap();
        for n in 0..good.len() {
            assert!(TopicModel::from_bytes(&good[..n], Path::new("x")).is_err());
        }
    }
}
