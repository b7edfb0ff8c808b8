//! `/v1/keys`: API keys. An admin key manages the keys of every tenant; a
//! tenant key those of its own tenant, and cannot mint or revoke admin
//! keys. The key itself leaves the node once, in the answer to `POST`; the
//! registry keeps its SHA-256. Revocation is replicated: a node refuses
//! the key (`401 AUTH_KEY_REVOKED`) from the moment it applies it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use nexus_raft::registry::validate_key_name;
use nexus_raft::{ApiKey, Role, Tenant};
use serde::Deserialize;

use super::auth::Caller;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery};
use super::tenants::find_tenant;
use super::types::{CreateKey, KeyCreated, KeyEntry, KeyList, KeyRevoked};
use super::AppState;
use crate::clock::now_ms;
use crate::tenants::create_key;
use nexus_errors::{Coded, ErrorCode, UserError};

/// `?tenant=` of `GET` and `DELETE`: a tenant by name or id (admin key only).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TenantScope {
    tenant: Option<String>,
}

/// `POST /v1/keys`: a new key, shown once.
#[utoipa::path(post, path = "/v1/keys", request_body = CreateKey, responses((status = 201, description = "The key, shown once", body = KeyCreated), crate::api::openapi::ApiErrors))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateKey>,
) -> Result<(StatusCode, Json<KeyCreated>), ApiError> {
    let role = request.role.unwrap_or(Role::Tenant);
    if role == Role::Admin && !caller.is_admin() {
        return Err(forbidden(&caller, "mint an admin key"));
    }
    validate_key_name(&request.name).map_err(|e| e.to_user_error())?;
    let tenant = scope(&state, &caller, request.tenant.as_deref()).await?;
    let (key, secret) = create_key(&state.registry, &tenant.id, &request.name, role).await?;
    Ok((
        StatusCode::CREATED,
        Json(KeyCreated {
            key: KeyEntry::new(key, tenant.name),
            api_key: secret,
        }),
    ))
}

/// `GET /v1/keys[?tenant=T]`: live keys — every tenant's for an admin key
/// (or tenant `T`'s), the caller's tenant's otherwise.
#[utoipa::path(get, path = "/v1/keys", params(TenantScope), responses((status = 200, description = "Keys", body = KeyList), crate::api::openapi::ApiErrors))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TenantScope>,
) -> Result<Json<KeyList>, ApiError> {
    let only = match (caller.is_admin(), query.tenant.as_deref()) {
        (true, None) => {
            state.registry.linearize().await?;
            None
        }
        (_, tenant) => Some(scope(&state, &caller, tenant).await?.id),
    };
    let (keys, tenants) = state
        .registry
        .read(|r| Ok((r.api_keys(only.as_deref())?, r.tenants()?)))?;
    let names: HashMap<String, String> = tenants.into_iter().map(|t| (t.id, t.name)).collect();
    let keys = keys
        .into_iter()
        .map(|k| {
            let tenant = names.get(&k.tenant_id).cloned().unwrap_or_default();
            KeyEntry::new(k, tenant)
        })
        .collect();
    Ok(Json(KeyList { keys }))
}

/// `DELETE /v1/keys/{id}[?tenant=T]`: revokes a live key named by id, or
/// by name within the caller's tenant (or tenant `T`, admin key only).
/// The last live admin key is refused (`409 KEY_LAST_ADMIN`).
#[utoipa::path(delete, path = "/v1/keys/{id}", params(("id" = String, Path, description = "Key id"), TenantScope), responses((status = 200, description = "Revoked", body = KeyRevoked), crate::api::openapi::ApiErrors))]
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(target): Path<String>,
    ApiQuery(query): ApiQuery<TenantScope>,
) -> Result<Json<KeyRevoked>, ApiError> {
    let tenant = scope(&state, &caller, query.tenant.as_deref()).await?;
    let key = state
        .registry
        .read(|r| match r.api_key(&target)? {
            Some(key) if key.revoked_at_ms.is_none() => Ok(Some(key)),
            _ => r.api_key_by_name(&tenant.id, &target),
        })?
        .filter(|k| caller.is_admin() || k.tenant_id == caller.tenant())
        .ok_or_else(|| {
            UserError::new(
                ErrorCode::KeyNotFound,
                format!(
                    "no live key with id {target:?}, nor named {target:?} in tenant {}",
                    tenant.name
                ),
            )
        })?;
    if key.role == Role::Admin && !caller.is_admin() {
        return Err(forbidden(&caller, "revoke an admin key"));
    }
    state.registry.revoke_api_key(&key.id, now_ms()).await?;
    Ok(Json(revoked(key)))
}

fn revoked(key: ApiKey) -> KeyRevoked {
    KeyRevoked {
        id: key.id,
        name: key.name,
        tenant_id: key.tenant_id,
    }
}

/// The tenant a request acts on: `named` (by name or id), or the caller's
/// own. Another tenant needs an admin key (`403 AUTH_FORBIDDEN`, before
/// any lookup, so a tenant key learns nothing of other tenants). Reads
/// after a linearize, so a tenant made a moment ago through any node is seen.
async fn scope(state: &AppState, caller: &Caller, named: Option<&str>) -> Result<Tenant, ApiError> {
    state.registry.linearize().await?;
    let own = state
        .registry
        .read(|r| r.tenant(caller.tenant()))?
        .ok_or_else(|| {
            UserError::new(
                ErrorCode::TenantNotFound,
                format!("the caller's tenant {} no longer exists", caller.tenant()),
            )
        })?;
    match named {
        None => Ok(own),
        Some(t) if t == own.name || t == own.id => Ok(own),
        Some(_) if !caller.is_admin() => Err(forbidden(caller, "act on another tenant")),
        Some(t) => Ok(find_tenant(state, t)?),
    }
}

fn forbidden(caller: &Caller, what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::AuthForbidden,
        format!("key {} is a tenant key: it cannot {what}", caller.0.key_id),
    )
}
