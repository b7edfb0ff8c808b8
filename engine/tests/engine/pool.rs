//! The fast path: the pooling allocator (a full pool waits, the pool's memory
//! ceiling is reported as a memory limit) and the on-disk precompiled-module
//! cache (reused across engines, a damaged file is recompiled).

use std::time::Duration;

use crate::support::{guest, guest_source, run, sha};
use nexus_engine::{
    largest_builtin_memory, CallError, CommandInput, Engine, EngineConfig, Profile,
};
use nexus_errors::{Coded, ErrorCode};

/// An engine of `instances` slots whose calls wait up to `wait` for one.
fn pooled_waiting(instances: u32, wait: Duration) -> Engine {
    Engine::with_config(EngineConfig {
        pool_instances: instances,
        instance_wait: wait,
        ..EngineConfig::default()
    })
    .expect("engine")
}

/// An engine of `instances` slots whose calls wait as long as it takes.
fn pooled(instances: u32) -> Engine {
    pooled_waiting(instances, Duration::from_secs(600))
}

fn cached(dir: &std::path::Path) -> Engine {
    Engine::with_config(EngineConfig {
        cache_dir: Some(dir.join("modcache")),
        ..EngineConfig::default()
    })
    .expect("engine")
}

#[test]
fn defaults_cover_every_builtin_profile() {
    let config = EngineConfig::default();
    assert_eq!(config.pool_instances, 1000);
    assert_eq!(config.instance_wait, Duration::from_secs(1));
    assert_eq!(config.cache_dir, None);
    for name in Profile::names() {
        let profile = Profile::builtin(name).expect("builtin");
        assert!(
            profile.memory_bytes <= config.pool_max_memory_bytes,
            "{name}"
        );
    }
    assert_eq!(config.pool_max_memory_bytes, largest_builtin_memory());
}

#[test]
fn an_empty_pool_is_refused() {
    let err = Engine::with_config(EngineConfig {
        pool_instances: 0,
        ..EngineConfig::default()
    })
    .expect_err("no instances");
    assert!(err.to_string().contains("pool_instances"), "{err}");
}

#[tokio::test]
async fn a_full_pool_makes_new_instances_wait() {
    let engine = pooled(1);
    let module = guest(&engine, "kernel_counter");
    let first = engine
        .kernel(&module, &Profile::compute())
        .await
        .expect("first kernel");
    assert_eq!(engine.pool_available(), 0);

    // The second kernel waits for the first one's slot instead of failing.
    let (e2, m2) = (engine.clone(), module.clone());
    let mut second = tokio::spawn(async move { e2.kernel(&m2, &Profile::compute()).await });
    let waited = tokio::time::timeout(Duration::from_millis(200), &mut second).await;
    assert!(waited.is_err(), "must wait for a pool slot");
    drop(first);
    let second = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("gets the freed slot")
        .expect("join")
        .expect("second kernel");
    second.call(b"").await.expect("call");
    drop(second);
    assert_eq!(engine.pool_available(), 1);
}

#[tokio::test]
async fn a_pool_that_stays_full_past_the_wait_answers_with_a_code() {
    let engine = pooled_waiting(1, Duration::from_millis(100));
    let module = guest(&engine, "kernel_counter");
    let held = engine
        .kernel(&module, &Profile::compute())
        .await
        .expect("first kernel");

    let expected = CallError::InstancesExhausted {
        max: 1,
        waited: Duration::from_millis(100),
    };
    let err = engine
        .kernel(&module, &Profile::compute())
        .await
        .expect_err("no slot frees");
    assert_eq!(err, expected);
    let command = guest(&engine, "hello");
    let err = run(&engine, &command).await.expect_err("no slot frees");
    assert_eq!(err, expected);
    assert_eq!(err.code(), ErrorCode::InstancesExhausted);
    assert_eq!(
        err.to_string(),
        "the node runs its maximum of 1 wasm instances at once and none freed within 100ms"
    );

    // Refused, not broken: once the slot frees, calls run again.
    drop(held);
    assert_eq!(run(&engine, &command).await.expect("runs").exit_code, 0);
    assert_eq!(engine.pool_available(), 1);
}

