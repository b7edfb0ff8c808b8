//! `/v1/sandboxes`: dock, list, inspect, call and remove sandboxes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use nexus_raft::Sandbox;
use serde::Deserialize;

use super::auth::Caller;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, Upload};
use super::types::{decode_bytes, encode_bytes, CallRequest, CallResponse, Removed, SandboxList};
use super::AppState;
use crate::engine::CommandInput;
use crate::errors::ErrorCode;
use crate::sandbox::DockRequest;

/// Query parameters of `POST /v1/sandboxes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockParams {
    name: Option<String>,
    profile: Option<String>,
}

/// `POST /v1/sandboxes`: the body is a workbook file.
pub async fn dock(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(params): ApiQuery<DockParams>,
    Upload(body): Upload,
) -> Result<(StatusCode, Json<Sandbox>), ApiError> {
    let request = DockRequest {
        name: params.name,
        profile: params.profile,
    };
    let sandbox = state
        .manager
        .dock(caller.tenant(), body.to_vec(), request)
        .await?;
    Ok((StatusCode::CREATED, Json(sandbox)))
}

/// `GET /v1/sandboxes`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<SandboxList>, ApiError> {
    let sandboxes = state.manager.list(caller.tenant())?;
    Ok(Json(SandboxList { sandboxes }))
}

/// `GET /v1/sandboxes/{id}`.
pub async fn info(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Sandbox>, ApiError> {
    Ok(Json(state.manager.get(caller.tenant(), &id)?))
}

/// `DELETE /v1/sandboxes/{id}`.
pub async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Removed>, ApiError> {
    state.manager.remove(caller.tenant(), &id).await?;
    Ok(Json(Removed { id }))
}

/// `POST /v1/sandboxes/{id}/call`: runs the entry module as a command.
pub async fn call(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<CallRequest>,
) -> Result<Json<CallResponse>, ApiError> {
    let stdin = decode_bytes(request.stdin, request.stdin_encoding).map_err(|e| {
        ApiError::new(
            ErrorCode::RequestInvalid,
            format!("field `stdin` is not valid base64: {e}"),
        )
    })?;
    let input = CommandInput {
        args: request.args,
        stdin,
    };
    let output = state.manager.call(caller.tenant(), &id, input).await?;
    let (stdout, stdout_encoding) = encode_bytes(output.stdout);
    let (stderr, stderr_encoding) = encode_bytes(output.stderr);
    Ok(Json(CallResponse {
        exit_code: output.exit_code,
        stdout,
        stdout_encoding,
        stderr,
        stderr_encoding,
        elapsed_us: output.elapsed.as_micros() as u64,
    }))
}
