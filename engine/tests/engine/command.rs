//! The `command` call shape: stdio, args, exit codes, WASI sandboxing,
//! link errors and the module cache.

use std::sync::Arc;
use std::time::Duration;

use crate::support::{args, compile, engine, guest, guest_source, run, sha};
use nexus_engine::{CallError, Capabilities, Capability, CommandInput, Profile};
use nexus_errors::{Coded, ErrorCode};

#[tokio::test]
async fn hello_writes_stdout_and_exits_zero() {
    let engine = engine();
    let out = run(&engine, &guest(&engine, "hello"))
        .await
        .expect("hello runs");
    assert_eq!(out.exit_code, 0);
    assert_eq!(out.stdout, b"hello\n");
    assert!(out.stderr.is_empty());
    assert!(out.elapsed > Duration::ZERO && out.elapsed < Duration::from_secs(30));
}

#[tokio::test]
async fn stdin_is_echoed_to_stdout() {
    let engine = engine();
    let module = guest(&engine, "echo_stdin");
    // Larger than one read buffer, with every byte value.
    let stdin: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let input = CommandInput {
        args: Vec::new(),
        stdin: stdin.clone(),
        ..Default::default()
    };
    let out = engine
        .run_command(&module, &Profile::compute(), input)
        .await
        .expect("echo runs");
    assert_eq!(out.exit_code, 0);
    assert_eq!(out.stdout, stdin);

    let empty = run(&engine, &module).await.expect("echo of nothing");
    assert_eq!(empty.stdout, b"");
}

#[tokio::test]
async fn args_follow_the_module_name() {
    let engine = engine();
    let module = guest(&engine, "argv");
    assert_eq!(module.name(), "argv");
    let out = engine
        .run_command(
            &module,
            &Profile::compute(),
            args(&["one", "two words", ""]),
        )
        .await
        .expect("argv runs");
    assert_eq!(out.stdout, b"argv\0one\0two words\0\0");
}

#[tokio::test]
async fn proc_exit_sets_the_exit_code_and_keeps_stdout() {
    let engine = engine();
    let out = run(&engine, &guest(&engine, "exit3"))
        .await
        .expect("exit3 runs");
    assert_eq!(out.exit_code, 3);
    assert_eq!(out.stdout, b"bye\n");
}

#[tokio::test]
async fn every_proc_exit_status_is_the_exit_code() {
    let engine = engine();
    for status in [126, 255, 300, -1] {
        let source = format!(
            r#"(module
                (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                (memory (export "memory") 1)
                (func (export "_start") (call $exit (i32.const {status}))))"#
        );
        let out = run(&engine, &compile(&engine, &source))
            .await
            .expect("the guest exits");
        assert_eq!(out.exit_code, status);
    }
}

#[tokio::test]
async fn without_vfs_no_directory_is_preopened() {
    let engine = engine();
    let module = guest(&engine, "path_open");
    let profile = Profile {
        capabilities: Capabilities::of(&[Capability::Clock]),
        ..Profile::compute()
    };
    let out = engine
        .run_command(&module, &profile, CommandInput::default())
        .await
        .expect("path_open runs");
    assert_eq!(out.exit_code, 8, "path_open on fd 3 must fail with EBADF");
}

#[tokio::test]
async fn with_vfs_an_absolute_path_does_not_leave_the_workspace() {
    let engine = engine();
    // fd 3 is /workspace; /etc/passwd relative to it is refused.
    let out = run(&engine, &guest(&engine, "path_open"))
        .await
        .expect("path_open runs");
    assert_eq!(out.exit_code, 63, "path_open on fd 3 must fail with EPERM");
}

#[tokio::test]
async fn unknown_import_names_it() {
    let engine = engine();
    let err = run(&engine, &guest(&engine, "import_env_foo"))
        .await
        .expect_err("env.foo is not provided");
    assert!(matches!(err, CallError::InstantiateFailed(_)), "{err:?}");
    assert_eq!(err.code(), ErrorCode::CallInstantiateFailed);
    assert_eq!(
        err.to_string(),
        "module imports env.foo (a function), which this node does not provide"
    );
}

#[tokio::test]
async fn missing_start_names_it() {
    let engine = engine();
    let module = guest(&engine, "no_start");
    let err = run(&engine, &module).await.expect_err("no _start");
    assert!(matches!(err, CallError::InstantiateFailed(_)), "{err:?}");
    assert!(err.to_string().contains("no `_start` export"), "{err}");
    // The link result is cached with the module; the error stays the same.
    let again = run(&engine, &module).await.expect_err("still no _start");
    assert_eq!(again, err);
}

#[tokio::test]
async fn start_that_is_not_a_function_is_refused() {
    let engine = engine();
    let module = compile(
        &engine,
        r#"(module (global (export "_start") i32 (i32.const 0)))"#,
    );
    let err = run(&engine, &module).await.expect_err("_start is a global");
    assert!(matches!(err, CallError::InstantiateFailed(_)), "{err:?}");
    assert!(err.to_string().contains("`_start` as a global"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_each_get_their_own_args() {
    let engine = engine();
    let module = guest(&engine, "argv");
    let mut calls = Vec::new();
    for i in 0..32 {
        let (engine, module) = (engine.clone(), module.clone());
        calls.push(tokio::spawn(async move {
            let arg = format!("call-{i}");
            let out = engine
                .run_command(&module, &Profile::compute(), args(&[&arg, "x"]))
                .await;
            (arg, out)
        }));
    }
    for call in calls {
        let (arg, out) = call.await.expect("task");
        let out = out.expect("argv runs");
        assert_eq!(out.exit_code, 0);
        assert_eq!(out.stdout, format!("argv\0{arg}\0x\0").into_bytes());
    }
}

#[test]
fn compile_caches_by_digest() {
    let engine = engine();
    let source = guest_source("hello");
    let digest = sha(source.as_bytes());
    let a = engine.compile(&digest, source.as_bytes()).expect("compile");
    let b = engine
        .compile(&digest.to_uppercase(), source.as_bytes())
        .expect("cache hit");
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(a.sha256(), digest);
}

#[test]
fn compile_refuses_bytes_that_do_not_match_the_digest() {
    let engine = engine();
    let source = guest_source("hello");
    let err = engine
        .compile(&sha(b"something else"), source.as_bytes())
        .expect_err("digest mismatch");
    assert!(matches!(err, CallError::ModuleInvalid(_)), "{err:?}");
    assert_eq!(err.code(), ErrorCode::WorkbookModuleInvalid);
    assert!(err.to_string().contains(&sha(source.as_bytes())), "{err}");
}

#[test]
fn compile_refuses_invalid_wasm() {
    let engine = engine();
    let bytes = b"\0asm\x01\0\0\0\x7f garbage";
    let err = engine.compile(&sha(bytes), bytes).expect_err("not wasm");
    assert!(matches!(err, CallError::ModuleInvalid(_)), "{err:?}");
    assert!(
        err.to_string().contains("is not valid WebAssembly"),
        "{err}"
    );
}

#[tokio::test]
async fn module_from_another_engine_is_refused() {
    let (a, b) = (engine(), engine());
    let module = guest(&a, "hello");
    let err = run(&b, &module).await.expect_err("cross-engine");
    assert!(matches!(err, CallError::Internal(_)), "{err:?}");
}

#[test]
fn engine_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone>() {}
    check::<nexus_engine::Engine>();
}
