//! `GET /v1/cluster/status`: this node's view of the replicated registry.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::cluster::status::ClusterStatus;

/// `GET /v1/cluster/status` (any valid key).
#[utoipa::path(get, path = "/v1/cluster/status", responses((status = 200, description = "This node's view of the cluster", body = ClusterStatus), crate::api::openapi::ApiErrors))]
pub async fn status(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
) -> Result<Json<ClusterStatus>, ApiError> {
    let metrics = state.raft.metrics().borrow().clone();
    let mut status = ClusterStatus::from_metrics(&metrics, &state.contact);
    if let (Some(replicas), Some(plane)) = (&state.replicas, &state.dataplane) {
        let all = state.registry.read(|r| r.all_sandboxes())?;
        let members = plane.peers().len() + 1;
        status.below_factor = replicas.below_factor(&all, members);
        if status.below_factor > 0 {
            status.warnings.push(format!(
                "{} sandbox(es) have fewer replicas than their factor; their homes seed new ones \
                 on available members",
                status.below_factor
            ));
        }
    }
    if let Some(reason) = state.mesh.unavailable() {
        status
            .warnings
            .push(format!("this node runs without the mesh: {reason}"));
    }
    Ok(Json(status))
}
