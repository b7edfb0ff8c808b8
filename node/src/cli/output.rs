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

/// A moment for humans, relative to `now_ms`: `in 23h 59m`, `5m ago`,
/// `just now` (two units at most).
pub fn relative_time(at_ms: u64, now_ms: u64) -> String {
    let (span, future) = if at_ms >= now_ms {
        (at_ms - now_ms, true)
    } else {
        (now_ms - at_ms, false)
    };
    let secs = span / 1000;
    if secs == 0 {
        return "just now".into();
    }
    let units = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
    let parts: Vec<String> = units
        .iter()
        .scan(secs, |left, (name, size)| {
            let count = *left / size;
            *left %= size;
            Some((count, name))
        })
        .skip_while(|(count, _)| *count == 0)
        .take(2)
        .filter(|(count, _)| *count > 0)
        .map(|(count, name)| format!("{count}{name}"))
        .collect();
    let span = parts.join(" ");
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::relative_time;

    #[test]
    fn times_read_as_spans_from_now() {
        let now = 1_000_000_000;
        assert_eq!(relative_time(now + 86_340_000, now), "in 23h 59m");
        assert_eq!(relative_time(now - 300_000, now), "5m ago");
        assert_eq!(relative_time(now + 200, now), "just now");
        assert_eq!(relative_time(now + 2 * 86_400_000 + 5_000, now), "in 2d");
        assert_eq!(relative_time(now - 61_000, now), "1m 1s ago");
    }
}
