//! The public HTTP/JSON API. Every error answers with a catalog code
//! (see `docs/errors.md`); every `/v1` route needs a bearer API key.

mod auth;
mod auth_limit;
mod body;
mod body_end;
mod cluster;
pub mod conn;
mod dashboard;
mod drain;
mod error;
mod evacuate;
mod extract;
mod fabric;
mod files;
mod head;
mod health;
pub mod https;
mod keys;
pub mod metrics;
mod net;
mod nodes;
pub mod openapi;
mod route;
mod sandboxes;
mod serve;
mod tenants;
mod tokens;
pub mod types;
mod uploads;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::middleware::from_fn_with_state;
use axum::routing::{any, delete, get, post};
use axum::Router;

pub use error::ApiError;

use crate::cluster::RegistryHandle;
use crate::config::Limits;
use crate::dataplane::DataPlane;
use crate::key_usage::KeyUsage;
use crate::sandbox::{SandboxManager, Verb};
use auth::Caller;
pub use auth_limit::AuthLimiter;
use body::BodyPolicy;
use extract::Upload;
use nexus_errors::ErrorCode;
pub use uploads::UploadSlots;

/// What every handler can reach.
pub struct AppState {
    /// This node's id.
    pub node_id: u64,
    /// The registry's Raft instance (for `GET /v1/cluster/status`).
    pub raft: nexus_raft::replication::Raft,
    /// When each peer last answered (members' health, leader's view).
    pub contact: nexus_transport::PeerContact,
    /// SHA-256 of the cluster CA certificate, pinned by join tokens.
    pub ca_fingerprint: String,
    /// The registry.
    pub registry: RegistryHandle,
    /// The sandboxes of this node.
    pub manager: Arc<SandboxManager>,
    /// Set when shutdown begins; `/ready` then answers 503.
    pub shutting_down: Arc<AtomicBool>,
    /// The request limits (`/health` advertises the body limits).
    pub limits: Limits,
    /// This node's labels (`[node] labels`; a dock's `?where=` must match).
    pub labels: crate::config::Labels,
    /// Workbook uploads in flight.
    pub uploads: Arc<UploadSlots>,
    /// Failed authentications per client address.
    pub auth_failures: AuthLimiter,
    /// API key uses not yet reported to the registry.
    pub key_usage: Arc<KeyUsage>,
    /// Where requests for sandboxes homed on other nodes go (`None`: a
    /// node without a peer port, which homes every sandbox itself).
    pub dataplane: Option<Arc<DataPlane>>,
    /// This node's fabric jobs.
    pub fabric: Arc<crate::fabric::Fabric>,
    /// Shipping to replicas and the copies kept here (`None` without a
    /// data plane).
    pub replicas: Option<Arc<crate::replicas::Replicas>>,
    /// This node's home lease (see [`crate::replicas::lease`]).
    pub lease: Arc<crate::replicas::HomeLease>,
    /// This node's WireGuard mesh (or why it has none).
    pub mesh: Arc<crate::mesh::MeshNode>,
}

/// The API's routes. Workbook uploads are read under
/// `max_upload_bytes` (`UPLOAD_TOO_LARGE`), every other body under
/// `max_request_bytes` (`REQUEST_TOO_LARGE`).
pub fn router(state: Arc<AppState>) -> Router {
    let limits = &state.limits;
    let idle = Duration::from_millis(limits.body_read_timeout_ms.max(1));
    let upload_policy = BodyPolicy {
        limit: limits.max_upload_bytes,
        too_large: ErrorCode::UploadTooLarge,
        idle,
    };
    let request_policy = BodyPolicy {
        limit: limits.max_request_bytes,
        too_large: ErrorCode::RequestTooLarge,
        idle,
    };
    let uploads = Router::new()
        .route("/v1/sandboxes", post(sandboxes::dock).get(sandboxes::list))
        .layer(from_fn_with_state(state.clone(), route::to_home))
        .layer(from_fn_with_state(upload_policy, body::enforce));
    let requests = Router::new()
        .route(
            "/v1/sandboxes/{id}",
            get(sandboxes::info).delete(sandboxes::remove),
        )
        .route("/v1/sandboxes/{id}/call", post(sandboxes::call))
        .route("/v1/sandboxes/{id}/clone", post(sandboxes::clone))
        .route("/v1/sandboxes/{id}/move", post(sandboxes::move_to))
        .route("/v1/sandboxes/{id}/logs", get(sandboxes::logs))
        .route(
            "/v1/sandboxes/{id}/fabric",
            post(fabric::submit_for_sandbox),
        )
        .route(
            "/v1/sandboxes/{id}/files/{volume}/{*path}",
            get(files::read),
        )
        .route("/v1/fabric/jobs", post(fabric::submit).get(fabric::list))
        .route("/v1/fabric/jobs/{id}", get(fabric::status))
        .route("/v1/fabric/jobs/{id}/results", get(fabric::results))
        .route("/v1/fabric/jobs/{id}/cancel", post(fabric::cancel))
        .route("/v1/sandboxes/{id}/http", any(serve::http))
        .route("/v1/sandboxes/{id}/http/", any(serve::http))
        .route("/v1/sandboxes/{id}/http/{*path}", any(serve::http))
        .route("/v1/tenants", post(tenants::create).get(tenants::list))
        .route("/v1/tenants/{id}", delete(tenants::remove))
        .route("/v1/keys", post(keys::create).get(keys::list))
        .route("/v1/keys/{id}", delete(keys::revoke))
        .route("/v1/cluster/status", get(cluster::status))
        .route("/v1/cluster/tokens", post(tokens::create).get(tokens::list))
        .route("/v1/cluster/tokens/{id}", delete(tokens::revoke))
        .route("/v1/cluster/nodes", get(nodes::list))
        .route("/v1/cluster/nodes/{id}", delete(nodes::remove))
        .route("/v1/cluster/nodes/{id}/drain", post(drain::drain))
        .route("/v1/cluster/nodes/{id}/undrain", post(drain::undrain))
        .route("/v1/net/status", get(net::status));
    let requests = Verb::ALL.into_iter().fold(requests, |router, verb| {
        router.route(
            &format!("/v1/sandboxes/{{id}}/{}", verb.as_str()),
            post(
                move |State(state): State<Arc<AppState>>,
                      caller: Caller,
                      Path(id): Path<String>,
                      Upload(body): Upload| {
                    sandboxes::transit(state, caller, id, verb, body)
                },
            ),
        )
    });
    let requests = requests
        .layer(from_fn_with_state(state.clone(), route::to_home))
        .layer(from_fn_with_state(request_policy, body::enforce));
    Router::new()
        .route("/", get(dashboard::index))
        .route("/dashboard.js", get(dashboard::script))
        .route("/dashboard.css", get(dashboard::style))
        .route("/favicon.svg", get(dashboard::icon))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(metrics::scrape))
        .route("/v1/openapi.json", get(openapi::document))
        .merge(uploads)
        .merge(requests)
        .layer(DefaultBodyLimit::disable())
        .fallback(|| async { ApiError::new(ErrorCode::RouteNotFound, "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "this route does not take this method",
            )
        })
        .with_state(state)
}
