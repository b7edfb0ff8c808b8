//! The binary form of HTTP messages crossing the guest boundary, shared by
//! `net_fetch` (guest → host request, host → guest response) and the
//! `serve` shape (host → guest request, guest → host response). Every
//! field is a little-endian `u32` or a byte string (`u32` length, then the
//! bytes). See docs/guest-abi.md, "HTTP messages".
//!
//! - request: `method`, `target` (URL, or path and query), `n` (u32), `n`
//!   × (`name`, `value`), `body`;
//! - response: `status` (u32), `n` (u32), `n` × (`name`, `value`), `body`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// An HTTP request: what `net_fetch` sends, what a `serve` handler receives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// An absolute `http://` URL (`net_fetch`) or a path with its query (`serve`).
    pub target: String,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// A message that does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes end inside a field.
    Truncated(&'static str),
    /// A text field is not UTF-8.
    NotUtf8(&'static str),
    /// Bytes follow the body.
    Trailing(usize),
    /// The status is not 100..=999.
    BadStatus(u32),
    /// A field's value is out of its range (a fabric tier, a result tag,
    /// an input count past the bound).
    OutOfRange(&'static str, u32),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated(what) => write!(f, "message ends inside its {what}"),
            DecodeError::NotUtf8(what) => write!(f, "the {what} is not UTF-8"),
            DecodeError::Trailing(n) => write!(f, "{n} bytes follow the body"),
            DecodeError::BadStatus(status) => write!(f, "status {status} is not an HTTP status"),
            DecodeError::OutOfRange(what, n) => write!(f, "the {what} {n} is out of range"),
        }
    }
}

impl core::error::Error for DecodeError {}

impl HttpRequest {
    /// A `GET` of `url`, without headers.
    pub fn get(url: &str) -> HttpRequest {
        HttpRequest {
            method: "GET".into(),
            target: url.into(),
            ..HttpRequest::default()
        }
    }

    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(self.method.as_bytes());
        w.bytes(self.target.as_bytes());
        w.headers(&self.headers);
        w.bytes(&self.body);
        w.0
    }

    /// Parses the wire form.
    pub fn decode(bytes: &[u8]) -> Result<HttpRequest, DecodeError> {
        let mut r = Reader(bytes);
        let request = HttpRequest {
            method: r.text("method")?,
            target: r.text("target")?,
            headers: r.headers()?,
            body: r.bytes("body")?.to_vec(),
        };
        r.end()?;
        Ok(request)
    }
}

impl HttpResponse {
    /// A response with `status` and `body` and no headers.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// This response with one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> HttpResponse {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u32(u32::from(self.status));
        w.headers(&self.headers);
        w.bytes(&self.body);
        w.0
    }

    /// Parses the wire form.
    pub fn decode(bytes: &[u8]) -> Result<HttpResponse, DecodeError> {
        let mut r = Reader(bytes);
        let status = r.u32("status")?;
        let status = u16::try_from(status)
            .ok()
            .filter(|s| (100..=999).contains(s))
            .ok_or(DecodeError::BadStatus(status))?;
        let response = HttpResponse {
            status,
            headers: r.headers()?,
            body: r.bytes("body")?.to_vec(),
        };
        r.end()?;
        Ok(response)
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Builds a wire message: little-endian `u32`s and length-prefixed byte strings.
#[derive(Default)]
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn u32(&mut self, n: u32) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(b);
    }

    fn headers(&mut self, headers: &[(String, String)]) {
        self.u32(u32::try_from(headers.len()).unwrap_or(u32::MAX));
        for (name, value) in headers {
            self.bytes(name.as_bytes());
            self.bytes(value.as_bytes());
        }
    }
}

/// Reads a wire message field by field.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<4>()
            .ok_or(DecodeError::Truncated(what))?;
        self.0 = rest;
        Ok(u32::from_le_bytes(*head))
    }

    pub(crate) fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(what)? as usize;
        if len > self.0.len() {
            return Err(DecodeError::Truncated(what));
        }
        let (field, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(field)
    }

    pub(crate) fn text(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let bytes = self.bytes(what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::NotUtf8(what))
    }

    fn headers(&mut self) -> Result<Vec<(String, String)>, DecodeError> {
        let n = self.u32("header count")? as usize;
        // Each header takes at least 8 bytes: a count past that is truncated.
        if n > self.0.len() / 8 {
            return Err(DecodeError::Truncated("headers"));
        }
        (0..n)
            .map(|_| Ok((self.text("header name")?, self.text("header value")?)))
            .collect()
    }

    pub(crate) fn end(&self) -> Result<(), DecodeError> {
        match self.0.len() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let req = HttpRequest {
            method: "POST".into(),
            target: "/a?b=c".into(),
            headers: vec![("content-type".into(), "text/plain".into())],
            body: b"hi".to_vec(),
        };
        assert_eq!(HttpRequest::decode(&req.encode()), Ok(req.clone()));
        let resp = HttpResponse {
            status: 201,
            headers: vec![("x".into(), "y".into())],
            body: vec![0, 1, 2],
        };
        assert_eq!(HttpResponse::decode(&resp.encode()), Ok(resp.clone()));
        let bytes = resp.encode();
        assert_eq!(
            HttpResponse::decode(&bytes[..bytes.len() - 1]),
            Err(DecodeError::Truncated("body"))
        );
        let mut extra = req.encode();
        extra.push(0);
        assert_eq!(HttpRequest::decode(&extra), Err(DecodeError::Trailing(1)));
        let mut bad = resp.encode();
        bad[..4].copy_from_slice(&7u32.to_le_bytes());
        assert_eq!(HttpResponse::decode(&bad), Err(DecodeError::BadStatus(7)));
        assert!(HttpResponse::decode(&[0, 0, 0]).is_err());
    }

    #[test]
    fn a_text_field_must_be_utf8_and_a_header_count_must_fit() {
        let mut bytes = HttpRequest::get("http://x/").encode();
        bytes[4] = 0xff;
        assert_eq!(
            HttpRequest::decode(&bytes),
            Err(DecodeError::NotUtf8("method"))
        );
        let mut huge = HttpResponse::new(200, "").encode();
        huge[4..8].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(
            HttpResponse::decode(&huge),
            Err(DecodeError::Truncated("headers"))
        );
        assert_eq!(
            DecodeError::Truncated("body").to_string(),
            "message ends inside its body"
        );
    }

    #[test]
    fn helpers_build_and_read_messages() {
        let req = HttpRequest::get("http://example.com/");
        assert_eq!(
            (req.method.as_str(), req.target.as_str()),
            ("GET", "http://example.com/")
        );
        let resp = HttpResponse::new(404, "gone").with_header("Content-Type", "text/plain");
        assert_eq!(resp.header("content-type"), Some("text/plain"));
        assert_eq!(resp.header("x-missing"), None);
        assert_eq!(resp.body, b"gone");
    }
}
