//! Real TLS handshakes over loopback TCP (tokio + tokio-rustls): mTLS between nodes, policy
//! refusals, and the join bootstrap with a pinned CA fingerprint.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use nexus_tls::ca::NODE_CERT_VALIDITY;
use nexus_tls::{
    bootstrap_client_config, join_server_config, peer_node_id, server_name_for, ClusterCa,
    NodeIdentity, StaticPolicy, TlsMaterial, ALPN_BULK, ALPN_GRPC,
};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

const LIMIT: Duration = Duration::from_secs(10);

/// What the server side saw: the peer's node id (if any) and how many bytes of application
/// data it read; or the handshake error.
type ServerSide = Result<(Option<u64>, usize), String>;
/// What the client side saw: the server's node id after a full request/response round trip.
type ClientSide = Result<Option<u64>, String>;

/// Runs one connection: the client sends "ping", the server answers "pong".
async fn exchange(
    server: ServerConfig,
    client: ClientConfig,
    name: ServerName<'static>,
) -> (ServerSide, ClientSide) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(server));
    let server_task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
        let peer = peer_node_id(tls.get_ref().1.peer_certificates());
        let mut buf = [0u8; 4];
        let mut read = 0;
        while read < buf.len() {
            match tls.read(&mut buf[read..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
        if &buf[..read] == b"ping" {
            tls.write_all(b"pong").await.map_err(|e| e.to_string())?;
            tls.shutdown().await.ok();
        }
        Ok((peer, read))
    });
    let client_side = async {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let connector = TlsConnector::from(Arc::new(client));
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let peer = peer_node_id(tls.get_ref().1.peer_certificates());
        tls.write_all(b"ping").await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        assert_eq!(&buf, b"pong");
        Ok(peer)
    };
    let client_result = tokio::time::timeout(LIMIT, client_side)
        .await
        .expect("client timed out");
    let server_result = tokio::time::timeout(LIMIT, server_task)
        .await
        .expect("server timed out")
        .unwrap();
    (server_result, client_result)
}

struct Cluster {
    ca: ClusterCa,
    policy: Arc<StaticPolicy>,
}

impl Cluster {
    fn new(members: &[u64]) -> Cluster {
        nexus_tls::install_crypto_provider();
        Cluster {
            ca: ClusterCa::create("test").unwrap(),
            policy: Arc::new(StaticPolicy::allowing(members.iter().copied())),
        }
    }

    fn node(&self, id: u64) -> (NodeIdentity, TlsMaterial) {
        let identity = self
            .ca
            .issue_local_identity(id, &[], NODE_CERT_VALIDITY)
            .unwrap();
        let material = TlsMaterial::new(&identity, self.policy.clone()).unwrap();
        (identity, material)
    }
}

fn roots(ca_der: &[u8]) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(ca_der.to_vec())).unwrap();
    Arc::new(roots)
}

