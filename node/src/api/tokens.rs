//! `/v1/cluster/tokens`: join tokens (admin only). The secret leaves the
//! node once, in the answer to `POST`; the registry keeps its SHA-256.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use nexus_raft::NodeRole;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::ApiError;
use super::extract::ApiJson;
use super::types::{CreateJoinToken, JoinTokenCreated, JoinTokenList};
use super::AppState;
use crate::cluster::tokens::{self, TokenTerms};

/// Default token lifetime: one hour.
const DEFAULT_TTL_SECS: u64 = 3600;

/// `POST /v1/cluster/tokens`: mints a token pinned to this cluster's CA.
#[utoipa::path(post, path = "/v1/cluster/tokens", request_body = CreateJoinToken, responses((status = 201, description = "The token, shown once", body = JoinTokenCreated), crate::api::openapi::ApiErrors))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateJoinToken>,
) -> Result<(StatusCode, Json<JoinTokenCreated>), ApiError> {
    caller.require_admin()?;
    let terms = TokenTerms {
        ttl_secs: request.ttl_secs.unwrap_or(DEFAULT_TTL_SECS),
        uses: request.uses.unwrap_or(1),
        role: request.role.unwrap_or(NodeRole::Voter),
    };
    let (token, info) = tokens::mint(&state.registry, &state.ca_fingerprint, terms).await?;
    Ok((
        StatusCode::CREATED,
        Json(JoinTokenCreated {
            token,
            info: info.into(),
        }),
    ))
}

/// `GET /v1/cluster/tokens`.
#[utoipa::path(get, path = "/v1/cluster/tokens", responses((status = 200, description = "Join tokens", body = JoinTokenList), crate::api::openapi::ApiErrors))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<JoinTokenList>, ApiError> {
    caller.require_admin()?;
    state.registry.linearize().await?;
    let tokens = state.registry.read(|r| r.join_tokens())?;
    Ok(Json(JoinTokenList {
        tokens: tokens.into_iter().map(Into::into).collect(),
    }))
}

/// `DELETE /v1/cluster/tokens/{id}`: revokes a token.
#[utoipa::path(delete, path = "/v1/cluster/tokens/{id}", params(("id" = String, Path, description = "Token id")), responses((status = 200, description = "Revoked", body = crate::api::types::Removed), crate::api::openapi::ApiErrors))]
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin()?;
    state.registry.revoke_join_token(&id).await?;
    Ok(Json(json!({ "id": id })))
}
