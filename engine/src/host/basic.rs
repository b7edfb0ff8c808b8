//! The `log`, `clock` and `random` groups.

use nexus_abi::LogLevel;
use rand::RngCore;
use wasmtime::{Caller, Linker};

use super::super::abi::{self, ERR_INVALID, ERR_RATE, LOG_LINES_PER_CALL, MAX_LOG, MAX_RANDOM};
use super::super::capability::Capability;
use super::super::state::GuestState;
use super::{granted, mem, ret};

pub(super) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.func_wrap(abi::MODULE, "log_write", log_write)?;
    linker.func_wrap(abi::MODULE, "clock_now_ms", clock_now_ms)?;
    linker.func_wrap(abi::MODULE, "clock_monotonic_ns", clock_monotonic_ns)?;
    linker.func_wrap(abi::MODULE, "random_fill", random_fill)?;
    Ok(())
}

/// `log_write(level, ptr, len) -> 0 | error`: level 0 trace .. 4 error.
fn log_write(mut caller: Caller<'_, GuestState>, level: i32, ptr: i32, len: i32) -> i32 {
    ret((|| {
        granted(caller.data(), Capability::Log, "log_write")?;
        let level = LogLevel::from_number(level).ok_or(ERR_INVALID)?;
        let bytes = mem::read_capped(&mut caller, ptr, len, MAX_LOG, "log", || {
            "log_write: message".to_string()
        })?;
        let host = &mut caller.data_mut().host;
        if host.logs_left == 0 {
            if !host.log_flood_counted {
                host.log_flood_counted = true;
                let target = format!("more than {LOG_LINES_PER_CALL} log lines in one call");
                host.sandbox.deny("log", &target);
            }
            return Err(ERR_RATE);
        }
        host.logs_left -= 1;
        let sandbox = host.sandbox.id();
        let msg = String::from_utf8_lossy(&bytes);
        match level {
            LogLevel::Trace => tracing::trace!(sandbox, guest = %msg, "guest log"),
            LogLevel::Debug => tracing::debug!(sandbox, guest = %msg, "guest log"),
            LogLevel::Info => tracing::info!(sandbox, guest = %msg, "guest log"),
            LogLevel::Warn => tracing::warn!(sandbox, guest = %msg, "guest log"),
            LogLevel::Error => tracing::error!(sandbox, guest = %msg, "guest log"),
        }
        Ok(0)
    })())
}

/// `clock_now_ms() -> i64`: Unix time in milliseconds (`ERR_DENIED` if not granted).
fn clock_now_ms(caller: Caller<'_, GuestState>) -> i64 {
    if let Err(code) = granted(caller.data(), Capability::Clock, "clock_now_ms") {
        return code.into();
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `clock_monotonic_ns() -> i64`: nanoseconds since an arbitrary fixed
/// point of this node process.
fn clock_monotonic_ns(caller: Caller<'_, GuestState>) -> i64 {
    if let Err(code) = granted(caller.data(), Capability::Clock, "clock_monotonic_ns") {
        return code.into();
    }
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let origin = ORIGIN.get_or_init(std::time::Instant::now);
    i64::try_from(origin.elapsed().as_nanos()).unwrap_or(i64::MAX)
}

/// `random_fill(ptr, len) -> 0 | error`: fills the buffer with secure random bytes.
fn random_fill(mut caller: Caller<'_, GuestState>, ptr: i32, len: i32) -> i32 {
    ret((|| {
        granted(caller.data(), Capability::Random, "random_fill")?;
        if len as u32 as usize > MAX_RANDOM {
            return Err(abi::ERR_TOO_LARGE);
        }
        let m = mem::memory(&mut caller)?;
        let data = m.data_mut(&mut caller);
        let r = mem::range(ptr, len, data.len())?;
        rand::rng().fill_bytes(&mut data[r]);
        Ok(0)
    })())
}
