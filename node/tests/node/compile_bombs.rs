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
