//! Extractors whose failures answer with catalog errors.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::body::BodyReader;
use super::error::{rejection, ApiError};
use nexus_errors::{ErrorCode, UserError};

/// `Json<T>` with a catalog error on bad input.
pub struct ApiJson<T>(pub T);

/// `Query<T>` with a catalog error on bad input.
pub struct ApiQuery<T>(pub T);

/// The raw request body, read under the route's [`BodyPolicy`](super::body::BodyPolicy).
pub struct Upload(pub Bytes);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let body = BodyReader::new(req)?.collect().await?;
        serde_json::from_slice(&body).map(ApiJson).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    "the body is not valid JSON: check quoting and braces (curl -d '{\"stdin\":\"hi\"}')"
                }
                serde_json::error::Category::Data => {
                    "a field is missing, unknown or of the wrong type: docs/http-api.md has this route's fields"
                }
                serde_json::error::Category::Io => "the body could not be read: send it again",
            };
            ApiError(UserError::new(ErrorCode::RequestInvalid, format!("request body: {e}")).with_hint(what))
        })
    }
}

impl<S: Send + Sync> FromRequest<S> for Upload {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        BodyReader::new(req)?.collect().await.map(Upload)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|r| rejection(r.status(), r.body_text()))
    }
}
