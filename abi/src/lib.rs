//! # nexus-abi
//!
//! Host ABI v1 of Nexus as both sides of the boundary see it: the node's
//! host functions (`node/src/engine/host/`) and the guest SDK
//! (`guest/sdk`, crate `nexus-guest`) both use this crate, so a code, a
//! limit or a byte of the message format is written once. No dependencies
//! and `no_std` (with `alloc`), so it builds for `wasm32-wasip1` as is.
//! docs/guest-abi.md describes the same for guest authors.
//!
//! | module      | holds                                                        |
//! |-------------|--------------------------------------------------------------|
//! | [`error`]   | the `ERR_*` return codes and [`Error`], their typed form     |
//! | [`limits`]  | caps on keys, values, paths, files, log lines, buffers       |
//! | [`volume`]  | [`Volume`]: workspace, memory, tmp, by number and by name    |
//! | [`log`]     | [`LogLevel`]: the levels of `log_write`                      |
//! | [`vfs`]     | [`FileStat`]: what `vfs_stat` writes                         |
//! | [`http`]    | [`HttpRequest`] and [`HttpResponse`] and their binary codec  |
//! | [`fabric`]  | [`FabricRequest`] and [`FabricResponse`]: `fabric_map`'s codec |

#![no_std]
#![deny(missing_docs)]

extern crate alloc;

pub mod error;
pub mod fabric;
pub mod http;
pub mod limits;
pub mod log;
pub mod vfs;
pub mod volume;

pub use error::Error;
pub use fabric::{FabricFailure, FabricRequest, FabricResponse, FabricTier};
pub use http::{DecodeError, HttpRequest, HttpResponse};
pub use log::LogLevel;
pub use vfs::FileStat;
pub use volume::Volume;

/// The import module of host ABI v1: every host function lives in it.
pub const MODULE: &str = "nexus_v1";
