//! [`SandboxData`] over a sandbox's live workbook file: the `kv` and `vfs`
//! host imports read and write the workbook's `kv` and `files` tables, so a
//! guest's state lives in its file and survives suspend, freeze and moves.

use std::path::PathBuf;
use std::sync::Mutex;

use nexus_engine::{DataError, FileChange, FileStat, FileVisitor, SandboxData};
use nexus_workbook::{Volume, Workbook, WorkbookError, DEFAULT_MODE};

/// A sandbox's live workbook, opened on first use and kept open until the
/// sandbox is suspended (the handle is dropped with its context). Its WAL
/// is checkpointed by the node (see [`super::wal`]).
pub struct WorkbookData {
    path: PathBuf,
    workbook: Mutex<Option<Workbook>>,
}

impl WorkbookData {
    /// Data backed by the live file at `path`.
    pub fn new(path: PathBuf) -> WorkbookData {
        WorkbookData {
            path,
            workbook: Mutex::new(None),
        }
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Workbook) -> Result<T, WorkbookError>,
    ) -> Result<T, DataError> {
        let mut slot = self.workbook.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            let workbook = Workbook::open_live(&self.path).map_err(to_data_error)?;
            workbook
                .checkpoint_automatically_at(super::wal::AUTOMATIC_CHECKPOINT_PAGES)
                .map_err(to_data_error)?;
            *slot = Some(workbook);
        }
        match slot.as_ref() {
            Some(workbook) => f(workbook).map_err(to_data_error),
            None => Err(DataError("workbook is not open".to_string())),
        }
    }
}

impl WorkbookData {
    /// [`WorkbookData::with`] for work that can also fail with the caller's
    /// own [`DataError`], which comes back unchanged.
    fn with_failure(
        &self,
        f: impl FnOnce(&Workbook) -> Result<(), Failure>,
    ) -> Result<(), DataError> {
        let mut failure = None;
        self.with(|w| {
            f(w).or_else(|e| match e {
                Failure::Data(d) => {
                    failure = Some(d);
                    Ok(())
                }
                Failure::Workbook(e) => Err(e),
            })
        })?;
        failure.map_or(Ok(()), Err)
    }
}

fn to_data_error(e: WorkbookError) -> DataError {
    DataError(e.to_string())
}

/// A failure inside a workbook transaction: the store's, or the caller's.
enum Failure {
    Workbook(WorkbookError),
    Data(DataError),
}

impl From<WorkbookError> for Failure {
    fn from(e: WorkbookError) -> Self {
        Failure::Workbook(e)
    }
}

impl SandboxData for WorkbookData {
    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, DataError> {
        self.with(|w| w.kv_get(key))
    }

    fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), DataError> {
        self.with(|w| w.kv_set(key, value))
    }

    fn kv_delete(&self, key: &str) -> Result<bool, DataError> {
        self.with(|w| w.kv_delete(key))
    }

    fn read_file(&self, volume: Volume, path: &str) -> Result<Option<Vec<u8>>, DataError> {
        self.with(|w| w.read_file(volume, path))
    }

    fn write_file(&self, volume: Volume, path: &str, data: &[u8]) -> Result<(), DataError> {
        self.with(|w| w.write_file(volume, path, data, DEFAULT_MODE))
    }

    fn list(&self, volume: Volume, prefix: &str) -> Result<Vec<String>, DataError> {
        self.with(|w| w.list_paths(volume, prefix))
    }

    fn stat(&self, volume: Volume, path: &str) -> Result<Option<FileStat>, DataError> {
        self.with(|w| w.stat_file(volume, path))
    }

    fn delete(&self, volume: Volume, path: &str) -> Result<bool, DataError> {
        self.with(|w| w.remove_file(volume, path))
    }

    fn for_each_file(&self, volume: Volume, visit: &mut FileVisitor<'_>) -> Result<(), DataError> {
        self.with_failure(|w| {
            w.for_each_file(volume, |path, data, mtime_ms| {
                visit(path, data, mtime_ms).map_err(Failure::Data)
            })
        })
    }

    fn apply(
        &self,
        changes: &mut dyn Iterator<Item = Result<FileChange, DataError>>,
    ) -> Result<(), DataError> {
        self.with_failure(|w| {
            w.atomically(|w| {
                for change in changes {
                    match change.map_err(Failure::Data)? {
                        FileChange::Write { volume, path, data } => {
                            w.write_file(volume, &path, &data, DEFAULT_MODE)?
                        }
                        FileChange::Delete { volume, path } => {
                            w.remove_file(volume, &path)?;
                        }
                    }
                }
                Ok::<(), Failure>(())
            })
        })
    }
}
