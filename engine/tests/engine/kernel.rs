//! The `kernel` call shape: one instance reused across calls, discarded
//! after a trap or limit, with input, output and CPU caps per call.

use std::time::Duration;

use crate::support::{engine, guest, with_cpu};
use nexus_engine::{CallError, Profile};
use nexus_errors::{Coded, ErrorCode};

fn count(out: &[u8]) -> u32 {
    u32::from_le_bytes(out.try_into().expect("4 bytes"))
}

#[tokio::test]
async fn upper_cases_through_the_arena() {
    let engine = engine();
    let kernel = engine
        .kernel(&guest(&engine, "kernel_upper"), &Profile::compute())
        .await
        .expect("kernel");
    assert_eq!(
        kernel.call(b"hello, kernel").await.expect("call"),
        b"HELLO, KERNEL"
    );
    assert_eq!(kernel.call(b"").await.expect("empty"), b"");
    let err = kernel.call(&[b'a'; 4097]).await.expect_err("too big");
    assert_eq!(err, CallError::InputTooLarge { limit: 4096 });
    assert_eq!(err.code(), ErrorCode::RequestInvalid);
    assert_eq!(
        kernel.call(&[b'a'; 4096]).await.expect("fits"),
        vec![b'A'; 4096]
    );
    assert_eq!(kernel.instantiations(), 1);
}

#[tokio::test]
async fn one_instance_keeps_state_across_calls() {
    let engine = engine();
    let kernel = engine
        .kernel(&guest(&engine, "kernel_counter"), &Profile::compute())
        .await
        .expect("kernel");
    for n in 1..=5 {
        assert_eq!(count(&kernel.call(b"").await.expect("call")), n);
    }
    assert_eq!(kernel.instantiations(), 1);
}

#[tokio::test]
async fn trap_discards_the_instance() {
    let engine = engine();
    let kernel = engine
        .kernel(&guest(&engine, "kernel_counter"), &Profile::compute())
        .await
        .expect("kernel");
    assert_eq!(count(&kernel.call(b"").await.expect("call")), 1);
    assert_eq!(count(&kernel.call(b"").await.expect("call")), 2);
    let err = kernel.call(&[0xff]).await.expect_err("traps");
    assert_eq!(
        err.to_string(),
        "wasm trap: wasm `unreachable` instruction executed, in function `boom`"
    );
    // A fresh instance: the counter starts again.
    assert_eq!(count(&kernel.call(b"").await.expect("call")), 1);
    assert_eq!(kernel.instantiations(), 2);
}

#[tokio::test]
async fn spin_hits_the_cpu_limit_and_the_next_call_works() {
    let engine = engine();
    let profile = with_cpu(Duration::from_millis(50));
    let kernel = engine
        .kernel(&guest(&engine, "kernel_counter"), &profile)
        .await
        .expect("kernel");
    assert_eq!(count(&kernel.call(b"").await.expect("call")), 1);
    let err = kernel.call(&[0xfe]).await.expect_err("spins");
    assert_eq!(
        err,
        CallError::CpuLimit {
            limit: Duration::from_millis(50)
        }
    );
    assert_eq!(count(&kernel.call(b"").await.expect("call")), 1);
    // The budget is per call: many calls together may use more than one budget.
    for n in 2..=20 {
        assert_eq!(count(&kernel.call(b"").await.expect("call")), n);
    }
}

#[tokio::test]
async fn oversized_and_negative_output_are_refused_keeping_the_instance() {
    let engine = engine();
    let kernel = engine
        .kernel(&guest(&engine, "kernel_counter"), &Profile::compute())
        .await
        .expect("kernel");
    assert_eq!(count(&kernel.call(b"").await.expect("call")), 1);
    let err = kernel.call(&[0xfd]).await.expect_err("too much");
    assert_eq!(
        err,
        CallError::OutputLimit {
            stream: "kernel output",
            limit: 256
        }
    );
    assert_eq!(err.code(), ErrorCode::CallOutputLimit);
    let err = kernel.call(&[0xfc]).await.expect_err("negative");
    assert_eq!(
        err.to_string(),
        "`process` returned -7, a negative length (an error of the guest)"
    );
    assert_eq!(count(&kernel.call(b"").await.expect("call")), 2);
    assert_eq!(kernel.instantiations(), 1);
}

#[tokio::test]
async fn output_cap_of_the_profile_applies() {
    let engine = engine();
    let profile = Profile {
        output_bytes: 3,
        ..Profile::compute()
    };
    let kernel = engine
        .kernel(&guest(&engine, "kernel_counter"), &profile)
        .await
        .expect("kernel");
    let err = kernel.call(b"").await.expect_err("4 bytes > 3");
    assert_eq!(
        err,
        CallError::OutputLimit {
            stream: "kernel output",
            limit: 3
        }
    );
}

#[tokio::test]
async fn memory_bomb_hits_the_cap_and_is_discarded() {
    let engine = engine();
    let kernel = engine
        .kernel(&guest(&engine, "kernel_counter"), &Profile::compute())
        .await
        .expect("kernel");
    let err = kernel.call(&[0xfb]).await.expect_err("bomb");
    assert_eq!(err.code(), ErrorCode::CallMemoryLimit, "{err}");
    assert_eq!(count(&kernel.call(b"").await.expect("call")), 1);
}

#[tokio::test]
async fn bad_kernels_are_refused_at_creation() {
    let engine = engine();
    let err = engine
        .kernel(&guest(&engine, "hello"), &Profile::compute())
        .await
        .expect_err("a command is no kernel");
    assert_eq!(
        err.to_string(),
        "module has no `process` export; a kernel exports `memory`, `arena() -> i64` and \
         `process(in_len: i32) -> i32` (docs/guest-abi.md)"
    );
    let err = engine
        .kernel(&guest(&engine, "kernel_bad_arena"), &Profile::compute())
        .await
        .expect_err("arena outside memory");
    assert_eq!(
        err.to_string(),
        "kernel arena of 4096 bytes at offset 65000 lies outside its 65536-byte memory"
    );
}
