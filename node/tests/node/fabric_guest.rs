//! The guest capability `fabric`: a command (node/tests/guests/fanout)
//! maps a kernel of its own workbook over its arguments through
//! `nexus_guest::fabric` and prints every result. Results come back in
//! input order, a kernel failing on an input is that input's failure, a
//! refused job is the guest's error code, the job is an ordinary fabric
//! job, a call cut off by its wall time cancels its job, and a profile
//! without `fabric` refuses the module.

use crate::common;
use crate::fabric::ECHO_TRAPS_ON_7;

use std::path::{Path, PathBuf};

use common::{call_args, print_wat, repo_root, TestNode};
use nexus_errors::ErrorCode;
use nexus_node::client::NodeClient;
use nexus_node::fabric::{JobState, Tier};
use nexus_workbook::Workbook;

/// Never returns: each input runs until its profile stops it.
const SPINS: &str = r#"(module
  (memory (export "memory") 2)
  (func (export "arena") (result i64)
    (i64.or (i64.shl (i64.const 65536) (i64.const 32)) (i64.const 1024)))
  (func (export "process") (param $n i32) (result i32)
    (loop $forever (br $forever))
    (local.get $n)))"#;

/// The built fanout command (scripts/setup.sh builds it).
fn fanout_wasm() -> Vec<u8> {
    let path = repo_root().join("node/tests/guests/fanout/fanout.wasm");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): run scripts/setup.sh (it builds the test guests)",
            path.display()
        )
    })
}

/// A workbook whose entry is the fanout command, with kernel `echo`
/// (echoes, traps on inputs starting with `7`), kernel `spin` (never
/// returns) and `hello`, a command that is not a kernel.
fn fanout_workbook(dir: &Path) -> PathBuf {
    let path = dir.join("fanout.workbook");
    let workbook = Workbook::create(&path, "fanout").unwrap();
    workbook.add_module("fanout", &fanout_wasm()).unwrap();
    let echo = wat::parse_str(ECHO_TRAPS_ON_7).unwrap();
    workbook.add_module("echo", &echo).unwrap();
    workbook
        .add_module("spin", &wat::parse_str(SPINS).unwrap())
        .unwrap();
    let hello = wat::parse_str(print_wat("hello\n")).unwrap();
    workbook.add_module("hello", &hello).unwrap();
    workbook.set_meta("entry", "fanout").unwrap();
    workbook.checkpoint().unwrap();
    drop(workbook);
    path
}

/// Docks the fanout workbook under `profile`; returns the sandbox id.
async fn dock_fanout(client: &NodeClient, dir: &Path, profile: &str) -> String {
    let bytes = std::fs::read(fanout_workbook(dir)).unwrap();
    client
        .dock(bytes, None, Some(profile))
        .await
        .expect("dock")
        .id
}

/// Runs `fanout` with `args`; returns its exit code and stdout.
async fn fanout(client: &NodeClient, id: &str, args: &[&str]) -> (i32, String) {
    let response = call_args(client, id, args).await.expect("call");
    (response.exit_code, response.stdout)
}

#[tokio::test]
async fn results_come_back_in_input_order_with_failures_per_input() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let id = dock_fanout(&admin, node.data_dir.path(), "standard").await;
    let inputs: Vec<String> = (0..40).map(|i| format!("{}", 100 - i)).collect();
    let expected: String = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| match input.starts_with('7') {
            true => format!("{i} err CALL_TRAPPED {}\n", trap_message()),
            false => format!("{i} ok {input}\n"),
        })
        .collect();
    for (width, tier) in [("4", "instance"), ("0", "instance"), ("3", "process")] {
        let mut args = vec!["echo", width, tier];
        args.extend(inputs.iter().map(String::as_str));
        let (exit, stdout) = fanout(&admin, &id, &args).await;
        assert_eq!((exit, stdout.as_str()), (0, expected.as_str()), "{tier}");
    }
    // Each map was an ordinary job of this node's fabric, over the
    // sandbox's kernel, and ran to its end.
    let jobs = admin.fabric_jobs().await.unwrap();
    let seen: Vec<_> = jobs
        .iter()
        .map(|j| {
            (
                j.kernel.as_str(),
                j.state,
                j.tier,
                j.width,
                j.total,
                j.done,
                j.failed,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("echo", JobState::Done, Tier::Instance, 4, 40, 40, 10),
            ("echo", JobState::Done, Tier::Instance, 16, 40, 40, 10),
            ("echo", JobState::Done, Tier::Process, 3, 40, 40, 10),
        ]
    );
    // No inputs: no results, still a job.
    assert_eq!(
        fanout(&admin, &id, &["echo", "0", "instance"]).await,
        (0, String::new())
    );
}

/// What a trap in the echo kernel reads as.
fn trap_message() -> &'static str {
    "wasm trap: wasm `unreachable` instruction executed, in function `#1`"
}

#[tokio::test]
async fn a_refused_job_is_the_guests_error_code() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let id = dock_fanout(&admin, node.data_dir.path(), "standard").await;
    for (args, expected) in [
        (
            ["nosuch", "0", "instance", "a"],
            "error: not found (host error -4)\n",
        ),
        (
            ["hello", "0", "instance", "a"],
            "error: invalid argument (host error -5)\n",
        ),
        (
            ["echo", "257", "instance", "a"],
            "error: invalid argument (host error -5)\n",
        ),
    ] {
        assert_eq!(
            fanout(&admin, &id, &args).await,
            (3, expected.to_string()),
            "{args:?}"
        );
    }
    // None of them made a job.
    assert!(admin.fabric_jobs().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_profile_without_fabric_refuses_the_module() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let id = dock_fanout(&admin, node.data_dir.path(), "compute").await;
    let err = call_args(&admin, &id, &["echo", "0", "instance", "a"])
        .await
        .expect_err("compute does not grant fabric");
    assert_eq!(err.code, ErrorCode::CallInstantiateFailed, "{err:?}");
    assert_eq!(
        err.message,
        "module imports nexus_v1.fabric_map, which needs capability `fabric`; \
         profile `compute` does not grant it"
    );
    let info = admin.sandbox(&id).await.unwrap();
    assert_eq!(info.denials.by_capability.get("fabric"), Some(&1));
}

#[tokio::test]
async fn a_call_cut_off_by_its_wall_time_cancels_its_job() {
    let node = TestNode::start_with(|config| {
        let spec = nexus_engine::ProfileSpec {
            base: Some("standard".into()),
            wall_ms: Some(1000),
            ..Default::default()
        };
        config.profiles.insert("brief".to_string(), spec);
    })
    .await;
    let admin = node.admin();
    let id = dock_fanout(&admin, node.data_dir.path(), "brief").await;
    // 64 inputs one at a time, each stopped by its own 1 s wall time (or
    // its CPU time): the job outlives the call.
    let mut args = vec!["spin", "1", "instance"];
    args.extend(std::iter::repeat_n("x", 64));
    let err = call_args(&admin, &id, &args)
        .await
        .expect_err("the call runs out of wall time");
    assert_eq!(err.code, ErrorCode::CallTimeout, "{err:?}");
    let jobs = admin.fabric_jobs().await.unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.state, JobState::Cancelled, "{job:?}");
    assert_eq!(
        job.error.as_deref(),
        Some("the guest call that made the job ended first")
    );
    assert!(job.done < 64, "{job:?}");
}
