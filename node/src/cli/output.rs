//! Printing results and errors, for humans or as JSON.

use serde::Serialize;

use crate::api::types::ErrorBody;
use nexus_errors::UserError;

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot encode output as JSON: {e}"),
    }
}

/// Prints an error: JSON on stdout with `--json`, else a readable stderr line.
pub fn report_error(error: &UserError, json: bool) {
    if json {
        print_json(&ErrorBody {
            error: error.clone(),
        });
    } else {
        eprintln!(
            "error[{}]: {}\n  hint: {}",
            error.code, error.message, error.hint
        );
    }
}
