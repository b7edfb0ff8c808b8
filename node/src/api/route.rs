//! Routing: a request for a sandbox homed on another node is sent to that
//! node over the data plane and its answer handed back unchanged, so any
//! node serves any sandbox. The caller is authenticated here first; a
//! request that reached this node over the data plane is served here, never
//! forwarded again.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::{Authenticated, Caller};
use super::AppState;
use crate::dataplane::Forwarded;

/// Forwards requests under `/v1/sandboxes/{id}` to the sandbox's home when
/// it is another node; serves everything else here.
pub async fn to_home(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let Some(dataplane) = state.dataplane.as_ref() else {
        return next.run(request).await;
    };
    if request.extensions().get::<Forwarded>().is_some() {
        return next.run(request).await;
    }
    let Some(sandbox_id) = sandbox_in_path(request.uri().path()).map(str::to_owned) else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(refused) => return refused.into_response(),
    };
    let home = home_of(&state, caller.tenant(), &sandbox_id).await;
    parts.extensions.insert(Authenticated(caller.0));
    let request = Request::from_parts(parts, body);
    match home {
        Some(home) if home != state.node_id => {
            let client = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 0), |c| c.0);
            match dataplane.forward(home, &sandbox_id, client, request).await {
                Ok(response) => response,
                Err(e) => super::ApiError::from(e).into_response(),
            }
        }
        _ => next.run(request).await,
    }
}

/// The home node of the caller's sandbox, reading the registry once more
/// through the leader when this node does not know it yet (it was docked a
/// moment ago through another node). `None`: no such sandbox for this
/// tenant; the handler gives the error.
async fn home_of(state: &AppState, tenant_id: &str, sandbox_id: &str) -> Option<u64> {
    if let Ok(sandbox) = state.manager.get(tenant_id, sandbox_id) {
        return Some(sandbox.home_node);
    }
    state.registry.linearize().await.ok()?;
    state
        .manager
        .get(tenant_id, sandbox_id)
        .ok()
        .map(|s| s.home_node)
}

/// The `{id}` of a path under `/v1/sandboxes/{id}`.
fn sandbox_in_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v1/sandboxes/")?;
    let id = rest.split('/').next()?;
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::sandbox_in_path;

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
