//! Property tests of the deterministic apply: random sequences of registry
//! commands (tenants with and without a first key, keys, docks, removals,
//! lifecycle hops with current and stale generations, join tokens, node
//! removals, key revocations, last-use reports, tenant removals) applied
//! to two fresh registries give identical results and
//! identical databases; a refused command leaves the database as it was;
//! and the same log applied through the Raft state machine, with a snapshot
//! built part-way and installed on a fresh state machine, ends the same.

use std::path::{Path, PathBuf};

use nexus_raft::replication::{Outcome, Refusal, Request, StateMachine, TypeConfig};
use nexus_raft::{
    hash_api_key, Command, KeyUse, NodeRole, Registry, Role, SandboxState, TokenCommand,
};
use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use openraft::testing::log_id;
use openraft::{Entry, EntryPayload};
use proptest::prelude::*;
use proptest::sample::Index;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use tempfile::TempDir;

/// Tenant names: three valid, one refused by the naming rule.
const NAMES: &[&str] = &["n0", "n1", "n2", "Bad"];
/// Sandbox names: three valid, one refused.
const SB_NAMES: &[&str] = &["a", "b", "c", ".."];
/// Key names: none (named after the id), two valid, one refused.
const KEY_NAMES: &[Option<&str>] = &[None, Some("ci"), Some("ops"), Some("Bad")];
/// Join-token secret hashes.
const SECRETS: &[&str] = &[
    "1111111111111111111111111111111111111111111111111111111111111111",
    "2222222222222222222222222222222222222222222222222222222222222222",
];
const TENANTS: usize = 3;
const KEYS: usize = 4;
const SANDBOXES: usize = 3;
const TOKENS: usize = 3;

