//! Sandbox files on disk: uploads are staged, validated, then adopted under
//! the sandbox id with an atomic rename.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncWriteExt, BufWriter};

use nexus_errors::{Coded, ErrorCode, UserError};
use nexus_workbook::{ModuleInfo, Volume, Workbook};

use crate::lifecycle::storage::remove_workbook_file;

/// The directories holding live sandbox files, cold (frozen or archived)
/// copies and staged uploads.
pub struct SandboxFiles {
    sandboxes: PathBuf,
    cold: PathBuf,
    staging: PathBuf,
}

/// An uploaded file waiting to be adopted; removed on drop unless adopted.
pub struct StagedFile {
    path: Option<PathBuf>,
    /// sha256 of the uploaded bytes.
    pub sha256: String,
}

/// A module read from a workbook file, with the workbook's defaults.
pub struct EntryModule {
    /// The workbook's own name.
    pub name: String,
    /// The workbook's default profile.
    pub profile: String,
    /// sha256 of the entry module.
    pub module_sha256: String,
    /// The entry module's bytes.
    pub wasm: Vec<u8>,
}

impl SandboxFiles {
    /// Creates the directories under `data_dir` and drops stale uploads.
    pub fn create(data_dir: PathBuf) -> Result<SandboxFiles, UserError> {
        let files = SandboxFiles {
            sandboxes: data_dir.join("sandboxes"),
            cold: data_dir.join("cold"),
            staging: data_dir.join("staging"),
        };
        for dir in [&files.sandboxes, &files.cold, &files.staging] {
            std::fs::create_dir_all(dir).map_err(|e| io_error("create directory", dir, e))?;
        }
        if let Ok(entries) = std::fs::read_dir(&files.staging) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(files)
    }

    /// Writes an upload to the staging directory and syncs it.
    pub async fn stage(&self, bytes: Vec<u8>) -> Result<StagedFile, UserError> {
        let path = self.staging_path();
        tokio::task::spawn_blocking(move || {
            let sha256 = hex::encode(Sha256::digest(&bytes));
            let mut file =
                std::fs::File::create(&path).map_err(|e| io_error("create", &path, e))?;
            file.write_all(&bytes)
                .and_then(|_| file.sync_all())
                .map_err(|e| io_error("write", &path, e))?;
            Ok(StagedFile {
                path: Some(path),
                sha256,
            })
        })
        .await
        .map_err(|e| UserError::new(ErrorCode::Internal, format!("staging task failed: {e}")))?
    }

    /// Opens a staging file that an upload is streamed into.
    pub async fn stage_writer(&self) -> Result<StagedWriter, UserError> {
        let path = self.staging_path();
        let file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| io_error("create", &path, e))?;
        Ok(StagedWriter {
            file: BufWriter::with_capacity(WRITE_BUFFER, file),
            hasher: Sha256::new(),
            staged: StagedFile {
                path: Some(path),
                sha256: String::new(),
            },
        })
    }

    /// Creates an empty staging file, open for reading and writing, for
    /// bytes written in place (a moved-in file; no SHA-256 of the whole).
    pub fn stage_blank(&self) -> Result<(std::fs::File, StagedFile), UserError> {
        let path = self.staging_path();
        let file = std::fs::File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_error("create", &path, e))?;
        let staged = StagedFile {
            path: Some(path),
            sha256: String::new(),
        };
        Ok((file, staged))
    }

    fn staging_path(&self) -> PathBuf {
        self.staging
            .join(format!("{:016x}.upload", rand::random::<u64>()))
    }

    /// Copies a workbook file (e.g. a clone's source) into staging.
    pub async fn stage_copy(&self, source: &Path) -> Result<StagedFile, UserError> {
        let source = source.to_path_buf();
        let bytes = tokio::task::spawn_blocking(move || {
            std::fs::read(&source).map_err(|e| io_error("read", &source, e))
        })
        .await
        .map_err(|e| UserError::new(ErrorCode::Internal, format!("staging task failed: {e}")))??;
        self.stage(bytes).await
    }

    /// Moves a staged upload to its place as sandbox `sandbox_id`'s file
    /// and fsyncs the directory, so the move survives a crash.
    pub fn adopt(&self, staged: StagedFile, sandbox_id: &str) -> Result<PathBuf, UserError> {
        adopt_at(staged, self.path(sandbox_id), &self.sandboxes)
    }

    /// [`SandboxFiles::adopt`] as the sandbox's cold copy.
    pub fn adopt_cold(&self, staged: StagedFile, sandbox_id: &str) -> Result<PathBuf, UserError> {
        adopt_at(staged, self.cold_path(sandbox_id), &self.cold)
    }

    /// The live file of a sandbox.
    pub fn path(&self, sandbox_id: &str) -> PathBuf {
        self.sandboxes.join(format!("{sandbox_id}.workbook"))
    }

    /// The cold copy of a frozen or archived sandbox.
    pub fn cold_path(&self, sandbox_id: &str) -> PathBuf {
        self.cold.join(format!("{sandbox_id}.workbook"))
    }

    /// The directories recovery scans: (live, cold).
    pub fn dirs(&self) -> (&Path, &Path) {
        (&self.sandboxes, &self.cold)
    }

    /// Deletes a sandbox's live and cold files and any SQLite side files.
    /// Missing files are fine.
    pub fn remove(&self, sandbox_id: &str) {
        remove_workbook_file(&self.path(sandbox_id));
        remove_workbook_file(&self.cold_path(sandbox_id));
    }
}

