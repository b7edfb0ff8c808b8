//! `nexus logs`: a sandbox's stderr and lifecycle events, through the API
//! and the CLI (`--follow` included).

use crate::common;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use common::process::UpProcess;
use common::{call_args, stderr_wat, wat_workbook, TestNode};
use nexus_node::lifecycle::journal::LogKind;
use nexus_node::sandbox::Verb;

#[tokio::test]
async fn the_log_holds_each_calls_stderr_and_every_transition_in_order() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let file = wat_workbook(
        node.data_dir.path(),
        "noisy",
        &stderr_wat("warming up\nready\n"),
    );
    let s = admin
        .dock(std::fs::read(file).unwrap(), None, None)
        .await
        .unwrap();
    assert!(admin.logs(&s.id, 0).await.unwrap().entries.is_empty());

    call_args(&admin, &s.id, &[]).await.unwrap();
    admin.transit(&s.id, Verb::Suspend, None).await.unwrap();
    call_args(&admin, &s.id, &[]).await.unwrap();

    let logs = admin.logs(&s.id, 0).await.unwrap();
    let seen: Vec<(LogKind, &str)> = logs
        .entries
        .iter()
        .map(|e| (e.kind, e.text.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (LogKind::Event, "created → active (first call)"),
            (LogKind::Stderr, "warming up\nready\n"),
            (LogKind::Event, "active → suspended"),
            (LogKind::Event, "suspended → active"),
            (LogKind::Stderr, "warming up\nready\n"),
        ]
    );
    assert_eq!(logs.node_id, 1);
    assert_eq!(logs.missed, 0);
    assert_eq!(logs.last_seq, 5);
    let seqs: Vec<u64> = logs.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);

    let later = admin.logs(&s.id, 3).await.unwrap();
    assert_eq!(later.entries.len(), 2);
    assert_eq!(later.entries[0].seq, 4);
    let none = admin.logs(&s.id, 5).await.unwrap();
    assert!(none.entries.is_empty());
    assert_eq!(none.last_seq, 5);

    // Another tenant cannot read it.
    let other = admin.create_tenant("other").await.unwrap();
    let err = node
        .client(Some(&other.api_key))
        .logs(&s.id, 0)
        .await
        .unwrap_err();
    assert_eq!(err.code, "SANDBOX_NOT_FOUND");
    node.stop().await;
}

#[test]
fn cli_logs_prints_stderr_and_events_and_follows_new_ones() {
    let up = UpProcess::start();
    let file = wat_workbook(up.data_dir.path(), "noisy", &stderr_wat("noisy line\n"));
    let docked = up.nexus(&["dock", file.to_str().unwrap()], None);
    assert!(docked.status.success());
    let id = String::from_utf8_lossy(&docked.stdout).trim().to_string();
    assert!(up.nexus(&["call", &id], None).status.success());

    let out = up.nexus(&["logs", &id], None);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].ends_with("Z event  created → active (first call)"),
        "{text}"
    );
    assert!(lines[1].ends_with("Z stderr noisy line"), "{text}");

    let json = up.nexus(&["--json", "logs", &id], None);
    let entries: Vec<serde_json::Value> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["kind"], "stderr");
    assert_eq!(entries[1]["text"], "noisy line\n");

    // --follow prints what was there, then what comes.
    let mut follow = up.command(&["logs", &id, "--follow"]).spawn().unwrap();
    let stdout = follow.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let next = |what: &str| {
        rx.recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("--follow printed no {what} within 30 s"))
    };
    assert!(next("first event").ends_with("(first call)"));
    assert!(next("first stderr").ends_with("stderr noisy line"));
    assert!(up
        .nexus(&["sandbox", "suspend", &id], None)
        .status
        .success());
    assert!(next("new event").ends_with("event  active → suspended"));
    follow.kill().unwrap();
    follow.wait().unwrap();

    let missing = up.nexus(&["logs", "sb_nope"], None);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("error[SANDBOX_NOT_FOUND]"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}
