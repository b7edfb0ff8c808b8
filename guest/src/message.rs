//! HTTP messages as they cross the boundary (docs/guest-abi.md, "HTTP
//! messages"): little-endian `u32` numbers and length-prefixed byte strings.

use crate::error::Error;

/// An HTTP request: what [`net::fetch`](crate::net::fetch) sends, what an
/// [`http_handler!`](crate::http_handler) receives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// An absolute `http://` URL (fetch) or the path and query (handler).
    pub target: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A `GET` of `url`.
    pub fn get(url: &str) -> Request {
        Request {
            method: "GET".into(),
            target: url.into(),
            ..Request::default()
        }
    }

    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put(&mut out, self.method.as_bytes());
        put(&mut out, self.target.as_bytes());
        put_headers(&mut out, &self.headers);
        put(&mut out, &self.body);
        out
    }

    pub(crate) fn from_bytes(mut bytes: &[u8]) -> Result<Request, Error> {
        let b = &mut bytes;
        let request = Request {
            method: take_text(b)?,
            target: take_text(b)?,
            headers: take_headers(b)?,
            body: take(b)?.to_vec(),
        };
        finished(b).map(|_| request)
    }
}

impl Response {
    /// A response with `status` and `body` and no headers.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// This response with one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = u32::from(self.status).to_le_bytes().to_vec();
        put_headers(&mut out, &self.headers);
        put(&mut out, &self.body);
        out
    }

    pub(crate) fn from_bytes(mut bytes: &[u8]) -> Result<Response, Error> {
        let b = &mut bytes;
        let status = u16::try_from(take_u32(b)?).map_err(|_| Error::Malformed)?;
        let response = Response {
            status,
            headers: take_headers(b)?,
            body: take(b)?.to_vec(),
        };
        finished(b).map(|_| response)
    }
}

fn find<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn put(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u32).to_le_bytes());
    out.extend_from_slice(field);
}

fn put_headers(out: &mut Vec<u8>, headers: &[(String, String)]) {
    out.extend_from_slice(&(headers.len() as u32).to_le_bytes());
    for (name, value) in headers {
        put(out, name.as_bytes());
        put(out, value.as_bytes());
    }
}

fn take_u32(b: &mut &[u8]) -> Result<u32, Error> {
    let (n, rest) = b.split_first_chunk::<4>().ok_or(Error::Malformed)?;
    *b = rest;
    Ok(u32::from_le_bytes(*n))
}

fn take<'a>(b: &mut &'a [u8]) -> Result<&'a [u8], Error> {
    let len = take_u32(b)? as usize;
    if len > b.len() {
        return Err(Error::Malformed);
    }
    let (field, rest) = b.split_at(len);
    *b = rest;
    Ok(field)
}

fn take_text(b: &mut &[u8]) -> Result<String, Error> {
    String::from_utf8(take(b)?.to_vec()).map_err(|_| Error::Malformed)
}

fn take_headers(b: &mut &[u8]) -> Result<Vec<(String, String)>, Error> {
    let n = take_u32(b)? as usize;
    if n > b.len() / 8 {
        return Err(Error::Malformed);
    }
    (0..n).map(|_| Ok((take_text(b)?, take_text(b)?))).collect()
}

fn finished(b: &[u8]) -> Result<(), Error> {
    if b.is_empty() {
        Ok(())
    } else {
        Err(Error::Malformed)
    }
}
