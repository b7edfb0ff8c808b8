//! The fabric as the `fabric` host functions see it: a trait the engine
//! owns and the node implements over its job table, so a guest can fan a
//! kernel of its own workbook out over inputs from inside a call.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

use nexus_abi::{FabricRequest, FabricResponse};

/// Why a `fabric_map` call has no results: the `ERR_*` code the guest
/// gets, and a message for the node's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (guest code {code})")]
pub struct FabricError {
    /// The negative ABI code the guest sees (`ERR_NOT_FOUND`, ...).
    pub code: i32,
    /// What happened, for the log.
    pub message: String,
}

/// What [`FabricHost::map`] returns: a future the engine awaits inside
/// the guest's call (dropped if the call's wall time runs out).
pub type FabricFuture<'a> =
    Pin<Box<dyn Future<Output = Result<FabricResponse, FabricError>> + Send + 'a>>;

/// Runs a guest's fan-out: kernel `request.kernel` of sandbox `sandbox`
/// over `request.inputs`, results in input order. A failing input is that
/// input's failure in the response, not an error of the call.
pub trait FabricHost: Send + Sync + Debug {
    /// Runs `request` for sandbox `sandbox` of `tenant` and waits for every
    /// result. Dropping the future gives the job up (the node cancels it).
    fn map<'a>(
        &'a self,
        tenant: &'a str,
        sandbox: &'a str,
        request: FabricRequest,
    ) -> FabricFuture<'a>;
}
