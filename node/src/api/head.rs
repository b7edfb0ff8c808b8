//! Reading a request head before hyper sees it: bounded in size and time,
//! validated with httparse, and refused with a coded JSON response (hyper
//! would answer these with an empty body). The bytes read are handed on to
//! hyper through [`Prefixed`].

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

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

/// What the accept loop needs to know of a complete request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Bytes of the head, blank line included.
    pub length: usize,
    /// Where the request ends, when its connection may carry another one
    /// after it: head plus `Content-Length` bytes. `None` when the request
    /// ends its connection (HTTP/1.0, `Connection: close`, an upgrade, or a
    /// chunked body, whose end only hyper finds).
    pub reusable_after: Option<u64>,
}

/// Reads into `buf` (which may already hold bytes of the head) until the
/// request head is complete. `Ok(None)`: the client closed before sending
/// a byte.
pub async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<Option<Head>, Refusal> {
    if !buf.is_empty() {
        if let Some(head) = check_head(buf, max)? {
            return Ok(Some(head));
        }
    }
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
        if let Some(head) = check_head(buf, max)? {
            return Ok(Some(head));
        }
    }
}

/// The head in `buf` when it is complete and acceptable; `None` when more
/// bytes are needed.
pub fn check_head(buf: &[u8], max: usize) -> Result<Option<Head>, Refusal> {
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
        httparse::Status::Complete(length) => {
            let body = content_length(req.headers)?.unwrap_or(0);
            let reusable = req.version == Some(1) && !ends_connection(req.headers);
            Ok(Some(Head {
                length,
                reusable_after: reusable.then(|| length as u64 + body),
            }))
        }
        httparse::Status::Partial if buf.len() <= max => Ok(None),
        httparse::Status::Partial if req.path.is_none() => Err(too_long(buf.len())),
        httparse::Status::Partial => Err(too_large(max)),
    }
}

/// Whether a header makes this request its connection's last: `Connection:
/// close` or `upgrade`, `Transfer-Encoding` or `Upgrade`.
fn ends_connection(headers: &[httparse::Header<'_>]) -> bool {
    headers.iter().any(|h| {
        let value = String::from_utf8_lossy(h.value).to_ascii_lowercase();
        (h.name.eq_ignore_ascii_case("connection")
            && (value.contains("close") || value.contains("upgrade")))
            || h.name.eq_ignore_ascii_case("transfer-encoding")
            || h.name.eq_ignore_ascii_case("upgrade")
    })
}

/// Every `Content-Length` header must be a number, and all the same one;
/// that number, if there is one.
fn content_length(headers: &[httparse::Header<'_>]) -> Result<Option<u64>, Refusal> {
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
    Ok(seen)
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

/// One request's side of a connection whose first bytes were already
/// read: they are read again first, then the stream itself — up to the
/// request's end when it is known, after which reads see the end of the
/// stream (hyper then finishes the response and hands the connection back
/// for the next request).
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    at: usize,
    /// Bytes left in this request, when its end is known.
    left: Option<u64>,
    /// The connection.
    pub inner: S,
}

impl<S> Prefixed<S> {
    /// `inner`, with `prefix` read before it, ending after `end` bytes when
    /// given. Prefix bytes past `end` (the next request's) are kept for
    /// [`Prefixed::into_parts`].
    pub fn new(prefix: Vec<u8>, inner: S, end: Option<u64>) -> Prefixed<S> {
        Prefixed {
            prefix,
            at: 0,
            left: end,
            inner,
        }
    }

    /// The connection, the bytes read past this request's end, and whether
    /// every byte of the request was read.
    pub fn into_parts(self) -> (S, Vec<u8>, bool) {
        let rest = self.prefix.get(self.at..).unwrap_or_default().to_vec();
        (self.inner, rest, self.left == Some(0))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let room = match this.left {
            Some(0) => return Poll::Ready(Ok(())),
            Some(left) => buf
                .remaining()
                .min(usize::try_from(left).unwrap_or(usize::MAX)),
            None => buf.remaining(),
        };
        let read = if this.at < this.prefix.len() {
            let n = room.min(this.prefix.len() - this.at);
            buf.put_slice(&this.prefix[this.at..this.at + n]);
            this.at += n;
            n
        } else if room == buf.remaining() {
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            buf.filled().len() - before
        } else {
            // The request ends inside this read: read no further than that.
            let mut scratch = vec![0u8; room.min(64 << 10)];
            let mut limited = ReadBuf::new(&mut scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut limited))?;
            let n = limited.filled().len();
            buf.put_slice(limited.filled());
            n
        };
        if let Some(left) = this.left.as_mut() {
            *left -= read as u64;
        }
        Poll::Ready(Ok(()))
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
        assert!(check_head(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n", 1024)
            .unwrap()
            .is_some());
        assert!(check_head(b"GET /health HTTP/1.1\r\nhost: x\r\n", 1024)
            .unwrap()
            .is_none());
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
    fn a_head_says_where_its_request_ends_if_the_connection_goes_on() {
        let end = |head: &[u8]| check_head(head, 1024).unwrap().unwrap().reusable_after;
        let get = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
        assert_eq!(end(get), Some(get.len() as u64));
        let post = b"POST /v1/x HTTP/1.1\r\ncontent-length: 5\r\n\r\n";
        assert_eq!(end(post), Some(post.len() as u64 + 5));
        assert_eq!(end(b"GET / HTTP/1.0\r\n\r\n"), None, "HTTP/1.0");
        assert_eq!(end(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"), None);
        assert_eq!(
            end(b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"),
            None,
            "chunked"
        );
        assert_eq!(end(b"GET / HTTP/1.1\r\nupgrade: websocket\r\n\r\n"), None);
    }

    #[tokio::test]
    async fn a_bounded_request_reads_to_its_end_and_keeps_the_next_one() {
        // The head and part of the body were read; the rest and the next
        // request are still in the stream, or partly in the prefix.
        let first = b"POST / HTTP/1.1\r\ncontent-length: 4\r\n\r\nbody";
        let next = b"GET / HTTP/1.1\r\n\r\n";
        let (prefix, rest) = first.split_at(first.len() - 2);
        let stream = [rest, next.as_slice()].concat();
        let mut one = Prefixed::new(prefix.to_vec(), &stream[..], Some(first.len() as u64));
        let mut read = Vec::new();
        one.read_to_end(&mut read).await.unwrap();
        assert_eq!(read, first);
        let (mut inner, carried, whole) = one.into_parts();
        assert!(whole && carried.is_empty());
        let mut after = Vec::new();
        inner.read_to_end(&mut after).await.unwrap();
        assert_eq!(after, next, "the next request is left in the stream");

        let both = [first.as_slice(), next].concat();
        let mut one = Prefixed::new(both, &b""[..], Some(first.len() as u64));
        let mut read = Vec::new();
        one.read_to_end(&mut read).await.unwrap();
        assert_eq!(read, first);
        let (_, carried, whole) = one.into_parts();
        assert!(whole);
        assert_eq!(carried, next, "prefix bytes past the end are carried");

        let mut cut = Prefixed::new(prefix.to_vec(), &b""[..], Some(first.len() as u64));
        cut.read_to_end(&mut Vec::new()).await.unwrap();
        assert!(!cut.into_parts().2, "the client stopped inside the body");
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
