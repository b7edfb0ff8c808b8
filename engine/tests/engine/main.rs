//! The engine's integration tests, one binary: WAT guests from
//! `tests/guests/` run through every call shape, capability and limit.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bombs;
mod capabilities;
mod command;
mod compile_bounds;
mod fabric;
mod kernel;
mod limits;
mod pool;
mod proposals;
mod support;
