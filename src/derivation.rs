//! Filling in what a sparse report leaves out (the June 2026 JMRP format states no source
//! IP, arrival date or mail-from) from the headers of the reported message, recording where
//! each value came from. Pure.

use crate::header_block::HeaderBlock;
use chrono::{DateTime, NaiveDateTime, Utc};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// True for addresses that can never be the sending server seen from the internet:
/// private, loopback, link-local, CGNAT, ULA, multicast, unspecified and reserved ranges.
/// Documentation ranges count as public, since fixtures and examples use them.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00 // fc00::/7 unique local
                || (first & 0xffc0) == 0xfe80 // fe80::/10 link local
                || (first & 0xff00) == 0xff00 // multicast
        }
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b)) // 100.64.0.0/10 CGNAT
}

/// Parses an IP written as `192.0.2.1`, `[192.0.2.1]`, `IPv6:2001:db8::1`, with trailing
/// text or punctuation tolerated.
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let token = text
        .trim()
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == ')' || c == '(')
        .find(|t| !t.is_empty())?;
    let token = token.trim_matches(|c| c == '[' || c == ']' || c == '"' || c == '\'');
    let token = token
        .strip_prefix("IPv6:")
        .or_else(|| token.strip_prefix("ipv6:"))
        .unwrap_or(token);
    token
        .parse::<IpAddr>()
        .ok()
        .or_else(|| {
            // "192.0.2.1:25" forms.
            let (host, _) = token.rsplit_once(':')?;
            host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
        })
        // `::ffff:192.0.2.25` is the IPv4 address a dual-stack listener saw: one IP, one row.
        .map(|ip| ip.to_canonical())
        // `0.0.0.0` or `::` is a placeholder a loop writes for "not known", never a sender:
        // kept, it would be a sending IP of its own in every report.
        .filter(|ip| !ip.is_unspecified())
}

/// Every IP literal in a piece of header text: inside `[...]` or `(...)`, or bare.
fn ips_in(text: &str) -> Vec<IpAddr> {
    text.split(|c: char| c.is_whitespace() || "[]()<>;,=\"".contains(c))
        .filter(|t| t.len() >= 3 && t.contains(['.', ':']))
        .filter_map(|t| {
            let t = t.strip_prefix("IPv6:").unwrap_or(t);
            t.trim_end_matches('.').parse::<IpAddr>().ok()
        })
        .filter(|ip| !matches!(ip, IpAddr::V6(v6) if *v6 == Ipv6Addr::UNSPECIFIED))
        .collect()
}

/// The value of `name=` in a header such as `Received-SPF` or `Authentication-Results`.
pub fn parameter<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let lower = text.to_ascii_lowercase();
    let needle = format!("{}=", name.to_ascii_lowercase());
    let mut from = 0;
    while let Some(found) = lower[from..].find(&needle) {
        let start = from + found;
        let preceded_ok = start == 0
            || !lower.as_bytes()[start - 1].is_ascii_alphanumeric()
                && lower.as_bytes()[start - 1] != b'.'
                && lower.as_bytes()[start - 1] != b'-';
        if preceded_ok {
            let value = &text[start + needle.len()..];
            let end = value
                .find(|c: char| c.is_whitespace() || c == ';' || c == ')')
                .unwrap_or(value.len());
            let value = value[..end].trim_matches('"');
            if !value.is_empty() {
                return Some(value);
            }
        }
        from = start + needle.len();
    }
    None
}

/// Parses an RFC 5322 date into RFC 3339 UTC.
pub fn rfc3339_from_rfc5322(text: &str) -> Option<String> {
    let parsed = mail_parser::DateTime::parse_rfc822(text.trim())?;
    if !parsed.is_valid() {
        return None;
    }
    rfc3339_from_timestamp(parsed.to_timestamp())
}

pub fn rfc3339_from_timestamp(seconds: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp(seconds, 0).map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// `09 May 2022 04:30:44.9945 (UTC)` as Exchange writes `X-MS-Exchange-CrossTenant-OriginalArrivalTime`.
fn exchange_arrival_time(text: &str) -> Option<String> {
    let text = text.trim();
    let text = text.split(" (").next().unwrap_or(text).trim();
    let parsed = NaiveDateTime::parse_from_str(text, "%d %b %Y %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%d %b %Y %H:%M:%S"))
        .ok()?;
    rfc3339_from_timestamp(parsed.and_utc().timestamp())
}

/// Hops inside the reporting provider's own network, skipped when looking for the sender.
const PROVIDER_INTERNAL_HOSTS: [&str; 4] = [
    ".outlook.com",
    ".hotmail.com",
    ".outlook.office365.com",
    ".exchangelabs.com",
];

/// The "from" clause of a Received header: what stands before ` by `.
fn received_from_clause(value: &str) -> Option<&str> {
    let lower = value.to_ascii_lowercase();
    let start = lower.find("from ")?;
    let end = lower[start..]
        .find(" by ")
        .map_or(value.len(), |e| start + e);
    Some(&value[start + 5..end])
}

/// The first public IP in the Received chain, read from the top (the provider's edge) down.
pub fn first_public_received_ip(headers: &HeaderBlock) -> Option<IpAddr> {
    for value in headers.get_all("Received") {
        let Some(clause) = received_from_clause(value) else {
            continue;
        };
        let lower = clause.to_ascii_lowercase();
        if PROVIDER_INTERNAL_HOSTS.iter().any(|host| {
            lower
                .split_whitespace()
                .next()
                .is_some_and(|h| h.ends_with(host))
        }) {
            continue;
        }
        if let Some(ip) = ips_in(clause).into_iter().find(|ip| !is_internal(*ip)) {
            return Some(ip);
        }
    }
    None
}

