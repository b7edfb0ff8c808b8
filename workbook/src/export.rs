//! Export: a copy of a workbook for handing to someone else, with only the
//! `workspace` volume.

use std::path::Path;
use std::time::Duration;

use rusqlite::backup::Backup;

use super::open::open_read_write;
use super::output::{report_as, Staged};
use super::{Workbook, WorkbookError};

/// Pages copied per backup step.
const PAGES_PER_STEP: std::os::raw::c_int = 1024;

impl Workbook {
    /// Writes a copy of this workbook to `out` without the `memory` and
    /// `tmp` volumes. Meta, modules, workspace files, kv and schedules are
    /// kept.
    ///
    /// The copy is made with SQLite's backup API into a temp file next to
    /// `out`; the stripped volumes are deleted there, the copy is
    /// VACUUMed (so no stripped bytes linger in free pages), checkpointed,
    /// closed, fsynced and renamed onto `out`. The source is only read. `out`
    /// is replaced if it exists, unless it is the source itself.
    pub fn export(&self, out: &Path) -> Result<(), WorkbookError> {
        if is_same_file(&self.path, out) {
            return Err(WorkbookError::WriteFailed {
                path: out.to_path_buf(),
                reason: "refusing to export a workbook onto itself".to_string(),
            });
        }
        let staged = Staged::new(out)?;
        let tmp = staged.path().to_path_buf();
        let mut dst = open_read_write(&tmp).map_err(|e| WorkbookError::on_write(out, e))?;
        Backup::new(&self.conn, &mut dst)
            .and_then(|b| b.run_to_completion(PAGES_PER_STEP, Duration::ZERO, None))
            .map_err(|e| WorkbookError::on_write(out, e))?;
        let copy = Workbook {
            conn: dst,
            path: tmp,
        };
        copy.strip_for_export()
            .and_then(|()| copy.close())
            .map_err(|e| report_as(e, out))?;
        staged.commit()
    }

    /// Deletes `memory` and `tmp` files, then VACUUMs in WAL mode.
    fn strip_for_export(&self) -> Result<(), WorkbookError> {
        let fail = |e| WorkbookError::on_write(&self.path, e);
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(fail)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(WorkbookError::WriteFailed {
                path: self.path.clone(),
                reason: format!("cannot switch the copy to WAL mode (stays {mode})"),
            });
        }
        self.conn
            .execute_batch("DELETE FROM files WHERE volume IN ('memory', 'tmp'); VACUUM;")
            .map_err(fail)
    }
}

/// Whether `a` and `b` name the same existing file.
fn is_same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
