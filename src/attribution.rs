//! Finding the complainant: an ordered list of strategies over the report's fields and the
//! identifiers the sender put into its own mail. Pure; the send log is reached through the
//! `SendLogLookup` trait, which the store implements.

use crate::address;
use crate::config::{AttributionConfig, HeaderValueKind, Strategy};
use crate::header_block::HeaderBlock;
use crate::ip_range::IpRanges;
use crate::report::{Kind, Recipient, Report, Via};
use crate::token;
use crate::verp::VerpTemplate;
use base64::Engine;

/// What the send log knows about one sent message.
pub trait SendLogLookup {
    /// The recipient of the message with this Message-ID (without angle brackets).
    fn recipient_by_message_id(&self, message_id: &str) -> Option<String>;
    /// The recipient the sender's opaque id stands for.
    fn recipient_by_id(&self, id: &str) -> Option<String>;
    /// Whether the send log holds anything: only then can an id found now be resolved.
    fn has_entries(&self) -> bool {
        false
    }
    /// Whether the send log has entries with this id: asked when `recipient_by_id` found
    /// nobody, it means they name several recipients (a campaign-level id).
    fn has_id(&self, _id: &str) -> bool {
        false
    }
    /// Whether the send log has entries with this Message-ID (see `has_id`).
    fn has_message_id(&self, _message_id: &str) -> bool {
        false
    }
}

/// A send log that knows nothing, for `fbl parse` and tests.
pub struct NoSendLog;

impl SendLogLookup for NoSendLog {
    fn recipient_by_message_id(&self, _: &str) -> Option<String> {
        None
    }
    fn recipient_by_id(&self, _: &str) -> Option<String> {
        None
    }
}

/// The attribution settings, checked and with the token secret read.
#[derive(Debug, Clone)]
pub struct Attribution {
    order: Vec<Strategy>,
    headers: Vec<(String, HeaderValueKind, Option<String>)>,
    verp: Vec<VerpTemplate>,
    token_secret: Option<Vec<u8>>,
    /// `unsubscribe_addresses` without a placeholder, lower-cased.
    unsubscribe_literals: Vec<String>,
    /// `unsubscribe_addresses` with one (also in `verp`, so that their tokens and ids are
    /// read as a VERP address's are).
    unsubscribe_templates: Vec<VerpTemplate>,
    /// `unsubscribe_urls`: where a `List-Unsubscribe` link carries a signed token.
    unsubscribe_urls: Vec<UnsubscribeUrl>,
    /// The sender's own domains (`own_domains`, else those of `unsubscribe_addresses` and
    /// `verp`), canonical: an address at one or a subdomain never names a complainant.
    own_domains: Vec<String>,
    /// Whether `own_domains` was configured. Derived domains are only a guess (a sender may
    /// share a domain with its subscribers: an ISP, a university, a mailbox provider missing
    /// from [`PUBLIC_MAILBOX_DOMAINS`]): they bar only the weak strategies (To,
    /// Delivered-To), never a strong one nor an unsubscribe request's sender, whose loss
    /// would keep mailing someone who asked to stop.
    own_domains_configured: bool,
    /// The sender's own addresses, lower-cased: the literal `unsubscribe_addresses`, and
    /// the mailboxes' users (`with_own_addresses`).
    own_addresses: Vec<String>,
    /// `[report] sending_ips` (`with_sending_ips`): a fraud or virus report about mail from
    /// one of them is about the sender's own mail. Empty when not configured.
    sending_ips: IpRanges,
}

/// Public mailbox providers: a sender whose unsubscribe address is at one owns that address,
/// not the domain of all its users.
const PUBLIC_MAILBOX_DOMAINS: [&str; 22] = [
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "ymail.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "gmx.de",
    "gmx.net",
    "gmx.com",
    "web.de",
    "proton.me",
    "protonmail.com",
    "yandex.ru",
    "mail.ru",
    "qq.com",
    "163.com",
];

/// Big mailbox providers' brands: `brand.tld` or `brand.co.tld` (`hotmail.co.uk`, `yahoo.fr`,
/// `outlook.de`) is a public mailbox domain, as the `.com` in [`PUBLIC_MAILBOX_DOMAINS`] is.
const PUBLIC_MAILBOX_BRANDS: [&str; 30] = [
    "gmail",
    "googlemail",
    "yahoo",
    "ymail",
    "hotmail",
    "outlook",
    "live",
    "msn",
    "aol",
    "icloud",
    "me",
    "mac",
    "gmx",
    "web",
    "t-online",
    "orange",
    "free",
    "laposte",
    "wanadoo",
    "comcast",
    "verizon",
    "att",
    "sbcglobal",
    "btinternet",
    "mail",
    "yandex",
    "protonmail",
    "proton",
    "zoho",
    "fastmail",
];

/// Whether `domain` is a public mailbox provider's (or a subdomain of one listed in
/// [`PUBLIC_MAILBOX_DOMAINS`]): its users are everyone, not the sender. A brand of
/// [`PUBLIC_MAILBOX_BRANDS`] followed by a top-level domain (`yahoo.fr`, `gmx.net`) or by a
/// country's second level (`hotmail.co.uk`, `yahoo.com.br`) is one too; `mail.example.org`
/// is not.
fn is_public_mailbox_domain(domain: &str) -> bool {
    let domain = address::compared_domain(domain);
    if PUBLIC_MAILBOX_DOMAINS
        .iter()
        .any(|public| address::is_within(&domain, public))
    {
        return true;
    }
    match domain.split('.').collect::<Vec<_>>()[..] {
        [brand, _] => PUBLIC_MAILBOX_BRANDS.contains(&brand),
        [brand, second, country] => {
            PUBLIC_MAILBOX_BRANDS.contains(&brand)
                && matches!(second, "co" | "com" | "net" | "org" | "ne" | "or")
                && country.len() == 2
        }
        _ => false,
    }
}

/// The domain of an address or template, when it holds no placeholder, canonical.
fn fixed_domain(address_or_template: &str) -> Option<String> {
    let (_, domain) = address_or_template
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('.');
    if domain.is_empty() || domain.contains('{') {
        return None;
    }
    address::canonical_domain(domain)
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// The complainants found, and why none were, when none were.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributed {
    pub recipients: Vec<Recipient>,
    pub notes: Vec<String>,
    /// A sender token did not verify: the message was tampered with.
    pub forged: bool,
}

