//! Bytes inside JSON strings: UTF-8 text as it is, anything else base64,
//! with a field saying which (the API's call bodies, fabric inputs and
//! results).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// How bytes travel inside a JSON string.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The string is the bytes as UTF-8 text.
    #[default]
    Utf8,
    /// The string is standard base64.
    Base64,
}

/// Bytes as a JSON string: text when they are UTF-8, base64 otherwise.
pub fn encode_bytes(bytes: Vec<u8>) -> (String, Encoding) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, Encoding::Utf8),
        Err(e) => (BASE64.encode(e.as_bytes()), Encoding::Base64),
    }
}

/// The bytes a JSON string stands for.
pub fn decode_bytes(text: String, encoding: Encoding) -> Result<Vec<u8>, base64::DecodeError> {
    match encoding {
        Encoding::Utf8 => Ok(text.into_bytes()),
        Encoding::Base64 => BASE64.decode(text),
    }
}
