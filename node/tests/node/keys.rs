//! API keys and tenant removal on one node: keys are made, listed (never
//! their secrets) and revoked; a revoked key is refused with its own code;
//! a tenant key stays inside its tenant and cannot mint admin keys; the
//! last live admin key cannot be revoked, so rotation goes through a second
//! key; a tenant with sandboxes is removed only when forced, files and
//! keys with it; last use is reported; and the CLI does it all end to end.

use std::process::Output;

use nexus_node::api::types::CreateKey;
use nexus_node::client::NodeClient;
use nexus_raft::Role;

use crate::common::process::UpProcess;
use crate::common::{dock_wat, print_wat, TestNode};

fn key(name: &str, role: Option<Role>, tenant: Option<&str>) -> CreateKey {
    CreateKey {
        name: name.into(),
        role,
        tenant: tenant.map(str::to_owned),
    }
}

/// The names of the live keys `client` can see, in listing order.
async fn names(client: &NodeClient) -> Vec<String> {
    let list = client.keys().await.unwrap();
    list.keys
        .into_iter()
        .map(|k| format!("{}/{}", k.tenant, k.name))
        .collect()
}

#[tokio::test]
async fn keys_are_created_listed_and_revoked() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let acme = admin.create_tenant("acme").await.unwrap();
    let acme = node.client(Some(&acme.api_key));

    let ci = acme.create_key(&key("ci", None, None)).await.unwrap();
    assert_eq!(ci.key.name, "ci");
    assert_eq!(ci.key.role, Role::Tenant);
    assert_eq!(ci.key.tenant, "acme");
    assert!(ci.api_key.starts_with("nxk_"));
    let ci_client = node.client(Some(&ci.api_key));
    assert!(ci_client.sandboxes().await.unwrap().sandboxes.is_empty());

    assert_eq!(names(&acme).await, ["acme/initial", "acme/ci"]);
    assert_eq!(
        names(&admin).await,
        ["default/admin", "acme/initial", "acme/ci"]
    );
    // The listing never holds a secret or a hash.
    let raw = node.admin_get_text("/v1/keys").await;
    assert!(!raw.contains(&ci.api_key) && !raw.contains("nxk_"), "{raw}");
    assert!(
        !raw.contains(&nexus_raft::hash_api_key(&ci.api_key)),
        "{raw}"
    );

    let err = acme.create_key(&key("ci", None, None)).await.unwrap_err();
    assert_eq!(err.code, "KEY_NAME_TAKEN");
    let err = acme
        .create_key(&key("Bad Name", None, None))
        .await
        .unwrap_err();
    assert_eq!(err.code, "KEY_NAME_INVALID");

    // Revoke by name (within the caller's tenant); then by id is not found.
    let revoked = acme.revoke_key("ci", None).await.unwrap();
    assert_eq!(revoked.id, ci.key.id);
    let err = ci_client.sandboxes().await.unwrap_err();
    assert_eq!(err.code, "AUTH_KEY_REVOKED");
    assert_eq!(err.status(), 401);
    let err = acme.revoke_key(&ci.key.id, None).await.unwrap_err();
    assert_eq!(err.code, "KEY_NOT_FOUND");
    assert_eq!(names(&acme).await, ["acme/initial"]);
    // The name is free again.
    acme.create_key(&key("ci", None, None)).await.unwrap();
    node.stop().await;
}

