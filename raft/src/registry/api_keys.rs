//! API key hashing.

use sha2::{Digest, Sha256};

/// Lowercase hex sha256 of an API key.
///
/// Keys are 256-bit random secrets, so a fast unsalted hash is the right tool:
/// there is nothing to brute-force, and lookups by hash stay a single index probe.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Whether `s` looks like a [`hash_api_key`] output: 64 lowercase hex chars.
pub(crate) fn is_key_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_the_sha256_test_vector() {
        assert_eq!(
            hash_api_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(is_key_hash(&hash_api_key("")));
    }

    #[test]
    fn key_hash_shape_is_checked() {
        let good = hash_api_key("k");
        assert!(is_key_hash(&good));
        assert!(!is_key_hash(&good.to_uppercase()));
        assert!(!is_key_hash(&good[1..]));
        assert!(!is_key_hash(&format!("{good}0")));
        assert!(!is_key_hash(&"g".repeat(64)));
        assert!(!is_key_hash("nx_plaintext_key"));
    }
}
