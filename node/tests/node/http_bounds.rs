//! Resource bounds of the HTTP layer against a real node on loopback, with
//! raw TCP clients where a well-behaved client cannot misbehave: early
//! refusal of declared oversized bodies, streamed uploads, upload slots,
//! header and body timeouts, coded answers to garbage, keep-alive, the per-address
//! connection cap and the failed-auth rate limit.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::{self, TestNode};
use nexus_node::api::types::CallRequest;
use nexus_node::api::types::ErrorBody;
use nexus_node::client::NodeClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest any exchange in these tests may take.
const DEADLINE: Duration = Duration::from_secs(20);

/// A raw answer: status, head text, error code (when the body is one).
struct Answer {
    status: u16,
    head: String,
    code: Option<String>,
}

/// Reads the whole answer, until the node closes the connection (after a
/// refusal at once, after a served request once it has been quiet for the
/// head timeout).
async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut bytes = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut bytes))
        .await
        .expect("the node answers and closes within the deadline")
        .expect("read the answer");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let status = head[9..12].parse().expect("a status code");
    let code = serde_json::from_str::<ErrorBody>(body)
        .ok()
        .map(|b| b.error.code.as_str().to_string());
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        code,
    }
}

/// Sends `bytes` on a new connection and reads the answer.
async fn exchange(addr: SocketAddr, bytes: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    read_answer(&mut stream).await
}

fn assert_coded(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.head);
    assert_eq!(answer.code.as_deref(), Some(code), "{}", answer.head);
    assert!(answer.head.contains("content-type: application/json"));
}

async fn small_node() -> TestNode {
    TestNode::start_with(|config| {
        config.limits.max_upload_bytes = 64 << 10;
        config.limits.max_request_bytes = 16 << 10;
        config.limits.header_read_timeout_ms = 300;
        config.limits.body_read_timeout_ms = 300;
        config.limits.max_concurrent_uploads = 1;
        config.limits.max_connections_per_ip = 8;
    })
    .await
}

fn post(path: &str, key: &str, extra: &str) -> String {
    format!("POST {path} HTTP/1.1\r\nhost: n\r\nauthorization: Bearer {key}\r\n{extra}\r\n")
}

#[tokio::test]
async fn declared_oversized_bodies_are_refused_before_the_body() {
    let node = small_node().await;
    let key = &node.admin_key;
    let dock = post("/v1/sandboxes", key, "content-length: 300000000\r\n");
    let answer = exchange(node.addr, dock.as_bytes()).await;
    assert_coded(&answer, 413, "UPLOAD_TOO_LARGE");
    let call = post("/v1/sandboxes/x/call", key, "content-length: 300000000\r\n");
    let answer = exchange(node.addr, call.as_bytes()).await;
    assert_coded(&answer, 413, "REQUEST_TOO_LARGE");
    let hint = nexus_errors::ErrorCode::RequestTooLarge.hint();
    assert!(hint.contains("max_request_bytes"), "{hint}");
}

#[tokio::test]
async fn streamed_upload_is_cut_at_the_limit_and_leaves_no_staging_file() {
    let node = small_node().await;
    let mut stream = TcpStream::connect(node.addr).await.unwrap();
    let head = post(
        "/v1/sandboxes",
        &node.admin_key,
        "transfer-encoding: chunked\r\n",
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
    for _ in 0..5 {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    assert_coded(&read_answer(&mut stream).await, 413, "UPLOAD_TOO_LARGE");
    let staging = node.data_dir.path().join("staging");
    assert_eq!(std::fs::read_dir(staging).unwrap().count(), 0);
}

#[tokio::test]
async fn uploads_beyond_the_node_slots_are_busy() {
    let node = small_node().await;
    // One upload holds the only slot: its body is declared and never ends.
    let mut holder = TcpStream::connect(node.addr).await.unwrap();
    let head = post("/v1/sandboxes", &node.admin_key, "content-length: 1000\r\n");
    holder.write_all(head.as_bytes()).await.unwrap();
    holder.write_all(b"partial").await.unwrap();
    let second = format!(
        "{}garbage",
        post("/v1/sandboxes", &node.admin_key, "content-length: 7\r\n")
    );
    let started = Instant::now();
    let busy = loop {
        let answer = exchange(node.addr, second.as_bytes()).await;
        if answer.code.as_deref() == Some("UPLOADS_BUSY") || started.elapsed() > DEADLINE {
            break answer;
        }
    };
    assert_coded(&busy, 503, "UPLOADS_BUSY");
    assert!(busy.head.contains("retry-after: 1"), "{}", busy.head);
    // The holder then stalls past the body timeout.
    assert_coded(&read_answer(&mut holder).await, 408, "REQUEST_BODY_TIMEOUT");
}

#[tokio::test]
async fn slow_headers_are_answered_408_and_closed() {
    let node = small_node().await;
    let mut stream = TcpStream::connect(node.addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nx-slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = read_answer(&mut stream).await;
    assert_coded(&answer, 408, "REQUEST_HEADER_TIMEOUT");
    println!("slow-loris connection lived {:?}", started.elapsed());
}

#[tokio::test]
async fn stalled_call_body_is_answered_408() {
    let node = small_node().await;
    let mut stream = TcpStream::connect(node.addr).await.unwrap();
    let head = post(
        "/v1/sandboxes/x/call",
        &node.admin_key,
        "content-length: 100\r\n",
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"{\"args\":").await.unwrap();
    assert_coded(&read_answer(&mut stream).await, 408, "REQUEST_BODY_TIMEOUT");
}

#[tokio::test]
async fn broken_requests_get_coded_answers() {
    let node = small_node().await;
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            b"\x16\x03\x01 hello\r\n\r\n".to_vec(),
            400,
            "REQUEST_MALFORMED",
        ),
        (
            b"GET /he\0lth HTTP/1.1\r\n\r\n".to_vec(),
            400,
            "REQUEST_MALFORMED",
        ),
        (
            format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(20_000)).into_bytes(),
            414,
            "REQUEST_URI_TOO_LONG",
        ),
        (
            format!("GET / HTTP/1.1\r\nx-big: {}\r\n\r\n", "a".repeat(1 << 20)).into_bytes(),
            431,
            "REQUEST_HEADERS_TOO_LARGE",
        ),
        (
            b"POST /v1/tenants HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n".to_vec(),
            400,
            "REQUEST_MALFORMED",
        ),
    ];
    for (bytes, status, code) in cases {
        let mut stream = TcpStream::connect(node.addr).await.unwrap();
        // The node may answer before it has read everything (431).
        let _ = stream.write_all(&bytes).await;
        assert_coded(&read_answer(&mut stream).await, status, code);
    }
    // The node still serves.
    let health = exchange(node.addr, b"GET /health HTTP/1.1\r\nhost: n\r\n\r\n").await;
    assert_eq!(health.status, 200);
}

