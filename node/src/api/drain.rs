//! `POST /v1/cluster/nodes/{id}/drain` and `/undrain` (admin only). A drain
//! runs on the node drained — the one that homes the sandboxes — so any
//! other node forwards the request there over the data plane; the answer is
//! a stream of JSON lines, one per step ([`DrainEvent`]).

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use axum::Json;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use super::auth::Caller;
use super::error::ApiError;
use super::nodes::parse_node_id;
use super::sandboxes::move_home;
use super::types::NodeUndrained;
use super::AppState;
use crate::clock::now_ms;
use crate::dataplane::drain::{drain as run_drain, DrainEvent};
use nexus_errors::{ErrorCode, UserError};

/// The media type of the drain's answer.
pub const NDJSON: &str = "application/x-ndjson";

/// `POST /v1/cluster/nodes/{id}/drain`.
#[utoipa::path(post, path = "/v1/cluster/nodes/{id}/drain", params(("id" = String, Path, description = "Node id")), responses((status = 200, description = "One JSON object per line as sandboxes move", content_type = "application/x-ndjson", body = crate::dataplane::drain::DrainEvent), crate::api::openapi::ApiErrors))]
pub async fn drain(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let id = parse_node_id(&id)?;
    let plane = state.dataplane.clone().ok_or_else(|| {
        UserError::new(
            ErrorCode::SandboxMoveInvalid,
            format!(
                "node {} has no peers: there is nowhere to drain it to",
                state.node_id
            ),
        )
    })?;
    if id != state.node_id {
        if !plane.is_member(id) {
            return Err(not_a_node(id));
        }
        let unavailable = |reason: String| {
            UserError::new(
                ErrorCode::NodeUnavailable,
                format!("cannot drain node {id}: it did not answer over the data plane: {reason}"),
            )
        };
        let routed = plane
            .route_to(id)
            .await
            .map_err(|f| unavailable(f.reason))?;
        let client = super::route::client_of(&request);
        return Ok(routed
            .exchange(client, plane.applied(), 1, request)
            .await
            .map_err(|f| unavailable(f.reason))?);
    }
    let (events, receiver) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        let mover = |sandbox, to| {
            let (state, plane) = (state.clone(), plane.clone());
            async move { move_home(&state, &plane, &sandbox, to).await }
        };
        let drained = run_drain(
            &plane,
            &state.manager,
            &state.registry,
            mover,
            events.clone(),
        )
        .await;
        if let Err(e) = drained {
            let _ = events
                .send(DrainEvent::Failed {
                    sandbox: String::new(),
                    code: e.code.as_str().to_owned(),
                    message: e.message,
                })
                .await;
        }
    });
    let lines = ReceiverStream::new(receiver).map(|event| {
        let mut line = serde_json::to_string(&event).unwrap_or_default();
        line.push('\n');
        Ok::<_, Infallible>(line)
    });
    Response::builder()
        .header(CONTENT_TYPE, NDJSON)
        .body(Body::from_stream(lines))
        .map_err(|e| UserError::new(ErrorCode::Internal, e.to_string()).into())
}

/// `POST /v1/cluster/nodes/{id}/undrain`: the node takes new sandboxes again.
#[utoipa::path(post, path = "/v1/cluster/nodes/{id}/undrain", params(("id" = String, Path, description = "Node id")), responses((status = 200, description = "The node takes new sandboxes again", body = NodeUndrained), crate::api::openapi::ApiErrors))]
pub async fn undrain(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<NodeUndrained>, ApiError> {
    caller.require_admin()?;
    let id = parse_node_id(&id)?;
    let known = state.dataplane.as_ref().is_none_or(|p| p.is_member(id)) || id == state.node_id;
    if !known {
        return Err(not_a_node(id));
    }
    state.registry.set_node_drained(id, false, now_ms()).await?;
    Ok(Json(NodeUndrained { id }))
}

fn not_a_node(id: u64) -> ApiError {
    UserError::new(
        ErrorCode::NodeNotFound,
        format!("node {id} is not a member of the cluster"),
    )
    .into()
}
