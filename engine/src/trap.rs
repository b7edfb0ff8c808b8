//! Turning wasmtime errors into messages that name what failed: the trap,
//! and the guest function it happened in.

use wasmtime::{Trap, WasmBacktrace};

/// A one-line description of a failed guest execution, e.g. "wasm trap:
/// wasm `unreachable` instruction executed, in function `main::boom`".
pub(crate) fn describe(err: &wasmtime::Error) -> String {
    let mut msg = match err.downcast_ref::<Trap>() {
        // Trap's Display already starts with "wasm trap: ".
        Some(Trap::StackOverflow) => format!("{} (stack overflow)", Trap::StackOverflow),
        Some(trap) => trap.to_string(),
        None => chain(err),
    };
    if let Some(func) = innermost_function(err) {
        msg.push_str(&format!(", in function `{func}`"));
    }
    msg
}

/// The error's messages, outermost first, joined by ": " (without the
/// multi-line wasm backtrace, which [`describe`] summarises).
pub(crate) fn chain(err: &wasmtime::Error) -> String {
    let parts: Vec<String> = err
        .chain()
        .map(|c| c.to_string())
        .filter(|m| !m.starts_with("error while executing at wasm backtrace"))
        .collect();
    parts.join(": ")
}

/// Whether `err` is a wasm trap (as opposed to a host or link error).
pub(crate) fn is_trap(err: &wasmtime::Error) -> bool {
    err.downcast_ref::<Trap>().is_some()
}

/// The name (or index) of the guest function where `err` was raised.
fn innermost_function(err: &wasmtime::Error) -> Option<String> {
    let frame = err.downcast_ref::<WasmBacktrace>()?.frames().first()?;
    Some(match frame.func_name() {
        Some(name) => demangle(name),
        None => format!("#{}", frame.func_index()),
    })
}

/// Demangles a Rust legacy (`_ZN...E`) symbol, dropping the hash; any other
/// name is returned as is.
fn demangle(name: &str) -> String {
    let Some(mut rest) = name.strip_prefix("_ZN") else {
        return name.to_string();
    };
    let mut parts: Vec<&str> = Vec::new();
    while let Some(len_end) = rest.find(|c: char| !c.is_ascii_digit()) {
        if rest.starts_with('E') && len_end == 0 {
            break;
        }
        let Ok(len) = rest[..len_end].parse::<usize>() else {
            return name.to_string();
        };
        let Some(part) = rest.get(len_end..len_end + len) else {
            return name.to_string();
        };
        parts.push(part);
        rest = &rest[len_end + len..];
    }
    if parts.last().is_some_and(|p| is_hash(p)) {
        parts.pop();
    }
    if parts.is_empty() {
        return name.to_string();
    }
    parts
        .join("::")
        .replace("$LT$", "<")
        .replace("$GT$", ">")
        .replace("$u20$", " ")
        .replace("..", "::")
}

fn is_hash(part: &str) -> bool {
    part.len() == 17 && part.starts_with('h') && part[1..].chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::demangle;

    #[test]
    fn demangles_rust_legacy_symbols() {
        assert_eq!(demangle("_ZN4main4boom17h0123456789abcdefE"), "main::boom");
        assert_eq!(
            demangle("_ZN3std2rt10lang_start17h00000000000000ffE"),
            "std::rt::lang_start"
        );
        assert_eq!(demangle("loop_forever"), "loop_forever");
        assert_eq!(demangle("_ZN99short"), "_ZN99short");
    }
}