/// Reads one answer of a kept-alive connection (its head, then
/// `content-length` bytes of body): status, head text, body.
async fn read_one(stream: &mut TcpStream) -> (u16, String, String) {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(DEADLINE, stream.read(&mut byte))
            .await
            .expect("an answer within the deadline")
            .expect("read");
        assert_eq!(n, 1, "the connection closed inside an answer: {bytes:?}");
        bytes.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("a content-length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.expect("the body");
    let status = head[9..12].parse().expect("a status code");
    (status, head, String::from_utf8_lossy(&body).into_owned())
}

/// Sends `POST /v1/tenants` with the JSON `body` under `key`.
async fn send_tenant(stream: &mut TcpStream, key: &str, body: &str) {
    let create = post(
        "/v1/tenants",
        key,
        &format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ),
    );
    stream
        .write_all(format!("{create}{body}").as_bytes())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_connection_carries_requests_one_after_another_each_head_checked() {
    let node = small_node().await;
    let mut stream = TcpStream::connect(node.addr).await.unwrap();
    // Two requests in one write (pipelined), then one with a body.
    let health = "GET /health HTTP/1.1\r\nhost: n\r\n\r\n";
    stream
        .write_all(format!("{health}{health}").as_bytes())
        .await
        .unwrap();
    for _ in 0..2 {
        let (status, head, _) = read_one(&mut stream).await;
        assert_eq!(status, 200, "{head}");
        assert!(!head.contains("connection: close"), "{head}");
    }
    let body = r#"{"name":"kept-alive"}"#;
    send_tenant(&mut stream, &node.admin_key, body).await;
    let (status, head, answer) = read_one(&mut stream).await;
    assert_eq!(status, 201, "{head}{answer}");
    assert!(answer.contains("kept-alive"), "{answer}");
    // The next head on the same connection passes the same checks.
    let big = format!("GET / HTTP/1.1\r\nx-big: {}\r\n\r\n", "a".repeat(1 << 20));
    let _ = stream.write_all(big.as_bytes()).await;
    assert_coded(
        &read_answer(&mut stream).await,
        431,
        "REQUEST_HEADERS_TOO_LARGE",
    );
}

#[tokio::test]
async fn a_quiet_kept_alive_connection_closes_without_an_answer() {
    let node = small_node().await;
    let mut stream = TcpStream::connect(node.addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: n\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_one(&mut stream).await.0, 200);
    let mut rest = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut rest))
        .await
        .expect("the node closes a quiet connection after the head timeout")
        .expect("read");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    // A head begun and left unfinished is still answered 408.
    let mut stream = TcpStream::connect(node.addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: n\r\n\r\nGET /health HTTP/1.1\r\n")
        .await
        .unwrap();
    assert_eq!(read_one(&mut stream).await.0, 200);
    assert_coded(
        &read_answer(&mut stream).await,
        408,
        "REQUEST_HEADER_TIMEOUT",
    );
}