#[tokio::test]
async fn commands_beyond_the_pool_queue_and_all_finish() {
    let engine = pooled(2);
    let module = guest(&engine, "hello");
    let calls = (0..8).map(|_| {
        let (engine, module) = (engine.clone(), module.clone());
        tokio::spawn(async move {
            engine
                .run_command(&module, &Profile::compute(), CommandInput::default())
                .await
        })
    });
    for call in calls.collect::<Vec<_>>() {
        let out = call.await.expect("join").expect("command");
        assert_eq!(out.exit_code, 0);
    }
    assert_eq!(engine.pool_available(), 2);
}

#[tokio::test]
async fn the_pool_ceiling_is_a_memory_limit() {
    let engine = Engine::with_config(EngineConfig {
        pool_max_memory_bytes: 1 << 20,
        ..EngineConfig::default()
    })
    .expect("engine");
    // compute allows 64 MiB; the pool only 1 MiB.
    let err = run(&engine, &guest(&engine, "grow_loop"))
        .await
        .expect_err("grows");
    assert!(matches!(err, CallError::MemoryLimit(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("instance pool limit of 1 MiB (its profile allows 64 MiB)"),
        "{err}"
    );
    let out = run(&engine, &guest(&engine, "grow_handled"))
        .await
        .expect("copes");
    assert_eq!(out.exit_code, 0);
}

#[tokio::test]
async fn a_second_engine_loads_the_module_from_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = guest_source("hello");
    let digest = sha(source.as_bytes());

    let first = cached(dir.path());
    first.compile(&digest, source.as_bytes()).expect("compile");
    assert_eq!(first.disk_cache_hits(), 0);
    let path = first.disk_cache_path(&digest).expect("disk cache");
    assert!(path.is_file(), "{} written", path.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path.parent().expect("dir"))
            .expect("dir")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    drop(first);

    let second = cached(dir.path());
    let module = second
        .compile(&digest, source.as_bytes())
        .expect("from disk");
    assert_eq!(second.disk_cache_hits(), 1);
    let out = run(&second, &module).await.expect("runs");
    assert_eq!(out.exit_code, 0);
    assert!(!out.stdout.is_empty());

    // The declared digest is checked before the disk cache is consulted.
    let third = cached(dir.path());
    let err = third
        .compile(&digest, b"(module)")
        .expect_err("wrong bytes");
    assert!(matches!(err, CallError::ModuleInvalid(_)), "{err:?}");
    assert_eq!(third.disk_cache_hits(), 0);
}

#[tokio::test]
async fn a_truncated_cache_file_is_recompiled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = guest_source("hello");
    let digest = sha(source.as_bytes());
    let path = {
        let first = cached(dir.path());
        first.compile(&digest, source.as_bytes()).expect("compile");
        first.disk_cache_path(&digest).expect("disk cache")
    };
    let full = std::fs::read(&path).expect("cache file");
    std::fs::write(&path, &full[..full.len() / 2]).expect("truncate");

    let second = cached(dir.path());
    let module = second
        .compile(&digest, source.as_bytes())
        .expect("recompiled");
    assert_eq!(second.disk_cache_hits(), 0);
    assert_eq!(run(&second, &module).await.expect("runs").exit_code, 0);
    assert_eq!(
        std::fs::read(&path).expect("rewritten").len(),
        full.len(),
        "the cache file is written again"
    );

    // Garbage is no better than a truncated file.
    std::fs::write(&path, b"not a module").expect("garbage");
    let third = cached(dir.path());
    third
        .compile(&digest, source.as_bytes())
        .expect("recompiled");
    assert_eq!(third.disk_cache_hits(), 0);
    let fourth = cached(dir.path());
    fourth
        .compile(&digest, source.as_bytes())
        .expect("from disk");
    assert_eq!(fourth.disk_cache_hits(), 1);
}
