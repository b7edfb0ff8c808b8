//! The `command` call shape: a WASI preview 1 program run through `_start`,
//! with args, environment variables and stdin in and stdout, stderr and the
//! exit code out; the volumes as preopened directories under the `vfs`
//! capability (see [`mount`](super::mount)). No network, never the host's
//! environment.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{ExternType, Linker};
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use super::cache::{short, CompiledModule};
use super::capability::Capability;
use super::config::Pool;
use super::context::SandboxContext;
use super::deadline;
use super::error::CallError;
use super::link::{self, kind};
use super::mount::{MountError, Mounts};
use super::profile::Profile;
use super::state::GuestState;
use super::trap;

/// What a `command` call gets.
#[derive(Debug, Clone, Default)]
pub struct CommandInput {
    /// Arguments after `argv[0]` (which is the module's name).
    pub args: Vec<String>,
    /// The whole of stdin; the guest reads end-of-file after it.
    pub stdin: Vec<u8>,
    /// The guest's environment (`environ_get`), in this order; checked by
    /// the caller (see `nexus_workbook::check_env`).
    pub env: Vec<(String, String)>,
}

/// What a finished `command` call gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// 0 when `_start` returned; `n` when the guest called `proc_exit(n)`.
    pub exit_code: i32,
    /// Everything the guest wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything the guest wrote to stderr.
    pub stderr: Vec<u8>,
    /// Wall-clock time of the whole call, instantiation included.
    pub elapsed: Duration,
}

/// Checks that `module` exports `_start` as a command must.
fn check_start(module: &CompiledModule) -> Result<(), CallError> {
    match module.module().get_export("_start") {
        Some(ExternType::Func(f)) if f.params().len() == 0 && f.results().len() == 0 => Ok(()),
        Some(other) => Err(CallError::InstantiateFailed(format!(
            "module exports `_start` as {}, not a function without parameters or results",
            kind(&other)
        ))),
        None => Err(CallError::InstantiateFailed(
            "module has no `_start` export; build it as a WASI command (a wasm32-wasip1 binary)"
                .to_string(),
        )),
    }
}

/// Where a failed call failed.
pub(crate) enum Phase {
    Instantiate,
    Run,
}

/// What a command call uses of its engine.
pub(crate) struct Runner<'a> {
    pub(crate) engine: &'a wasmtime::Engine,
    pub(crate) linker: &'a Linker<GuestState>,
    pub(crate) pool: &'a Pool,
    /// Where the call's volume directories go.
    pub(crate) mount_root: &'a Path,
}

