//! fd_renumber: a descriptor moved onto another, which it replaces; the
//! old number is closed.

use std::fs::{self, File};
use std::io::Read;
use std::os::fd::{FromRawFd, IntoRawFd};

use conformance::errnos::EBADF;
use conformance::raw;
use conformance::{check, expect_eq, finish};

fn main() {
    let outcome = (|| -> Result<(), String> {
        fs::write("/workspace/one", "first").map_err(|e| e.to_string())?;
        fs::write("/workspace/two", "second").map_err(|e| e.to_string())?;
        let from = File::open("/workspace/one")
            .map_err(|e| e.to_string())?
            .into_raw_fd();
        let to = File::open("/workspace/two")
            .map_err(|e| e.to_string())?
            .into_raw_fd();
        check("renumber succeeds", expect_eq(raw::renumber(from, to), 0));
        // SAFETY: `to` is open (it now holds `one`) and owned here alone.
        let mut moved = unsafe { File::from_raw_fd(to) };
        let mut text = String::new();
        moved.read_to_string(&mut text).map_err(|e| e.to_string())?;
        check(
            "the target reads the moved file",
            expect_eq(text.as_str(), "first"),
        );
        check(
            "the old number is closed",
            expect_eq(raw::renumber(from, to), EBADF),
        );
        check(
            "an unknown descriptor is EBADF",
            expect_eq(raw::renumber(999, to), EBADF),
        );
        Ok(())
    })();
    check("no I/O error", outcome);
    finish()
}
