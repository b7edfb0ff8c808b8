//! The bodies of the fabric API, shared by the server and the CLI's client:
//! a job request, and one line of a job's result stream.

use serde::{Deserialize, Serialize};

use super::job::{Completed, Outcome};
use super::Tier;
use crate::encoding::{decode_bytes, encode_bytes, Encoding};
use nexus_errors::{ErrorCode, UserError};

/// The most inputs one job may have.
pub const MAX_INPUTS: u64 = 1_000_000;
/// The most inputs one job runs at once.
pub const MAX_WIDTH: usize = 256;
/// How many inputs run at once unless the request says.
pub const DEFAULT_WIDTH: usize = 16;

/// `POST /v1/fabric/jobs`: a kernel, its inputs and how to run them.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// The kernel's module name: a module of `sandbox`, or a label for `module`.
    #[schema(min_length = 1, max_length = 128)]
    pub kernel: String,
    /// A sandbox docked on this node whose module `kernel` runs, with the
    /// sandbox's data and profile. Give this or `module`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// The kernel's wasm module, base64, run with in-memory data under
    /// `profile`. Give this or `sandbox`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The profile a `module` runs under (default `compute`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The inputs, one kernel call each. Give this or `range`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
    /// How each of `inputs` is encoded.
    #[serde(default)]
    pub inputs_encoding: Encoding,
    /// Inputs `start, start+1, …, end-1`, each its number in decimal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<InputRange>,
    /// How many inputs run at once (1..=256, default 16).
    #[serde(default = "default_width")]
    #[schema(minimum = 1, maximum = 256)]
    pub width: usize,
    /// How inputs run.
    #[serde(default)]
    pub tier: Tier,
    /// Stop the job at the first input that fails.
    #[serde(default)]
    pub fail_fast: bool,
}

fn default_width() -> usize {
    DEFAULT_WIDTH
}

/// A generated range of inputs, `[start, end)`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InputRange {
    /// The first number.
    pub start: u64,
    /// One past the last number.
    pub end: u64,
}

/// Where a job's kernel comes from.
#[derive(Debug)]
pub enum KernelOrigin {
    /// A docked sandbox's module.
    Sandbox(String),
    /// Wasm sent with the job, and its profile.
    Wasm(Vec<u8>, String),
}

impl JobRequest {
    /// Checks the request and decodes its kernel and inputs.
    pub fn decode(self) -> Result<(KernelOrigin, Vec<Vec<u8>>), UserError> {
        let invalid = |message: String| UserError::new(ErrorCode::RequestInvalid, message);
        if self.kernel.is_empty() || self.kernel.len() > 128 {
            return Err(invalid("field `kernel` must be 1 to 128 bytes".into()));
        }
        if !(1..=MAX_WIDTH).contains(&self.width) {
            return Err(invalid(format!(
                "field `width` is {}; it must be 1 to {MAX_WIDTH}",
                self.width
            )));
        }
        let origin = match (self.sandbox, self.module) {
            (Some(sandbox), None) => KernelOrigin::Sandbox(sandbox),
            (None, Some(module)) => {
                let wasm = decode_bytes(module, Encoding::Base64)
                    .map_err(|e| invalid(format!("field `module` is not valid base64: {e}")))?;
                let profile = self.profile.unwrap_or_else(|| "compute".into());
                KernelOrigin::Wasm(wasm, profile)
            }
            _ => {
                return Err(invalid(
                    "give exactly one of `sandbox` and `module` for the kernel".into(),
                ))
            }
        };
        let inputs = match (self.range, self.inputs.is_empty()) {
            (Some(range), true) => {
                let count = range.end.saturating_sub(range.start);
                if range.end < range.start || count > MAX_INPUTS {
                    return Err(invalid(format!(
                        "field `range` {}..{} must be ascending and at most {MAX_INPUTS} inputs",
                        range.start, range.end
                    )));
                }
                (range.start..range.end)
                    .map(|n| n.to_string().into_bytes())
                    .collect()
            }
            (None, _) => {
                if self.inputs.len() as u64 > MAX_INPUTS {
                    return Err(invalid(format!(
                        "{} inputs are more than the {MAX_INPUTS} a job may have",
                        self.inputs.len()
                    )));
                }
                let encoding = self.inputs_encoding;
                self.inputs
                    .into_iter()
                    .enumerate()
                    .map(|(i, text)| {
                        decode_bytes(text, encoding)
                            .map_err(|e| invalid(format!("input {i} is not valid base64: {e}")))
                    })
                    .collect::<Result<_, _>>()?
            }
            (Some(_), false) => {
                return Err(invalid("give `inputs` or `range`, not both".into()));
            }
        };
        Ok((origin, inputs))
    }
}

/// One line of `GET /v1/fabric/jobs/{id}/results` (newline-delimited JSON).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResultLine {
    /// The input's index.
    pub index: usize,
    /// The node that ran it.
    pub node: u64,
    /// The kernel's output (absent when the input failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// How `output` is encoded.
    #[serde(default)]
    pub encoding: Encoding,
    /// Why the input failed: `{code, message, hint}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub error: Option<UserError>,
}

impl ResultLine {
    /// The line for one completed input.
    pub fn of(completed: Completed) -> ResultLine {
        let (output, encoding, error) = match completed.outcome {
            Outcome::Output(bytes) => {
                let (text, encoding) = encode_bytes(bytes);
                (Some(text), encoding, None)
            }
            Outcome::Error(e) => (None, Encoding::Utf8, Some(e)),
        };
        ResultLine {
            index: completed.index,
            node: completed.node,
            output,
            encoding,
            error,
        }
    }

    /// The output's bytes (empty for a failed input).
    pub fn output_bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        match &self.output {
            Some(text) => decode_bytes(text.clone(), self.encoding),
            None => Ok(Vec::new()),
        }
    }
}
