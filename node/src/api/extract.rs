//! Extractors whose failures answer with catalog errors.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use serde_json::Value;

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
        parse_object(&body).map(ApiJson)
    }
}

/// A request body that must be one JSON object, read as `T`. A number
/// written with a zero fraction (`5.0`) counts as the integer it equals
/// (JSON Schema's reading); an array or scalar standing for the object is
/// refused even where serde would take it.
pub fn parse_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let invalid = |message: String, hint: &str| {
        ApiError(UserError::new(ErrorCode::RequestInvalid, message).with_hint(hint))
    };
    let mut value: Value = serde_json::from_slice(body).map_err(|e| {
        let hint = match e.classify() {
            Category::Io => "the body could not be read: send it again",
            _ => "the body is not valid JSON: check quoting and braces (curl -d '{\"stdin\":\"hi\"}')",
        };
        invalid(format!("request body: {e}"), hint)
    })?;
    if !value.is_object() {
        return Err(invalid(
            format!(
                "request body: a JSON object is expected, not {}",
                kind(&value)
            ),
            "send a JSON object: docs/http-api.md has this route's fields",
        ));
    }
    integral_floats_as_integers(&mut value);
    serde_json::from_value(value).map_err(|e| {
        invalid(
            format!("request body: {e}"),
            "a field is missing, unknown or of the wrong type: docs/http-api.md has this route's fields",
        )
    })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Rewrites every number like `5.0` (no fraction, within 64 bits) as `5`.
fn integral_floats_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f >= 0.0 && f < u64::MAX as f64 {
                *value = Value::from(f as u64);
            } else if f.fract() == 0.0 && f < 0.0 && f >= i64::MIN as f64 {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(integral_floats_as_integers),
        _ => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Move {
        to: u64,
    }

    #[test]
    fn a_body_is_one_object_and_integral_floats_are_integers() {
        assert_eq!(
            parse_object::<Move>(br#"{"to": 6157.0}"#).unwrap(),
            Move { to: 6157 }
        );
        let err = parse_object::<Move>(br#"{"to": 1.5}"#).unwrap_err().0;
        assert!(
            err.message.contains("invalid type: floating point"),
            "{}",
            err.message
        );
        let err = parse_object::<Move>(b"[6157]").unwrap_err().0;
        assert_eq!(
            err.message,
            "request body: a JSON object is expected, not an array"
        );
        let err = parse_object::<Move>(b"null").unwrap_err().0;
        assert_eq!(
            err.message,
            "request body: a JSON object is expected, not null"
        );
        let err = parse_object::<Move>(b"{").unwrap_err().0;
        assert_eq!(err.code, ErrorCode::RequestInvalid);
        assert!(err.hint.contains("not valid JSON"), "{}", err.hint);
    }
}
