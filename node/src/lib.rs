//! Nexus node: the wasm engine, the workbook file format, the daemon with its
//! HTTP API, and the `nexus` command line.

pub mod engine;
pub mod errors;
pub mod workbook;
