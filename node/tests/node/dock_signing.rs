//! The `[dock]` signing policy through a real node: only workbooks validly
//! signed by a trusted signer dock; every refusal has its code and leaves
//! nothing behind (no sandbox, no staged file).

use crate::common;
use crate::signing;

use std::path::{Path, PathBuf};

use common::{print_wat, wat_workbook, TestNode};
use nexus_tls::SigningIdentity;
use nexus_workbook::Workbook;
use signing::flip_module_byte;

fn trusted() -> SigningIdentity {
    SigningIdentity::from_seed(&[1; 32])
}

async fn strict_node() -> TestNode {
    TestNode::start_with(|config| {
        config.dock.require_signature = true;
        config.dock.trusted_signers = vec![trusted().did_key()];
    })
    .await
}

/// A workbook in `dir`, signed by `signers`.
fn workbook(dir: &Path, signers: &[SigningIdentity]) -> PathBuf {
    let file = wat_workbook(dir, "app", &print_wat("hi\n"));
    let wb = Workbook::open(&file).expect("open");
    for signer in signers {
        wb.sign(signer).expect("sign");
    }
    wb.close().expect("close");
    file
}

/// Docks `file`; expects `code` and that nothing was kept. Returns the message.
async fn refused(node: &TestNode, file: &Path, code: &str) -> String {
    let client = node.admin();
    let bytes = std::fs::read(file).expect("read");
    let err = client.dock(bytes, None, None).await.expect_err("refused");
    assert_eq!(err.code, code, "{err}");
    let list = client.sandboxes().await.expect("list");
    assert!(list.sandboxes.is_empty(), "{:?}", list.sandboxes);
    let staging = node.data_dir.path().join("staging");
    let left: Vec<_> = std::fs::read_dir(staging).expect("staging").collect();
    assert!(left.is_empty(), "staged files left: {left:?}");
    err.message
}

#[tokio::test]
async fn trusted_signature_docks() {
    let node = strict_node().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let other = SigningIdentity::from_seed(&[2; 32]);
    let file = workbook(dir.path(), &[other, trusted()]);
    let bytes = std::fs::read(file).expect("read");
    let sandbox = node.admin().dock(bytes, None, None).await.expect("docks");
    assert_eq!(sandbox.name, "app");
    node.stop().await;
}

#[tokio::test]
async fn unsigned_is_refused() {
    let node = strict_node().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = workbook(dir.path(), &[]);
    let msg = refused(&node, &file, "WORKBOOK_UNSIGNED").await;
    assert!(msg.contains("not signed"), "{msg}");
    node.stop().await;
}

#[tokio::test]
async fn other_signer_is_refused_by_name() {
    let node = strict_node().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let other = SigningIdentity::from_seed(&[2; 32]);
    let did = other.did_key();
    let file = workbook(dir.path(), &[other]);
    let msg = refused(&node, &file, "WORKBOOK_SIGNER_UNTRUSTED").await;
    assert!(msg.contains(&did), "{msg}");
    node.stop().await;
}

#[tokio::test]
async fn tampered_module_is_refused() {
    let node = strict_node().await;
    for rehash in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = workbook(dir.path(), &[trusted()]);
        flip_module_byte(&file, "app", rehash);
        refused(&node, &file, "WORKBOOK_SIGNATURE_INVALID").await;
    }
    node.stop().await;
}

#[tokio::test]
async fn default_policy_docks_unsigned() {
    let node = TestNode::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = workbook(dir.path(), &[]);
    let bytes = std::fs::read(file).expect("read");
    node.admin().dock(bytes, None, None).await.expect("docks");
    node.stop().await;
}