/// One generated write, over small id spaces so collisions are frequent.
/// Indices pick among ids, or among existing records where noted; those
/// are read from the registry when the op is resolved into a command.
#[derive(Debug, Clone)]
enum Op {
    Tenant {
        tenant: usize,
        name: usize,
        /// `Some((key id, secret, admin))`: `CreateTenantWithKey`.
        key: Option<(usize, usize, bool)>,
    },
    Key {
        key: usize,
        tenant: usize,
        secret: usize,
        admin: bool,
    },
    Dock {
        sandbox: usize,
        /// Picks among the tenants that exist (`existing`) or among all ids.
        tenant: usize,
        existing: bool,
        name: usize,
    },
    Remove {
        sandbox: usize,
        foreign: bool,
    },
    Transition {
        sandbox: usize,
        foreign: bool,
        /// Picks the target among the states the lifecycle allows next
        /// (`legal`) or among all states.
        to: usize,
        legal: bool,
        /// `None`: the current generation; `Some(d)`: `d` off from it.
        stale: Option<u64>,
    },
    TokenCreate {
        token: usize,
        secret: usize,
        learner: bool,
        uses: u32,
        ttl_ms: u64,
    },
    TokenRevoke {
        token: usize,
    },
    TokenRedeem {
        token: usize,
        secret: usize,
        min_node_id: u64,
    },
    RemoveNode {
        node: u64,
    },
    SetCaHolder {
        node: u64,
        holds: bool,
    },
    RevokeKey {
        key: usize,
    },
    Touch {
        keys: Vec<(usize, u64)>,
    },
    RemoveTenant {
        tenant: usize,
        force: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let key = prop::option::of((0..KEYS, 0..KEYS, any::<bool>()));
    let foreign = prop::bool::weighted(0.15);
    prop_oneof![
        3 => (0..TENANTS, 0..NAMES.len(), key)
            .prop_map(|(tenant, name, key)| Op::Tenant { tenant, name, key }),
        1 => (0..KEYS, 0..TENANTS, 0..KEYS, any::<bool>())
            .prop_map(|(key, tenant, secret, admin)| Op::Key { key, tenant, secret, admin }),
        4 => (0..SANDBOXES, 0..TENANTS, prop::bool::weighted(0.8), 0..SB_NAMES.len())
            .prop_map(|(sandbox, tenant, existing, name)| Op::Dock { sandbox, tenant, existing, name }),
        1 => (0..SANDBOXES, foreign)
            .prop_map(|(sandbox, foreign)| Op::Remove { sandbox, foreign }),
        6 => (0..SANDBOXES, foreign, 0..SandboxState::ALL.len(), prop::bool::weighted(0.7), prop::option::weighted(0.2, 1..3u64))
            .prop_map(|(sandbox, foreign, to, legal, stale)| {
                Op::Transition { sandbox, foreign, to, legal, stale }
            }),
        2 => (0..TOKENS, 0..SECRETS.len(), any::<bool>(), 0..3u32, 0..200u64)
            .prop_map(|(token, secret, learner, uses, ttl_ms)| {
                Op::TokenCreate { token, secret, learner, uses, ttl_ms }
            }),
        1 => (0..TOKENS).prop_map(|token| Op::TokenRevoke { token }),
        2 => (0..TOKENS, 0..SECRETS.len(), 0..8u64)
            .prop_map(|(token, secret, min_node_id)| Op::TokenRedeem { token, secret, min_node_id }),
        1 => (0..6u64).prop_map(|node| Op::RemoveNode { node }),
        1 => (0..6u64, any::<bool>()).prop_map(|(node, holds)| Op::SetCaHolder { node, holds }),
        2 => (0..KEYS).prop_map(|key| Op::RevokeKey { key }),
        1 => prop::collection::vec((0..KEYS + 1, 0..500u64), 0..4)
            .prop_map(|keys| Op::Touch { keys }),
        1 => (0..TENANTS, any::<bool>())
            .prop_map(|(tenant, force)| Op::RemoveTenant { tenant, force }),
    ]
}

/// Turns `op`, the `i`-th write, into a command, reading `reg` for the
/// owner and generation of the sandbox it names.
fn resolve(op: &Op, reg: &Registry, i: u64) -> Command {
    let at_ms = i * 10;
    let sandbox_id = |s: usize| format!("s{s}");
    // A sandbox op names one of the sandboxes that exist (by index), or a
    // ghost id while there are none; the tenant is the owner's (or, when
    // `foreign`, another one's). Returns (sandbox id, tenant id, current
    // generation, current state).
    let target = |sandbox: usize, foreign: bool| {
        let all = reg.all_sandboxes().expect("all sandboxes");
        let Some(found) = all.get(sandbox % all.len().max(1)) else {
            let id = sandbox_id(sandbox);
            return (id, format!("t{sandbox}"), 0, SandboxState::Created);
        };
        let tenant_id = match foreign {
            true => format!("{}-other", found.tenant_id),
            false => found.tenant_id.clone(),
        };
        (found.id.clone(), tenant_id, found.generation, found.state)
    };
    match *op {
        Op::Tenant { tenant, name, key } => match key {
            None => Command::CreateTenant {
                tenant_id: format!("t{tenant}"),
                name: NAMES[name].into(),
                at_ms,
            },
            Some((key, secret, admin)) => Command::CreateTenantWithKey {
                tenant_id: format!("t{tenant}"),
                name: NAMES[name].into(),
                key_id: format!("k{key}"),
                key_hash: hash_api_key(&format!("secret-{secret}")),
                role: if admin { Role::Admin } else { Role::Tenant },
                at_ms,
                key_name: None,
            },
        },
        Op::Key {
            key,
            tenant,
            secret,
            admin,
        } => Command::CreateApiKey {
            key_id: format!("k{key}"),
            tenant_id: format!("t{tenant}"),
            key_hash: hash_api_key(&format!("secret-{secret}")),
            role: if admin { Role::Admin } else { Role::Tenant },
            at_ms,
            // Some nameless (an earlier version's entry: named after the id),
            // some sharing a name, one breaking the naming rule.
            name: KEY_NAMES[(key + secret) % KEY_NAMES.len()].map(str::to_owned),
        },
        Op::Dock {
            sandbox,
            tenant,
            existing,
            name,
        } => Command::DockSandbox {
            sandbox_id: sandbox_id(sandbox),
            tenant_id: match reg.tenants().expect("tenants").as_slice() {
                tenants @ [_, ..] if existing => tenants[tenant % tenants.len()].id.clone(),
                _ => format!("t{tenant}"),
            },
            name: SB_NAMES[name].into(),
            profile: "compute".into(),
            workbook_sha256: "0f".repeat(32),
            home_node: 1,
            at_ms,
            replication_factor: None,
            durability: None,
        },
        Op::Remove { sandbox, foreign } => {
            let (sandbox_id, tenant_id, _, _) = target(sandbox, foreign);
            Command::RemoveSandbox {
                sandbox_id,
                tenant_id,
            }
        }
        Op::Transition {
            sandbox,
            foreign,
            to,
            legal,
            stale,
        } => {
            let (sandbox_id, tenant_id, current, state) = target(sandbox, foreign);
            let next = state.allowed_next();
            let to = match legal && !next.is_empty() {
                true => next[to % next.len()],
                false => SandboxState::ALL[to],
            };
            let expected_generation = match stale {
                None => current,
                Some(d) if current >= d => current - d,
                Some(d) => current + d,
            };
            Command::Transition {
                sandbox_id,
                tenant_id,
                to,
                expected_generation,
                at_ms,
            }
        }
        Op::TokenCreate {
            token,
            secret,
            learner,
            uses,
            ttl_ms,
        } => Command::JoinToken(TokenCommand::Create {
            token_id: format!("j{token}"),
            secret_hash: SECRETS[secret].into(),
            role: if learner {
                NodeRole::Learner
            } else {
                NodeRole::Voter
            },
            expires_at_ms: at_ms + ttl_ms,
            uses,
            at_ms,
        }),
        Op::TokenRevoke { token } => Command::JoinToken(TokenCommand::Revoke {
            token_id: format!("j{token}"),
        }),
        Op::TokenRedeem {
            token,
            secret,
            min_node_id,
        } => Command::JoinToken(TokenCommand::Redeem {
            token_id: format!("j{token}"),
            secret_hash: SECRETS[secret].into(),
            min_node_id,
            at_ms,
            raft_addr: format!("127.0.0.1:{}", 7000 + i),
            api_addr: format!("127.0.0.1:{}", 8000 + i),
            bulk_addr: format!("127.0.0.1:{}", 7000 + i),
        }),
        Op::RemoveNode { node } => Command::RemoveNode {
            node_id: node,
            at_ms,
        },
        Op::SetCaHolder { node, holds } => Command::SetCaHolder {
            node_id: node,
            holds,
            at_ms,
        },
        Op::RevokeKey { key } => Command::RevokeApiKey {
            key_id: format!("k{key}"),
            at_ms,
        },
        Op::Touch { ref keys } => Command::TouchApiKeys {
            uses: keys
                .iter()
                .map(|&(key, at)| KeyUse {
                    key_id: format!("k{key}"),
                    at_ms: at,
                })
                .collect(),
        },
        Op::RemoveTenant { tenant, force } => Command::RemoveTenant {
            tenant_id: format!("t{tenant}"),
            force,
        },
    }
}

/// A read-only connection to a registry database, for [`dump`].
fn reader(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open reader")
}

/// Every row of every registry table, in primary-key order (the Raft state
/// machine's own `raft_*` tables left out).
fn dump(conn: &Connection) -> Vec<(String, Vec<Vec<Value>>)> {
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' \
             AND name NOT LIKE 'raft\\_%' ESCAPE '\\' ORDER BY name",
        )
        .expect("prepare");
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .expect("tables")
        .collect::<Result<_, _>>()
        .expect("table names");
    tables
        .into_iter()
        .map(|table| {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
                .expect("prepare");
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
                .expect("rows")
                .collect::<Result<_, _>>()
                .expect("values");
            (table, rows)
        })
        .collect()
}