impl Attribution {
    pub fn new(
        config: &AttributionConfig,
        token_secret: Option<Vec<u8>>,
    ) -> Result<Attribution, String> {
        let mut verp = config
            .verp
            .iter()
            .map(|t| VerpTemplate::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        let (templates, literals): (Vec<&String>, Vec<&String>) = config
            .unsubscribe_addresses
            .iter()
            .partition(|a| a.contains('{'));
        let unsubscribe_templates = templates
            .into_iter()
            .map(|t| VerpTemplate::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        for template in &unsubscribe_templates {
            if !config.verp.iter().any(|v| v == template.as_str()) {
                verp.push(template.clone());
            }
        }
        let unsubscribe_urls = config
            .unsubscribe_urls
            .iter()
            .map(|t| UnsubscribeUrl::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        let own_domains = match &config.own_domains {
            Some(domains) => domains
                .iter()
                .filter_map(|d| fixed_domain(&format!("@{d}")))
                .collect(),
            None => {
                let mut derived: Vec<String> = config
                    .unsubscribe_addresses
                    .iter()
                    .chain(&config.verp)
                    .filter_map(|a| fixed_domain(a))
                    .filter(|d| !is_public_mailbox_domain(d))
                    .collect();
                derived.sort();
                derived.dedup();
                derived
            }
        };
        let own_addresses = literals
            .iter()
            .filter_map(|a| address::normalise(a))
            .collect();
        Ok(Attribution {
            own_domains,
            own_domains_configured: config.own_domains.is_some(),
            own_addresses,
            sending_ips: IpRanges::default(),
            order: config.order.clone(),
            headers: config
                .header
                .iter()
                .map(|h| (h.name.clone(), h.value, h.json_field.clone()))
                .collect(),
            verp,
            token_secret,
            unsubscribe_literals: literals
                .into_iter()
                .map(|a| a.trim().to_lowercase())
                .collect(),
            unsubscribe_templates,
            unsubscribe_urls,
        })
    }

    /// The sender's own addresses besides its domains: the feedback mailboxes' users (an
    /// address at a public mailbox provider is the sender's, its domain is not).
    pub fn with_own_addresses<'a>(mut self, addresses: impl IntoIterator<Item = &'a str>) -> Self {
        self.own_addresses.extend(
            addresses
                .into_iter()
                .filter(|a| a.contains('@'))
                .filter_map(address::normalise),
        );
        self
    }

    /// The sender's own sending IPs (`[report] sending_ips`): a fraud or virus report whose
    /// Source-IP is one of them is about the sender's mail (`hold_unshown_fraud`).
    pub fn with_sending_ips(mut self, sending_ips: IpRanges) -> Self {
        self.sending_ips = sending_ips;
        self
    }

    /// Whether `address` is the sender's own: never someone to suppress. Its own addresses
    /// (`own_addresses`, and any address a `verp` or `unsubscribe_addresses` template
    /// matches) always are; an address at one of `own_domains` is when they were configured,
    /// or, derived, for a weak strategy (`weak`) only.
    pub fn is_own(&self, address: &str, weak: bool) -> bool {
        let Some(written) = address::normalise(address) else {
            return false;
        };
        self.own_addresses
            .iter()
            .any(|own| own.eq_ignore_ascii_case(&written))
            || self.verp.iter().any(|t| t.capture(&written).is_some())
            || ((weak || self.own_domains_configured)
                && written.rsplit_once('@').is_some_and(|(_, domain)| {
                    self.own_domains
                        .iter()
                        .any(|own| address::is_within(domain, own))
                }))
    }

    /// Takes out of what a strategy found, from `from` on, the addresses that are the
    /// sender's own (`is_own`), each said in a note.
    fn drop_own(&self, from: usize, weak: bool, out: &mut Attributed) {
        let mut index = from;
        while index < out.recipients.len() {
            let own = out.recipients[index]
                .address
                .as_deref()
                .is_some_and(|a| self.is_own(a, weak));
            if own {
                let recipient = out.recipients.remove(index);
                out.notes.push(format!(
                    "{} names {}, the sender's own address: not a complainant",
                    recipient.via.as_str(),
                    recipient.address.unwrap_or_default()
                ));
            } else {
                index += 1;
            }
        }
    }

    /// Whether a message with these headers was sent to one of the sender's
    /// `unsubscribe_addresses` (its To, Delivered-To or X-Original-To).
    pub fn is_unsubscribe_request(&self, headers: &HeaderBlock) -> bool {
        if self.unsubscribe_literals.is_empty() && self.unsubscribe_templates.is_empty() {
            return false;
        }
        ["To", "Delivered-To", "X-Original-To"]
            .into_iter()
            .flat_map(|name| headers.get_all(name))
            .flat_map(address::split_list)
            .map(written_address)
            .any(|to| {
                self.unsubscribe_literals
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(to))
                    || self
                        .unsubscribe_templates
                        .iter()
                        .any(|t| t.capture(to).is_some())
            })
    }

    /// Runs the strategies in order and stops at the first that yields an address. Ids found
    /// on the way are kept, so that a later send-log import can resolve them.
    pub fn attribute(
        &self,
        report: &Report,
        original: &HeaderBlock,
        send_log: &dyn SendLogLookup,
    ) -> Attributed {
        let mut out = Attributed::default();
        // What bars the weak strategies whatever the others find: known once.
        let barred_by_report = weak_sources_barred_by_report(report, original);
        let mut disagreeing = false;
        for strategy in &self.order {
            let weak = matches!(
                strategy,
                Strategy::To | Strategy::DeliveredTo | Strategy::XApparentlyTo
            );
            if weak
                && let Some(why) = barred_by_report
                    .or_else(|| {
                        disagreeing
                            .then_some("as a stronger strategy names several different addresses")
                    })
                    .or_else(|| weak_sources_barred(&out, send_log))
            {
                // Said only when the strategy would have named someone.
                let mut unused = Attributed::default();
                self.run(*strategy, report, original, send_log, &mut unused);
                drop_the_senders_own(report, original, 0, &mut unused);
                self.drop_own(0, true, &mut unused);
                for recipient in unused.recipients {
                    if let Some(address) = recipient.address {
                        out.notes.push(format!(
                            "{} names {address}: not used, {why}",
                            recipient.via.as_str()
                        ));
                    }
                }
                continue;
            }
            let before = out.recipients.len();
            self.run(*strategy, report, original, send_log, &mut out);
            if weak {
                drop_the_senders_own(report, original, before, &mut out);
            }
            self.drop_own(before, weak, &mut out);
            // Delivered-To names one address (see `run`): its fields never disagree.
            if !matches!(strategy, Strategy::OriginalRcptTo | Strategy::DeliveredTo)
                && drop_disagreeing(before, &mut out)
            {
                // Which of them complained cannot be told: the weak strategies, which read
                // headers anyone on the way may set, do not pick one either.
                disagreeing = true;
                continue;
            }
            let found_address = out.recipients[before..].iter().any(|r| r.address.is_some());
            if found_address {
                break;
            }
        }
        dedup(&mut out.recipients);
        self.hold_unshown_fraud(report, original, send_log, &mut out);
        out
    }

    /// A `fraud` or `virus` report (RFC 5965) is about mail that may not be the sender's at
    /// all: a phishing message spoofing its domain, sent to a victim from someone else's
    /// server. Its complainant is suppressed only when the mail is shown to be the sender's:
    /// it carries one of the sender's identifiers (a token, an identifier header, a VERP
    /// address, a CFBL-Feedback-ID, its Message-ID in the send log) that names the
    /// complainant, directly or through the send log (a copy of a real newsletter keeps the
    /// copier's), or its Source-IP is one of `[report] sending_ips`. Otherwise the report is kept and counted, nobody is
    /// suppressed, and the notes say who was named, for a person to decide.
    fn hold_unshown_fraud(
        &self,
        report: &Report,
        original: &HeaderBlock,
        send_log: &dyn SendLogLookup,
        out: &mut Attributed,
    ) {
        let feedback_type = report
            .feedback_type
            .as_deref()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if report.kind != Kind::Complaint || !matches!(feedback_type.as_str(), "fraud" | "virus") {
            return;
        }
        if !out.recipients.iter().any(|r| r.address.is_some())
            || out.recipients.iter().any(|r| is_sender_identifier(r.via))
        {
            return;
        }
        let source_ip = report.source_ip.as_deref().map(str::trim);
        if source_ip.is_some_and(|ip| self.sending_ips.contains_text(ip)) {
            return;
        }
        // A provider's field (Original-Rcpt-To) named the complainant before the sender's
        // identifiers were looked for: they are looked for now.
        let mut probe = Attributed::default();
        for strategy in self.order.iter().filter(|s| is_identifier_strategy(**s)) {
            self.run(*strategy, report, original, send_log, &mut probe);
        }
        self.drop_own(0, false, &mut probe);
        // An identifier shows the mail to be yours only when it names the complainant:
        // phishing that copies a real newsletter keeps the copier's token, identifier header
        // or VERP address, which name the copier.
        let mut named: Vec<String> = Vec::new();
        for recipient in &probe.recipients {
            named.extend(recipient.address.clone());
            if let Some(id) = recipient.id.as_deref() {
                named.extend(
                    send_log
                        .recipient_by_id(id)
                        .and_then(|a| address::normalise(&a)),
                );
            }
        }
        if let Some(message_id) = report.message_id.as_deref() {
            named.extend(
                send_log
                    .recipient_by_message_id(message_id)
                    .and_then(|a| address::normalise(&a)),
            );
        }
        let complainants: Vec<&str> = out
            .recipients
            .iter()
            .filter_map(|r| r.address.as_deref())
            .collect();
        if !probe.forged
            && named
                .iter()
                .any(|n| complainants.iter().any(|c| c.eq_ignore_ascii_case(n)))
        {
            return;
        }
        let ip = match source_ip {
            _ if self.sending_ips.0.is_empty() => "[report] sending_ips is not set".to_string(),
            Some(ip) => format!("Source-IP {ip} is not one of [report] sending_ips"),
            None => "no Source-IP".to_string(),
        };
        let identifier = if probe.forged || probe.recipients.is_empty() {
            "no sender identifier of yours".to_string()
        } else if named.is_empty() {
            "a sender identifier of yours that names nobody known (the send log does not \
             resolve it)"
                .to_string()
        } else {
            named.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
            format!(
                "a sender identifier of yours that names someone else ({}), not the \
                 complainant (a copy of your mail?)",
                named.join(", ")
            )
        };
        out.notes.insert(
            0,
            format!(
                "not shown to be your mail: a {feedback_type} report (spoofed mail is reported \
                 so) with {identifier}, and {ip}; nobody suppressed (fbl suppress add the \
                 address if the mail was yours)"
            ),
        );
        for recipient in std::mem::take(&mut out.recipients) {
            if let Some(address) = recipient.address {
                out.notes.push(format!(
                    "{} names {address}: not suppressed, the mail is not shown to be yours",
                    recipient.via.as_str()
                ));
            }
        }
    }

    fn run(
        &self,
        strategy: Strategy,
        report: &Report,
        original: &HeaderBlock,
        send_log: &dyn SendLogLookup,
        out: &mut Attributed,
    ) {
        // A message that is not a report (an unsubscribe request: Apple's one-click mail, or
        // mail to one of `unsubscribe_addresses`) was addressed to the sender, not to the
        // subscriber: its To and Delivered-To name nobody to suppress. Its other headers are
        // its author's, whoever that is: an unsigned id or address in them (a header of
        // yours, CFBL-Feedback-ID, a List-Unsubscribe link) would let anyone name anyone.
        // Only the address it was sent to (a template's token or id) and its sender count.
        let request = report.format == crate::report::Format::None
            && matches!(
                report.kind,
                crate::report::Kind::Unsubscribe | crate::report::Kind::NotAReport
            );
        if report.format == crate::report::Format::None
            && matches!(
                strategy,
                Strategy::To | Strategy::DeliveredTo | Strategy::XApparentlyTo
            )
        {
            return;
        }
        if request
            && matches!(
                strategy,
                Strategy::Header | Strategy::CfblFeedbackId | Strategy::JmrpOriginalRecipient
            )
        {
            return;
        }
        match strategy {
            Strategy::OriginalRcptTo => {
                if self.removal_recipients(report, out) {
                    return;
                }
                for value in &report.original_rcpt_to {
                    push_address(out, value, Via::OriginalRcptTo);
                }
            }
            Strategy::JmrpOriginalRecipient => {
                for value in original.get_all("X-HmXmrOriginalRecipient") {
                    push_address(out, value, Via::JmrpOriginalRecipient);
                }
            }
            Strategy::Header => {
                for (name, kind, json_field) in &self.headers {
                    if *kind == HeaderValueKind::Token {
                        continue;
                    }
                    for value in original.get_all(name) {
                        self.header_value(name, *kind, json_field.as_deref(), value, out);
                    }
                }
            }
            Strategy::Token => {
                // A request's token headers were written by its author, who may have copied
                // them from anyone's newsletter: only the address it was sent to counts.
                let token_headers = if request { &[][..] } else { &self.headers[..] };
                for (name, kind, _) in token_headers {
                    if *kind == HeaderValueKind::Token {
                        for value in original.get_all(name) {
                            self.token_value(&format!("header {name}"), value, Via::Token, out);
                        }
                    }
                }
                for (template, envelope) in self.verp_matches(report, original) {
                    if let Some(value) = template.token {
                        self.token_value(
                            &format!("VERP address {envelope}"),
                            &value,
                            Via::Token,
                            out,
                        );
                    }
                }
                let links = if request {
                    Vec::new()
                } else {
                    self.unsubscribe_url_tokens(original)
                };
                for (link, value) in links {
                    self.token_value(
                        &format!("List-Unsubscribe link {link}"),
                        &value,
                        Via::Token,
                        out,
                    );
                }
                let mailto = if request {
                    Vec::new()
                } else {
                    self.unsubscribe_mailto_matches(original)
                };
                for (capture, link) in mailto {
                    if let Some(value) = capture.token {
                        self.token_value(
                            &format!("List-Unsubscribe link {link}"),
                            &value,
                            Via::Token,
                            out,
                        );
                    }
                }
            }
            Strategy::Verp => {
                // A List-Unsubscribe mailto address of an `unsubscribe_addresses` template is
                // read as a VERP address is: its `{id}` (or `{local}={domain}`) names the
                // complainant as the Return-Path's would.
                let mailto = if request {
                    Vec::new()
                } else {
                    self.unsubscribe_mailto_matches(original)
                };
                for (capture, envelope) in self
                    .verp_matches(report, original)
                    .into_iter()
                    .chain(mailto)
                {
                    if let (Some(local), Some(domain)) = (&capture.local, &capture.domain) {
                        let candidate = format!("{local}@{domain}");
                        if address::is_redaction_token(local) {
                            out.notes.push(format!(
                                "VERP address {envelope} carries a redacted address"
                            ));
                        } else {
                            push_address(out, &candidate, Via::Verp);
                        }
                    }
                    if let Some(id) = capture.id {
                        out.recipients.push(Recipient {
                            address: None,
                            id: Some(id),
                            via: Via::Verp,
                        });
                    }
                }
            }
            Strategy::CfblFeedbackId => {
                for value in original.get_all("CFBL-Feedback-ID") {
                    let id = value.trim();
                    if !id.is_empty() {
                        out.recipients.push(Recipient {
                            address: None,
                            id: Some(id.to_string()),
                            via: Via::CfblFeedbackId,
                        });
                    }
                }
            }
            Strategy::SendLog => self.resolve_through_send_log(report, send_log, out),
            Strategy::XApparentlyTo => {
                for value in original.get_all("X-Apparently-To") {
                    push_address(out, value, Via::XApparentlyTo);
                }
            }
            Strategy::DeliveredTo => {
                // One subscriber, however many fields. Each delivery hop puts its fields on
                // top: a forward (`.forward`, an alias to another domain) adds a Delivered-To,
                // and the hop that delivers to a mailbox writes X-Original-To (the address it
                // was given) right above its Delivered-To. The address the sender mailed is
                // the first hop's: the bottom-most Delivered-To, or the X-Original-To of that
                // same hop (directly above it, or below it), which names the address before
                // the first hop's own alias expansion. An X-Original-To higher up is a later
                // hop's: the forward's target, not the subscriber.
                let is =
                    |name: &str, names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(name));
                let fields: Vec<(&str, &str)> = original.fields().collect();
                let first_delivery = fields
                    .iter()
                    .rposition(|(name, _)| is(name, &["Delivered-To", "X-Delivered-To"]));
                let original_to = fields
                    .iter()
                    .enumerate()
                    .filter(|(_, (name, _))| is(name, &["X-Original-To"]))
                    .filter(|(at, _)| first_delivery.is_none_or(|d| *at + 1 >= d))
                    .map(|(_, (_, value))| *value)
                    .next_back();
                if let Some(value) = [original_to, first_delivery.map(|d| fields[d].1)]
                    .into_iter()
                    .flatten()
                    .find(|value| address::complainant(value).is_some())
                {
                    push_address(out, value, Via::DeliveredTo);
                }
            }
            Strategy::To => {
                let tos: Vec<&str> = original.get_all("To").collect();
                // Several addresses in To: is a list or a group: nobody in particular.
                let addresses: Vec<&str> =
                    tos.iter().flat_map(|v| address::split_list(v)).collect();
                if addresses.len() == 1 {
                    push_address(out, addresses[0], Via::To);
                }
            }
        }
    }

