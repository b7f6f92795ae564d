//! Which reports may suppress anyone. Anyone can mail the feedback address, so a report is
//! trusted only when it comes from a known feedback loop, by its From domain, and the
//! receiving server's own `Authentication-Results` (its `authserv-id`) shows a DKIM or DMARC
//! pass for that domain. Pure.

use crate::header_block::HeaderBlock;
use crate::report::Reporter;
use serde::{Deserialize, Serialize};

/// `[trust]`: present means enforced.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// The `authserv-id` your receiving server writes in `Authentication-Results` (the first
    /// word of the header). Only its results are believed; any other can be forged.
    pub authserv_id: String,
    /// The reporters whose reports may suppress. Default: every known feedback loop.
    #[serde(default = "default_reporters")]
    pub reporters: Vec<Reporter>,
    /// More sending domains to trust, beyond the built-in ones (e.g. an ISP's Validity
    /// feedback domain such as `feedback.comcast.net`, or a private feedback loop).
    #[serde(default)]
    pub extra_domains: Vec<String>,
}

fn default_reporters() -> Vec<Reporter> {
    vec![
        Reporter::Microsoft,
        Reporter::Yahoo,
        Reporter::Aol,
        Reporter::Validity,
        Reporter::AmazonSes,
        Reporter::Apple,
    ]
}

/// The domains each feedback loop sends from (and signs with).
pub fn reporter_domains(reporter: Reporter) -> &'static [&'static str] {
    match reporter {
        Reporter::Microsoft => &[
            "hotmail.com",
            "outlook.com",
            "live.com",
            "msn.com",
            "microsoft.com",
        ],
        Reporter::Yahoo => &["yahoo.com", "yahoo.net", "yahoo-inc.com", "yahoodns.net"],
        Reporter::Aol => &["aol.com", "aol.net", "yahoo.com", "verizonmedia.com"],
        Reporter::Validity => &[
            "returnpath.net",
            "validity.com",
            "comcast.net",
            "rackspace.com",
        ],
        Reporter::AmazonSes => &["amazonses.com", "amazon.com"],
        Reporter::Apple => &["icloud.com", "me.com", "mac.com", "apple.com"],
        Reporter::Other => &[],
    }
}

/// Mail domains where anyone can open an account whose mail the provider signs: a loop's
/// domain there proves nothing, only the loop's own address (or a subdomain of it, such as
/// `arf.mail.yahoo.com`, where nobody has a mailbox) does.
const CONSUMER_DOMAINS: [&str; 10] = [
    "hotmail.com",
    "outlook.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "aol.com",
    "comcast.net",
    "icloud.com",
    "me.com",
    "mac.com",
];

/// The feedback loops' own addresses on consumer domains (formats.md section 2.1).
const LOOP_ADDRESSES: [&str; 1] = ["staff@hotmail.com"];

