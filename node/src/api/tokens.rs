//! `/v1/cluster/tokens`: join tokens (admin only). The secret leaves the
//! node once, in the answer to `POST`; the registry keeps its SHA-256.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use nexus_raft::{Command, NodeRole, Response, TokenCommand};
use nexus_tls::JoinToken;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::ApiError;
use super::extract::ApiJson;
use super::types::{CreateJoinToken, JoinTokenCreated, JoinTokenList};
use super::AppState;
use crate::errors::{ErrorCode, UserError};
use crate::sandbox::now_ms;

/// Default token lifetime: one hour.
const DEFAULT_TTL_SECS: u64 = 3600;

/// `POST /v1/cluster/tokens`: mints a token pinned to this cluster's CA.
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateJoinToken>,
) -> Result<(StatusCode, Json<JoinTokenCreated>), ApiError> {
    caller.require_admin()?;
    let uses = request.uses.unwrap_or(1);
    if uses == 0 {
        return Err(UserError::new(ErrorCode::RequestInvalid, "uses must be 1 or more").into());
    }
    let (token, seed) = JoinToken::mint(&state.ca_fingerprint).map_err(|e| {
        UserError::new(
            ErrorCode::Internal,
            format!("cannot mint a join token: {e}"),
        )
    })?;
    let at_ms = now_ms();
    let ttl_ms = request
        .ttl_secs
        .unwrap_or(DEFAULT_TTL_SECS)
        .saturating_mul(1000);
    let command = Command::JoinToken(TokenCommand::Create {
        token_id: seed.id,
        secret_hash: seed.secret_hash,
        role: request.role.unwrap_or(NodeRole::Voter),
        expires_at_ms: at_ms.saturating_add(ttl_ms),
        uses,
        at_ms,
    });
    match state.registry.write(command).await? {
        Response::JoinTokenCreated(info) => Ok((
            StatusCode::CREATED,
            Json(JoinTokenCreated {
                token: token.to_string(),
                info,
            }),
        )),
        other => Err(unexpected(&other)),
    }
}

/// `GET /v1/cluster/tokens`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<JoinTokenList>, ApiError> {
    caller.require_admin()?;
    state.registry.linearize().await?;
    let tokens = state.registry.read(|r| r.join_tokens())?;
    Ok(Json(JoinTokenList { tokens }))
}

/// `DELETE /v1/cluster/tokens/{id}`: revokes a token.
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin()?;
    let command = Command::JoinToken(TokenCommand::Revoke { token_id: id });
    match state.registry.write(command).await? {
        Response::JoinTokenRevoked { token_id } => Ok(Json(json!({ "id": token_id }))),
        other => Err(unexpected(&other)),
    }
}

fn unexpected(response: &Response) -> ApiError {
    UserError::new(
        ErrorCode::Internal,
        format!("registry answered with an unexpected response: {response:?}"),
    )
    .into()
}
