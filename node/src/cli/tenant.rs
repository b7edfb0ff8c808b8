//! `nexus tenant create | ls | rm`.

use clap::Subcommand;

use super::output::print_json;
use crate::client::NodeClient;
use nexus_errors::UserError;

/// Tenant commands.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its API key (shown once).
    Create {
        /// Tenant name: 1-63 characters from a-z, 0-9, '-' and '_'.
        name: String,
    },
    /// List tenants.
    Ls,
    /// Remove a tenant and its keys (refused while it owns sandboxes,
    /// unless --force, which removes them too).
    Rm {
        /// Tenant name or id.
        tenant: String,
        /// Also remove its sandboxes (their records and files).
        #[arg(long)]
        force: bool,
    },
}

/// Runs a tenant command.
pub async fn run(client: &NodeClient, cmd: TenantCommand, json: bool) -> Result<i32, UserError> {
    match cmd {
        TenantCommand::Create { name } => {
            let created = client.create_tenant(&name).await?;
            if json {
                print_json(&created);
            } else {
                println!("tenant {} ({})", created.tenant.name, created.tenant.id);
                println!("api key: {}", created.api_key);
                println!("(store it now: it is not shown again)");
            }
        }
        TenantCommand::Ls => {
            let list = client.tenants().await?;
            if json {
                print_json(&list);
            } else {
                println!("{:<22} NAME", "ID");
                for tenant in list.tenants {
                    println!("{:<22} {}", tenant.id, tenant.name);
                }
            }
        }
        TenantCommand::Rm { tenant, force } => {
            let removed = client.remove_tenant(&tenant, force).await?;
            if json {
                print_json(&removed);
            } else {
                println!(
                    "removed tenant {} ({}): {} sandbox(es), {} key(s)",
                    removed.name,
                    removed.id,
                    removed.sandboxes.len(),
                    removed.keys
                );
            }
        }
    }
    Ok(0)
}
