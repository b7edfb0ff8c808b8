//! `/v1/sandboxes`: dock, list, inspect, call and remove sandboxes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::Json;
use nexus_raft::{Durability, Sandbox};
use serde::Deserialize;

use super::auth::Caller;
use super::body::BodyReader;
use super::error::ApiError;
use super::extract::{parse_object, ApiJson, ApiQuery, Upload};
use super::types::{
    decode_bytes, encode_bytes, CallRequest, CallResponse, CloneRequest, LogsQuery, MoveRequest,
    Removed, SandboxList, SandboxLogs, TransitionRequest,
};
use super::AppState;
use crate::dataplane::migrate::{self, MoveReport};
use crate::dataplane::{check_labels, DataPlane};
use crate::lifecycle::journal::LOG_ENTRIES;
use crate::sandbox::{check_call_env, DockRequest, SandboxInfo, Verb};
use nexus_engine::CommandInput;
use nexus_errors::{ErrorCode, UserError};
use nexus_raft::replication::NodeId;

/// Query parameters of `POST /v1/sandboxes`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DockParams {
    name: Option<String>,
    profile: Option<String>,
    /// The node to place the sandbox on (the routing layer sends the
    /// upload there; here it can only be this node).
    node: Option<u64>,
    /// Labels the home must carry (`key=value,...`; the routing layer
    /// picked a node that has them, here this node's own are checked).
    #[serde(rename = "where")]
    selector: Option<String>,
    /// Replication factor: copies kept, the home's included (1–8; default
    /// `[replication] factor`, capped by the cluster's size).
    factor: Option<u32>,
    /// `sync` (a call's response waits until a replica holds its change)
    /// or `async`; default `[replication] durability`.
    durability: Option<String>,
}

impl DockParams {
    /// The replication the caller asked for, checked.
    fn replication(&self) -> Result<(Option<u32>, Option<Durability>), ApiError> {
        let max = nexus_raft::MAX_REPLICAS as u32 + 1;
        if let Some(factor) = self.factor.filter(|f| !(1..=max).contains(f)) {
            return Err(ApiError::new(
                ErrorCode::ReplicationInvalid,
                format!("replication factor {factor} is out of range: use 1 to {max}"),
            ));
        }
        let durability = self
            .durability
            .as_deref()
            .map(str::parse::<Durability>)
            .transpose()
            .map_err(|e| ApiError::new(ErrorCode::ReplicationInvalid, e.to_string()))?;
        Ok((self.factor, durability))
    }
}

/// `POST /v1/sandboxes`: the body is a workbook file, streamed to a
/// staging file while an upload slot is held.
#[utoipa::path(post, path = "/v1/sandboxes", params(DockParams), request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "A workbook file"), responses((status = 201, description = "Docked", body = nexus_raft::Sandbox), crate::api::openapi::ApiErrors))]
pub async fn dock(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(params): ApiQuery<DockParams>,
    req: Request,
) -> Result<(StatusCode, Json<Sandbox>), ApiError> {
    if params.node.is_some_and(|node| node != state.node_id) {
        return Err(super::route::not_a_member(params.node.unwrap_or_default()));
    }
    let selector = super::route::selector_of(params.selector.as_deref())?;
    check_labels(state.node_id, &state.labels, &selector)?;
    let (replication_factor, durability) = params.replication()?;
    let request = DockRequest {
        name: params.name,
        profile: params.profile,
        replication_factor,
        durability,
    };
    let _slot = state.uploads.acquire(caller.tenant())?;
    let mut body = BodyReader::new(req)?;
    let mut writer = state.manager.upload_writer().await?;
    while let Some(piece) = body.next().await? {
        writer.write(&piece).await?;
    }
    let staged = writer.finish().await?;
    let sandbox = state
        .manager
        .dock_upload(caller.tenant(), staged, request)
        .await?;
    Ok((StatusCode::CREATED, Json(sandbox)))
}

