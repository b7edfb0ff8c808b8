//! `/v1/tenants`: admin-only tenant management.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use nexus_raft::{Role, Tenant};
use serde::Deserialize;
use tracing::info;

use super::auth::Caller;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery};
use super::types::{CreateTenant, TenantCreated, TenantList, TenantRemoved};
use super::AppState;
use crate::tenants::{create_tenant, FIRST_KEY_NAME};
use nexus_errors::{ErrorCode, UserError};

/// `POST /v1/tenants`: a new tenant and its first key.
#[utoipa::path(post, path = "/v1/tenants", request_body = CreateTenant, responses((status = 201, description = "The tenant and its first key", body = TenantCreated), crate::api::openapi::ApiErrors))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateTenant>,
) -> Result<(StatusCode, Json<TenantCreated>), ApiError> {
    caller.require_admin()?;
    let (tenant, api_key) =
        create_tenant(&state.registry, &request.name, Role::Tenant, FIRST_KEY_NAME).await?;
    Ok((StatusCode::CREATED, Json(TenantCreated { tenant, api_key })))
}

/// `GET /v1/tenants`.
#[utoipa::path(get, path = "/v1/tenants", responses((status = 200, description = "Every tenant", body = TenantList), crate::api::openapi::ApiErrors))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<TenantList>, ApiError> {
    caller.require_admin()?;
    state.registry.linearize().await?;
    let tenants = state.registry.read(|r| r.tenants())?;
    Ok(Json(TenantList { tenants }))
}

/// `?force=true` of `DELETE /v1/tenants/{id}`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RemoveQuery {
    #[serde(default)]
    force: bool,
}

/// `DELETE /v1/tenants/{id}[?force=true]`: removes a tenant (by id or
/// name) and its keys. While it owns sandboxes this is refused (`409
/// TENANT_HAS_SANDBOXES`) unless forced, which removes their records too;
/// this node deletes the files of those it hosts now, other nodes at their
/// next reconciliation (the idle ladder's tick).
#[utoipa::path(delete, path = "/v1/tenants/{id}", params(("id" = String, Path, description = "Tenant id or name"), RemoveQuery), responses((status = 200, description = "Removed", body = TenantRemoved), crate::api::openapi::ApiErrors))]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(target): Path<String>,
    ApiQuery(query): ApiQuery<RemoveQuery>,
) -> Result<Json<TenantRemoved>, ApiError> {
    caller.require_admin()?;
    state.registry.linearize().await?;
    let tenant = find_tenant(&state, &target)?;
    let removal = state
        .registry
        .remove_tenant(&tenant.id, query.force)
        .await?;
    let reaped = state.manager.reconcile(&removal.sandboxes).await?;
    info!(tenant = %tenant.id, sandboxes = removal.sandboxes.len(), reaped = reaped.len(), "tenant removed");
    Ok(Json(TenantRemoved {
        id: tenant.id,
        name: tenant.name,
        sandboxes: removal.sandboxes.into_iter().map(|s| s.id).collect(),
        keys: removal.keys,
    }))
}

/// A tenant by name, or else by id, in this node's applied state.
pub(super) fn find_tenant(state: &AppState, name_or_id: &str) -> Result<Tenant, UserError> {
    state
        .registry
        .read(|r| match r.tenant_by_name(name_or_id)? {
            Some(t) => Ok(Some(t)),
            None => r.tenant(name_or_id),
        })?
        .ok_or_else(|| {
            UserError::new(
                ErrorCode::TenantNotFound,
                format!("no tenant named {name_or_id:?} or with that id"),
            )
        })
}