#[tokio::test]
async fn connections_per_address_are_capped() {
    let node = small_node().await;
    let mut idle = Vec::new();
    for _ in 0..8 {
        let mut stream = TcpStream::connect(node.addr).await.unwrap();
        stream.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
        idle.push(stream);
    }
    let answer = exchange(node.addr, b"GET /health HTTP/1.1\r\n\r\n").await;
    assert_coded(&answer, 429, "TOO_MANY_CONNECTIONS");
    assert!(answer.head.contains("retry-after: 1"), "{}", answer.head);
    // Once they time out, the address may connect again.
    for mut stream in idle {
        assert_coded(
            &read_answer(&mut stream).await,
            408,
            "REQUEST_HEADER_TIMEOUT",
        );
    }
    let started = Instant::now();
    loop {
        let health = exchange(node.addr, b"GET /health HTTP/1.1\r\n\r\n").await;
        if health.status == 200 {
            break;
        }
        assert!(started.elapsed() < DEADLINE, "{}", health.head);
    }
}

#[tokio::test]
async fn failed_authentication_is_rate_limited() {
    let node = small_node().await;
    let bad = node.client(Some("nxk_wrong"));
    let mut codes = Vec::new();
    for _ in 0..25 {
        codes.push(bad.sandboxes().await.unwrap_err().code.as_str());
    }
    assert!(
        codes[..20].iter().all(|c| *c == "AUTH_INVALID_KEY"),
        "{codes:?}"
    );
    assert!(
        codes[20..].iter().all(|c| *c == "AUTH_RATE_LIMITED"),
        "{codes:?}"
    );
    let raw = "GET /v1/sandboxes HTTP/1.1\r\nauthorization: Bearer nxk_wrong\r\n\r\n";
    let answer = exchange(node.addr, raw.as_bytes()).await;
    assert_coded(&answer, 429, "AUTH_RATE_LIMITED");
    assert!(answer.head.contains("retry-after: 10"), "{}", answer.head);
}

#[tokio::test]
async fn the_client_checks_advertised_limits_first() {
    let node = small_node().await;
    let admin = node.admin();
    let err = admin
        .dock(vec![0; 100 << 10], None, None)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_str(), "UPLOAD_TOO_LARGE", "{err:?}");
    assert!(
        err.message.contains(&node.addr.to_string()),
        "{}",
        err.message
    );
    let request = CallRequest {
        stdin: "a".repeat(32 << 10),
        ..Default::default()
    };
    let err = admin.call("x", &request).await.unwrap_err();
    assert_eq!(err.code.as_str(), "REQUEST_TOO_LARGE", "{err:?}");
}

#[tokio::test]
async fn unreachable_node_names_the_address() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = NodeClient::new(&format!("http://{addr}"), None);
    let err = client.sandboxes().await.unwrap_err();
    assert_eq!(err.code.as_str(), "NODE_UNREACHABLE");
    assert!(err.message.contains(&addr.to_string()), "{}", err.message);
}

#[tokio::test]
async fn unknown_profile_is_refused_at_dock() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let file = common::wat_workbook(node.data_dir.path(), "p", &common::print_wat("x"));
    let bytes = std::fs::read(file).unwrap();
    let err = admin
        .dock(bytes, None, Some("../../etc"))
        .await
        .unwrap_err();
    assert_eq!(err.code.as_str(), "PROFILE_UNKNOWN", "{err:?}");
}

#[tokio::test]
async fn schedules_that_cannot_fire_are_refused_at_dock() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let dir = node.data_dir.path();
    let file = common::wat_workbook(dir, "sched", &common::print_wat("x"));
    let workbook = nexus_workbook::Workbook::open(&file).unwrap();
    workbook
        .set_schedule("nightly", "0 3 * * *", Some("missing"), None)
        .unwrap();
    workbook.checkpoint().unwrap();
    drop(workbook);
    let err = admin
        .dock(std::fs::read(&file).unwrap(), None, None)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_str(), "SCHEDULE_INVALID", "{err:?}");
    assert!(err.message.contains("missing"), "{}", err.message);

    let db = rusqlite::Connection::open(&file).unwrap();
    db.execute("UPDATE schedules SET cron = 'bogus', entry = NULL", [])
        .unwrap();
    drop(db);
    let err = admin
        .dock(std::fs::read(&file).unwrap(), None, None)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_str(), "SCHEDULE_INVALID", "{err:?}");
}

#[tokio::test]
async fn an_answer_given_before_the_body_was_read_closes_the_connection_and_says_so() {
    let node = small_node().await;
    let mut stream = TcpStream::connect(node.addr).await.unwrap();
    // Refused by the key check, before any handler reads the body.
    let body = r#"{"name":"never-read"}"#;
    send_tenant(&mut stream, "nxk_not_a_key", body).await;
    let (status, head, _) = read_one(&mut stream).await;
    assert_eq!(status, 401, "{head}");
    assert!(head.contains("connection: close"), "{head}");
    let mut rest = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut rest))
        .await
        .expect("the node closes the connection")
        .expect("read");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));

    // A body read to its end keeps the connection open, as before.
    let mut stream = TcpStream::connect(node.addr).await.unwrap();
    send_tenant(&mut stream, &node.admin_key, body).await;
    let (status, head, _) = read_one(&mut stream).await;
    assert_eq!(status, 201, "{head}");
    assert!(!head.contains("connection: close"), "{head}");
}
