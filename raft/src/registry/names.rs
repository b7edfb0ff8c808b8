//! Naming rules for tenants, API keys and sandboxes (checked inside `apply`, and public
//! so a proposer can reject bad input before it reaches the log).

use super::error::RegistryError;

/// Longest tenant or sandbox name, in characters.
pub const MAX_NAME_LEN: usize = 63;

/// Whether `b` may appear in a tenant or key name: `[a-z0-9_-]`.
fn lower_name_byte(b: u8) -> bool {
    matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-')
}

/// Checks a tenant name: 1–63 chars of `[a-z0-9_-]`.
pub fn validate_tenant_name(name: &str) -> Result<(), RegistryError> {
    check(name, "[a-z0-9_-]", lower_name_byte).map_err(|reason| RegistryError::TenantNameInvalid {
        name: name.to_owned(),
        reason,
    })
}

/// Checks an API key name: 1–63 chars of `[a-z0-9_-]` (unique among a
/// tenant's live keys).
pub fn validate_key_name(name: &str) -> Result<(), RegistryError> {
    check(name, "[a-z0-9_-]", lower_name_byte).map_err(|reason| RegistryError::ApiKeyNameInvalid {
        name: name.to_owned(),
        reason,
    })
}

/// Checks a sandbox name: 1–63 chars of `[A-Za-z0-9._-]`, and not `.` or `..`
/// (names may end up in paths).
pub fn validate_sandbox_name(name: &str) -> Result<(), RegistryError> {
    let invalid = |reason: String| RegistryError::SandboxNameInvalid {
        name: name.to_owned(),
        reason,
    };
    check(name, "[A-Za-z0-9._-]", |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
    })
    .map_err(invalid)?;
    if name == "." || name == ".." {
        return Err(invalid(format!("{name:?} is reserved")));
    }
    Ok(())
}

fn check(name: &str, class: &str, allowed: impl Fn(u8) -> bool) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if let Some(c) = name.chars().find(|c| !c.is_ascii() || !allowed(*c as u8)) {
        return Err(format!("character {c:?} is not allowed (use {class})"));
    }
    // All ASCII from here, so bytes == chars.
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "is {} characters long (at most {MAX_NAME_LEN})",
            name.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(r: Result<(), RegistryError>) -> String {
        match r {
            Err(RegistryError::TenantNameInvalid { reason, .. })
            | Err(RegistryError::SandboxNameInvalid { reason, .. })
            | Err(RegistryError::ApiKeyNameInvalid { reason, .. }) => reason,
            other => panic!("expected a name error, got {other:?}"),
        }
    }

    #[test]
    fn tenant_names() {
        for ok in ["a", "acme", "a-b_c9", "0", &"x".repeat(63)] {
            assert!(validate_tenant_name(ok).is_ok(), "{ok}");
        }
        assert!(reason(validate_tenant_name("")).contains("empty"));
        assert!(reason(validate_tenant_name(&"x".repeat(64))).contains("64"));
        for bad in ["Acme", "a.b", "a b", "a/b", "é", "a\0", "ünï"] {
            assert!(
                reason(validate_tenant_name(bad)).contains("not allowed"),
                "{bad}"
            );
        }
    }

    #[test]
    fn key_names() {
        for ok in ["a", "ci", "deploy-2026_q1", &"k".repeat(63)] {
            assert!(validate_key_name(ok).is_ok(), "{ok}");
        }
        assert!(reason(validate_key_name("")).contains("empty"));
        assert!(reason(validate_key_name(&"k".repeat(64))).contains("64"));
        for bad in ["CI", "a.b", "a b", "a/b", "é"] {
            assert!(
                reason(validate_key_name(bad)).contains("not allowed"),
                "{bad}"
            );
        }
    }

    #[test]
    fn sandbox_names() {
        for ok in ["a", "My.Sandbox-1_x", "...", ".hidden", &"Z".repeat(63)] {
            assert!(validate_sandbox_name(ok).is_ok(), "{ok}");
        }
        assert!(reason(validate_sandbox_name("")).contains("empty"));
        assert!(reason(validate_sandbox_name(&"Z".repeat(64))).contains("64"));
        assert!(reason(validate_sandbox_name(".")).contains("reserved"));
        assert!(reason(validate_sandbox_name("..")).contains("reserved"));
        for bad in ["a b", "a/b", "a\\b", "a:b", "ß", "a\n"] {
            assert!(
                reason(validate_sandbox_name(bad)).contains("not allowed"),
                "{bad}"
            );
        }
    }

    #[test]
    fn multibyte_names_are_rejected_before_the_length_check() {
        // 32 two-byte chars = 64 bytes: reported as a bad character, not as too long.
        let name = "é".repeat(32);
        assert!(reason(validate_sandbox_name(&name)).contains("not allowed"));
    }
}
