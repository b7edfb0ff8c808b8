//! The fabric on one node: jobs over the instance and process tiers through
//! the HTTP API, failures reported by input index, fail-fast, cancel, jobs
//! over a docked sandbox's kernel, coded refusals, and `nexus fabric run`.

use crate::common;

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use common::process::UpProcess;
use common::{built_example, wasm_workbook, TestNode};
use nexus_errors::ErrorCode;
use nexus_node::api::types::Encoding;
use nexus_node::client::NodeClient;
use nexus_node::fabric::request::InputRange;
use nexus_node::fabric::{JobRequest, JobState, JobStatus, ResultLine, ResultOrder, Tier};

/// Echoes its input; traps on an input starting with `7`.
pub(crate) const ECHO_TRAPS_ON_7: &str = r#"(module
  (memory (export "memory") 2)
  (func (export "arena") (result i64)
    (i64.or (i64.shl (i64.const 65536) (i64.const 32)) (i64.const 1024)))
  (func (export "process") (param $n i32) (result i32)
    (if (i32.and (i32.gt_s (local.get $n) (i32.const 0))
                 (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 55)))
      (then unreachable))
    (local.get $n)))"#;

/// Spins a few milliseconds per input, then echoes it.
pub(crate) const SLOW_ECHO: &str = include_str!("../guests/slow_echo.wat");

fn wordcount_wasm() -> Vec<u8> {
    std::fs::read(built_example("wordcount").join("wordcount.wasm")).expect("wordcount.wasm")
}

fn module_job(wasm: &[u8], inputs: Vec<String>, tier: Tier) -> JobRequest {
    JobRequest {
        kernel: "kernel".into(),
        sandbox: None,
        module: Some(BASE64.encode(wasm)),
        profile: None,
        inputs,
        inputs_encoding: Encoding::Utf8,
        range: None,
        width: 4,
        tier,
        fail_fast: false,
    }
}

/// A job of `wasm` over inputs `"0"` … `"end-1"`, one at a time.
fn range_job(wasm: &[u8], end: u64, tier: Tier) -> JobRequest {
    let mut request = module_job(wasm, Vec::new(), tier);
    request.range = Some(InputRange { start: 0, end });
    request.width = 1;
    request
}

/// Runs `request` and reads every result in input order.
async fn run(client: &NodeClient, request: &JobRequest) -> (JobStatus, Vec<ResultLine>) {
    let job = client.fabric_submit(request).await.expect("submit");
    assert_eq!(job.state, JobState::Running);
    let mut lines = Vec::new();
    client
        .fabric_results(&job.id, ResultOrder::Input, |line| lines.push(line))
        .await
        .expect("results");
    let status = client.fabric_job(&job.id).await.expect("status");
    (status, lines)
}

