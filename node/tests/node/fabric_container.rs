//! The fabric's container tier on a real `nexus up` process (the worker
//! image is built from that very binary): the same results as the instance
//! tier, failing inputs reported by index, the container's ceilings as
//! Docker reports them, nothing left behind, and a clear refusal when no
//! Docker daemon answers.

use crate::common;
use crate::fabric::{ECHO_TRAPS_ON_7, SLOW_ECHO};

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::process::UpProcess;
use common::wasm_workbook;
use nexus_errors::ErrorCode;
use nexus_node::fabric::ResultLine;

/// The arguments of `nexus [--json] fabric run WORKBOOK --kernel echo
/// --range 0..N --width W --tier TIER`.
fn fabric_run(json: bool, workbook: &Path, n: u32, width: u32, tier: &str) -> Vec<String> {
    let json = json.then_some("--json");
    let workbook = workbook.to_str().unwrap();
    let (range, width) = (format!("0..{n}"), width.to_string());
    json.into_iter()
        .chain([
            "fabric", "run", workbook, "--kernel", "echo", "--range", &range,
        ])
        .chain(["--width", &width, "--tier", tier])
        .map(str::to_owned)
        .collect()
}

/// Runs `args` against `up`: the exit code, stdout and stderr.
fn nexus(up: &UpProcess, args: &[String]) -> (i32, String, String) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = up.nexus(&args, None);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// `nexus fabric run` of `workbook`'s `echo` over `0..n` on `tier`: its
/// exit code, result lines and stderr.
fn run_range(
    up: &UpProcess,
    workbook: &Path,
    n: u32,
    tier: &str,
) -> (i32, Vec<ResultLine>, String) {
    let (code, stdout, stderr) = nexus(up, &fabric_run(false, workbook, n, 4, tier));
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a result line"))
        .collect();
    (code, lines, stderr)
}

