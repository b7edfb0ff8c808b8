//! Routing: a request for a sandbox homed on another node is sent to that
//! node over the data plane and its answer handed back unchanged, so any
//! node serves any sandbox; a new sandbox's upload goes to the node it is
//! placed on. The caller is authenticated here first; a request that
//! reached this node over the data plane is served here, never forwarded
//! again.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tracing::warn;

use super::auth::{Authenticated, Caller};
use super::{ApiError, AppState};
use crate::config::{parse_selector, Labels};
use crate::dataplane::{placement_unreachable, DataPlane, Demand, Forwarded, MAX_HOPS};
use nexus_errors::ErrorCode;

/// Forwards requests under `/v1/sandboxes/{id}` to the sandbox's home when
/// it is another node, and those under `/v1/fabric/jobs/{id}` to the node
/// running the job; serves everything else here. A request served here
/// for one of this node's sandboxes passes the sandbox's gate, where a move
/// in its pause holds it; if the sandbox moved meanwhile, the request goes
/// on to the new home.
pub async fn to_home(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let Some(dataplane) = state.dataplane.as_ref() else {
        return next.run(request).await;
    };
    let hops = request
        .extensions()
        .get::<Forwarded>()
        .map_or(0, |f| f.hops);
    if request.method() == Method::POST && request.uri().path() == "/v1/sandboxes" {
        if hops > 0 {
            return next.run(request).await;
        }
        return place(&state, dataplane, request, next).await;
    }
    if let Some(job_id) = job_in_path(request.uri().path()) {
        return match crate::fabric::node_of_job(job_id) {
            Some(node) if node != state.node_id && hops < MAX_HOPS => {
                let what = format!("fabric job {job_id}");
                forward(dataplane, node, &what, hops, request).await
            }
            _ => next.run(request).await,
        };
    }
    let Some(sandbox_id) = sandbox_in_path(request.uri().path()).map(str::to_owned) else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(refused) => return refused.into_response(),
    };
    let tenant = caller.tenant().to_owned();
    let home = home_of(&state, &tenant, &sandbox_id).await;
    parts.extensions.insert(Authenticated(caller.0));
    let request = Request::from_parts(parts, body);
    let here = state.node_id;
    // A move runs on the home and closes the gate itself.
    let gated = !request.uri().path().ends_with("/move");
    match home {
        Some(home) if home == here && !gated => next.run(request).await,
        Some(home) if home == here => {
            let pass = dataplane.gates().pass(&sandbox_id).await;
            let now = state.manager.get(&tenant, &sandbox_id).map(|s| s.home_node);
            match now {
                Ok(moved) if moved != here && hops < MAX_HOPS => {
                    drop(pass);
                    forward(
                        dataplane,
                        moved,
                        &format!("sandbox {sandbox_id}"),
                        hops,
                        request,
                    )
                    .await
                }
                _ => {
                    let response = next.run(request).await;
                    drop(pass);
                    response
                }
            }
        }
        Some(home) if hops < MAX_HOPS => {
            let what = format!("sandbox {sandbox_id}");
            tokio::select! {
                response = forward(dataplane, home, &what, hops, request) => response,
                moved = home_moved(&state, &tenant, &sandbox_id, home) => {
                    ApiError::new(
                        ErrorCode::SandboxHomeUnreachable,
                        format!(
                            "sandbox {sandbox_id} moved from node {home} to node {moved} (a \
                             failover) while the request waited for node {home}; retry it"
                        ),
                    )
                    .into_response()
                }
            }
        }
        _ => next.run(request).await,
    }
}

/// Resolves with the sandbox's new home once this node's registry has shown
/// it off `home` for [`MOVED_GRACE`]: the request waits for a home that
/// failed over (it died: its connection would only time out). A home that
/// moved the sandbox itself hands its held requests on within the grace.
async fn home_moved(state: &AppState, tenant_id: &str, sandbox_id: &str, home: u64) -> u64 {
    let mut moved_since = None;
    loop {
        tokio::time::sleep(HOME_RECHECK).await;
        let now = match state.manager.get(tenant_id, sandbox_id) {
            Ok(now) if now.home_node != home => now.home_node,
            _ => {
                moved_since = None;
                continue;
            }
        };
        let since = *moved_since.get_or_insert_with(std::time::Instant::now);
        if since.elapsed() >= MOVED_GRACE {
            return now;
        }
    }
}

/// How often a forwarded request's sandbox is looked up again while the
/// request waits for its home.
const HOME_RECHECK: std::time::Duration = std::time::Duration::from_millis(50);

