//! Environment variables of command-shape calls: the workbook's `[env]`
//! defaults, a call's own over them, bounds refused with `CALL_ENV_INVALID`,
//! and never the host's environment.

use crate::common;

use std::collections::BTreeMap;

use common::process::UpProcess;
use common::{wat_workbook, TestNode};
use nexus_node::api::types::CallRequest;
use nexus_workbook::{EnvVars, Workbook};

/// A command that writes its whole environment block (`NAME=value\0`…) to stdout.
const ENV_WAT: &str = r#"(module
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "_start")
    (drop (call $sizes (i32.const 0) (i32.const 4)))
    (drop (call $get (i32.const 1024) (i32.const 4096)))
    (i32.store (i32.const 16) (i32.const 4096))
    (i32.store (i32.const 20) (i32.load (i32.const 4)))
    (drop (call $w (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))"#;

/// A workbook running [`ENV_WAT`] with `defaults` as its `[env]`.
fn env_workbook(dir: &std::path::Path, defaults: &[(&str, &str)]) -> Vec<u8> {
    let path = wat_workbook(dir, "env", ENV_WAT);
    let env: EnvVars = defaults
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let workbook = Workbook::open(&path).unwrap();
    workbook.set_env(&env).unwrap();
    workbook.close().unwrap();
    std::fs::read(path).unwrap()
}

fn environment(stdout: &str) -> Vec<&str> {
    stdout.split('\0').filter(|s| !s.is_empty()).collect()
}

fn with_env(pairs: &[(&str, &str)]) -> CallRequest {
    CallRequest {
        env: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn calls_see_the_workbook_defaults_under_their_own_variables_and_nothing_of_the_host() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let bytes = env_workbook(
        node.data_dir.path(),
        &[("GREETING", "Hello"), ("LANG", "C")],
    );
    let s = admin.dock(bytes, None, None).await.unwrap();

    let out = admin.call(&s.id, &CallRequest::default()).await.unwrap();
    assert_eq!(environment(&out.stdout), ["GREETING=Hello", "LANG=C"]);

    let request = with_env(&[("GREETING", "Hej"), ("EXTRA", "a=b c")]);
    let out = admin.call(&s.id, &request).await.unwrap();
    assert_eq!(
        environment(&out.stdout),
        ["EXTRA=a=b c", "GREETING=Hej", "LANG=C"],
        "the call's own win; the host's PATH, HOME... never appear"
    );

    // Bounds: a bad name, too many variables with the defaults counted.
    let err = admin
        .call(&s.id, &with_env(&[("1X", "v")]))
        .await
        .unwrap_err();
    assert_eq!(err.code, "CALL_ENV_INVALID");
    assert_eq!(
        err.message,
        format!(
            "the environment of a call to sandbox {}: \"1X\" is not a variable name: \
             letters, digits and _, not starting with a digit",
            s.id
        )
    );
    let many: BTreeMap<String, String> = (0..63).map(|i| (format!("V{i}"), "x".into())).collect();
    let request = CallRequest {
        env: many,
        ..Default::default()
    };
    let err = admin.call(&s.id, &request).await.unwrap_err();
    assert_eq!(err.code, "CALL_ENV_INVALID");
    assert!(
        err.message
            .ends_with("65 variables; at most 64 are allowed"),
        "{}",
        err.message
    );
    let big = "v".repeat(4097);
    let err = admin
        .call(&s.id, &with_env(&[("BIG", &big)]))
        .await
        .unwrap_err();
    assert!(err
        .message
        .ends_with("BIG: the value is 4097 bytes; at most 4096 are allowed"));
    node.stop().await;
}

#[test]
fn cli_call_takes_env_pairs() {
    let up = UpProcess::start();
    let file = up.data_dir.path().join("env.workbook");
    std::fs::write(&file, env_workbook(up.data_dir.path(), &[("LANG", "C")])).unwrap();
    let docked = up.nexus(&["dock", file.to_str().unwrap()], None);
    assert!(docked.status.success());
    let id = String::from_utf8_lossy(&docked.stdout).trim().to_string();

    let out = up.nexus(&["call", &id, "--env", "A=1", "--env", "B=x=y"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(environment(&stdout), ["A=1", "B=x=y", "LANG=C"]);

    let bad = up.nexus(&["call", &id, "--env", "NOEQUALS"], None);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("\"NOEQUALS\" is not KEY=VALUE"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
