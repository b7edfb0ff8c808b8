//! `sign`: Ed25519 signatures with the tenant's key, which the host keeps.

use nexus_abi::limits::{PUBLIC_KEY_LEN, SIGNATURE_LEN};

use crate::ret::check;
use crate::sys;
use crate::Error;

/// The 64-byte Ed25519 signature of `message` by the tenant's key.
pub fn sign(message: &[u8]) -> Result<[u8; SIGNATURE_LEN], Error> {
    let mut signature = [0u8; SIGNATURE_LEN];
    check(unsafe { sys::sign_message(message.as_ptr(), message.len(), signature.as_mut_ptr()) })?;
    Ok(signature)
}

/// The tenant's 32-byte Ed25519 public key.
pub fn public_key() -> Result<[u8; PUBLIC_KEY_LEN], Error> {
    let mut key = [0u8; PUBLIC_KEY_LEN];
    check(unsafe { sys::sign_public_key(key.as_mut_ptr()) })?;
    Ok(key)
}
