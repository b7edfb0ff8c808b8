//! The guest capability `fabric`: the node's side of `fabric_map`. A
//! guest's request becomes a job of this node's fabric over a kernel of
//! the calling sandbox (`KernelOrigin::Sandbox`), awaited to its end; the
//! results go back in input order. The job is an ordinary job: it shows in
//! `GET /v1/fabric/jobs`, counts against `MAX_RUNNING_JOBS` and is
//! cancelled if the guest's call ends first (its wall time ran out).

use std::sync::{Arc, OnceLock, Weak};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use nexus_abi::error::{ERR_FULL, ERR_INVALID, ERR_IO, ERR_NOT_FOUND, ERR_TOO_LARGE};
use nexus_abi::limits::MAX_FABRIC_RESPONSE;
use nexus_abi::{FabricFailure, FabricRequest, FabricResponse, FabricTier};
use nexus_engine::{FabricError, FabricFuture, FabricHost};
use nexus_errors::{ErrorCode, UserError};

use super::job::{Outcome, ResultAt};
use super::request::DEFAULT_WIDTH;
use super::{Fabric, Job, JobRequest, JobState, ResultOrder, Tier};
use crate::encoding::Encoding;
use crate::sandbox::within_call;

/// The `fabric` host hook, bound to the node's [`Fabric`] once it exists
/// (the engine, and so the hook, is made before the fabric).
#[derive(Debug, Default)]
pub struct GuestFabric {
    fabric: OnceLock<Weak<Fabric>>,
}

impl GuestFabric {
    /// A hook not bound yet: `fabric_map` fails with `ERR_IO` until
    /// [`GuestFabric::bind`].
    pub fn new() -> GuestFabric {
        GuestFabric::default()
    }

    /// Binds the hook to `fabric` (once; later binds are ignored). Held
    /// weakly: the fabric owns the engine that owns this hook.
    pub fn bind(&self, fabric: &Arc<Fabric>) {
        let _ = self.fabric.set(Arc::downgrade(fabric));
    }

    async fn run(
        &self,
        tenant: &str,
        sandbox: &str,
        request: FabricRequest,
    ) -> Result<FabricResponse, FabricError> {
        let fabric = self
            .fabric
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| FabricError {
                code: ERR_IO,
                message: "this node's fabric is not running".into(),
            })?;
        let job = within_call(
            sandbox,
            fabric.submit(tenant, job_request(sandbox, request)),
        )
        .await
        .map_err(refused)?;
        let job = fabric.get(tenant, &job.id).map_err(refused)?;
        let _cancel = CancelOnDrop(job.clone());
        job.ended().await;
        collect(&job)
    }
}

impl FabricHost for GuestFabric {
    fn map<'a>(
        &'a self,
        tenant: &'a str,
        sandbox: &'a str,
        request: FabricRequest,
    ) -> FabricFuture<'a> {
        Box::pin(self.run(tenant, sandbox, request))
    }
}

/// The job a guest's request stands for: its kernel of `sandbox`, its
/// inputs (base64 in the request body), width 0 meaning the default.
fn job_request(sandbox: &str, request: FabricRequest) -> JobRequest {
    let width = match request.width {
        0 => DEFAULT_WIDTH,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    };
    JobRequest {
        kernel: request.kernel,
        sandbox: Some(sandbox.to_owned()),
        module: None,
        profile: None,
        inputs: request.inputs.iter().map(|i| BASE64.encode(i)).collect(),
        inputs_encoding: Encoding::Base64,
        range: None,
        width,
        tier: match request.tier {
            FabricTier::Instance => Tier::Instance,
            FabricTier::Process => Tier::Process,
            FabricTier::Node => Tier::Node,
            FabricTier::Container => Tier::Container,
        },
        fail_fast: false,
    }
}

/// The guest's code for a job refused at submit: an unknown kernel is
/// `ERR_NOT_FOUND`, a bad width, kernel name or a module that is not a
/// kernel `ERR_INVALID`, a node running its most jobs (or a sandbox taken
/// for lifecycle work) `ERR_FULL`, anything else `ERR_IO`.
fn refused(e: UserError) -> FabricError {
    let code = match e.code {
        ErrorCode::WorkbookEntryMissing
        | ErrorCode::SandboxNotFound
        | ErrorCode::FabricJobNotFound => ERR_NOT_FOUND,
        ErrorCode::RequestInvalid
        | ErrorCode::CallInstantiateFailed
        | ErrorCode::WorkbookModuleInvalid
        | ErrorCode::ModuleTooLarge
        | ErrorCode::ModuleTooManyFunctions
        | ErrorCode::ModuleTooComplex => ERR_INVALID,
        ErrorCode::FabricBusy => ERR_FULL,
        _ => ERR_IO,
    };
    FabricError {
        code,
        message: format!("{}: {}", e.code.as_str(), e.message),
    }
}

/// Cancels the job when the guest's call lets go of it before it ended.
struct CancelOnDrop(Arc<Job>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.0.is_running() {
            self.0.finish(
                JobState::Cancelled,
                Some("the guest call that made the job ended first".into()),
            );
        }
    }
}

/// Every input's result, in input order; a job that ended without them
/// all (its results outgrew its bound, or it was cancelled) is an error.
fn collect(job: &Job) -> Result<FabricResponse, FabricError> {
    let mut results = Vec::with_capacity(job.total());
    let mut bytes = 0usize;
    for index in 0..job.total() {
        let ResultAt::Ready(completed) = job.result_at(ResultOrder::Input, index) else {
            let status = job.status();
            let code = match status.state {
                JobState::Failed => ERR_TOO_LARGE,
                _ => ERR_IO,
            };
            return Err(FabricError {
                code,
                message: format!(
                    "fabric job {} ended {:?} without a result for input {index}: {}",
                    status.id,
                    status.state,
                    status.error.unwrap_or_default()
                ),
            });
        };
        let result = match completed.outcome {
            Outcome::Output(output) => Ok(output),
            Outcome::Error(e) => Err(FabricFailure {
                code: e.code.as_str().to_owned(),
                message: e.message,
            }),
        };
        bytes += match &result {
            Ok(output) => output.len() + 8,
            Err(f) => f.code.len() + f.message.len() + 12,
        };
        if bytes > MAX_FABRIC_RESPONSE {
            return Err(FabricError {
                code: ERR_TOO_LARGE,
                message: format!(
                    "fabric job {}: results past the {MAX_FABRIC_RESPONSE}-byte cap of a guest's call",
                    job.id()
                ),
            });
        }
        results.push(result);
    }
    Ok(FabricResponse { results })
}
