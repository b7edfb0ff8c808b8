//! The node's integration tests, one binary (one link of wasmtime): the
//! HTTP API, the CLI and `nexus up` processes, crash recovery, hostile
//! guests, the `net` broker, the guest `fabric` capability, the serve
//! shape, join tokens, API keys and tenant removal, the lifecycle,
//! workbook signing, the volumes as preopened directories and the error
//! catalog.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod api_tls;
mod cli;
mod common;
mod compile_bombs;
mod conformance;
mod crash;
mod dashboard;
mod dock_signing;
mod env;
mod error_catalog;
mod examples;
mod fabric;
mod fabric_container;
mod fabric_guest;
mod file_modes;
mod hostile;
mod http_bounds;
mod join_tokens;
mod keys;
mod lifecycle;
mod logs;
mod metrics;
mod net_broker;
mod openapi;
mod render_example;
mod serve;
mod signing;
mod volumes;
mod workbook_sign;
