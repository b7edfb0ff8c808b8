//! The `serve` call shape through a real node: requests to
//! `/v1/sandboxes/{id}/http/...` reach the `greeter` example's handler,
//! behind the same auth and lifecycle gate as `call`.

use crate::common;

use common::{built_example, dock_built, dock_wat, print_wat, TestNode};

/// A node with a sandbox running the greeter example: (node, sandbox id).
async fn greeter() -> (TestNode, String) {
    let node = TestNode::start().await;
    let id = dock_built(
        &node.admin(),
        &built_example("greeter"),
        node.data_dir.path(),
        None,
    )
    .await;
    (node, id)
}

fn http(node: &TestNode, id: &str, path: &str) -> String {
    format!("{}/v1/sandboxes/{id}/http{path}", node.url())
}

/// Sends `req` with the admin key: (status, content type, body).
async fn send(node: &TestNode, req: reqwest::RequestBuilder) -> (u16, String, String) {
    let resp = req.bearer_auth(&node.admin_key).send().await.expect("send");
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().expect("ascii").to_string())
        .unwrap_or_default();
    (status, kind, resp.text().await.expect("body"))
}

#[tokio::test]
async fn requests_reach_the_handler_and_its_answers_come_back() {
    let (node, id) = greeter().await;
    let web = reqwest::Client::new();
    let hello = web.get(http(&node, &id, "/hello?name=Ada"));
    let text = "text/plain".to_string();
    assert_eq!(send(&node, hello).await, (200, text, "hello, Ada".into()));

    let echo = web
        .post(http(&node, &id, "/echo"))
        .header("content-type", "application/json")
        .body(r#"{"a":1}"#);
    let json = "application/json".to_string();
    assert_eq!(send(&node, echo).await, (200, json, r#"{"a":1}"#.into()));

    for want in ["1", "2"] {
        let (_, _, body) = send(&node, web.post(http(&node, &id, "/visits"))).await;
        assert_eq!(body, want, "state is kept in kv");
    }

    let headers = web
        .get(http(&node, &id, "/headers"))
        .header("x-trace", "t1")
        .header("cookie", "session=secret");
    let (_, _, names) = send(&node, headers).await;
    assert!(names.lines().any(|n| n == "x-trace"), "{names}");
    for private in ["authorization", "cookie", "host"] {
        assert!(
            !names.lines().any(|n| n == private),
            "{private} leaked: {names}"
        );
    }

    let (status, _, body) = send(&node, web.delete(http(&node, &id, ""))).await;
    assert_eq!((status, body.as_str()), (404, "no route for DELETE /"));
}

#[tokio::test]
async fn serve_is_gated_like_call() {
    let (node, id) = greeter().await;
    let web = reqwest::Client::new();
    let resp = web
        .get(http(&node, &id, "/hello"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);

    let other = node.admin().create_tenant("other").await.expect("tenant");
    let resp = web
        .get(http(&node, &id, "/hello"))
        .bearer_auth(&other.api_key)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 404, "another tenant's sandbox is not found");

    let (_, _, body) = send(&node, web.get(http(&node, &id, "/hello"))).await;
    assert_eq!(body, "hello, world");
    let admin = node.admin();
    admin
        .transit(&id, nexus_node::sandbox::Verb::Suspend, None)
        .await
        .expect("suspend");
    let (_, _, body) = send(&node, web.get(http(&node, &id, "/hello?name=again"))).await;
    assert_eq!(body, "hello, again");
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
        let (got, _, body) = send(&node, web.get(http(&node, &id, "/"))).await;
        assert_eq!(got, status);
        let body: serde_json::Value = serde_json::from_str(&body).expect("json error");
        assert_eq!(body["error"]["code"], code, "{body}");
    }
}

#[tokio::test]
async fn requests_and_responses_are_capped() {
    let node = TestNode::start_with(|config| {
        let spec = toml::from_str("output_kib = 1").expect("profile spec");
        config.profiles.insert("small".to_string(), spec);
    })
    .await;
    let dir = built_example("greeter");
    let id = dock_built(&node.admin(), &dir, node.data_dir.path(), Some("small")).await;
    let web = reqwest::Client::new();
    let echo = |body: Vec<u8>| web.post(http(&node, &id, "/echo")).body(body);

    let (status, _, body) = send(&node, echo(vec![b'a'; 512])).await;
    assert_eq!((status, body.len()), (200, 512));
    let (status, _, body) = send(&node, echo(vec![b'a'; 2048])).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("CALL_OUTPUT_LIMIT"), "{body}");
    assert!(
        body.contains("1 KiB output limit to HTTP response"),
        "{body}"
    );
    // Past the handler's 1 MiB arena (but under the node's request limit).
    let (status, _, body) = send(&node, echo(vec![b'a'; 1 << 21])).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("REQUEST_INVALID"), "{body}");
}