#[tokio::test]
async fn a_tenant_key_stays_in_its_tenant() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let acme = node.client(Some(&admin.create_tenant("acme").await.unwrap().api_key));
    let beta = node.client(Some(&admin.create_tenant("beta").await.unwrap().api_key));

    let err = acme
        .create_key(&key("root", Some(Role::Admin), None))
        .await
        .unwrap_err();
    assert_eq!(err.code, "AUTH_FORBIDDEN");
    let err = acme
        .create_key(&key("sneaky", None, Some("beta")))
        .await
        .unwrap_err();
    assert_eq!(err.code, "AUTH_FORBIDDEN");
    // By name, a tenant key only finds its own tenant's keys; by id, another
    // tenant's key is not found either, and admin keys are out of reach.
    let beta_key = beta.create_key(&key("ci", None, None)).await.unwrap();
    let err = acme.revoke_key(&beta_key.key.id, None).await.unwrap_err();
    assert_eq!(err.code, "KEY_NOT_FOUND");
    let err = acme.revoke_key("ci", Some("beta")).await.unwrap_err();
    assert_eq!(err.code, "AUTH_FORBIDDEN");
    assert_eq!(names(&acme).await, ["acme/initial"]);
    let err = acme.remove_tenant("beta", true).await.unwrap_err();
    assert_eq!(err.code, "AUTH_FORBIDDEN");

    // An admin acts on any tenant, and may mint admin keys there.
    let made = admin
        .create_key(&key("deploy", Some(Role::Admin), Some("acme")))
        .await
        .unwrap();
    assert_eq!(
        (made.key.tenant.as_str(), made.key.role),
        ("acme", Role::Admin)
    );
    let err = acme.revoke_key("deploy", None).await.unwrap_err();
    assert_eq!(err.code, "AUTH_FORBIDDEN");
    admin.revoke_key("deploy", Some("acme")).await.unwrap();
    let err = admin
        .create_key(&key("x", None, Some("nobody")))
        .await
        .unwrap_err();
    assert_eq!(err.code, "TENANT_NOT_FOUND");
    node.stop().await;
}

#[tokio::test]
async fn the_last_admin_key_is_kept_and_rotation_works() {
    let node = TestNode::start().await;
    let old = node.admin();
    let err = old.revoke_key("admin", None).await.unwrap_err();
    assert_eq!(err.code, "KEY_LAST_ADMIN");
    assert_eq!(err.status(), 409);

    let new = old
        .create_key(&key("admin-2", Some(Role::Admin), None))
        .await
        .unwrap();
    let new = node.client(Some(&new.api_key));
    new.revoke_key("admin", None).await.unwrap();
    assert_eq!(old.tenants().await.unwrap_err().code, "AUTH_KEY_REVOKED");
    assert_eq!(new.tenants().await.unwrap().tenants.len(), 1);
    let err = new.revoke_key("admin-2", None).await.unwrap_err();
    assert_eq!(err.code, "KEY_LAST_ADMIN");
    // The default tenant holds the only admin key: it cannot be removed.
    let err = new.remove_tenant("default", false).await.unwrap_err();
    assert_eq!(err.code, "KEY_LAST_ADMIN");

    // A restart does not mint another admin key, and the revocation holds.
    let admin_key_file = std::fs::read_to_string(node.data_dir.path().join("admin.key")).unwrap();
    let node = node.restart().await;
    let admin_key_after = std::fs::read_to_string(node.data_dir.path().join("admin.key")).unwrap();
    assert_eq!(admin_key_file, admin_key_after);
    let err = node.admin().tenants().await.unwrap_err();
    assert_eq!(err.code, "AUTH_KEY_REVOKED");
    node.stop().await;
}

#[tokio::test]
async fn removing_a_tenant_with_sandboxes_needs_force() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let created = admin.create_tenant("acme").await.unwrap();
    let acme = node.client(Some(&created.api_key));
    let id = dock_wat(&acme, node.data_dir.path(), "box", &print_wat("hi\n")).await;
    let live = node
        .data_dir
        .path()
        .join(format!("sandboxes/{id}.workbook"));
    assert!(live.exists());

    let err = admin.remove_tenant("acme", false).await.unwrap_err();
    assert_eq!(err.code, "TENANT_HAS_SANDBOXES");
    assert_eq!(err.status(), 409);
    assert!(live.exists(), "a refused removal keeps the files");
    assert_eq!(acme.sandboxes().await.unwrap().sandboxes.len(), 1);

    let removed = admin.remove_tenant(&created.tenant.id, true).await.unwrap();
    assert_eq!(removed.name, "acme");
    assert_eq!(removed.sandboxes, std::slice::from_ref(&id));
    assert_eq!(removed.keys, 1);
    assert!(!live.exists(), "the home node deletes the files");
    assert_eq!(acme.sandboxes().await.unwrap_err().code, "AUTH_INVALID_KEY");
    let err = admin.remove_tenant("acme", true).await.unwrap_err();
    assert_eq!(err.code, "TENANT_NOT_FOUND");
    assert_eq!(
        admin.sandbox(&id).await.unwrap_err().code,
        "SANDBOX_NOT_FOUND"
    );
    // The name can be used again, and an empty tenant goes without force.
    admin.create_tenant("acme").await.unwrap();
    admin.remove_tenant("acme", false).await.unwrap();
    node.stop().await;
}

