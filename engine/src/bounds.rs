//! Structural limits a module must meet before Cranelift sees it: its size,
//! how many functions it defines, and per function the body size and block
//! nesting depth. Compile time and memory grow with all of them (a 9 MB
//! module of a million trivial functions took 45 s and 5 GB to compile), and
//! checking them is one cheap pass of `wasmparser` over the bytes.

use std::time::Duration;

use serde::Serialize;
use wasmparser::{Operator, Parser, Payload};

use super::error::{fmt_bytes, CallError};

/// Default [`ModuleLimits::max_module_bytes`]: 32 MiB.
pub const DEFAULT_MAX_MODULE_BYTES: u64 = 32 << 20;
/// Default [`ModuleLimits::max_functions`].
pub const DEFAULT_MAX_FUNCTIONS: u32 = 50_000;
/// Default [`ModuleLimits::max_function_bytes`]: 2 MiB.
pub const DEFAULT_MAX_FUNCTION_BYTES: u64 = 2 << 20;
/// Default [`ModuleLimits::max_nesting_depth`].
pub const DEFAULT_MAX_NESTING_DEPTH: u32 = 10_000;

/// What the node compiles at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleLimits {
    /// Bytes of the module (binary, or WAT text before and after assembly).
    pub max_module_bytes: u64,
    /// Functions the module defines (imports not counted).
    pub max_functions: u32,
    /// Bytes of one function body.
    pub max_function_bytes: u64,
    /// Blocks, loops and ifs open at once in one function.
    pub max_nesting_depth: u32,
}

impl Default for ModuleLimits {
    fn default() -> Self {
        ModuleLimits {
            max_module_bytes: DEFAULT_MAX_MODULE_BYTES,
            max_functions: DEFAULT_MAX_FUNCTIONS,
            max_function_bytes: DEFAULT_MAX_FUNCTION_BYTES,
            max_nesting_depth: DEFAULT_MAX_NESTING_DEPTH,
        }
    }
}

