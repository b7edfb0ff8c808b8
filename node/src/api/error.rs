//! Turning errors into JSON responses, and extractor rejections into errors.

use axum::http::StatusCode;
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
        (status, Json(ErrorBody { error: self.0 })).into_response()
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
