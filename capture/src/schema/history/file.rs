//! The embedded history store: one JSON record per line, appended and synced before the
//! statement's change events are sent (Debezium's `FileSchemaHistory` keeps the same lines).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::{Error, Result};

/// The history in a file.
#[derive(Debug, Clone)]
pub struct FileHistory {
    path: PathBuf,
}

impl FileHistory {
    /// A history at `path` (created on the first record).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, reason: impl ToString) -> Error {
        Error::History {
            store: format!("file {}", self.path.display()),
            reason: reason.to_string(),
        }
    }

    /// Every record, in order; none when the file does not exist.
    pub fn load(&self) -> Result<Vec<Json>> {
        let file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.err(e)),
        };
        let mut out = Vec::new();
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| self.err(e))?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(&line) {
                Ok(v) => out.push(v),
                // A line cut short by a crash while it was written is the last one: the
                // statement is read again from the binlog.
                Err(e) if e.is_eof() => break,
                Err(e) => return Err(self.err(format!("line {}: {e}", i + 1))),
            }
        }
        Ok(out)
    }

    /// Appends `records` and syncs the file.
    pub fn append(&self, records: &[Json]) -> Result<()> {
        let mut bytes = Vec::new();
        for r in records {
            serde_json::to_writer(&mut bytes, r).map_err(|e| self.err(e))?;
            bytes.push(b'\n');
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.err(e))?;
        file.write_all(&bytes).map_err(|e| self.err(e))?;
        file.sync_all().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_and_reads_back_lines() {
        let dir = std::env::temp_dir().join(format!("keel-history-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let h = FileHistory::new(dir.join("h.jsonl"));
        assert!(h.load().unwrap().is_empty());
        h.append(&[serde_json::json!({"a": 1})]).unwrap();
        h.append(&[serde_json::json!({"a": 2}), serde_json::json!({"a": 3})])
            .unwrap();
        assert_eq!(h.load().unwrap().len(), 3);
        // A torn last line (crash mid-write) is ignored; a broken line before it is not.
        std::fs::write(h.path(), "{\"a\":1}\n{\"a\":").unwrap();
        assert_eq!(h.load().unwrap().len(), 1);
        std::fs::write(h.path(), "{\"a\":1}\nnot json\n").unwrap();
        assert!(h.load().unwrap_err().to_string().contains("line 2"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
