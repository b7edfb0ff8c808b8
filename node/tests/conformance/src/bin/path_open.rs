//! path_open with each flag: create, exclusive, truncate, append,
//! directory, read-only and write-only rights.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};

use conformance::errnos::{EBADF, EEXIST, EISDIR, ENOENT, ENOTDIR};
use conformance::{check, errno, expect_eq, finish};

fn main() {
    let given = "/workspace/given.txt";
    check(
        "reads a file of the tree",
        (|| {
            expect_eq(
                fs::read_to_string(given).map_err(|e| e.to_string())?,
                "given\n".into(),
            )
        })(),
    );
    check(
        "excl on an existing file is EEXIST",
        expect_eq(
            errno(OpenOptions::new().write(true).create_new(true).open(given)),
            EEXIST,
        ),
    );
    check(
        "excl creates a new file",
        expect_eq(
            errno(
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open("/workspace/new.txt"),
            ),
            0,
        ),
    );
    check(
        "without create a missing file is ENOENT",
        expect_eq(
            errno(OpenOptions::new().read(true).open("/workspace/missing.txt")),
            ENOENT,
        ),
    );
    check(
        "trunc empties the file",
        (|| {
            OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(given)
                .map_err(|e| e.to_string())?;
            expect_eq(fs::metadata(given).map_err(|e| e.to_string())?.len(), 0)
        })(),
    );
    check(
        "append writes at the end",
        (|| {
            fs::write("/workspace/log.txt", "one\n").map_err(|e| e.to_string())?;
            let mut f = OpenOptions::new()
                .append(true)
                .open("/workspace/log.txt")
                .map_err(|e| e.to_string())?;
            f.write_all(b"two\n").map_err(|e| e.to_string())?;
            expect_eq(
                fs::read_to_string("/workspace/log.txt").map_err(|e| e.to_string())?,
                "one\ntwo\n".into(),
            )
        })(),
    );
    check(
        "a directory opened for writing is EISDIR",
        expect_eq(
            errno(OpenOptions::new().write(true).open("/workspace/dir")),
            EISDIR,
        ),
    );
    check(
        "a file read as a directory is ENOTDIR",
        expect_eq(errno(fs::read_dir("/workspace/log.txt")), ENOTDIR),
    );
    check(
        "writing a file opened read-only is EBADF",
        (|| {
            let mut f = OpenOptions::new()
                .read(true)
                .open("/workspace/log.txt")
                .map_err(|e| e.to_string())?;
            expect_eq(errno(f.write(b"x")), EBADF)
        })(),
    );
    check(
        "reading a file opened write-only is EBADF",
        (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .open("/workspace/log.txt")
                .map_err(|e| e.to_string())?;
            let mut buf = [0u8; 4];
            expect_eq(errno(f.read(&mut buf)), EBADF)
        })(),
    );
    finish()
}
