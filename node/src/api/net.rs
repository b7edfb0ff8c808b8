//! `GET /v1/net/status`: this node's WireGuard mesh as `wg show` shows it
//! (admin only: it names every node's endpoint).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::mesh::NetStatus;

/// `GET /v1/net/status` (admin key).
#[utoipa::path(get, path = "/v1/net/status", responses((status = 200, description = "This node's mesh: its device and peers, or why it is unavailable", body = NetStatus), crate::api::openapi::ApiErrors))]
pub async fn status(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<NetStatus>, ApiError> {
    caller.require_admin()?;
    Ok(Json(state.mesh.status(&state.registry).await?))
}
