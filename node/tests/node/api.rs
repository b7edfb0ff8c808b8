//! The HTTP API against a real node on loopback: dock, call, auth, tenant
//! isolation, refused uploads, hostile guests and concurrency.

use crate::common;

use common::{built_example, dock_wat, print_wat, wat_workbook, TestNode};
use nexus_node::api::types::{CallRequest, CallResponse, Encoding};
use nexus_node::client::Placement;

fn call_with(args: &[&str], stdin: &str) -> CallRequest {
    CallRequest {
        args: args.iter().map(|a| a.to_string()).collect(),
        stdin: stdin.to_string(),
        stdin_encoding: Encoding::Utf8,
        ..Default::default()
    }
}

#[tokio::test]
async fn pack_inspect_dock_call_hello() {
    let node = TestNode::start().await;
    let out = node.data_dir.path().join("hello.workbook");
    let inspection = nexus_workbook::pack(&built_example("hello"), &out).expect("pack hello");
    assert_eq!(inspection.name, "hello");
    assert_eq!(inspection.modules.len(), 1);
    assert_eq!(inspection.modules[0].name, "hello");

    let admin = node.admin();
    let sandbox = admin
        .dock(std::fs::read(&out).unwrap(), None, None)
        .await
        .expect("dock");
    assert_eq!(sandbox.name, "hello");
    assert_eq!(sandbox.state.as_str(), "created");

    let response = admin
        .call(&sandbox.id, &call_with(&["Ada", "Grace"], "ping"))
        .await
        .expect("call");
    assert_eq!(response.exit_code, 0);
    assert_eq!(
        response.stdout,
        "Hello, Ada and Grace! This is a Nexus sandbox speaking.\nYou sent 4 bytes: ping\n"
    );
    let info = admin.sandbox(&sandbox.id).await.unwrap();
    assert_eq!(info.sandbox.state.as_str(), "active");
    assert_eq!(info.sandbox.generation, 1);
    node.stop().await;
}

#[tokio::test]
async fn wat_example_echoes_binary_stdin() {
    let node = TestNode::start().await;
    let out = node.data_dir.path().join("echo.workbook");
    nexus_workbook::pack(&common::repo_root().join("examples/echo-wat"), &out).expect("pack echo");
    let admin = node.admin();
    let sandbox = admin
        .dock(std::fs::read(&out).unwrap(), None, None)
        .await
        .unwrap();
    let stdin: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let request = CallRequest {
        args: vec![],
        stdin: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &stdin),
        stdin_encoding: Encoding::Base64,
        ..Default::default()
    };
    let response: CallResponse = admin.call(&sandbox.id, &request).await.unwrap();
    assert_eq!(response.stdout_encoding, Encoding::Base64);
    let echoed =
        nexus_node::api::types::decode_bytes(response.stdout, response.stdout_encoding).unwrap();
    assert_eq!(echoed, stdin);
    node.stop().await;
}

#[tokio::test]
async fn missing_or_wrong_key_is_401() {
    let node = TestNode::start().await;
    let err = node.client(None).sandboxes().await.unwrap_err();
    assert_eq!(err.code, "AUTH_MISSING_KEY");
    let err = node
        .client(Some("nxk_wrong"))
        .sandboxes()
        .await
        .unwrap_err();
    assert_eq!(err.code, "AUTH_INVALID_KEY");

    let raw = reqwest::Client::new()
        .get(format!("{}/v1/sandboxes", node.url()))
        .header("Authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 401);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AUTH_INVALID_KEY");
    assert!(body["error"]["hint"].as_str().unwrap().len() > 5);
    node.stop().await;
}

#[tokio::test]
async fn tenants_do_not_see_each_other() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let alice = admin.create_tenant("alice").await.unwrap();
    let bob = admin.create_tenant("bob").await.unwrap();
    let alice = node.client(Some(&alice.api_key));
    let bob = node.client(Some(&bob.api_key));

    let file = wat_workbook(node.data_dir.path(), "secret", &print_wat("alice's\n"));
    let sandbox = alice
        .dock(std::fs::read(&file).unwrap(), None, None)
        .await
        .unwrap();

    for err in [
        bob.sandbox(&sandbox.id).await.unwrap_err(),
        bob.call(&sandbox.id, &CallRequest::default())
            .await
            .unwrap_err(),
        bob.remove(&sandbox.id).await.unwrap_err(),
    ] {
        assert_eq!(err.code, "SANDBOX_NOT_FOUND", "{err}");
    }
    assert!(bob.sandboxes().await.unwrap().sandboxes.is_empty());
    assert_eq!(alice.sandboxes().await.unwrap().sandboxes.len(), 1);
    let out = alice
        .call(&sandbox.id, &CallRequest::default())
        .await
        .unwrap();
    assert_eq!(out.stdout, "alice's\n");

    let err = alice.create_tenant("mallory").await.unwrap_err();
    assert_eq!(err.code, "AUTH_FORBIDDEN");
    let err = admin.create_tenant("alice").await.unwrap_err();
    assert_eq!(err.code, "TENANT_EXISTS");
    let err = admin.create_tenant("Not A Name").await.unwrap_err();
    assert_eq!(err.code, "TENANT_NAME_INVALID");
    node.stop().await;
}

