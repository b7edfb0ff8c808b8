//! Environment variables a command-shape guest sees: the workbook's
//! defaults (`[env]` in `workbook.toml`, kept in `meta.env`) and a call's
//! own, within fixed bounds. Never the host's environment.

use std::collections::BTreeMap;

/// Environment variables, by name.
pub type EnvVars = BTreeMap<String, String>;

/// Most variables a guest sees (defaults and a call's together).
pub const MAX_ENV_VARS: usize = 64;
/// Longest variable name, in bytes.
pub const MAX_ENV_NAME_BYTES: usize = 128;
/// Longest value, in bytes.
pub const MAX_ENV_VALUE_BYTES: usize = 4096;
/// Most bytes of all `NAME=value` strings together.
pub const MAX_ENV_BYTES: usize = 32 * 1024;

/// Checks `vars` against the bounds: names are `[A-Za-z_][A-Za-z0-9_]*`,
/// values hold no NUL byte. The error names the variable and the rule.
pub fn check_env(vars: &EnvVars) -> Result<(), String> {
    if vars.len() > MAX_ENV_VARS {
        return Err(format!(
            "{} variables; at most {MAX_ENV_VARS} are allowed",
            vars.len()
        ));
    }
    let mut total = 0usize;
    for (name, value) in vars {
        check_name(name)?;
        if value.len() > MAX_ENV_VALUE_BYTES {
            return Err(format!(
                "{name}: the value is {} bytes; at most {MAX_ENV_VALUE_BYTES} are allowed",
                value.len()
            ));
        }
        if value.contains('\0') {
            return Err(format!("{name}: the value holds a NUL byte"));
        }
        total += name.len() + value.len() + 2;
    }
    if total > MAX_ENV_BYTES {
        return Err(format!(
            "the variables take {total} bytes; at most {MAX_ENV_BYTES} are allowed"
        ));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !starts_well || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "{name:?} is not a variable name: letters, digits and _, not starting with a digit"
        ));
    }
    if name.len() > MAX_ENV_NAME_BYTES {
        return Err(format!(
            "{name}: the name is {} bytes; at most {MAX_ENV_NAME_BYTES} are allowed",
            name.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> EnvVars {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_values_and_sizes_are_bounded() {
        assert_eq!(
            check_env(&vars(&[("LANG", "C.UTF-8"), ("_x1", "")])),
            Ok(())
        );
        for (name, why) in [
            ("", "not a variable name"),
            ("1X", "not a variable name"),
            ("A-B", "not a variable name"),
            ("A=B", "not a variable name"),
        ] {
            let err = check_env(&vars(&[(name, "v")])).unwrap_err();
            assert!(err.contains(why), "{name}: {err}");
        }
        let long = "N".repeat(MAX_ENV_NAME_BYTES + 1);
        assert!(check_env(&vars(&[(&long, "v")]))
            .unwrap_err()
            .contains("the name is 129 bytes"));
        let big = "v".repeat(MAX_ENV_VALUE_BYTES + 1);
        assert_eq!(
            check_env(&vars(&[("BIG", &big)])).unwrap_err(),
            "BIG: the value is 4097 bytes; at most 4096 are allowed"
        );
        assert_eq!(
            check_env(&vars(&[("NUL", "a\0b")])).unwrap_err(),
            "NUL: the value holds a NUL byte"
        );
        let many: EnvVars = (0..=MAX_ENV_VARS)
            .map(|i| (format!("V{i}"), String::new()))
            .collect();
        assert_eq!(
            check_env(&many).unwrap_err(),
            "65 variables; at most 64 are allowed"
        );
        let bulky: EnvVars = (0..10)
            .map(|i| (format!("V{i}"), "x".repeat(MAX_ENV_VALUE_BYTES)))
            .collect();
        assert!(check_env(&bulky).unwrap_err().contains("at most 32768"));
    }
}
