//! `nexus token create | ls | revoke`: join tokens (admin key needed).

use clap::Subcommand;

use super::output::{print_json, relative_time};
use crate::api::types::CreateJoinToken;
use crate::client::NodeClient;
use crate::clock::now_ms;
use nexus_errors::{ErrorCode, UserError};

/// Join-token commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a join token and print it (shown once).
    Create {
        /// Lifetime: a number with s, m, h or d (e.g. 90s, 30m, 1h, 7d).
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// How many nodes may join with it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// What a joining node becomes: voter or learner.
        #[arg(long, default_value = "voter")]
        role: String,
    },
    /// List tokens (never their secrets).
    Ls,
    /// Revoke a token by id.
    Revoke {
        /// Token id (the third part of the token string).
        id: String,
    },
}

/// Runs a token command.
pub async fn run(client: &NodeClient, cmd: TokenCommand, json: bool) -> Result<i32, UserError> {
    match cmd {
        TokenCommand::Create { ttl, uses, role } => {
            let request = CreateJoinToken {
                ttl_secs: Some(parse_ttl(&ttl)?),
                uses: Some(uses),
                role: Some(parse_role(&role)?),
            };
            let created = client.create_join_token(&request).await?;
            if json {
                print_json(&created);
            } else {
                println!("{}", created.token);
                let info = &created.info;
                eprintln!(
                    "token {} ({}, {} use(s), expires {}); store it now: it is not shown again",
                    info.id,
                    info.role.as_str(),
                    info.uses_left,
                    relative_time(info.expires_at_ms, now_ms())
                );
            }
        }
        TokenCommand::Ls => {
            let list = client.join_tokens().await?;
            if json {
                print_json(&list);
            } else {
                println!(
                    "{:<18} {:<8} {:>5} {:<8} EXPIRES",
                    "ID", "ROLE", "USES", "REVOKED"
                );
                for t in list.tokens {
                    println!(
                        "{:<18} {:<8} {:>5} {:<8} {}",
                        t.id,
                        t.role.as_str(),
                        t.uses_left,
                        t.revoked,
                        relative_time(t.expires_at_ms, now_ms())
                    );
                }
            }
        }
        TokenCommand::Revoke { id } => {
            let revoked = client.revoke_join_token(&id).await?;
            if json {
                print_json(&revoked);
            } else {
                println!("revoked {}", revoked.id);
            }
        }
    }
    Ok(0)
}

/// `90s`, `30m`, `1h`, `7d` → seconds.
pub(super) fn parse_ttl(ttl: &str) -> Result<u64, UserError> {
    let invalid = || {
        UserError::new(
            ErrorCode::RequestInvalid,
            format!("--ttl {ttl:?} is not a duration like 90s, 30m, 1h or 7d"),
        )
    };
    let split = ttl.len().checked_sub(1).ok_or_else(invalid)?;
    let (number, unit) = ttl.split_at(split);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(invalid()),
    };
    match number.checked_mul(scale) {
        Some(0) | None => Err(invalid()),
        Some(secs) => Ok(secs),
    }
}

pub(super) fn parse_role(role: &str) -> Result<nexus_raft::NodeRole, UserError> {
    match role {
        "voter" => Ok(nexus_raft::NodeRole::Voter),
        "learner" => Ok(nexus_raft::NodeRole::Learner),
        other => Err(UserError::new(
            ErrorCode::RequestInvalid,
            format!("--role {other:?} must be voter or learner"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_ttl("90s").unwrap(), 90);
        assert_eq!(parse_ttl("30m").unwrap(), 1800);
        assert_eq!(parse_ttl("1h").unwrap(), 3600);
        assert_eq!(parse_ttl("7d").unwrap(), 604_800);
        for bad in ["", "h", "1", "0h", "1w", "-1h", "1.5h"] {
            assert_eq!(parse_ttl(bad).unwrap_err().code, "REQUEST_INVALID", "{bad}");
        }
    }
}
