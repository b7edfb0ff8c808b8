//! `net`: HTTP through the host's broker. Only `http://` URLs; loopback,
//! private, link-local and reserved addresses are refused with their own
//! [`Error`]s, redirects are followed (and checked) by the host.

pub use crate::http::{Request, Response};
use crate::ret::{check, read_growing};
use crate::sys;
use crate::Error;

/// Makes `request` (its `target` an absolute `http://` URL).
pub fn fetch(request: &Request) -> Result<Response, Error> {
    let bytes = request.encode();
    check(unsafe { sys::net_fetch(bytes.as_ptr(), bytes.len()) })?;
    let raw = read_growing(|out, cap| unsafe { sys::net_read(out, cap) })?;
    Ok(Response::decode(&raw)?)
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, Error> {
    fetch(&Request::get(url))
}
