//! fd_pread and fd_pwrite: at an offset, without moving the file's own.

use std::fs::{self, OpenOptions};
use std::os::fd::AsRawFd;

use conformance::raw;
use conformance::{check, expect_eq, finish};

fn main() {
    let path = "/workspace/p";
    let outcome = (|| -> Result<(), String> {
        fs::write(path, "abcdefgh").map_err(|e| e.to_string())?;
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| e.to_string())?;
        let fd = f.as_raw_fd();
        check(
            "pwrite writes at the offset",
            expect_eq(raw::pwrite(fd, b"XY", 2), Ok(2)),
        );
        check("pwrite leaves the offset", expect_eq(raw::tell(fd), Ok(0)));
        let mut buf = [0u8; 4];
        check(
            "pread reads at the offset",
            expect_eq(raw::pread(fd, &mut buf, 1), Ok(4)),
        );
        check("pread sees the pwrite", expect_eq(&buf, b"bXYe"));
        check(
            "pread past the end reads nothing",
            expect_eq(raw::pread(fd, &mut buf, 100), Ok(0)),
        );
        check(
            "the file holds both",
            expect_eq(
                fs::read_to_string(path)
                    .map_err(|e| e.to_string())?
                    .as_str(),
                "abXYefgh",
            ),
        );
        Ok(())
    })();
    check("no I/O error", outcome);
    finish()
}
