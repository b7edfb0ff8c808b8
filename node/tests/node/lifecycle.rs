//! The lifecycle against a real node: verbs and their refusals, many
//! suspend/resume and freeze/thaw cycles without data loss, the idle ladder,
//! clone and prefetch.

use crate::common;

use std::time::Duration;

use common::{
    dock_wat, print_wat, stateful_workbook, volume_contents, wat_workbook, without_tmp, TestNode,
};
use nexus_node::api::types::{CallRequest, CloneRequest};
use nexus_node::sandbox::Verb;

#[tokio::test]
async fn verbs_follow_the_state_machine() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let file = wat_workbook(node.data_dir.path(), "v", &print_wat("v\n"));
    let s = admin
        .dock(std::fs::read(file).unwrap(), None, None)
        .await
        .unwrap();

    let err = admin.transit(&s.id, Verb::Suspend, None).await.unwrap_err();
    assert_eq!(err.code, "SANDBOX_INVALID_TRANSITION");
    assert!(
        err.message.contains("created") && err.message.contains("allowed next states: active"),
        "{}",
        err.message
    );

    admin.call(&s.id, &CallRequest::default()).await.unwrap();
    let s1 = admin.transit(&s.id, Verb::Suspend, None).await.unwrap();
    assert_eq!((s1.state.as_str(), s1.generation), ("suspended", 2));

    let err = admin
        .transit(&s.id, Verb::Freeze, Some(1))
        .await
        .unwrap_err();
    assert_eq!(err.code, "SANDBOX_STALE_GENERATION");
    let err = admin.transit(&s.id, Verb::Archive, None).await.unwrap_err();
    assert_eq!(err.code, "SANDBOX_INVALID_TRANSITION");

    let frozen = admin.transit(&s.id, Verb::Freeze, Some(2)).await.unwrap();
    assert_eq!(frozen.state.as_str(), "frozen");
    let live = node
        .data_dir
        .path()
        .join(format!("sandboxes/{}.workbook", s.id));
    let cold = node.data_dir.path().join(format!("cold/{}.workbook", s.id));
    assert!(
        !live.exists() && cold.exists(),
        "freeze moves the file to cold storage"
    );

    let archived = admin.transit(&s.id, Verb::Archive, None).await.unwrap();
    assert_eq!(archived.state.as_str(), "archived");
    let err = admin
        .call(&s.id, &CallRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code, "SANDBOX_NOT_RUNNABLE");

    let prefetched = admin.transit(&s.id, Verb::Prefetch, None).await.unwrap();
    assert_eq!(
        prefetched.generation, archived.generation,
        "prefetch changes no state"
    );
    assert!(live.exists(), "prefetch pulls the file local");

    let resumed = admin.transit(&s.id, Verb::Resume, None).await.unwrap();
    assert_eq!(resumed.state.as_str(), "active");
    assert!(!cold.exists(), "a running sandbox keeps no cold copy");
    let out = admin.call(&s.id, &CallRequest::default()).await.unwrap();
    assert_eq!(out.stdout, "v\n");

    admin.transit(&s.id, Verb::Archive, None).await.unwrap();
    let deleted = admin.transit(&s.id, Verb::Delete, None).await.unwrap();
    assert_eq!(deleted.state.as_str(), "deleted");
    assert!(!live.exists() && !cold.exists(), "delete drops the data");
    let err = admin.transit(&s.id, Verb::Resume, None).await.unwrap_err();
    assert_eq!(err.code, "SANDBOX_INVALID_TRANSITION");
    node.stop().await;
}

