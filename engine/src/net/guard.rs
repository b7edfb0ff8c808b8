//! The SSRF guard: which addresses the `net` broker refuses to connect to.
//! Loopback, private (RFC 1918, CGNAT 100.64/10, ULA fc00::/7, site-local),
//! link-local (169.254/16 with the cloud metadata address, fe80::/10) and
//! other special ranges (unspecified, multicast, broadcast, reserved) are
//! refused, also in their IPv4-mapped, IPv4-compatible and NAT64 forms.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::super::abi;

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// RFC 1918, CGNAT 100.64.0.0/10, ULA fc00::/7, site-local fec0::/10.
    Private,
    /// 169.254.0.0/16 (cloud metadata included), fe80::/10.
    LinkLocal,
    /// Unspecified, multicast, broadcast, "this network" and reserved ranges.
    Reserved,
}

impl Refusal {
    /// The ABI error code the guest gets.
    pub fn code(self) -> i32 {
        match self {
            Refusal::Loopback => abi::ERR_NET_LOOPBACK,
            Refusal::Private => abi::ERR_NET_PRIVATE,
            Refusal::LinkLocal => abi::ERR_NET_LINK_LOCAL,
            Refusal::Reserved => abi::ERR_NET_RESERVED,
        }
    }

    /// A short description for logs and denial records.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Loopback => "loopback address",
            Refusal::Private => "private address",
            Refusal::LinkLocal => "link-local address",
            Refusal::Reserved => "reserved address",
        }
    }
}

/// Whether `ip` may be connected to: `allow` (a test-only override) wins,
/// otherwise the special ranges are refused.
pub fn check(ip: IpAddr, allow: &[IpNet]) -> Result<(), Refusal> {
    if allow.iter().any(|net| net.contains(&ip)) {
        return Ok(());
    }
    match classify(ip) {
        Some(refusal) => Err(refusal),
        None => Ok(()),
    }
}

/// The refusal for `ip`, if it is in a special range.
fn classify(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Refusal> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some(Refusal::Loopback)
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some(Refusal::Private)
    } else if ip.is_link_local() {
        Some(Refusal::LinkLocal)
    } else if a == 0
        || a >= 224
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
    {
        Some(Refusal::Reserved)
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Refusal> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some(Refusal::Loopback)
    } else if first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfec0 {
        Some(Refusal::Private)
    } else if first & 0xffc0 == 0xfe80 {
        Some(Refusal::LinkLocal)
    } else if ip.is_unspecified() || ip.is_multicast() {
        Some(Refusal::Reserved)
    } else {
        None
    }
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        [0, 0, 0, 0, 0, 0, _, _] if !ip.is_loopback() && !ip.is_unspecified() => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(ip: &str) -> Result<(), Refusal> {
        check(ip.parse().expect("ip"), &[])
    }

    #[test]
    fn refuses_special_ranges_in_every_form() {
        use Refusal::*;
        let cases = [
            ("127.0.0.1", Loopback),
            ("127.9.9.9", Loopback),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("10.0.0.1", Private),
            // The WireGuard mesh's default prefix (`[mesh] cidr`): guests
            // granted `net` never reach another node's mesh address.
            ("10.99.0.1", Private),
            ("172.16.5.4", Private),
            ("192.168.1.1", Private),
            ("100.64.0.1", Private),
            ("100.127.255.255", Private),
            ("fd00::1", Private),
            ("::ffff:10.0.0.1", Private),
            ("64:ff9b::10.0.0.1", Private),
            ("169.254.169.254", LinkLocal),
            ("::ffff:169.254.169.254", LinkLocal),
            ("fe80::1", LinkLocal),
            ("0.0.0.0", Reserved),
            ("::", Reserved),
            ("224.0.0.1", Reserved),
            ("255.255.255.255", Reserved),
            ("ff02::1", Reserved),
        ];
        for (ip, want) in cases {
            assert_eq!(verdict(ip), Err(want), "{ip}");
        }
        for ok in [
            "93.184.216.34",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert_eq!(verdict(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn the_allow_list_overrides() {
        let allow: Vec<IpNet> = vec!["127.0.0.1/32".parse().expect("net")];
        assert_eq!(check("127.0.0.1".parse().expect("ip"), &allow), Ok(()));
        assert_eq!(
            check("127.0.0.2".parse().expect("ip"), &allow),
            Err(Refusal::Loopback)
        );
    }
}
