//! The greeter HTTP handler (the serve call shape), reached at
//! `/v1/sandboxes/{id}/http/...`:
//!
//! - `GET /hello?name=N` → `hello, N`
//! - `POST /echo` → the body back, with its content type
//! - `POST /visits` → counts visits in the sandbox's kv store
//! - `GET /headers` → the names of the request headers it got, one a line
//! - anything else → 404

use nexus_guest::http::{Request, Response};
use nexus_guest::kv;

nexus_guest::http_handler!(handle);

fn handle(request: Request) -> Response {
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((request.target.as_str(), ""));
    match (request.method.as_str(), path) {
        ("GET", "/hello") => {
            let name = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("name="))
                .unwrap_or("world");
            Response::new(200, format!("hello, {name}")).with_header("content-type", "text/plain")
        }
        ("POST", "/echo") => {
            let kind = request
                .header("content-type")
                .unwrap_or("application/octet-stream");
            Response::new(200, request.body.clone()).with_header("content-type", kind)
        }
        ("POST", "/visits") => match visit() {
            Ok(n) => Response::new(200, n.to_string()),
            Err(e) => Response::new(500, format!("kv failed: {e}")),
        },
        ("GET", "/headers") => {
            let names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
            Response::new(200, names.join("\n"))
        }
        _ => Response::new(404, format!("no route for {} {path}", request.method)),
    }
}

fn visit() -> Result<u64, nexus_guest::Error> {
    let n = kv::get("visits")?
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
        + 1;
    kv::set("visits", &n.to_le_bytes())?;
    Ok(n)
}