#[tokio::test]
async fn cycles_keep_workspace_and_memory_and_empty_tmp() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let file = stateful_workbook(node.data_dir.path(), "state");
    let original = without_tmp(volume_contents(&file));
    let s = admin
        .dock(std::fs::read(&file).unwrap(), None, None)
        .await
        .unwrap();
    admin.call(&s.id, &CallRequest::default()).await.unwrap();
    let live = node
        .data_dir
        .path()
        .join(format!("sandboxes/{}.workbook", s.id));

    for i in 0..200 {
        admin.transit(&s.id, Verb::Suspend, None).await.unwrap();
        admin.transit(&s.id, Verb::Resume, None).await.unwrap();
        if i % 50 == 0 {
            let out = admin.call(&s.id, &CallRequest::default()).await.unwrap();
            assert_eq!(out.stdout, "alive\n");
        }
    }
    for _ in 0..50 {
        admin.transit(&s.id, Verb::Suspend, None).await.unwrap();
        admin.transit(&s.id, Verb::Freeze, None).await.unwrap();
        // A call thaws a frozen sandbox by itself.
        let out = admin.call(&s.id, &CallRequest::default()).await.unwrap();
        assert_eq!(out.stdout, "alive\n");
    }
    let after = volume_contents(&live);
    assert!(
        after.iter().all(|(v, _, _)| v != "tmp"),
        "tmp is empty after resume"
    );
    assert_eq!(
        without_tmp(after),
        original,
        "workspace and memory are byte-identical"
    );
    let info = admin.sandbox(&s.id).await.unwrap();
    assert_eq!(info.sandbox.generation, 1 + 400 + 50 * 3);
    node.stop().await;
}

#[tokio::test]
async fn ladder_demotes_idle_sandboxes_and_leaves_busy_ones() {
    let node = TestNode::start_with(|c| {
        c.lifecycle.suspend_after_ms = 300;
        c.lifecycle.freeze_after_ms = 600;
        c.lifecycle.tick_ms = 50;
    })
    .await;
    let admin = node.admin();
    let dir = node.data_dir.path();
    let idle = wat_workbook(dir, "idle", &print_wat("idle\n"));
    let idle = admin
        .dock(std::fs::read(idle).unwrap(), None, None)
        .await
        .unwrap();
    admin.call(&idle.id, &CallRequest::default()).await.unwrap();
    // Spins until its 5 s CPU limit: in flight for longer than the ladder waits.
    let busy = wat_workbook(
        dir,
        "busy",
        r#"(module (func (export "_start") (loop (br 0))))"#,
    );
    let busy = admin
        .dock(std::fs::read(busy).unwrap(), None, None)
        .await
        .unwrap();
    admin.transit(&busy.id, Verb::Prefetch, None).await.unwrap();
    let busy_client = node.admin();
    let busy_id = busy.id.clone();
    let spinning =
        tokio::spawn(async move { busy_client.call(&busy_id, &CallRequest::default()).await });

    let mut frozen = false;
    for _ in 0..80 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if admin
            .sandbox(&idle.id)
            .await
            .unwrap()
            .sandbox
            .state
            .as_str()
            == "frozen"
        {
            frozen = true;
            break;
        }
    }
    assert!(frozen, "the idle sandbox went active → suspended → frozen");

    let info = admin.sandbox(&busy.id).await.unwrap();
    assert_eq!(
        info.sandbox.state.as_str(),
        "active",
        "a busy sandbox is not demoted"
    );
    assert_eq!(info.calls_in_flight, 1);
    let reason = info.not_demoted_reason.expect("the reason is recorded");
    assert!(reason.contains("1 call(s) in flight"), "{reason}");
    assert_eq!(spinning.await.unwrap().unwrap_err().code, "CALL_CPU_LIMIT");

    let out = admin.call(&idle.id, &CallRequest::default()).await.unwrap();
    assert_eq!(out.stdout, "idle\n");
    assert_eq!(
        admin
            .sandbox(&idle.id)
            .await
            .unwrap()
            .sandbox
            .state
            .as_str(),
        "active"
    );
    node.stop().await;
}

