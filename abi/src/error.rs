//! The negative return codes of host functions, as `i32` constants (what
//! crosses the boundary) and as [`Error`] (what Rust code matches on).
//! docs/guest-abi.md, "Error codes", lists the same.

use core::fmt;

/// A pointer/length pair is outside the guest's memory (or overflows), or
/// the module exports no `memory`.
pub const ERR_BOUNDS: i32 = -1;
/// Refused by policy: a path outside the volume, a capability not granted.
pub const ERR_DENIED: i32 = -2;
/// A key, value, path, message or buffer is over its cap.
pub const ERR_TOO_LARGE: i32 = -3;
/// No such key, file or (`fabric`) kernel.
pub const ERR_NOT_FOUND: i32 = -4;
/// An argument is invalid: not UTF-8, unknown volume or log level, empty key.
pub const ERR_INVALID: i32 = -5;
/// The host's storage failed; the details are in the node's log.
pub const ERR_IO: i32 = -6;
/// Too many calls of this kind in this call (log lines).
pub const ERR_RATE: i32 = -7;
/// The queue is full, or the tenant has its maximum of queues; `fabric`:
/// the node runs its most jobs.
pub const ERR_FULL: i32 = -8;
/// `net`: the host is (or resolves to) a loopback address.
pub const ERR_NET_LOOPBACK: i32 = -10;
/// `net`: a private address (RFC 1918, CGNAT, ULA).
pub const ERR_NET_PRIVATE: i32 = -11;
/// `net`: a link-local address (169.254/16 with cloud metadata, fe80::/10).
pub const ERR_NET_LINK_LOCAL: i32 = -12;
/// `net`: an unspecified, multicast, broadcast or reserved address.
pub const ERR_NET_RESERVED: i32 = -13;
/// `net`: not an `http://` URL.
pub const ERR_NET_SCHEME: i32 = -14;
/// `net`: the name does not resolve.
pub const ERR_NET_RESOLVE: i32 = -15;
/// `net`: connecting or talking HTTP failed.
pub const ERR_NET_CONNECT: i32 = -16;
/// `net`: the fetch passed its deadline.
pub const ERR_NET_TIMEOUT: i32 = -17;
/// `net`: too many redirects.
pub const ERR_NET_REDIRECTS: i32 = -18;

/// A refusal from the host: the typed form of the `ERR_*` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// A pointer or length outside guest memory ([`ERR_BOUNDS`]).
    Bounds,
    /// Refused by policy: a path escaping its volume, an ungranted
    /// capability ([`ERR_DENIED`]).
    Denied,
    /// A key, value, path, message or buffer over its cap ([`ERR_TOO_LARGE`]).
    TooLarge,
    /// No such key or file ([`ERR_NOT_FOUND`]).
    NotFound,
    /// An invalid argument: empty key, not UTF-8, unknown volume or level
    /// ([`ERR_INVALID`]).
    Invalid,
    /// Host storage failed ([`ERR_IO`]).
    Io,
    /// Too many calls of this kind in one call ([`ERR_RATE`]).
    Rate,
    /// The queue is full, or the tenant has its maximum of queues ([`ERR_FULL`]).
    Full,
    /// `net`: the host is a loopback address ([`ERR_NET_LOOPBACK`]).
    NetLoopback,
    /// `net`: a private address: RFC 1918, CGNAT, ULA ([`ERR_NET_PRIVATE`]).
    NetPrivate,
    /// `net`: a link-local address, cloud metadata included ([`ERR_NET_LINK_LOCAL`]).
    NetLinkLocal,
    /// `net`: an unspecified, multicast, broadcast or reserved address
    /// ([`ERR_NET_RESERVED`]).
    NetReserved,
    /// `net`: not an `http://` URL ([`ERR_NET_SCHEME`]).
    NetScheme,
    /// `net`: the name does not resolve ([`ERR_NET_RESOLVE`]).
    NetResolve,
    /// `net`: connecting or talking HTTP failed ([`ERR_NET_CONNECT`]).
    NetConnect,
    /// `net`: no response within the deadline ([`ERR_NET_TIMEOUT`]).
    NetTimeout,
    /// `net`: too many redirects ([`ERR_NET_REDIRECTS`]).
    NetRedirects,
    /// A message crossing the boundary that does not decode (the host
    /// never returns it; its code is [`ERR_INVALID`]).
    Malformed,
    /// A negative code this version of the ABI does not define.
    Unknown(i32),
}