/// Names of the containers (running or not) whose name holds `part`.
fn containers_named(part: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "--all",
            "--filter",
            &format!("name={part}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits (at most 30 s) until no container's name holds `part`: the
/// daemon removes `--rm` containers after they exit, a moment after the
/// job ends.
fn assert_containers_removed(part: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = containers_named(part);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "containers left behind: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_container_tier_gives_the_instance_tiers_results() {
    let up = UpProcess::start();
    let wasm = wat::parse_str(ECHO_TRAPS_ON_7).unwrap();
    let file = wasm_workbook(up.data_dir.path(), "echo", &wasm);

    let (code, container, stderr) = run_range(&up, &file, 200, "container");
    assert_eq!(code, 2, "inputs 7 and 70-79 fail: {stderr}");
    let (_, instance, _) = run_range(&up, &file, 200, "instance");
    assert_eq!(container.len(), 200);
    for (i, line) in container.iter().enumerate() {
        assert_eq!(line.index, i);
        if i.to_string().starts_with('7') {
            let error = line.error.as_ref().expect("input starting with 7 traps");
            assert_eq!(error.code, ErrorCode::CallTrapped, "input {i}");
        } else {
            assert_eq!(line.output.as_deref(), Some(i.to_string().as_str()));
        }
        let same = &instance[i];
        assert_eq!(
            (&line.output, line.error.as_ref().map(|e| e.code)),
            (&same.output, same.error.as_ref().map(|e| e.code)),
            "input {i}: container and instance tiers differ"
        );
    }
    assert!(
        stderr.contains(" done: 200/200 inputs, 11 failed, "),
        "{stderr}"
    );
    let job = stderr
        .split_whitespace()
        .find(|w| w.starts_with("job_"))
        .expect("job id");
    assert_containers_removed(job);
}

/// A `--json` container-tier job of `file`'s `echo` over `0..n` at
/// `width`, running: the CLI process, its stdout after the `started` event,
/// and the job id.
fn start_job(up: &UpProcess, file: &Path, n: u32, width: u32) -> (Child, impl BufRead, String) {
    let args = fabric_run(true, file, n, width, "container");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = up.command(&args).spawn().expect("spawn nexus fabric run");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut started = String::new();
    stdout.read_line(&mut started).unwrap();
    let started: serde_json::Value = serde_json::from_str(&started).expect("a started event");
    let job = started["job"]["id"].as_str().expect("job id").to_owned();
    (child, stdout, job)
}

/// Waits (at most 120 s) for container `name` to exist; its HostConfig.
fn host_config(name: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let out = Command::new("docker")
            .args(["inspect", "--format", "{{json .HostConfig}}", name])
            .output()
            .unwrap();
        if out.status.success() {
            return serde_json::from_slice(&out.stdout).unwrap();
        }
        assert!(Instant::now() < deadline, "container {name} never ran");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reads the job's remaining events to the end: the outputs by index and
/// the `finished` event's job.
fn rest_of_job(
    child: &mut Child,
    stdout: impl BufRead,
) -> (Vec<(usize, String)>, serde_json::Value) {
    let mut outputs = Vec::new();
    let mut finished = serde_json::Value::Null;
    for line in stdout.lines() {
        let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        match event["event"].as_str() {
            Some("result") => outputs.push((
                event["result"]["index"].as_u64().unwrap() as usize,
                event["result"]["output"]
                    .as_str()
                    .unwrap_or("<failed>")
                    .to_owned(),
            )),
            Some("finished") => finished = event["job"].clone(),
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert!(child.wait().unwrap().success());
    (outputs, finished)
}

#[test]
fn a_container_worker_runs_without_network_under_ceilings() {
    let up = UpProcess::start();
    let wasm = wat::parse_str(SLOW_ECHO).unwrap();
    let file = wasm_workbook(up.data_dir.path(), "echo", &wasm);
    let (mut child, stdout, job) = start_job(&up, &file, 400, 1);
    let inspected = host_config(&format!("nexus-{job}-0"));
    assert_eq!(inspected["NetworkMode"], "none");
    assert_eq!(inspected["ReadonlyRootfs"], true);
    assert_eq!(inspected["PidsLimit"], 64);
    assert_eq!(inspected["NanoCpus"], 1_000_000_000_u64);
    // The `compute` profile's 64 MiB of guest memory plus 512 MiB for the runtime.
    assert_eq!(inspected["Memory"], (64_u64 + 512) << 20);
    assert_eq!(inspected["CapDrop"], serde_json::json!(["ALL"]));

    let (outputs, finished) = rest_of_job(&mut child, stdout);
    assert_eq!(outputs.len(), 400);
    assert_eq!(finished["done"], 400);
    assert_eq!(finished["failed"], 0);
    assert_containers_removed(&job);
}

#[test]
fn without_a_docker_daemon_the_container_tier_says_so() {
    let socket = "unix:///nonexistent/docker.sock";
    let up = UpProcess::start_in(tempfile::tempdir().unwrap(), &[("DOCKER_HOST", socket)]);
    let wasm = wat::parse_str(ECHO_TRAPS_ON_7).unwrap();
    let file = wasm_workbook(up.data_dir.path(), "echo", &wasm);
    let (code, stdout, _) = nexus(&up, &fabric_run(true, &file, 3, 1, "container"));
    assert_eq!(code, 1);
    let error: serde_json::Value = serde_json::from_str(&stdout).expect("a JSON error on stdout");
    assert_eq!(error["error"]["code"], "FABRIC_TIER_UNAVAILABLE");
    assert_eq!(
        error["error"]["message"],
        "the container tier is unavailable: `docker version` failed: Cannot connect to the \
         Docker daemon at unix:///nonexistent/docker.sock. Is the docker daemon running?"
    );
    // The other tiers still run on that node.
    let (code, _, stderr) = nexus(&up, &fabric_run(false, &file, 3, 1, "process"));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_container_killed_midway_puts_its_inputs_back() {
    let up = UpProcess::start();
    let wasm = wat::parse_str(SLOW_ECHO).unwrap();
    let file = wasm_workbook(up.data_dir.path(), "echo", &wasm);
    let (mut child, stdout, job) = start_job(&up, &file, 600, 2);
    let doomed = format!("nexus-{job}-0");
    host_config(&doomed);
    std::thread::sleep(Duration::from_millis(500));
    let killed = Command::new("docker")
        .args(["kill", &doomed])
        .output()
        .unwrap();
    assert!(
        killed.status.success(),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );

    let (mut outputs, finished) = rest_of_job(&mut child, stdout);
    assert_eq!(finished["state"], "done");
    assert_eq!(
        (&finished["done"], &finished["failed"]),
        (&600.into(), &0.into())
    );
    outputs.sort();
    let expected: Vec<(usize, String)> = (0..600).map(|i| (i, i.to_string())).collect();
    assert_eq!(
        outputs, expected,
        "every input once, from the surviving container"
    );
    assert_containers_removed(&job);
}
