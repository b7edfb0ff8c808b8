//! `pack`: build a workbook from a directory with a `workbook.toml`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::manifest::{invalid, resolve, Manifest, MANIFEST_FILE};
use super::output::{report_as, Staged};
use super::{names, Inspection, Volume, Workbook, WorkbookError, DEFAULT_MODE};

/// Deepest directory nesting walked (guards against symlink loops).
const MAX_DEPTH: usize = 64;

/// One file to copy into the workbook.
struct Planned {
    volume: Volume,
    dest: String,
    src: PathBuf,
    /// Its size when planned (for progress only).
    len: u64,
}

/// Builds a workbook from `dir/workbook.toml` and writes it to `out`
/// (replacing an existing file). The manifest, every module and every file
/// are checked before anything is written; the workbook is built in a temp
/// file next to `out` and renamed onto it only when complete, so a failed
/// pack leaves `out` untouched.
pub fn pack(dir: &Path, out: &Path) -> Result<Inspection, WorkbookError> {
    pack_with_progress(dir, out, |_| {})
}

/// How far a pack is: bytes of files copied into the workbook so far, of all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackProgress {
    /// File bytes copied so far.
    pub done_bytes: u64,
    /// File bytes to copy in all.
    pub total_bytes: u64,
    /// Files copied so far.
    pub done_files: usize,
    /// Files to copy in all.
    pub total_files: usize,
}

/// [`pack`], calling `progress` once the files are planned and after each
/// file is copied (a progress bar for a large directory).
pub fn pack_with_progress(
    dir: &Path,
    out: &Path,
    mut progress: impl FnMut(PackProgress),
) -> Result<Inspection, WorkbookError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest = Manifest::load(&manifest_path)?;
    let modules = manifest.read_modules(dir, &manifest_path)?;
    let files = plan_files(&manifest, dir, &manifest_path)?;
    let mut done = PackProgress {
        done_bytes: 0,
        total_bytes: files.iter().map(|f| f.len).sum(),
        done_files: 0,
        total_files: files.len(),
    };
    progress(done);

    let staged = Staged::new(out)?;
    let wb = Workbook::create_in_empty_file(staged.path(), &manifest.name)?;
    wb.in_transaction(|| {
        if let Some(entry) = &manifest.entry {
            wb.set_meta("entry", entry)?;
        }
        wb.set_meta("profile", manifest.profile())?;
        if !manifest.env.is_empty() {
            wb.set_env(&manifest.env)?;
        }
        for (name, wasm) in &modules {
            wb.add_module(name, wasm)?;
        }
        for f in &files {
            let data = std::fs::read(&f.src).map_err(|e| {
                invalid(
                    &manifest_path,
                    format!("cannot read {}: {e}", f.src.display()),
                )
            })?;
            let (mode, mtime_ms) = file_stat(&f.src);
            wb.put_file(f.volume, &f.dest, &data, mode, mtime_ms)?;
            done.done_bytes += data.len() as u64;
            done.done_files += 1;
            progress(done);
        }
        for s in &manifest.schedules {
            let input = s.input.as_deref().map(str::as_bytes);
            wb.set_schedule(&s.name, &s.cron, s.entry.as_deref(), input)?;
        }
        Ok(())
    })
    .map_err(|e| report_as(e, out))?;
    let inspection = wb.inspect().map_err(|e| report_as(e, out))?;
    wb.close().map_err(|e| report_as(e, out))?;
    staged.commit()?;
    Ok(inspection)
}

/// Expands every `[[files]]` entry into single files, refusing missing
/// sources, bad destinations and two sources for one destination.
fn plan_files(
    manifest: &Manifest,
    dir: &Path,
    manifest_path: &Path,
) -> Result<Vec<Planned>, WorkbookError> {
    let mut planned = Vec::new();
    let mut seen: HashMap<(Volume, String), usize> = HashMap::new();
    for (i, entry) in manifest.files.iter().enumerate() {
        let bad = |field: &str, reason: String| {
            invalid(manifest_path, format!("files[{i}].{field}: {reason}"))
        };
        let src = resolve(dir, &entry.src).map_err(|r| bad("src", r))?;
        let src_rel = slash_path(&entry.src).map_err(|r| bad("src", r))?;
        let dest = match &entry.dest {
            Some(d) => d.trim_matches('/').trim_start_matches("./").to_string(),
            None => src_rel,
        };
        let dest = if dest == "." { String::new() } else { dest };
        if !dest.is_empty() {
            names::validate_file_path(&dest).map_err(|e| bad("dest", e.to_string()))?;
        }
        let meta = std::fs::metadata(&src)
            .map_err(|e| bad("src", format!("cannot read {}: {e}", src.display())))?;
        let mut found = Vec::new();
        if meta.is_dir() {
            walk(&src, "", 0, &mut found).map_err(|r| bad("src", r))?;
        } else if meta.is_file() {
            if dest.is_empty() {
                return Err(bad(
                    "dest",
                    "a single file needs a file path, not the volume root".into(),
                ));
            }
            found.push((String::new(), src.clone()));
        } else {
            return Err(bad(
                "src",
                format!("{} is neither a file nor a directory", src.display()),
            ));
        }
        for (rel, file) in found {
            let path = match (dest.is_empty(), rel.is_empty()) {
                (true, _) => rel,
                (false, true) => dest.clone(),
                (false, false) => format!("{dest}/{rel}"),
            };
            if let Some(j) = seen.insert((entry.volume, path.clone()), i) {
                return Err(bad(
                    "dest",
                    format!("{}:{path} is also written by files[{j}]", entry.volume),
                ));
            }
            let len = std::fs::metadata(&file).map_or(0, |m| m.len());
            planned.push(Planned {
                volume: entry.volume,
                dest: path,
                src: file,
                len,
            });
        }
    }
    Ok(planned)
}

/// Collects the files under `dir` as (`/`-joined relative path, path),
/// sorted by name; follows symlinks up to [`MAX_DEPTH`] levels.
fn walk(
    dir: &Path,
    prefix: &str,
    depth: usize,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "{} nests deeper than {MAX_DEPTH} levels (symlink loop?)",
            dir.display()
        ));
    }
    let read_err = |e: std::io::Error| format!("cannot read {}: {e}", dir.display());
    let mut entries = std::fs::read_dir(dir)
        .map_err(read_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|n| format!("{} has a name that is not UTF-8: {n:?}", dir.display()))?;
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let meta =
            std::fs::metadata(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if meta.is_dir() {
            walk(&path, &rel, depth + 1, out)?;
        } else if meta.is_file() {
            out.push((rel, path));
        } else {
            return Err(format!(
                "{} is neither a file nor a directory",
                path.display()
            ));
        }
    }
    Ok(())
}

/// `rel` as a `/`-joined string without `.` components ("" for the root).
fn slash_path(rel: &Path) -> Result<String, String> {
    let mut parts = Vec::new();
    for c in rel.components() {
        if let std::path::Component::Normal(part) = c {
            let part = part
                .to_str()
                .ok_or_else(|| format!("{} is not UTF-8", rel.display()))?;
            parts.push(part);
        }
    }
    Ok(parts.join("/"))
}

/// Unix mode bits and mtime (ms) of `path`; defaults if unavailable.
fn file_stat(path: &Path) -> (u32, u64) {
    let Ok(meta) = std::fs::metadata(path) else {
        return (DEFAULT_MODE, 0);
    };
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o7777
    };
    #[cfg(not(unix))]
    let mode = DEFAULT_MODE;
    let mtime_ms = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    (mode, mtime_ms)
}
