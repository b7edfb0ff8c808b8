//! `ANY /v1/sandboxes/{id}/http/{*path}`: an HTTP request handed to the
//! sandbox's handler (the `serve` call shape), its response handed back.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use nexus_abi::HttpRequest;

use super::auth::Caller;
use super::error::ApiError;
use super::extract::Upload;
use super::AppState;

/// Headers that stay between the client and the node: the node's own API
/// key and cookies never reach the guest, and the node owns the framing.
const PRIVATE_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "proxy-authorization",
    "host",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "upgrade",
    "content-length",
];

/// Routes the request to the sandbox's `nexus_http` export.
#[utoipa::path(method(get, post, put, delete, patch), path = "/v1/sandboxes/{id}/http/{path}",
    params(("id" = String, Path, description = "Sandbox id"),
           ("path" = String, Path, description = "The rest of the path, passed to the guest (may hold `/`)")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "Passed to the guest"),
    responses((status = 200, description = "Whatever the guest answers (status, headers and body are the guest's)", content_type = "application/octet-stream"),
              crate::api::openapi::ApiErrors))]
pub async fn http(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(params): Path<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Upload(body): Upload,
) -> Result<Response, ApiError> {
    let id = params.get("id").cloned().unwrap_or_default();
    let path = params.get("path").map_or("", String::as_str);
    let target = match uri.query() {
        Some(query) => format!("/{path}?{query}"),
        None => format!("/{path}"),
    };
    let request = HttpRequest {
        method: method.as_str().to_string(),
        target,
        headers: headers
            .iter()
            .filter(|(name, _)| !PRIVATE_HEADERS.contains(&name.as_str()))
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_string(), value)
            })
            .collect(),
        body: body.to_vec(),
    };
    let response = state.manager.serve(caller.tenant(), &id, request).await?;
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut out = HeaderMap::new();
    for (name, value) in &response.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            continue;
        };
        if !PRIVATE_HEADERS.contains(&name.as_str()) {
            out.append(name, value);
        }
    }
    Ok((status, out, response.body).into_response())
}
