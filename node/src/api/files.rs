//! `GET /v1/sandboxes/{id}/files/{volume}/{path}`: one file of a sandbox's
//! volume, as raw bytes (served by the sandbox's home).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::auth::Caller;
use super::{ApiError, AppState};
use nexus_errors::ErrorCode;
use nexus_workbook::Volume;

/// The volumes a path names (the OpenAPI schema of `{volume}`).
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum VolumeName {
    /// The work itself.
    Workspace,
    /// What the sandbox learned.
    Memory,
    /// Scratch.
    Tmp,
}

/// `GET /v1/sandboxes/{id}/files/{volume}/{path}`.
#[utoipa::path(get, path = "/v1/sandboxes/{id}/files/{volume}/{path}", params(("id" = String, Path, description = "Sandbox id"), ("volume" = VolumeName, Path, description = "workspace, memory or tmp"), ("path" = String, Path, description = "The file's path in the volume")), responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream"), crate::api::openapi::ApiErrors))]
pub async fn read(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((id, volume, path)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let volume: Volume = volume.parse().map_err(|e| {
        ApiError::new(
            ErrorCode::RequestInvalid,
            format!("volume `{volume}` is not a volume: {e}"),
        )
    })?;
    let bytes = state
        .manager
        .read_file(caller.tenant(), &id, volume, &path)
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}
