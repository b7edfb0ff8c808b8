//! Errors of the engine: [`EngineError`] when the engine cannot be set up,
//! [`CallError`] when compiling or running a guest fails. Both map to the
//! error catalog through [`Coded`].

use std::time::Duration;

use nexus_errors::{Coded, ErrorCode};

/// The engine could not be set up (a node environment problem, not a guest's).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// wasmtime rejected the engine configuration.
    #[error("wasm engine setup failed: {0}")]
    Config(String),
    /// Host functions could not be linked.
    #[error("linking host functions failed: {0}")]
    Linker(String),
    /// The epoch ticker thread could not be started.
    #[error("starting the epoch ticker failed: {0}")]
    Ticker(#[from] std::io::Error),
}

impl Coded for EngineError {
    fn code(&self) -> ErrorCode {
        ErrorCode::Internal
    }
}

/// Why a call (or the compilation before it) failed. Every message names
/// what failed: the trap, the limit, the missing import or export.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The guest trapped; the message names the trap and where.
    #[error("{0}")]
    Trapped(String),
    /// The guest ran past its CPU time budget.
    #[error("guest used its {} CPU time limit", fmt_duration(*.limit))]
    CpuLimit {
        /// The profile's CPU time.
        limit: Duration,
    },
    /// The guest tried to grow memory (or a table) past its cap.
    #[error("{0}")]
    MemoryLimit(String),
    /// The call did not finish before its wall-clock deadline.
    #[error("call did not finish within its {} wall-clock limit", fmt_duration(*.limit))]
    Timeout {
        /// The profile's wall time.
        limit: Duration,
    },
    /// The guest wrote more than the cap to one of its output streams.
    #[error("guest wrote more than its {} output limit to {stream}", fmt_bytes(*.limit as u64))]
    OutputLimit {
        /// `stdout` or `stderr`.
        stream: &'static str,
        /// The profile's output cap, in bytes.
        limit: usize,
    },
    /// The input does not fit the kernel's arena.
    #[error("input is larger than the kernel's {} arena", fmt_bytes(*.limit as u64))]
    InputTooLarge {
        /// The arena's capacity, in bytes.
        limit: usize,
    },
    /// The module could not be instantiated (missing import, no `_start`,
    /// an import its profile does not grant...).
    #[error("{0}")]
    InstantiateFailed(String),
    /// The module is not valid WebAssembly (or not what its digest says).
    #[error("{0}")]
    ModuleInvalid(String),
    /// The module is larger than the node compiles.
    #[error("{0}")]
    ModuleTooLarge(String),
    /// The module defines more functions than the node compiles.
    #[error("{0}")]
    ModuleTooManyFunctions(String),
    /// A function of the module is too large or too deeply nested.
    #[error("{0}")]
    ModuleTooComplex(String),
    /// Compiling (or waiting for a compile slot) took longer than the
    /// compile deadline.
    #[error("compiling the module did not finish within its {} deadline (the node's limits.compile_timeout_ms, or the profile's compile_ms if tighter)", fmt_duration(*.limit))]
    CompileTimeout {
        /// The compile deadline that applied (the node's, or a tighter profile's).
        limit: Duration,
    },
    /// The call grew a volume past its profile's quota; none of its file
    /// changes were kept.
    #[error("{0}")]
    VolumeFull(String),
    /// The call left a file a volume cannot store (a link, a name that is
    /// not UTF-8, too many files); none of its file changes were kept.
    #[error("{0}")]
    VolumeUnstorable(String),
    /// Every instance slot of the node stayed taken for the whole wait: the
    /// node runs as many instances at once as it is configured for.
    #[error(
        "the node runs its maximum of {max} wasm instances at once and none freed within {}",
        fmt_duration(*.waited)
    )]
    InstancesExhausted {
        /// The node's instance ceiling.
        max: u32,
        /// How long the call waited for a slot.
        waited: Duration,
    },
    /// Something failed inside the node, not in the guest.
    #[error("{0}")]
    Internal(String),
}

