//! `fabric`: fan a kernel of this workbook out over inputs from inside a
//! call. The host runs `kernel` (a module of the calling sandbox's
//! workbook, with the sandbox's data and profile) once per input, `width`
//! at a time, and returns every result in input order. An input the
//! kernel fails on is that input's [`KernelFailure`]; the call itself
//! fails only when the job cannot run at all (an unknown kernel is
//! [`Error::NotFound`], a module that is not a kernel or a width past 256
//! [`Error::Invalid`], a node running its most jobs [`Error::Full`]).

pub use crate::abi::FabricTier as Tier;
use crate::abi::{FabricFailure, FabricRequest, FabricResponse};
use crate::ret::{check, read_growing};
use crate::sys;
use crate::Error;

/// Why one input has no output: the node's error code (e.g.
/// `CALL_TRAPPED`, `CALL_CPU_LIMIT`) and its message.
pub type KernelFailure = FabricFailure;

/// One input's result: the kernel's output or why there is none.
pub type KernelResult = Result<Vec<u8>, KernelFailure>;

/// How a [`map_with`] runs: inputs at once and the tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// Inputs at once, 1 to 256; 0 for the node's default (16).
    pub width: u32,
    /// How each input runs (a reused instance by default).
    pub tier: Tier,
}

/// Runs `kernel` over `inputs` with the default width and tier; one
/// result per input, in input order.
pub fn map<I, B>(kernel: &str, inputs: I) -> Result<Vec<KernelResult>, Error>
where
    I: IntoIterator<Item = B>,
    B: Into<Vec<u8>>,
{
    map_with(kernel, inputs, Options::default())
}

/// [`map`] with `options`.
pub fn map_with<I, B>(kernel: &str, inputs: I, options: Options) -> Result<Vec<KernelResult>, Error>
where
    I: IntoIterator<Item = B>,
    B: Into<Vec<u8>>,
{
    let request = FabricRequest {
        kernel: kernel.into(),
        inputs: inputs.into_iter().map(Into::into).collect(),
        width: options.width,
        tier: options.tier,
    };
    let bytes = request.encode();
    check(unsafe { sys::fabric_map(bytes.as_ptr(), bytes.len()) })?;
    let raw = read_growing(|out, cap| unsafe { sys::fabric_read(out, cap) })?;
    Ok(FabricResponse::decode(&raw)?.results)
}
