//! The Rust example workbooks built by scripts/setup.sh: `notes` (vfs) runs
//! through a real node and its notes land in the workbook file; the
//! `wordcount` kernel runs through the engine's kernel shape. (`fetch` and
//! `greeter` have their own suites: net_broker.rs and serve.rs.) `markdown`
//! runs comrak, an unmodified crates.io tool, over its workspace.

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

#[tokio::test]
async fn markdown_runs_an_unmodified_crates_io_tool_over_its_workspace() {
    let dir = common::repo_root().join("examples/markdown");
    assert!(
        dir.join("comrak.wasm").exists(),
        "comrak.wasm is missing: run scripts/setup.sh (it builds comrak for wasm32-wasip1)"
    );
    let node = TestNode::start().await;
    let admin = node.admin();
    let id = dock_built(&admin, &dir, node.data_dir.path(), None).await;
    let out = call_args(&admin, &id, &["/workspace/notes/intro.md"])
        .await
        .expect("call");
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("<h1>Field notes</h1>\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("<strong>unmodified</strong>"),
        "{}",
        out.stdout
    );
    // GFM extensions by flag, written into the workspace with -o.
    let out = call_args(
        &admin,
        &id,
        &[
            "--gfm",
            "/workspace/notes/intro.md",
            "-o",
            "/workspace/intro.html",
        ],
    )
    .await
    .expect("call");
    assert_eq!(
        (out.exit_code, out.stdout.as_str()),
        (0, ""),
        "{}",
        out.stderr
    );
    let live = node
        .data_dir
        .path()
        .join(format!("sandboxes/{id}.workbook"));
    let html = common::volume_contents(&live)
        .into_iter()
        .find(|(volume, path, _)| volume == "workspace" && path == "intro.html")
        .map(|(_, _, data)| String::from_utf8(data).expect("utf-8"))
        .expect("intro.html written back");
    assert!(
        html.contains("<table>") && html.contains("checkbox"),
        "{html}"
    );
    // A missing input is the tool's own error, through its exit code.
    let out = call_args(&admin, &id, &["/workspace/notes/missing.md"])
        .await
        .expect("call");
    assert_ne!(out.exit_code, 0);
    assert!(!out.stderr.is_empty());
}
