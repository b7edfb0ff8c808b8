//! `pack`: building a workbook from a directory with a `workbook.toml`.

use crate::fixtures::{
    assert_no_sidecars, expect_code, hello_fixture, sha256, sqlite3_tables, tiny_wasm, Scratch,
    HELLO_TOML, TABLES,
};
use nexus_errors::ErrorCode;
use nexus_workbook::{pack, pack_with_progress, PackProgress, Volume, Workbook};

#[test]
fn pack_fixture_then_inspect() {
    let fx = hello_fixture();
    let out = fx.scratch.path("hello.workbook");
    let ins = pack(&fx.dir, &out).expect("pack");
    assert_no_sidecars(&out);

    assert_eq!(ins.name, "hello");
    assert_eq!(ins.entry.as_deref(), Some("hello"));
    assert_eq!(ins.profile, "compute");
    assert_eq!(ins.modules.len(), 1);
    assert_eq!(ins.modules[0].name, "hello");
    assert_eq!(ins.modules[0].sha256, sha256(&fx.wasm));
    assert_eq!(ins.modules[0].size, fx.wasm.len() as u64);

    let total = |files: &[(&str, Vec<u8>)]| files.iter().map(|(_, d)| d.len() as u64).sum::<u64>();
    let stats: Vec<(Volume, u64, u64)> = ins
        .volumes
        .iter()
        .map(|v| (v.volume, v.files, v.bytes))
        .collect();
    assert_eq!(
        stats,
        vec![
            (Volume::Workspace, 2, total(&fx.workspace)),
            (Volume::Memory, 1, total(&fx.memory)),
            (Volume::Tmp, 0, 0),
        ]
    );
    assert_eq!(ins.kv_entries, 0);
    assert_eq!(ins.schedules.len(), 1);
    let s = &ins.schedules[0];
    assert_eq!((s.name.as_str(), s.cron.as_str()), ("nightly", "0 3 * * *"));
    assert_eq!(s.entry.as_deref(), Some("hello"));
    assert_eq!(s.input_bytes, fx.schedule_input.len() as u64);

    // The file on disk says the same, and holds the bytes.
    let wb = Workbook::open(&out).expect("open packed");
    assert_eq!(wb.inspect().expect("inspect"), ins);
    for (path, data) in &fx.workspace {
        assert_eq!(
            wb.read_file(Volume::Workspace, path)
                .expect("read")
                .as_ref(),
            Some(data),
            "{path}"
        );
    }
    let (entry, wasm) = wb.entry_module().expect("entry");
    assert_eq!((entry.name.as_str(), wasm), ("hello", fx.wasm.clone()));
    assert_eq!(
        wb.schedule_input("nightly").expect("input"),
        Some(fx.schedule_input.as_bytes().to_vec())
    );
}

#[test]
fn progress_counts_every_file_and_byte_up_to_the_total() {
    let fx = hello_fixture();
    let out = fx.scratch.path("progress.workbook");
    let mut seen: Vec<PackProgress> = Vec::new();
    pack_with_progress(&fx.dir, &out, |p| seen.push(p)).expect("pack");
    let bytes: u64 = fx
        .workspace
        .iter()
        .chain(&fx.memory)
        .map(|(_, d)| d.len() as u64)
        .sum();
    let files = fx.workspace.len() + fx.memory.len();
    assert_eq!(seen.len(), files + 1, "once planned, then once per file");
    assert_eq!((seen[0].done_bytes, seen[0].done_files), (0, 0));
    assert!(seen
        .iter()
        .all(|p| p.total_bytes == bytes && p.total_files == files));
    assert!(seen.windows(2).all(|w| w[0].done_bytes <= w[1].done_bytes));
    let last = seen.last().unwrap();
    assert_eq!((last.done_bytes, last.done_files), (bytes, files));
}

#[test]
fn packed_file_alone_opens_in_sqlite3_cli() {
    let fx = hello_fixture();
    let out = fx.scratch.path("hello.workbook");
    pack(&fx.dir, &out).expect("pack");
    // Copying the single file is enough.
    let elsewhere = Scratch::new();
    let copy = elsewhere.path("copy.workbook");
    std::fs::copy(&out, &copy).expect("copy");
    let mut expected: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(sqlite3_tables(&copy), expected);
    Workbook::open(&copy).expect("the copy validates");
}

