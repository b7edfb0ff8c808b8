//! The [`Workbook`] handle: creating, opening (with validation) and closing.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{header, names, schema, validate, WorkbookError};

/// How long a statement waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// An open workbook file. Owns one SQLite connection; `Send`, not `Sync`.
///
/// Dropping it closes the connection; SQLite then checkpoints the WAL and
/// removes the `-wal`/`-shm` files if this was the last connection. Use
/// [`Workbook::close`] to see errors of that last step.
#[derive(Debug)]
pub struct Workbook {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
}

impl Workbook {
    /// Creates a new, empty workbook called `name` at `path` (WAL mode, schema
    /// v1, `profile = "compute"`, `created_at` = now). Refuses to overwrite an
    /// existing path. The file is removed again if creation fails.
    pub fn create(path: &Path, name: &str) -> Result<Workbook, WorkbookError> {
        names::validate_name("workbook name", name)?;
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| WorkbookError::WriteFailed {
                path: path.to_path_buf(),
                reason: if e.kind() == std::io::ErrorKind::AlreadyExists {
                    "the path already exists; refusing to overwrite it".to_string()
                } else {
                    e.to_string()
                },
            })?;
        let made = Self::create_in_empty_file(path, name);
        if made.is_err() {
            // Only this call created the file: nothing else can hold it.
            let _ = std::fs::remove_file(path);
        }
        made
    }

    /// Creates the workbook inside `path`, an empty file the caller made.
    pub(super) fn create_in_empty_file(path: &Path, name: &str) -> Result<Workbook, WorkbookError> {
        names::validate_name("workbook name", name)?;
        let conn = open_read_write(path).map_err(|e| WorkbookError::on_write(path, e))?;
        schema::create(&conn, path, name, schema::now_ms())?;
        Ok(Workbook {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing workbook for reading and writing, after full
    /// validation (header, SQLite integrity, format version, every module's
    /// sha256 and wasm validity).
    ///
    /// Validation runs on a separate read-only connection (see
    /// [`Workbook::open_read_only`]), so a refused file is never opened for
    /// writing and never modified. The read-write connection is opened only
    /// once the file passed; it creates `-wal`/`-shm` while open and SQLite
    /// removes them when the handle is dropped.
    pub fn open(path: &Path) -> Result<Workbook, WorkbookError> {
        drop(Self::open_read_only(path)?);
        let conn = open_read_write(path).map_err(|e| WorkbookError::on_read(path, e))?;
        Ok(Workbook {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens a workbook this node validated before (a docked sandbox's live
    /// file) for reading and writing, skipping the full validation that
    /// [`Workbook::open`] does on untrusted files.
    pub fn open_live(path: &Path) -> Result<Workbook, WorkbookError> {
        if !path.is_file() {
            return Err(WorkbookError::Unreadable {
                path: path.to_path_buf(),
                reason: "no such file".to_string(),
            });
        }
        let conn = open_read_write(path).map_err(|e| WorkbookError::on_read(path, e))?;
        Ok(Workbook {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens a workbook this node validated before and keeps at rest (a
    /// frozen sandbox's cold copy) read-only: no validation, and, like
    /// [`Workbook::open_read_only`], no writes to it or files beside it.
    pub fn open_trusted_read_only(path: &Path) -> Result<Workbook, WorkbookError> {
        let conn = open_read_only_conn(path).map_err(|e| WorkbookError::on_read(path, e))?;
        Ok(Workbook {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens and fully validates a workbook without ever writing to it or
    /// creating files next to it: when no `-wal` file sits next to it,
    /// SQLite opens it as `immutable` (no locks, no `-shm`). If a `-wal`
    /// exists (a live or uncleanly closed workbook), it is opened plainly
    /// read-only, with locks, so committed WAL frames are seen. Writes through the handle
    /// fail with [`WorkbookError::WriteFailed`].
    pub fn open_read_only(path: &Path) -> Result<Workbook, WorkbookError> {
        let workbook = Self::open_structure(path)?;
        validate::check_modules(&workbook.conn, path)?;
        Ok(workbook)
    }

    /// Like [`Workbook::open_read_only`] but without checking the modules'
    /// stored sha256 and wasm validity, for signature verification, which
    /// reports a module changed after signing as a bad signature.
    pub fn open_unchecked_modules(path: &Path) -> Result<Workbook, WorkbookError> {
        Self::open_structure(path)
    }

    fn open_structure(path: &Path) -> Result<Workbook, WorkbookError> {
        header::check(path)?;
        let conn = open_read_only_conn(path).map_err(|e| WorkbookError::on_read(path, e))?;
        validate::validate_structure(&conn, path)?;
        Ok(Workbook {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The path this workbook was created or opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Copies every WAL frame into the database file and truncates the WAL
    /// (`PRAGMA wal_checkpoint(TRUNCATE)`). Fails if another connection kept
    /// the checkpoint from completing.
    pub fn checkpoint(&self) -> Result<(), WorkbookError> {
        if self
            .checkpoint_within(BUSY_TIMEOUT, WalAfter::Truncated)?
            .complete
        {
            return Ok(());
        }
        Err(WorkbookError::WriteFailed {
            path: self.path.clone(),
            reason: "checkpoint blocked by another connection".to_string(),
        })
    }

    /// Copies every WAL frame into the database file, leaving the WAL as
    /// `after` says, waiting at most `wait` for another connection's
    /// transaction; says what it did instead of failing when it could not
    /// complete.
    pub fn checkpoint_within(
        &self,
        wait: Duration,
        after: WalAfter,
    ) -> Result<Checkpointed, WorkbookError> {
        let on_write = |e| WorkbookError::on_write(&self.path, e);
        let sql = match after {
            WalAfter::Restarted => "PRAGMA wal_checkpoint(RESTART)",
            WalAfter::Truncated => "PRAGMA wal_checkpoint(TRUNCATE)",
        };
        self.conn.busy_timeout(wait).map_err(on_write)?;
        let result = self
            .conn
            .query_row(sql, [], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)));
        self.conn.busy_timeout(BUSY_TIMEOUT).map_err(on_write)?;
        let (busy, frames) = result.map_err(on_write)?;
        Ok(Checkpointed {
            complete: busy == 0,
            frames: u64::try_from(frames).unwrap_or(0),
        })
    }

    /// Lets SQLite checkpoint on its own (at a commit) only once the WAL
    /// holds `pages` pages; 0 never.
    pub fn checkpoint_automatically_at(&self, pages: u32) -> Result<(), WorkbookError> {
        self.conn
            .pragma_update(None, "wal_autocheckpoint", pages)
            .map_err(|e| WorkbookError::on_write(&self.path, e))
    }

    /// Checkpoints and closes the workbook, reporting errors that a plain
    /// drop would swallow. Afterwards the single file holds everything.
    pub fn close(self) -> Result<(), WorkbookError> {
        if !self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) {
            self.checkpoint()?;
        }
        let path = self.path;
        self.conn
            .close()
            .map_err(|(_, e)| WorkbookError::on_write(&path, e))
    }

    /// Runs `f` in one transaction: what it writes lands together when it
    /// returns `Ok`, and none of it when it returns `Err`.
    pub fn atomically<T, E: From<WorkbookError>>(
        &self,
        f: impl FnOnce(&Workbook) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| WorkbookError::on_write(&self.path, e))?;
        let value = f(self)?;
        tx.commit()
            .map_err(|e| WorkbookError::on_write(&self.path, e))?;
        Ok(value)
    }

    /// Runs `f` in one transaction; commits if it succeeds.
    pub(super) fn in_transaction<T>(
        &self,
        f: impl FnOnce() -> Result<T, WorkbookError>,
    ) -> Result<T, WorkbookError> {
        self.atomically(|_| f())
    }
}

/// The WAL after a complete [`Workbook::checkpoint_within`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalAfter {
    /// Kept as it is (every frame now in the database file); the next
    /// write starts it over. The checkpoint reports the frames it took.
    Restarted,
    /// Truncated to nothing; the checkpoint reports 0 frames.
    Truncated,
}

/// What one [`Workbook::checkpoint_within`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpointed {
    /// Every frame went into the database file and the WAL was truncated;
    /// otherwise another connection's transaction or read kept it from that
    /// (some frames may have gone in, the WAL goes on).
    pub complete: bool,
    /// The frames the WAL held when the checkpoint ran (0 without a WAL,
    /// and always 0 for [`WalAfter::Truncated`]).
    pub frames: u64,
}

/// A read-write connection to an existing file (never creates one).
pub(super) fn open_read_write(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// A connection that cannot write to `path` nor create files next to it
/// (immutable), unless a `-wal` exists: then another connection may be
/// writing, and a plain read-only connection (with locks) is used.
fn open_read_only_conn(path: &Path) -> rusqlite::Result<Connection> {
    let live = super::output::sidecar(path, "-wal").exists();
    let query = if live { "mode=ro" } else { "immutable=1" };
    let uri = format!("{}?{query}", file_uri(path));
    let conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// `file://` URI of `path` (made absolute), percent-encoding every byte
/// outside the unreserved set so `?`, `#` and `%` in names are safe.
fn file_uri(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        abs.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = abs.to_string_lossy().replace('\\', "/").into_bytes();
    let mut uri = String::from("file://");
    if !bytes.starts_with(b"/") {
        uri.push('/');
    }
    for b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~') {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_escapes_specials() {
        assert_eq!(
            file_uri(Path::new("/tmp/a b?c#d%e.workbook")),
            "file:///tmp/a%20b%3Fc%23d%25e.workbook"
        );
    }

    #[test]
    fn workbook_is_send() {
        fn is_send<T: Send>() {}
        is_send::<Workbook>();
    }
}
