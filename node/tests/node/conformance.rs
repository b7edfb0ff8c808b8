//! The WASI conformance suite (node/tests/conformance): each program (Rust
//! or C), built for wasm32-wasip1, runs as a command on a real node with
//! its spec's args, environment and workspace tree; its exit code and stdout must be
//! the spec's. The table of results is printed (`--nocapture` shows it).

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::TestNode;
use nexus_node::api::types::CallRequest;
use nexus_workbook::{Volume, Workbook, DEFAULT_MODE};
use serde::Deserialize;

/// One `specs/NAME.json`: what the program gets and must give back.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    /// What the program checks, for the table.
    covers: String,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    /// Files placed in `/workspace` before the call: path → contents.
    tree: BTreeMap<String, String>,
    exit_code: i32,
    stdout: String,
}

fn suite_dir() -> PathBuf {
    common::repo_root().join("node/tests/conformance")
}

/// Every spec, by program name, sorted.
fn specs() -> Vec<(String, Spec)> {
    let mut specs: Vec<(String, Spec)> = std::fs::read_dir(suite_dir().join("specs"))
        .expect("specs")
        .map(|entry| {
            let path = entry.expect("spec entry").path();
            let name = path
                .file_stem()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).expect("read spec");
            let spec =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name, spec)
        })
        .collect();
    specs.sort_by(|a, b| a.0.cmp(&b.0));
    specs
}

/// The program's module, built by scripts/setup.sh into the guest target:
/// `release/` for the Rust programs, `c/` for the C ones (`c_*`).
fn program(name: &str) -> Vec<u8> {
    let kind = if name.starts_with("c_") {
        "c"
    } else {
        "release"
    };
    let wasm = common::repo_root().join(format!("guest/target/wasm32-wasip1/{kind}/{name}.wasm"));
    std::fs::read(&wasm).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (scripts/setup.sh builds the conformance programs)",
            wasm.display()
        )
    })
}

/// A workbook running `name` with `spec`'s tree in its workspace.
fn workbook(dir: &Path, name: &str, spec: &Spec) -> Vec<u8> {
    let path = dir.join(format!("{name}.workbook"));
    let workbook = Workbook::create(&path, name).expect("create");
    workbook.add_module(name, &program(name)).expect("module");
    for (file, contents) in &spec.tree {
        workbook
            .write_file(Volume::Workspace, file, contents.as_bytes(), DEFAULT_MODE)
            .expect("tree file");
    }
    workbook.close().expect("close");
    std::fs::read(path).expect("read workbook")
}

#[tokio::test]
async fn every_conformance_program_passes_through_the_command_shape() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let mut table = vec![
        "| program | result | covers |".to_string(),
        "|---|---|---|".to_string(),
    ];
    let mut failed = Vec::new();
    for (name, spec) in specs() {
        let bytes = workbook(node.data_dir.path(), &name, &spec);
        let id = admin.dock(bytes, None, None).await.expect("dock").id;
        let request = CallRequest {
            args: spec.args.clone(),
            env: spec.env.clone(),
            ..Default::default()
        };
        let out = admin.call(&id, &request).await.expect("call");
        let passed = out.exit_code == spec.exit_code && out.stdout == spec.stdout;
        if !passed {
            failed.push(format!(
                "{name}: exit {} (want {}), stdout:\n{}\nstderr:\n{}",
                out.exit_code, spec.exit_code, out.stdout, out.stderr
            ));
        }
        let result = if passed { "passed" } else { "FAILED" };
        table.push(format!("| `{name}` | {result} | {} |", spec.covers));
    }
    println!("{}", table.join("\n"));
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}
