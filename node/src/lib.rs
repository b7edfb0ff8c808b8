//! Nexus node: the wasm engine, the workbook file format, the daemon with its
//! HTTP API, and the `nexus` command line.

pub mod api;
pub mod bench;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod errors;
mod example;
pub mod keys;
pub mod lifecycle;
pub mod provenance;
pub mod sandbox;
pub mod tenants;
pub mod workbook;
