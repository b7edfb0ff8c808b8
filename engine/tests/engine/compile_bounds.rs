//! Bounded compilation: structural limits before Cranelift, the compile
//! deadline, the byte-bounded single-flight module cache, the disk cache cap.

use std::sync::Arc;
use std::time::Duration;

use nexus_engine::{
    CallError, CompileConfig, Engine, EngineConfig, ModuleLimits, Profile, ProfileModuleLimits,
};
use nexus_errors::{Coded, ErrorCode};

use crate::bombs;
use crate::support::{compile, sha, with_cpu};

fn engine_with(compile: CompileConfig) -> Engine {
    Engine::with_config(EngineConfig {
        compile,
        ..EngineConfig::default()
    })
    .unwrap()
}

fn refuse(engine: &Engine, wasm: &[u8]) -> CallError {
    engine.compile(&sha(wasm), wasm).expect_err("refused")
}

#[test]
fn a_million_functions_are_refused_before_compiling() {
    let engine = Engine::new().unwrap();
    for n in [1_000_000, 100_000] {
        let err = refuse(&engine, &bombs::many_functions(n));
        assert_eq!(err.code(), ErrorCode::ModuleTooManyFunctions, "{err}");
        assert!(
            err.to_string().contains(&format!("defines {n} functions")),
            "{err}"
        );
        assert!(
            err.to_string().contains("limits.max_module_functions"),
            "{err}"
        );
    }
    assert_eq!(engine.compiles(), 0, "Cranelift never saw them");
}

#[test]
fn a_million_nested_blocks_are_refused_before_compiling() {
    let engine = Engine::new().unwrap();
    let err = refuse(&engine, &bombs::nested_blocks(1_000_000));
    assert_eq!(err.code(), ErrorCode::ModuleTooComplex, "{err}");
    assert!(
        err.to_string().contains("limits.max_function_bytes"),
        "{err}"
    );
    // Within the body size limit, the nesting depth refuses it.
    let err = refuse(&engine, &bombs::nested_blocks(20_000));
    assert_eq!(err.code(), ErrorCode::ModuleTooComplex, "{err}");
    assert!(
        err.to_string().contains("limits.max_nesting_depth"),
        "{err}"
    );
    assert_eq!(engine.compiles(), 0);
}

#[test]
fn a_module_over_the_size_limit_is_refused() {
    let engine = engine_with(CompileConfig {
        limits: ModuleLimits {
            max_module_bytes: 1000,
            ..ModuleLimits::default()
        },
        ..CompileConfig::default()
    });
    let err = refuse(&engine, &bombs::distinct(1, 200));
    assert_eq!(err.code(), ErrorCode::ModuleTooLarge, "{err}");
    assert!(err.to_string().contains("1000 bytes"), "{err}");
    let small = bombs::distinct(1, 2);
    engine.compile(&sha(&small), &small).unwrap();
}

#[test]
fn a_compile_past_the_deadline_is_abandoned() {
    let engine = engine_with(CompileConfig {
        timeout: Duration::ZERO,
        ..CompileConfig::default()
    });
    let err = refuse(&engine, &bombs::distinct(7, 20_000));
    assert_eq!(err.code(), ErrorCode::ModuleCompileTimeout, "{err}");
    assert!(
        err.to_string().contains("limits.compile_timeout_ms"),
        "{err}"
    );
    assert_eq!(engine.memory_cache().0, 0, "nothing kept");
}

#[test]
fn concurrent_misses_compile_once() {
    let engine = Engine::new().unwrap();
    let wasm = Arc::new(bombs::distinct(3, 2_000));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (engine, wasm) = (engine.clone(), wasm.clone());
            std::thread::spawn(move || engine.compile(&sha(&wasm), &wasm).unwrap())
        })
        .collect();
    let modules: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(engine.compiles(), 1);
    assert!(modules.iter().all(|m| Arc::ptr_eq(m, &modules[0])));
}

#[test]
fn the_memory_cache_stays_under_its_byte_bound() {
    let cap = 256 << 10;
    let engine = engine_with(CompileConfig {
        memory_cache_bytes: cap,
        ..CompileConfig::default()
    });
    for seed in 0..40 {
        let wasm = bombs::distinct(seed, 50);
        let module = engine.compile(&sha(&wasm), &wasm).unwrap();
        assert!(module.bytes() > 0 && module.bytes() < cap);
        drop(module);
        let (count, bytes) = engine.memory_cache();
        assert!(bytes <= cap, "{count} modules of {bytes} bytes over {cap}");
    }
    assert!(engine.memory_cache().0 < 40, "least recently used evicted");
}

