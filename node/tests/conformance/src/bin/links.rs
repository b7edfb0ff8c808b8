//! Symbolic and hard links are refused, and no path leaves its volume.

use std::fs;

use conformance::errnos::EPERM;
use conformance::raw;
use conformance::{check, errno, expect_eq, finish};

fn main() {
    check(
        "path_symlink is EPERM",
        expect_eq(raw::symlink("given.txt", "alias"), EPERM),
    );
    check(
        "a symlink out of the volume is EPERM",
        expect_eq(raw::symlink("../../etc/passwd", "out"), EPERM),
    );
    check(
        "path_link is EPERM",
        expect_eq(
            errno(fs::hard_link("/workspace/given.txt", "/workspace/twin")),
            EPERM,
        ),
    );
    check(
        "`..` past the top is EPERM",
        expect_eq(errno(fs::read("/workspace/../../etc/passwd")), EPERM),
    );
    check(
        "`..` inside the volume resolves",
        (|| {
            fs::create_dir("/workspace/sub").map_err(|e| e.to_string())?;
            expect_eq(
                fs::read_to_string("/workspace/sub/../given.txt").map_err(|e| e.to_string())?,
                "given\n".into(),
            )
        })(),
    );
    check(
        "a host path is not there",
        expect_eq(fs::read("/etc/passwd").is_err(), true),
    );
    finish()
}
