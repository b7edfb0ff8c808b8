//! Emptying a node that is being removed with `--force`: its sandboxes are
//! drained to other members when it answers; when it does not (or a move
//! fails), they are lost — their files live only on that node and nothing
//! else holds a copy — so their records are removed and named in the
//! answer instead of being left homed on a node that no longer exists.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, Method};
use http_body_util::BodyExt;
use std::net::{IpAddr, SocketAddr};

use super::types::LostSandbox;
use crate::cluster::RegistryHandle;
use crate::dataplane::drain::DrainEvent;
use crate::dataplane::DataPlane;
use nexus_errors::UserError;

/// What became of a removed node's sandboxes.
#[derive(Debug, Default)]
pub struct Evacuation {
    /// Moved to other members, by id.
    pub moved: Vec<String>,
    /// Lost with the node, their records removed.
    pub lost: Vec<LostSandbox>,
}

/// Drains `node` (through the data plane, authorized as the caller) and
/// removes the records of the sandboxes still homed on it afterwards.
pub async fn evacuate(
    plane: Option<&DataPlane>,
    registry: &RegistryHandle,
    node: u64,
    authorization: Option<&HeaderValue>,
) -> Result<Evacuation, UserError> {
    let mut evacuation = Evacuation::default();
    if let Some(plane) = plane {
        evacuation.moved = drain_remote(plane, node, authorization).await;
    }
    registry.linearize().await?;
    let left: Vec<_> = registry
        .read(|r| r.all_sandboxes())?
        .into_iter()
        .filter(|s| s.home_node == node)
        .collect();
    for sandbox in left {
        registry
            .remove_sandbox(&sandbox.tenant_id, &sandbox.id)
            .await?;
        evacuation.lost.push(LostSandbox {
            id: sandbox.id,
            tenant_id: sandbox.tenant_id,
            name: sandbox.name,
            state: sandbox.state.as_str().to_owned(),
        });
    }
    Ok(evacuation)
}

/// Asks `node` to drain itself and returns the sandboxes it moved; nothing
/// when it cannot be reached.
async fn drain_remote(
    plane: &DataPlane,
    node: u64,
    authorization: Option<&HeaderValue>,
) -> Vec<String> {
    let Ok(routed) = plane.route_to(node).await else {
        return Vec::new();
    };
    let mut request = Request::new(Body::empty());
    *request.method_mut() = Method::POST;
    if let Ok(uri) = format!("/v1/cluster/nodes/{node}/drain").parse() {
        *request.uri_mut() = uri;
    }
    if let Some(value) = authorization {
        request.headers_mut().insert(AUTHORIZATION, value.clone());
    }
    let local = SocketAddr::new(IpAddr::from([127, 0, 0, 1]), 0);
    let Ok(response) = routed.exchange(local, plane.applied(), 1, request).await else {
        return Vec::new();
    };
    let Ok(body) = response.into_body().collect().await else {
        return Vec::new();
    };
    String::from_utf8_lossy(&body.to_bytes())
        .lines()
        .filter_map(|line| match serde_json::from_str(line) {
            Ok(DrainEvent::Moved { sandbox, .. }) => Some(sandbox),
            _ => None,
        })
        .collect()
}