/// How long a forwarded request keeps waiting for its old home once the
/// sandbox's home changed.
const MOVED_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// Sends `request` to `home` over the data plane; its answer, or the
/// coded refusal when the home cannot be reached.
async fn forward(
    dataplane: &DataPlane,
    home: u64,
    what: &str,
    hops: u8,
    request: Request,
) -> Response {
    let client = client_of(&request);
    match dataplane.forward(home, what, client, hops, request).await {
        Ok(response) => response,
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The query parameters of `POST /v1/sandboxes` placement reads (the
/// handler checks the rest).
#[derive(Debug, Deserialize)]
struct PlaceQuery {
    node: Option<u64>,
    profile: Option<String>,
    #[serde(rename = "where")]
    selector: Option<String>,
}

/// Docks the upload on the node the client names (`?node=ID`) or, without
/// one, on the first reachable node of [`DataPlane::placement_order`]
/// (among those carrying the `?where=` labels). The
/// upload streams there; nothing is read before a node is chosen, so an
/// unreachable one is passed over.
async fn place(
    state: &Arc<AppState>,
    dataplane: &DataPlane,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, state).await {
        Ok(caller) => caller,
        Err(refused) => return refused.into_response(),
    };
    parts.extensions.insert(Authenticated(caller.0));
    let order = match placement(state, dataplane, &parts).await {
        Ok(order) => order,
        Err(refused) => return refused.into_response(),
    };
    let request = Request::from_parts(parts, body);
    let mut failure = None;
    for node in order {
        if node == state.node_id {
            return next.run(request).await;
        }
        match dataplane.route_to(node).await {
            Ok(routed) => {
                let client = client_of(&request);
                return match routed
                    .exchange(client, dataplane.applied(), 0, request)
                    .await
                {
                    Ok(response) => response,
                    Err(failed) => ApiError::from(placement_unreachable(&failed)).into_response(),
                };
            }
            Err(failed) => {
                warn!(node, reason = %failed.reason, "placement passed over an unreachable node");
                failure = Some(failed);
            }
        }
    }
    match failure {
        Some(failed) => ApiError::from(placement_unreachable(&failed)).into_response(),
        None => next.run(request).await,
    }
}

/// The nodes to try for a new sandbox, in order, from a fresh read of the
/// registry (the last docks through other nodes count).
async fn placement(
    state: &AppState,
    dataplane: &DataPlane,
    parts: &Parts,
) -> Result<Vec<u64>, ApiError> {
    // An unreadable query is the handler's to refuse, with its own message.
    let Ok(Query(query)) = Query::<PlaceQuery>::try_from_uri(&parts.uri) else {
        return Ok(vec![state.node_id]);
    };
    let selector = selector_of(query.selector.as_deref())?;
    match query.node {
        Some(node) if dataplane.is_member(node) => {
            dataplane.check_placeable(&state.registry, node, &selector)?;
            Ok(vec![node])
        }
        Some(node) => Err(not_a_member(node)),
        None => {
            state.registry.linearize().await?;
            let profiles = state.manager.profiles();
            let profile = query
                .profile
                .as_deref()
                .unwrap_or(DEFAULT_PLACEMENT_PROFILE);
            let demand = Demand {
                selector,
                memory_bytes: profiles.resolve(profile).memory_bytes,
            };
            Ok(dataplane.placement_order(&state.registry, &demand, profiles)?)
        }
    }
}

/// The profile placement counts for a dock that names none (the workbook
/// may declare a larger one; it is only read once the upload arrives).
const DEFAULT_PLACEMENT_PROFILE: &str = "compute";

/// The labels of a `?where=key=value,...` parameter (`REQUEST_INVALID`
/// when it is not one).
pub fn selector_of(raw: Option<&str>) -> Result<Labels, ApiError> {
    parse_selector(raw.unwrap_or_default()).map_err(|reason| {
        ApiError::new(
            ErrorCode::RequestInvalid,
            format!("?where={}: {reason}", raw.unwrap_or_default()),
        )
    })
}

/// `NODE_NOT_FOUND` for a placement on a node that is not a member.
pub fn not_a_member(node: u64) -> ApiError {
    ApiError::new(
        ErrorCode::NodeNotFound,
        format!("cannot place the sandbox on node {node}: it is not a member of the cluster"),
    )
}

/// The client's address (for the home's per-address limits).
pub(super) fn client_of(request: &Request) -> SocketAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 0), |c| c.0)
}

/// The home node of the caller's sandbox, reading the registry once more
/// through the leader when this node does not know it yet (it was docked a
/// moment ago through another node). `None`: no such sandbox for this
/// tenant; the handler gives the error.
async fn home_of(state: &AppState, tenant_id: &str, sandbox_id: &str) -> Option<u64> {
    state
        .manager
        .get_fresh(tenant_id, sandbox_id)
        .await
        .ok()
        .map(|s| s.home_node)
}

/// The `{id}` of a path under `/v1/sandboxes/{id}`.
fn sandbox_in_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v1/sandboxes/")?;
    let id = rest.split('/').next()?;
    (!id.is_empty()).then_some(id)
}

/// The `{id}` of a path under `/v1/fabric/jobs/{id}`.
fn job_in_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v1/fabric/jobs/")?;
    let id = rest.split('/').next()?;
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::{job_in_path, sandbox_in_path};

    #[test]
    fn paths_naming_a_job_go_to_its_node() {
        assert_eq!(job_in_path("/v1/fabric/jobs/job_2_ab"), Some("job_2_ab"));
        assert_eq!(
            job_in_path("/v1/fabric/jobs/job_2_ab/results"),
            Some("job_2_ab")
        );
        assert_eq!(job_in_path("/v1/fabric/jobs"), None);
        assert_eq!(job_in_path("/v1/fabric/jobs/"), None);
    }

    #[test]
    fn only_paths_naming_a_sandbox_are_routed() {
        assert_eq!(sandbox_in_path("/v1/sandboxes/sb-1"), Some("sb-1"));
        assert_eq!(sandbox_in_path("/v1/sandboxes/sb-1/call"), Some("sb-1"));
        assert_eq!(sandbox_in_path("/v1/sandboxes/sb-1/http/a/b"), Some("sb-1"));
        assert_eq!(sandbox_in_path("/v1/sandboxes"), None);
        assert_eq!(sandbox_in_path("/v1/sandboxes/"), None);
        assert_eq!(sandbox_in_path("/v1/tenants/t-1"), None);
    }
}