/// A registry's verdict in the form the Raft state machine reports it.
fn outcome(reg: &mut Registry, cmd: &Command) -> Outcome {
    match reg.apply(cmd) {
        Ok(response) => Outcome::Applied(response),
        Err(err) => Outcome::Refused(Refusal::try_from(err).expect("a refusal, not a failure")),
    }
}

fn entries(cmds: &[Command], first_index: u64) -> Vec<Entry<TypeConfig>> {
    cmds.iter()
        .zip(first_index..)
        .map(|(cmd, index)| Entry {
            log_id: log_id(1, 1, index),
            payload: EntryPayload::Normal(Request::new(cmd.clone()).into()),
        })
        .collect()
}

/// Applies `cmds[..split]` to a state machine in one batch, moves its state
/// to a fresh state machine by snapshot, applies the rest there one by one.
/// Returns every outcome and the second state machine's database path.
fn through_snapshot(dir: &Path, cmds: &[Command], split: usize) -> (Vec<Outcome>, PathBuf) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut first = StateMachine::open(&dir.join("sm1.db"), &dir.join("snap1")).expect("sm1");
        let mut outcomes = first
            .apply(entries(&cmds[..split], 1))
            .await
            .expect("apply batch");
        let snapshot = first
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .expect("build snapshot");
        let path = dir.join("sm2.db");
        let mut second = StateMachine::open(&path, &dir.join("snap2")).expect("sm2");
        second
            .install_snapshot(&snapshot.meta, snapshot.snapshot)
            .await
            .expect("install snapshot");
        for entry in entries(&cmds[split..], split as u64 + 1) {
            outcomes.extend(second.apply([entry]).await.expect("apply"));
        }
        (outcomes, path)
    })
}

