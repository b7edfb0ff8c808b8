//! The Rust example workbooks built by scripts/setup.sh: `notes` (vfs) runs
//! through a real node and its notes land in the workbook file; the
//! `wordcount` kernel runs through the engine's kernel shape. (`fetch` and
//! `greeter` have their own suites: net_broker.rs and serve.rs.)

use crate::common;

use common::{built_example, call_args, dock_built, TestNode};
use nexus_engine::{Engine, Profile};
use sha2::{Digest, Sha256};

#[tokio::test]
async fn notes_keeps_its_notes_in_the_workspace_volume() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let id = dock_built(&admin, &built_example("notes"), node.data_dir.path(), None).await;
    for (args, want) in [
        (vec!["add", "buy", "milk"], "saved note 1\n"),
        (vec!["add", "call Ada"], "saved note 2\n"),
        (vec!["list"], "0001.txt: buy milk\n0002.txt: call Ada\n"),
    ] {
        let out = call_args(&admin, &id, &args).await.expect("call");
        assert_eq!((out.exit_code, out.stdout.as_str()), (0, want), "{args:?}");
    }
    admin
        .transit(&id, nexus_node::sandbox::Verb::Suspend, None)
        .await
        .expect("suspend");
    let file = node
        .data_dir
        .path()
        .join("sandboxes")
        .join(format!("{id}.workbook"));
    let files = common::volume_contents(&file);
    assert!(files.contains(&(
        "workspace".to_string(),
        "notes/0002.txt".to_string(),
        b"call Ada".to_vec()
    )));
    let out = call_args(&admin, &id, &["clear"]).await.expect("clear");
    assert_eq!(out.stdout, "removed 2 notes\n");
    let out = call_args(&admin, &id, &["bogus"]).await.expect("usage");
    assert_eq!(out.exit_code, 2);
}

#[tokio::test]
async fn wordcount_is_a_reusable_kernel() {
    let dir = built_example("wordcount");
    let wasm = std::fs::read(dir.join("wordcount.wasm")).expect("wordcount.wasm");
    let engine = Engine::new().expect("engine");
    let module = engine
        .compile(&hex::encode(Sha256::digest(&wasm)), &wasm)
        .expect("compile");
    let kernel = engine
        .kernel(&module, &Profile::compute())
        .await
        .expect("kernel");
    for (input, want) in [
        (&b"one two three\nfour\n"[..], "2 4 19"),
        (b"", "0 0 0"),
        (b"  spaced   out  ", "0 2 16"),
    ] {
        let out = kernel.call(input).await.expect("call");
        assert_eq!(String::from_utf8_lossy(&out), want);
    }
    assert_eq!(kernel.instantiations(), 1, "one instance served every call");
}
