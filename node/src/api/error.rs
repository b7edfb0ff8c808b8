//! Turning errors into JSON responses, and extractor rejections into errors.

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::types::ErrorBody;
use nexus_errors::{ErrorCode, UserError};

/// An error answered as `{"error": {code, message, hint}}` with its status.
#[derive(Debug)]
pub struct ApiError(pub UserError);

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        ApiError(e)
    }
}

impl ApiError {
    /// An error with a catalog code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError(UserError::new(code, message))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = retry_after(self.0.code);
        let mut response = (status, Json(ErrorBody { error: self.0 })).into_response();
        if let Some(seconds) = retry {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The Retry-After seconds of the refusals that pass with time.
pub fn retry_after(code: ErrorCode) -> Option<u64> {
    match code {
        ErrorCode::UploadsBusy
        | ErrorCode::TooManyConnections
        | ErrorCode::InstancesExhausted
        | ErrorCode::ReplicationUnavailable
        | ErrorCode::SandboxHomeFenced
        | ErrorCode::SandboxHomeUnreachable => Some(1),
        ErrorCode::FabricBusy => Some(5),
        ErrorCode::AuthRateLimited => Some(super::auth_limit::WINDOW.as_secs()),
        _ => None,
    }
}

/// Converts an axum extractor rejection (bad JSON, body too large...) into
/// a catalog error that keeps axum's explanation as the message.
pub fn rejection(status: StatusCode, text: String) -> ApiError {
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        ErrorCode::RequestTooLarge
    } else {
        ErrorCode::RequestInvalid
    };
    ApiError::new(code, text)
}
