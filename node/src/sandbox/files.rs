//! Reading a sandbox's files from outside: one file of one volume, as the
//! sandbox's data holds it (the workbook file on its home).

use nexus_errors::{ErrorCode, UserError};
use nexus_workbook::Volume;

use super::{blocking, SandboxManager};

impl SandboxManager {
    /// The bytes of file `path` in `volume` of sandbox `sandbox_id` (resumed
    /// first if it was suspended or frozen, like a call).
    pub async fn read_file(
        &self,
        tenant_id: &str,
        sandbox_id: &str,
        volume: Volume,
        path: &str,
    ) -> Result<Vec<u8>, UserError> {
        let call = self.prepare(tenant_id, sandbox_id, None).await?;
        let data = call.context.data().clone();
        let (owned_path, id) = (path.to_owned(), sandbox_id.to_owned());
        let read = blocking(move || {
            data.read_file(volume, &owned_path).map_err(|e| {
                UserError::new(
                    ErrorCode::Internal,
                    format!("cannot read {volume}/{owned_path} of sandbox {id}: {e}"),
                )
            })
        })
        .await?;
        drop(call);
        read.ok_or_else(|| {
            UserError::new(
                ErrorCode::SandboxFileNotFound,
                format!("sandbox {sandbox_id} has no file {path} in its {volume} volume"),
            )
        })
    }
}
