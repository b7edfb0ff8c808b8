//! `[node]` in `nexus.toml`: what this node tells the cluster about itself
//! — labels placement matches (`nexus dock --where zone=eu`) and the
//! capacity automatic placement weighs.

use std::collections::BTreeMap;

use serde::Deserialize;

use nexus_errors::{ErrorCode, UserError};

/// Labels: key → value.
pub type Labels = BTreeMap<String, String>;

/// Longest label key or value.
const MAX_LABEL_LEN: usize = 63;
/// Most labels a node or a selector may carry.
const MAX_LABELS: usize = 32;

/// This node's labels and capacity.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// Labels (`labels = { zone = "eu", disk = "ssd" }`).
    pub labels: Labels,
    /// Guest memory offered to the sandboxes this node homes; 0: the
    /// machine's total memory.
    pub memory_bytes: u64,
    /// Most live (created or active) sandboxes this node means to home.
    pub max_sandboxes: u64,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            labels: Labels::new(),
            memory_bytes: 0,
            max_sandboxes: 1000,
        }
    }
}

impl NodeConfig {
    /// Refuses labels a selector could not name (`CONFIG_INVALID`).
    pub fn validate(&self) -> Result<(), UserError> {
        check_labels(&self.labels).map_err(|reason| {
            UserError::new(ErrorCode::ConfigInvalid, format!("[node] labels: {reason}"))
        })
    }

    /// The memory this node offers: `memory_bytes`, or the machine's total
    /// (0 when neither is known: placement then weighs sandboxes only).
    pub fn offered_memory(&self) -> u64 {
        if self.memory_bytes > 0 {
            return self.memory_bytes;
        }
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| mem_total(&text))
            .unwrap_or(0)
    }
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Parses a selector, `key=value` pairs separated by commas
/// (`zone=eu,disk=ssd`); the reason when it is not one.
pub fn parse_selector(text: &str) -> Result<Labels, String> {
    let mut labels = Labels::new();
    for pair in text.split(',').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not key=value"))?;
        if labels.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(format!("label {key:?} is named twice"));
        }
    }
    check_labels(&labels)?;
    Ok(labels)
}

/// Whether `labels` has every pair of `selector`.
pub fn matches(labels: &Labels, selector: &Labels) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// `key=value,key=value` (the selector syntax).
pub fn render(labels: &Labels) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Keys: 1–63 of `[a-z0-9._-]`, starting with a letter or digit; values:
/// 0–63 of `[A-Za-z0-9._-]`; at most 32 labels.
fn check_labels(labels: &Labels) -> Result<(), String> {
    if labels.len() > MAX_LABELS {
        return Err(format!("{} labels, at most {MAX_LABELS}", labels.len()));
    }
    for (key, value) in labels {
        let key_ok = key.len() <= MAX_LABEL_LEN
            && key.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !key_ok {
            return Err(format!(
                "label key {key:?} must be 1-{MAX_LABEL_LEN} of a-z 0-9 . _ - (starting with a \
                 letter or digit)"
            ));
        }
        let value_ok = value.len() <= MAX_LABEL_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !value_ok {
            return Err(format!(
                "label {key}={value:?}: a value is 0-{MAX_LABEL_LEN} of A-Z a-z 0-9 . _ -"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_match() {
        let selector = parse_selector("zone=eu,disk=ssd").unwrap();
        assert_eq!(render(&selector), "disk=ssd,zone=eu");
        let node = parse_selector("zone=eu,disk=ssd,gpu=").unwrap();
        assert!(matches(&node, &selector));
        assert!(!matches(&parse_selector("zone=eu").unwrap(), &selector));
        assert!(matches(&node, &Labels::new()));
        assert_eq!(parse_selector("").unwrap(), Labels::new());
    }

    #[test]
    fn bad_selectors_say_what_is_wrong() {
        assert_eq!(
            parse_selector("zone").unwrap_err(),
            "\"zone\" is not key=value"
        );
        assert_eq!(
            parse_selector("a=1,a=2").unwrap_err(),
            "label \"a\" is named twice"
        );
        assert!(parse_selector("Zone=eu")
            .unwrap_err()
            .contains("label key \"Zone\""));
        assert!(parse_selector("zone=e u")
            .unwrap_err()
            .contains("zone=\"e u\""));
        let config = NodeConfig {
            labels: Labels::from([("-x".to_owned(), String::new())]),
            ..NodeConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.code, "CONFIG_INVALID");
        assert!(err.message.starts_with("[node] labels: label key \"-x\""));
    }

    #[test]
    fn the_node_table_loads_from_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nexus.toml");
        std::fs::write(
            &path,
            "[node]\nlabels = { zone = \"eu\", disk = \"ssd\" }\nmax_sandboxes = 5\n",
        )
        .unwrap();
        let config = crate::config::Config::load(Some(&path), Vec::new()).unwrap();
        assert_eq!(render(&config.node.labels), "disk=ssd,zone=eu");
        assert_eq!(config.node.max_sandboxes, 5);
        assert_eq!(config.node.memory_bytes, 0);
        std::fs::write(&path, "[node]\nlabels = { Zone = \"eu\" }\n").unwrap();
        let err = crate::config::Config::load(Some(&path), Vec::new()).unwrap_err();
        assert_eq!(err.code, "CONFIG_INVALID");
    }

    #[test]
    fn memory_comes_from_the_config_or_meminfo() {
        assert_eq!(
            mem_total("MemTotal:       24568148 kB\nMemFree: 1 kB\n"),
            Some(24_568_148 * 1024)
        );
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
        let config = NodeConfig {
            memory_bytes: 7,
            ..NodeConfig::default()
        };
        assert_eq!(config.offered_memory(), 7);
    }
}