/// Checks a report's origin. `Err` says why it is not trusted.
/// `own_unsubscribe`: the message is a subscriber's own unsubscribe request (Apple's
/// one-click mail, sent from the subscriber's iCloud address), which can only take that
/// address off the list; it may come from a consumer mailbox.
pub fn check(
    outer: &HeaderBlock,
    reporter: Reporter,
    own_unsubscribe: bool,
    config: &TrustConfig,
) -> Result<(), String> {
    if !config.reporters.contains(&reporter) && config.extra_domains.is_empty() {
        return Err(format!(
            "reporter {} is not trusted ([trust] reporters)",
            reporter.as_str()
        ));
    }
    let from = outer.get("From").unwrap_or("");
    let Some(from_domain) = crate::address::domain_of(from) else {
        return Err("the report has no From address".to_string());
    };
    let mut allowed: Vec<&str> = config.extra_domains.iter().map(String::as_str).collect();
    if config.reporters.contains(&reporter) {
        allowed.extend(reporter_domains(reporter));
    }
    let Some(domain) = allowed
        .iter()
        .find(|d| crate::address::is_within(&from_domain, d))
    else {
        return Err(format!(
            "From domain {from_domain} is not a trusted feedback loop domain"
        ));
    };
    // Apple's unsubscribe mail comes from the subscriber's own iCloud address; an ARF report
    // from an iCloud mailbox is anyone's.
    let consumer = CONSUMER_DOMAINS.contains(&from_domain.as_str())
        && !(own_unsubscribe && reporter == Reporter::Apple);
    let from_address = crate::address::normalise(from).unwrap_or_default();
    if consumer
        && !LOOP_ADDRESSES
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&from_address))
        && !config
            .extra_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&from_domain))
    {
        return Err(format!(
            "{from_address} is a mailbox anyone can have at {from_domain}, not a feedback loop's \
             address"
        ));
    }
    let mut passed = false;
    for value in outer.get_all("Authentication-Results") {
        let authserv = value
            .split(';')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next()
            .unwrap_or("");
        if !authserv.eq_ignore_ascii_case(&config.authserv_id) {
            continue;
        }
        for clause in value.split(';').skip(1) {
            let clause = clause.trim().to_ascii_lowercase();
            let pass_for = |method: &str, property: &str| {
                clause.starts_with(&format!("{method}=pass"))
                    && crate::derivation::parameter(&clause, property).is_some_and(|d| {
                        crate::address::is_within(
                            d.trim_start_matches('@').rsplit('@').next().unwrap_or(d),
                            domain,
                        )
                    })
            };
            if pass_for("dkim", "header.d")
                || pass_for("dkim", "header.i")
                || pass_for("dmarc", "header.from")
            {
                passed = true;
            }
            // A DMARC failure your server wrote outweighs any pass: a forger can add a
            // header that looks like your server's, but cannot take away the one it wrote.
            // Only `fail` counts: a temporary error, or one of two signatures failing, is not
            // a forgery.
            if clause.starts_with("dmarc=fail")
                && crate::derivation::parameter(&clause, "header.from")
                    .is_some_and(|d| crate::address::is_within(d, domain))
            {
                return Err(format!(
                    "an Authentication-Results header from {} records a failure for {domain}",
                    config.authserv_id
                ));
            }
        }
    }
    if passed {
        return Ok(());
    }
    Err(format!(
        "no DKIM or DMARC pass for {domain} in an Authentication-Results header from {}",
        config.authserv_id
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TrustConfig {
        TrustConfig {
            authserv_id: "mx.sender.example".into(),
            reporters: default_reporters(),
            extra_domains: vec![],
        }
    }

    fn headers(text: &str) -> HeaderBlock {
        HeaderBlock::parse(text.as_bytes())
    }

    #[test]
    fn trusts_a_signed_report_from_a_known_loop() {
        let outer = headers(
            "Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com header.s=s1; spf=pass\n\
             From: staff@hotmail.com\n\n",
        );
        assert_eq!(check(&outer, Reporter::Microsoft, false, &config()), Ok(()));
    }

    #[test]
    fn refuses_forgeries() {
        // Results written by someone else's server prove nothing.
        let foreign = headers(
            "Authentication-Results: evil.example; dkim=pass header.d=hotmail.com\nFrom: staff@hotmail.com\n\n",
        );
        assert!(check(&foreign, Reporter::Microsoft, false, &config()).is_err());
        // A pass for another domain.
        let other = headers(
            "Authentication-Results: mx.sender.example; dkim=pass header.d=evil.example\nFrom: staff@hotmail.com\n\n",
        );
        assert!(check(&other, Reporter::Microsoft, false, &config()).is_err());
        // A failed signature.
        let failed = headers(
            "Authentication-Results: mx.sender.example; dkim=fail header.d=hotmail.com\nFrom: staff@hotmail.com\n\n",
        );
        assert!(check(&failed, Reporter::Microsoft, false, &config()).is_err());
        // A look-alike domain.
        let lookalike = headers(
            "Authentication-Results: mx.sender.example; dkim=pass header.d=nothotmail.com\nFrom: staff@nothotmail.com\n\n",
        );
        assert!(check(&lookalike, Reporter::Microsoft, false, &config()).is_err());
        // An unknown reporter.
        let unknown = headers("From: fbl@random.example\n\n");
        assert!(check(&unknown, Reporter::Other, false, &config()).is_err());
    }

    #[test]
    fn a_consumer_mailbox_at_a_loop_domain_is_not_the_loop() {
        // Anyone's hotmail.com or yahoo.com mail passes DKIM for the domain.
        for (from, reporter) in [
            ("random.user1234@yahoo.com", Reporter::Yahoo),
            ("someone@outlook.com", Reporter::Microsoft),
            ("someone@hotmail.com", Reporter::Microsoft),
            ("user@comcast.net", Reporter::Validity),
        ] {
            let domain = from.split('@').nth(1).unwrap();
            let outer = headers(&format!(
                "Authentication-Results: mx.sender.example; dkim=pass header.d={domain}\nFrom: {from}\n\n"
            ));
            let why = check(&outer, reporter, false, &config()).unwrap_err();
            assert!(why.contains("anyone can have"), "{from}: {why}");
        }
        // The loops' own addresses, and subdomains where nobody has a mailbox, are trusted.
        for (from, d, reporter) in [
            ("staff@hotmail.com", "hotmail.com", Reporter::Microsoft),
            ("feedback@arf.mail.yahoo.com", "yahoo.com", Reporter::Yahoo),
            (
                "feedbackloop@feedback.comcast.net",
                "comcast.net",
                Reporter::Validity,
            ),
        ] {
            let outer = headers(&format!(
                "Authentication-Results: mx.sender.example; dkim=pass header.d={d}\nFrom: {from}\n\n"
            ));
            assert_eq!(check(&outer, reporter, false, &config()), Ok(()), "{from}");
        }
        // An iCloud mailbox: its owner's own unsubscribe request, not a report about others.
        let icloud = headers(
            "Authentication-Results: mx.sender.example; dkim=pass header.d=icloud.com\nFrom: subscriber@icloud.com\n\n",
        );
        assert_eq!(check(&icloud, Reporter::Apple, true, &config()), Ok(()));
        assert!(check(&icloud, Reporter::Apple, false, &config()).is_err());
    }

    #[test]
    fn a_failure_from_your_server_outweighs_a_pass() {
        let outer = headers(
            "Authentication-Results: mx.sender.example; dmarc=fail header.from=hotmail.com\n\
             Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com\n\
             From: staff@hotmail.com\n\n",
        );
        let why = check(&outer, Reporter::Microsoft, false, &config()).unwrap_err();
        assert!(why.contains("records a failure"), "{why}");
        // A temporary error, or one failing signature beside a passing one, is no forgery.
        for results in [
            "dkim=temperror header.d=yahoo.com; dmarc=pass header.from=yahoo.com",
            "dkim=fail header.d=yahoo.com; dkim=pass header.d=yahoo.com",
        ] {
            let outer = headers(&format!(
                "Authentication-Results: mx.sender.example; {results}\nFrom: feedback@arf.mail.yahoo.com\n\n"
            ));
            assert_eq!(
                check(&outer, Reporter::Yahoo, false, &config()),
                Ok(()),
                "{results}"
            );
        }
    }

    #[test]
    fn dmarc_pass_and_extra_domains_count() {
        let mut config = config();
        config.extra_domains.push("feedback.isp.example".into());
        let outer = headers(
            "Authentication-Results: mx.sender.example;\n dmarc=pass header.from=feedback.isp.example\nFrom: feedbackloop@feedback.isp.example\n\n",
        );
        assert_eq!(check(&outer, Reporter::Validity, false, &config), Ok(()));
    }
}
