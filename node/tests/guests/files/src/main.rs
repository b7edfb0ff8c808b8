//! A guest written against `std::fs`, as any existing program is: each
//! command does one file operation on the preopened volumes and prints what
//! happened; an I/O error prints as `error N` with the WASI errno.
//!
//! - `write PATH TEXT`, `write-in DIR NAME TEXT` (makes DIR first),
//!   `append PATH TEXT`, `read PATH`, `rm PATH`,
//!   `mv FROM TO`, `mkdir PATH`, `rmdir PATH`, `size PATH`
//! - `ls DIR`: the entries, sorted, directories with a trailing `/`
//! - `symlink TARGET LINK` (LINK in /workspace), `link FROM TO`: refused by the host
//! - `fill PATH BYTES`: writes BYTES in 64 KiB chunks, stops at the first error
//! - `poke PATH OFFSET TEXT`: writes TEXT at OFFSET without truncating
//! - `truncate PATH SIZE`
//! - `write-then-trap PATH TEXT`: writes, then traps
//! - `read-all DIR` / `vfs-read-all`: reads every file (by path / through
//!   the `nexus_v1` vfs imports), prints the count and bytes
//! - `write-mib PATH N` / `vfs-write-mib PREFIX N`: writes N MiB sequentially
//!   (one file / files of 8 MiB through the vfs imports)

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::process::ExitCode;

use nexus_guest::vfs::{self, Volume};

const CHUNK: usize = 64 << 10;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let number = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    let outcome = match arg(0) {
        "write" => fs::write(arg(1), arg(2)).map(|()| "ok".to_string()),
        "write-in" => fs::create_dir_all(arg(1))
            .and_then(|()| fs::write(format!("{}/{}", arg(1), arg(2)), arg(3)))
            .map(|()| "ok".to_string()),
        "append" => append(arg(1), arg(2)),
        "read" => fs::read_to_string(arg(1)),
        "rm" => fs::remove_file(arg(1)).map(|()| "ok".to_string()),
        "mv" => fs::rename(arg(1), arg(2)).map(|()| "ok".to_string()),
        "mkdir" => fs::create_dir_all(arg(1)).map(|()| "ok".to_string()),
        "rmdir" => fs::remove_dir(arg(1)).map(|()| "ok".to_string()),
        "size" => fs::metadata(arg(1)).map(|m| m.len().to_string()),
        "ls" => ls(arg(1)),
        "symlink" => symlink(arg(1), arg(2)),
        "link" => fs::hard_link(arg(1), arg(2)).map(|()| "ok".to_string()),
        "fill" => fill(arg(1), number(2)),
        "poke" => poke(arg(1), number(2), arg(3)),
        "truncate" => fs::OpenOptions::new()
            .write(true)
            .open(arg(1))
            .and_then(|f| f.set_len(number(2)))
            .map(|()| "ok".to_string()),
        "write-then-trap" => {
            let written = fs::write(arg(1), arg(2));
            panic!("trap after writing: {written:?}");
        }
        "read-all" => read_all(arg(1)),
        "vfs-read-all" => Ok(vfs_read_all()),
        "write-mib" => write_mib(arg(1), number(2)),
        "vfs-write-mib" => Ok(vfs_write_mib(arg(1), number(2))),
        other => {
            eprintln!("files: unknown command {other:?}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(text) => println!("{text}"),
        Err(e) => println!("error {}", e.raw_os_error().unwrap_or(-1)),
    }
    ExitCode::SUCCESS
}

fn append(path: &str, text: &str) -> std::io::Result<String> {
    let mut file = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    Ok("ok".to_string())
}

/// `path_symlink` relative to `/workspace` (std has no stable wrapper on wasi).
fn symlink(target: &str, link: &str) -> std::io::Result<String> {
    match conformance::raw::symlink(target, link) {
        0 => Ok("ok".to_string()),
        errno => Err(std::io::Error::from_raw_os_error(errno)),
    }
}

fn ls(dir: &str) -> std::io::Result<String> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let slash = if entry.file_type()?.is_dir() { "/" } else { "" };
        names.push(format!("{}{slash}", entry.file_name().to_string_lossy()));
    }
    names.sort();
    Ok(names.join(" "))
}

fn fill(path: &str, bytes: u64) -> std::io::Result<String> {
    let mut file = fs::File::create(path)?;
    let chunk = vec![b'x'; CHUNK];
    let mut written = 0u64;
    while written < bytes {
        let n = (bytes - written).min(CHUNK as u64) as usize;
        if let Err(e) = file.write_all(&chunk[..n]) {
            return Ok(format!(
                "wrote {written}, then error {}",
                e.raw_os_error().unwrap_or(-1)
            ));
        }
        written += n as u64;
    }
    Ok(format!("wrote {written}"))
}

fn poke(path: &str, offset: u64, text: &str) -> std::io::Result<String> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let at = file.seek(SeekFrom::Start(offset))?;
    file.write_all(text.as_bytes())?;
    Ok(format!("wrote at {at}"))
}

fn read_all(dir: &str) -> std::io::Result<String> {
    let (mut files, mut bytes) = (0u64, 0u64);
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            bytes += fs::read(entry.path())?.len() as u64;
            files += 1;
        }
    }
    Ok(format!("{files} files, {bytes} bytes"))
}

fn write_mib(path: &str, mib: u64) -> std::io::Result<String> {
    let mut file = fs::File::create(path)?;
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..mib {
        file.write_all(&chunk)?;
    }
    Ok(format!("wrote {mib} MiB"))
}

fn vfs_read_all() -> String {
    let (mut files, mut bytes) = (0u64, 0u64);
    for path in vfs::list(Volume::Workspace, "").unwrap_or_default() {
        if let Ok(Some(data)) = vfs::read(Volume::Workspace, &path) {
            files += 1;
            bytes += data.len() as u64;
        }
    }
    format!("{files} files, {bytes} bytes")
}

fn vfs_write_mib(prefix: &str, mib: u64) -> String {
    let chunk = vec![b'x'; 8 << 20];
    let mut written = 0;
    while written < mib {
        let n = (mib - written).min(8);
        let path = format!("{prefix}{written}");
        if let Err(e) = vfs::write(Volume::Workspace, &path, &chunk[..(n as usize) << 20]) {
            return format!("wrote {written} MiB, then error {}", e.code());
        }
        written += n;
    }
    format!("wrote {written} MiB")
}
