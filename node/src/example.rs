//! `nexus up --example`: pack an example workbook, dock it in the default
//! tenant and call it once, so a newcomer sees a sandbox answer.

use std::path::Path;

use crate::api::AppState;
use crate::tenants::DEFAULT_TENANT;
use nexus_engine::CommandInput;
use nexus_errors::{Coded, ErrorCode, UserError};

/// Packs `dir`, (re)docks it as the default tenant's sandbox of the same
/// name, calls it with the argument "nexus" and prints what it wrote.
pub async fn dock_and_call(state: &AppState, data_dir: &Path, dir: &Path) -> Result<(), UserError> {
    let out = data_dir.join("example.workbook");
    let (dir_owned, out_owned) = (dir.to_path_buf(), out.clone());
    let inspection =
        tokio::task::spawn_blocking(move || nexus_workbook::pack(&dir_owned, &out_owned))
            .await
            .map_err(|e| UserError::new(ErrorCode::Internal, format!("pack task failed: {e}")))?
            .map_err(|e| e.to_user_error())?;
    let bytes = std::fs::read(&out).map_err(|e| {
        UserError::new(
            ErrorCode::Internal,
            format!("cannot read {}: {e}", out.display()),
        )
    })?;

    let tenant = state
        .registry
        .read(|r| r.tenant_by_name(DEFAULT_TENANT))?
        .ok_or_else(|| UserError::new(ErrorCode::Internal, "the default tenant is missing"))?;
    let manager = &state.manager;
    for old in manager.list(&tenant.id)? {
        if old.name == inspection.name {
            manager.remove(&tenant.id, &old.id).await?;
        }
    }
    let sandbox = manager.dock(&tenant.id, bytes, Default::default()).await?;
    let input = CommandInput {
        args: vec!["nexus".to_string()],
        stdin: Vec::new(),
        ..Default::default()
    };
    let output = manager.call(&tenant.id, &sandbox.id, input).await?;
    println!(
        "\nexample: docked {} as sandbox {} and called it:",
        dir.display(),
        sandbox.id
    );
    print!("{}", String::from_utf8_lossy(&output.stdout));
    println!("  again: nexus call {} -- world\n", sandbox.id);
    Ok(())
}
