//! Compile bombs docked through the API: each is refused with the code of
//! the limit it breaks, before Cranelift sees it, and the node keeps serving.

use crate::common;

use common::{call_args, dock_wat, print_wat, wasm_workbook, TestNode};
use nexus_errors::ErrorCode;

#[path = "../../../engine/tests/engine/bombs.rs"]
mod bombs;

#[tokio::test]
async fn compile_bombs_are_refused_with_their_code_and_the_node_serves_on() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let dir = node.data_dir.path();
    let bombs = [
        (
            "fns1m",
            bombs::many_functions(1_000_000),
            ErrorCode::ModuleTooManyFunctions,
        ),
        (
            "fns100k",
            bombs::many_functions(100_000),
            ErrorCode::ModuleTooManyFunctions,
        ),
        (
            "nest1m",
            bombs::nested_blocks(1_000_000),
            ErrorCode::ModuleTooComplex,
        ),
        (
            "nest20k",
            bombs::nested_blocks(20_000),
            ErrorCode::ModuleTooComplex,
        ),
    ];
    for (name, wasm, code) in bombs {
        let bytes = std::fs::read(wasm_workbook(dir, name, &wasm)).unwrap();
        let err = admin.dock(bytes, None, None).await.expect_err(name);
        assert_eq!(err.code, code, "{name}: {err:?}");
    }
    assert!(admin.sandboxes().await.unwrap().sandboxes.is_empty());
    let calm = dock_wat(&admin, dir, "calm", &print_wat("fine\n")).await;
    let out = call_args(&admin, &calm, &[]).await.unwrap();
    assert_eq!(out.stdout, "fine\n");
}

#[tokio::test]
async fn a_module_over_the_node_size_limit_is_refused() {
    let node = TestNode::start_with(|config| config.limits.max_module_bytes = 4096).await;
    let admin = node.admin();
    let wasm = bombs::distinct(1, 2_000);
    let bytes = std::fs::read(wasm_workbook(node.data_dir.path(), "big", &wasm)).unwrap();
    let err = admin.dock(bytes, None, None).await.expect_err("too large");
    assert_eq!(err.code, ErrorCode::ModuleTooLarge, "{err:?}");
    assert!(err.message.contains("4 KiB"), "{err:?}");
}

#[tokio::test]
async fn a_profile_limit_refuses_a_module_the_node_would_compile() {
    let node = TestNode::start_with(|config| {
        let spec = nexus_engine::ProfileSpec {
            max_module_functions: Some(100),
            ..Default::default()
        };
        config.profiles.insert("small".to_string(), spec);
    })
    .await;
    let admin = node.admin();
    let wasm = bombs::distinct(3, 500);
    let bytes = std::fs::read(wasm_workbook(node.data_dir.path(), "wide", &wasm)).unwrap();
    let err = admin
        .dock(bytes.clone(), None, Some("small"))
        .await
        .expect_err("over the profile's limit");
    assert_eq!(err.code, ErrorCode::ModuleTooManyFunctions, "{err:?}");
    assert!(
        err.message
            .contains("more than profile `small`'s limit of 100"),
        "{err:?}"
    );
    assert!(admin.sandboxes().await.unwrap().sandboxes.is_empty());
    // The same module under the default profile meets the node's limits.
    admin
        .dock(bytes, None, None)
        .await
        .expect("docks as compute");
}
