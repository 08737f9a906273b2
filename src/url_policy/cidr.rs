//! IP networks, for trusted proxies and source networks: the `ipnet` crate's, with IPv4-mapped
//! IPv6 addresses (`::ffff:10.0.0.1`) and networks (`::ffff:10.0.0.0/104`) read as the IPv4
//! they carry, since a dual-stack listener reports IPv4 peers that way.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net};

/// An IP network such as `10.0.0.0/8`, `fd00::/8` or a single address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr(IpNet);

impl Cidr {
    /// Whether this network is every address of its family (`0.0.0.0/0`, `::/0`).
    pub(crate) fn is_everything(&self) -> bool {
        self.0.prefix_len() == 0
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl FromStr for Cidr {
    type Err = ();

    /// `addr` or `addr/prefix`; host bits below the prefix are cleared.
    fn from_str(text: &str) -> Result<Self, ()> {
        let text = text.trim();
        let network = match text.contains('/') {
            true => text.parse::<IpNet>().map_err(|_| ())?,
            false => IpNet::from(text.parse::<IpAddr>().map_err(|_| ())?),
        };
        // A mapped network written as IPv6 means the IPv4 network it carries.
        let network = match network {
            IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
                Some(v4) => {
                    let prefix = v6.prefix_len().checked_sub(96).ok_or(())?;
                    IpNet::V4(Ipv4Net::new(v4, prefix).map_err(|_| ())?)
                }
                None => network,
            },
            IpNet::V4(_) => network,
        };
        Ok(Self(network.trunc()))
    }
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
        assert!(cidr("::/0").is_everything() && !cidr("::1").is_everything());
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
