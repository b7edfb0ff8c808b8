//! Nexus node: the daemon with its HTTP API, the sandbox manager and
//! lifecycle, the cluster glue, and the `nexus` command line. The wasm engine
//! ([`nexus_engine`]), the workbook format ([`nexus_workbook`]) and the error
//! catalog ([`nexus_errors`]) are library crates below it.

pub mod api;
pub mod authenticated;
pub mod bench;
#[cfg(debug_assertions)]
mod broken;
pub mod cli;
pub mod client;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod dataplane;
pub mod encoding;
mod example;
pub mod fabric;
pub mod file_modes;
pub mod key_usage;
pub mod lifecycle;
pub mod listeners;
pub mod mesh;
pub mod metrics;
mod mounts;
pub mod provenance;
pub mod replicas;
pub mod sandbox;
pub mod tenant_keys;
pub mod tenants;
