//! IP address ranges for the `IpAddress` and `NotIpAddress` condition operators.

use std::fmt;
use std::net::IpAddr;

/// Bits in an IPv4 address.
const IPV4_BITS: u8 = 32;
/// Bits in an IPv6 address.
const IPV6_BITS: u8 = 128;

/// An address range `network/prefix_length`, kept with the host bits cleared so that
/// `10.1.2.3/8` and `10.0.0.0/8` print (and compare) the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    /// The first address of the range; bits past `prefix_length` are zero.
    network: IpAddr,
    /// Leading bits that must agree; at most 32 for IPv4 and 128 for IPv6.
    prefix_length: u8,
}

impl Cidr {
    /// Parses `address/length` or a bare address (a range of one address). MinIO appends
    /// `/32` to every bare address, which for IPv6 would allow a huge range; a bare
    /// IPv6 address here is `/128`.
    pub(crate) fn parse(text: &str) -> Option<Cidr> {
        let (address, length) = match text.split_once('/') {
            Some((address, length)) => (address, Some(length)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().ok()?;
        let bits = match address {
            IpAddr::V4(_) => IPV4_BITS,
            IpAddr::V6(_) => IPV6_BITS,
        };
        let prefix_length = match length {
            // `u8::from_str` accepts a leading '+', which is not CIDR notation.
            Some(length) if length.is_empty() || !length.bytes().all(|byte| byte.is_ascii_digit()) => return None,
            Some(length) => length.parse::<u8>().ok()?,
            None => bits,
        };
        if prefix_length > bits {
            return None;
        }
        Some(Cidr { network: mask(address, prefix_length), prefix_length })
    }

    /// Whether `address` lies in the range. An IPv4 address written in IPv6's mapped
    /// form (`::ffff:10.0.0.1`) counts as the IPv4 address, as Go's `net` package has it.
    pub(crate) fn contains(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            IpAddr::V4(_) => address,
        };
        let same_family =
            matches!((self.network, address), (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)));
        same_family && mask(address, self.prefix_length) == self.network
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.network, self.prefix_length)
    }
}

/// `address` with every bit past the first `prefix_length` cleared.
fn mask(address: IpAddr, prefix_length: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            assert!(prefix_length <= IPV4_BITS, "IPv4 prefix longer than the address");
            let keep = u32::MAX.checked_shl(u32::from(IPV4_BITS - prefix_length)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & keep).into())
        }
        IpAddr::V6(v6) => {
            assert!(prefix_length <= IPV6_BITS, "IPv6 prefix longer than the address");
            let keep = u128::MAX.checked_shl(u32::from(IPV6_BITS - prefix_length)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & keep).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    #[test]
    fn ipv4_ranges() {
        let range = Cidr::parse("192.168.1.77/24").expect("valid");
        assert_eq!(range.to_string(), "192.168.1.0/24");
        assert!(range.contains(ip("192.168.1.1")));
        assert!(range.contains(ip("192.168.1.255")));
        assert!(!range.contains(ip("192.168.2.1")));
        assert!(range.contains(ip("::ffff:192.168.1.9")));
        assert!(!range.contains(ip("2001:db8::1")));
        let single = Cidr::parse("10.0.0.1").expect("valid");
        assert_eq!(single.to_string(), "10.0.0.1/32");
        assert!(single.contains(ip("10.0.0.1")));
        assert!(!single.contains(ip("10.0.0.2")));
        let everything = Cidr::parse("0.0.0.0/0").expect("valid");
        assert!(everything.contains(ip("203.0.113.5")));
    }

    #[test]
    fn ipv6_ranges() {
        let range = Cidr::parse("2001:db8::/32").expect("valid");
        assert!(range.contains(ip("2001:db8:1234::1")));
        assert!(!range.contains(ip("2001:db9::1")));
        assert!(!range.contains(ip("10.0.0.1")));
        let single = Cidr::parse("2001:db8::1").expect("valid");
        assert_eq!(single.to_string(), "2001:db8::1/128");
        assert!(!single.contains(ip("2001:db8::2")));
    }

    #[test]
    fn refuses_malformed() {
        for text in
            ["", "10.0.0.1/33", "2001:db8::/129", "10.0.0/8", "10.0.0.1/", "10.0.0.1/+8", "host/8", "10.0.0.1/8/8"]
        {
            assert_eq!(Cidr::parse(text), None, "{text}");
        }
    }
}