    /// An old-draft `opt-out` report (draft-shafranovich-feedback-report) names the address
    /// to unsubscribe in `Removal-Recipient`: that address is taken, before Original-Rcpt-To,
    /// which names where the message was delivered (an alias, a forward) and is said in a note
    /// when it differs. True when a Removal-Recipient named someone.
    fn removal_recipients(&self, report: &Report, out: &mut Attributed) -> bool {
        if report.kind != Kind::Unsubscribe {
            return false;
        }
        let before = out.recipients.len();
        for value in report
            .extensions
            .get("removal-recipient")
            .into_iter()
            .flatten()
        {
            for part in address::split_list(value) {
                push_address(out, part, Via::RemovalRecipient);
            }
        }
        if out.recipients.len() == before {
            return false;
        }
        for value in &report.original_rcpt_to {
            let Some(rcpt) = address::complainant(value) else {
                continue;
            };
            let named = out.recipients[before..].iter().any(|r| {
                r.address
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case(&rcpt))
            });
            if !named {
                out.notes.push(format!(
                    "original_rcpt_to names {rcpt}: not unsubscribed, the report's \
                     Removal-Recipient names the address to remove"
                ));
            }
        }
        true
    }

    fn header_value(
        &self,
        name: &str,
        kind: HeaderValueKind,
        json_field: Option<&str>,
        value: &str,
        out: &mut Attributed,
    ) {
        match kind {
            HeaderValueKind::Address => push_address(out, value, Via::Header),
            HeaderValueKind::Id => push_id(out, value, Via::Header),
            HeaderValueKind::Base64Json => {
                let field = json_field.unwrap_or("recipient");
                match decode_base64_json(value, field) {
                    Some(found) if found.contains('@') => push_address(out, &found, Via::Header),
                    Some(found) => push_id(out, &found, Via::Header),
                    None => out.notes.push(format!(
                        "header {name} is not base64 JSON with a \"{field}\" member"
                    )),
                }
            }
            HeaderValueKind::Token => {}
        }
    }

    fn token_value(&self, place: &str, value: &str, via: Via, out: &mut Attributed) {
        let Some(secret) = &self.token_secret else {
            return;
        };
        match token::verify(secret, value) {
            Ok(payload) if payload.contains('@') => {
                if address::complainant(&payload).is_some() {
                    push_address(out, &payload, via);
                } else {
                    out.notes
                        .push(format!("{place}: signed token holds no valid address"));
                }
            }
            Ok(payload) => push_id(out, &payload, via),
            Err(error) => {
                out.forged = true;
                out.notes.push(format!("{place}: {error}; not attributed"));
            }
        }
    }

    /// The tokens of the original's `List-Unsubscribe` links that match one of
    /// `unsubscribe_urls`, each with its link.
    fn unsubscribe_url_tokens(&self, original: &HeaderBlock) -> Vec<(String, String)> {
        if self.unsubscribe_urls.is_empty() {
            return Vec::new();
        }
        let mut found: Vec<(String, String)> = Vec::new();
        for link in original
            .get_all("List-Unsubscribe")
            .flat_map(list_unsubscribe_links)
        {
            // A mailto link is no template's; each other link is read once for them all.
            let web = link
                .get(..4)
                .is_some_and(|s| s.eq_ignore_ascii_case("http"));
            let Some(url) = web.then(|| url::Url::parse(&link).ok()).flatten() else {
                continue;
            };
            if let Some(token) = self
                .unsubscribe_urls
                .iter()
                .find_map(|t| t.token_in_url(&url))
                && !found.iter().any(|(_, known)| *known == token)
            {
                found.push((link, token));
            }
        }
        found
    }

    /// The addresses of the original's `List-Unsubscribe` mailto links that match one of the
    /// `unsubscribe_addresses` templates, each with what the template captured and the link
    /// (`mailto:` and the address, without its `?subject=`).
    fn unsubscribe_mailto_matches(
        &self,
        original: &HeaderBlock,
    ) -> Vec<(crate::verp::VerpCapture, String)> {
        if self.unsubscribe_templates.is_empty() {
            return Vec::new();
        }
        let mut found: Vec<(crate::verp::VerpCapture, String)> = Vec::new();
        for link in original
            .get_all("List-Unsubscribe")
            .flat_map(list_unsubscribe_links)
        {
            for to in mailto_addresses(&link) {
                let link = format!("mailto:{to}");
                if found
                    .iter()
                    .any(|(_, known)| known.eq_ignore_ascii_case(&link))
                {
                    continue;
                }
                if let Some(capture) = self
                    .unsubscribe_templates
                    .iter()
                    .find_map(|t| t.capture(&to))
                {
                    found.push((capture, link));
                }
            }
        }
        found
    }

    fn verp_matches(
        &self,
        report: &Report,
        original: &HeaderBlock,
    ) -> Vec<(crate::verp::VerpCapture, String)> {
        // An unsubscribe request sent to a List-Unsubscribe mailto address carries the
        // sender's identifier in that address. Its Return-Path is its author's choice (its
        // envelope sender), and so is the rest of its To (another address of yours, a VERP
        // one, say): only an address of `unsubscribe_addresses` is read, by those templates.
        let request = report.kind == crate::report::Kind::Unsubscribe
            && report.format == crate::report::Format::None;
        if request {
            let mut found: Vec<(crate::verp::VerpCapture, String)> = Vec::new();
            for to in original
                .get_all("To")
                .flat_map(address::split_list)
                .map(written_address)
            {
                if found
                    .iter()
                    .any(|(_, known)| known.eq_ignore_ascii_case(to))
                {
                    continue;
                }
                if let Some(capture) = self
                    .unsubscribe_templates
                    .iter()
                    .find_map(|t| t.capture(to))
                {
                    found.push((capture, to.to_string()));
                }
            }
            return found;
        }
        let mut envelopes: Vec<String> = Vec::new();
        if let Some(from) = &report.original_mail_from {
            envelopes.push(from.clone());
        }
        for value in original.get_all("Return-Path") {
            let bare = value
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim();
            if !bare.is_empty() && !envelopes.iter().any(|e| e.eq_ignore_ascii_case(bare)) {
                envelopes.push(bare.to_string());
            }
        }
        let mut found = Vec::new();
        for envelope in envelopes {
            for template in &self.verp {
                if let Some(capture) = template.capture(&envelope) {
                    found.push((capture, envelope.clone()));
                    break;
                }
            }
        }
        found
    }

    fn resolve_through_send_log(
        &self,
        report: &Report,
        send_log: &dyn SendLogLookup,
        out: &mut Attributed,
    ) {
        let ids: Vec<String> = out.recipients.iter().filter_map(|r| r.id.clone()).collect();
        let mut several = None;
        for id in ids {
            if let Some(found) = send_log.recipient_by_id(&id) {
                out.recipients.push(Recipient {
                    address: address::normalise(&found),
                    id: Some(id),
                    via: Via::SendLog,
                });
                return;
            }
            if several.is_none() && send_log.has_id(&id) {
                several = Some(
                    "the send log has the id for several recipients (an id of a \
                    campaign, not of one message to one person): it names nobody",
                );
            }
        }
        if let Some(message_id) = report.message_id.as_deref() {
            if let Some(found) = send_log.recipient_by_message_id(message_id) {
                out.recipients.push(Recipient {
                    address: address::normalise(&found),
                    id: None,
                    via: Via::SendLog,
                });
                return;
            }
            if several.is_none() && send_log.has_message_id(message_id) {
                several = Some(
                    "the send log has the Message-ID for several recipients: it \
                    names nobody",
                );
            }
        }
        if let Some(note) = several {
            out.notes.push(note.to_string());
        }
    }
}

