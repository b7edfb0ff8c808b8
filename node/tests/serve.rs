//! The `serve` call shape through a real node: requests to
//! `/v1/sandboxes/{id}/http/...` reach the `greeter` example's handler,
//! behind the same auth and lifecycle gate as `call`.

mod common;

use common::{built_example, dock_built, dock_wat, print_wat, TestNode};

/// A sandbox running the greeter example: (node, sandbox URL prefix, key).
async fn greeter() -> (TestNode, String) {
    let node = TestNode::start().await;
    let id = dock_built(&node.admin(), &built_example("greeter"), node.data_dir.path(), None).await;
    (node, id)
}

fn http(node: &TestNode, id: &str, path: &str) -> String {
    format!("{}/v1/sandboxes/{id}/http{path}", node.url())
}

#[tokio::test]
async fn requests_reach_the_handler_and_its_answers_come_back() {
    let (node, id) = greeter().await;
    let web = reqwest::Client::new();
    let key = node.admin_key.clone();

    let resp = web
        .get(http(&node, &id, "/hello?name=Ada"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/plain");
    assert_eq!(resp.text().await.expect("body"), "hello, Ada");

    let resp = web
        .post(http(&node, &id, "/echo"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(r#"{"a":1}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.text().await.expect("body"), r#"{"a":1}"#);

    for want in ["1", "2"] {
        let resp = web
            .post(http(&node, &id, "/visits"))
            .bearer_auth(&key)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.text().await.expect("body"), want, "state is kept in kv");
    }

    let resp = web
        .get(http(&node, &id, "/headers"))
        .bearer_auth(&key)
        .header("x-trace", "t1")
        .header("cookie", "session=secret")
        .send()
        .await
        .expect("send");
    let names = resp.text().await.expect("body");
    assert!(names.lines().any(|n| n == "x-trace"), "{names}");
    for private in ["authorization", "cookie", "host"] {
        assert!(!names.lines().any(|n| n == private), "{private} leaked: {names}");
    }

    let resp = web
        .delete(http(&node, &id, ""))
        .bearer_auth(&key)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.text().await.expect("body"), "no route for DELETE /");
}

#[tokio::test]
async fn serve_is_gated_like_call() {
    let (node, id) = greeter().await;
    let web = reqwest::Client::new();
    let resp = web.get(http(&node, &id, "/hello")).send().await.expect("send");
    assert_eq!(resp.status(), 401);

    let other = node.admin().create_tenant("other").await.expect("tenant");
    let resp = web
        .get(http(&node, &id, "/hello"))
        .bearer_auth(&other.api_key)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 404, "another tenant's sandbox is not found");

    let resp = web
        .get(http(&node, &id, "/hello"))
        .bearer_auth(&node.admin_key)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.text().await.expect("body"), "hello, world");
    let admin = node.admin();
    admin
        .transit(&id, nexus_node::sandbox::Verb::Suspend, None)
        .await
        .expect("suspend");
    let resp = web
        .get(http(&node, &id, "/hello?name=again"))
        .bearer_auth(&node.admin_key)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.text().await.expect("body"), "hello, again");
    let state = admin.sandbox(&id).await.expect("info").sandbox.state;
    assert_eq!(state.to_string(), "active", "the request resumed it");
}

#[tokio::test]
async fn modules_without_a_handler_or_with_a_bad_answer_are_refused() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let web = reqwest::Client::new();
    let dir = node.data_dir.path();
    let command = dock_wat(&admin, dir, "command", &print_wat("hi\n")).await;
    // Answers 5 bytes of garbage: not an encoded response.
    let garbage = r#"(module
  (memory (export "memory") 1)
  (data (i32.const 1024) "junk!")
  (func (export "arena") (result i64)
    (i64.or (i64.shl (i64.const 4096) (i64.const 32)) (i64.const 1024)))
  (func (export "nexus_http") (param i32) (result i32) (i32.const 5)))"#;
    let garbage = dock_wat(&admin, dir, "garbage", garbage).await;
    for (id, status, code) in [
        (command, 422, "CALL_INSTANTIATE_FAILED"),
        (garbage, 502, "CALL_BAD_RESPONSE"),
    ] {
        let resp = web
            .get(http(&node, &id, "/"))
            .bearer_auth(&node.admin_key)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), status);
        let body: serde_json::Value = resp.json().await.expect("json error");
        assert_eq!(body["error"]["code"], code, "{body}");
    }
}
