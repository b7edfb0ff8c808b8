//! Three Raft nodes in one process over the in-memory network: a write
//! through the leader is applied on every node.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use nexus_raft::replication::{
    raft_config, NodeId, NodeInfo, Outcome, Proposal, Raft, Request, StateMachine, Timing,
};
use nexus_raft::{Command, RegistryError, Response};
use tempfile::TempDir;

use super::memnet::Router;

const TIMEOUT: Duration = Duration::from_secs(10);

struct Node {
    raft: Raft,
    sm: StateMachine,
    _dir: TempDir,
}

fn info(id: NodeId) -> NodeInfo {
    NodeInfo {
        raft_addr: format!("127.0.0.1:{}", 7000 + id),
        api_addr: format!("127.0.0.1:{}", 2026 + id),
        bulk_addr: format!("127.0.0.1:{}", 7100 + id),
        wg_pubkey: None,
    }
}

async fn start(id: NodeId, router: &Router) -> Node {
    let dir = TempDir::new().unwrap();
    let (log, sm) = super::open_stores(dir.path());
    let config = Arc::new(raft_config("test", Timing::fast()).unwrap());
    let raft = Raft::new(id, config, router.clone(), log, sm.clone())
        .await
        .unwrap();
    router.add(id, raft.clone());
    Node {
        raft,
        sm,
        _dir: dir,
    }
}

fn create_tenant(tenant_id: &str, name: &str) -> Command {
    Command::CreateTenant {
        tenant_id: tenant_id.to_owned(),
        name: name.to_owned(),
        at_ms: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate_a_write_through_the_leader() {
    let router = Router::default();
    let mut nodes = BTreeMap::new();
    for id in 1..=3 {
        nodes.insert(id, start(id, &router).await);
    }
    let members: BTreeMap<NodeId, NodeInfo> = (1..=3).map(|id| (id, info(id))).collect();
    nodes[&1].raft.initialize(members).await.unwrap();

    let leader = nodes[&1]
        .raft
        .wait(Some(TIMEOUT))
        .metrics(|m| m.current_leader.is_some(), "a leader is elected")
        .await
        .unwrap()
        .current_leader
        .unwrap();
    let leader = &nodes[&leader].raft;

    let request = Request::idempotent("req-1", create_tenant("t1", "acme"));
    let written = leader.client_write(request.clone().into()).await.unwrap();
    let Outcome::Applied(Response::TenantCreated(tenant)) = written.data.clone() else {
        panic!("unexpected outcome {:?}", written.data);
    };
    assert_eq!(tenant.name, "acme");

    // A retry with the same key returns the recorded outcome, applied once.
    let retried = leader.client_write(request.clone().into()).await.unwrap();
    assert_eq!(retried.data, written.data);

    // A batch: each request applied in order with its own outcome, the
    // retry inside it deduplicated like any other.
    let batch = Proposal::Batch {
        batch: vec![
            request,
            Request::idempotent("req-3", create_tenant("t3", "globex")),
            Request::idempotent("req-4", create_tenant("t4", "globex")),
        ],
    };
    let batched = leader.client_write(batch).await.unwrap();
    let Outcome::Batch(outcomes) = batched.data else {
        panic!("unexpected outcome {:?}", batched.data);
    };
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[0], written.data);
    assert!(matches!(
        &outcomes[1],
        Outcome::Applied(Response::TenantCreated(t)) if t.name == "globex"
    ));
    assert!(matches!(
        outcomes[2].clone().into_result(),
        Err(RegistryError::TenantExists { .. })
    ));

    // Without a key, the duplicate is a deterministic refusal.
    let refused = leader
        .client_write(Request::new(create_tenant("t2", "acme")).into())
        .await
        .unwrap();
    assert!(matches!(
        refused.data.clone().into_result(),
        Err(RegistryError::TenantExists { .. })
    ));

    let last = refused.log_id.index;
    for (id, node) in &nodes {
        node.raft
            .wait(Some(TIMEOUT))
            .applied_index_at_least(Some(last), "write applied")
            .await
            .unwrap_or_else(|e| panic!("node {id}: {e}"));
        let registry = node.sm.registry();
        let registry = registry.lock().unwrap();
        let found = registry.tenant_by_name("acme").unwrap();
        assert_eq!(found.as_ref(), Some(&tenant), "node {id}");
        assert_eq!(registry.tenants().unwrap().len(), 2, "node {id}");
    }

    for node in nodes.values() {
        node.raft.shutdown().await.unwrap();
    }
}