/// Whether a complainant found this way shows the mail to be the sender's: found through an
/// identifier the sender put into it, or the send log.
fn is_sender_identifier(via: Via) -> bool {
    matches!(
        via,
        Via::Header | Via::Verp | Via::Token | Via::CfblFeedbackId | Via::SendLog
    )
}

/// The strategies that read the sender's own identifiers (`is_sender_identifier`).
fn is_identifier_strategy(strategy: Strategy) -> bool {
    matches!(
        strategy,
        Strategy::Header
            | Strategy::Verp
            | Strategy::Token
            | Strategy::CfblFeedbackId
            | Strategy::SendLog
    )
}

/// One message goes to one recipient: when what one strategy found from `from` on names
/// several different addresses (two `X-Fbl-Rcpt` fields, two `X-Apparently-To`), which of
/// them complained cannot be told. They are taken out, each said in a note, and true is
/// returned. Original-Rcpt-To is not asked: a provider states each recipient of a message
/// sent to several (RFC 5965 section 3.2), and each complained.
fn drop_disagreeing(from: usize, out: &mut Attributed) -> bool {
    let mut addresses: Vec<&str> = Vec::new();
    for address in out.recipients[from..]
        .iter()
        .filter_map(|r| r.address.as_deref())
    {
        if !addresses.iter().any(|a| a.eq_ignore_ascii_case(address)) {
            addresses.push(address);
        }
    }
    if addresses.len() < 2 {
        return false;
    }
    let via = out.recipients[from].via.as_str();
    let named = addresses.join(", ");
    out.notes.push(format!(
        "{via} names {} different addresses ({named}): one message goes to one recipient, \
         which of them complained cannot be told; nobody is attributed",
        addresses.len()
    ));
    let mut index = from;
    while index < out.recipients.len() {
        if out.recipients[index].address.is_some() {
            out.recipients.remove(index);
        } else {
            index += 1;
        }
    }
    true
}

