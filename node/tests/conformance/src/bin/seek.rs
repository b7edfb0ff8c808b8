//! fd_seek from the start, the current offset and the end; fd_tell; a
//! write past the end fills the gap with zeros.

use std::fs::{self, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;

use conformance::raw;
use conformance::{check, expect_eq, finish};

fn main() {
    let path = "/workspace/digits";
    let outcome = (|| -> Result<(), String> {
        fs::write(path, "0123456789").map_err(|e| e.to_string())?;
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| e.to_string())?;
        let mut two = [0u8; 2];
        f.seek(SeekFrom::Start(3)).map_err(|e| e.to_string())?;
        f.read_exact(&mut two).map_err(|e| e.to_string())?;
        check("seek from the start", expect_eq(&two, b"34"));
        let at = f.seek(SeekFrom::Current(2)).map_err(|e| e.to_string())?;
        check("seek from the current offset", expect_eq(at, 7));
        check("fd_tell", expect_eq(raw::tell(f.as_raw_fd()), Ok(7)));
        f.seek(SeekFrom::End(-1)).map_err(|e| e.to_string())?;
        let mut last = String::new();
        f.read_to_string(&mut last).map_err(|e| e.to_string())?;
        check("seek from the end", expect_eq(last.as_str(), "9"));
        check(
            "a negative offset is refused",
            expect_eq(f.seek(SeekFrom::Current(-100)).is_err(), true),
        );
        f.seek(SeekFrom::Start(12)).map_err(|e| e.to_string())?;
        f.write_all(b"!").map_err(|e| e.to_string())?;
        check(
            "a write past the end fills with zeros",
            expect_eq(
                fs::read(path).map_err(|e| e.to_string())?,
                b"0123456789\0\0!".to_vec(),
            ),
        );
        Ok(())
    })();
    check("no I/O error", outcome);
    finish()
}
