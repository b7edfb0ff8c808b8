//! path_rename, path_unlink_file and path_remove_directory.

use std::fs;

use conformance::errnos::{ENOENT, ENOTEMPTY, EPERM};
use conformance::{check, errno, expect_eq, finish};

fn read(path: &str) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| e.to_string())
}

fn main() {
    check(
        "renames a file",
        (|| {
            fs::write("/workspace/a", "A").map_err(|e| e.to_string())?;
            fs::rename("/workspace/a", "/workspace/b").map_err(|e| e.to_string())?;
            expect_eq(
                (read("/workspace/b")?, errno(fs::metadata("/workspace/a"))),
                ("A".into(), ENOENT),
            )
        })(),
    );
    check(
        "rename replaces an existing file",
        (|| {
            fs::write("/workspace/c", "C").map_err(|e| e.to_string())?;
            fs::rename("/workspace/c", "/workspace/b").map_err(|e| e.to_string())?;
            expect_eq(read("/workspace/b")?, "C".into())
        })(),
    );
    check(
        "renames a directory with its files",
        (|| {
            fs::create_dir_all("/workspace/d1/sub").map_err(|e| e.to_string())?;
            fs::write("/workspace/d1/sub/f", "F").map_err(|e| e.to_string())?;
            fs::rename("/workspace/d1", "/workspace/d2").map_err(|e| e.to_string())?;
            expect_eq(read("/workspace/d2/sub/f")?, "F".into())
        })(),
    );
    check(
        "renames across volumes",
        (|| {
            fs::write("/tmp/t", "T").map_err(|e| e.to_string())?;
            fs::rename("/tmp/t", "/workspace/t").map_err(|e| e.to_string())?;
            expect_eq(
                (read("/workspace/t")?, errno(fs::metadata("/tmp/t"))),
                ("T".into(), ENOENT),
            )
        })(),
    );
    check(
        "rename out of the volume is EPERM",
        expect_eq(errno(fs::rename("/workspace/b", "/workspace/../b")), EPERM),
    );
    check(
        "unlinks a file",
        (|| {
            fs::remove_file("/workspace/b").map_err(|e| e.to_string())?;
            expect_eq(errno(fs::metadata("/workspace/b")), ENOENT)
        })(),
    );
    check(
        "unlinking a missing file is ENOENT",
        expect_eq(errno(fs::remove_file("/workspace/nothing")), ENOENT),
    );
    check(
        "removing a non-empty directory is ENOTEMPTY",
        expect_eq(errno(fs::remove_dir("/workspace/d2")), ENOTEMPTY),
    );
    check(
        "removes a directory tree",
        (|| {
            fs::remove_dir_all("/workspace/d2").map_err(|e| e.to_string())?;
            expect_eq(errno(fs::metadata("/workspace/d2")), ENOENT)
        })(),
    );
    finish()
}