/// The address in one address of a list (`Name <a@example.org>`, `a@example.org`), as
/// written: a token may make its local part longer than an address fbl would keep.
fn written_address(part: &str) -> &str {
    match (part.rfind('<'), part.rfind('>')) {
        (Some(start), Some(end)) if start < end => part[start + 1..end].trim(),
        _ => part.trim(),
    }
}

/// Why the weak strategies (To, Delivered-To, X-Apparently-To), which read headers anyone on
/// the way may have set, must not run, besides `weak_sources_barred_by_report`: a sender
/// identifier was found and a send log is kept (it will resolve the id, also when the entry
/// arrives later, and a To filled in now would stand in its way for good), or a sender token
/// did not verify (the message was tampered with). Without any send log an id resolves
/// nothing, and To is the best there is.
fn weak_sources_barred(out: &Attributed, send_log: &dyn SendLogLookup) -> Option<&'static str> {
    if out.forged {
        Some("as a sender token does not verify")
    } else if out
        .recipients
        .iter()
        .any(|r| r.id.is_some() && r.address.is_none())
        && send_log.has_entries()
    {
        Some("as a sender identifier was found (the send log resolves it)")
    } else {
        None
    }
}

/// Why the weak strategies must not run, whatever the other strategies find: the provider
/// redacted the complainant (then To and Delivered-To hold a stand-in: an anonymised address,
/// the feedback mailbox, a role address of the provider), or the reported message was itself
/// a feedback report (a report of a report: its To is the feedback mailbox it was sent to).
fn weak_sources_barred_by_report(report: &Report, original: &HeaderBlock) -> Option<&'static str> {
    if crate::report_parser::redacted_by_provider(report, original) {
        return Some(
            "as the provider redacted the complainant (what stands there is not the complainant)",
        );
    }
    let original_is_a_report = original.get("Content-Type").is_some_and(|value| {
        let value = value.to_ascii_lowercase();
        value.contains("multipart/report") && value.contains("feedback-report")
    });
    original_is_a_report.then_some(
        "as the reported message is itself a feedback report (its To is a feedback mailbox)",
    )
}

