//! The binary form of a `fabric_map` call: the request a guest sends (a
//! kernel of its own workbook, the inputs, a width and a tier) and the
//! response the host keeps for `fabric_read` (one result per input, in
//! input order). Same field encoding as [`http`](crate::http): little-endian
//! `u32`s and byte strings (`u32` length, then the bytes). See
//! docs/guest-abi.md, "Fabric messages".
//!
//! - request: `kernel`, `width` (u32), `tier` (u32: 0 instance, 1 process,
//!   2 node, 3 container), `n` (u32), `n` × `input`;
//! - response: `n` (u32), `n` × result, a result being `0` (u32) then
//!   `output`, or `1` (u32) then `code` and `message`.

use alloc::string::String;
use alloc::vec::Vec;

use crate::http::{DecodeError, Reader, Writer};
use crate::limits::MAX_FABRIC_INPUTS;

/// How the host runs each input of a `fabric_map` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FabricTier {
    /// A pool of `width` reused kernel instances on the calling node.
    #[default]
    Instance,
    /// A fresh instance per input, on the calling node.
    Process,
    /// Inputs spread over every node of the cluster (in-memory data there).
    Node,
    /// Throwaway Docker containers on the calling node (in-memory data).
    Container,
}

impl FabricTier {
    /// Its number on the wire.
    pub fn code(self) -> u32 {
        match self {
            FabricTier::Instance => 0,
            FabricTier::Process => 1,
            FabricTier::Node => 2,
            FabricTier::Container => 3,
        }
    }

    /// The tier numbered `code`, if there is one.
    pub fn from_code(code: u32) -> Option<FabricTier> {
        match code {
            0 => Some(FabricTier::Instance),
            1 => Some(FabricTier::Process),
            2 => Some(FabricTier::Node),
            3 => Some(FabricTier::Container),
            _ => None,
        }
    }

    /// Its name (`instance`, `process`, `node`, `container`).
    pub fn as_str(self) -> &'static str {
        match self {
            FabricTier::Instance => "instance",
            FabricTier::Process => "process",
            FabricTier::Node => "node",
            FabricTier::Container => "container",
        }
    }
}

/// What a guest asks `fabric_map` for: `kernel` (a module of its own
/// workbook) run over every input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FabricRequest {
    /// The kernel's module name in the calling sandbox's workbook.
    pub kernel: String,
    /// The inputs, one kernel call each (at most
    /// [`MAX_FABRIC_INPUTS`](crate::limits::MAX_FABRIC_INPUTS)).
    pub inputs: Vec<Vec<u8>>,
    /// How many inputs run at once: 1 to 256, 0 for the default (16).
    pub width: u32,
    /// How each input runs.
    pub tier: FabricTier,
}

/// Why one input has no output: the node's error code (e.g.
/// `CALL_TRAPPED`) and message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FabricFailure {
    /// The error code, as in the node's error catalog.
    pub code: String,
    /// What happened.
    pub message: String,
}

/// What `fabric_read` hands over: one result per input, in input order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FabricResponse {
    /// Each input's output, or why it has none.
    pub results: Vec<Result<Vec<u8>, FabricFailure>>,
}

impl FabricRequest {
    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(self.kernel.as_bytes());
        w.u32(self.width);
        w.u32(self.tier.code());
        w.u32(u32::try_from(self.inputs.len()).unwrap_or(u32::MAX));
        for input in &self.inputs {
            w.bytes(input);
        }
        w.0
    }

    /// Parses the wire form; more than
    /// [`MAX_FABRIC_INPUTS`](crate::limits::MAX_FABRIC_INPUTS) inputs or an
    /// unknown tier is [`DecodeError::OutOfRange`].
    pub fn decode(bytes: &[u8]) -> Result<FabricRequest, DecodeError> {
        let mut r = Reader(bytes);
        let kernel = r.text("kernel")?;
        let width = r.u32("width")?;
        let tier = r.u32("tier")?;
        let tier = FabricTier::from_code(tier).ok_or(DecodeError::OutOfRange("tier", tier))?;
        let n = r.u32("input count")?;
        if n as usize > MAX_FABRIC_INPUTS {
            return Err(DecodeError::OutOfRange("input count", n));
        }
        // Each input takes at least its 4-byte length.
        if n as usize > r.0.len() / 4 {
            return Err(DecodeError::Truncated("inputs"));
        }
        let inputs = (0..n)
            .map(|_| Ok(r.bytes("input")?.to_vec()))
            .collect::<Result<Vec<_>, DecodeError>>()?;
        r.end()?;
        Ok(FabricRequest {
            kernel,
            inputs,
            width,
            tier,
        })
    }
}