/// A temp dir in memory (`/dev/shm`) where the machine has one: this test
/// compares contents, not durability, and every commit's fsync would
/// otherwise take most of its time.
fn scratch_dir() -> TempDir {
    let shm = Path::new("/dev/shm");
    match shm.is_dir() {
        true => TempDir::new_in(shm),
        false => TempDir::new(),
    }
    .expect("temp dir")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn replicas_agree_and_refusals_leave_no_trace(
        ops in prop::collection::vec(op(), 1..64),
        split in any::<Index>(),
    ) {
        let dir = scratch_dir();
        let (path_a, path_b) = (dir.path().join("a.db"), dir.path().join("b.db"));
        let mut a = Registry::open(&path_a).expect("open a");
        let mut b = Registry::open(&path_b).expect("open b");
        let (read_a, read_b) = (reader(&path_a), reader(&path_b));
        let mut cmds = Vec::with_capacity(ops.len());
        let mut outcomes = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let cmd = resolve(op, &a, i as u64);
            let before = dump(&read_a);
            let got = outcome(&mut a, &cmd);
            prop_assert_eq!(&outcome(&mut b, &cmd), &got, "{:?}", cmd);
            let after = dump(&read_a);
            if matches!(got, Outcome::Refused(_)) {
                prop_assert_eq!(&after, &before, "refused {:?} left a trace", cmd);
            }
            prop_assert_eq!(&dump(&read_b), &after, "after {:?}", cmd);
            cmds.push(cmd);
            outcomes.push(got);
        }

        let split = split.index(cmds.len() + 1);
        let (replayed, path) = through_snapshot(dir.path(), &cmds, split);
        prop_assert_eq!(&replayed, &outcomes, "snapshot after {} commands", split);
        prop_assert_eq!(dump(&reader(&path)), dump(&read_a), "snapshot after {} commands", split);
    }
}