/// Runs `module`'s `_start` under `profile`.
pub(crate) async fn run(
    runner: Runner<'_>,
    module: &CompiledModule,
    profile: &Profile,
    input: CommandInput,
    sandbox: Arc<SandboxContext>,
) -> Result<CommandOutput, CallError> {
    let Runner {
        engine,
        linker,
        pool,
        mount_root,
    } = runner;
    let started = Instant::now();
    let pre = link::prepare(engine, linker, module, profile, &sandbox)?;
    check_start(module)?;
    let mounts = if profile.grants(Capability::Vfs) && uses_paths(module) {
        Some(mount(&sandbox, mount_root, profile).await?)
    } else {
        None
    };

    // One byte over the cap: output of exactly the cap is fine, more is not.
    let pipe_cap = profile.output_bytes.saturating_add(1);
    let stdout = MemoryOutputPipe::new(pipe_cap);
    let stderr = MemoryOutputPipe::new(pipe_cap);
    let mut argv = Vec::with_capacity(input.args.len() + 1);
    argv.push(module.name().to_string());
    argv.extend(input.args);
    let mut wasi = WasiCtxBuilder::new();
    wasi.args(&argv)
        .envs(&input.env)
        .stdin(MemoryInputPipe::new(input.stdin))
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    if let Some(mounts) = &mounts {
        mounts.preopen(&mut wasi).map_err(setup_failed)?;
    }
    let wasi = wasi.build_p1();
    // The pool slot is declared before the store so it is dropped after it:
    // the instance goes back to the pool before the slot is given up.
    let mut pool_slot = None;
    // The CPU meter and the wall deadline start together.
    let armed = Instant::now();
    let mut store = link::store(
        engine,
        profile,
        pool.max_memory_bytes(),
        sandbox.clone(),
        wasi,
        armed,
    );
    store.data_mut().quota = mounts.as_ref().map(Mounts::quota);

    let call = async {
        // Kept in the store so `fabric_map` can give it up while it waits.
        store.data_mut().host.call_slot = sandbox.slot().await;
        match pool.acquire().await {
            Ok(permit) => pool_slot = Some(permit),
            // Kept as itself: the verdict below reports it unchanged.
            Err(e) => return Err((Phase::Instantiate, wasmtime::Error::new(e))),
        }
        let instance = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| (Phase::Instantiate, e))?;
        let start = instance
            .get_typed_func::<(), ()>(&mut store, "_start")
            .map_err(|e| (Phase::Instantiate, e))?;
        start
            .call_async(&mut store, ())
            .await
            .map_err(|e| (Phase::Run, e))
    };
    let outcome = deadline::within(profile.wall_time, armed, call).await;
    let elapsed = started.elapsed();

    let stdout = stdout.contents().to_vec();
    let stderr = stderr.contents().to_vec();
    let verdict = match outcome {
        Err(_) => Err(CallError::Timeout {
            limit: profile.wall_time,
        }),
        Ok(Ok(())) => Ok(0),
        Ok(Err((phase, e))) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(exit.0),
            None => Err(match e.downcast::<CallError>() {
                Ok(refused) => refused,
                Err(e) => classify(store.data(), profile, phase, &e, &stderr),
            }),
        },
    };
    let cpu = store.data().cpu.used();
    // The instance back to the pool, then its slot (in that order).
    drop(store);
    drop(pool_slot);
    tracing::debug!(
        sandbox = sandbox.id(),
        sha256 = short(module.sha256()),
        ?verdict,
        cpu_us = u64::try_from(cpu.as_micros()).unwrap_or(u64::MAX),
        elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        "command finished"
    );
    // Too much output wins over anything the guest did after its write failed.
    let over = [("stdout", &stdout), ("stderr", &stderr)]
        .into_iter()
        .find(|(_, bytes)| bytes.len() > profile.output_bytes);
    if let Some(mounts) = mounts {
        let keep = verdict.is_ok() && over.is_none();
        write_back(mounts, &sandbox, keep).await?;
    }
    if let Some((stream, _)) = over {
        return Err(CallError::OutputLimit {
            stream,
            limit: profile.output_bytes,
        });
    }
    Ok(CommandOutput {
        exit_code: verdict?,
        stdout,
        stderr,
        elapsed,
    })
}

/// Whether `module` reaches files by path (imports `path_*`,
/// `fd_prestat_*` or `fd_readdir`): only then are the volumes written out.
fn uses_paths(module: &CompiledModule) -> bool {
    module.module().imports().any(|i| {
        i.module() == "wasi_snapshot_preview1"
            && (i.name().starts_with("path_")
                || i.name().starts_with("fd_prestat")
                || i.name() == "fd_readdir")
    })
}

/// The sandbox's volumes written out under `root`, off the async threads.
async fn mount(
    sandbox: &Arc<SandboxContext>,
    root: &Path,
    profile: &Profile,
) -> Result<Mounts, CallError> {
    let data = sandbox.data().clone();
    let root = root.to_path_buf();
    let profile = profile.clone();
    tokio::task::spawn_blocking(move || Mounts::materialise(data.as_ref(), &root, &profile))
        .await
        .map_err(|e| CallError::Internal(format!("volume task failed: {e}")))?
        .map_err(setup_failed)
}