/// `GET /v1/sandboxes`.
#[utoipa::path(get, path = "/v1/sandboxes", responses((status = 200, description = "The caller's sandboxes", body = SandboxList), crate::api::openapi::ApiErrors))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<SandboxList>, ApiError> {
    state.registry.linearize().await?;
    let sandboxes = state.manager.list(caller.tenant())?;
    Ok(Json(SandboxList { sandboxes }))
}

/// `GET /v1/sandboxes/{id}`: the record and this node's view of its activity.
#[utoipa::path(get, path = "/v1/sandboxes/{id}", params(("id" = String, Path, description = "Sandbox id")), responses((status = 200, description = "The sandbox and this node's view of it", body = SandboxInfo), crate::api::openapi::ApiErrors))]
pub async fn info(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SandboxInfo>, ApiError> {
    state.registry.linearize().await?;
    let mut info = state.manager.info(caller.tenant(), &id)?;
    if let (Some(replicas), Some(plane)) = (&state.replicas, &state.dataplane) {
        let members = plane.peers().len() + 1;
        info.replication = Some(replicas.info(&info.sandbox, members).await);
    }
    Ok(Json(info))
}

/// `GET /v1/sandboxes/{id}/logs`: the home's recent stderr and events.
#[utoipa::path(get, path = "/v1/sandboxes/{id}/logs", params(("id" = String, Path, description = "Sandbox id"), LogsQuery), responses((status = 200, description = "Entries of the home's log", body = SandboxLogs), crate::api::openapi::ApiErrors))]
pub async fn logs(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<LogsQuery>,
) -> Result<Json<SandboxLogs>, ApiError> {
    let limit = query.limit.unwrap_or(LOG_ENTRIES);
    if !(1..=LOG_ENTRIES).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::RequestInvalid,
            format!("?limit={limit}: between 1 and {LOG_ENTRIES} entries"),
        ));
    }
    let page = state
        .manager
        .logs(caller.tenant(), &id, query.after, limit)?;
    Ok(Json(SandboxLogs {
        sandbox_id: id,
        node_id: state.node_id,
        entries: page.entries,
        last_seq: page.last_seq,
        missed: page.missed,
    }))
}

/// `POST /v1/sandboxes/{id}/{verb}` for every lifecycle verb.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/{verb}", params(("id" = String, Path, description = "Sandbox id"), ("verb" = String, Path, description = "suspend, freeze, resume, archive, delete or prefetch", pattern = "^(suspend|freeze|resume|archive|delete|prefetch)$")), request_body(content = Option<TransitionRequest>, description = "Optional: the generation expected"), responses((status = 200, description = "The sandbox after the verb", body = nexus_raft::Sandbox), crate::api::openapi::ApiErrors))]
pub async fn transit(
    state: Arc<AppState>,
    caller: Caller,
    id: String,
    verb: Verb,
    body: Bytes,
) -> Result<Json<Sandbox>, ApiError> {
    let request: TransitionRequest = optional_json(&body)?;
    let sandbox = state
        .manager
        .transit(caller.tenant(), &id, verb, request.expected_generation)
        .await?;
    Ok(Json(sandbox))
}

/// `POST /v1/sandboxes/{id}/move`: the routing layer brings it to the
/// sandbox's home, which moves it (see `dataplane::migrate`).
#[utoipa::path(post, path = "/v1/sandboxes/{id}/move", params(("id" = String, Path, description = "Sandbox id")), request_body = MoveRequest, responses((status = 200, description = "Moved", body = MoveReport), crate::api::openapi::ApiErrors))]
pub async fn move_to(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<MoveRequest>,
) -> Result<Json<MoveReport>, ApiError> {
    let plane = state.dataplane.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::SandboxMoveInvalid,
            format!(
                "node {} has no peers to move sandbox {id} to",
                state.node_id
            ),
        )
    })?;
    let sandbox = state.manager.hosted(caller.tenant(), &id)?;
    Ok(Json(move_home(&state, plane, &sandbox, request.to).await?))
}