impl FabricResponse {
    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(u32::try_from(self.results.len()).unwrap_or(u32::MAX));
        for result in &self.results {
            match result {
                Ok(output) => {
                    w.u32(0);
                    w.bytes(output);
                }
                Err(failure) => {
                    w.u32(1);
                    w.bytes(failure.code.as_bytes());
                    w.bytes(failure.message.as_bytes());
                }
            }
        }
        w.0
    }

    /// Parses the wire form.
    pub fn decode(bytes: &[u8]) -> Result<FabricResponse, DecodeError> {
        let mut r = Reader(bytes);
        let n = r.u32("result count")? as usize;
        // Each result takes at least its tag and one length.
        if n > r.0.len() / 8 {
            return Err(DecodeError::Truncated("results"));
        }
        let results = (0..n)
            .map(|_| match r.u32("result tag")? {
                0 => Ok(Ok(r.bytes("output")?.to_vec())),
                1 => Ok(Err(FabricFailure {
                    code: r.text("failure code")?,
                    message: r.text("failure message")?,
                })),
                tag => Err(DecodeError::OutOfRange("result tag", tag)),
            })
            .collect::<Result<Vec<_>, DecodeError>>()?;
        r.end()?;
        Ok(FabricResponse { results })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn request() -> FabricRequest {
        FabricRequest {
            kernel: "echo".into(),
            inputs: vec![b"a".to_vec(), Vec::new(), vec![0, 255]],
            width: 4,
            tier: FabricTier::Process,
        }
    }

    fn response() -> FabricResponse {
        FabricResponse {
            results: vec![
                Ok(b"a".to_vec()),
                Err(FabricFailure {
                    code: "CALL_TRAPPED".into(),
                    message: "wasm trap: unreachable".into(),
                }),
                Ok(Vec::new()),
            ],
        }
    }

    #[test]
    fn requests_and_responses_round_trip() {
        assert_eq!(FabricRequest::decode(&request().encode()), Ok(request()));
        assert_eq!(FabricResponse::decode(&response().encode()), Ok(response()));
        let empty = FabricRequest::default();
        assert_eq!(FabricRequest::decode(&empty.encode()), Ok(empty));
        let tiers = [
            FabricTier::Instance,
            FabricTier::Process,
            FabricTier::Node,
            FabricTier::Container,
        ];
        for (code, tier) in tiers.into_iter().enumerate() {
            assert_eq!(FabricTier::from_code(code as u32), Some(tier));
            assert_eq!(tier.code(), code as u32);
        }
        assert_eq!(FabricTier::from_code(4), None);
        assert_eq!(FabricTier::Container.as_str(), "container");
    }

    #[test]
    fn truncated_messages_are_refused() {
        let bytes = request().encode();
        for cut in 0..bytes.len() {
            assert!(
                FabricRequest::decode(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        assert_eq!(
            FabricRequest::decode(&bytes[..bytes.len() - 1]),
            Err(DecodeError::Truncated("input"))
        );
        let bytes = response().encode();
        for cut in 0..bytes.len() {
            assert!(
                FabricResponse::decode(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut extra = response().encode();
        extra.push(0);
        assert_eq!(
            FabricResponse::decode(&extra),
            Err(DecodeError::Trailing(1))
        );
    }

    #[test]
    fn counts_tiers_and_tags_out_of_range_are_refused() {
        let mut bytes = request().encode();
        // kernel (4 + 4 bytes), width, then the tier.
        bytes[12..16].copy_from_slice(&4u32.to_le_bytes());
        assert_eq!(
            FabricRequest::decode(&bytes),
            Err(DecodeError::OutOfRange("tier", 4))
        );
        let mut bytes = request().encode();
        let too_many = MAX_FABRIC_INPUTS as u32 + 1;
        bytes[16..20].copy_from_slice(&too_many.to_le_bytes());
        assert_eq!(
            FabricRequest::decode(&bytes),
            Err(DecodeError::OutOfRange("input count", too_many))
        );
        let mut bytes = request().encode();
        bytes[16..20].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(
            FabricRequest::decode(&bytes),
            Err(DecodeError::Truncated("inputs"))
        );
        let mut bytes = response().encode();
        bytes[4..8].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(
            FabricResponse::decode(&bytes),
            Err(DecodeError::OutOfRange("result tag", 2))
        );
        assert_eq!(
            DecodeError::OutOfRange("tier", 9).to_string(),
            "the tier 9 is out of range"
        );
    }
}
