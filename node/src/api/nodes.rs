//! `/v1/cluster/nodes`: the cluster's nodes (admin only) — members, admitted
//! joiners and removed nodes, and which of them hold the CA key — and
//! removing one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::Json;

use super::auth::Caller;
use super::error::ApiError;
use super::evacuate::{evacuate, Evacuation};
use super::extract::ApiQuery;
use super::types::{NodeEntry, NodeList, NodeRemoved, RemoveNodeParams};
use super::AppState;
use crate::clock::now_ms;
use crate::cluster::status::ClusterStatus;
use nexus_errors::{ErrorCode, UserError};

/// How long a removal waits for the leader to take the node out of the
/// membership before answering.
const LEAVE_WAIT: Duration = Duration::from_secs(10);

/// `GET /v1/cluster/nodes`.
#[utoipa::path(get, path = "/v1/cluster/nodes", responses((status = 200, description = "Members, joiners and removed nodes", body = NodeList), crate::api::openapi::ApiErrors))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<NodeList>, ApiError> {
    caller.require_admin()?;
    state.registry.linearize().await?;
    Ok(Json(NodeList {
        nodes: nodes(&state)?.into_values().collect(),
    }))
}

/// Members (from this node's Raft metrics) merged with the registry's
/// records of joined and revoked nodes.
fn nodes(state: &AppState) -> Result<BTreeMap<u64, NodeEntry>, UserError> {
    let metrics = state.raft.metrics().borrow().clone();
    let status = ClusterStatus::from_metrics(&metrics, &state.contact);
    let (joined, revoked, holders) = state
        .registry
        .read(|r| Ok((r.joined_nodes()?, r.revoked_nodes()?, r.ca_holders()?)))?;
    let (drained, sandboxes, reports, loads) = state.registry.read(|r| {
        Ok((
            r.drained_nodes()?,
            r.all_sandboxes()?,
            r.node_reports()?,
            r.node_loads()?,
        ))
    })?;
    let mut nodes: BTreeMap<u64, NodeEntry> = status
        .members
        .iter()
        .map(|m| {
            let status_name = if status.leader == Some(m.id) {
                "leader".to_owned()
            } else {
                m.kind.clone()
            };
            let entry = NodeEntry {
                lag: m.lag,
                health: Some(m.health.clone()),
                last_heard_ms: m.last_heard_ms,
                ..NodeEntry::known(m.id, status_name, &m.raft_addr, &m.api_addr)
            };
            (m.id, entry)
        })
        .collect();
    for node in joined {
        let entry = nodes.entry(node.id).or_insert_with(|| {
            NodeEntry::known(
                node.id,
                "joining".to_owned(),
                &node.raft_addr,
                &node.api_addr,
            )
        });
        entry.token_role = Some(node.role);
        entry.joined_at_ms = Some(node.joined_at_ms);
    }
    for node in revoked {
        let entry = nodes
            .entry(node.id)
            .or_insert_with(|| NodeEntry::known(node.id, String::new(), "", ""));
        entry.status = "removed".to_owned();
        entry.removed_at_ms = Some(node.revoked_at_ms);
    }
    for holder in holders {
        if let Some(entry) = nodes.get_mut(&holder.id) {
            entry.holds_ca = true;
        }
    }
    for id in drained {
        if let Some(entry) = nodes.get_mut(&id) {
            entry.drained = true;
        }
    }
    for sandbox in sandboxes {
        if let Some(entry) = nodes.get_mut(&sandbox.home_node) {
            entry.sandboxes += 1;
        }
    }
    for (id, report) in reports {
        if let Some(entry) = nodes.get_mut(&id) {
            entry.labels = report.labels;
            entry.max_sandboxes = Some(report.max_sandboxes);
            entry.memory_bytes = Some(report.memory_bytes);
        }
    }
    for (id, load) in loads {
        if let Some(entry) = nodes.get_mut(&id) {
            entry.live_sandboxes = load.sandboxes;
        }
    }
    Ok(nodes)
}

/// A node id from a path (`NODE_NOT_FOUND` when it is not a number).
pub(super) fn parse_node_id(text: &str) -> Result<u64, UserError> {
    text.parse().map_err(|_| {
        UserError::new(
            ErrorCode::NodeNotFound,
            format!("{text:?} is not a node id"),
        )
    })
}

/// `DELETE /v1/cluster/nodes/{id}`: revokes the node's certificate (every
/// node refuses it from the next request on) and waits, up to 10 s, for
/// the leader to take it out of the membership.
#[utoipa::path(delete, path = "/v1/cluster/nodes/{id}", params(("id" = String, Path, description = "Node id"), RemoveNodeParams), responses((status = 200, description = "Removed", body = NodeRemoved), crate::api::openapi::ApiErrors))]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<RemoveNodeParams>,
    headers: HeaderMap,
) -> Result<Json<NodeRemoved>, ApiError> {
    caller.require_admin()?;
    let id = parse_node_id(&id)?;
    if id == state.node_id {
        return Err(UserError::new(
            ErrorCode::NodeRemoveSelf,
            format!("node {id} cannot remove itself"),
        )
        .into());
    }
    state.registry.linearize().await?;
    let Some(entry) = nodes(&state)?.remove(&id) else {
        return Err(UserError::new(
            ErrorCode::NodeNotFound,
            format!("node {id} is not a member and never joined this cluster"),
        )
        .into());
    };
    if entry.sandboxes > 0 && !params.force {
        return Err(UserError::new(
            ErrorCode::NodeHomesSandboxes,
            format!("node {id} homes {} sandbox(es)", entry.sandboxes),
        )
        .into());
    }
    let voters: Vec<u64> = state
        .raft
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .voter_ids()
        .collect();
    if voters == [id] {
        return Err(UserError::new(
            ErrorCode::NodeLastVoter,
            format!("node {id} is the cluster's only voter"),
        )
        .into());
    }
    let evacuation = if entry.sandboxes > 0 {
        evacuate(
            state.dataplane.as_deref(),
            &state.registry,
            id,
            headers.get(AUTHORIZATION),
        )
        .await?
    } else {
        Evacuation::default()
    };
    state.registry.remove_node(id, now_ms()).await?;
    let left = state
        .raft
        .wait(Some(LEAVE_WAIT))
        .metrics(
            |m| {
                !m.membership_config
                    .membership()
                    .nodes()
                    .any(|(member, _)| *member == id)
            },
            "the removed node leaves the membership",
        )
        .await
        .is_ok();
    Ok(Json(NodeRemoved {
        id,
        left_membership: left,
        moved: evacuation.moved,
        lost: evacuation.lost,
    }))
}
