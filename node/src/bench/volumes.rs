//! Files: the same work through the volumes preopened as directories
//! (`std::fs`, libc) and through the `nexus_v1` vfs imports, each a whole
//! call as a client sees it (for preopens: writing the volumes out, the
//! program, writing its changes back).

use std::time::Instant;

use super::report::{percentile_us, Figure};
use super::scenarios::figure;
use super::{internal, wat_workbook, Rig};
use crate::sandbox::DockRequest;
use nexus_engine::CommandInput;
use nexus_errors::{Coded, UserError};
use nexus_workbook::{Volume, Workbook};

const FILES_READ: &str = include_str!("guests/files_read.wat");
const VFS_READ: &str = include_str!("guests/vfs_read.wat");
const FILES_WRITE: &str = include_str!("guests/files_write.wat");
const VFS_WRITE: &str = include_str!("guests/vfs_write.wat");
/// A command that uses paths but does nothing: the fixed cost of preopens.
const PREOPEN_ONLY: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")))"#;

/// Files the read scenarios read.
const FILES: usize = 1000;
/// Size of each, in bytes.
const FILE_BYTES: usize = 4096;

/// p50 of each of the five programs over `runs` calls each.
pub async fn files(rig: &Rig, runs: usize) -> Result<Vec<Figure>, UserError> {
    let contents = vec![b'n'; FILE_BYTES];
    let with_files = |workbook: &Workbook| -> Result<(), UserError> {
        for i in 0..FILES {
            workbook
                .write_file(Volume::Workspace, &format!("f{i:04}"), &contents, 0o644)
                .map_err(|e| e.to_user_error())?;
        }
        Ok(())
    };
    let no_files = |_: &Workbook| Ok(());
    let read_note = "1,000 files of 4 KiB in /workspace; the whole call";
    let write_note = "64 MiB into /workspace; the whole call, written back into the workbook";
    Ok(vec![
        figure(
            "command with the volumes preopened (empty), p50",
            p50(rig, "preopen", PREOPEN_ONLY, runs, no_files).await?,
            "ms",
            None,
            "a command importing fd_prestat_get that does nothing: write out, preopen, write back",
        ),
        figure(
            "command with 1,000 files preopened, reading none, p50",
            p50(rig, "preopen-files", PREOPEN_ONLY, runs, with_files).await?,
            "ms",
            None,
            "the fixed cost of 1,000 files of 4 KiB: written out before the call, scanned after",
        ),
        figure(
            "read 1,000 files via preopened /workspace, p50",
            p50(rig, "files-read", FILES_READ, runs, with_files).await?,
            "ms",
            None,
            read_note,
        ),
        figure(
            "read 1,000 files via nexus_v1 vfs_read, p50",
            p50(rig, "vfs-read", VFS_READ, runs, with_files).await?,
            "ms",
            None,
            read_note,
        ),
        figure(
            "write 64 MiB via preopened /workspace, p50",
            p50(rig, "files-write", FILES_WRITE, runs, no_files).await?,
            "ms",
            None,
            write_note,
        ),
        figure(
            "write 64 MiB via nexus_v1 vfs_write, p50",
            p50(rig, "vfs-write", VFS_WRITE, runs, no_files).await?,
            "ms",
            None,
            write_note,
        ),
    ])
}

/// Docks `wat` (with `fill` applied to its workbook) and times `runs`
/// calls; their p50 in milliseconds.
async fn p50(
    rig: &Rig,
    name: &str,
    wat: &str,
    runs: usize,
    fill: impl Fn(&Workbook) -> Result<(), UserError>,
) -> Result<f64, UserError> {
    let path = rig.path(&format!("{name}.workbook"));
    wat_workbook(&path, name, wat)?;
    let workbook = Workbook::open(&path).map_err(|e| e.to_user_error())?;
    fill(&workbook)?;
    workbook.close().map_err(|e| e.to_user_error())?;
    let bytes = std::fs::read(&path).map_err(|e| internal(&e.to_string()))?;
    let m = &rig.manager;
    let s = m.dock(&rig.tenant, bytes, DockRequest::default()).await?;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let out = m.call(&rig.tenant, &s.id, CommandInput::default()).await?;
        samples.push(started.elapsed());
        if out.exit_code != 0 {
            return Err(internal(&format!("{name} exited with {}", out.exit_code)));
        }
    }
    Ok(percentile_us(&mut samples, 50.0) / 1000.0)
}
