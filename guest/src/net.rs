//! `net`: HTTP through the host's broker. Only `http://` URLs; loopback,
//! private, link-local and reserved addresses are refused with their own
//! [`Error`]s, redirects are followed (and checked) by the host.

use crate::error::{check, read_growing, Error};
pub use crate::message::{Request, Response};
use crate::sys;

/// Makes `request` (its `target` an absolute `http://` URL).
pub fn fetch(request: &Request) -> Result<Response, Error> {
    let bytes = request.to_bytes();
    check(unsafe { sys::net_fetch(bytes.as_ptr(), bytes.len()) })?;
    let raw = read_growing(|out, cap| unsafe { sys::net_read(out, cap) })?;
    Response::from_bytes(&raw)
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, Error> {
    fetch(&Request::get(url))
}