/// The date after the last `;` of the topmost Received header that has one.
pub fn top_received_date(headers: &HeaderBlock) -> Option<String> {
    headers
        .get_all("Received")
        .filter_map(|value| value.rsplit_once(';'))
        .find_map(|(_, date)| rfc3339_from_rfc5322(date))
}

/// A value found, and the name of the place it was found in (the `derived` vocabulary).
pub type Found<T> = Option<(T, &'static str)>;

/// Where the sending IP is, in order: `X-Originating-IP`, `client-ip=` in `Received-SPF`,
/// in `Authentication-Results`, then the Received chain.
pub fn source_ip(headers: &HeaderBlock) -> Found<IpAddr> {
    if let Some(ip) = headers
        .get_all("X-Originating-IP")
        .filter_map(parse_ip)
        .find(|ip| !is_internal(*ip))
    {
        return Some((ip, "x_originating_ip"));
    }
    for (name, source) in [
        ("Received-SPF", "received_spf"),
        ("Authentication-Results", "authentication_results"),
        ("ARC-Authentication-Results", "authentication_results"),
    ] {
        if let Some(ip) = headers
            .get_all(name)
            .filter_map(|v| parameter(v, "client-ip").and_then(parse_ip))
            .find(|ip| !is_internal(*ip))
        {
            return Some((ip, source));
        }
    }
    first_public_received_ip(headers).map(|ip| (ip, "received"))
}

/// When the provider received the message: the legacy JMRP arrival header, the top
/// Received timestamp, else the Date header.
pub fn arrival_date(headers: &HeaderBlock) -> Found<String> {
    if let Some(date) = headers
        .get("X-MS-Exchange-CrossTenant-OriginalArrivalTime")
        .and_then(exchange_arrival_time)
    {
        return Some((date, "original_arrival_time"));
    }
    if let Some(date) = top_received_date(headers) {
        return Some((date, "received"));
    }
    headers
        .get("Date")
        .and_then(rfc3339_from_rfc5322)
        .map(|d| (d, "date"))
}

/// The envelope sender: `Return-Path`, else `smtp.mailfrom=`, else `envelope-from=`.
pub fn mail_from(headers: &HeaderBlock) -> Found<String> {
    if let Some(path) = headers.get("Return-Path") {
        let bare = path
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim();
        if !bare.is_empty() {
            return Some((bare.to_string(), "return_path"));
        }
    }
    for name in ["Authentication-Results", "ARC-Authentication-Results"] {
        if let Some(value) = headers
            .get_all(name)
            .find_map(|v| parameter(v, "smtp.mailfrom"))
        {
            return Some((value.to_string(), "smtp_mailfrom"));
        }
    }
    headers
        .get_all("Received-SPF")
        .find_map(|v| parameter(v, "envelope-from"))
        .map(|v| (v.trim_matches(['<', '>']).to_string(), "envelope_from"))
}

/// `time` (RFC 3339) when it is not later than `now`, else `now`: a date a report gives in
/// the future (a wrong clock, a forgery) counts as now. A time that cannot be read is kept.
pub fn not_after_now<'a>(time: Option<&'a str>, now: &'a str) -> &'a str {
    match time {
        None => now,
        Some(time) => match (
            chrono::DateTime::parse_from_rfc3339(time),
            chrono::DateTime::parse_from_rfc3339(now),
        ) {
            (Ok(t), Ok(n)) if t > n => now,
            _ => time,
        },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_ipv4_mapped_address_is_the_ipv4_address() {
        assert_eq!(
            parse_ip("::ffff:192.0.2.25").map(|ip| ip.to_string()),
            Some("192.0.2.25".to_string())
        );
        assert_eq!(
            parse_ip("2001:db8::1").map(|ip| ip.to_string()),
            Some("2001:db8::1".to_string())
        );
    }

    use super::*;

    #[test]
    fn skips_internal_ranges() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "2001:db8::1",
            "100.128.0.1",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn reads_parameters_and_ips() {
        let spf = "pass (sender SPF authorized) identity=mailfrom; client-ip=203.0.113.5; envelope-from=\"b@example.com\"";
        assert_eq!(parameter(spf, "client-ip"), Some("203.0.113.5"));
        assert_eq!(parameter(spf, "envelope-from"), Some("b@example.com"));
        assert_eq!(
            parse_ip("[203.0.113.9]"),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(
            parse_ip("192.0.2.1 (mail.example.com)"),
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            parse_ip("IPv6:2001:db8::5"),
            Some("2001:db8::5".parse().unwrap())
        );
        assert_eq!(parse_ip("nonsense"), None);
        // A placeholder for "not known" is no IP.
        assert_eq!(parse_ip("0.0.0.0"), None);
        assert_eq!(parse_ip("[::]"), None);
    }

    #[test]
    fn walks_the_received_chain_past_private_hops() {
        let headers = HeaderBlock::parse(
            b"Received: from internal.example (10.0.0.5) by mx.example with SMTP; Tue, 10 Nov 2026 10:00:02 +0000\n\
              Received: from mail.sender.example (mail.sender.example [198.51.100.23]) by internal.example; Tue, 10 Nov 2026 10:00:01 +0000\n\n",
        );
        assert_eq!(
            first_public_received_ip(&headers),
            Some("198.51.100.23".parse().unwrap())
        );
        assert_eq!(
            top_received_date(&headers).as_deref(),
            Some("2026-11-10T10:00:02Z")
        );
    }

    #[test]
    fn reads_exchange_arrival_time() {
        assert_eq!(
            exchange_arrival_time("09 May 2022 04:30:44.9945 (UTC)").as_deref(),
            Some("2022-05-09T04:30:44Z")
        );
    }
}
