//! The WebAssembly proposals the engine compiles: the node builds wasmtime
//! without its host-side tooling (Cargo.toml), and none of the standard
//! proposals a guest may use goes with it.

use nexus_errors::{Coded, ErrorCode};

use crate::support::{engine, sha};

#[test]
fn standard_proposals_compile() {
    let engine = engine();
    let modules = [
        (
            "SIMD",
            "(module (func (result v128) (v128.const i64x2 1 2)))",
        ),
        (
            "tail calls",
            "(module (func $f (result i32) (i32.const 1)) (func (result i32) (return_call $f)))",
        ),
        (
            "GC (a struct type)",
            "(module (type $p (struct (field i32))) \
             (func (result i32) (struct.get $p 0 (struct.new $p (i32.const 7)))))",
        ),
        (
            "exceptions",
            "(module (tag $e (param i32)) \
             (func (result i32) (block $h (result i32) \
               (try_table (catch $e $h) (throw $e (i32.const 3))) (i32.const 0))))",
        ),
        (
            "reference types",
            "(module (table 1 funcref) (func (result funcref) (table.get 0 (i32.const 0))))",
        ),
        (
            "atomics on an unshared memory",
            "(module (memory 1 1) \
             (func (result i32) (i32.atomic.rmw.add (i32.const 0) (i32.const 1))))",
        ),
    ];
    for (proposal, source) in modules {
        if let Err(e) = engine.compile(&sha(source.as_bytes()), source.as_bytes()) {
            panic!("a module using {proposal} did not compile: {e}");
        }
    }
}

#[test]
fn a_shared_memory_is_refused_by_the_instance_pool() {
    let engine = engine();
    let source = "(module (memory 1 1 shared))";
    let err = engine
        .compile(&sha(source.as_bytes()), source.as_bytes())
        .expect_err("refused");
    assert_eq!(err.code(), ErrorCode::WorkbookModuleInvalid, "{err}");
    let message = err.to_string();
    assert!(
        message.contains("does not fit this node's instance pool")
            && message.contains("memory is shared"),
        "{message}"
    );
}
