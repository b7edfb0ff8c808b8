//! Unit tests of the atomic replace, the modes and the temp files.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn content_is_replaced_and_no_temp_file_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    write_file(&path, b"old and longer", 0o644).unwrap();
    write_file(&path, b"new", 0o644).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"new");
    assert_eq!(read_to_string(&path).unwrap(), "new");
    assert_eq!(names(dir.path()), ["state.json"]);
}

#[test]
fn the_mode_is_applied_even_when_the_target_was_looser() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.key");
    fs::write(&path, b"old").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    write_file(&path, b"secret", 0o600).unwrap();
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(fs::read(&path).unwrap(), b"secret");
}

#[test]
fn a_failed_write_keeps_the_old_file_and_removes_its_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schedules.json");
    write_file(&path, b"old", 0o644).unwrap();
    let err = write_with(&path, 0o644, |file| {
        file.write_all(b"half")?;
        Err::<(), _>(io::Error::other("disk on fire"))
    })
    .unwrap_err();
    assert_eq!(err.op, "write");
    assert_eq!(err.path, path);
    assert_eq!(fs::read(&path).unwrap(), b"old");
    assert_eq!(names(dir.path()), ["schedules.json"]);
}

#[test]
fn an_uncommitted_pending_file_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.workbook");
    let pending = PendingFile::create(&target, 0o644).unwrap();
    let temp = pending.path().to_path_buf();
    let name = temp.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(".out.workbook.") && name.ends_with(TEMP_SUFFIX),
        "{name}"
    );
    assert!(temp.exists());
    drop(pending);
    assert!(names(dir.path()).is_empty());
}

#[test]
fn a_missing_directory_is_an_error_that_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("joined.json");
    let err = write_file(&path, b"{}", 0o644).unwrap_err();
    assert_eq!(err.path, path);
    assert_eq!(err.source.kind(), io::ErrorKind::NotFound);
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn concurrent_writers_never_share_a_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("current.snap");
    std::thread::scope(|s| {
        for writer in 0..4u8 {
            let path = &path;
            s.spawn(move || {
                for _ in 0..50 {
                    write_file(path, &[writer; 4096], 0o600).unwrap();
                }
            });
        }
    });
    let bytes = fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 4096);
    assert!(bytes.iter().all(|&b| b == bytes[0]), "a torn file");
    assert_eq!(names(dir.path()), ["current.snap"]);
}

#[test]
fn write_with_streams_and_copy_file_keeps_bytes_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    let from = dir.path().join("a.workbook");
    let written = write_with(&from, 0o640, |file| {
        for part in [&b"head"[..], &[7u8; 100_000], b"tail"] {
            file.write_all(part)?;
        }
        Ok(100_008)
    })
    .unwrap();
    assert_eq!(written, 100_008);
    let to = dir.path().join("b.workbook");
    write_file(&to, b"stale", 0o600).unwrap();
    assert_eq!(copy_file(&from, &to).unwrap(), 100_008);
    assert_eq!(fs::read(&from).unwrap(), fs::read(&to).unwrap());
    assert_eq!(mode_of(&to), 0o640);
    let err = copy_file(&dir.path().join("missing"), &to).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    assert_eq!(names(dir.path()), ["a.workbook", "b.workbook"]);
}

#[test]
fn private_dirs_are_made_recursively_and_tightened() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("keys").join("tenants");
    create_private_dir(&nested).unwrap();
    assert_eq!(mode_of(&nested), 0o700);
    assert_eq!(mode_of(&dir.path().join("keys")), 0o700);
    let open = dir.path().join("tls");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
    create_private_dir(&open).unwrap();
    assert_eq!(mode_of(&open), 0o700);
    sync_dir(&open).unwrap();
    let err = sync_dir(&dir.path().join("absent")).unwrap_err();
    assert_eq!(err.op, "sync directory");
}

#[test]
fn a_set_of_files_is_written_with_each_mode_and_no_temp_file_left() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("node.pem"), b"old cert").unwrap();
    write_files(
        dir.path(),
        &[
            NewFile {
                name: "node.pem",
                bytes: b"new cert",
                mode: PUBLIC_FILE,
            },
            NewFile {
                name: "node.key",
                bytes: b"secret",
                mode: PRIVATE_FILE,
            },
        ],
    )
    .unwrap();
    assert_eq!(fs::read(dir.path().join("node.pem")).unwrap(), b"new cert");
    assert_eq!(fs::read(dir.path().join("node.key")).unwrap(), b"secret");
    assert_eq!(mode_of(&dir.path().join("node.pem")), 0o644);
    assert_eq!(mode_of(&dir.path().join("node.key")), 0o600);
    assert_eq!(names(dir.path()), ["node.key", "node.pem"]);
}

#[test]
fn a_set_that_fails_before_its_renames_replaces_none_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a"), b"old").unwrap();
    let err = write_files(
        dir.path(),
        &[
            NewFile {
                name: "a",
                bytes: b"new",
                mode: PUBLIC_FILE,
            },
            NewFile {
                name: "missing-dir/b",
                bytes: b"new",
                mode: PUBLIC_FILE,
            },
        ],
    )
    .unwrap_err();
    assert_eq!(err.op, "create a temp file beside");
    assert_eq!(err.path, dir.path().join("missing-dir/b"));
    assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"old");
    assert_eq!(names(dir.path()), ["a"]);
}

#[test]
fn a_crashed_writers_temp_files_are_removed_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "state.json",
        ".state.json.7.0.partial",
        ".state.json.7.1.partial-wal",
        ".state.json.7.1.partial.bak",
        ".other.json.7.0.partial",
    ] {
        fs::write(dir.path().join(name), b"x").unwrap();
    }
    remove_temps_of(&dir.path().join("state.json")).unwrap();
    assert_eq!(
        names(dir.path()),
        [
            ".other.json.7.0.partial",
            ".state.json.7.1.partial.bak",
            "state.json"
        ]
    );
}