/// Every code of the ABI with its error and description, in code order.
const CODES: [(i32, Error, &str); 17] = [
    (
        ERR_BOUNDS,
        Error::Bounds,
        "pointer or length outside guest memory",
    ),
    (ERR_DENIED, Error::Denied, "refused by policy"),
    (ERR_TOO_LARGE, Error::TooLarge, "over its cap"),
    (ERR_NOT_FOUND, Error::NotFound, "not found"),
    (ERR_INVALID, Error::Invalid, "invalid argument"),
    (ERR_IO, Error::Io, "host storage failed"),
    (
        ERR_RATE,
        Error::Rate,
        "too many calls of this kind in one call",
    ),
    (ERR_FULL, Error::Full, "queue full"),
    (
        ERR_NET_LOOPBACK,
        Error::NetLoopback,
        "net: loopback address refused",
    ),
    (
        ERR_NET_PRIVATE,
        Error::NetPrivate,
        "net: private address refused",
    ),
    (
        ERR_NET_LINK_LOCAL,
        Error::NetLinkLocal,
        "net: link-local address refused",
    ),
    (
        ERR_NET_RESERVED,
        Error::NetReserved,
        "net: reserved address refused",
    ),
    (ERR_NET_SCHEME, Error::NetScheme, "net: not an http:// URL"),
    (
        ERR_NET_RESOLVE,
        Error::NetResolve,
        "net: the name does not resolve",
    ),
    (
        ERR_NET_CONNECT,
        Error::NetConnect,
        "net: connecting or talking HTTP failed",
    ),
    (
        ERR_NET_TIMEOUT,
        Error::NetTimeout,
        "net: no response within the deadline",
    ),
    (
        ERR_NET_REDIRECTS,
        Error::NetRedirects,
        "net: too many redirects",
    ),
];

impl Error {
    /// The ABI code of this error ([`Error::Malformed`] is [`ERR_INVALID`]).
    pub fn code(self) -> i32 {
        match self {
            Error::Malformed => ERR_INVALID,
            Error::Unknown(code) => code,
            known => CODES
                .iter()
                .find(|(_, e, _)| *e == known)
                .map_or(ERR_INVALID, |(code, _, _)| *code),
        }
    }

    /// The error for a negative return code ([`Error::Unknown`] for a code
    /// the ABI does not define).
    pub fn from_code(code: i32) -> Error {
        CODES
            .iter()
            .find(|(c, _, _)| *c == code)
            .map_or(Error::Unknown(code), |(_, e, _)| *e)
    }

    /// What the error means, in a few words.
    pub fn description(self) -> &'static str {
        match self {
            Error::Malformed => "malformed message",
            Error::Unknown(_) => "unknown host error",
            known => CODES
                .iter()
                .find(|(_, e, _)| *e == known)
                .map_or("unknown host error", |(_, _, d)| d),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (host error {})", self.description(), self.code())
    }
}

impl core::error::Error for Error {}

impl From<crate::http::DecodeError> for Error {
    fn from(_: crate::http::DecodeError) -> Error {
        Error::Malformed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn codes_and_errors_map_both_ways() {
        for (code, error, _) in CODES {
            assert!(code < 0);
            assert_eq!(Error::from_code(code), error);
            assert_eq!(error.code(), code);
        }
        assert_eq!(Error::from_code(-9), Error::Unknown(-9));
        assert_eq!(Error::Unknown(-99).code(), -99);
        assert_eq!(Error::Malformed.code(), ERR_INVALID);
        assert_eq!(Error::from_code(ERR_INVALID), Error::Invalid);
    }

    #[test]
    fn errors_describe_themselves_with_their_code() {
        assert_eq!(
            Error::NetLoopback.to_string(),
            "net: loopback address refused (host error -10)"
        );
        assert_eq!(
            Error::Unknown(-42).to_string(),
            "unknown host error (host error -42)"
        );
        assert_eq!(
            Error::Malformed.to_string(),
            "malformed message (host error -5)"
        );
    }
}
