//! IP networks for the trusted-proxy list.

use std::net::IpAddr;
use std::str::FromStr;

/// An IP network such as `10.0.0.0/8`, `fd00::/8` or a single address. IPv4-mapped IPv6
/// addresses (`::ffff:10.0.0.1`) are treated as the IPv4 address they carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether this network is every address of its family (`0.0.0.0/0`, `::/0`).
    pub(crate) fn is_everything(&self) -> bool {
        self.prefix == 0
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask_v4(u32::from(ip), self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask_v6(u128::from(ip), self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = ();

    /// `addr` or `addr/prefix`; host bits below the prefix are cleared.
    fn from_str(text: &str) -> Result<Self, ()> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr = addr.parse::<IpAddr>().map_err(|_| ())?;
        // A mapped address written as IPv6 means the IPv4 network it carries.
        let (addr, mapped_offset) = match (addr, addr.to_canonical()) {
            (IpAddr::V6(_), v4 @ IpAddr::V4(_)) => (v4, 96),
            _ => (addr, 0),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                let p: u32 = p.parse().map_err(|_| ())?;
                let p = p.checked_sub(mapped_offset).ok_or(())?;
                if p > u32::from(max) {
                    return Err(());
                }
                p as u8
            }
            Some(_) => return Err(()),
        };
        let network = match addr {
            IpAddr::V4(v4) => IpAddr::V4(mask_v4(u32::from(v4), prefix).into()),
            IpAddr::V6(v6) => IpAddr::V6(mask_v6(u128::from(v6), prefix).into()),
        };
        Ok(Self { network, prefix })
    }
}

fn mask_v4(addr: u32, prefix: u8) -> u32 {
    addr & u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(addr: u128, prefix: u8) -> u128 {
    addr & u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn v4_networks() {
        assert!(cidr("10.0.0.0/8").contains(ip("10.255.1.2")));
        assert!(!cidr("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(cidr("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(cidr("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!cidr("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(
            cidr("10.1.2.3/8").contains(ip("10.9.9.9")),
            "host bits are cleared"
        );
    }

    #[test]
    fn v6_networks_and_mapped_addresses() {
        assert!(cidr("fd00::/8").contains(ip("fd12::1")));
        assert!(!cidr("fd00::/8").contains(ip("fe80::1")));
        assert!(cidr("::1").contains(ip("::1")));
        assert!(cidr("10.0.0.0/8").contains(ip("::ffff:10.0.0.7")));
        assert!(cidr("::ffff:10.0.0.0/104").contains(ip("10.0.0.7")));
        assert!(!cidr("10.0.0.0/8").contains(ip("fd00::1")));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0/8",
            "fd00::/129",
            "10.0.0.0/",
            "10.0.0.0/x",
            "::ffff:10.0.0.0/95",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }
}
