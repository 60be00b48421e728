//! The embedded default: offsets in a JSON file, replaced atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::Offset;
use crate::{Error, Result};

/// Offsets in a JSON file, replaced atomically (write, fsync, rename).
#[derive(Debug, Clone)]
pub struct FileOffsetStore {
    path: PathBuf,
}

impl FileOffsetStore {
    /// A store at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, reason: impl ToString) -> Error {
        Error::Offsets {
            store: format!("file {}", self.path.display()),
            reason: reason.to_string(),
        }
    }

    /// The stored offset, `None` when the file does not exist.
    pub fn load(&self) -> Result<Option<Offset>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| self.err(e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Stores `offset` durably.
    pub fn save(&self, offset: &Offset) -> Result<()> {
        let tmp = self.path.with_extension("tmp");
        let bytes = serde_json::to_vec_pretty(offset).map_err(|e| self.err(e))?;
        let mut file = std::fs::File::create(&tmp).map_err(|e| self.err(e))?;
        file.write_all(&bytes).map_err(|e| self.err(e))?;
        file.sync_all().map_err(|e| self.err(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.err(e))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{KeyPart, SnapshotProgress};
    use super::*;

    #[test]
    fn round_trips_through_the_file() {
        let dir = std::env::temp_dir().join(format!("keel-offsets-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = FileOffsetStore::new(dir.join("o.json"));
        assert_eq!(store.load().unwrap(), None);
        let offset = Offset {
            file: "bin.000002".into(),
            pos: 1234,
            skip: 3,
            gtid: Some("0-1-9".into()),
            gtid_position: Some("0-1-8".into()),
            snapshot: Some(SnapshotProgress {
                tables_done: vec!["shop.a".into()],
                table: Some("shop.b".into()),
                last_key: Some(vec![
                    KeyPart::Int(-3),
                    KeyPart::Uint(7),
                    KeyPart::Text("2024-01-02 00:00:00".into()),
                    KeyPart::Hex("6162".into()),
                ]),
                rows: 12,
            }),
        };
        store.save(&offset).unwrap();
        assert_eq!(store.load().unwrap(), Some(offset));
        std::fs::write(store.path(), b"{oops").unwrap();
        assert!(store.load().unwrap_err().to_string().contains("o.json"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