fn outputs(lines: &[ResultLine]) -> Vec<String> {
    lines
        .iter()
        .map(|l| String::from_utf8(l.output_bytes().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn instance_and_process_tiers_agree_over_10000_inputs() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let inputs: Vec<String> = (0..10_000)
        .map(|i| format!("{}{}\n{i}", "a ".repeat(i % 13), "x".repeat(i % 5)))
        .collect();
    let expected: Vec<String> = inputs
        .iter()
        .map(|text| {
            let lines = text.matches('\n').count();
            format!("{lines} {} {}", text.split_whitespace().count(), text.len())
        })
        .collect();
    let wasm = wordcount_wasm();
    let mut results = BTreeMap::new();
    for tier in [Tier::Instance, Tier::Process] {
        let (status, lines) = run(&admin, &module_job(&wasm, inputs.clone(), tier)).await;
        assert_eq!(
            (status.state, status.done, status.failed),
            (JobState::Done, 10_000, 0)
        );
        assert_eq!(status.per_node.values().sum::<usize>(), 10_000);
        let indexes: Vec<usize> = lines.iter().map(|l| l.index).collect();
        assert_eq!(indexes, (0..10_000).collect::<Vec<_>>(), "input order");
        results.insert(format!("{tier:?}"), outputs(&lines));
    }
    assert_eq!(results["Instance"], expected);
    assert_eq!(results["Process"], expected);
}

#[tokio::test]
async fn inputs_that_trap_are_reported_by_index_and_the_rest_delivered() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let wasm = wat::parse_str(ECHO_TRAPS_ON_7).unwrap();
    let mut request = range_job(&wasm, 100, Tier::Instance);
    request.width = 4;
    let (status, lines) = run(&admin, &request).await;
    assert_eq!(
        (status.state, status.done, status.failed),
        (JobState::Done, 100, 11)
    );
    let failed: Vec<usize> = lines
        .iter()
        .filter(|l| l.error.is_some())
        .map(|l| l.index)
        .collect();
    assert_eq!(failed, [7, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79]);
    for line in &lines {
        match &line.error {
            Some(error) => {
                assert_eq!(error.code, ErrorCode::CallTrapped, "{error:?}");
                assert!(line.output.is_none());
            }
            None => assert_eq!(
                line.output_bytes().unwrap(),
                line.index.to_string().as_bytes()
            ),
        }
    }
    let metrics = node.admin_get_text("/metrics").await;
    for (series, count) in [
        (
            r#"nexus_fabric_inputs_total{outcome="ok",tier="instance"} "#,
            89,
        ),
        (
            r#"nexus_fabric_inputs_total{outcome="call_trapped",tier="instance"} "#,
            11,
        ),
    ] {
        assert!(metrics.contains(&format!("{series}{count}\n")), "{metrics}");
    }
}

#[tokio::test]
async fn fail_fast_stops_the_job_at_the_first_failure() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let wasm = wat::parse_str(ECHO_TRAPS_ON_7).unwrap();
    let mut request = range_job(&wasm, 1000, Tier::Process);
    request.fail_fast = true;
    let (status, lines) = run(&admin, &request).await;
    assert_eq!(status.state, JobState::Failed);
    assert_eq!(
        status.error.as_deref(),
        Some("input 7 failed and the job runs with fail_fast")
    );
    assert_eq!(
        (status.done, status.failed),
        (8, 1),
        "width 1 runs in order"
    );
    assert_eq!(lines.len(), 8);
}

#[tokio::test]
async fn a_cancelled_job_stops_taking_inputs() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let wasm = wat::parse_str(SLOW_ECHO).unwrap();
    let request = range_job(&wasm, 10_000, Tier::Instance);
    let job = admin.fabric_submit(&request).await.unwrap();
    let cancelled = admin.fabric_cancel(&job.id).await.unwrap();
    assert_eq!(cancelled.state, JobState::Cancelled);
    let mut lines = Vec::new();
    admin
        .fabric_results(&job.id, ResultOrder::Completion, |l| lines.push(l))
        .await
        .unwrap();
    let status = admin.fabric_job(&job.id).await.unwrap();
    assert_eq!(status.state, JobState::Cancelled);
    assert!(status.done < 10_000, "{status:?}");
    assert_eq!(lines.len(), status.done);
    let listed = admin.fabric_jobs().await.unwrap();
    assert!(listed.iter().any(|j| j.id == job.id));
}

#[tokio::test]
async fn a_sandbox_kernel_runs_on_the_sandbox() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let dir = tempfile::tempdir().unwrap();
    let file = wasm_workbook(dir.path(), "wc", &wordcount_wasm());
    let id = admin
        .dock(std::fs::read(file).unwrap(), None, None)
        .await
        .unwrap()
        .id;
    let request = JobRequest {
        kernel: "wc".into(),
        sandbox: Some(id.clone()),
        module: None,
        profile: None,
        inputs: vec!["one two".into(), "three\n".into()],
        inputs_encoding: Encoding::Utf8,
        range: None,
        width: 2,
        tier: Tier::Instance,
        fail_fast: false,
    };
    let (status, lines) = run(&admin, &request).await;
    assert_eq!(status.state, JobState::Done);
    assert_eq!(outputs(&lines), ["0 2 7", "1 1 6"]);
    let info = admin.sandbox(&id).await.unwrap();
    assert_eq!(info.sandbox.state.to_string(), "active");

    let mut missing = request.clone();
    missing.kernel = "nope".into();
    let error = admin.fabric_submit(&missing).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::WorkbookEntryMissing, "{error:?}");
}

