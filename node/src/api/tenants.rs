//! `/v1/tenants`: admin-only tenant management.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use nexus_raft::Role;

use super::auth::Caller;
use super::error::ApiError;
use super::extract::ApiJson;
use super::types::{CreateTenant, TenantCreated, TenantList};
use super::AppState;
use crate::tenants::create_tenant;

/// `POST /v1/tenants`: a new tenant and its first key.
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateTenant>,
) -> Result<(StatusCode, Json<TenantCreated>), ApiError> {
    caller.require_admin()?;
    let (tenant, api_key) = create_tenant(&state.registry, &request.name, Role::Tenant).await?;
    Ok((StatusCode::CREATED, Json(TenantCreated { tenant, api_key })))
}

/// `GET /v1/tenants`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<TenantList>, ApiError> {
    caller.require_admin()?;
    state.registry.linearize().await?;
    let tenants = state.registry.read(|r| r.tenants())?;
    Ok(Json(TenantList { tenants }))
}
