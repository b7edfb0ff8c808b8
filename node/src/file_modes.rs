//! Private data: a node's files are readable by its own user only.
//!
//! A process that runs a node sets its umask to `077` first
//! ([`make_private`]), so every file and directory it creates — SQLite's
//! registry and workbooks, their journals, cold copies, logs it writes — is
//! 0600 or 0700 whatever the shell's umask. A data dir on its first start is
//! made 0700 ([`tighten_fresh_data_dir`]). At
//! start [`loosened`] walks the data dir and the node warns about entries an
//! operator made readable by others; it does not change them back.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Entries of the data dir looked at by [`loosened`] at most (a data dir
/// holds a few files per sandbox; the walk stops here).
pub const MAX_ENTRIES_CHECKED: usize = 200_000;

/// Sets the process umask to `077`. Call it before a node creates files.
pub fn make_private() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Makes a data dir that holds no registry yet (its first start: made by
/// hand, by `mktemp -d` or by `nexus init`) 0700. A data dir in use keeps
/// its mode; [`warn_if_loosened`] reports it.
pub fn tighten_fresh_data_dir(data_dir: &Path) {
    if data_dir.join("registry.db").exists() {
        return;
    }
    if let Err(e) = std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700)) {
        tracing::warn!(data_dir = %data_dir.display(), error = %e, "cannot make the new data dir 0700");
    }
}

/// Entries under `dir` (and `dir` itself) with any group or other
/// permission bit, with their mode, in walk order; symlinks are not
/// followed. At most [`MAX_ENTRIES_CHECKED`] entries are looked at.
pub fn loosened(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    let mut seen = 0usize;
    while let Some(path) = pending.pop() {
        seen += 1;
        if seen > MAX_ENTRIES_CHECKED {
            break;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o777;
        if meta.file_type().is_symlink() {
            continue;
        }
        if mode & 0o077 != 0 {
            found.push((path.clone(), mode));
        }
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
    found
}

/// Logs one warning naming how many entries of `data_dir` others can
/// read and the first few, with the command that tightens them.
pub fn warn_if_loosened(data_dir: &Path) {
    let found = loosened(data_dir);
    if found.is_empty() {
        return;
    }
    let examples: Vec<String> = found
        .iter()
        .take(3)
        .map(|(path, mode)| format!("{} ({mode:o})", path.display()))
        .collect();
    tracing::warn!(
        data_dir = %data_dir.display(),
        entries = found.len(),
        examples = %examples.join(", "),
        hint = %format!("chmod -R go-rwx {}", data_dir.display()),
        "data dir entries are readable by other users; the node keeps its files 0600 and directories 0700"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn set(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn finds_entries_others_can_read_and_skips_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        set(root, 0o700);
        fs::create_dir(root.join("sandboxes")).unwrap();
        set(&root.join("sandboxes"), 0o700);
        fs::write(root.join("sandboxes/a.workbook"), b"x").unwrap();
        set(&root.join("sandboxes/a.workbook"), 0o600);
        fs::write(root.join("registry.db"), b"x").unwrap();
        set(&root.join("registry.db"), 0o600);
        assert!(loosened(root).is_empty());

        set(&root.join("sandboxes/a.workbook"), 0o644);
        set(&root.join("sandboxes"), 0o755);
        std::os::unix::fs::symlink("/etc/passwd", root.join("link")).unwrap();
        let mut found = loosened(root);
        found.sort();
        assert_eq!(
            found,
            [
                (root.join("sandboxes"), 0o755),
                (root.join("sandboxes/a.workbook"), 0o644)
            ]
        );
    }
}