#[tokio::test]
async fn clone_copies_into_another_tenant_and_leaves_the_base_alone() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let file = stateful_workbook(node.data_dir.path(), "template");
    let base = admin
        .dock(std::fs::read(&file).unwrap(), None, None)
        .await
        .unwrap();
    let live = node
        .data_dir
        .path()
        .join(format!("sandboxes/{}.workbook", base.id));
    let before = std::fs::read(&live).unwrap();
    let acme = admin.create_tenant("acme").await.unwrap();

    let request = CloneRequest {
        name: Some("acme-copy".into()),
        tenant: Some("acme".into()),
    };
    let copy = admin.clone_sandbox(&base.id, &request).await.unwrap();
    assert_eq!(copy.tenant_id, acme.tenant.id);
    assert_eq!(
        std::fs::read(&live).unwrap(),
        before,
        "the base is never mutated"
    );
    let copy_file = node
        .data_dir
        .path()
        .join(format!("sandboxes/{}.workbook", copy.id));
    let copied = volume_contents(&copy_file);
    assert!(
        copied.iter().all(|(v, _, _)| v != "tmp"),
        "the copy starts with an empty tmp"
    );
    assert_eq!(copied, without_tmp(volume_contents(&live)));

    let acme_client = node.client(Some(&acme.api_key));
    let out = acme_client
        .call(&copy.id, &CallRequest::default())
        .await
        .unwrap();
    assert_eq!(out.stdout, "alive\n");
    let err = acme_client
        .clone_sandbox(
            &copy.id,
            &CloneRequest {
                name: None,
                tenant: Some("default".into()),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, "AUTH_FORBIDDEN");
    let err = acme_client
        .clone_sandbox(&base.id, &CloneRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code, "SANDBOX_NOT_FOUND");
    node.stop().await;
}

#[tokio::test]
async fn schedule_fires_on_a_frozen_sandbox_and_survives_restart() {
    let node = TestNode::start_with(|c| c.lifecycle.schedule_tick_ms = 50).await;
    let dir = node.data_dir.path();
    let file = wat_workbook(dir, "cron", &print_wat("tick\n"));
    let workbook = nexus_workbook::Workbook::open(&file).unwrap();
    workbook
        .set_schedule("every2s", "*/2 * * * * *", None, Some(b"in"))
        .unwrap();
    workbook.close().unwrap();
    let admin = node.admin();
    let s = admin
        .dock(std::fs::read(&file).unwrap(), None, None)
        .await
        .unwrap();

    let node = wait_active_after_freeze(node, &s.id).await;
    let log = std::fs::read_to_string(node.data_dir.path().join("schedules.json")).unwrap();
    assert!(log.contains(&format!("{}/every2s", s.id)), "{log}");

    let node = node.restart().await;
    let node = wait_active_after_freeze(node, &s.id).await;
    node.stop().await;
}

/// Freezes the sandbox (retrying while the schedule keeps waking it), then
/// waits for the schedule to wake it again.
async fn wait_active_after_freeze(node: TestNode, id: &str) -> TestNode {
    let admin = node.admin();
    let mut frozen = false;
    for _ in 0..100 {
        let state = admin.sandbox(id).await.unwrap().sandbox.state;
        let verb = match state.as_str() {
            "active" => Verb::Suspend,
            "suspended" => Verb::Freeze,
            "frozen" => {
                frozen = true;
                break;
            }
            _ => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = admin.transit(id, verb, None).await;
    }
    assert!(frozen, "the sandbox could be frozen between firings");
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if admin.sandbox(id).await.unwrap().sandbox.state.as_str() == "active" {
            return node;
        }
    }
    panic!("the schedule did not wake the frozen sandbox within 5 s");
}

/// Counts its calls in the workbook's kv table and writes the count (LE u32).
const KV_COUNTER: &str = r#"(module
  (import "nexus_v1" "kv_get" (func $get (param i32 i32 i32 i32) (result i32)))
  (import "nexus_v1" "kv_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "count")
  (func (export "_start")
    (if (i32.lt_s (call $get (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 4)) (i32.const 0))
      (then (i32.store (i32.const 16) (i32.const 0))))
    (i32.store (i32.const 16) (i32.add (i32.load (i32.const 16)) (i32.const 1)))
    (drop (call $set (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 4)))
    (i32.store (i32.const 32) (i32.const 16))
    (i32.store (i32.const 36) (i32.const 4))
    (drop (call $w (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 48)))))"#;

