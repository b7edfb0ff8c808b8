//! # nexus-guest
//!
//! Safe wrappers over the Nexus host ABI v1 (`nexus_v1` imports; see
//! `docs/guest-abi.md`) for workbooks written in Rust and built for
//! `wasm32-wasip1`. Each module is one capability group; a workbook may only
//! use the groups its profile grants (an ungranted import is refused when the
//! module is instantiated, naming the import and the capability).
//!
//! Call shapes: a `command` is a plain `fn main`; a `kernel` is exported
//! with [`kernel!`] and an HTTP handler (the `serve` shape) with
//! [`http_handler!`], both over an [`arena::Arena`].
//!
//! The codes, limits, volumes and message format are those of the
//! `nexus-abi` crate the node uses too, re-exported as [`abi`].

mod ret;
mod sys;

pub mod arena;
pub mod clock;
pub mod fabric;
pub mod http;
pub mod kv;
pub mod log;
pub mod net;
pub mod queue;
pub mod random;
pub mod sign;
pub mod vfs;

pub use nexus_abi as abi;
pub use nexus_abi::Error;
