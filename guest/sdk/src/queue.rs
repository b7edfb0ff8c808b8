//! `queue`: bounded FIFO queues shared by the sandboxes of one tenant.

use crate::ret::{check, read_growing};
use crate::sys;
use crate::Error;

/// Appends `message` to queue `name`; [`Error::Full`] when it is full.
pub fn push(name: &str, message: &[u8]) -> Result<(), Error> {
    check(unsafe { sys::queue_push(name.as_ptr(), name.len(), message.as_ptr(), message.len()) })
        .map(|_| ())
}

/// Removes and returns the oldest message of queue `name`, if any (never waits).
pub fn pop(name: &str) -> Result<Option<Vec<u8>>, Error> {
    match read_growing(|out, cap| unsafe { sys::queue_pop(name.as_ptr(), name.len(), out, cap) }) {
        Ok(message) => Ok(Some(message)),
        Err(Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Messages waiting in queue `name`.
pub fn len(name: &str) -> Result<usize, Error> {
    check(unsafe { sys::queue_len(name.as_ptr(), name.len()) })
}
