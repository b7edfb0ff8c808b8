//! Crash safety: a node killed at each step of suspend, freeze, resume and
//! archive (an injected abort, as `kill -9` would stop it) restarts, its
//! recovery pass reconciles files with the recorded state, and nothing is
//! lost.

use crate::common;

use std::path::PathBuf;

use common::process::UpProcess;
use common::{stateful_workbook, volume_contents, without_tmp};

/// Runs `setup` verbs, then `verb` with the node set to abort at `step`;
/// restarts it and checks the recorded state and the data.
fn crash_at(step: &str, setup: &[&str], verb: &str, state_after: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = stateful_workbook(dir.path(), "precious");
    let original = without_tmp(volume_contents(&file));

    let up = UpProcess::start_in(dir, &[("NEXUS_FAULT_CRASH_AT", step)]);
    let docked = up.nexus(&["dock", file.to_str().unwrap()], None);
    let id = String::from_utf8(docked.stdout).unwrap().trim().to_string();
    assert!(
        id.starts_with("sb_"),
        "dock: {}",
        String::from_utf8_lossy(&docked.stderr)
    );
    assert!(up.nexus(&["call", &id], None).status.success());
    for setup_verb in setup {
        let out = up.nexus(&["sandbox", setup_verb, &id], None);
        assert!(
            out.status.success(),
            "{setup_verb}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = up.nexus(&["sandbox", verb, &id], None);
    assert!(!out.status.success(), "the node died during {verb}");
    let (status, dir) = up.wait_exit();
    assert!(!status.success(), "aborted at {step}");

    let up = UpProcess::start_in(dir, &[]);
    let info = up.nexus(&["sandbox", "info", &id, "--json"], None);
    let json: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(
        json["state"], state_after,
        "state recorded after a crash at {step}"
    );

    let live = up.data_dir.path().join(format!("sandboxes/{id}.workbook"));
    let cold = up.data_dir.path().join(format!("cold/{id}.workbook"));
    let frozen = matches!(state_after, "frozen" | "archived");
    assert_eq!(
        (live.exists(), cold.exists()),
        (!frozen, frozen),
        "files agree with {state_after}"
    );
    let authoritative: PathBuf = if frozen { cold } else { live.clone() };
    assert_eq!(
        without_tmp(volume_contents(&authoritative)),
        original,
        "nothing lost at {step}"
    );

    if state_after == "archived" {
        assert!(up.nexus(&["sandbox", "resume", &id], None).status.success());
    }
    let called = up.nexus(&["call", &id], None);
    assert_eq!(
        String::from_utf8_lossy(&called.stdout),
        "alive\n",
        "callable after {step}"
    );
    assert_eq!(without_tmp(volume_contents(&live)), original);
}

#[test]
fn crash_in_suspend_before_record() {
    crash_at("suspend:before-record", &[], "suspend", "active");
}

#[test]
fn crash_in_suspend_after_record() {
    crash_at("suspend:after-record", &[], "suspend", "suspended");
}

#[test]
fn crash_in_freeze_before_record() {
    crash_at("freeze:before-record", &["suspend"], "freeze", "suspended");
}

#[test]
fn crash_in_freeze_after_record() {
    crash_at("freeze:after-record", &["suspend"], "freeze", "frozen");
}

#[test]
fn crash_in_resume_after_restore() {
    crash_at(
        "resume:after-restore",
        &["suspend", "freeze"],
        "resume",
        "frozen",
    );
}

#[test]
fn crash_in_resume_before_record() {
    crash_at(
        "resume:before-record",
        &["suspend", "freeze"],
        "resume",
        "frozen",
    );
}

#[test]
fn crash_in_resume_after_record() {
    crash_at(
        "resume:after-record",
        &["suspend", "freeze"],
        "resume",
        "active",
    );
}

#[test]
fn crash_in_archive_before_record() {
    crash_at("archive:before-record", &[], "archive", "active");
}

#[test]
fn crash_in_archive_after_record() {
    crash_at("archive:after-record", &[], "archive", "archived");
}
