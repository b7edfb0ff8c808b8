//! Shared fixtures for the `workbook_*` integration tests: hand-assembled
//! wasm modules, pack directories built at test time, workbooks with
//! known contents, and assertions on error codes and files.
//!
//! A module of the `workbook` test binary.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::Command;

use nexus_errors::{Coded, ErrorCode};
use nexus_workbook::{Volume, Workbook, DEFAULT_MODE};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// The five tables of a v1 workbook.
pub const TABLES: [&str; 5] = ["meta", "modules", "files", "kv", "schedules"];

/// A valid module: `(func (export "run") (result i32) i32.const 42)`.
pub fn tiny_wasm() -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend([0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f]); // type: [] -> [i32]
    m.extend([0x03, 0x02, 0x01, 0x00]); // func 0 has type 0
    m.extend([0x07, 0x07, 0x01, 0x03, b'r', b'u', b'n', 0x00, 0x00]); // export "run"
    m.extend([0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b]); // i32.const 42; end
    m
}

/// [`tiny_wasm`] plus a custom section "pad" of `n` bytes, for modules that
/// span several SQLite pages.
pub fn padded_wasm(n: usize) -> Vec<u8> {
    let mut payload = vec![3, b'p', b'a', b'd'];
    payload.extend(std::iter::repeat_n(0xAB, n));
    let mut m = tiny_wasm();
    m.push(0x00); // custom section id
    leb128(&mut m, payload.len());
    m.extend(payload);
    m
}

fn leb128(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Lowercase hex sha256, computed independently of the crate under test.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// sha256 of a file's bytes.
pub fn file_sha(path: &Path) -> String {
    sha256(&std::fs::read(path).expect("read file"))
}

/// Asserts `result` failed with `code`; returns the error's message.
pub fn expect_code<T: Debug, E: Coded + Debug>(result: Result<T, E>, code: ErrorCode) -> String {
    match result {
        Ok(v) => panic!("expected {}, got Ok({v:?})", code.as_str()),
        Err(e) => {
            assert_eq!(e.code(), code, "wrong code for {e:?}: {e}");
            e.to_string()
        }
    }
}

/// Asserts no `-wal`, `-shm` or `-journal` file sits next to `path`.
pub fn assert_no_sidecars(path: &Path) {
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_os_string();
        p.push(suffix);
        assert!(
            !Path::new(&p).exists(),
            "{} was left behind",
            Path::new(&p).display()
        );
    }
}

/// Runs `sqlite3 FILE .tables` and returns the table names. Fails (never
/// skips) when the sqlite3 CLI is missing.
pub fn sqlite3_tables(path: &Path) -> Vec<String> {
    let out = Command::new("sqlite3")
        .arg(path)
        .arg(".tables")
        .output()
        .expect("the sqlite3 CLI must be installed to run this test");
    assert!(
        out.status.success(),
        "sqlite3 {} .tables failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut tables: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    tables.sort();
    tables
}

/// A scratch directory with helpers to lay out a pack directory.
pub struct Scratch {
    pub dir: TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// `dir/rel`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `bytes` to `dir/rel`, creating parent directories.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, bytes).expect("write fixture");
        path
    }
}

/// Contents of the standard pack fixture, for assertions.
pub struct HelloFixture {
    pub scratch: Scratch,
    /// The pack directory (contains workbook.toml).
    pub dir: PathBuf,
    pub wasm: Vec<u8>,
    /// (path in the workspace volume, contents).
    pub workspace: Vec<(&'static str, Vec<u8>)>,
    /// (path in the memory volume, contents).
    pub memory: Vec<(&'static str, Vec<u8>)>,
    pub schedule_input: &'static str,
}

/// Manifest of the standard fixture.
pub const HELLO_TOML: &str = r#"
name = "hello"
entry = "hello"
profile = "compute"

[[modules]]
name = "hello"
path = "build/hello.wasm"

[[files]]
src = "data/"

[[files]]
src = "notes.md"
dest = "memory/notes.md"
volume = "memory"

[[schedules]]
name = "nightly"
cron = "0 3 * * *"
entry = "hello"
input = "text passed as stdin"
"#;

/// Lays out the standard pack directory: one module, a `data/` tree
/// (two files, one nested) into `workspace`, one file into `memory`, and a
/// schedule.
pub fn hello_fixture() -> HelloFixture {
    let scratch = Scratch::new();
    let wasm = tiny_wasm();
    let workspace = vec![
        ("data/a.txt", b"alpha\n".to_vec()),
        ("data/sub/b.bin", vec![7u8; 3000]),
    ];
    let memory = vec![("memory/notes.md", b"# learned\n".to_vec())];
    scratch.write("pkg/workbook.toml", HELLO_TOML.as_bytes());
    scratch.write("pkg/build/hello.wasm", &wasm);
    scratch.write("pkg/data/a.txt", &workspace[0].1);
    scratch.write("pkg/data/sub/b.bin", &workspace[1].1);
    scratch.write("pkg/notes.md", &memory[0].1);
    HelloFixture {
        dir: scratch.path("pkg"),
        scratch,
        wasm,
        workspace,
        memory,
        schedule_input: "text passed as stdin",
    }
}

/// Creates a closed (fully checkpointed) workbook at `dir/name.workbook`
/// spanning many pages: a 20 KiB module and files in all three volumes.
pub fn multi_page_workbook(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.workbook"));
    let wb = Workbook::create(&path, name).expect("create");
    wb.add_module("main", &padded_wasm(20_000)).expect("module");
    for (i, volume) in Volume::ALL.into_iter().enumerate() {
        for j in 0..4 {
            let data = vec![(i * 16 + j) as u8; 5000];
            wb.write_file(volume, &format!("f{j}.bin"), &data, DEFAULT_MODE)
                .expect("write file");
        }
    }
    wb.close().expect("close");
    assert_no_sidecars(&path);
    path
}

/// Runs `sql` on `path` with plain rusqlite (bypassing the crate's checks),
/// then checkpoints and closes so the single file holds the change.
pub fn tamper(path: &Path, sql: &str, params: impl rusqlite::Params) {
    let conn = rusqlite::Connection::open(path).expect("open with rusqlite");
    conn.execute(sql, params).expect("tamper statement");
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    drop(conn);
    assert_no_sidecars(path);
}
