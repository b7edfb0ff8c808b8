//! Join tokens: stored hashed, redeemed under expiry, use and revocation
//! checks, each refusal leaving the registry unchanged; node ids never reused.

use nexus_raft::{
    Command, NodeRole, Registry, RegistryError, Response, TokenCommand, TokenRefusal,
};
use tempfile::TempDir;

use super::fresh;

const HASH: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const OTHER_HASH: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn create(reg: &mut Registry, id: &str, uses: u32, expires_at_ms: u64) {
    let cmd = Command::JoinToken(TokenCommand::Create {
        token_id: id.into(),
        secret_hash: HASH.into(),
        role: NodeRole::Voter,
        expires_at_ms,
        uses,
        at_ms: 1_000,
    });
    assert!(matches!(reg.apply(&cmd), Ok(Response::JoinTokenCreated(_))));
}

fn redeem(
    reg: &mut Registry,
    id: &str,
    hash: &str,
    min_node_id: u64,
    at_ms: u64,
) -> Result<Response, RegistryError> {
    reg.apply(&Command::JoinToken(TokenCommand::Redeem {
        token_id: id.into(),
        secret_hash: hash.into(),
        min_node_id,
        at_ms,
    }))
}

fn refusal(result: Result<Response, RegistryError>) -> TokenRefusal {
    match result {
        Err(RegistryError::JoinToken(refusal)) => refusal,
        other => panic!("expected a token refusal, got {other:?}"),
    }
}

fn uses_left(reg: &Registry, id: &str) -> u32 {
    let tokens = reg.join_tokens().unwrap();
    tokens.iter().find(|t| t.id == id).unwrap().uses_left
}

#[test]
fn a_token_allows_its_uses_then_is_used_up_and_ids_are_never_reused() {
    let mut reg = fresh();
    create(&mut reg, "tok", 2, 10_000);
    let listed = reg.join_tokens().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].uses_left, listed[0].revoked), (2, false));

    let first = redeem(&mut reg, "tok", HASH, 4, 2_000).unwrap();
    assert_eq!(
        first,
        Response::JoinTokenRedeemed {
            node_id: 4,
            role: NodeRole::Voter
        }
    );
    // A smaller minimum never hands out an id again.
    let second = redeem(&mut reg, "tok", HASH, 1, 2_000).unwrap();
    assert!(matches!(
        second,
        Response::JoinTokenRedeemed { node_id: 5, .. }
    ));
    assert_eq!(
        refusal(redeem(&mut reg, "tok", HASH, 1, 2_000)),
        TokenRefusal::UsedUp {
            token_id: "tok".into()
        }
    );
    assert_eq!(uses_left(&reg, "tok"), 0);
}

#[test]
fn wrong_secret_expired_revoked_and_unknown_tokens_are_refused_changing_nothing() {
    let mut reg = fresh();
    create(&mut reg, "tok", 3, 10_000);

    assert_eq!(
        refusal(redeem(&mut reg, "tok", OTHER_HASH, 1, 2_000)),
        TokenRefusal::SecretMismatch {
            token_id: "tok".into()
        }
    );
    assert_eq!(
        refusal(redeem(&mut reg, "tok", HASH, 1, 10_000)),
        TokenRefusal::Expired {
            token_id: "tok".into(),
            expires_at_ms: 10_000
        }
    );
    assert_eq!(
        refusal(redeem(&mut reg, "ghost", HASH, 1, 2_000)),
        TokenRefusal::NotFound {
            token_id: "ghost".into()
        }
    );
    assert_eq!(uses_left(&reg, "tok"), 3);

    let revoked = reg.apply(&Command::JoinToken(TokenCommand::Revoke {
        token_id: "tok".into(),
    }));
    assert!(matches!(revoked, Ok(Response::JoinTokenRevoked { .. })));
    assert_eq!(
        refusal(redeem(&mut reg, "tok", HASH, 1, 2_000)),
        TokenRefusal::Revoked {
            token_id: "tok".into()
        }
    );
    assert_eq!(uses_left(&reg, "tok"), 3);
    assert!(reg.join_tokens().unwrap()[0].revoked);
}

#[test]
fn a_taken_token_id_is_refused() {
    let mut reg = fresh();
    create(&mut reg, "tok", 1, 10_000);
    let again = reg.apply(&Command::JoinToken(TokenCommand::Create {
        token_id: "tok".into(),
        secret_hash: OTHER_HASH.into(),
        role: NodeRole::Learner,
        expires_at_ms: 5,
        uses: 9,
        at_ms: 2,
    }));
    assert_eq!(
        refusal(again),
        TokenRefusal::Exists {
            token_id: "tok".into()
        }
    );
}

#[test]
fn a_version_1_registry_gains_the_token_table_on_open() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("registry.db");
    drop(Registry::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE join_tokens; UPDATE meta SET value = '1' WHERE key = 'schema_version';",
        )
        .unwrap();
    }
    let mut reg = Registry::open(&path).unwrap();
    assert_eq!(
        reg.schema_version().unwrap(),
        nexus_raft::registry::SCHEMA_VERSION
    );
    create(&mut reg, "tok", 1, 10_000);
    assert_eq!(reg.join_tokens().unwrap().len(), 1);
}
