//! # nexus-guest
//!
//! Safe wrappers over the Nexus host ABI v1 (`nexus_v1` imports; see
//! `docs/guest-abi.md`) for workbooks written in Rust and built for
//! `wasm32-wasip1`. Each module is one capability group; a workbook may only
//! use the groups its profile grants (an ungranted import is refused when the
//! module is instantiated, naming the import and the capability).

mod error;
mod sys;

pub mod clock;
pub mod kv;
pub mod log;
pub mod random;
pub mod vfs;

pub use error::Error;
