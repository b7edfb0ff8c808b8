//! Three Raft nodes in one process, talking over real tonic + mTLS on
//! loopback: writes through any node, idempotent retries, linearizable
//! reads, a peer from another CA refused, and joins forwarded by members
//! only.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nexus_raft::replication::{
    raft_config, LogStore, NodeId, NodeInfo, Outcome, Raft, Request, StateMachine, Timing,
};
use nexus_raft::{Command, Response};
use nexus_tls::{
    bootstrap_client_config, join_server_config, ClusterCa, NodeKey, StaticPolicy, TlsMaterial,
    ALPN_GRPC, ALPN_JOIN,
};
use nexus_transport::join::{request_join, JoinDialError};
use nexus_transport::messages::{JoinMsg, JoinRefusal, JoinReply};
use nexus_transport::proto::raft_service_client::RaftServiceClient;
use nexus_transport::server::{Admission, JoinEndpoint, PeerEndpoint};
use nexus_transport::{
    Channels, ForwardError, Gateway, JoinForwarder, LeaderWatch, Network, PeerContact, Proposer,
    WatchTiming,
};
use tempfile::TempDir;
use tokio::sync::oneshot;

const WAIT: Duration = Duration::from_secs(15);

struct TestNode {
    id: NodeId,
    raft: Raft,
    addr: String,
    policy: Arc<StaticPolicy>,
    joins: Arc<CountingAdmission>,
    sm: StateMachine,
    gateway: Gateway,
    _stop: oneshot::Sender<()>,
    _dir: TempDir,
}

/// Counts join requests and refuses each with a test code; forwarded ones
/// are answered (naming the forwarder) unless `no_ca` is set.
#[derive(Default)]
struct CountingAdmission {
    seen: AtomicUsize,
    forwarded_by: Mutex<Vec<NodeId>>,
    no_ca: AtomicBool,
}

#[tonic::async_trait]
impl Admission for CountingAdmission {
    async fn admit(&self, request: JoinMsg) -> JoinReply {
        self.seen.fetch_add(1, Ordering::SeqCst);
        Err(JoinRefusal {
            code: "TEST_REFUSED".into(),
            message: format!("token {} seen", request.token_id),
            hint: String::new(),
        })
    }

    async fn admit_forwarded(&self, request: JoinMsg, via: NodeId) -> Option<JoinReply> {
        if self.no_ca.load(Ordering::SeqCst) {
            return None;
        }
        self.forwarded_by.lock().unwrap().push(via);
        Some(Err(JoinRefusal {
            code: "TEST_REFUSED".into(),
            message: format!("token {} forwarded by node {via}", request.token_id),
            hint: String::new(),
        }))
    }
}

fn material(ca: &ClusterCa, id: NodeId, members: &[NodeId]) -> (TlsMaterial, Arc<StaticPolicy>) {
    let loopback = [IpAddr::V4(Ipv4Addr::LOCALHOST)];
    let identity = ca
        .issue_local_identity(id, &loopback, Duration::from_secs(3600))
        .expect("issue identity");
    let policy = Arc::new(StaticPolicy::allowing(members.iter().copied()));
    let tls = TlsMaterial::new(&identity, policy.clone()).expect("tls material");
    (tls, policy)
}

async fn start(ca: &ClusterCa, id: NodeId, listener: tokio::net::TcpListener) -> TestNode {
    nexus_tls::install_crypto_provider();
    let dir = TempDir::new().unwrap();
    let log = LogStore::open(&dir.path().join("raft-log.db")).unwrap();
    let sm = StateMachine::open(
        &dir.path().join("registry.db"),
        &dir.path().join("snapshots"),
    )
    .unwrap();
    let (tls, policy) = material(ca, id, &[1, 2, 3]);
    let channels = Channels::new(id, None, Arc::new(tls.client_config(ALPN_GRPC).unwrap()));
    let config = Arc::new(raft_config("test", Timing::fast()).unwrap());
    let raft = Raft::new(
        id,
        config,
        Network::new(channels.clone(), PeerContact::new(Duration::from_secs(3))),
        log,
        sm.clone(),
    )
    .await
    .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let joins = Arc::new(CountingAdmission::default());
    let fast = Timing::fast();
    let watch = LeaderWatch::new(
        id,
        WatchTiming {
            heartbeat: fast.heartbeat,
            leader_timeout: Duration::from_secs(1),
            election_min: fast.election_min,
            election_max: fast.election_max,
        },
    );
    let proposer = Proposer::new(raft.clone());
    let endpoint = PeerEndpoint {
        proposer: proposer.clone(),
        watch: Arc::new(watch),
        liveness: Arc::default(),
        tls: Arc::new(tls.server_config(ALPN_GRPC).unwrap()),
        policy: policy.clone(),
        join: Some(JoinEndpoint {
            tls: Arc::new(join_server_config(&tls, ALPN_JOIN).unwrap()),
            admission: joins.clone(),
        }),
    };
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(nexus_transport::server::serve(listener, endpoint, async {
        let _ = stopped.await;
    }));
    let gateway = Gateway::new(proposer, channels, WAIT);
    TestNode {
        id,
        raft,
        addr,
        policy,
        joins,
        sm,
        gateway,
        _stop: stop,
        _dir: dir,
    }
}

