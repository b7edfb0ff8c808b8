//! Running a `kv`/`vfs` storage operation for a guest. [`SandboxData`] is
//! synchronous (the node's is SQLite on the workbook file), so each
//! operation runs on tokio's blocking pool while the guest's call awaits it:
//! a slow disk stalls that one call, never an async worker thread.

use wasmtime::Caller;

use super::super::abi::ERR_IO;
use super::super::data::{DataError, SandboxData};
use super::super::state::GuestState;

/// Runs `op` against the calling sandbox's data off the async threads. A
/// storage failure is logged with the sandbox and `what`; the guest gets
/// `ERR_IO`.
pub(super) async fn run<T, F>(
    caller: &mut Caller<'_, GuestState>,
    what: &'static str,
    op: F,
) -> Result<T, i32>
where
    T: Send + 'static,
    F: FnOnce(&dyn SandboxData) -> Result<T, DataError> + Send + 'static,
{
    let data = caller.data().host.sandbox.data().clone();
    let outcome = match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(move || op(data.as_ref()))
            .await
            .unwrap_or_else(|e| Err(DataError(format!("storage task failed: {e}")))),
        // Outside a tokio runtime there are no async threads to protect.
        Err(_) => op(data.as_ref()),
    };
    outcome.map_err(|e| {
        let sandbox = caller.data().host.sandbox.id();
        tracing::warn!(sandbox, op = what, error = %e, "sandbox storage failed");
        ERR_IO
    })
}
