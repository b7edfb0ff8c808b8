//! Join tokens: stored hashed, redeemed under expiry, use and revocation
//! checks, each refusal leaving the registry unchanged; node ids never reused;
//! the nodes that hold the CA key.

use nexus_raft::{
    CaHolder, Command, JoinedNode, NodeRole, Registry, RegistryError, Response, RevokedNode,
    TokenCommand, TokenRefusal, TOKENS_KEPT_AFTER_EXPIRY_MS,
};
use tempfile::TempDir;

use super::{fresh, API_KEYS_V3};

const HASH: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const OTHER_HASH: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn create(reg: &mut Registry, id: &str, uses: u32, expires_at_ms: u64) {
    create_at(reg, id, uses, expires_at_ms, 1_000);
}

fn create_at(reg: &mut Registry, id: &str, uses: u32, expires_at_ms: u64, at_ms: u64) {
    let cmd = Command::JoinToken(TokenCommand::Create {
        token_id: id.into(),
        secret_hash: HASH.into(),
        role: NodeRole::Voter,
        expires_at_ms,
        uses,
        at_ms,
    });
    assert!(matches!(reg.apply(&cmd), Ok(Response::JoinTokenCreated(_))));
}

#[test]
fn minting_removes_tokens_expired_long_before_and_keeps_the_rest() {
    let mut reg = fresh();
    let keep = TOKENS_KEPT_AFTER_EXPIRY_MS;
    create_at(&mut reg, "old", 1, 10_000, 1_000);
    create_at(&mut reg, "recent", 1, 20_000, 1_000);
    create_at(&mut reg, "live", 1, 10_000 + 2 * keep, 1_000);
    // Minted just over the retention after "old" expired: "old" goes.
    create_at(&mut reg, "new", 1, 30_000 + keep, 10_001 + keep);
    let mut ids: Vec<String> = reg
        .join_tokens()
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["live", "new", "recent"]);
    assert_eq!(
        refusal(redeem(&mut reg, "old", HASH, 4, 10_001 + keep)),
        TokenRefusal::NotFound {
            token_id: "old".into()
        },
        "a removed token is unknown"
    );
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
        raft_addr: format!("10.0.0.{min_node_id}:7000"),
        api_addr: format!("10.0.0.{min_node_id}:2026"),
        bulk_addr: format!("10.0.0.{min_node_id}:7001"),
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
        conn.execute_batch(API_KEYS_V3).unwrap();
        conn.execute_batch(
            "DROP TABLE join_tokens; DROP TABLE nodes; DROP TABLE revoked_nodes; \
             UPDATE meta SET value = '1' WHERE key = 'schema_version';",
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
    assert!(reg.joined_nodes().unwrap().is_empty());
}

#[test]
fn a_version_2_registry_gains_the_node_tables_and_keeps_its_tokens() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("registry.db");
    {
        let mut reg = Registry::open(&path).unwrap();
        create(&mut reg, "tok", 1, 10_000);
    }
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(API_KEYS_V3).unwrap();
        conn.execute_batch(
            "DROP TABLE nodes; DROP TABLE revoked_nodes; \
             UPDATE meta SET value = '2' WHERE key = 'schema_version';",
        )
        .unwrap();
    }
    let mut reg = Registry::open(&path).unwrap();
    assert_eq!(
        reg.schema_version().unwrap(),
        nexus_raft::registry::SCHEMA_VERSION
    );
    assert_eq!(uses_left(&reg, "tok"), 1);
    redeem(&mut reg, "tok", HASH, 2, 2_000).unwrap();
    assert_eq!(reg.joined_nodes().unwrap()[0].id, 2);
}

#[test]
fn a_redeemed_token_records_the_joiner_and_a_refused_one_records_nothing() {
    let mut reg = fresh();
    create(&mut reg, "tok", 1, 10_000);
    assert!(matches!(
        reg.check_join_token("tok", OTHER_HASH, 2_000),
        Err(RegistryError::JoinToken(
            TokenRefusal::SecretMismatch { .. }
        ))
    ));
    assert_eq!(
        reg.check_join_token("tok", HASH, 2_000).unwrap(),
        NodeRole::Voter
    );
    assert_eq!(uses_left(&reg, "tok"), 1, "checking spends nothing");

    refusal(redeem(&mut reg, "tok", OTHER_HASH, 3, 2_000));
    assert!(reg.joined_nodes().unwrap().is_empty());

    redeem(&mut reg, "tok", HASH, 3, 2_500).unwrap();
    assert_eq!(
        reg.joined_nodes().unwrap(),
        vec![JoinedNode {
            id: 3,
            role: NodeRole::Voter,
            raft_addr: "10.0.0.3:7000".into(),
            api_addr: "10.0.0.3:2026".into(),
            bulk_addr: "10.0.0.3:7001".into(),
            joined_at_ms: 2_500,
        }]
    );
}

#[test]
fn removing_a_node_puts_it_on_the_revocation_list_once() {
    let mut reg = fresh();
    for at_ms in [7_000, 9_000] {
        let removed = reg.apply(&Command::RemoveNode { node_id: 3, at_ms });
        assert_eq!(removed.unwrap(), Response::NodeRemoved { node_id: 3 });
    }
    assert_eq!(
        reg.revoked_nodes().unwrap(),
        vec![RevokedNode {
            id: 3,
            revoked_at_ms: 7_000
        }]
    );
}

#[test]
fn ca_holders_are_recorded_once_dropped_on_request_and_never_once_removed() {
    let mut reg = fresh();
    let set = |reg: &mut Registry, node_id, holds, at_ms| {
        reg.apply(&Command::SetCaHolder {
            node_id,
            holds,
            at_ms,
        })
        .unwrap()
    };
    assert_eq!(
        set(&mut reg, 1, true, 1_000),
        Response::CaHolderSet {
            node_id: 1,
            holds: true
        }
    );
    set(&mut reg, 1, true, 2_000);
    set(&mut reg, 2, true, 3_000);
    assert_eq!(
        reg.ca_holders().unwrap(),
        vec![
            CaHolder {
                id: 1,
                since_ms: 1_000
            },
            CaHolder {
                id: 2,
                since_ms: 3_000
            }
        ]
    );
    set(&mut reg, 1, false, 4_000);
    assert_eq!(reg.ca_holders().unwrap().len(), 1);

    // A removed node stops being a holder and cannot become one again.
    reg.apply(&Command::RemoveNode {
        node_id: 2,
        at_ms: 5_000,
    })
    .unwrap();
    assert!(reg.ca_holders().unwrap().is_empty());
    assert_eq!(
        set(&mut reg, 2, true, 6_000),
        Response::CaHolderSet {
            node_id: 2,
            holds: false
        }
    );
    assert!(reg.ca_holders().unwrap().is_empty());
}