#[tokio::test]
async fn bad_jobs_get_coded_errors() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let wasm = wat::parse_str(ECHO_TRAPS_ON_7).unwrap();
    let refuse = |mut tweak: Box<dyn FnMut(&mut JobRequest)>| {
        let mut request = module_job(&wasm, vec!["x".into()], Tier::Instance);
        tweak(&mut request);
        request
    };
    let cases: Vec<(JobRequest, ErrorCode, &str)> = vec![
        (
            refuse(Box::new(|r| r.width = 0)),
            ErrorCode::RequestInvalid,
            "field `width` is 0; it must be 1 to 256",
        ),
        (
            // The client sends a job naming a sandbox to the sandbox's route.
            refuse(Box::new(|r| r.sandbox = Some("sb_1".into()))),
            ErrorCode::RequestInvalid,
            "a job under /v1/sandboxes/sb_1 runs that sandbox's module; drop `module` and `sandbox`",
        ),
        (
            refuse(Box::new(|r| {
                r.range = Some(InputRange { start: 0, end: 1 })
            })),
            ErrorCode::RequestInvalid,
            "give `inputs` or `range`, not both",
        ),
        (
            refuse(Box::new(|r| {
                r.inputs.clear();
                r.range = Some(InputRange {
                    start: 0,
                    end: 2_000_000,
                });
            })),
            ErrorCode::RequestInvalid,
            "field `range` 0..2000000 must be ascending and at most 1000000 inputs",
        ),
        (
            refuse(Box::new(|r| r.profile = Some("gold".into()))),
            ErrorCode::ProfileUnknown,
            "profile `gold` is not one this node knows",
        ),
    ];
    for (request, code, message) in cases {
        let error = admin.fabric_submit(&request).await.unwrap_err();
        assert_eq!((error.code, error.message.as_str()), (code, message));
    }
    let command = common::print_wat("hi");
    let not_a_kernel = module_job(
        &wat::parse_str(command).unwrap(),
        vec!["x".into()],
        Tier::Instance,
    );
    let error = admin.fabric_submit(&not_a_kernel).await.unwrap_err();
    assert!(
        error.message.starts_with("kernel `kernel` cannot run: "),
        "{error:?}"
    );
    let error = admin.fabric_job("job_1_000000000000").await.unwrap_err();
    assert_eq!(error.code, ErrorCode::FabricJobNotFound);
    assert_eq!(
        error.message,
        "fabric job job_1_000000000000 is not on this node"
    );
    let error = admin.fabric_cancel("job_1_000000000000").await.unwrap_err();
    assert_eq!(error.code, ErrorCode::FabricJobNotFound);
}

#[test]
fn nexus_fabric_run_writes_results_and_reports_failed_inputs() {
    let up = UpProcess::start();
    let dir = up.data_dir.path();
    let wasm = wat::parse_str(ECHO_TRAPS_ON_7).unwrap();
    let file = wasm_workbook(dir, "echo", &wasm);
    let file = file.to_str().unwrap();
    let inputs = dir.join("inputs.jsonl");
    std::fs::write(&inputs, "{\"n\":1}\n{\"n\":2}\n7 fails\n\n{\"n\":4}\n").unwrap();

    let out = up.nexus(
        &[
            "fabric",
            "run",
            file,
            "--kernel",
            "echo",
            "--inputs",
            inputs.to_str().unwrap(),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "some inputs failed: {stderr}");
    let lines: Vec<ResultLine> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(lines[0].output.as_deref(), Some("{\"n\":1}"));
    assert_eq!(
        lines[2].error.as_ref().unwrap().code,
        ErrorCode::CallTrapped
    );
    assert!(
        stderr.contains("input 2 failed: CALL_TRAPPED: "),
        "{stderr}"
    );
    assert!(stderr.contains(" done: 4/4 inputs, 1 failed, "), "{stderr}");

    let results = dir.join("results");
    let out = up.nexus(
        &[
            "fabric",
            "run",
            file,
            "--kernel",
            "echo",
            "--range",
            "0..5",
            "--tier",
            "process",
            "--out",
            results.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for i in 0..5 {
        assert_eq!(
            std::fs::read_to_string(results.join(i.to_string())).unwrap(),
            i.to_string()
        );
    }
    let listed = up.nexus(&["fabric", "ls"], None);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(
        listed.lines().filter(|l| l.starts_with("job_")).count(),
        2,
        "{listed}"
    );
    assert!(
        listed.contains("done       process         5/5       0  echo"),
        "{listed}"
    );
}
