//! Join tokens over the API: minted pinned to the node's CA, listed without
//! secrets, revoked; admin only; each refusal with its code.

use crate::common;

use common::TestNode;
use nexus_node::api::types::CreateJoinToken;
use nexus_raft::NodeRole;
use nexus_tls::{JoinToken, NodeIdentity};

#[tokio::test]
async fn tokens_are_minted_pinned_to_the_cluster_ca_listed_and_revoked() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let request = CreateJoinToken {
        ttl_secs: Some(600),
        uses: Some(2),
        role: Some(NodeRole::Learner),
    };
    let created = admin.create_join_token(&request).await.unwrap();

    // The string carries the fingerprint of this node's cluster CA.
    let token = JoinToken::parse(&created.token).unwrap();
    let identity = NodeIdentity::load(&node.data_dir.path().join("tls")).unwrap();
    assert_eq!(token.ca_fingerprint, identity.ca_fingerprint());
    assert_eq!(token.id, created.info.id);
    assert_eq!(
        (
            created.info.role,
            created.info.uses_left,
            created.info.revoked
        ),
        (NodeRole::Learner, 2, false)
    );
    assert!(created.info.expires_at_ms >= created.info.created_at_ms + 600_000);

    // Listed without the secret, anywhere in the answer.
    let listed = admin.join_tokens().await.unwrap();
    assert_eq!(listed.tokens, vec![created.info.clone()]);
    let raw = serde_json::to_string(&listed).unwrap();
    assert!(!raw.contains(&token.secret));

    let revoked = admin.revoke_join_token(&token.id).await.unwrap();
    assert_eq!(revoked.id, token.id);
    assert!(admin.join_tokens().await.unwrap().tokens[0].revoked);

    let err = admin
        .revoke_join_token("0000000000000000")
        .await
        .unwrap_err();
    assert_eq!(err.code, "JOIN_TOKEN_NOT_FOUND", "{err}");
    let zero = CreateJoinToken {
        uses: Some(0),
        ..CreateJoinToken::default()
    };
    let err = admin.create_join_token(&zero).await.unwrap_err();
    assert_eq!(err.code, "REQUEST_INVALID", "{err}");
}

#[tokio::test]
async fn only_the_admin_key_manages_tokens() {
    let node = TestNode::start().await;
    let tenant = node.admin().create_tenant("acme").await.unwrap();
    let acme = node.client(Some(&tenant.api_key));
    let err = acme
        .create_join_token(&CreateJoinToken::default())
        .await
        .unwrap_err();
    assert_eq!(err.code, "AUTH_FORBIDDEN");
    assert_eq!(acme.join_tokens().await.unwrap_err().code, "AUTH_FORBIDDEN");
    assert!(node.admin().join_tokens().await.unwrap().tokens.is_empty());
}

/// A node certificate with neither the CA beside it nor a join record: the
/// trace of a join that did not finish. The node refuses to start rather
/// than run as a cluster of its own.
#[tokio::test]
async fn a_data_dir_with_a_certificate_but_no_ca_or_join_record_is_refused() {
    let data_dir = tempfile::tempdir().unwrap();
    nexus_tls::ClusterCa::create("elsewhere")
        .unwrap()
        .issue_local_identity(1, &[], nexus_tls::ca::CA_VALIDITY)
        .unwrap()
        .save(&data_dir.path().join("tls"))
        .unwrap();
    let config = nexus_node::config::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.path().to_path_buf(),
        ..nexus_node::config::Config::default()
    };
    let Err(err) = nexus_node::daemon::Node::start(config).await else {
        panic!("the node started alone on a half-joined data dir");
    };
    assert_eq!(err.code, "CLUSTER_JOIN_INCOMPLETE", "{err}");
    assert!(!data_dir.path().join("registry.db").exists());
}