/// Takes out of what a weak strategy found, from `from` on, the addresses that are the
/// sender's own: the original's From, Sender, Reply-To, Return-Path, its envelope sender, the
/// list's posting address, and any address at the From's domain, a subdomain of it or a
/// domain above it (not a public mailbox provider's). A message sent with the recipients in
/// Bcc has the sender or the list in To: that is nobody who complained.
fn drop_the_senders_own(
    report: &Report,
    original: &HeaderBlock,
    from: usize,
    out: &mut Attributed,
) {
    let own: Vec<String> = ["From", "Sender", "Reply-To", "Return-Path", "List-Post"]
        .into_iter()
        .flat_map(|name| original.get_all(name))
        .flat_map(address::split_list)
        .chain(report.original_mail_from.as_deref())
        .filter_map(address::normalise)
        .collect();
    // The list's own address as its List-Id spells it (RFC 2919: `Members
    // <members.lists.example.com>` for members@lists.example.com), a list mailed with its
    // subscribers in Bcc having it in To.
    let list_id: Option<String> = original
        .get("List-Id")
        .and_then(address::inside_angle_brackets)
        .map(|id| id.trim().to_ascii_lowercase());
    let is_list_address = |address: &str| {
        list_id.as_deref().is_some_and(|id| {
            address.rsplit_once('@').is_some_and(|(local, domain)| {
                id.len() == local.len() + 1 + domain.len()
                    && id
                        .get(..local.len())
                        .is_some_and(|l| l.eq_ignore_ascii_case(local))
                    && id.as_bytes()[local.len()] == b'.'
                    && id[local.len() + 1..].eq_ignore_ascii_case(domain)
            })
        })
    };
    // The domain the message came from (its From's), and those above and below it: a list
    // mailed with its subscribers in Bcc has its own address in To, `subscribers@example.com`
    // or `newsletter@news.example.com` for mail from `news@example.com`. A public mailbox
    // provider's domain is not the sender's: its users are everyone.
    let from_domains: Vec<String> = original
        .get_all("From")
        .flat_map(address::split_list)
        .filter_map(address::normalise)
        .filter_map(|a| a.rsplit_once('@').map(|(_, d)| address::compared_domain(d)))
        .filter(|d| d.contains('.') && !is_public_mailbox_domain(d))
        .collect();
    let at_from_domain = |address: &str| {
        address.rsplit_once('@').is_some_and(|(_, domain)| {
            let domain = address::compared_domain(domain);
            from_domains.iter().any(|from| {
                address::is_within_compared(&domain, from)
                    || address::is_within_compared(from, &domain)
            })
        })
    };
    if own.is_empty() && list_id.is_none() && from_domains.is_empty() {
        return;
    }
    let mut dropped = Vec::new();
    let mut index = from;
    while index < out.recipients.len() {
        let why = out.recipients[index].address.as_deref().and_then(|a| {
            if own.iter().any(|o| o.eq_ignore_ascii_case(a)) || is_list_address(a) {
                Some("the sender's own address")
            } else if at_from_domain(a) {
                Some("at the reported message's From domain")
            } else {
                None
            }
        });
        if let Some(why) = why {
            let recipient = out.recipients.remove(index);
            dropped.push((recipient.address.unwrap_or_default(), recipient.via, why));
        } else {
            index += 1;
        }
    }
    for (address, via, why) in dropped {
        out.notes.push(format!(
            "{} names {address}, {why}: not a complainant",
            via.as_str()
        ));
    }
}

/// The links of a `List-Unsubscribe` value (RFC 2369): each URI in angle brackets, white
/// space inside them removed (a folded link); a value without brackets is split at commas.
fn list_unsubscribe_links(value: &str) -> Vec<String> {
    let bare = |link: &str| -> String { link.chars().filter(|c| !c.is_whitespace()).collect() };
    let mut links = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find('<') {
        let Some(length) = rest[start..].find('>') else {
            break;
        };
        links.push(bare(&rest[start + 1..start + length]));
        rest = &rest[start + length + 1..];
    }
    if links.is_empty() {
        links.extend(value.split(',').map(bare));
    }
    links.retain(|link| !link.is_empty());
    links
}

/// The addresses of a `mailto:` link (RFC 6068): those before its `?`, separated by commas,
/// percent-encoding decoded. None for any other link, or an address that does not decode.
fn mailto_addresses(link: &str) -> Vec<String> {
    let Some(rest) = link
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("mailto:"))
        .map(|_| &link[7..])
    else {
        return Vec::new();
    };
    let to = rest.split('?').next().unwrap_or("");
    to.split(',')
        .filter_map(percent_decoded)
        .map(|address| address.trim().to_string())
        .filter(|address| !address.is_empty())
        .collect()
}

/// `text` with each `%XX` replaced by its byte; `None` for a malformed escape or bytes that
/// are not UTF-8.
fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// An `unsubscribe_urls` template: an http or https link with one `{token}`, in a path
/// segment (`https://example.com/u/{token}`) or a query parameter's value
/// (`https://example.com/unsubscribe?t={token}`). A link matches when its scheme, host and
/// port are the template's, its path has the template's segments, and it has each of the
/// template's query parameters (others, and a fragment, are ignored). A piece with the
/// placeholder is matched as a VERP template is (`u-{token}` takes what follows `u-`), one
/// piece at a time, so the token never takes in a following `/`, `?` or `&`.
#[derive(Debug, Clone)]
pub struct UnsubscribeUrl {
    scheme: String,
    authority: String,
    path: Vec<UrlPiece>,
    query: Vec<(String, UrlPiece)>,
}

#[derive(Debug, Clone)]
enum UrlPiece {
    Literal(String),
    Template(VerpTemplate),
}

impl UrlPiece {
    /// Whether `text` matches; the token the piece holds goes to `token`.
    fn matches(&self, text: &str, token: &mut Option<String>) -> bool {
        match self {
            UrlPiece::Literal(literal) => literal == text,
            UrlPiece::Template(template) => match template.capture(text) {
                Some(capture) => {
                    *token = capture.token;
                    token.is_some()
                }
                None => false,
            },
        }
    }
}

/// What stands for `{token}` while a template is read as a URL: braces are not URL
/// characters, and the URL reader would encode them.
const TOKEN_MARK: &str = "fbl0token0mark";

