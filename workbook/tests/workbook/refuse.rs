//! `Workbook::open` refuses damaged or foreign files, each with its own
//! code, without panicking and without modifying the file.

use std::path::Path;

use crate::fixtures::{
    assert_no_sidecars, expect_code, file_sha, multi_page_workbook, sha256, tamper, Scratch,
};
use nexus_errors::ErrorCode;
use nexus_workbook::Workbook;

/// Opens `path` both ways, expects `code` from each, checks the file is
/// unchanged and nothing was left next to it; returns the message.
fn refused(path: &Path, code: ErrorCode) -> String {
    let before = std::fs::read(path).ok();
    let msg = expect_code(Workbook::open(path), code);
    let msg_ro = expect_code(Workbook::open_read_only(path), code);
    assert_eq!(msg, msg_ro);
    assert_eq!(std::fs::read(path).ok(), before, "the file was modified");
    assert_no_sidecars(path);
    msg
}

#[test]
fn missing_path_is_unreadable() {
    let scratch = Scratch::new();
    let path = scratch.path("nope.workbook");
    let msg = refused(&path, ErrorCode::WorkbookUnreadable);
    assert!(msg.contains("nope.workbook"), "{msg}");
    assert!(msg.contains("No such file"), "{msg}");
    let msg = refused(scratch.dir.path(), ErrorCode::WorkbookUnreadable);
    assert!(msg.contains("directory"), "{msg}");
}

#[test]
fn text_file_is_not_a_workbook() {
    let scratch = Scratch::new();
    let path = scratch.write("notes.txt", &b"just some text\n".repeat(20));
    let msg = refused(&path, ErrorCode::WorkbookNotAWorkbook);
    assert!(
        msg.contains("notes.txt") && msg.contains("not a SQLite"),
        "{msg}"
    );
}

#[test]
fn empty_and_short_files_are_not_workbooks() {
    let scratch = Scratch::new();
    let empty = scratch.write("empty.workbook", b"");
    let msg = refused(&empty, ErrorCode::WorkbookNotAWorkbook);
    assert!(msg.contains("empty"), "{msg}");
    // The right magic but shorter than a SQLite header.
    let short = scratch.write("short.workbook", b"SQLite format 3\0\x10\x00");
    refused(&short, ErrorCode::WorkbookNotAWorkbook);
}

#[test]
fn sqlite_database_without_meta_is_not_a_workbook() {
    let scratch = Scratch::new();
    let path = scratch.path("plain.db");
    let conn = rusqlite::Connection::open(&path).expect("create db");
    conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .expect("fill");
    drop(conn);
    let msg = refused(&path, ErrorCode::WorkbookNotAWorkbook);
    assert!(msg.contains("meta"), "{msg}");

    // A meta table without format_version is not a workbook either.
    tamper(
        &path,
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)",
        [],
    );
    let msg = refused(&path, ErrorCode::WorkbookNotAWorkbook);
    assert!(msg.contains("format_version"), "{msg}");
}

#[test]
fn newer_format_version_is_unsupported() {
    let scratch = Scratch::new();
    let path = multi_page_workbook(scratch.dir.path(), "future");
    tamper(
        &path,
        "UPDATE meta SET value = '2' WHERE key = 'format_version'",
        [],
    );
    let msg = refused(&path, ErrorCode::WorkbookVersionUnsupported);
    assert_eq!(
        msg,
        format!(
            "workbook {} has format version 2; this node reads up to 1",
            path.display()
        )
    );
}

#[test]
fn truncated_file_is_truncated() {
    let scratch = Scratch::new();
    let path = multi_page_workbook(scratch.dir.path(), "cut");
    let bytes = std::fs::read(&path).expect("read");
    assert!(
        bytes.len() >= 16 * 4096,
        "fixture too small: {}",
        bytes.len()
    );
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("cut");
    let msg = refused(&path, ErrorCode::WorkbookTruncated);
    assert!(
        msg.contains(&format!("{} bytes", bytes.len()))
            && msg.contains(&format!("has {}", bytes.len() / 2)),
        "{msg}"
    );
}

#[test]
fn zeroed_page_is_corrupt() {
    let scratch = Scratch::new();
    let path = multi_page_workbook(scratch.dir.path(), "zeroed");
    let mut bytes = std::fs::read(&path).expect("read");
    let page = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    // Page 2 is the root of the `meta` table, the first one created.
    bytes[page..2 * page].fill(0);
    std::fs::write(&path, &bytes).expect("write");
    let msg = refused(&path, ErrorCode::WorkbookCorrupt);
    assert!(msg.contains("zeroed.workbook"), "{msg}");
}

#[test]
fn garbage_in_the_middle_is_corrupt() {
    let scratch = Scratch::new();
    let path = multi_page_workbook(scratch.dir.path(), "noisy");
    let mut bytes = std::fs::read(&path).expect("read");
    let page = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    let pages = bytes.len() / page;
    // Overwrite every page after the first with a repeating pattern.
    for (i, b) in bytes[page..pages * page].iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    std::fs::write(&path, &bytes).expect("write");
    refused(&path, ErrorCode::WorkbookCorrupt);
}

#[test]
fn module_digest_mismatch_is_corrupt() {
    let scratch = Scratch::new();
    let path = multi_page_workbook(scratch.dir.path(), "swapped");
    tamper(
        &path,
        "UPDATE modules SET sha256 = ?1 WHERE name = 'main'",
        [sha256(b"something else")],
    );
    let msg = refused(&path, ErrorCode::WorkbookCorrupt);
    assert!(msg.contains("\"main\"") && msg.contains("sha256"), "{msg}");
}

#[test]
fn module_that_is_not_wasm_is_invalid() {
    let scratch = Scratch::new();
    let path = multi_page_workbook(scratch.dir.path(), "junk");
    let garbage = b"#!/bin/sh\necho not wasm\n".to_vec();
    tamper(
        &path,
        "INSERT INTO modules(name, sha256, wasm) VALUES ('script', ?1, ?2)",
        (sha256(&garbage), garbage),
    );
    let msg = refused(&path, ErrorCode::WorkbookModuleInvalid);
    assert!(
        msg.contains("\"script\"") && msg.contains("junk.workbook"),
        "{msg}"
    );
    assert!(msg.contains("magic"), "the parser's message is kept: {msg}");
}

#[test]
fn valid_fixture_opens() {
    // The control for the tests above: the untampered fixture is accepted.
    let scratch = Scratch::new();
    let path = multi_page_workbook(scratch.dir.path(), "fine");
    let before = file_sha(&path);
    Workbook::open(&path)
        .expect("open")
        .inspect()
        .expect("inspect");
    assert_eq!(file_sha(&path), before);
}
