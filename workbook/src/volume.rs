//! The three file volumes of a workbook and the files in them.

use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use super::{names, schema, Workbook, WorkbookError};

/// The volumes of a workbook: defined once, in `nexus-abi`, for the engine,
/// the guest SDK and the file format alike.
pub use nexus_abi::{FileStat, Volume};

/// Default mode of a file (0o644).
pub const DEFAULT_MODE: u32 = 0o644;

/// Serde for a [`Volume`] field (`#[serde(with = "volume::by_name")]`): the
/// volume's name, `"workspace"`, `"memory"` or `"tmp"`.
pub(super) mod by_name {
    use serde::{de, Deserialize, Deserializer, Serializer};

    use super::Volume;

    /// Writes the volume's name.
    pub fn serialize<S: Serializer>(volume: &Volume, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(volume.as_str())
    }

    /// Reads a volume's name.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Volume, D::Error> {
        let name = String::deserialize(d)?;
        name.parse()
            .map_err(|_| de::Error::unknown_variant(&name, &Volume::NAMES))
    }
}

/// A file as listed by [`Workbook::list_files`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path inside the volume.
    pub path: String,
    /// Size of the contents in bytes.
    pub size: u64,
    /// Unix permission bits.
    pub mode: u32,
    /// Last write, Unix milliseconds.
    pub mtime_ms: u64,
}

impl Workbook {
    /// Writes (creates or replaces) `path` in `volume` with `data` and unix
    /// `mode` (e.g. [`DEFAULT_MODE`]); `mtime` is set to now (Unix ms).
    /// `path` must pass [`names::validate_file_path`].
    pub fn write_file(
        &self,
        volume: Volume,
        path: &str,
        data: &[u8],
        mode: u32,
    ) -> Result<(), WorkbookError> {
        self.put_file(volume, path, data, mode, schema::now_ms())
    }

    /// [`Workbook::write_file`] with an explicit mtime (Unix ms).
    pub(super) fn put_file(
        &self,
        volume: Volume,
        path: &str,
        data: &[u8],
        mode: u32,
        mtime_ms: u64,
    ) -> Result<(), WorkbookError> {
        names::validate_file_path(path)?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO files(volume, path, data, mode, mtime)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                (volume.as_str(), path, data, mode, mtime_ms),
            )
            .map_err(|e| WorkbookError::on_write(&self.path, e))?;
        Ok(())
    }

    /// The contents of `path` in `volume`, or `None` if there is no such file.
    pub fn read_file(&self, volume: Volume, path: &str) -> Result<Option<Vec<u8>>, WorkbookError> {
        self.conn
            .query_row(
                "SELECT data FROM files WHERE volume = ?1 AND path = ?2",
                (volume.as_str(), path),
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| WorkbookError::on_read(&self.path, e))
    }

    /// Every file in `volume`, sorted by path.
    pub fn list_files(&self, volume: Volume) -> Result<Vec<FileEntry>, WorkbookError> {
        let read = |e| WorkbookError::on_read(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, length(data), mode, mtime FROM files
                 WHERE volume = ?1 ORDER BY path",
            )
            .map_err(read)?;
        let rows = stmt
            .query_map([volume.as_str()], |r| {
                Ok(FileEntry {
                    path: r.get(0)?,
                    size: r.get(1)?,
                    mode: r.get(2)?,
                    mtime_ms: r.get(3)?,
                })
            })
            .map_err(read)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(read)
    }

    /// Calls `visit(path, contents, mtime_ms)` for every file of `volume`,
    /// in path order, reading them in one pass.
    pub fn for_each_file<E: From<WorkbookError>>(
        &self,
        volume: Volume,
        mut visit: impl FnMut(&str, &[u8], u64) -> Result<(), E>,
    ) -> Result<(), E> {
        let read = |e| WorkbookError::on_read(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT path, data, mtime FROM files WHERE volume = ?1 ORDER BY path")
            .map_err(read)?;
        let mut rows = stmt.query([volume.as_str()]).map_err(read)?;
        while let Some(row) = rows.next().map_err(read)? {
            let path = row.get_ref(0).and_then(|v| Ok(v.as_str()?)).map_err(read)?;
            let data = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(read)?;
            let mtime_ms: u64 = row.get(2).map_err(read)?;
            visit(path, data, mtime_ms)?;
        }
        Ok(())
    }

    /// Paths in `volume` starting with `prefix`, sorted. The primary key
    /// index seeks to the first candidate and the scan stops at the first
    /// path past the prefix, so the cost follows the matches, not the volume.
    pub fn list_paths(&self, volume: Volume, prefix: &str) -> Result<Vec<String>, WorkbookError> {
        let read = |e| WorkbookError::on_read(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT path FROM files WHERE volume = ?1 AND path >= ?2 ORDER BY path")
            .map_err(read)?;
        let mut rows = stmt.query((volume.as_str(), prefix)).map_err(read)?;
        let mut paths = Vec::new();
        while let Some(row) = rows.next().map_err(read)? {
            let path: String = row.get(0).map_err(read)?;
            if !path.starts_with(prefix) {
                break;
            }
            paths.push(path);
        }
        Ok(paths)
    }

    /// Size and mtime of `path` in `volume`, or `None`; the contents are
    /// not read.
    pub fn stat_file(&self, volume: Volume, path: &str) -> Result<Option<FileStat>, WorkbookError> {
        self.conn
            .prepare_cached("SELECT length(data), mtime FROM files WHERE volume = ?1 AND path = ?2")
            .and_then(|mut stmt| {
                stmt.query_row((volume.as_str(), path), |r| {
                    Ok(FileStat {
                        size: r.get(0)?,
                        mtime_ms: r.get(1)?,
                    })
                })
                .optional()
            })
            .map_err(|e| WorkbookError::on_read(&self.path, e))
    }

    /// Removes `path` from `volume`; returns whether it existed.
    pub fn remove_file(&self, volume: Volume, path: &str) -> Result<bool, WorkbookError> {
        let n = self
            .conn
            .execute(
                "DELETE FROM files WHERE volume = ?1 AND path = ?2",
                (volume.as_str(), path),
            )
            .map_err(|e| WorkbookError::on_write(&self.path, e))?;
        Ok(n > 0)
    }

    /// Removes every file of `volume`; returns how many were removed.
    pub fn clear_volume(&self, volume: Volume) -> Result<u64, WorkbookError> {
        let n = self
            .conn
            .execute("DELETE FROM files WHERE volume = ?1", [volume.as_str()])
            .map_err(|e| WorkbookError::on_write(&self.path, e))?;
        Ok(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Field(#[serde(with = "by_name")] Volume);

    #[test]
    fn volumes_serialize_by_name() {
        for v in Volume::ALL {
            let json = serde_json::to_string(&Field(v)).expect("serialize");
            assert_eq!(json, format!("\"{}\"", v.as_str()));
            assert_eq!(
                serde_json::from_str::<Field>(&json).expect("deserialize"),
                Field(v)
            );
        }
        let err = serde_json::from_str::<Field>("\"Workspace\"").expect_err("capitalised");
        assert!(
            err.to_string().contains("unknown variant `Workspace`"),
            "{err}"
        );
    }
}
