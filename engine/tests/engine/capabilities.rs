//! Host ABI v1 behind capabilities: refused imports, kv/vfs round trips
//! through `MemoryData`, hostile pointers, path escapes and denial counts.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::support::{engine, guest, CountingSigner};
use nexus_engine::{
    CallError, Capabilities, Capability, CommandInput, MemoryData, Profile, ProfileSpec,
    ProfileTable, SandboxContext, SandboxData,
};
use nexus_errors::{Coded, ErrorCode};
use nexus_workbook::Volume;

/// A compute profile granting only `caps`.
fn granting(name: &str, caps: &[Capability]) -> Profile {
    Profile {
        name: name.to_string(),
        capabilities: Capabilities::of(caps),
        ..Profile::compute()
    }
}

fn sandbox(profile: &Profile) -> (Arc<MemoryData>, Arc<SandboxContext>) {
    let data = Arc::new(MemoryData::new());
    let ctx = Arc::new(SandboxContext::new("sb-1", data.clone(), profile));
    (data, ctx)
}

/// Runs `module` for `ctx`; its exit code.
async fn exit_code(
    engine: &nexus_engine::Engine,
    module: &nexus_engine::CompiledModule,
    profile: &Profile,
    ctx: &Arc<SandboxContext>,
) -> i32 {
    engine
        .run_command_with(module, profile, CommandInput::default(), ctx.clone())
        .await
        .expect("runs")
        .exit_code
}

#[tokio::test]
async fn ungranted_import_is_refused_naming_it_and_the_capability() {
    let engine = engine();
    let module = guest(&engine, "kv_import");
    let profile = granting("x", &[Capability::Vfs]);
    let (_, ctx) = sandbox(&profile);
    let err = engine
        .run_command_with(&module, &profile, CommandInput::default(), ctx.clone())
        .await
        .expect_err("refused");
    assert_eq!(err.code(), ErrorCode::CallInstantiateFailed);
    assert_eq!(
        err.to_string(),
        "module imports nexus_v1.kv_get, which needs capability `kv`; profile `x` does not grant it"
    );
    let denials = ctx.denials().snapshot();
    assert_eq!(denials.total, 1);
    assert_eq!(denials.by_capability["kv"], 1);
    assert_eq!(denials.recent[0].target, "import nexus_v1.kv_get");

    // The same module runs where `kv` is granted.
    let out = engine
        .run_command(&module, &Profile::compute(), CommandInput::default())
        .await
        .expect("runs under compute");
    assert_eq!(out.exit_code, 0);
}

#[tokio::test]
async fn unknown_and_ungranted_groups_are_refused() {
    let engine = engine();
    let err = engine
        .run_command(
            &guest(&engine, "unknown_group"),
            &Profile::network(),
            CommandInput::default(),
        )
        .await
        .expect_err("unknown group");
    assert_eq!(
        err.to_string(),
        "module imports nexus_v1.exec_run, which needs capability `exec`; host ABI v1 has no such capability"
    );
    let queue = guest(&engine, "queue_import");
    let err = engine
        .run_command(&queue, &Profile::compute(), CommandInput::default())
        .await
        .expect_err("not granted");
    assert_eq!(
        err.to_string(),
        "module imports nexus_v1.queue_push, which needs capability `queue`; profile `compute` does not grant it"
    );
    let out = engine
        .run_command(&queue, &Profile::standard(), CommandInput::default())
        .await
        .expect("granted by standard");
    assert_eq!(out.exit_code, 0);
}

#[tokio::test]
async fn kv_and_vfs_round_trip_through_memory_data() {
    let engine = engine();
    let profile = Profile::compute();
    let (data, ctx) = sandbox(&profile);
    let out = engine
        .run_command_with(
            &guest(&engine, "kv_vfs"),
            &profile,
            CommandInput::default(),
            ctx.clone(),
        )
        .await
        .expect("runs");
    assert_eq!(out.exit_code, 0, "failed check {}", out.exit_code);
    assert_eq!(out.stdout, b"hellonote!");
    assert_eq!(
        data.kv_get("greeting").expect("kv"),
        Some(b"hello".to_vec())
    );
    assert_eq!(
        data.read_file(Volume::Memory, "notes/a.txt").expect("read"),
        Some(b"note!".to_vec())
    );
    assert_eq!(
        data.list(Volume::Workspace, "").expect("list"),
        Vec::<String>::new()
    );
    assert_eq!(ctx.denials().total(), 0);
}

#[tokio::test]
async fn hostile_pointers_get_error_codes_and_the_host_survives() {
    let engine = engine();
    let profile = Profile::compute();
    let (data, ctx) = sandbox(&profile);
    let module = guest(&engine, "hostile_pointers");
    for _ in 0..2 {
        let failed = exit_code(&engine, &module, &profile, &ctx).await;
        assert_eq!(failed, 0, "check {failed} got the wrong code");
    }
    assert_eq!(data.kv_get("k").expect("kv"), Some(b"a.txt".to_vec()));
    // One oversized path and one oversized value per run were counted;
    // bounds errors and invalid arguments are not denials.
    let denials = ctx.denials().snapshot();
    assert_eq!(denials.by_capability.get("vfs"), Some(&2));
    assert_eq!(denials.by_capability.get("kv"), Some(&2));
}

