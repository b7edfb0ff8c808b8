//! The workbook file: create, write, inspect, reopen, entry rules, export.

use crate::fixtures::{
    assert_no_sidecars, expect_code, file_sha, multi_page_workbook, sha256, sqlite3_tables,
    tiny_wasm, Scratch, TABLES,
};
use nexus_errors::ErrorCode;
use nexus_workbook::{Volume, Workbook, DEFAULT_MODE, FORMAT_VERSION};

#[test]
fn create_add_module_write_files_then_inspect() {
    let scratch = Scratch::new();
    let path = scratch.path("notes.workbook");
    let wb = Workbook::create(&path, "notes").expect("create");
    assert_eq!(wb.path(), path);

    let wasm = tiny_wasm();
    let info = wb.add_module("main", &wasm).expect("add module");
    assert_eq!(info.sha256, sha256(&wasm));
    assert_eq!(info.size, wasm.len() as u64);

    wb.write_file(Volume::Workspace, "src/lib.rs", b"fn main() {}", 0o600)
        .expect("write workspace");
    wb.write_file(Volume::Workspace, "README", b"hi", DEFAULT_MODE)
        .expect("write workspace");
    wb.write_file(Volume::Memory, "facts.json", b"{}", DEFAULT_MODE)
        .expect("write memory");
    wb.kv_set("counter", b"1").expect("kv");
    wb.set_schedule("tick", "*/5 * * * *", None, Some(b"go"))
        .expect("schedule");

    let meta = wb.meta().expect("meta");
    assert_eq!(meta.format_version, FORMAT_VERSION);
    assert_eq!(meta.name, "notes");
    assert_eq!(meta.profile, "compute");
    assert_eq!(meta.entry, None);
    assert!(
        meta.created_at_ms > 1_600_000_000_000,
        "{}",
        meta.created_at_ms
    );

    let ins = wb.inspect().expect("inspect");
    assert_eq!(ins.name, "notes");
    assert_eq!(ins.format_version, 1);
    assert_eq!(ins.modules, vec![info]);
    let stats: Vec<(Volume, u64, u64)> = ins
        .volumes
        .iter()
        .map(|v| (v.volume, v.files, v.bytes))
        .collect();
    assert_eq!(
        stats,
        vec![
            (Volume::Workspace, 2, 14),
            (Volume::Memory, 1, 2),
            (Volume::Tmp, 0, 0)
        ]
    );
    assert_eq!(ins.kv_entries, 1);
    assert_eq!(ins.schedules.len(), 1);
    assert_eq!(ins.schedules[0].cron, "*/5 * * * *");
    assert_eq!(ins.schedules[0].input_bytes, 2);

    let files = wb.list_files(Volume::Workspace).expect("list");
    assert_eq!(files[1].path, "src/lib.rs");
    assert_eq!(files[1].mode, 0o600);
    assert_eq!(
        wb.read_file(Volume::Workspace, "src/lib.rs").expect("read"),
        Some(b"fn main() {}".to_vec())
    );
    assert_eq!(wb.read_file(Volume::Tmp, "src/lib.rs").expect("read"), None);
    wb.close().expect("close");
    assert_no_sidecars(&path);

    // Reopened (validated), everything is still there; JSON round-trips.
    let wb = Workbook::open(&path).expect("reopen");
    let again = wb.inspect().expect("inspect");
    assert_eq!(again, ins);
    let json = serde_json::to_string(&again).expect("json");
    assert!(json.contains(r#""volume":"workspace""#), "{json}");
    assert_eq!(
        serde_json::from_str::<nexus_workbook::Inspection>(&json).expect("parse"),
        again
    );
    assert_eq!(wb.clear_volume(Volume::Workspace).expect("clear"), 2);
    assert_eq!(wb.clear_volume(Volume::Workspace).expect("clear"), 0);
}

#[test]
fn create_refuses_to_overwrite() {
    let scratch = Scratch::new();
    let path = scratch.write("taken.workbook", b"precious");
    let msg = expect_code(
        Workbook::create(&path, "taken"),
        ErrorCode::WorkbookWriteFailed,
    );
    assert!(msg.contains("already exists"), "{msg}");
    assert_eq!(std::fs::read(&path).expect("read"), b"precious");
}

#[test]
fn created_workbook_opens_in_sqlite3_cli() {
    let scratch = Scratch::new();
    let path = scratch.path("cli.workbook");
    Workbook::create(&path, "cli")
        .expect("create")
        .close()
        .expect("close");
    let mut expected: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(sqlite3_tables(&path), expected);
}

#[test]
fn open_and_inspect_leave_the_file_untouched() {
    let scratch = Scratch::new();
    let path = multi_page_workbook(scratch.dir.path(), "still");
    let before = file_sha(&path);

    let ro = Workbook::open_read_only(&path).expect("open read-only");
    assert_read_only_without_sidecars(ro, &path); // immutable: nothing created even while open

    let rw = Workbook::open(&path).expect("open");
    rw.inspect().expect("inspect");
    drop(rw);
    assert_no_sidecars(&path);
    assert_eq!(file_sha(&path), before);
}

/// `workbook` (opened on `path`) reads, refuses a write naming the file,
/// and has created no side files.
fn assert_read_only_without_sidecars(workbook: Workbook, path: &std::path::Path) {
    workbook.inspect().expect("inspect");
    let msg = expect_code(
        workbook.write_file(Volume::Tmp, "x", b"x", DEFAULT_MODE),
        ErrorCode::WorkbookWriteFailed,
    );
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    assert!(msg.contains(name), "{msg}");
    assert_no_sidecars(path);
}

#[test]
fn a_trusted_read_only_open_neither_writes_nor_creates_files() {
    let scratch = Scratch::new();
    let path = multi_page_workbook(scratch.dir.path(), "cold");
    let before = file_sha(&path);

    let ro = Workbook::open_trusted_read_only(&path).expect("open trusted read-only");
    assert_read_only_without_sidecars(ro, &path);
    assert_eq!(file_sha(&path), before);

    let missing = scratch.path("missing.workbook");
    expect_code(
        Workbook::open_trusted_read_only(&missing),
        ErrorCode::WorkbookUnreadable,
    );
}

#[test]
fn entry_module_rules() {
    let scratch = Scratch::new();
    let path = scratch.path("e.workbook");
    let wb = Workbook::create(&path, "e").expect("create");
    let msg = expect_code(wb.entry_module(), ErrorCode::WorkbookEntryMissing);
    assert!(msg.contains("no modules"), "{msg}");

    let only = wb.add_module("only", &tiny_wasm()).expect("add");
    let (info, wasm) = wb.entry_module().expect("single module is the entry");
    assert_eq!((info, wasm), (only, tiny_wasm()));

    wb.add_module("other", &tiny_wasm()).expect("add");
    let msg = expect_code(wb.entry_module(), ErrorCode::WorkbookEntryMissing);
    assert!(msg.contains("only, other"), "{msg}");

    wb.set_meta("entry", "other").expect("set entry");
    assert_eq!(wb.entry_module().expect("entry").0.name, "other");

    wb.set_meta("entry", "ghost").expect("set entry");
    let msg = expect_code(wb.entry_module(), ErrorCode::WorkbookEntryMissing);
    assert!(msg.contains("\"ghost\""), "{msg}");
    let msg = expect_code(wb.module_wasm("ghost"), ErrorCode::WorkbookEntryMissing);
    assert!(
        msg.contains("ghost") && msg.contains("only, other"),
        "{msg}"
    );

    let msg = expect_code(
        wb.add_module("bad", b"\0asm\x02\0\0\0"),
        ErrorCode::WorkbookModuleInvalid,
    );
    assert!(msg.contains("\"bad\""), "{msg}");
    expect_code(
        wb.set_meta("format_version", "9"),
        ErrorCode::RequestInvalid,
    );
    expect_code(
        wb.write_file(Volume::Workspace, "../escape", b"", DEFAULT_MODE),
        ErrorCode::RequestInvalid,
    );
}

#[test]
fn export_strips_memory_and_tmp_and_keeps_the_source() {
    let scratch = Scratch::new();
    let src = multi_page_workbook(scratch.dir.path(), "src");
    let before = file_sha(&src);
    let out = scratch.path("out/shipped.workbook");
    std::fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");

    let wb = Workbook::open(&src).expect("open");
    let full = wb.inspect().expect("inspect");
    wb.export(&out).expect("export");
    // The source handle still works and still holds everything.
    assert_eq!(wb.inspect().expect("inspect"), full);
    drop(wb);
    assert_eq!(file_sha(&src), before, "export modified the source");
    assert_no_sidecars(&src);
    assert_no_sidecars(&out);

    // Only the single output file was written next to `out`.
    let names: Vec<_> = std::fs::read_dir(out.parent().expect("parent"))
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec!["shipped.workbook"]);

    let shipped = Workbook::open(&out).expect("exported file validates");
    let ins = shipped.inspect().expect("inspect");
    assert_eq!(ins.modules, full.modules);
    assert_eq!(ins.volumes[0], full.volumes[0]);
    assert_eq!((ins.volumes[0].files, ins.volumes[0].bytes), (4, 20_000));
    for stats in &ins.volumes[1..] {
        assert_eq!((stats.files, stats.bytes), (0, 0), "{:?}", stats.volume);
    }
    assert_eq!(
        shipped
            .read_file(Volume::Workspace, "f2.bin")
            .expect("read"),
        Some(vec![2u8; 5000])
    );
    drop(shipped);
    assert!(
        std::fs::metadata(&out).expect("stat").len() < std::fs::metadata(&src).expect("stat").len(),
        "VACUUM should have dropped the stripped pages"
    );

    let msg = expect_code(
        Workbook::open(&src).expect("open").export(&src),
        ErrorCode::WorkbookWriteFailed,
    );
    assert!(msg.contains("onto itself"), "{msg}");
    assert_eq!(file_sha(&src), before);
}

#[test]
fn live_workbook_can_be_opened_and_inspected_while_written() {
    let scratch = Scratch::new();
    let path = scratch.path("live.workbook");
    let writer = Workbook::create(&path, "live").expect("create");
    writer.add_module("main", &tiny_wasm()).expect("add");
    writer
        .write_file(Volume::Memory, "m.txt", b"learned", DEFAULT_MODE)
        .expect("write");
    // The committed rows sit in the -wal; readers must see them.
    let ro = Workbook::open_read_only(&path).expect("open read-only while live");
    assert_eq!(ro.inspect().expect("inspect").volumes[1].files, 1);
    let rw = Workbook::open(&path).expect("second read-write handle");
    rw.write_file(Volume::Tmp, "t", b"t", DEFAULT_MODE)
        .expect("write via second handle");
    assert_eq!(
        writer.read_file(Volume::Tmp, "t").expect("read"),
        Some(b"t".to_vec())
    );
    drop((ro, rw));
    writer.close().expect("close");
    assert_no_sidecars(&path);
}

#[test]
fn prefix_listing_and_stat_are_answered_by_sql() {
    let scratch = Scratch::new();
    let wb = Workbook::create(&scratch.path("tree.workbook"), "tree").expect("create");
    for path in ["a/1", "a/2", "a0", "ab/3", "b/4", "a"] {
        wb.write_file(Volume::Workspace, path, path.as_bytes(), DEFAULT_MODE)
            .expect("write");
    }
    wb.write_file(Volume::Tmp, "a/other-volume", b"x", DEFAULT_MODE)
        .expect("write tmp");
    let list = |prefix: &str| wb.list_paths(Volume::Workspace, prefix).expect("list");
    assert_eq!(list("a/"), ["a/1", "a/2"]);
    assert_eq!(list("a"), ["a", "a/1", "a/2", "a0", "ab/3"]);
    assert_eq!(list(""), ["a", "a/1", "a/2", "a0", "ab/3", "b/4"]);
    assert!(list("c").is_empty());
    let stat = wb
        .stat_file(Volume::Workspace, "ab/3")
        .expect("stat")
        .expect("exists");
    assert_eq!(stat.size, 4);
    assert!(stat.mtime_ms > 0);
    assert_eq!(wb.stat_file(Volume::Memory, "ab/3").expect("stat"), None);
}
