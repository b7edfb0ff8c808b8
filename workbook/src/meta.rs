//! The `meta` table: format version, name, entry, profile, creation time.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::env::{check_env, EnvVars};
use super::{names, Workbook, WorkbookError, DEFAULT_PROFILE};

/// The well-known `meta` rows of a workbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// `meta.format_version`.
    pub format_version: u32,
    /// `meta.name`.
    pub name: String,
    /// `meta.entry`: the module run by default (unset or empty: none).
    pub entry: Option<String>,
    /// `meta.profile` (default `"compute"`).
    pub profile: String,
    /// `meta.created_at`, Unix milliseconds (0 if absent).
    pub created_at_ms: u64,
    /// `meta.env`: the environment every command-shape call sees (JSON
    /// object; absent: none).
    pub env: EnvVars,
}

impl Workbook {
    /// Sets `meta.env`, the environment every command-shape call sees.
    pub fn set_env(&self, env: &EnvVars) -> Result<(), WorkbookError> {
        let json = serde_json::to_string(env).map_err(|e| WorkbookError::InvalidArgument {
            what: "meta.env",
            value: String::new(),
            reason: e.to_string(),
        })?;
        self.set_meta("env", &json)
    }

    /// Reads the well-known `meta` rows.
    pub fn meta(&self) -> Result<Meta, WorkbookError> {
        let read = |e| WorkbookError::on_read(&self.path, e);
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM meta")
            .map_err(read)?;
        let rows: HashMap<String, String> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(read)?
            .collect::<Result<_, _>>()
            .map_err(read)?;
        let corrupt = |detail: String| WorkbookError::Corrupt {
            path: self.path.clone(),
            detail,
        };
        let number = |key: &str| -> Result<Option<u64>, WorkbookError> {
            rows.get(key)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| corrupt(format!("meta.{key} is {v:?}, not a number")))
                })
                .transpose()
        };
        let format_version = number("format_version")?
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| corrupt("meta.format_version is missing or too large".to_string()))?;
        let name = rows
            .get("name")
            .cloned()
            .ok_or_else(|| corrupt("meta has no name".to_string()))?;
        Ok(Meta {
            format_version,
            name,
            entry: rows.get("entry").filter(|e| !e.is_empty()).cloned(),
            profile: rows
                .get("profile")
                .filter(|p| !p.is_empty())
                .cloned()
                .unwrap_or_else(|| DEFAULT_PROFILE.to_string()),
            created_at_ms: number("created_at")?.unwrap_or(0),
            env: match rows.get("env") {
                None => EnvVars::new(),
                Some(json) => {
                    parse_env(json).map_err(|reason| corrupt(format!("meta.env: {reason}")))?
                }
            },
        })
    }

    /// Sets `meta.key` to `value`. `format_version` cannot be set; `name` must
    /// be a valid workbook name and a non-empty `entry` a valid module name
    /// (an empty `entry` means "none").
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), WorkbookError> {
        let refuse = |reason: &str| WorkbookError::InvalidArgument {
            what: "meta key",
            value: key.to_string(),
            reason: reason.to_string(),
        };
        match key {
            "" => return Err(refuse("must not be empty")),
            "format_version" => return Err(refuse("is fixed when the workbook is created")),
            "name" => names::validate_name("workbook name", value)?,
            "entry" if !value.is_empty() => names::validate_name("module name", value)?,
            "env" => {
                parse_env(value).map_err(|reason| WorkbookError::InvalidArgument {
                    what: "meta.env",
                    value: value.chars().take(80).collect(),
                    reason,
                })?;
            }
            _ => {}
        }
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
                (key, value),
            )
            .map_err(|e| WorkbookError::on_write(&self.path, e))?;
        Ok(())
    }
}

/// `meta.env` as stored: a JSON object of strings within the env bounds.
fn parse_env(json: &str) -> Result<EnvVars, String> {
    let env: EnvVars =
        serde_json::from_str(json).map_err(|e| format!("not a JSON object of strings: {e}"))?;
    check_env(&env)?;
    Ok(env)
}
