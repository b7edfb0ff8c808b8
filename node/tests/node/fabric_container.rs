//! The fabric's container tier on a real `nexus up` process (the worker
//! image is built from that very binary): the same results as the instance
//! tier, failing inputs reported by index, the container's ceilings as
//! Docker reports them, nothing left behind, and a clear refusal when no
//! Docker daemon answers.

use crate::common;
use crate::fabric::{ECHO_TRAPS_ON_7, SLOW_ECHO};

use std::io::{BufRead, BufReader};
use std::process::Command;
use std::time::{Duration, Instant};

use common::process::UpProcess;
use common::wasm_workbook;
use nexus_errors::ErrorCode;
use nexus_node::fabric::ResultLine;

/// `nexus fabric run WORKBOOK --kernel echo --range 0..N --tier TIER`:
/// its exit code, result lines and stderr.
fn run_range(up: &UpProcess, workbook: &str, n: u32, tier: &str) -> (i32, Vec<ResultLine>, String) {
    let range = format!("0..{n}");
    let out = up.nexus(
        &[
            "fabric", "run", workbook, "--kernel", "echo", "--range", &range, "--width", "4",
            "--tier", tier,
        ],
        None,
    );
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a result line"))
        .collect();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), lines, stderr)
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
    let file = file.to_str().unwrap();

    let (code, container, stderr) = run_range(&up, file, 200, "container");
    assert_eq!(code, 2, "inputs 7 and 70-79 fail: {stderr}");
    let (_, instance, _) = run_range(&up, file, 200, "instance");
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

#[test]
fn a_container_worker_runs_without_network_under_ceilings() {
    let up = UpProcess::start();
    let wasm = wat::parse_str(SLOW_ECHO).unwrap();
    let file = wasm_workbook(up.data_dir.path(), "echo", &wasm);
    let mut child = up
        .command(&[
            "--json",
            "fabric",
            "run",
            file.to_str().unwrap(),
            "--kernel",
            "echo",
            "--range",
            "0..400",
            "--width",
            "1",
            "--tier",
            "container",
        ])
        .spawn()
        .expect("spawn nexus fabric run");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut started = String::new();
    stdout.read_line(&mut started).unwrap();
    let started: serde_json::Value = serde_json::from_str(&started).expect("a started event");
    let job = started["job"]["id"].as_str().expect("job id").to_owned();
    let name = format!("nexus-{job}-0");

    let deadline = Instant::now() + Duration::from_secs(120);
    let inspected = loop {
        let out = Command::new("docker")
            .args(["inspect", "--format", "{{json .HostConfig}}", &name])
            .output()
            .unwrap();
        if out.status.success() {
            break serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
        }
        assert!(Instant::now() < deadline, "container {name} never ran");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(inspected["NetworkMode"], "none");
    assert_eq!(inspected["ReadonlyRootfs"], true);
    assert_eq!(inspected["PidsLimit"], 64);
    assert_eq!(inspected["NanoCpus"], 1_000_000_000_u64);
    // The `compute` profile's 64 MiB of guest memory plus 512 MiB for the runtime.
    assert_eq!(inspected["Memory"], (64_u64 + 512) << 20);
    assert_eq!(inspected["CapDrop"], serde_json::json!(["ALL"]));

    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    let finished: serde_json::Value =
        serde_json::from_str(rest.lines().last().expect("a finished event")).unwrap();
    assert_eq!(finished["event"], "finished");
    assert_eq!(finished["job"]["done"], 400);
    assert_eq!(finished["job"]["failed"], 0);
    assert_containers_removed(&job);
}

#[test]
fn without_a_docker_daemon_the_container_tier_says_so() {
    let socket = "unix:///nonexistent/docker.sock";
    let up = UpProcess::start_in(tempfile::tempdir().unwrap(), &[("DOCKER_HOST", socket)]);
    let wasm = wat::parse_str(ECHO_TRAPS_ON_7).unwrap();
    let file = wasm_workbook(up.data_dir.path(), "echo", &wasm);
    let out = up.nexus(
        &[
            "--json",
            "fabric",
            "run",
            file.to_str().unwrap(),
            "--kernel",
            "echo",
            "--range",
            "0..3",
            "--tier",
            "container",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let error: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("a JSON error on stdout");
    assert_eq!(error["error"]["code"], "FABRIC_TIER_UNAVAILABLE");
    assert_eq!(
        error["error"]["message"],
        "the container tier is unavailable: `docker version` failed: Cannot connect to the \
         Docker daemon at unix:///nonexistent/docker.sock. Is the docker daemon running?"
    );
    // The other tiers still run on that node.
    let out = up.nexus(
        &[
            "fabric",
            "run",
            file.to_str().unwrap(),
            "--kernel",
            "echo",
            "--range",
            "0..3",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
}
