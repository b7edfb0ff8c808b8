//! `kv`: the sandbox's own key-value store (its workbook's `kv` table).

use crate::ret::{check, read_growing};
use crate::sys;
use crate::Error;

/// The value of `key`, if set.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    match read_growing(|out, cap| unsafe { sys::kv_get(key.as_ptr(), key.len(), out, cap) }) {
        Ok(value) => Ok(Some(value)),
        Err(Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sets `key` to `value` (keys 1..=1024 bytes, values up to 1 MiB: see
/// [`limits`](nexus_abi::limits)).
pub fn set(key: &str, value: &[u8]) -> Result<(), Error> {
    check(unsafe { sys::kv_set(key.as_ptr(), key.len(), value.as_ptr(), value.len()) }).map(|_| ())
}

/// Removes `key`; whether it existed.
pub fn delete(key: &str) -> Result<bool, Error> {
    check(unsafe { sys::kv_delete(key.as_ptr(), key.len()) }).map(|n| n == 1)
}
