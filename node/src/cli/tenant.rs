//! `nexus tenant create | ls`.

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
    }
    Ok(0)
}
