//! The workbook format's integration tests, one binary: create, pack,
//! inspect, export and the refusal of damaged files.

// Tests: a failed unwrap or panic is a loud test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fixtures;
mod format;
mod pack;
mod properties;
mod refuse;
