//! fd_filestat_set_size (truncation both ways) and filestat: size, type,
//! modification time.

use std::fs::{self, OpenOptions};

use conformance::{check, expect_eq, finish};

fn main() {
    let path = "/workspace/t";
    let outcome = (|| -> Result<(), String> {
        fs::write(path, "keep this").map_err(|e| e.to_string())?;
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| e.to_string())?;
        f.set_len(4).map_err(|e| e.to_string())?;
        check(
            "truncate shrinks",
            expect_eq(fs::read(path).map_err(|e| e.to_string())?, b"keep".to_vec()),
        );
        f.set_len(6).map_err(|e| e.to_string())?;
        check(
            "truncate grows with zeros",
            expect_eq(
                fs::read(path).map_err(|e| e.to_string())?,
                b"keep\0\0".to_vec(),
            ),
        );
        let meta = fs::metadata(path).map_err(|e| e.to_string())?;
        check(
            "filestat of a file",
            expect_eq(
                (meta.is_file(), meta.is_dir(), meta.len()),
                (true, false, 6),
            ),
        );
        let dir = fs::metadata("/workspace").map_err(|e| e.to_string())?;
        check(
            "filestat of a directory",
            expect_eq((dir.is_file(), dir.is_dir()), (false, true)),
        );
        let before = meta.modified().map_err(|e| e.to_string())?;
        let given = fs::metadata("/workspace/given.txt").map_err(|e| e.to_string())?;
        check(
            "a stored file keeps its mtime",
            expect_eq(given.modified().map_err(|e| e.to_string())? < before, true),
        );
        Ok(())
    })();
    check("no I/O error", outcome);
    finish()
}
