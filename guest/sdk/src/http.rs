//! The `serve` call shape: a handler for HTTP requests routed to the
//! sandbox (`/v1/sandboxes/{id}/http/...`). Export one with
//! [`http_handler!`](crate::http_handler).

pub use nexus_abi::http::{HttpRequest as Request, HttpResponse as Response};

/// Decodes a request, runs `handler` and encodes its response; a request
/// that does not decode gets a 400.
pub fn serve(bytes: &[u8], handler: impl FnOnce(Request) -> Response) -> Vec<u8> {
    match Request::decode(bytes) {
        Ok(request) => handler(request),
        Err(_) => Response::new(400, "malformed request"),
    }
    .encode()
}

/// Exports an HTTP handler (`arena` and `nexus_http`) running `f:
/// fn(Request) -> Response`, with an arena of 1 MiB or the size given
/// (the largest request and response it takes).
///
/// ```ignore
/// nexus_guest::http_handler!(hello);
/// fn hello(req: Request) -> Response { Response::new(200, format!("hi {}", req.target)) }
/// ```
#[macro_export]
macro_rules! http_handler {
    ($f:path) => {
        $crate::http_handler!($f, 1 << 20);
    };
    ($f:path, $size:expr) => {
        $crate::__arena_exports!(nexus_http, $size, |bytes: &[u8]| {
            $crate::http::serve(bytes, $f)
        });
    };
}
