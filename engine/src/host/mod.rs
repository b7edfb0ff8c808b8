//! Host ABI v1: the `nexus_v1` imports, in capability groups. All groups are
//! in the one linker; [`check_imports`] refuses, before instantiation, any
//! module importing a function its profile does not grant, and every host
//! function checks the grant again. Guest memory is only touched through the
//! bounds-checked helpers of [`mem`].

/// Registers `$f` (an `async fn(&mut Caller, i32...) -> Result<i32, i32>`)
/// as the async host function `nexus_v1.$name` taking the listed i32
/// arguments; the guest gets its value or its error code.
macro_rules! wrap_async {
    ($linker:expr, $name:literal, $f:ident, ($($arg:ident),+)) => {
        $linker.func_wrap_async(
            $crate::abi::MODULE,
            $name,
            |mut caller: wasmtime::Caller<'_, $crate::state::GuestState>,
             ($($arg,)+): ($(wrap_async!(@i32 $arg),)+)| {
                Box::new(async move { Ok(super::ret($f(&mut caller, $($arg),+).await)) })
            },
        )?
    };
    (@i32 $arg:ident) => { i32 };
}

mod basic;
mod fabric;
mod kv;
mod mem;
mod net;
mod queue;
mod sign;
mod storage;
mod vfs;

use wasmtime::{Linker, Module};

use super::abi::{self, capability_of};
use super::capability::Capability;
use super::context::SandboxContext;
use super::error::CallError;
use super::profile::Profile;
use super::state::GuestState;

/// Adds every host ABI v1 function to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    basic::add_to_linker(linker)?;
    kv::add_to_linker(linker)?;
    vfs::add_to_linker(linker)?;
    queue::add_to_linker(linker)?;
    sign::add_to_linker(linker)?;
    net::add_to_linker(linker)?;
    fabric::add_to_linker(linker)?;
    Ok(())
}

/// Refuses `module` if it imports a `nexus_v1` function that `profile` does
/// not grant or that the ABI does not have; the error names the import and the capability, and the refusal is
/// counted as a denial of `sandbox`.
pub(crate) fn check_imports(
    module: &Module,
    profile: &Profile,
    sandbox: &SandboxContext,
) -> Result<(), CallError> {
    for import in module.imports() {
        if import.module() != abi::MODULE {
            continue;
        }
        let name = import.name();
        let (cap, problem) = match capability_of(name) {
            Ok(cap) | Err(Some(cap)) if !profile.grants(cap) => (
                cap.as_str().to_string(),
                format!(
                    "which needs capability `{cap}`; profile `{}` does not grant it",
                    profile.name
                ),
            ),
            Ok(_) => continue,
            Err(Some(cap)) => (
                cap.as_str().to_string(),
                format!("which is not a function of capability `{cap}` in host ABI v1"),
            ),
            Err(None) => {
                let prefix = name.split('_').next().unwrap_or(name);
                (
                    "abi".to_string(),
                    format!(
                        "which needs capability `{prefix}`; host ABI v1 has no such capability"
                    ),
                )
            }
        };
        let message = format!("module imports {}.{name}, {problem}", abi::MODULE);
        sandbox.deny(&cap, &format!("import {}.{name}", abi::MODULE));
        return Err(CallError::InstantiateFailed(message));
    }
    Ok(())
}

/// The call's sandbox if the profile grants `cap`; otherwise the denial is
/// counted and the guest gets `ERR_DENIED`.
fn granted(state: &GuestState, cap: Capability, what: &str) -> Result<(), i32> {
    if state.host.caps.contains(cap) {
        return Ok(());
    }
    state.host.sandbox.deny(
        cap.as_str(),
        &format!("{what}: not granted by profile `{}`", state.host.profile),
    );
    Err(abi::ERR_DENIED)
}

/// Collapses a host function's `Result` into its i32 return value.
fn ret(r: Result<i32, i32>) -> i32 {
    r.unwrap_or_else(|code| code)
}
