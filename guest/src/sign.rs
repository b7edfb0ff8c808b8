//! `sign`: Ed25519 signatures with the tenant's key, which the host keeps.

use crate::error::{check, Error};
use crate::sys;

/// The 64-byte Ed25519 signature of `message` by the tenant's key.
pub fn sign(message: &[u8]) -> Result<[u8; 64], Error> {
    let mut signature = [0u8; 64];
    check(unsafe { sys::sign_message(message.as_ptr(), message.len(), signature.as_mut_ptr()) })?;
    Ok(signature)
}

/// The tenant's 32-byte Ed25519 public key.
pub fn public_key() -> Result<[u8; 32], Error> {
    let mut key = [0u8; 32];
    check(unsafe { sys::sign_public_key(key.as_mut_ptr()) })?;
    Ok(key)
}
