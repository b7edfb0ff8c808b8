//! The `nexus` binary end to end: `nexus up` in its own process, the CLI
//! talking to it, and a clean exit on SIGTERM with a call in flight.

use crate::common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::process::{free_port, ready, UpProcess, NEXUS};
use common::{built_example, repo_root};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn pack(dir: &Path, out: &Path) {
    let output = Command::new(NEXUS)
        .args(["workbook", "pack"])
        .arg(dir)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pack failed: {}",
        text(&output.stderr)
    );
}

#[test]
fn sandbox_info_lists_denials() {
    let up = UpProcess::start();
    let file = up.data_dir.path().join("fetch.workbook");
    pack(&built_example("fetch"), &file);
    let docked = up.nexus(&["dock", file.to_str().unwrap()], None);
    assert!(docked.status.success(), "{}", text(&docked.stderr));
    let id = text(&docked.stdout).trim().to_string();

    let info = up.nexus(&["sandbox", "info", &id], None);
    assert!(
        text(&info.stdout).contains("denials:    none"),
        "{}",
        text(&info.stdout)
    );
    let called = up.nexus(&["call", &id, "--", "http://127.0.0.1:9/"], None);
    assert_eq!(called.status.code(), Some(10), "{}", text(&called.stderr));
    let info = text(&up.nexus(&["sandbox", "info", &id], None).stdout);
    assert!(info.contains("denials:    1 (net 1)"), "{info}");
    assert!(
        info.contains("  net: http://127.0.0.1:9/: 127.0.0.1 is 127.0.0.1, a loopback address"),
        "{info}"
    );
}

#[test]
fn cli_dock_call_ls_info_rm() {
    let up = UpProcess::start();
    let file = up.data_dir.path().join("echo.workbook");
    pack(&repo_root().join("examples/echo-wat"), &file);

    let docked = up.nexus(&["dock", file.to_str().unwrap(), "--name", "echo1"], None);
    assert!(docked.status.success(), "{}", text(&docked.stderr));
    let id = text(&docked.stdout).trim().to_string();
    assert!(id.starts_with("sb_"), "dock prints the id, got {id:?}");

    let called = up.nexus(&["call", &id, "--input", "-"], Some(b"round trip\n"));
    assert_eq!(called.status.code(), Some(0), "{}", text(&called.stderr));
    assert_eq!(text(&called.stdout), "round trip\n");

    let listed = up.nexus(&["sandbox", "ls", "--json"], None);
    let json: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(json["sandboxes"][0]["id"], id.as_str());
    assert_eq!(json["sandboxes"][0]["name"], "echo1");
    assert_eq!(json["sandboxes"][0]["state"], "active");

    let info = up.nexus(&["sandbox", "info", &id], None);
    assert!(
        text(&info.stdout).contains("state:      active"),
        "{}",
        text(&info.stdout)
    );

    let tenant = up.nexus(&["tenant", "create", "carol", "--json"], None);
    let json: serde_json::Value = serde_json::from_slice(&tenant.stdout).unwrap();
    let carol_key = json["api_key"].as_str().unwrap().to_string();
    let denied = up.nexus(&["sandbox", "info", &id, "--key", &carol_key], None);
    assert_eq!(denied.status.code(), Some(1));
    assert!(
        text(&denied.stderr).starts_with("error[SANDBOX_NOT_FOUND]"),
        "{}",
        text(&denied.stderr)
    );

    let removed = up.nexus(&["sandbox", "rm", &id], None);
    assert_eq!(text(&removed.stdout).trim(), format!("removed {id}"));
    let gone = up.nexus(&["call", &id, "--json"], None);
    assert_eq!(gone.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&gone.stdout).unwrap();
    assert_eq!(json["error"]["code"], "SANDBOX_NOT_FOUND");
}

