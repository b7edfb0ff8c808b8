//! `GET /metrics`: the node's Prometheus metrics — on the API port for admin
//! keys, and on `[metrics] listen` (plain HTTP, that route only) without one.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::cluster::status::ClusterStatus;
use crate::metrics::{quorum_index, render, RaftReading, Readings};
use nexus_errors::ErrorCode;
use nexus_raft::SandboxState;

/// The content type of the Prometheus text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics` on the API port (admin only).
#[utoipa::path(get, path = "/metrics",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
              crate::api::openapi::ApiErrors))]
pub async fn scrape(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    Ok(exposition(&state))
}

/// The router of the `[metrics] listen` port: `GET /metrics`, no key.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(state): State<Arc<AppState>>| async move { exposition(&state) }),
        )
        .fallback(|| async {
            ApiError::new(
                ErrorCode::RouteNotFound,
                "the metrics port serves GET /metrics only",
            )
        })
        .with_state(state)
}

fn exposition(state: &AppState) -> Response {
    let text = render(state.manager.metrics(), &readings(state));
    ([(CONTENT_TYPE, TEXT_FORMAT)], text).into_response()
}

/// What a scrape reads from the node now.
fn readings(state: &AppState) -> Readings {
    let (instance_slots, instances_free) = state.manager.instance_pool();
    let (counts, idempotency_records) = state
        .registry
        .read(|r| Ok((r.state_counts(state.node_id)?, r.idempotency_records()?)))
        .unwrap_or_default();
    let sandboxes = SandboxState::ALL
        .into_iter()
        .map(|s| (s, counts.get(s.as_str()).copied().unwrap_or(0)))
        .collect();
    Readings {
        instance_slots,
        instances_free,
        sandboxes,
        raft: raft_reading(state),
        idempotency_records,
        quic: state.dataplane.as_ref().map(|p| p.endpoint().traffic()),
    }
}

fn raft_reading(state: &AppState) -> RaftReading {
    let metrics = state.raft.metrics().borrow().clone();
    let status = ClusterStatus::from_metrics(&metrics, &state.contact);
    let applied_index = metrics.last_applied.map_or(0, |l| l.index);
    let voters: Vec<_> = status
        .members
        .iter()
        .filter(|m| m.kind == "voter")
        .collect();
    let matched = voters.iter().filter_map(|m| m.matched_index).collect();
    RaftReading {
        term: metrics.current_term,
        last_log_index: metrics.last_log_index.unwrap_or(0),
        applied_index,
        commit_index: quorum_index(matched, voters.len()).unwrap_or(applied_index),
        leader: status.leader == Some(state.node_id),
        members: status.members.len() as u64,
        peer_lag: status
            .members
            .iter()
            .filter_map(|m| m.lag.map(|lag| (m.id, lag)))
            .collect(),
    }
}