impl ModuleLimits {
    /// Checks the binary module `wasm` against these limits. Bytes that do
    /// not parse fail as [`CallError::ModuleInvalid`]; full validation is
    /// left to the compiler.
    pub(crate) fn check(&self, wasm: &[u8]) -> Result<(), CallError> {
        self.check_size(wasm.len())?;
        let mut function = 0u64;
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(invalid)? {
                Payload::FunctionSection(reader) if reader.count() > self.max_functions => {
                    return Err(CallError::ModuleTooManyFunctions(format!(
                        "module defines {} functions, more than this node's limit of {} (limits.max_module_functions)",
                        reader.count(),
                        self.max_functions
                    )));
                }
                Payload::CodeSectionEntry(body) => {
                    let size = body.range().len() as u64;
                    if size > self.max_function_bytes {
                        return Err(CallError::ModuleTooComplex(format!(
                            "function {function} has a {} body, more than this node's limit of {} (limits.max_function_bytes)",
                            fmt_bytes(size),
                            fmt_bytes(self.max_function_bytes)
                        )));
                    }
                    self.check_nesting(function, body.get_operators_reader().map_err(invalid)?)?;
                    function += 1;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Refuses a module (or its WAT text) of `len` bytes over the size limit.
    pub(crate) fn check_size(&self, len: usize) -> Result<(), CallError> {
        if len as u64 > self.max_module_bytes {
            return Err(CallError::ModuleTooLarge(format!(
                "module is {}, more than this node's limit of {} (limits.max_module_bytes)",
                fmt_bytes(len as u64),
                fmt_bytes(self.max_module_bytes)
            )));
        }
        Ok(())
    }

    /// Refuses function `index` if its blocks nest deeper than the limit.
    fn check_nesting(
        &self,
        index: u64,
        mut ops: wasmparser::OperatorsReader<'_>,
    ) -> Result<(), CallError> {
        let mut depth = 0u32;
        while !ops.eof() {
            match ops.read().map_err(invalid)? {
                Operator::Block { .. }
                | Operator::Loop { .. }
                | Operator::If { .. }
                | Operator::TryTable { .. } => {
                    depth += 1;
                    if depth > self.max_nesting_depth {
                        return Err(CallError::ModuleTooComplex(format!(
                            "function {index} nests blocks more than {} deep, this node's limit (limits.max_nesting_depth)",
                            self.max_nesting_depth
                        )));
                    }
                }
                Operator::End => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Tighter compile limits a profile may set under the node's: a module
/// docked or called under the profile must meet both. Unset fields leave
/// the node's limit alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProfileModuleLimits {
    /// Bytes of the module.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_module_bytes: Option<u64>,
    /// Functions the module defines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_functions: Option<u32>,
    /// Milliseconds a compile may take (a cached module is not recompiled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compile_timeout_ms: Option<u64>,
}

impl ProfileModuleLimits {
    /// Checks `wasm` (binary, or WAT text: its size, then its assembly)
    /// against the limits of profile `profile`.
    pub(crate) fn check(&self, profile: &str, wasm: &[u8]) -> Result<(), CallError> {
        if let Some(max) = self.max_module_bytes {
            if wasm.len() as u64 > max {
                return Err(CallError::ModuleTooLarge(format!(
                    "module is {}, more than profile `{profile}`'s limit of {} (profiles.{profile}.max_module_mib)",
                    fmt_bytes(wasm.len() as u64),
                    fmt_bytes(max)
                )));
            }
        }
        if let Some(max) = self.max_functions {
            let binary = super::cache::assemble(wasm)?;
            let defined = defined_functions(&binary)?;
            if defined > max {
                return Err(CallError::ModuleTooManyFunctions(format!(
                    "module defines {defined} functions, more than profile `{profile}`'s limit of {max} (profiles.{profile}.max_module_functions)"
                )));
            }
        }
        Ok(())
    }

    /// The profile's own compile deadline, if it sets one (the node's
    /// applies too: the tighter wins).
    pub(crate) fn compile_timeout(&self) -> Option<Duration> {
        self.compile_timeout_ms.map(Duration::from_millis)
    }
}

/// How many functions `wasm` defines, read from its function section
/// header without parsing any body.
fn defined_functions(wasm: &[u8]) -> Result<u32, CallError> {
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(invalid)? {
            Payload::FunctionSection(reader) => return Ok(reader.count()),
            Payload::CodeSectionStart { .. } => break,
            _ => {}
        }
    }
    Ok(0)
}

/// A parse error of the module bytes.
fn invalid(e: wasmparser::BinaryReaderError) -> CallError {
    CallError::ModuleInvalid(format!("module is not valid WebAssembly: {e}"))
}

/// Default [`CompileConfig::timeout`].
pub const DEFAULT_COMPILE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`CompileConfig::memory_cache_bytes`]: 256 MiB.
pub const DEFAULT_MEMORY_CACHE_BYTES: u64 = 256 << 20;
/// Default [`CompileConfig::disk_cache_bytes`]: 1 GiB.
pub const DEFAULT_DISK_CACHE_BYTES: u64 = 1 << 30;

/// How the engine compiles modules and how much of them it keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileConfig {
    /// What a module must meet before it is compiled.
    pub limits: ModuleLimits,
    /// Compiles running at once (abandoned ones included); more wait.
    pub concurrency: usize,
    /// How long a compile may take, waiting for a slot included.
    pub timeout: Duration,
    /// Most bytes of compiled code kept in memory for modules no call is
    /// using (modules in use stay, whatever their size).
    pub memory_cache_bytes: u64,
    /// Most bytes of `.cwasm` files in the disk cache, if there is one.
    pub disk_cache_bytes: u64,
}

impl Default for CompileConfig {
    /// The default limits; half the cores (at least one) compile at once.
    fn default() -> Self {
        CompileConfig {
            limits: ModuleLimits::default(),
            concurrency: default_concurrency(),
            timeout: DEFAULT_COMPILE_TIMEOUT,
            memory_cache_bytes: DEFAULT_MEMORY_CACHE_BYTES,
            disk_cache_bytes: DEFAULT_DISK_CACHE_BYTES,
        }
    }
}

/// Half the cores this process may use, at least one.
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}
