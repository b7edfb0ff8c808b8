//! Request bodies under a policy: a declared `Content-Length` over the
//! route's limit is refused before a byte of the body is read, the limit is
//! enforced again as bytes arrive (chunked bodies declare nothing), and a
//! client that pauses longer than the idle timeout is answered 408.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::error::ApiError;
use nexus_errors::ErrorCode;

/// The limits one group of routes reads its bodies under.
#[derive(Debug, Clone, Copy)]
pub struct BodyPolicy {
    /// Largest body accepted.
    pub limit: usize,
    /// The code answered when it is larger (it names the setting).
    pub too_large: ErrorCode,
    /// Longest pause between two pieces of the body.
    pub idle: Duration,
}

impl BodyPolicy {
    fn refuse(&self, size: &str) -> ApiError {
        ApiError::new(
            self.too_large,
            format!(
                "the request body ({size}) is larger than this node's limit of {} bytes",
                self.limit
            ),
        )
    }
}

/// Middleware: refuses an oversized declared length at once and hands the
/// policy to the extractors of the route.
pub async fn enforce(State(policy): State<BodyPolicy>, mut req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared {
        if length > policy.limit as u64 {
            return policy
                .refuse(&format!("Content-Length {length}"))
                .into_response();
        }
    }
    req.extensions_mut().insert(policy);
    next.run(req).await
}

/// A request body read piece by piece under its route's policy.
pub struct BodyReader {
    body: Body,
    policy: BodyPolicy,
    read: usize,
}

impl BodyReader {
    /// The body of `req`, under the policy [`enforce`] attached to it.
    pub fn new(req: Request) -> Result<BodyReader, ApiError> {
        let policy = req
            .extensions()
            .get::<BodyPolicy>()
            .copied()
            .ok_or_else(|| {
                ApiError::new(ErrorCode::Internal, "route has no body policy attached")
            })?;
        Ok(BodyReader {
            body: req.into_body(),
            policy,
            read: 0,
        })
    }

    /// The next piece of the body; `None` at its end.
    pub async fn next(&mut self) -> Result<Option<Bytes>, ApiError> {
        loop {
            let frame = tokio::time::timeout(self.policy.idle, self.body.frame())
                .await
                .map_err(|_| {
                    ApiError::new(
                        ErrorCode::RequestBodyTimeout,
                        format!(
                            "no body bytes arrived for {} ms after {} bytes",
                            self.policy.idle.as_millis(),
                            self.read
                        ),
                    )
                })?;
            let Some(frame) = frame else { return Ok(None) };
            let frame = frame.map_err(|e| {
                ApiError::new(
                    ErrorCode::RequestInvalid,
                    format!("the request body broke off after {} bytes: {e}", self.read),
                )
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            self.read = self.read.saturating_add(data.len());
            if self.read > self.policy.limit {
                return Err(self
                    .policy
                    .refuse(&format!("more than {} bytes", self.policy.limit)));
            }
            return Ok(Some(data));
        }
    }

    /// The whole body in memory (bounded by the policy's limit).
    pub async fn collect(mut self) -> Result<Bytes, ApiError> {
        let mut whole = Vec::new();
        while let Some(piece) = self.next().await? {
            whole.extend_from_slice(&piece);
        }
        Ok(Bytes::from(whole))
    }
}
