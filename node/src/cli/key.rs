//! `nexus key create | ls | revoke`: API keys.

use clap::Subcommand;

use super::output::{print_json, relative_time};
use crate::api::types::CreateKey;
use crate::client::NodeClient;
use crate::clock::now_ms;
use nexus_errors::{ErrorCode, UserError};
use nexus_raft::Role;

/// API key commands. A tenant key manages its own tenant's tenant keys; an
/// admin key manages every tenant's keys, admin keys included.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Make a key and print it (shown once).
    Create {
        /// Key name, unique among the tenant's live keys: 1-63 characters
        /// from a-z, 0-9, '-' and '_'.
        name: String,
        /// What the key may do: tenant or admin (admin needs an admin key).
        #[arg(long, default_value = "tenant")]
        role: String,
        /// The tenant (name or id) that gets the key; default: the caller's.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List live keys (never the keys themselves).
    Ls,
    /// Revoke a key by id, or by name within your tenant (or --tenant).
    Revoke {
        /// Key id (`key_…`) or name.
        #[arg(value_name = "ID|NAME")]
        target: String,
        /// The tenant whose key NAME names (admin key only).
        #[arg(long)]
        tenant: Option<String>,
    },
}

/// Runs a key command.
pub async fn run(client: &NodeClient, cmd: KeyCommand, json: bool) -> Result<i32, UserError> {
    match cmd {
        KeyCommand::Create { name, role, tenant } => {
            let request = CreateKey {
                name,
                role: Some(parse_role(&role)?),
                tenant,
            };
            let created = client.create_key(&request).await?;
            if json {
                print_json(&created);
            } else {
                let key = &created.key;
                println!(
                    "key {} ({}), role {}, tenant {}",
                    key.name, key.id, key.role, key.tenant
                );
                println!("api key: {}", created.api_key);
                println!("(store it now: it is not shown again)");
            }
        }
        KeyCommand::Ls => {
            let list = client.keys().await?;
            if json {
                print_json(&list);
            } else {
                println!(
                    "{:<20} {:<20} {:<7} {:<20} {:<14} LAST USED",
                    "ID", "NAME", "ROLE", "TENANT", "CREATED"
                );
                let now = now_ms();
                for k in list.keys {
                    let last = k
                        .last_used_at_ms
                        .map_or_else(|| "never".to_owned(), |t| relative_time(t, now));
                    println!(
                        "{:<20} {:<20} {:<7} {:<20} {:<14} {last}",
                        k.id,
                        k.name,
                        k.role,
                        k.tenant,
                        relative_time(k.created_at_ms, now)
                    );
                }
            }
        }
        KeyCommand::Revoke { target, tenant } => {
            let revoked = client.revoke_key(&target, tenant.as_deref()).await?;
            if json {
                print_json(&revoked);
            } else {
                println!("revoked {} ({})", revoked.name, revoked.id);
            }
        }
    }
    Ok(0)
}

fn parse_role(role: &str) -> Result<Role, UserError> {
    role.parse()
        .map_err(|e| UserError::new(ErrorCode::RequestInvalid, format!("--role: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_role("admin").unwrap(), Role::Admin);
        assert_eq!(parse_role("tenant").unwrap(), Role::Tenant);
        assert_eq!(parse_role("root").unwrap_err().code, "REQUEST_INVALID");
    }
}