#[tokio::test]
async fn path_escapes_are_refused_and_counted() {
    let engine = engine();
    let profile = Profile::compute();
    let (data, ctx) = sandbox(&profile);
    let out = engine
        .run_command_with(
            &guest(&engine, "path_escape"),
            &profile,
            CommandInput::default(),
            ctx.clone(),
        )
        .await
        .expect("runs");
    assert_eq!(out.exit_code, 0, "check {} was not denied", out.exit_code);
    let denials = ctx.denials().snapshot();
    assert_eq!(denials.total, 3);
    assert_eq!(denials.by_capability["vfs"], 3);
    let targets: Vec<&str> = denials.recent.iter().map(|d| d.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "vfs_write workspace/../x: empty, `.` or `..` component",
            "vfs_read workspace//etc/passwd: absolute path",
            "vfs_delete tmp/notes/../../secret: empty, `.` or `..` component",
        ]
    );
    assert!(data.list(Volume::Workspace, "").expect("list").is_empty());
}

#[tokio::test]
async fn log_flood_is_rate_limited_and_counted_once() {
    let engine = engine();
    let profile = Profile::compute();
    let (_, ctx) = sandbox(&profile);
    let out = engine
        .run_command_with(
            &guest(&engine, "log_flood"),
            &profile,
            CommandInput::default(),
            ctx.clone(),
        )
        .await
        .expect("runs");
    assert_eq!(out.exit_code, 7, "the last line gets ERR_RATE");
    assert_eq!(ctx.denials().snapshot().by_capability["log"], 1);
}

#[test]
fn custom_profile_from_toml_resolves() {
    let text = r#"
        [profiles.batch]
        base = "standard"
        memory_mib = 32
        cpu_ms = 200
        wall_ms = 1000
        output_kib = 64
        max_concurrent = 2
        capabilities = ["kv", "log"]
    "#;
    #[derive(serde::Deserialize)]
    struct Config {
        profiles: BTreeMap<String, ProfileSpec>,
    }
    let config: Config = toml::from_str(text).expect("toml");
    let table = ProfileTable::with_custom(&config.profiles).expect("table");
    let p = table.resolve("batch");
    assert_eq!(p.name, "batch");
    assert_eq!(p.memory_bytes, 32 << 20);
    assert_eq!(p.cpu_time.as_millis(), 200);
    assert_eq!(p.wall_time.as_millis(), 1000);
    assert_eq!(p.output_bytes, 64 << 10);
    assert_eq!(p.max_concurrent, 2);
    assert_eq!(
        p.capabilities,
        Capabilities::of(&[Capability::Kv, Capability::Log])
    );
    assert_eq!(table.resolve("typo"), Profile::compute());
    assert_eq!(Profile::resolve("batch"), Profile::compute());

    let err = toml::from_str::<Config>("[profiles.x]\ncapabilities = [\"root\"]")
        .err()
        .expect("unknown capability refused");
    assert!(
        err.to_string().contains("unknown capability `root`"),
        "{err}"
    );
}

#[tokio::test]
async fn custom_profile_gates_imports() {
    let engine = engine();
    let mut custom = BTreeMap::new();
    custom.insert(
        "logonly".to_string(),
        ProfileSpec {
            capabilities: Some(Capabilities::of(&[Capability::Log])),
            ..ProfileSpec::default()
        },
    );
    let table = ProfileTable::with_custom(&custom).expect("table");
    let err = engine
        .run_command(
            &guest(&engine, "kv_vfs"),
            &table.resolve("logonly"),
            CommandInput::default(),
        )
        .await
        .expect_err("refused");
    assert!(matches!(err, CallError::InstantiateFailed(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("profile `logonly` does not grant it"),
        "{err}"
    );
}

#[tokio::test]
async fn queue_sign_and_net_survive_hostile_pointers() {
    let signer = Arc::new(CountingSigner::default());
    let engine = nexus_engine::Engine::with_config(nexus_engine::EngineConfig {
        host: nexus_engine::HostConfig {
            signer: Some(signer.clone()),
            ..Default::default()
        },
        ..Default::default()
    })
    .expect("engine");
    let profile = Profile::network();
    let ctx = Arc::new(
        SandboxContext::new("sb-1", Arc::new(MemoryData::new()), &profile)
            .with_tenant("tn_1", engine.services().clone()),
    );
    let module = guest(&engine, "hostile_services");
    let failed = exit_code(&engine, &module, &profile, &ctx).await;
    assert_eq!(failed, 0, "check {failed} got the wrong code");
    let denials = ctx.denials().snapshot();
    assert_eq!(denials.by_capability.get("queue"), Some(&2));
    assert_eq!(denials.by_capability.get("net"), Some(&1));
    assert!(signer.uses() > 0, "the guest reached the tenant signer");

    // Without a tenant, signing is denied (and counted).
    let (_, anonymous) = sandbox(&profile);
    let failed = exit_code(&engine, &module, &profile, &anonymous).await;
    assert_eq!(failed, 13, "sign_message without a tenant");
    let denials = anonymous.denials().snapshot();
    assert_eq!(denials.by_capability.get("sign"), Some(&1));
}
