//! Liveness and readiness probes (no authentication).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::types::Readiness;
use super::AppState;
use nexus_errors::ErrorCode;

#[utoipa::path(get, path = "/health", security(()),
    responses((status = 200, description = "The process answers; its body limits", body = Object)))]
/// `GET /health`: the process answers, advertising its body limits so a
/// client can refuse an oversized upload before sending it.
pub async fn health(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "limits": {
            "max_upload_bytes": state.limits.max_upload_bytes,
            "max_request_bytes": state.limits.max_request_bytes,
        },
    }))
}

#[utoipa::path(get, path = "/ready", security(()),
    responses((status = 200, description = "The node takes calls", body = Readiness), crate::api::openapi::ApiErrors))]
/// `GET /ready`: the node takes calls (not while shutting down).
pub async fn ready(State(state): State<Arc<AppState>>) -> Result<Json<Readiness>, ApiError> {
    if state.shutting_down.load(Ordering::SeqCst) {
        return Err(ApiError::new(
            ErrorCode::NodeShuttingDown,
            "the node is shutting down",
        ));
    }
    Ok(Json(Readiness {
        status: "ready".to_owned(),
        node_id: state.node_id,
    }))
}