impl Coded for CallError {
    fn code(&self) -> ErrorCode {
        match self {
            CallError::Trapped(_) => ErrorCode::CallTrapped,
            CallError::CpuLimit { .. } => ErrorCode::CallCpuLimit,
            CallError::MemoryLimit(_) => ErrorCode::CallMemoryLimit,
            CallError::Timeout { .. } => ErrorCode::CallTimeout,
            CallError::OutputLimit { .. } => ErrorCode::CallOutputLimit,
            CallError::InstantiateFailed(_) => ErrorCode::CallInstantiateFailed,
            CallError::InputTooLarge { .. } => ErrorCode::RequestInvalid,
            CallError::ModuleInvalid(_) => ErrorCode::WorkbookModuleInvalid,
            CallError::ModuleTooLarge(_) => ErrorCode::ModuleTooLarge,
            CallError::ModuleTooManyFunctions(_) => ErrorCode::ModuleTooManyFunctions,
            CallError::ModuleTooComplex(_) => ErrorCode::ModuleTooComplex,
            CallError::CompileTimeout { .. } => ErrorCode::ModuleCompileTimeout,
            CallError::VolumeFull(_) => ErrorCode::CallVolumeFull,
            CallError::VolumeUnstorable(_) => ErrorCode::CallVolumeUnstorable,
            CallError::InstancesExhausted { .. } => ErrorCode::InstancesExhausted,
            CallError::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// `5s`, `1.5s` or `200ms`: a duration as a person writes it.
pub(crate) fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms >= 1000 {
        format!("{}s", d.as_secs_f64())
    } else {
        format!("{ms}ms")
    }
}

/// `64 MiB`, `64.06 MiB`, `4 KiB` or `1000 bytes`.
pub(crate) fn fmt_bytes(n: u64) -> String {
    const MIB: u64 = 1 << 20;
    const KIB: u64 = 1 << 10;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= MIB {
        format!("{:.2} MiB", n as f64 / MIB as f64)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_limit() {
        let cpu = CallError::CpuLimit {
            limit: Duration::from_secs(5),
        };
        assert_eq!(cpu.to_string(), "guest used its 5s CPU time limit");
        let out = CallError::OutputLimit {
            stream: "stdout",
            limit: 1 << 20,
        };
        assert_eq!(
            out.to_string(),
            "guest wrote more than its 1 MiB output limit to stdout"
        );
        let t = CallError::Timeout {
            limit: Duration::from_millis(1500),
        };
        assert_eq!(
            t.to_string(),
            "call did not finish within its 1.5s wall-clock limit"
        );
        assert_eq!(fmt_duration(Duration::from_millis(200)), "200ms");
        assert_eq!(fmt_bytes(1000), "1000 bytes");
        assert_eq!(fmt_bytes(67174400), "64.06 MiB");
    }

    #[test]
    fn codes() {
        let cases = [
            (CallError::Trapped(String::new()), ErrorCode::CallTrapped),
            (
                CallError::CpuLimit {
                    limit: Duration::ZERO,
                },
                ErrorCode::CallCpuLimit,
            ),
            (
                CallError::MemoryLimit(String::new()),
                ErrorCode::CallMemoryLimit,
            ),
            (
                CallError::Timeout {
                    limit: Duration::ZERO,
                },
                ErrorCode::CallTimeout,
            ),
            (
                CallError::OutputLimit {
                    stream: "stderr",
                    limit: 0,
                },
                ErrorCode::CallOutputLimit,
            ),
            (
                CallError::InstantiateFailed(String::new()),
                ErrorCode::CallInstantiateFailed,
            ),
            (
                CallError::ModuleInvalid(String::new()),
                ErrorCode::WorkbookModuleInvalid,
            ),
            (CallError::Internal(String::new()), ErrorCode::Internal),
            (
                CallError::InputTooLarge { limit: 0 },
                ErrorCode::RequestInvalid,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code, "{err:?}");
        }
        assert_eq!(EngineError::Config("x".into()).code(), ErrorCode::Internal);
    }
}