#[test]
fn module_that_is_not_wasm_fails_and_leaves_nothing() {
    let fx = hello_fixture();
    fx.scratch
        .write("pkg/build/hello.wasm", b"\x7fELF not wasm at all");
    let out = fx.scratch.path("hello.workbook");
    let msg = expect_code(pack(&fx.dir, &out), ErrorCode::WorkbookModuleInvalid);
    assert!(
        msg.contains("\"hello\"") && msg.contains("hello.wasm"),
        "{msg}"
    );
    assert!(!out.exists(), "a failed pack left {}", out.display());
    let leftovers: Vec<_> = std::fs::read_dir(fx.scratch.dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .filter(|n| n != "pkg")
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

#[test]
fn failed_pack_keeps_the_previous_output() {
    let fx = hello_fixture();
    let out = fx.scratch.path("hello.workbook");
    pack(&fx.dir, &out).expect("first pack");
    let before = std::fs::read(&out).expect("read");
    fx.scratch.write("pkg/build/hello.wasm", b"broken");
    expect_code(pack(&fx.dir, &out), ErrorCode::WorkbookModuleInvalid);
    assert_eq!(std::fs::read(&out).expect("read"), before);
}

#[test]
fn wat_module_is_compiled_at_pack_time() {
    let fx = hello_fixture();
    fx.scratch
        .write("pkg/build/hello.wasm", b"(module (func (export \"run\")))");
    let out = fx.scratch.path("o.workbook");
    pack(&fx.dir, &out).expect("WAT packs");
    let workbook = nexus_workbook::Workbook::open(&out).expect("open");
    let wasm = workbook.module_wasm("hello").expect("module stored");
    assert!(wasm.starts_with(b"\0asm"), "stored in binary form");
}

#[test]
fn wat_that_does_not_parse_is_module_invalid() {
    let fx = hello_fixture();
    fx.scratch
        .write("pkg/build/hello.wasm", b"(module (func (oops");
    let msg = expect_code(
        pack(&fx.dir, &fx.scratch.path("o.workbook")),
        ErrorCode::WorkbookModuleInvalid,
    );
    assert!(msg.contains("WebAssembly text does not parse"), "{msg}");
}

#[test]
fn env_is_packed_into_meta_and_bad_names_are_refused() {
    let fx = hello_fixture();
    let toml = format!("{HELLO_TOML}\n[env]\nLANG = \"C.UTF-8\"\nGREETING = \"Hej\"\n");
    fx.scratch.write("pkg/workbook.toml", toml.as_bytes());
    let out = fx.scratch.path("env.workbook");
    pack(&fx.dir, &out).expect("pack");
    let meta = Workbook::open(&out).expect("open").meta().expect("meta");
    let env: Vec<(&str, &str)> = meta
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(env, [("GREETING", "Hej"), ("LANG", "C.UTF-8")]);
    let inspection = Workbook::open(&out).unwrap().inspect().unwrap();
    assert_eq!(inspection.env, meta.env);

    let toml = format!("{HELLO_TOML}\n[env]\n\"2FAST\" = \"x\"\n");
    fx.scratch.write("pkg/workbook.toml", toml.as_bytes());
    let msg = expect_code(pack(&fx.dir, &out), ErrorCode::WorkbookManifestInvalid);
    assert!(
        msg.contains("env: \"2FAST\" is not a variable name"),
        "{msg}"
    );
}

#[test]
fn unknown_manifest_key_is_named() {
    let fx = hello_fixture();
    let toml = HELLO_TOML.replace("profile = \"compute\"", "colour = \"red\"");
    fx.scratch.write("pkg/workbook.toml", toml.as_bytes());
    let out = fx.scratch.path("o.workbook");
    let msg = expect_code(pack(&fx.dir, &out), ErrorCode::WorkbookManifestInvalid);
    assert!(
        msg.contains("colour") && msg.contains("workbook.toml"),
        "{msg}"
    );
    assert!(!out.exists());

    // Unknown keys inside a table are refused too.
    let toml = HELLO_TOML.replace("src = \"data/\"", "src = \"data/\"\nrecursive = true");
    fx.scratch.write("pkg/workbook.toml", toml.as_bytes());
    let msg = expect_code(pack(&fx.dir, &out), ErrorCode::WorkbookManifestInvalid);
    assert!(msg.contains("recursive"), "{msg}");
}

#[test]
fn manifest_problems_are_manifest_invalid() {
    let scratch = Scratch::new();
    let out = scratch.path("o.workbook");
    let dir = scratch.path("pkg");
    // No workbook.toml at all.
    std::fs::create_dir_all(&dir).expect("mkdir");
    let msg = expect_code(pack(&dir, &out), ErrorCode::WorkbookManifestInvalid);
    assert!(msg.contains("workbook.toml"), "{msg}");

    scratch.write("pkg/m.wasm", &tiny_wasm());
    let cases = [
        ("name = \"x\"\n[[modules]]\nname = \"m\"\n", "path"), // missing field
        ("entry = \"m\"\n", "name"),                           // missing name
        ("name = \"bad name\"\n", "name"),
        (
            "name = \"x\"\n[[modules]]\nname = \"m\"\npath = \"gone.wasm\"\n",
            "gone.wasm",
        ),
        (
            "name = \"x\"\n[[modules]]\nname = \"m\"\npath = \"../m.wasm\"\n",
            "modules[0].path",
        ),
        (
            "name = \"x\"\n[[files]]\nsrc = \"missing/\"\n",
            "files[0].src",
        ),
        (
            "name = \"x\"\n[[files]]\nsrc = \"m.wasm\"\nvolume = \"attic\"\n",
            "attic",
        ),
        (
            "name = \"x\"\n[[files]]\nsrc = \"m.wasm\"\n[[files]]\nsrc = \"m.wasm\"\n",
            "files[0]",
        ),
        (
            "name = \"x\"\n[[modules]]\nname = \"m\"\npath = \"m.wasm\"\n\
             [[schedules]]\nname = \"s\"\ncron = \"daily\"\n",
            "schedules[0].cron",
        ),
    ];
    for (toml, needle) in cases {
        scratch.write("pkg/workbook.toml", toml.as_bytes());
        let msg = expect_code(pack(&dir, &out), ErrorCode::WorkbookManifestInvalid);
        assert!(msg.contains(needle), "{toml:?}: {msg}");
        assert!(!out.exists());
    }
}

#[test]
fn entry_naming_a_missing_module_is_entry_missing() {
    let fx = hello_fixture();
    let toml = HELLO_TOML.replace("entry = \"hello\"\nprofile", "entry = \"goodbye\"\nprofile");
    fx.scratch.write("pkg/workbook.toml", toml.as_bytes());
    let out = fx.scratch.path("o.workbook");
    let msg = expect_code(pack(&fx.dir, &out), ErrorCode::WorkbookEntryMissing);
    assert!(
        msg.contains("\"goodbye\"") && msg.contains("hello"),
        "{msg}"
    );
    assert!(!out.exists());

    // Two modules and no entry: ambiguous.
    fx.scratch.write("pkg/build/other.wasm", &tiny_wasm());
    let toml = "name = \"two\"\n\
                [[modules]]\nname = \"a\"\npath = \"build/hello.wasm\"\n\
                [[modules]]\nname = \"b\"\npath = \"build/other.wasm\"\n";
    fx.scratch.write("pkg/workbook.toml", toml.as_bytes());
    let msg = expect_code(pack(&fx.dir, &out), ErrorCode::WorkbookEntryMissing);
    assert!(msg.contains("a, b"), "{msg}");
}

#[test]
fn files_dest_and_root_placement() {
    let scratch = Scratch::new();
    scratch.write("pkg/m.wasm", &tiny_wasm());
    scratch.write("pkg/assets/x/y.txt", b"y");
    scratch.write("pkg/assets/z.txt", b"zz");
    scratch.write("pkg/cfg.json", b"{}");
    scratch.write(
        "pkg/workbook.toml",
        b"name = \"placed\"\n\
          [[modules]]\nname = \"m\"\npath = \"m.wasm\"\n\
          [[files]]\nsrc = \"assets\"\ndest = \"/\"\n\
          [[files]]\nsrc = \"cfg.json\"\ndest = \"etc/app.json\"\nvolume = \"tmp\"\n",
    );
    let out = scratch.path("placed.workbook");
    let ins = pack(&scratch.path("pkg"), &out).expect("pack");
    assert_eq!(
        ins.entry, None,
        "entry stays unset; the single module is the default"
    );
    let wb = Workbook::open(&out).expect("open");
    let paths: Vec<String> = wb
        .list_files(Volume::Workspace)
        .expect("list")
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(paths, vec!["x/y.txt", "z.txt"]);
    assert_eq!(
        wb.read_file(Volume::Tmp, "etc/app.json").expect("read"),
        Some(b"{}".to_vec())
    );
    assert_eq!(wb.entry_module().expect("entry").0.name, "m");
}
