//! The data plane's QUIC endpoints on loopback with real certificates: a
//! member's stream is served, a node from another CA is refused at the
//! handshake, and a removed node is cut off — its open connection when it
//! next opens a stream, and every new connection.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use nexus_raft::replication::NodeId;
use nexus_tls::{ClusterCa, StaticPolicy, TlsMaterial};
use nexus_transport::bulk::{self, head, BulkEndpoint, PeerStream};
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Node `id` of `ca`'s cluster, allowing `members`, on a fresh UDP port.
fn endpoint(
    ca: &ClusterCa,
    id: NodeId,
    members: &[NodeId],
) -> (Arc<BulkEndpoint>, Arc<StaticPolicy>) {
    nexus_tls::install_crypto_provider();
    let identity = ca
        .issue_local_identity(id, &[LOOPBACK], Duration::from_secs(3600))
        .unwrap();
    let policy = Arc::new(StaticPolicy::allowing(members.iter().copied()));
    let tls = TlsMaterial::new(&identity, policy.clone()).unwrap();
    let socket = BulkEndpoint::bind_socket(SocketAddr::new(LOOPBACK, 0)).unwrap();
    let secret = identity.key.private_key_der().secret_der().to_vec();
    let bulk = BulkEndpoint::new(socket, &tls, policy.clone(), &secret).unwrap();
    (Arc::new(bulk), policy)
}

/// Serves `bulk`: every stream's head (a string) is answered with
/// `"{peer} said {head}"`.
fn serve_echo(bulk: Arc<BulkEndpoint>) -> oneshot::Sender<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = |mut stream: PeerStream| async move {
        let said: String = head::read(&mut stream.recv).await.unwrap();
        let answer = format!("{} said {said}", stream.peer);
        head::write(&mut stream.send, &answer).await.unwrap();
        stream.send.shutdown().await.unwrap();
    };
    tokio::spawn(bulk::serve(bulk, handle, async {
        let _ = stopped.await;
    }));
    stop
}

/// Opens a stream from `client` to node `target` on `server`, says `what`
/// and returns the answer.
async fn ask(
    client: &BulkEndpoint,
    target: NodeId,
    server: &BulkEndpoint,
    what: &str,
) -> Result<String, String> {
    let addr = server.local_addr().unwrap().to_string();
    let (mut send, mut recv) = client
        .open(target, &addr)
        .await
        .map_err(|e| e.to_string())?;
    head::write(&mut send, &what.to_owned())
        .await
        .map_err(|e| e.to_string())?;
    head::read::<String>(&mut recv)
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_talk_and_the_connection_is_reused() {
    let ca = ClusterCa::create("test").unwrap();
    let (one, _) = endpoint(&ca, 1, &[1, 2]);
    let (two, _) = endpoint(&ca, 2, &[1, 2]);
    let _stop = serve_echo(one.clone());
    for i in 0..5 {
        let answer = ask(&two, 1, &one, &format!("hello {i}")).await.unwrap();
        assert_eq!(answer, format!("2 said hello {i}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_of_another_cluster_is_refused() {
    let ca = ClusterCa::create("test").unwrap();
    let other = ClusterCa::create("other").unwrap();
    let (one, _) = endpoint(&ca, 1, &[1, 2]);
    let (stranger, _) = endpoint(&other, 2, &[1, 2]);
    let _stop = serve_echo(one.clone());
    let refused = ask(&stranger, 1, &one, "let me in").await.unwrap_err();
    assert!(refused.contains("cannot reach node 1"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_node_is_cut_off_on_its_next_stream_and_refused_after() {
    let ca = ClusterCa::create("test").unwrap();
    let (one, policy) = endpoint(&ca, 1, &[1, 2]);
    let (two, _) = endpoint(&ca, 2, &[1, 2]);
    let _stop = serve_echo(one.clone());
    assert_eq!(ask(&two, 1, &one, "before").await.unwrap(), "2 said before");

    // Node 2 is removed while its connection is open: its next stream is
    // not served and the connection is closed.
    assert!(policy.revoke(2));
    let cut = ask(&two, 1, &one, "after").await.unwrap_err();
    assert!(cut.contains("node removed"), "{cut}");
    // Every new connection is refused at the handshake: node 1 does not
    // accept node 2's certificate any more. (In TLS 1.3 the client learns
    // it on its first stream, not at connect.)
    let fresh = endpoint(&ca, 2, &[1, 2]).0;
    for client in [&two, &fresh] {
        let refused = ask(client, 1, &one, "again").await.unwrap_err();
        assert!(
            refused.contains("handshake failed") && refused.contains("NotAllowed(2)"),
            "{refused}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dialed_before_serving_carries_the_peers_streams_once_serving_starts() {
    let ca = ClusterCa::create("test").unwrap();
    let (one, _) = endpoint(&ca, 1, &[1, 2]);
    let (two, _) = endpoint(&ca, 2, &[1, 2]);
    let _stop_two = serve_echo(two.clone());
    // Node 1 reaches node 2 before it serves itself (a dial while it
    // starts): node 2 takes that connection as its way to node 1.
    assert_eq!(ask(&one, 2, &two, "early").await.unwrap(), "1 said early");
    let _stop_one = serve_echo(one.clone());
    // Node 2's next stream to node 1 goes over that connection. The bound
    // only turns a hang (the stream never taken) into a failure.
    let late = tokio::time::timeout(Duration::from_secs(30), ask(&two, 1, &one, "late"))
        .await
        .expect("node 1 never took node 2's stream on the connection it dialed first");
    assert_eq!(late.unwrap(), "2 said late");
}