/// Renames a staged file to `target` in `dir` and fsyncs `dir`. Any file
/// there before is replaced (with its stale SQLite side files).
fn adopt_at(mut staged: StagedFile, target: PathBuf, dir: &Path) -> Result<PathBuf, UserError> {
    let source = staged
        .path
        .take()
        .ok_or_else(|| UserError::new(ErrorCode::Internal, "staged upload was already adopted"))?;
    for side in ["-wal", "-shm"] {
        let mut name = target.as_os_str().to_owned();
        name.push(side);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
    std::fs::rename(&source, &target).map_err(|e| io_error("move", &source, e))?;
    if let Err(e) = nexus_durable::sync_dir(dir) {
        remove_workbook_file(&target);
        return Err(UserError::new(ErrorCode::Internal, format!("cannot {e}")));
    }
    Ok(target)
}

/// An upload being streamed to staging; its file is removed on drop unless
/// [`StagedWriter::finish`] hands it on.
pub struct StagedWriter {
    file: BufWriter<tokio::fs::File>,
    hasher: Sha256,
    staged: StagedFile,
}

/// Bytes gathered before one write to disk (small pieces of a body or a
/// QUIC stream would otherwise each cost a trip to the blocking pool).
const WRITE_BUFFER: usize = 1 << 20;

impl StagedWriter {
    /// Appends a piece of the upload.
    pub async fn write(&mut self, piece: &[u8]) -> Result<(), UserError> {
        self.hasher.update(piece);
        self.file
            .write_all(piece)
            .await
            .map_err(|e| self.error("write", e))
    }

    /// Syncs the file and returns it as a staged upload with its sha256.
    pub async fn finish(mut self) -> Result<StagedFile, UserError> {
        self.file
            .flush()
            .await
            .map_err(|e| self.error("write", e))?;
        self.file
            .get_ref()
            .sync_all()
            .await
            .map_err(|e| self.error("sync", e))?;
        self.staged.sha256 = hex::encode(self.hasher.finalize());
        Ok(self.staged)
    }

    fn error(&self, action: &str, e: std::io::Error) -> UserError {
        io_error(action, self.staged.path().unwrap_or(Path::new("")), e)
    }
}

impl StagedFile {
    /// Where the upload is staged.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            remove_workbook_file(path);
        }
    }
}

/// Opens and fully validates an uploaded workbook file and reads module
/// `name` (the entry module when `None`).
pub fn load_module(path: &Path, name: Option<&str>) -> Result<EntryModule, UserError> {
    read_module(Workbook::open(path), name)
}

/// Reads the entry module of a workbook file without writing to it or
/// beside it (a moved-in copy whose bytes are checked block by block).
pub fn peek_entry_module(path: &Path) -> Result<EntryModule, UserError> {
    read_module(Workbook::open_read_only(path), None)
}

/// Reads module `name` (the entry module when `None`) from a sandbox's live
/// file, which was validated when it was docked.
pub fn load_live_module(path: &Path, name: Option<&str>) -> Result<EntryModule, UserError> {
    read_module(Workbook::open_live(path), name)
}

/// What a resume needs to know of a workbook at rest (a frozen or archived
/// sandbox's cold copy), read without writing to it or beside it.
pub struct AtRest {
    /// Its entry module.
    pub module: EntryModule,
    /// Files in its `tmp` volume (emptied on resume).
    pub tmp_files: u64,
}

/// Reads the entry module and the `tmp` volume's file count of the
/// checkpointed workbook at `path`, read-only and without validating it
/// again (it was validated at dock; the live path does the same).
pub fn read_at_rest(path: &Path) -> Result<AtRest, UserError> {
    let workbook = Workbook::open_trusted_read_only(path).map_err(|e| e.to_user_error())?;
    let tmp_files = workbook
        .volume_stats(Volume::Tmp)
        .map_err(|e| e.to_user_error())?
        .files;
    Ok(AtRest {
        module: read_module(Ok(workbook), None)?,
        tmp_files,
    })
}

fn read_module(
    workbook: Result<Workbook, nexus_workbook::WorkbookError>,
    name: Option<&str>,
) -> Result<EntryModule, UserError> {
    let workbook = workbook.map_err(|e| e.to_user_error())?;
    let meta = workbook.meta().map_err(|e| e.to_user_error())?;
    let (info, wasm) = match name {
        None => workbook.entry_module(),
        Some(name) => workbook.module_wasm(name).map(|wasm| {
            let info = ModuleInfo {
                name: name.to_string(),
                sha256: nexus_workbook::sha256_hex(&wasm),
                size: wasm.len() as u64,
            };
            (info, wasm)
        }),
    }
    .map_err(|e| e.to_user_error())?;
    Ok(EntryModule {
        name: meta.name,
        profile: meta.profile,
        module_sha256: info.sha256,
        wasm,
    })
}

fn io_error(action: &str, path: &Path, e: std::io::Error) -> UserError {
    UserError::new(
        ErrorCode::Internal,
        format!("cannot {action} {}: {e}", path.display()),
    )
}