#[test]
fn cli_errors_name_the_problem() {
    let up = UpProcess::start();
    let bad = up.data_dir.path().join("bad.workbook");
    std::fs::write(&bad, b"not a workbook").unwrap();
    let out = up.nexus(&["dock", bad.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.starts_with("error[WORKBOOK_NOT_A_WORKBOOK]"), "{err}");
    assert!(err.contains("hint: "), "{err}");

    let out = up.nexus(&["sandbox", "ls", "--key", "nxk_nope"], None);
    assert!(text(&out.stderr).starts_with("error[AUTH_INVALID_KEY]"));

    let out = Command::new(NEXUS)
        .args([
            "sandbox",
            "ls",
            "--node",
            "http://127.0.0.1:1",
            "--key",
            "k",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error[NODE_UNREACHABLE]"),
        "{}",
        text(&out.stderr)
    );

    let out = Command::new(NEXUS)
        .args(["up", "--data-dir"])
        .arg(up.data_dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("error[DATA_DIR_LOCKED]"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn up_runs_the_node_its_config_file_describes() {
    // The file's data dir is used; the --listen flag wins over its address.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("nexus.toml");
    let (file_port, flag_port) = (free_port(), free_port());
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{file_port}\"\ndata_dir = \"{}\"\n",
            data.display()
        ),
    )
    .unwrap();
    let listen = format!("127.0.0.1:{flag_port}");
    let args: [&OsStr; 4] = [
        "--config".as_ref(),
        config.as_os_str(),
        "--listen".as_ref(),
        listen.as_ref(),
    ];
    let up = UpProcess::start_with(dir, flag_port, &args, &[]);
    assert!(data.join("admin.key").is_file(), "no admin key in {data:?}");
    assert!(!ready(&format!("127.0.0.1:{file_port}")));
    drop(up);
}

#[test]
fn sigterm_lets_the_in_flight_call_finish() {
    let mut up = UpProcess::start();
    let dir = up.data_dir.path();
    let busy = dir.join("busy.workbook");
    // Counts to 400 million, then prints "done": long enough to be in flight.
    let wat = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 64) "done\n")
      (func (export "_start") (local $i i32)
        (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 400000000))))
        (i32.store (i32.const 0) (i32.const 64))
        (i32.store (i32.const 4) (i32.const 5))
        (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))"#;
    common::wat_workbook(dir, "busy", wat);
    let docked = up.nexus(&["dock", busy.to_str().unwrap()], None);
    let id = text(&docked.stdout).trim().to_string();

    let url = up.url.clone();
    let data_dir = dir.to_path_buf();
    let id_for_info = id.clone();
    let call = std::thread::spawn(move || {
        Command::new(NEXUS)
            .args(["call", &id])
            .env("NEXUS_NODE", url)
            .env("NEXUS_DATA_DIR", data_dir)
            .output()
            .unwrap()
    });
    // SIGTERM only once the node has the call in flight.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let info = up.nexus(&["--json", "sandbox", "info", &id_for_info], None);
        let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        if info["calls_in_flight"] == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the call never started: {info}"
        );
        std::thread::yield_now();
    }
    let status = up.terminate();
    let call = call.join().unwrap();
    assert_eq!(text(&call.stdout), "done\n", "{}", text(&call.stderr));
    assert!(
        status.success(),
        "nexus up exits 0 on SIGTERM, got {status}"
    );
    let wal = up.data_dir.path().join("registry.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "registry checkpointed on shutdown"
    );
}

/// The names of a `nexus bench --json` report's figures.
fn figure_names(report: &serde_json::Value) -> Vec<&str> {
    report["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect()
}

#[test]
fn bench_quick_reports_every_figure_beside_its_target() {
    let out = Command::new(NEXUS)
        .args(["bench", "--quick", "--json"])
        .output()
        .unwrap();
    // With --json the error is JSON on stdout.
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = figure_names(&report);
    for expected in [
        "instantiate + run empty command, p50",
        "kernel call, 64 B in/out, mean",
        "resume suspended → first call, p50",
        "freeze / plain copy",
        "thaw (resume from frozen) / plain copy",
        "concurrently active instances answered",
        "registry write after 300 ms of quiet, p50",
        "move throughput, median",
        "move pause (calls held), max",
        "longest call during a move, max",
        "routed call, added latency p50",
        "read 1,000 files via preopened /workspace, p50",
        "write 64 MiB via nexus_v1 vfs_write, p50",
    ] {
        assert!(names.contains(&expected), "missing {expected} in {names:?}");
    }
    let active = report["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "concurrently active instances answered")
        .unwrap();
    assert_eq!(
        active["value"], active["target"],
        "every concurrent call answered"
    );
    // `--only` runs one group.
    let out = Command::new(NEXUS)
        .args(["bench", "--quick", "--json", "--only", "engine"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        figure_names(&report),
        [
            "instantiate + run empty command, p50",
            "kernel call, 64 B in/out, mean"
        ]
    );
}

#[test]
fn completions_name_every_command_and_global_flag() {
    let out = Command::new(NEXUS)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let script = text(&out.stdout);
    assert!(script.contains("complete -F _nexus"), "{script}");
    for word in [
        "dock", "sandbox", "token", "ca", "--config", "--ca", "--node",
    ] {
        assert!(script.contains(word), "{word} missing");
    }
    let out = Command::new(NEXUS)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
