//! Which addresses outbound HTTP may reach. Loopback, private, link-local,
//! cloud-metadata and other special-purpose ranges are refused unless the
//! operator allows them (`WEFT_HTTP_ALLOW`), so a workflow cannot be pointed
//! at the host's own services or its cloud's metadata endpoint. The check runs
//! on resolved addresses, for every connection, including after redirects.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Why an address is refused, or `None` for a public unicast address.
pub fn special_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, d] = ip.octets();
    Some(match (a, b) {
        _ if ip.is_loopback() => "a loopback address",
        (169, 254) if (c, d) == (169, 254) => "a cloud metadata address",
        (100, 100) if (c, d) == (100, 200) => "a cloud metadata address",
        (169, 254) => "a link-local address",
        (10, _) | (192, 168) => "a private address",
        (172, 16..=31) => "a private address",
        (100, 64..=127) => "a shared (carrier-grade NAT) address",
        (0, _) => "an unspecified address",
        (192, 0) if c == 0 => "an IETF protocol address",
        (198, 18..=19) => "a benchmarking address",
        (192, 0) if c == 2 => "a documentation address",
        (198, 51) if c == 100 => "a documentation address",
        (203, 0) if c == 113 => "a documentation address",
        (224..=239, _) => "a multicast address",
        (240..=255, _) => "a reserved address",
        _ => return None,
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    // Forms that carry an IPv4 address are judged by that address.
    if let Some(v4) = embedded_v4(ip) {
        return special_v4(v4);
    }
    let s = ip.segments();
    Some(match s[0] {
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_unspecified() => "an unspecified address",
        0xfd00 if s[1] == 0x0ec2 => "a cloud metadata address",
        x if x & 0xfe00 == 0xfc00 => "a private (unique local) address",
        x if x & 0xffc0 == 0xfe80 => "a link-local address",
        x if x & 0xffc0 == 0xfec0 => "a site-local address",
        x if x & 0xff00 == 0xff00 => "a multicast address",
        0x2001 if s[1] == 0x0db8 => "a documentation address",
        // Local-use NAT64 (RFC 8215): reaches IPv4 space of the operator's choosing.
        0x0064 if s[1] == 0xff9b && s[2] == 1 => "a local-use NAT64 address",
        0x0100 if s[1..4] == [0, 0, 0] => "a discard-only address",
        _ => return None,
    })
}

/// The IPv4 address inside IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:ab:cd::`) forms.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail()),
        [0, 0, 0, 0, 0, 0, hi, _] if hi != 0 => Some(tail()),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail()),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

/// The operator's exceptions to the refused ranges: host names and CIDRs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    hosts: BTreeSet<String>,
    nets: Vec<IpNet>,
}

/// A destination that the policy refuses; reqwest carries it through its
/// error chain, where the capability finds it to give the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl AllowList {
    /// Parses `WEFT_HTTP_ALLOW`: comma-separated host names, addresses and CIDRs.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut list = AllowList::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if let Ok(net) = item.parse::<IpNet>() {
                list.nets.push(net);
            } else if let Ok(ip) = item.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
                list.nets.push(IpNet::from(ip));
            } else if item.contains('/') || item.contains(char::is_whitespace) {
                return Err(format!("`{item}` is neither a host name nor a CIDR"));
            } else {
                list.hosts.insert(item.trim_end_matches('.').to_ascii_lowercase());
            }
        }
        Ok(list)
    }

    fn allows(&self, host: &str, ip: IpAddr) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let canonical = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.hosts.contains(&host) || self.nets.iter().any(|n| n.contains(&ip) || n.contains(&canonical))
    }

    /// Ok when `host` may be reached at `ip`; otherwise the reason.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), Refused> {
        match special_range(ip) {
            Some(range) if !self.allows(host, ip) => Err(Refused(format!(
                "destination {ip} of `{host}` is {range}; refused (allow it with WEFT_HTTP_ALLOW)"
            ))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(addr: &str) -> bool {
        AllowList::default().check("h", addr.parse().unwrap()).is_err()
    }

    #[test]
    fn refuses_private_link_local_and_metadata_ranges() {
        for addr in [
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "169.254.0.1",
            "169.254.169.254",
            "100.100.100.200",
            "127.0.0.1",
            "127.0.0.2",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "64:ff9b:1::a00:1",
            "64:ff9b:1:ffff::1",
        ] {
            assert!(refused(addr), "{addr} should be refused");
        }
    }

    #[test]
    fn judges_ipv6_forms_by_the_ipv4_address_inside() {
        for addr in [
            "::ffff:10.0.0.1",
            "::ffff:172.16.5.4",
            "::ffff:192.168.0.1",
            "::ffff:169.254.169.254",
            "::ffff:127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
        ] {
            assert!(refused(addr), "{addr} should be refused");
        }
        assert!(!refused("::ffff:93.184.216.34"));
    }

    #[test]
    fn lets_public_addresses_through() {
        for addr in ["93.184.216.34", "1.1.1.1", "172.32.0.1", "172.15.255.255", "2606:4700::1111"] {
            assert!(!refused(addr), "{addr} should pass");
        }
    }

    #[test]
    fn the_allow_list_opens_exactly_what_it_names() {
        let list = AllowList::parse("127.0.0.1, 10.1.0.0/16, Hooks.Internal.").unwrap();
        assert_eq!(list.check("x", "127.0.0.1".parse().unwrap()), Ok(()));
        assert_eq!(list.check("x", "::ffff:127.0.0.1".parse().unwrap()), Ok(()));
        assert_eq!(list.check("x", "10.1.200.3".parse().unwrap()), Ok(()));
        assert_eq!(list.check("hooks.internal", "192.168.0.9".parse().unwrap()), Ok(()));
        let err = list.check("x", "127.0.0.2".parse().unwrap()).unwrap_err();
        assert_eq!(
            err.0,
            "destination 127.0.0.2 of `x` is a loopback address; refused (allow it with WEFT_HTTP_ALLOW)"
        );
        assert!(list.check("x", "10.2.0.1".parse().unwrap()).is_err());
    }

    #[test]
    fn rejects_malformed_allow_entries() {
        assert!(AllowList::parse("10.0.0.0/33").is_err());
        assert!(AllowList::parse("a b").is_err());
        assert_eq!(AllowList::parse(" , ").unwrap(), AllowList::default());
    }
}