#[tokio::test]
async fn last_use_is_reported_in_a_batch_not_per_request() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let created = admin.create_tenant("acme").await.unwrap();
    let acme = node.client(Some(&created.api_key));
    acme.sandboxes().await.unwrap();
    // Not written per request: nothing is reported yet.
    let listed = acme.keys().await.unwrap();
    assert_eq!(listed.keys[0].last_used_at_ms, None);
    // A graceful stop reports the uses since the last report.
    let node = node.restart().await;
    let listed = node.admin().keys().await.unwrap();
    let initial = listed.keys.iter().find(|k| k.tenant == "acme").unwrap();
    let used = initial.last_used_at_ms.expect("reported at shutdown");
    assert!(
        used >= initial.created_at_ms,
        "{used} < {}",
        initial.created_at_ms
    );
    node.stop().await;
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn cli_key_and_tenant_round_trip() {
    let up = UpProcess::start();
    let made = up.nexus(&["key", "create", "ci"], None);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let human = text(&made.stdout);
    assert!(human.starts_with("key ci (key_"), "{human}");
    assert!(human.contains("api key: nxk_"), "{human}");

    let made = json(&up.nexus(&["key", "create", "ops", "--role", "admin", "--json"], None));
    let ops_key = made["api_key"].as_str().unwrap().to_owned();
    assert_eq!(made["key"]["role"], "admin");

    let listed = json(&up.nexus(&["key", "ls", "--json"], None));
    let names: Vec<&str> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "ci", "ops"]);
    let human = text(&up.nexus(&["key", "ls"], None).stdout);
    assert!(human.starts_with("ID "), "{human}");
    assert!(
        human.contains(" ops ") && human.contains("never"),
        "{human}"
    );

    let revoked = up.nexus(&["key", "revoke", "ci"], None);
    assert!(
        text(&revoked.stdout).starts_with("revoked ci (key_"),
        "{}{}",
        text(&revoked.stdout),
        text(&revoked.stderr)
    );
    // A key may revoke itself while another admin key is live.
    let itself = up.nexus(&["key", "revoke", "ops", "--key", &ops_key], None);
    assert!(itself.status.success(), "{}", text(&itself.stderr));
    let refused = up.nexus(&["key", "revoke", "admin"], None);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).starts_with("error[KEY_LAST_ADMIN]"),
        "{}",
        text(&refused.stderr)
    );
    let gone = up.nexus(&["sandbox", "ls", "--key", &ops_key], None);
    assert!(
        text(&gone.stderr).starts_with("error[AUTH_KEY_REVOKED]"),
        "{}",
        text(&gone.stderr)
    );

    json(&up.nexus(&["tenant", "create", "acme", "--json"], None));
    let removed = up.nexus(&["tenant", "rm", "acme"], None);
    assert!(
        text(&removed.stdout).starts_with("removed tenant acme (tn_"),
        "{}{}",
        text(&removed.stdout),
        text(&removed.stderr)
    );
    let again = up.nexus(&["tenant", "rm", "acme", "--json"], None);
    assert_eq!(again.status.code(), Some(1));
    let body: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(body["error"]["code"], "TENANT_NOT_FOUND");
}