#[tokio::test]
async fn refused_uploads_have_their_codes_and_leave_nothing() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let good = std::fs::read(wat_workbook(
        node.data_dir.path(),
        "good",
        &print_wat("ok\n"),
    ))
    .unwrap();

    let not_sqlite = b"this is plainly not a workbook, just some text".to_vec();
    let truncated = good[..good.len() / 2].to_vec();
    let empty = Vec::new();
    for (bytes, code) in [
        (not_sqlite, "WORKBOOK_NOT_A_WORKBOOK"),
        (empty, "WORKBOOK_NOT_A_WORKBOOK"),
        (truncated, "WORKBOOK_TRUNCATED"),
    ] {
        let err = admin.dock(bytes, None, None).await.unwrap_err();
        assert_eq!(err.code, code, "{err}");
    }
    let err = admin
        .dock(good.clone(), Some("bad name!"), None)
        .await
        .unwrap_err();
    assert_eq!(err.code, "SANDBOX_NAME_INVALID");

    assert!(admin.sandboxes().await.unwrap().sandboxes.is_empty());
    let staged = std::fs::read_dir(node.data_dir.path().join("staging"))
        .unwrap()
        .count();
    let live = std::fs::read_dir(node.data_dir.path().join("sandboxes"))
        .unwrap()
        .count();
    assert_eq!((staged, live), (0, 0), "refused uploads leave no files");

    admin.dock(good.clone(), None, None).await.unwrap();
    let err = admin.dock(good, None, None).await.unwrap_err();
    assert_eq!(err.code, "SANDBOX_NAME_TAKEN");
    node.stop().await;
}