impl UnsubscribeUrl {
    pub fn parse(template: &str) -> Result<UnsubscribeUrl, String> {
        let refuse = |why: String| format!("[attribution] unsubscribe_urls: {template:?} {why}");
        if template.matches("{token}").count() != 1
            || template.replacen("{token}", "", 1).contains(['{', '}'])
        {
            return Err(refuse(
                "must hold one {token}, and no other placeholder".to_string(),
            ));
        }
        let url = url::Url::parse(&template.replacen("{token}", TOKEN_MARK, 1))
            .map_err(|error| refuse(format!("is not a link ({error})")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(refuse("is not an https (or http) link".to_string()));
        }
        let piece = |text: &str| -> Result<UrlPiece, String> {
            if text.contains(TOKEN_MARK) {
                VerpTemplate::parse(&text.replacen(TOKEN_MARK, "{token}", 1))
                    .map(UrlPiece::Template)
                    .map_err(refuse)
            } else {
                Ok(UrlPiece::Literal(text.to_string()))
            }
        };
        let path = path_segments(&url)
            .iter()
            .map(|segment| piece(segment))
            .collect::<Result<Vec<_>, _>>()?;
        let query = url
            .query_pairs()
            .filter(|(name, _)| !name.contains(TOKEN_MARK))
            .map(|(name, value)| Ok((name.into_owned(), piece(&value)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let in_place = path
            .iter()
            .chain(query.iter().map(|(_, piece)| piece))
            .any(|piece| matches!(piece, UrlPiece::Template(_)));
        if !in_place {
            return Err(refuse(
                "must have its {token} in the path or in a query parameter's value".to_string(),
            ));
        }
        Ok(UnsubscribeUrl {
            scheme: url.scheme().to_string(),
            authority: authority_of(&url),
            path,
            query,
        })
    }

    /// The token `link` carries, when it is a link of this template.
    pub fn token_in(&self, link: &str) -> Option<String> {
        self.token_in_url(&url::Url::parse(link).ok()?)
    }

    /// The token a link read already carries, when it is a link of this template.
    fn token_in_url(&self, url: &url::Url) -> Option<String> {
        if url.scheme() != self.scheme || authority_of(url) != self.authority {
            return None;
        }
        let segments = path_segments(url);
        if segments.len() != self.path.len() {
            return None;
        }
        let mut token = None;
        for (piece, segment) in self.path.iter().zip(&segments) {
            if !piece.matches(segment, &mut token) {
                return None;
            }
        }
        for (name, piece) in &self.query {
            let found = url
                .query_pairs()
                .any(|(n, value)| n == name.as_str() && piece.matches(&value, &mut token));
            if !found {
                return None;
            }
        }
        token
    }
}

/// Host and port, as the URL reader wrote them (the host lower-cased, a default port left
/// out).
fn authority_of(url: &url::Url) -> String {
    match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or("")),
        None => url.host_str().unwrap_or("").to_string(),
    }
}

/// The path's segments, without the empty one a trailing `/` leaves.
fn path_segments(url: &url::Url) -> Vec<String> {
    let mut segments: Vec<String> = url
        .path_segments()
        .map(|s| s.map(str::to_string).collect())
        .unwrap_or_default();
    if segments.last().is_some_and(String::is_empty) {
        segments.pop();
    }
    segments
}

fn push_address(out: &mut Attributed, raw: &str, via: Via) {
    if let Some(address) = address::complainant(raw) {
        out.recipients.push(Recipient {
            address: Some(address),
            id: None,
            via,
        });
    }
}

fn push_id(out: &mut Attributed, raw: &str, via: Via) {
    let id = raw.trim();
    if !id.is_empty() && id.len() <= 512 {
        out.recipients.push(Recipient {
            address: None,
            id: Some(id.to_string()),
            via,
        });
    }
}

pub(crate) fn decode_base64_json(value: &str, field: &str) -> Option<String> {
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.trim_end_matches('='))
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(compact.trim_end_matches('='))
        })
        .or_else(|_| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(compact.trim_end_matches('='))
        })
        .ok()?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    match json.get(field)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn dedup(recipients: &mut Vec<Recipient>) {
    let mut seen: Vec<(Option<String>, Option<String>)> = Vec::new();
    recipients.retain(|r| {
        let key = (r.address.as_ref().map(|a| a.to_lowercase()), r.id.clone());
        if seen.contains(&key) {
            false
        } else {
            seen.push(key);
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Format, Kind, Reporter};

    const SECRET: &[u8] = b"fbl-test-secret";

    fn attribution(urls: &[&str]) -> Attribution {
        let config = AttributionConfig {
            unsubscribe_urls: urls.iter().map(|u| u.to_string()).collect(),
            ..AttributionConfig::default()
        };
        Attribution::new(&config, Some(SECRET.to_vec())).unwrap()
    }

    /// Attributes a sparse complaint whose attached headers are `headers`.
    fn attributed(attribution: &Attribution, headers: &str) -> Attributed {
        // A feedback loop that redacts nothing (a June 2026 JMRP report bars To).
        let report = Report::empty(Kind::Complaint, Format::Arf, Reporter::Other);
        let original = HeaderBlock::parse(format!("{headers}\n\n").as_bytes());
        attribution.attribute(&report, &original, &NoSendLog)
    }

    #[test]
    fn a_token_is_read_from_the_piece_of_the_link_its_template_names() {
        let path = UnsubscribeUrl::parse("https://Example.com/u/{token}").unwrap();
        let query =
            UnsubscribeUrl::parse("https://example.com/unsubscribe?list=news&t={token}").unwrap();
        let prefixed = UnsubscribeUrl::parse("http://example.com:8080/x/u-{token}/").unwrap();
        for (template, link, token) in [
            (&path, "https://example.com/u/AbC.d-_", Some("AbC.d-_")),
            (&path, "https://EXAMPLE.com/u/AbC.def/", Some("AbC.def")),
            (&path, "https://example.com/u/AbC.def#top", Some("AbC.def")),
            (
                &path,
                "https://example.com/u/AbC.def?utm_source=x",
                Some("AbC.def"),
            ),
            (&path, "https://example.com/u/AbC.def/confirm", None),
            (&path, "https://example.com/v/AbC.def", None),
            (&path, "https://www.example.com/u/AbC.def", None),
            (&path, "http://example.com/u/AbC.def", None),
            (&path, "https://example.com/u/", None),
            (
                &query,
                "https://example.com/unsubscribe?utm=1&t=Tok.en&list=news",
                Some("Tok.en"),
            ),
            (&query, "https://example.com/unsubscribe?t=Tok.en", None),
            (&query, "https://example.com/unsubscribe?list=news", None),
            (
                &prefixed,
                "http://example.com:8080/x/u-Tok.en",
                Some("Tok.en"),
            ),
            (&prefixed, "http://example.com/x/u-Tok.en", None),
        ] {
            assert_eq!(template.token_in(link).as_deref(), token, "{link}");
        }
    }

    #[test]
    fn a_template_must_place_one_token_in_an_https_link() {
        for (template, says) in [
            ("https://example.com/u/{id}", "no other placeholder"),
            ("https://example.com/u/{token}/{token}", "one {token}"),
            ("https://example.com/u/", "one {token}"),
            ("mailto:u+{token}@example.com", "https"),
            ("https://{token}.example.com/u", "in the path or in a query"),
            (
                "https://example.com/u?{token}=1",
                "in the path or in a query",
            ),
            ("example.com/u/{token}", "is not a link"),
        ] {
            let error = UnsubscribeUrl::parse(template).unwrap_err();
            assert!(error.contains(says), "{template}: {error}");
            assert!(
                error.starts_with("[attribution] unsubscribe_urls: "),
                "{error}"
            );
        }
    }

    #[test]
    fn a_signed_token_in_a_list_unsubscribe_link_names_the_complainant() {
        let attribution = attribution(&[
            "https://www.example.com/u/{token}",
            "https://www.example.com/unsubscribe?t={token}",
        ]);
        let token = token::sign(SECRET, "jane@example.org");
        for headers in [
            format!(
                "List-Unsubscribe: <mailto:unsubscribe@lists.example.com>,\n <https://www.example.com/u/{token}>"
            ),
            format!("List-Unsubscribe: <https://www.example.com/unsubscribe?list=7&t={token}>"),
            format!("List-Unsubscribe: https://www.example.com/u/{token}"),
        ] {
            let found = attributed(&attribution, &headers);
            assert_eq!(
                found.recipients,
                [Recipient {
                    address: Some("jane@example.org".to_string()),
                    id: None,
                    via: Via::Token,
                }],
                "{headers}"
            );
            assert!(!found.forged);
        }
        // A link of another shape is none of fbl's business.
        let found = attributed(
            &attribution,
            "List-Unsubscribe: <https://www.example.com/u/7f3a9c/confirm>",
        );
        assert_eq!((found.recipients.len(), found.forged), (0, false));
    }

    fn with_unsubscribe_addresses(addresses: &[&str]) -> Attribution {
        let config = AttributionConfig {
            unsubscribe_addresses: addresses.iter().map(|a| a.to_string()).collect(),
            ..AttributionConfig::default()
        };
        Attribution::new(&config, Some(SECRET.to_vec())).unwrap()
    }

    #[test]
    fn a_signed_token_in_a_list_unsubscribe_mailto_address_names_the_complainant() {
        let attribution = with_unsubscribe_addresses(&[
            "leave@lists.example.com",
            "unsubscribe+{token}@lists.example.com",
        ]);
        let token = token::sign(SECRET, "jane@example.org");
        for headers in [
            format!(
                "List-Unsubscribe: <https://www.example.com/u/7f3a9c>,\n <mailto:unsubscribe+{token}@lists.example.com?subject=unsubscribe>"
            ),
            format!("List-Unsubscribe: <MAILTO:unsubscribe%2B{token}@Lists.Example.com>"),
            format!(
                "List-Unsubscribe: <mailto:leave@lists.example.com,unsubscribe+{token}@lists.example.com>"
            ),
        ] {
            let found = attributed(&attribution, &headers);
            assert_eq!(
                found.recipients,
                [Recipient {
                    address: Some("jane@example.org".to_string()),
                    id: None,
                    via: Via::Token,
                }],
                "{headers}"
            );
            assert!(!found.forged, "{headers}");
        }
        // A literal address, or one of no template, names nobody; nor does a mailto address
        // when no `unsubscribe_addresses` template is configured.
        let found = attributed(
            &attribution,
            "List-Unsubscribe: <mailto:leave@lists.example.com?subject=x>, <mailto:other+abc@lists.example.com>\nTo: jane@example.org",
        );
        assert_eq!(found.recipients[0].via, Via::To, "{:?}", found.recipients);
        let found = attributed(
            &with_unsubscribe_addresses(&[]),
            &format!("List-Unsubscribe: <mailto:unsubscribe+{token}@lists.example.com>"),
        );
        assert_eq!((found.recipients.len(), found.forged), (0, false));
    }

    #[test]
    fn a_list_unsubscribe_mailto_token_that_does_not_verify_is_forged() {
        let attribution = with_unsubscribe_addresses(&["unsubscribe+{token}@lists.example.com"]);
        let token = token::sign(b"forger-key-9q", "jane@example.org");
        let found = attributed(
            &attribution,
            &format!(
                "List-Unsubscribe: <mailto:unsubscribe+{token}@lists.example.com?subject=unsubscribe>\nTo: jane@example.org"
            ),
        );
        assert!(found.forged);
        assert!(found.recipients.is_empty(), "{:?}", found.recipients);
        assert!(
            found.notes.iter().any(|n| n.starts_with(&format!(
                "List-Unsubscribe link mailto:unsubscribe+{token}@lists.example.com: "
            )) && n.contains("does not verify")),
            "{:?}",
            found.notes
        );
        assert!(
            found.notes.iter().any(|n| n.contains("not used")),
            "{:?}",
            found.notes
        );
        // Neither the key it was signed with nor fbl's secret is written anywhere.
        assert!(
            !found
                .notes
                .iter()
                .any(|n| n.contains("forger-key-9q") || n.contains("fbl-test-secret")),
            "{:?}",
            found.notes
        );
    }

    #[test]
    fn an_id_in_a_list_unsubscribe_mailto_address_is_read_as_a_verp_id() {
        let attribution = with_unsubscribe_addresses(&["leave-{id}@lists.example.com"]);
        let found = attributed(
            &attribution,
            "List-Unsubscribe: <mailto:leave-7f3a9c@lists.example.com?subject=unsubscribe>",
        );
        assert_eq!(
            found.recipients,
            [Recipient {
                address: None,
                id: Some("7f3a9c".to_string()),
                via: Via::Verp,
            }]
        );
        // The send log resolves it, as any VERP id.
        struct Log;
        impl SendLogLookup for Log {
            fn recipient_by_message_id(&self, _: &str) -> Option<String> {
                None
            }
            fn recipient_by_id(&self, id: &str) -> Option<String> {
                (id == "7f3a9c").then(|| "jane@example.org".to_string())
            }
            fn has_entries(&self) -> bool {
                true
            }
        }
        let report = Report::empty(Kind::Complaint, Format::Arf, Reporter::Microsoft);
        let original =
            HeaderBlock::parse(b"List-Unsubscribe: <mailto:leave-7f3a9c@lists.example.com>\n\n");
        let found = attribution.attribute(&report, &original, &Log);
        assert_eq!(
            found.recipients.last(),
            Some(&Recipient {
                address: Some("jane@example.org".to_string()),
                id: Some("7f3a9c".to_string()),
                via: Via::SendLog,
            })
        );
    }

    #[test]
    fn mailto_links_give_their_decoded_addresses() {
        assert_eq!(
            mailto_addresses("mailto:a%2Bb@example.com,c@example.org?subject=x%20y"),
            ["a+b@example.com", "c@example.org"]
        );
        assert_eq!(mailto_addresses("Mailto:a@example.com"), ["a@example.com"]);
        assert!(mailto_addresses("https://example.com/u/a@b").is_empty());
        assert!(mailto_addresses("mailto:a%2@example.com").is_empty());
        assert!(mailto_addresses("mailto:a%ff@example.com").is_empty());
        assert!(mailto_addresses("mailto:").is_empty());
    }

    #[test]
    fn a_list_unsubscribe_token_that_does_not_verify_is_forged() {
        let attribution = attribution(&["https://www.example.com/u/{token}"]);
        let token = token::sign(b"another secret", "jane@example.org");
        let found = attributed(
            &attribution,
            &format!("List-Unsubscribe: <https://www.example.com/u/{token}>\nTo: jane@example.org"),
        );
        assert!(found.forged);
        assert!(found.recipients.is_empty(), "{:?}", found.recipients);
        assert!(
            found.notes.iter().any(|n| n
                .starts_with("List-Unsubscribe link https://www.example.com/u/")
                && n.contains("does not verify")),
            "{:?}",
            found.notes
        );
        // The weak To is not used once a token failed.
        assert!(
            found.notes.iter().any(|n| n.contains("not used")),
            "{:?}",
            found.notes
        );
    }
}
