//! Bearer API keys: who is calling.

use std::sync::Arc;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use nexus_raft::{hash_api_key, Principal, Role};

use super::auth_limit::WINDOW;
use super::error::ApiError;
use super::AppState;
use crate::clock::now_ms;
use nexus_errors::ErrorCode;

/// The authenticated caller of a request.
pub struct Caller(pub Principal);

pub use crate::authenticated::Authenticated;

impl Caller {
    /// Refuses callers without the admin role.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.0.role {
            Role::Admin => Ok(()),
            Role::Tenant => Err(ApiError::new(
                ErrorCode::AuthForbidden,
                format!("key {} belongs to a tenant, not an admin", self.0.key_id),
            )),
        }
    }

    /// The caller's tenant id.
    pub fn tenant(&self) -> &str {
        &self.0.tenant_id
    }

    /// Whether the caller holds an admin key.
    pub fn is_admin(&self) -> bool {
        self.0.role == Role::Admin
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        if let Some(Authenticated(principal)) = parts.extensions.get::<Authenticated>() {
            return Ok(Caller(principal.clone()));
        }
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        if let Some(wait) = state.auth_failures.blocked(addr) {
            return Err(ApiError::new(
                ErrorCode::AuthRateLimited,
                format!(
                    "{addr} presented {} unknown API keys within {} s; \
                     refused for {wait} s more",
                    state.auth_failures.max_failures(),
                    WINDOW.as_secs()
                ),
            ));
        }
        let mut caller = authenticate(parts, state);
        if matches!(&caller, Err(e) if e.0.code == ErrorCode::AuthInvalidKey) {
            // A key made a moment ago through another node may not have
            // reached this one yet: read once more through the leader.
            if state.registry.linearize().await.is_ok() {
                caller = authenticate(parts, state);
            }
        }
        if matches!(&caller, Err(e) if e.0.code == ErrorCode::AuthInvalidKey) {
            state.auth_failures.failed(addr);
        }
        caller
    }
}

/// The principal of the request's bearer key.
fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::new(
            ErrorCode::AuthMissingKey,
            "the request has no Authorization header",
        )
    })?;
    let key = header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::AuthInvalidKey,
                "the Authorization header is not of the form `Bearer <key>`",
            )
        })?;
    let hash = hash_api_key(key);
    let key = state
        .registry
        .read(|r| r.api_key_by_hash(&hash))?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::AuthInvalidKey,
                "the API key is not known to this node",
            )
        })?;
    if let Some(at_ms) = key.revoked_at_ms {
        return Err(ApiError::new(
            ErrorCode::AuthKeyRevoked,
            format!(
                "API key {} ({}) was revoked at {at_ms} ms",
                key.id, key.name
            ),
        ));
    }
    state.key_usage.record(&key.id, now_ms());
    Ok(Caller(key.principal()))
}
