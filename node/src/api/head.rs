//! Reading a request head before hyper sees it: bounded in size and time,
//! validated with httparse, and refused with a coded JSON response (hyper
//! would answer these with an empty body). The bytes read are handed on to
//! hyper through [`Prefixed`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::{StatusCode, Uri};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use super::error::retry_after;
use super::types::ErrorBody;
use nexus_errors::{ErrorCode, UserError};

/// Longest request target (path and query) accepted.
pub const MAX_URI_BYTES: usize = 8 << 10;
/// Most headers in one request (hyper's own default).
const MAX_HEADERS: usize = 100;

/// Why a request head is refused.
pub type Refusal = (ErrorCode, String);

/// Reads until the request head is complete. `Ok(None)`: the client closed
/// before sending a byte.
pub async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    max: usize,
) -> Result<Option<Vec<u8>>, Refusal> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|e| {
            (
                ErrorCode::RequestMalformed,
                format!("reading the request failed: {e}"),
            )
        })?;
        if n == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err((
                ErrorCode::RequestMalformed,
                "the connection closed inside the request head".to_string(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if check_head(&buf, max)? {
            return Ok(Some(buf));
        }
    }
}

/// `true` when `buf` holds a complete, acceptable head; `false` when more
/// bytes are needed.
pub fn check_head(buf: &[u8], max: usize) -> Result<bool, Refusal> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let status = req.parse(buf).map_err(|e| match e {
        httparse::Error::TooManyHeaders => (
            ErrorCode::RequestHeadersTooLarge,
            format!("the request has more than {MAX_HEADERS} headers"),
        ),
        e => (
            ErrorCode::RequestMalformed,
            format!("the request head is not valid HTTP/1.1: {e}"),
        ),
    })?;
    if let Some(path) = req.path {
        if path.len() > MAX_URI_BYTES {
            return Err(too_long(path.len()));
        }
        path.parse::<Uri>().map_err(|e| {
            (
                ErrorCode::RequestMalformed,
                format!("the request target is not a valid URI: {e}"),
            )
        })?;
    }
    match status {
        httparse::Status::Complete(length) if length > max => Err(too_large(max)),
        httparse::Status::Complete(_) => content_length(req.headers).map(|_| true),
        httparse::Status::Partial if buf.len() <= max => Ok(false),
        httparse::Status::Partial if req.path.is_none() => Err(too_long(buf.len())),
        httparse::Status::Partial => Err(too_large(max)),
    }
}

/// Every `Content-Length` header must be a number, and all the same one.
fn content_length(headers: &[httparse::Header<'_>]) -> Result<(), Refusal> {
    let mut seen = None;
    for header in headers {
        if !header.name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let value = std::str::from_utf8(header.value)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok());
        match (value, seen) {
            (Some(v), None) => seen = Some(v),
            (Some(v), Some(s)) if v == s => {}
            _ => {
                return Err((
                    ErrorCode::RequestMalformed,
                    "Content-Length is not one non-negative number".to_string(),
                ))
            }
        }
    }
    Ok(())
}

fn too_long(length: usize) -> Refusal {
    (
        ErrorCode::RequestUriTooLong,
        format!(
            "the request target is {length} bytes or more; at most {MAX_URI_BYTES} are accepted"
        ),
    )
}

fn too_large(max: usize) -> Refusal {
    (
        ErrorCode::RequestHeadersTooLarge,
        format!("the request head is larger than {max} bytes"),
    )
}

/// A complete HTTP/1.1 response carrying the coded error, closing the
/// connection.
pub fn refusal_response(code: ErrorCode, message: String) -> Vec<u8> {
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = ErrorBody {
        error: UserError::new(code, message),
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    if let Some(seconds) = retry_after(code) {
        head.push_str(&format!("retry-after: {seconds}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(&body);
    out
}

/// A stream whose first bytes were already read: they are read again
/// first, then the stream itself.
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    at: usize,
    /// The connection.
    pub inner: S,
}

impl<S> Prefixed<S> {
    /// `inner`, with `prefix` read before it.
    pub fn new(prefix: Vec<u8>, inner: S) -> Prefixed<S> {
        Prefixed {
            prefix,
            at: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.at < this.prefix.len() {
            let n = buf.remaining().min(this.prefix.len() - this.at);
            buf.put_slice(&this.prefix[this.at..this.at + n]);
            this.at += n;
            if this.at == this.prefix.len() {
                this.prefix = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(buf: &[u8]) -> ErrorCode {
        check_head(buf, 1024).unwrap_err().0
    }

    #[test]
    fn heads_are_checked() {
        assert!(check_head(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n", 1024).unwrap());
        assert!(!check_head(b"GET /health HTTP/1.1\r\nhost: x\r\n", 1024).unwrap());
        assert_eq!(
            code(b"\x16\x03\x01garbage\r\n\r\n"),
            ErrorCode::RequestMalformed
        );
        assert_eq!(
            code(b"GET /a\0b HTTP/1.1\r\n\r\n"),
            ErrorCode::RequestMalformed
        );
        assert_eq!(
            code(b"POST / HTTP/1.1\r\ncontent-length: x\r\n\r\n"),
            ErrorCode::RequestMalformed
        );
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_URI_BYTES));
        assert_eq!(
            check_head(long.as_bytes(), 64 << 10).unwrap_err().0,
            ErrorCode::RequestUriTooLong
        );
        let big = format!("GET / HTTP/1.1\r\nx: {}\r\n", "a".repeat(2000));
        assert_eq!(code(big.as_bytes()), ErrorCode::RequestHeadersTooLarge);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("h{i}: v\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(
            check_head(many.as_bytes(), 64 << 10).unwrap_err().0,
            ErrorCode::RequestHeadersTooLarge
        );
    }

    #[test]
    fn refusals_are_coded_json() {
        let bytes = refusal_response(ErrorCode::TooManyConnections, "full".into());
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
            "{text}"
        );
        assert!(text.contains("retry-after: 1\r\n"), "{text}");
        let body = text.split("\r\n\r\n").nth(1).unwrap();
        let body: ErrorBody = serde_json::from_str(body).unwrap();
        assert_eq!(body.error.code, ErrorCode::TooManyConnections);
    }
}