#[tokio::test]
async fn bad_requests_have_codes() {
    let node = TestNode::start().await;
    let http = reqwest::Client::new();
    let auth = format!("Bearer {}", node.admin_key);

    let res = http
        .get(format!("{}/v1/nowhere", node.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ROUTE_NOT_FOUND");

    let res = http
        .put(format!("{}/v1/sandboxes", node.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);

    let file = wat_workbook(node.data_dir.path(), "p", &print_wat("p\n"));
    let sandbox = node
        .admin()
        .dock(std::fs::read(&file).unwrap(), None, None)
        .await
        .unwrap();
    let res = http
        .post(format!("{}/v1/sandboxes/{}/call", node.url(), sandbox.id))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .body(r#"{"argz": []}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "REQUEST_INVALID");
    assert!(body["error"]["message"].as_str().unwrap().contains("argz"));

    let res = http
        .get(format!("{}/health", node.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = http
        .get(format!("{}/ready", node.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    node.stop().await;
}

#[tokio::test]
async fn upload_over_the_limit_is_413() {
    let node = TestNode::start_with(|c| c.limits.max_upload_bytes = 1024).await;
    let err = node
        .admin()
        .dock(vec![0u8; 4096], None, None)
        .await
        .unwrap_err();
    assert_eq!(err.code, "UPLOAD_TOO_LARGE");
    node.stop().await;
}

#[tokio::test]
async fn trapping_guest_leaves_node_serving() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let dir = node.data_dir.path();
    let trap = wat_workbook(
        dir,
        "trap",
        r#"(module (func (export "_start") unreachable))"#,
    );
    let spin = wat_workbook(
        dir,
        "spin",
        r#"(module (func (export "_start") (loop (br 0))))"#,
    );
    let fine = wat_workbook(dir, "fine", &print_wat("still here\n"));
    let trap = admin
        .dock(std::fs::read(trap).unwrap(), None, None)
        .await
        .unwrap();
    let fine = admin
        .dock(std::fs::read(fine).unwrap(), None, None)
        .await
        .unwrap();

    let err = admin
        .call(&trap.id, &CallRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code, "CALL_TRAPPED");
    assert!(err.message.contains("unreachable"), "{}", err.message);
    let out = admin.call(&fine.id, &CallRequest::default()).await.unwrap();
    assert_eq!(out.stdout, "still here\n");

    // "compute" gives 5 s of CPU; the runaway is stopped and the node answers.
    let spin = admin
        .dock(std::fs::read(spin).unwrap(), None, None)
        .await
        .unwrap();
    let no_input = CallRequest::default();
    let (spun, out) = tokio::join!(
        admin.call(&spin.id, &no_input),
        admin.call(&fine.id, &no_input)
    );
    assert_eq!(spun.unwrap_err().code, "CALL_CPU_LIMIT");
    assert_eq!(out.unwrap().stdout, "still here\n");
    node.stop().await;
}

#[tokio::test]
async fn many_concurrent_calls_to_different_sandboxes() {
    let node = TestNode::start().await;
    let admin = std::sync::Arc::new(node.admin());
    let mut ids = Vec::new();
    for i in 0..16 {
        let wat = print_wat(&format!("I am {i}\n"));
        ids.push(dock_wat(&admin, node.data_dir.path(), &format!("s{i}"), &wat).await);
    }
    let mut calls = tokio::task::JoinSet::new();
    for round in 0..4 {
        for (i, id) in ids.iter().enumerate() {
            let (admin, id) = (admin.clone(), id.clone());
            calls.spawn(async move {
                let out = admin.call(&id, &CallRequest::default()).await.unwrap();
                (i, round, out.stdout)
            });
        }
    }
    let mut answered = 0;
    while let Some(result) = calls.join_next().await {
        let (i, _, stdout) = result.unwrap();
        assert_eq!(stdout, format!("I am {i}\n"));
        answered += 1;
    }
    assert_eq!(answered, 64);
    node.stop().await;
}

#[tokio::test]
async fn sandbox_rm_removes_record_and_file() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let file = wat_workbook(node.data_dir.path(), "gone", &print_wat("x\n"));
    let sandbox = admin
        .dock(std::fs::read(file).unwrap(), None, None)
        .await
        .unwrap();
    let live = node
        .data_dir
        .path()
        .join(format!("sandboxes/{}.workbook", sandbox.id));
    assert!(live.exists());
    admin.remove(&sandbox.id).await.unwrap();
    assert!(!live.exists());
    let err = admin.sandbox(&sandbox.id).await.unwrap_err();
    assert_eq!(err.code, "SANDBOX_NOT_FOUND");
    let err = admin
        .call(&sandbox.id, &CallRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code, "SANDBOX_NOT_FOUND");
    node.stop().await;
}

#[tokio::test]
async fn registry_survives_restart() {
    let node = TestNode::start().await;
    let file = wat_workbook(node.data_dir.path(), "keep", &print_wat("kept\n"));
    let docked = node
        .admin()
        .dock(std::fs::read(&file).unwrap(), None, None)
        .await
        .unwrap();

    let node = node.restart().await;
    let admin = node.admin();
    let list = admin.sandboxes().await.unwrap().sandboxes;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, docked.id);
    let out = admin
        .call(&docked.id, &CallRequest::default())
        .await
        .unwrap();
    assert_eq!(out.stdout, "kept\n");
    node.stop().await;
}

#[tokio::test]
async fn a_dock_asking_for_labels_this_node_lacks_is_refused_by_name() {
    let node = TestNode::start_with(|config| {
        config.node.labels = [("zone".to_owned(), "a".to_owned())].into();
    })
    .await;
    let dir = node.data_dir.path();
    let bytes = std::fs::read(wat_workbook(
        dir,
        "noop",
        r#"(module (func (export "_start")))"#,
    ))
    .unwrap();
    let admin = node.admin();
    let on = |labels: &[&str]| Placement {
        labels: labels.iter().map(|l| l.to_string()).collect(),
        ..Placement::default()
    };
    let placed = admin
        .dock_on(bytes.clone(), Some("in-a"), None, &on(&["zone=a"]))
        .await
        .expect("matching labels");
    assert_eq!(placed.home_node, 1);

    let refused = admin
        .dock_on(bytes.clone(), Some("in-b"), None, &on(&["zone=b"]))
        .await
        .unwrap_err();
    assert_eq!(refused.code, "PLACEMENT_NO_MATCH");
    assert_eq!(
        refused.message,
        "node 1 does not have the labels zone=b (it has {zone=a})"
    );
    let malformed = admin
        .dock_on(bytes, Some("bad"), None, &on(&["zone"]))
        .await
        .unwrap_err();
    assert_eq!(malformed.code, "REQUEST_INVALID");
    assert_eq!(malformed.message, "?where=zone: \"zone\" is not key=value");
    assert_eq!(admin.sandboxes().await.unwrap().sandboxes.len(), 1);
    node.stop().await;
}

#[tokio::test]
async fn net_status_on_a_node_without_the_mesh_says_it_is_off() {
    let node = TestNode::start().await;
    let res = reqwest::Client::new()
        .get(format!("{}/v1/net/status", node.url()))
        .header("Authorization", format!("Bearer {}", node.admin_key))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "MESH_DISABLED");
    assert_eq!(
        body["error"]["message"],
        "node 1 does not run the mesh ([mesh] enabled = false)"
    );
}