/// Writes the call's changes back if `keep`, then removes its directories,
/// off the async threads.
async fn write_back(
    mounts: Mounts,
    sandbox: &Arc<SandboxContext>,
    keep: bool,
) -> Result<(), CallError> {
    let data = sandbox.data().clone();
    let id = sandbox.id().to_string();
    let outcome = tokio::task::spawn_blocking(move || {
        let outcome = if keep {
            mounts.sync_back(data.as_ref())
        } else {
            Ok((0, 0))
        };
        drop(mounts);
        outcome
    })
    .await
    .map_err(|e| CallError::Internal(format!("volume task failed: {e}")))?;
    match outcome {
        Ok((0, 0)) => Ok(()),
        Ok((written, removed)) => {
            tracing::debug!(sandbox = id, written, removed, "volumes written back");
            Ok(())
        }
        Err(MountError::OverQuota { volume, bytes, limit }) => Err(CallError::VolumeFull(format!(
            "/{volume} holds {bytes} bytes after the call, over its {limit}-byte quota; nothing the call wrote was kept"
        ))),
        Err(MountError::Unstorable { volume, path, reason }) => {
            Err(CallError::VolumeUnstorable(format!(
                "/{volume}/{path}: {reason}; nothing the call wrote was kept"
            )))
        }
        Err(e) => Err(CallError::Internal(format!(
            "writing the call's files back failed: {e}"
        ))),
    }
}

fn setup_failed(e: MountError) -> CallError {
    CallError::Internal(format!(
        "preparing the call's volume directories failed: {e}"
    ))
}

/// The user-facing error for a failed instantiation or `_start`: a limit the
/// guest hit comes first (CPU, then memory), then the trap, then anything else. Traps and
/// memory failures quote the end of the guest's stderr (a panic message).
pub(crate) fn classify(
    state: &GuestState,
    profile: &Profile,
    phase: Phase,
    e: &wasmtime::Error,
    stderr: &[u8],
) -> CallError {
    // The CPU meter stopping the guest is why it stopped, even after a
    // denied growth it went on from (a loop growing a table until stopped).
    if state.cpu.exhausted() {
        return CallError::CpuLimit {
            limit: profile.cpu_time,
        };
    }
    if let Some(denial) = state.limits.denial() {
        return CallError::MemoryLimit(with_stderr(denial.to_string(), stderr));
    }
    match phase {
        Phase::Instantiate if !trap::is_trap(e) => CallError::InstantiateFailed(format!(
            "instantiating the module failed: {}",
            trap::chain(e)
        )),
        _ => CallError::Trapped(with_stderr(trap::describe(e), stderr)),
    }
}

/// Most bytes of stderr quoted in an error message.
const STDERR_TAIL: usize = 512;

/// `message`, then the last lines of `stderr` on one line, if any.
pub(crate) fn with_stderr(message: String, stderr: &[u8]) -> String {
    let tail = &stderr[stderr.len().saturating_sub(STDERR_TAIL)..];
    let text = String::from_utf8_lossy(tail);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return message;
    }
    let cut = if tail.len() < stderr.len() { "..." } else { "" };
    format!("{message}; guest stderr: {cut}{}", lines.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::with_stderr;

    #[test]
    fn quotes_the_end_of_stderr() {
        assert_eq!(with_stderr("trap".into(), b""), "trap");
        assert_eq!(with_stderr("trap".into(), b"\n \n"), "trap");
        assert_eq!(
            with_stderr(
                "trap".into(),
                b"thread 'main' panicked at a.rs:1:1:\nboom\n"
            ),
            "trap; guest stderr: thread 'main' panicked at a.rs:1:1: | boom"
        );
        let long = format!("{}end", "x".repeat(1000));
        let quoted = with_stderr("trap".into(), long.as_bytes());
        assert!(quoted.starts_with("trap; guest stderr: ...xxx"), "{quoted}");
        assert!(quoted.ends_with("end") && quoted.len() < 600, "{quoted}");
    }
}