/// A client that trusts `ca_der` for the server but presents `identity` (maybe from another CA).
fn client_with_cert(ca_der: &[u8], identity: Option<&NodeIdentity>) -> ClientConfig {
    let builder = ClientConfig::builder_with_provider(nexus_tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots(ca_der));
    let mut config = match identity {
        Some(id) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(id.cert_der.clone())],
                id.key.private_key_der(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![ALPN_GRPC.to_vec()];
    config
}

#[tokio::test]
async fn mtls_both_ways_learns_peer_node_ids() {
    let cluster = Cluster::new(&[1, 2]);
    let (_, n1) = cluster.node(1);
    let (_, n2) = cluster.node(2);
    for alpn in [ALPN_GRPC, ALPN_BULK] {
        let (server, client) = exchange(
            n1.server_config(alpn).unwrap(),
            n2.client_config(alpn).unwrap(),
            server_name_for(1),
        )
        .await;
        assert_eq!(server.unwrap(), (Some(2), 4));
        assert_eq!(client.unwrap(), Some(1));
        // And the other direction.
        let (server, client) = exchange(
            n2.server_config(alpn).unwrap(),
            n1.client_config(alpn).unwrap(),
            server_name_for(2),
        )
        .await;
        assert_eq!(server.unwrap(), (Some(1), 4));
        assert_eq!(client.unwrap(), Some(2));
    }
}

#[tokio::test]
async fn ca_reloaded_from_disk_still_issues_trusted_certs() {
    let cluster = Cluster::new(&[1, 2]);
    let dir = tempfile::tempdir().unwrap();
    cluster.ca.save(dir.path()).unwrap();
    let reloaded = ClusterCa::load(dir.path()).unwrap();
    let (_, n1) = cluster.node(1);
    let id2 = reloaded
        .issue_local_identity(2, &[], NODE_CERT_VALIDITY)
        .unwrap();
    let n2 = TlsMaterial::new(&id2, cluster.policy.clone()).unwrap();
    let (server, client) = exchange(
        n1.server_config(ALPN_GRPC).unwrap(),
        n2.client_config(ALPN_GRPC).unwrap(),
        server_name_for(1),
    )
    .await;
    assert_eq!(server.unwrap(), (Some(2), 4));
    assert_eq!(client.unwrap(), Some(1));
}

#[tokio::test]
async fn client_without_cert_is_refused() {
    let cluster = Cluster::new(&[1]);
    let (id1, n1) = cluster.node(1);
    let (server, client) = exchange(
        n1.server_config(ALPN_GRPC).unwrap(),
        client_with_cert(&id1.ca_der, None),
        server_name_for(1),
    )
    .await;
    assert!(
        server.is_err(),
        "server accepted a cert-less client: {server:?}"
    );
    assert!(client.is_err());
}

#[tokio::test]
async fn client_with_cert_from_another_ca_is_refused() {
    let cluster = Cluster::new(&[1, 2]);
    let (id1, n1) = cluster.node(1);
    // Same node id, same policy, but another CA.
    let rogue = Cluster::new(&[1, 2]);
    let (rogue2, _) = rogue.node(2);
    let (server, client) = exchange(
        n1.server_config(ALPN_GRPC).unwrap(),
        client_with_cert(&id1.ca_der, Some(&rogue2)),
        server_name_for(1),
    )
    .await;
    let err = server.unwrap_err();
    // Same CA subject name, other key: webpki finds the "issuer" and the signature fails.
    assert!(
        err.contains("BadSignature") || err.contains("UnknownIssuer"),
        "{err}"
    );
    assert!(client.is_err());
}

#[tokio::test]
async fn server_from_another_ca_or_wrong_name_is_refused() {
    let cluster = Cluster::new(&[1, 2, 3]);
    let (_, n1) = cluster.node(1);
    let (_, n2) = cluster.node(2);
    // Dialing n3 but reaching n1: the name check fails on the client.
    let (server, client) = exchange(
        n1.server_config(ALPN_GRPC).unwrap(),
        n2.client_config(ALPN_GRPC).unwrap(),
        server_name_for(3),
    )
    .await;
    let err = client.unwrap_err();
    assert!(err.contains("not valid for name"), "{err}");
    assert!(server.is_err());
    // A server of another cluster.
    let rogue = Cluster::new(&[1, 2]);
    let (_, r1) = rogue.node(1);
    let (server, client) = exchange(
        r1.server_config(ALPN_GRPC).unwrap(),
        n2.client_config(ALPN_GRPC).unwrap(),
        server_name_for(1),
    )
    .await;
    assert!(client.is_err());
    assert!(server.is_err());
}

#[tokio::test]
async fn revoked_node_is_refused_on_next_handshake() {
    let cluster = Cluster::new(&[1, 2]);
    let (_, n1) = cluster.node(1);
    let (_, n2) = cluster.node(2);
    let server_config = n1.server_config(ALPN_GRPC).unwrap();
    let client_config = n2.client_config(ALPN_GRPC).unwrap();
    let (server, _) = exchange(
        server_config.clone(),
        client_config.clone(),
        server_name_for(1),
    )
    .await;
    assert_eq!(server.unwrap(), (Some(2), 4));

    cluster.policy.revoke(2);
    // Same config objects: the verifier consults the policy on every handshake.
    let (server, client) = exchange(server_config, client_config, server_name_for(1)).await;
    let err = server.unwrap_err();
    assert!(err.contains("NotAllowed(2)"), "{err}");
    assert!(client.is_err());

    // A revoked *server* is refused by the client too.
    let (server, client) = exchange(
        n1.server_config(ALPN_GRPC).unwrap(),
        n1.client_config(ALPN_GRPC).unwrap(),
        server_name_for(1),
    )
    .await;
    assert_eq!(server.unwrap(), (Some(1), 4));
    assert_eq!(client.unwrap(), Some(1), "node 1 is still allowed");
    cluster.policy.revoke(1);
    let (_, n3_client) = {
        cluster.policy.allow(3);
        cluster.node(3)
    };
    let (_, client) = exchange(
        n1.server_config(ALPN_GRPC).unwrap(),
        n3_client.client_config(ALPN_GRPC).unwrap(),
        server_name_for(1),
    )
    .await;
    let err = client.unwrap_err();
    assert!(err.contains("NotAllowed(1)"), "{err}");
}

#[tokio::test]
async fn non_member_is_refused() {
    let cluster = Cluster::new(&[1]);
    let (_, n1) = cluster.node(1);
    let (_, n9) = cluster.node(9); // signed by the CA, but not in the membership
    let (server, _) = exchange(
        n1.server_config(ALPN_GRPC).unwrap(),
        n9.client_config(ALPN_GRPC).unwrap(),
        server_name_for(1),
    )
    .await;
    let err = server.unwrap_err();
    assert!(err.contains("NotAllowed(9)"), "{err}");
}

#[tokio::test]
async fn bootstrap_with_right_fingerprint_joins_without_client_cert() {
    let cluster = Cluster::new(&[1]);
    let (_, n1) = cluster.node(1);
    let (server, client) = exchange(
        join_server_config(&n1, ALPN_GRPC).unwrap(),
        bootstrap_client_config(&cluster.ca.fingerprint(), ALPN_GRPC).unwrap(),
        server_name_for(0),
    )
    .await;
    assert_eq!(server.unwrap(), (None, 4), "joiner presents no certificate");
    assert_eq!(client.unwrap(), Some(1));
    // Uppercase fingerprints pin too.
    let (_, client) = exchange(
        join_server_config(&n1, ALPN_GRPC).unwrap(),
        bootstrap_client_config(&cluster.ca.fingerprint().to_uppercase(), ALPN_GRPC).unwrap(),
        server_name_for(0),
    )
    .await;
    assert_eq!(client.unwrap(), Some(1));
}

#[tokio::test]
async fn bootstrap_with_wrong_fingerprint_is_refused_before_any_data() {
    let cluster = Cluster::new(&[1]);
    let (_, n1) = cluster.node(1);
    let other = ClusterCa::create("other").unwrap();
    let (server, client) = exchange(
        join_server_config(&n1, ALPN_GRPC).unwrap(),
        bootstrap_client_config(&other.fingerprint(), ALPN_GRPC).unwrap(),
        server_name_for(0),
    )
    .await;
    let err = client.unwrap_err();
    assert!(err.contains("FingerprintMismatch"), "{err}");
    // The server never got application data: either the handshake failed or it read 0 bytes.
    match server {
        Err(_) => {}
        Ok((_, read)) => assert_eq!(read, 0, "server read application data"),
    }
    assert!(bootstrap_client_config("abcd", ALPN_GRPC).is_err());
}

#[tokio::test]
async fn join_server_still_checks_presented_certificates() {
    let cluster = Cluster::new(&[1, 2]);
    let (_, n1) = cluster.node(1);
    let (_, n2) = cluster.node(2);
    let (server, client) = exchange(
        join_server_config(&n1, ALPN_GRPC).unwrap(),
        n2.client_config(ALPN_GRPC).unwrap(),
        server_name_for(1),
    )
    .await;
    assert_eq!(server.unwrap(), (Some(2), 4));
    assert_eq!(client.unwrap(), Some(1));
    cluster.policy.revoke(2);
    let (server, _) = exchange(
        join_server_config(&n1, ALPN_GRPC).unwrap(),
        n2.client_config(ALPN_GRPC).unwrap(),
        server_name_for(1),
    )
    .await;
    let err = server.unwrap_err();
    assert!(err.contains("NotAllowed(2)"), "{err}");
}

#[tokio::test]
async fn rotation_swaps_the_served_certificate() {
    let cluster = Cluster::new(&[1, 2]);
    let (id1, n1) = cluster.node(1);
    let (_, n2) = cluster.node(2);
    let server_config = n1.server_config(ALPN_GRPC).unwrap();
    let renewed = cluster
        .ca
        .issue_local_identity(1, &[], NODE_CERT_VALIDITY)
        .unwrap();
    assert_ne!(renewed.cert_der, id1.cert_der);
    n1.rotate(&renewed).unwrap();
    let listener_side = exchange(
        server_config,
        n2.client_config(ALPN_GRPC).unwrap(),
        server_name_for(1),
    );
    let (server, client) = listener_side.await;
    assert_eq!(server.unwrap(), (Some(2), 4));
    assert_eq!(client.unwrap(), Some(1));
    let other = Cluster::new(&[1]);
    let (foreign, _) = other.node(1);
    assert!(n1.rotate(&foreign).is_err());
}
