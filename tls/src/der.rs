//! Certificate bytes in their two forms: the sha256 fingerprint of a DER
//! certificate, and DER wrapped as PEM.

use sha2::{Digest, Sha256};

/// Lowercase hex sha256 of a certificate DER.
pub fn fingerprint_of(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// PEM-encodes DER bytes under `label` (LF line endings).
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der), config)
}