async fn cluster(ca: &ClusterCa) -> (BTreeMap<NodeId, TestNode>, BTreeMap<NodeId, NodeInfo>) {
    let mut listeners = BTreeMap::new();
    let mut members = BTreeMap::new();
    for id in 1..=3 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        members.insert(
            id,
            NodeInfo {
                raft_addr: addr,
                ..NodeInfo::default()
            },
        );
        listeners.insert(id, listener);
    }
    let mut nodes = BTreeMap::new();
    for (id, listener) in listeners {
        nodes.insert(id, start(ca, id, listener).await);
    }
    nodes[&1].raft.initialize(members.clone()).await.unwrap();
    (nodes, members)
}

async fn leader_of(nodes: &BTreeMap<NodeId, TestNode>) -> NodeId {
    let metrics = nodes[&1]
        .raft
        .wait(Some(WAIT))
        .metrics(|m| m.current_leader.is_some(), "a leader is elected")
        .await
        .unwrap();
    metrics.current_leader.unwrap()
}

fn create_tenant(id: &str) -> Command {
    Command::CreateTenant {
        tenant_id: id.to_owned(),
        name: id.to_owned(),
        at_ms: 1,
    }
}

fn tenant_names(node: &TestNode) -> Vec<String> {
    let registry = node.sm.registry();
    let registry = registry.lock().unwrap();
    registry
        .tenants()
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_a_follower_is_forwarded_applied_once_and_read_everywhere() {
    let ca = ClusterCa::create("test").unwrap();
    let (nodes, _) = cluster(&ca).await;
    let leader = leader_of(&nodes).await;
    let follower = nodes.values().find(|n| n.id != leader).unwrap();

    let request = Request::idempotent("write-1", create_tenant("acme"));
    let first = follower.gateway.write(request.clone()).await.unwrap();
    let Outcome::Applied(Response::TenantCreated(tenant)) = &first.data else {
        panic!("unexpected outcome {:?}", first.data);
    };
    assert_eq!(tenant.name, "acme");

    // The same request again (a retry after a lost reply) answers the
    // recorded outcome and applies nothing.
    let retried = follower.gateway.write(request).await.unwrap();
    assert_eq!(retried.data, first.data);

    for node in nodes.values() {
        node.gateway.linearize().await.unwrap();
        assert_eq!(
            tenant_names(node),
            vec!["acme".to_owned()],
            "node {}",
            node.id
        );
    }
}

/// A founder's first write can reach Raft before its own election ends
/// (`nexus up` makes the admin key right after initializing): the gateway
/// holds it until a leader is known and commits it then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_sent_before_the_first_election_commits_once_it_ends() {
    let ca = ClusterCa::create("test").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let node = start(&ca, 1, listener).await;
    let member = NodeInfo {
        raft_addr: node.addr.clone(),
        ..NodeInfo::default()
    };
    let gateway = node.gateway.clone();
    let write = tokio::spawn(async move {
        gateway
            .write(Request::idempotent("first", create_tenant("acme")))
            .await
    });
    // Let it meet the leaderless node a few times.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(node.raft.metrics().borrow().current_leader.is_none());
    assert!(!write.is_finished());
    node.raft
        .initialize(BTreeMap::from([(1, member)]))
        .await
        .unwrap();

    let reply = write.await.unwrap().unwrap();
    let Outcome::Applied(Response::TenantCreated(tenant)) = &reply.data else {
        panic!("unexpected outcome {:?}", reply.data);
    };
    assert_eq!(tenant.name, "acme");
    assert_eq!(tenant_names(&node), vec!["acme".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_with_a_certificate_of_another_ca_is_refused() {
    let ca = ClusterCa::create("test").unwrap();
    let (nodes, members) = cluster(&ca).await;
    let leader = leader_of(&nodes).await;

    // Node id 2 as far as its certificate says, but signed by a stranger CA.
    let stranger = ClusterCa::create("other").unwrap();
    let (tls, _) = material(&stranger, 2, &[1, 2, 3]);
    let channel = nexus_transport::tls::dial(
        leader,
        &members[&leader].raft_addr,
        None,
        Arc::new(tls.client_config(ALPN_GRPC).unwrap()),
    )
    .unwrap();
    let mut client = RaftServiceClient::new(channel);
    let vote = openraft::raft::VoteRequest::new(openraft::Vote::new(99, 2), None);
    let status = client
        .vote(vote)
        .await
        .expect_err("stranger must be refused");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status}");

    // The cluster still commits.
    let written = nodes[&leader]
        .gateway
        .write(Request::new(create_tenant("after")))
        .await
        .unwrap();
    assert!(matches!(written.data, Outcome::Applied(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_connection_of_a_removed_node_is_refused_on_its_next_request() {
    let ca = ClusterCa::create("test").unwrap();
    let (nodes, _) = cluster(&ca).await;
    let leader = leader_of(&nodes).await;
    let outsider = nodes.keys().copied().find(|id| *id != leader).unwrap();

    // A client holding the outsider's certificate, on one kept connection.
    let (tls, _) = material(&ca, outsider, &[1, 2, 3]);
    let channel = nexus_transport::tls::dial(
        leader,
        &nodes[&leader].addr,
        None,
        Arc::new(tls.client_config(ALPN_GRPC).unwrap()),
    )
    .unwrap();
    let mut client = RaftServiceClient::new(channel);
    // A vote for an ancient term: answered (and refused by Raft), harmless.
    let stale_vote = || openraft::raft::VoteRequest::new(openraft::Vote::new(0, outsider), None);
    let answered = client.vote(stale_vote()).await.expect("a member is served");
    assert!(answered.into_inner().is_ok());

    nodes[&leader].policy.revoke(outsider);
    let status = client
        .vote(stale_vote())
        .await
        .expect_err("a removed node is refused on its live connection");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status}");
    assert_eq!(
        status.message(),
        format!("node {outsider} is not a member of this cluster or was removed")
    );
}

fn join_msg(ca_fingerprint: &str) -> JoinMsg {
    JoinMsg {
        ca_fingerprint: ca_fingerprint.to_owned(),
        token_id: "00112233aabbccdd".into(),
        secret: "ab".repeat(32),
        csr_der: NodeKey::generate().unwrap().csr().unwrap(),
        raft_addr: "127.0.0.1:1".into(),
        api_addr: "127.0.0.1:2".into(),
        bulk_addr: "127.0.0.1:1".into(),
        mesh: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_pinned_to_another_ca_sends_nothing_and_a_pinned_one_is_heard() {
    let ca = ClusterCa::create("test").unwrap();
    let (nodes, _) = cluster(&ca).await;
    let node = &nodes[&1];

    let stranger = ClusterCa::create("other").unwrap().fingerprint();
    let tls = bootstrap_client_config(&stranger, ALPN_JOIN).unwrap();
    let refused = request_join(&node.addr, tls, join_msg(&stranger)).await;
    assert!(
        matches!(refused, Err(JoinDialError::CaMismatch { .. })),
        "{refused:?}"
    );
    assert_eq!(
        node.joins.seen.load(Ordering::SeqCst),
        0,
        "the secret never left"
    );

    let pinned = ca.fingerprint();
    let tls = bootstrap_client_config(&pinned, ALPN_JOIN).unwrap();
    let reply = request_join(&node.addr, tls, join_msg(&pinned))
        .await
        .expect("the join endpoint answers");
    let refusal = reply.expect_err("the test admission refuses");
    assert_eq!(refusal.code, "TEST_REFUSED");
    assert_eq!(refusal.message, "token 00112233aabbccdd seen");
    assert_eq!(node.joins.seen.load(Ordering::SeqCst), 1);
}

/// A forwarder holding node `id`'s certificate of `ca`.
fn forwarder(ca: &ClusterCa, id: NodeId) -> JoinForwarder {
    let (tls, _) = material(ca, id, &[1, 2, 3]);
    let client = Arc::new(tls.client_config(ALPN_GRPC).unwrap());
    JoinForwarder::new(Channels::new(id, None, client))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_forwarded_by_a_member_reaches_the_holder_and_nothing_else_does() {
    let ca = ClusterCa::create("test").unwrap();
    let (nodes, _) = cluster(&ca).await;
    let holder = &nodes[&1];
    let wait = Duration::from_secs(5);
    let msg = || join_msg(&ca.fingerprint());

    // A member's forward is answered by the holder's admission, which
    // knows who forwarded it; the answer comes back unchanged.
    let reply = forwarder(&ca, 2)
        .forward(1, &holder.addr, msg(), wait)
        .await
        .expect("the holder answers a member");
    let refusal = reply.expect_err("the test admission refuses");
    assert_eq!(
        refusal.message,
        "token 00112233aabbccdd forwarded by node 2"
    );
    assert_eq!(*holder.joins.forwarded_by.lock().unwrap(), [2]);

    // A certificate of the cluster's CA for a node that is not a member is
    // refused (in the handshake) before the admission hears anything.
    let outsider = forwarder(&ca, 9)
        .forward(1, &holder.addr, msg(), wait)
        .await;
    assert!(
        matches!(&outsider, Err(ForwardError::Failed(_))),
        "{outsider:?}"
    );

    // A node without the CA key says so; nothing was admitted there.
    holder.joins.no_ca.store(true, Ordering::SeqCst);
    let no_key = forwarder(&ca, 2)
        .forward(1, &holder.addr, msg(), wait)
        .await;
    assert!(
        matches!(&no_key, Err(ForwardError::Failed(why)) if why.contains("does not hold the cluster CA key")),
        "{no_key:?}"
    );

    // A holder that is down fails at once, so the next may be tried.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = closed.local_addr().unwrap().to_string();
    drop(closed);
    let down = forwarder(&ca, 2).forward(3, &dead, msg(), wait).await;
    assert!(matches!(&down, Err(ForwardError::Failed(_))), "{down:?}");
    assert_eq!(*holder.joins.forwarded_by.lock().unwrap(), [2]);
    assert_eq!(holder.joins.seen.load(Ordering::SeqCst), 0);
}