/// Moves `sandbox`, homed here, to node `to`: to its replica there without
/// copying a file when `to` keeps one, else by copying its files.
pub async fn move_home(
    state: &AppState,
    plane: &DataPlane,
    sandbox: &Sandbox,
    to: NodeId,
) -> Result<MoveReport, UserError> {
    if let Some(replicas) = &state.replicas {
        if let Some(report) = replicas
            .move_to_replica(&state.manager, sandbox, to)
            .await?
        {
            return Ok(report);
        }
    }
    migrate::move_sandbox(
        plane,
        &state.manager,
        &state.registry,
        &sandbox.tenant_id,
        &sandbox.id,
        to,
    )
    .await
}

/// `POST /v1/sandboxes/{id}/clone`.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/clone", params(("id" = String, Path, description = "Sandbox id")), request_body(content = Option<CloneRequest>), responses((status = 201, description = "The copy", body = nexus_raft::Sandbox), crate::api::openapi::ApiErrors))]
pub async fn clone(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    Upload(body): Upload,
) -> Result<(StatusCode, Json<Sandbox>), ApiError> {
    let request: CloneRequest = optional_json(&body)?;
    let target = match &request.tenant {
        None => caller.tenant().to_string(),
        Some(name) => {
            let tenant = state.registry.read(|r| r.tenant_by_name(name))?;
            match tenant {
                Some(t) if t.id == caller.tenant() => t.id,
                Some(t) => {
                    caller.require_admin()?;
                    t.id
                }
                None => {
                    return Err(ApiError::new(
                        ErrorCode::TenantNotFound,
                        format!("tenant {name} does not exist"),
                    ))
                }
            }
        }
    };
    let sandbox = state
        .manager
        .clone_sandbox(caller.tenant(), &id, &target, request.name)
        .await?;
    Ok((StatusCode::CREATED, Json(sandbox)))
}

/// Parses an optional JSON body: empty or `null` means the type's default.
fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    let text = String::from_utf8_lossy(body);
    if matches!(text.trim(), "" | "null") {
        return Ok(T::default());
    }
    parse_object(body)
}

/// `DELETE /v1/sandboxes/{id}`.
#[utoipa::path(delete, path = "/v1/sandboxes/{id}", params(("id" = String, Path, description = "Sandbox id")), responses((status = 200, description = "Removed", body = Removed), crate::api::openapi::ApiErrors))]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Removed>, ApiError> {
    state.manager.remove(caller.tenant(), &id).await?;
    Ok(Json(Removed { id }))
}

/// `POST /v1/sandboxes/{id}/call`: runs the entry module as a command.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/call", params(("id" = String, Path, description = "Sandbox id")), request_body = CallRequest, responses((status = 200, description = "The guest ran to completion (any exit code)", body = CallResponse), crate::api::openapi::ApiErrors))]
pub async fn call(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<CallRequest>,
) -> Result<Json<CallResponse>, ApiError> {
    let stdin = decode_bytes(request.stdin, request.stdin_encoding).map_err(|e| {
        ApiError::new(
            ErrorCode::RequestInvalid,
            format!("field `stdin` is not valid base64: {e}"),
        )
    })?;
    check_call_env(&id, &request.env)?;
    let input = CommandInput {
        args: request.args,
        stdin,
        env: request.env.into_iter().collect(),
    };
    let output = state.manager.call(caller.tenant(), &id, input).await?;
    let (stdout, stdout_encoding) = encode_bytes(output.stdout);
    let (stderr, stderr_encoding) = encode_bytes(output.stderr);
    Ok(Json(CallResponse {
        exit_code: output.exit_code,
        stdout,
        stdout_encoding,
        stderr,
        stderr_encoding,
        elapsed_us: output.elapsed.as_micros() as u64,
    }))
}
