//! The `fabric` group through a stand-in `FabricHost`: the request the
//! guest encodes reaches the hook with the caller's tenant and sandbox,
//! the response comes back through `fabric_read`, and a missing hook, a
//! call without a tenant and a refused job are the guest's error codes.
//! The call gives its sandbox slot up while the hook runs.

use std::sync::{Arc, Mutex, OnceLock};

use crate::support::compile;
use nexus_abi::{FabricFailure, FabricRequest, FabricResponse, FabricTier};
use nexus_engine::{
    CommandInput, CompiledModule, Engine, EngineConfig, FabricError, FabricFuture, FabricHost,
    HostConfig, MemoryData, Profile, SandboxContext,
};

/// Reverses each input; fails on `bad`. With `inner` set, first runs that
/// command in the same sandbox (which needs one of its slots).
#[derive(Debug, Default)]
struct StandIn {
    seen: Mutex<Vec<(String, String, FabricRequest)>>,
    refuse: Option<i32>,
    inner: OnceLock<(Engine, Arc<CompiledModule>, Profile, Arc<SandboxContext>)>,
}

impl FabricHost for StandIn {
    fn map<'a>(
        &'a self,
        tenant: &'a str,
        sandbox: &'a str,
        request: FabricRequest,
    ) -> FabricFuture<'a> {
        Box::pin(async move {
            if let Some((engine, module, profile, ctx)) = self.inner.get() {
                let out = engine
                    .run_command_with(module, profile, CommandInput::default(), ctx.clone())
                    .await
                    .map_err(|e| FabricError {
                        code: -6,
                        message: e.to_string(),
                    })?;
                assert_eq!(out.exit_code, 0);
            }
            self.seen
                .lock()
                .unwrap()
                .push((tenant.into(), sandbox.into(), request.clone()));
            if let Some(code) = self.refuse {
                return Err(FabricError {
                    code,
                    message: "refused".into(),
                });
            }
            let results = request
                .inputs
                .iter()
                .map(|input| match input.as_slice() {
                    b"bad" => Err(FabricFailure {
                        code: "CALL_TRAPPED".into(),
                        message: "wasm trap".into(),
                    }),
                    _ => Ok(input.iter().rev().copied().collect()),
                })
                .collect();
            Ok(FabricResponse { results })
        })
    }
}

fn request() -> FabricRequest {
    FabricRequest {
        kernel: "k".into(),
        inputs: vec![b"abc".to_vec(), b"bad".to_vec(), Vec::new()],
        width: 2,
        tier: FabricTier::Process,
    }
}

/// A command that sends `request()` to `fabric_map` and prints what
/// `fabric_read` hands over; a negative code becomes its exit status
/// (negated).
fn mapper(engine: &Engine) -> Arc<CompiledModule> {
    let bytes = request().encode();
    let escaped: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
    let wat = format!(
        r#"(module
  (import "nexus_v1" "fabric_map" (func $map (param i32 i32) (result i32)))
  (import "nexus_v1" "fabric_read" (func $read (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 256) "{escaped}")
  (func (export "_start") (local $r i32)
    (local.set $r (call $map (i32.const 256) (i32.const {len})))
    (if (i32.lt_s (local.get $r) (i32.const 0))
      (then (call $exit (i32.sub (i32.const 0) (local.get $r)))))
    (local.set $r (call $read (i32.const 4096) (i32.const 4096)))
    (if (i32.lt_s (local.get $r) (i32.const 0))
      (then (call $exit (i32.sub (i32.const 100) (local.get $r)))))
    (i32.store (i32.const 0) (i32.const 4096))
    (i32.store (i32.const 4) (local.get $r))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))"#,
        len = bytes.len()
    );
    compile(engine, &wat)
}

fn engine_with(fabric: Option<Arc<StandIn>>) -> Engine {
    Engine::with_config(EngineConfig {
        host: HostConfig {
            fabric: fabric.map(|f| f as Arc<dyn FabricHost>),
            ..Default::default()
        },
        ..Default::default()
    })
    .expect("engine")
}

fn context(engine: &Engine, profile: &Profile, tenant: bool) -> Arc<SandboxContext> {
    let ctx = SandboxContext::new("sb-1", Arc::new(MemoryData::new()), profile);
    Arc::new(match tenant {
        true => ctx.with_tenant("tn_1", engine.services().clone()),
        false => ctx,
    })
}

async fn run(engine: &Engine, profile: &Profile, ctx: &Arc<SandboxContext>) -> (i32, Vec<u8>) {
    let module = mapper(engine);
    let out = engine
        .run_command_with(&module, profile, CommandInput::default(), ctx.clone())
        .await
        .expect("runs");
    (out.exit_code, out.stdout)
}

#[tokio::test]
async fn the_request_reaches_the_hook_and_the_results_come_back() {
    let host = Arc::new(StandIn::default());
    let engine = engine_with(Some(host.clone()));
    // One slot: the hook's own command in the sandbox needs the caller's.
    let profile = Profile {
        max_concurrent: 1,
        ..Profile::standard()
    };
    let ctx = context(&engine, &profile, true);
    let inner = compile(&engine, r#"(module (func (export "_start")))"#);
    host.inner
        .set((engine.clone(), inner, profile.clone(), ctx.clone()))
        .expect("set once");
    let (exit, stdout) = run(&engine, &profile, &ctx).await;
    assert_eq!(exit, 0);
    let response = FabricResponse::decode(&stdout).expect("a response");
    assert_eq!(
        response.results,
        [
            Ok(b"cba".to_vec()),
            Err(FabricFailure {
                code: "CALL_TRAPPED".into(),
                message: "wasm trap".into()
            }),
            Ok(Vec::new()),
        ]
    );
    let seen = host.seen.lock().unwrap().clone();
    assert_eq!(seen, [("tn_1".into(), "sb-1".into(), request())]);
}

#[tokio::test]
async fn missing_hooks_tenants_and_grants_and_refusals_are_error_codes() {
    let standard = Profile::standard();
    // No hook: ERR_IO.
    let engine = engine_with(None);
    let ctx = context(&engine, &standard, true);
    assert_eq!(run(&engine, &standard, &ctx).await.0, 6);
    // No tenant: ERR_DENIED, counted.
    let host = Arc::new(StandIn::default());
    let engine = engine_with(Some(host.clone()));
    let ctx = context(&engine, &standard, false);
    assert_eq!(run(&engine, &standard, &ctx).await.0, 2);
    assert_eq!(
        ctx.denials().snapshot().by_capability.get("fabric"),
        Some(&1)
    );
    assert!(host.seen.lock().unwrap().is_empty());
    // A refused job: the hook's code.
    let host = Arc::new(StandIn {
        refuse: Some(-4),
        ..StandIn::default()
    });
    let engine = engine_with(Some(host.clone()));
    let ctx = context(&engine, &standard, true);
    assert_eq!(run(&engine, &standard, &ctx).await.0, 4);
    assert_eq!(host.seen.lock().unwrap().len(), 1);
    // Not granted (compute): refused before it runs.
    let compute = Profile::compute();
    let ctx = context(&engine, &compute, true);
    let err = engine
        .run_command_with(&mapper(&engine), &compute, CommandInput::default(), ctx)
        .await
        .expect_err("compute lacks fabric");
    assert_eq!(
        err.to_string(),
        "module imports nexus_v1.fabric_map, which needs capability `fabric`; \
         profile `compute` does not grant it"
    );
}
