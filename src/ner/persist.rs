//! Tagger files: magic, format version, checksum, postcard body — the same discipline as
//! topic models: every broken file is a one-line error, never a panic.

use super::Tagger;
use crate::model::fnv1a;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"WARTA\x00NE";
pub const TAGGER_FORMAT_VERSION: u16 = 2;
const HEADER: usize = 8 + 2 + 8;

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

impl Tagger {
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let body = postcard::to_allocvec(self).map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(HEADER + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&TAGGER_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&fnv1a(&body).to_le_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Tagger, TaggerFileError> {
        let path = path.to_path_buf();
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(TaggerFileError::NotAModel { path });
        }
        if bytes.len() < HEADER {
            return Err(TaggerFileError::Corrupt { path });
        }
        let found = u16::from_le_bytes([bytes[8], bytes[9]]);
        if found != TAGGER_FORMAT_VERSION {
            return Err(TaggerFileError::Version { path, found });
        }
        let mut sum = [0u8; 8];
        sum.copy_from_slice(&bytes[10..HEADER]);
        let body = &bytes[HEADER..];
        if u64::from_le_bytes(sum) != fnv1a(body) {
            return Err(TaggerFileError::Corrupt { path });
        }
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
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, bytes).map_err(write_err)?;
        std::fs::rename(&tmp, path).map_err(write_err)
    }

    pub fn load(path: &Path) -> Result<Tagger, TaggerFileError> {
        let bytes = std::fs::read(path).map_err(|source| TaggerFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Tagger::from_bytes(&bytes, path)
    }
}
