//! Whether a request's body was read to its end by the time its answer is
//! ready. A connection can carry the next request only if it was; when a
//! handler answered without reading the body (a refusal before an upload,
//! a body over its limit), the answer says `Connection: close`, so the
//! client does not send its next request on a connection the node closes.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, Response};
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

/// A request body that notes when it has been read to its end.
pub struct Tracked {
    inner: Incoming,
    ended: Arc<AtomicBool>,
}

/// Reports whether the [`Tracked`] body it came with was read to its end.
#[derive(Clone)]
pub struct BodyEnd(Arc<AtomicBool>);

/// Wraps `body`, returning it with the flag it sets once read to its end
/// (at once for a body that is empty).
pub fn track(body: Incoming) -> (Tracked, BodyEnd) {
    let ended = Arc::new(AtomicBool::new(body.is_end_stream()));
    let end = BodyEnd(ended.clone());
    (Tracked { inner: body, ended }, end)
}

impl BodyEnd {
    /// Adds `Connection: close` to `response` unless the body was read to
    /// its end.
    pub fn close_unless_read<B>(&self, response: &mut Response<B>) {
        if !self.0.load(Ordering::Acquire) {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
    }
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.ended.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
