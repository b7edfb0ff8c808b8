//! `/v1/fabric/jobs`: start a fabric job, read its status, stream its
//! results, cancel it, list them. A job lives on the node that accepted it;
//! its id names that node, so any node forwards requests for it there.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use super::auth::Caller;
use super::extract::{ApiJson, ApiQuery};
use super::{ApiError, AppState};
use crate::fabric::job::ResultAt;
use crate::fabric::{Job, JobRequest, JobStatus, ResultLine, ResultOrder};
use nexus_errors::ErrorCode;

/// `POST /v1/fabric/jobs`: starts a job on this node.
#[utoipa::path(post, path = "/v1/fabric/jobs", request_body = JobRequest, responses((status = 201, description = "The job started", body = JobStatus), crate::api::openapi::ApiErrors))]
pub async fn submit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(request): ApiJson<JobRequest>,
) -> Result<(StatusCode, Json<JobStatus>), ApiError> {
    let status = state.fabric.submit(caller.tenant(), request).await?;
    Ok((StatusCode::CREATED, Json(status)))
}

/// `POST /v1/sandboxes/{id}/fabric`: starts a job over module `kernel` of
/// sandbox `id`, on its home node.
#[utoipa::path(post, path = "/v1/sandboxes/{id}/fabric", params(("id" = String, Path, description = "Sandbox id")), request_body = JobRequest, responses((status = 201, description = "The job started", body = JobStatus), crate::api::openapi::ApiErrors))]
pub async fn submit_for_sandbox(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(mut request): ApiJson<JobRequest>,
) -> Result<(StatusCode, Json<JobStatus>), ApiError> {
    if request.module.is_some() || request.sandbox.as_ref().is_some_and(|s| *s != id) {
        return Err(ApiError::new(
            ErrorCode::RequestInvalid,
            format!("a job under /v1/sandboxes/{id} runs that sandbox's module; drop `module` and `sandbox`"),
        ));
    }
    request.sandbox = Some(id);
    let status = state.fabric.submit(caller.tenant(), request).await?;
    Ok((StatusCode::CREATED, Json(status)))
}

/// `GET /v1/fabric/jobs`: the caller's jobs on this node.
#[utoipa::path(get, path = "/v1/fabric/jobs", responses((status = 200, description = "Jobs, oldest first", body = Vec<JobStatus>), crate::api::openapi::ApiErrors))]
pub async fn list(State(state): State<Arc<AppState>>, caller: Caller) -> Json<Vec<JobStatus>> {
    Json(state.fabric.list(caller.tenant()))
}

/// `GET /v1/fabric/jobs/{id}`: a job's status and counts.
#[utoipa::path(get, path = "/v1/fabric/jobs/{id}", params(("id" = String, Path, description = "Job id")), responses((status = 200, description = "The job", body = JobStatus), crate::api::openapi::ApiErrors))]
pub async fn status(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<JobStatus>, ApiError> {
    Ok(Json(state.fabric.get(caller.tenant(), &id)?.status()))
}

/// `POST /v1/fabric/jobs/{id}/cancel`: inputs not started never run.
#[utoipa::path(post, path = "/v1/fabric/jobs/{id}/cancel", params(("id" = String, Path, description = "Job id")), responses((status = 200, description = "The job, cancelled (or as it ended before)", body = JobStatus), crate::api::openapi::ApiErrors))]
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<JobStatus>, ApiError> {
    Ok(Json(state.fabric.cancel(caller.tenant(), &id)?))
}

/// Query parameters of `GET /v1/fabric/jobs/{id}/results`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ResultsQuery {
    /// `completion` (default: as inputs finish) or `input` (by index).
    #[serde(default)]
    pub order: ResultOrder,
}

/// How many result lines wait for a slow reader before the stream pauses.
const STREAM_BUFFER: usize = 64;

/// `GET /v1/fabric/jobs/{id}/results`: newline-delimited JSON, one
/// [`ResultLine`] per input, streamed until the job ends.
#[utoipa::path(get, path = "/v1/fabric/jobs/{id}/results", params(("id" = String, Path, description = "Job id"), ResultsQuery), responses((status = 200, description = "One JSON object per line, one line per completed input", body = ResultLine, content_type = "application/x-ndjson"), crate::api::openapi::ApiErrors))]
pub async fn results(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ResultsQuery>,
) -> Result<Response, ApiError> {
    let job = state.fabric.get(caller.tenant(), &id)?;
    let (lines, receiver) = mpsc::channel::<Bytes>(STREAM_BUFFER);
    tokio::spawn(stream_results(job, query.order, lines));
    let body = ReceiverStream::new(receiver).map(Ok::<_, Infallible>);
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(body),
    )
        .into_response())
}

/// Sends `job`'s results in `order` to `lines` as they come, until the job
/// ends or the reader goes away.
async fn stream_results(job: Arc<Job>, order: ResultOrder, lines: mpsc::Sender<Bytes>) {
    let mut changes = job.subscribe();
    let mut position = 0;
    loop {
        match job.result_at(order, position) {
            ResultAt::Ready(completed) => {
                let Ok(mut line) = serde_json::to_vec(&ResultLine::of(completed)) else {
                    return;
                };
                line.push(b'\n');
                if lines.send(Bytes::from(line)).await.is_err() {
                    return;
                }
                position += 1;
            }
            ResultAt::Pending => {
                if changes.changed().await.is_err() {
                    return;
                }
            }
            ResultAt::Never => return,
        }
    }
}