#[test]
fn release_frees_a_module_no_one_holds() {
    let engine = Engine::new().unwrap();
    let wasm = bombs::distinct(9, 10);
    let key = sha(&wasm);
    let held = engine.compile(&key, &wasm).unwrap();
    engine.release(&key);
    assert!(engine.cached(&key).is_some(), "still held by a call");
    drop(held);
    engine.release(&key);
    assert!(engine.cached(&key).is_none());
    assert_eq!(engine.memory_cache(), (0, 0));
}

#[test]
fn the_disk_cache_stays_under_its_byte_cap() {
    let dir = tempfile::tempdir().unwrap();
    let cap = 200 << 10;
    let engine = Engine::with_config(EngineConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        compile: CompileConfig {
            disk_cache_bytes: cap,
            ..CompileConfig::default()
        },
        ..EngineConfig::default()
    })
    .unwrap();
    let mut last = String::new();
    for seed in 0..30 {
        let wasm = bombs::distinct(seed, 50);
        last = sha(&wasm);
        engine.compile(&last, &wasm).unwrap();
        assert!(
            engine.disk_cache_bytes() <= cap,
            "{}",
            engine.disk_cache_bytes()
        );
    }
    let newest = engine.disk_cache_path(&last).unwrap();
    assert!(newest.is_file(), "the most recent module is kept");
}

#[tokio::test]
async fn a_table_bomb_spinning_to_the_cpu_limit_is_a_cpu_limit() {
    let engine = Engine::new().unwrap();
    let module = compile(
        &engine,
        r#"(module
             (table 1 funcref)
             (func (export "_start")
               (loop $spin
                 (drop (table.grow (ref.null func) (i32.const 1000)))
                 (br $spin))))"#,
    );
    let profile = with_cpu(Duration::from_millis(200));
    let err = engine
        .run_command(&module, &profile, Default::default())
        .await
        .expect_err("spins");
    assert_eq!(err.code(), ErrorCode::CallCpuLimit, "{err}");
}

#[test]
fn a_profile_tightens_the_node_limits_even_for_a_cached_module() {
    // A deadline no loaded CI machine reaches: this test is about limits.
    let engine = engine_with(CompileConfig {
        timeout: Duration::from_secs(300),
        ..CompileConfig::default()
    });
    let wasm = bombs::distinct(7, 20);
    let sha = sha(&wasm);
    // Compiled for a roomy profile first, so the module is in the cache.
    engine
        .compile_for(&Profile::compute(), &sha, &wasm)
        .unwrap();
    let tight = |limits: ProfileModuleLimits| Profile {
        name: "tiny".to_string(),
        module_limits: limits,
        ..Profile::compute()
    };
    let few = tight(ProfileModuleLimits {
        max_functions: Some(10),
        ..ProfileModuleLimits::default()
    });
    let err = engine
        .compile_for(&few, &sha, &wasm)
        .expect_err("functions");
    assert_eq!(err.code(), ErrorCode::ModuleTooManyFunctions, "{err}");
    assert!(
        err.to_string().contains(
            "defines 20 functions, more than profile `tiny`'s limit of 10 \
             (profiles.tiny.max_module_functions)"
        ),
        "{err}"
    );
    let small = tight(ProfileModuleLimits {
        max_module_bytes: Some(64),
        ..ProfileModuleLimits::default()
    });
    let err = engine.compile_for(&small, &sha, &wasm).expect_err("size");
    assert_eq!(err.code(), ErrorCode::ModuleTooLarge, "{err}");
    assert!(
        err.to_string()
            .contains("profile `tiny`'s limit of 64 bytes"),
        "{err}"
    );
    let roomy = tight(ProfileModuleLimits {
        max_functions: Some(20),
        max_module_bytes: Some(1 << 20),
        compile_timeout_ms: Some(60_000),
    });
    engine.compile_for(&roomy, &sha, &wasm).unwrap();
    assert_eq!(engine.compiles(), 1, "the cached module served both");
}

#[test]
fn a_profile_compile_deadline_tighter_than_the_node_applies() {
    let engine = Engine::new().unwrap();
    // Big enough that compiling it takes longer than a millisecond.
    let wasm = bombs::distinct(11, 20_000);
    let profile = Profile {
        name: "hasty".to_string(),
        module_limits: ProfileModuleLimits {
            compile_timeout_ms: Some(1),
            ..ProfileModuleLimits::default()
        },
        ..Profile::compute()
    };
    let err = engine
        .compile_for(&profile, &sha(&wasm), &wasm)
        .expect_err("deadline");
    assert_eq!(err.code(), ErrorCode::ModuleCompileTimeout, "{err}");
    assert!(err.to_string().contains("1ms"), "{err}");
}