#[tokio::test]
async fn guest_state_lives_in_the_workbook_across_suspend_and_freeze() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let file = wat_workbook(node.data_dir.path(), "counter", KV_COUNTER);
    let s = admin
        .dock(std::fs::read(file).unwrap(), None, None)
        .await
        .unwrap();
    let count = |out: nexus_node::api::types::CallResponse| {
        let bytes = nexus_node::api::types::decode_bytes(out.stdout, out.stdout_encoding).unwrap();
        u32::from_le_bytes(bytes.try_into().expect("4 bytes"))
    };
    for expected in 1..=3 {
        assert_eq!(
            count(admin.call(&s.id, &CallRequest::default()).await.unwrap()),
            expected
        );
    }
    admin.transit(&s.id, Verb::Suspend, None).await.unwrap();
    admin.transit(&s.id, Verb::Freeze, None).await.unwrap();
    let cold = node.data_dir.path().join(format!("cold/{}.workbook", s.id));
    let stored = nexus_workbook::Workbook::open_read_only(&cold)
        .unwrap()
        .kv_get("count")
        .unwrap();
    assert_eq!(
        stored,
        Some(3u32.to_le_bytes().to_vec()),
        "the count is in the frozen file"
    );
    assert_eq!(
        count(admin.call(&s.id, &CallRequest::default()).await.unwrap()),
        4
    );
    let info = admin.sandbox(&s.id).await.unwrap();
    assert_eq!(info.denials.total, 0);
    node.stop().await;
}

#[tokio::test]
async fn evicted_warm_contexts_reopen_their_workbooks() {
    let node = TestNode::start_with(|c| c.limits.max_open_workbooks = 2).await;
    let admin = node.admin();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(dock_wat(&admin, node.data_dir.path(), &format!("c{i}"), KV_COUNTER).await);
    }
    for round in 1..=3u32 {
        for id in &ids {
            let out = admin.call(id, &CallRequest::default()).await.unwrap();
            let bytes =
                nexus_node::api::types::decode_bytes(out.stdout, out.stdout_encoding).unwrap();
            assert_eq!(
                bytes,
                round.to_le_bytes(),
                "each sandbox keeps its own count"
            );
        }
    }
    node.stop().await;
}

#[tokio::test]
async fn rust_counter_example_keeps_count_and_journal_through_freeze() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let out = node.data_dir.path().join("counter.workbook");
    nexus_workbook::pack(&common::built_example("counter"), &out).expect("pack counter");
    let s = admin
        .dock(std::fs::read(&out).unwrap(), None, None)
        .await
        .unwrap();
    for n in 1..=3 {
        let reply = admin.call(&s.id, &CallRequest::default()).await.unwrap();
        assert_eq!(reply.stdout, format!("count = {n}\n"), "{}", reply.stderr);
    }
    admin.transit(&s.id, Verb::Suspend, None).await.unwrap();
    admin.transit(&s.id, Verb::Freeze, None).await.unwrap();
    let reply = admin.call(&s.id, &CallRequest::default()).await.unwrap();
    assert_eq!(reply.stdout, "count = 4\n");
    admin.transit(&s.id, Verb::Suspend, None).await.unwrap();
    let live = node
        .data_dir
        .path()
        .join(format!("sandboxes/{}.workbook", s.id));
    let files = volume_contents(&live);
    let journal = files
        .iter()
        .find(|(v, p, _)| v == "memory" && p == "journal.txt")
        .map(|(_, _, data)| String::from_utf8_lossy(data).into_owned());
    assert_eq!(journal.as_deref(), Some("call 1\ncall 2\ncall 3\ncall 4\n"));
    node.stop().await;
}
