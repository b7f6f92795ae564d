//! CIDR ranges (`192.0.2.0/24`, `2001:db8::/32`, or a bare address) and membership: the
//! sender's own sending IPs of `[report] sending_ips`. Pure.

use std::net::IpAddr;

/// One CIDR range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Reads `ADDRESS/PREFIX` or a bare address (a /32 or /128).
    pub fn parse(text: &str) -> Result<IpRange, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR range"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
            None => max,
        };
        Ok(IpRange { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix as u32).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            (IpAddr::V4(_), IpAddr::V6(ip)) => ip
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(IpAddr::V4(v4))),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

/// The sender's own IPs. Empty means "not configured": every IP is then neither known
/// nor unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpRanges(pub Vec<IpRange>);

impl IpRanges {
    pub fn parse(texts: &[String]) -> Result<IpRanges, String> {
        texts
            .iter()
            .map(|t| IpRange::parse(t))
            .collect::<Result<_, _>>()
            .map(IpRanges)
    }

    pub fn is_configured(&self) -> bool {
        !self.0.is_empty()
    }

    /// Whether the text is an address inside one of the ranges; text that is not an
    /// address is outside.
    pub fn contains_text(&self, ip: &str) -> bool {
        ip.trim()
            .parse::<IpAddr>()
            .is_ok_and(|ip| self.0.iter().any(|range| range.contains(ip)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_contain_what_they_should() {
        let ranges = IpRanges::parse(&[
            "192.0.2.0/24".to_string(),
            "198.51.100.7".to_string(),
            "2001:db8::/32".to_string(),
        ])
        .unwrap();
        for inside in [
            "192.0.2.0",
            "192.0.2.255",
            "198.51.100.7",
            "2001:db8::5",
            "::ffff:192.0.2.9",
        ] {
            assert!(ranges.contains_text(inside), "{inside}");
        }
        for outside in ["192.0.3.1", "198.51.100.8", "2001:db9::1", "not an ip", ""] {
            assert!(!ranges.contains_text(outside), "{outside}");
        }
        assert!(
            IpRange::parse("0.0.0.0/0")
                .unwrap()
                .contains("203.0.113.1".parse().unwrap())
        );
    }

    #[test]
    fn bad_ranges_are_errors_naming_the_text() {
        assert!(
            IpRange::parse("192.0.2.0/33")
                .unwrap_err()
                .contains("192.0.2.0/33")
        );
        assert!(IpRange::parse("example.com").is_err());
    }
}
