//! Writes a deterministic synthetic corpus for benchmarks: a Maildir (or one mbox file) of
//! feedback reports derived from the fixture templates in `fixtures/reports/`, the matching
//! send log `sends.csv`, and optionally a plain suppression list `suppressions.txt`.
//!
//! Run it in release:
//! `cargo run --release --example gen_corpus -- --out DIR --messages N --seed S [--mbox] [--suppressions M]`
//!
//! Each message starts from one fixture and gets its own complainant addresses, ids, signed
//! tokens, KumoMTA reference, Message-IDs, source IP (same documentation /24) and dates
//! (moved back a whole number of weeks, so every weekday stays right), so that no two
//! messages have the same bytes. The expected `.json` beside each fixture says which
//! strings are the complainant, the ids, the attached Message-ID and the source IP.
//! Output is streamed: one message is held in memory at a time, and the same seed always
//! gives the same bytes.
//!
//! The mix, in messages per thousand: 450 sparse 2026 JMRP (`jmrp-2026-*`, sender
//! identifiers: VERP id or address, custom headers, signed tokens, CFBL, Message-ID only),
//! 100 legacy JMRP, 150 Yahoo, 100 Validity, 50 AOL, 40 other ARF (Mail.ru, SES, the
//! `arf-*` variants), 100 look-alikes (not-spam, DMARC failure, DSN, ordinary mail,
//! auto-reply, JMRP enrolment, Apple unsubscribe) and 10 malformed (`broken-*`).

use anyhow::{Context, Result, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Datelike, NaiveDate};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The signing key the fixtures' tokens use (`fixtures/reports/token-secret`).
const TOKEN_SECRET: &[u8] = b"fbl-test-secret";

/// Message categories with their share per thousand and the fixture name prefixes in each.
const CATEGORIES: [(&str, u32, &[&str]); 8] = [
    ("jmrp-2026", 450, &["jmrp-2026-"]),
    ("jmrp-legacy", 100, &["jmrp-legacy-"]),
    ("yahoo", 150, &["yahoo-"]),
    ("validity", 100, &["validity-"]),
    ("aol", 50, &["aol-"]),
    (
        "other-arf",
        40,
        &[
            "arf-rfc5965",
            "arf-seven",
            "arf-folded",
            "arf-field-names",
            "arf-fields-odd",
            "arf-received-date",
            "arf-content-type",
            "arf-text-rfc822",
            "arf-misspelt",
            "arf-attached",
            "arf-message-global",
            "arf-source-ip",
            "arf-feedback-type-fraud",
            "arf-feedback-type-virus",
            "arf-feedback-type-other",
            "arf-feedback-type-unknown",
            "arf-feedback-type-opt-out",
            "arf-encoded-word",
            "arf-latin1",
            "arf-quoted-printable",
            "mailru-",
            "amazon-ses-",
        ],
    ),
    (
        "look-alike",
        100,
        &[
            "arf-feedback-type-not-spam",
            "dmarc-",
            "dsn-",
            "ordinary-",
            "auto-reply-",
            "jmrp-enrolment-",
            "apple-",
        ],
    ),
    ("malformed", 10, &["broken-"]),
];

/// Templates whose attached message was not sent by us: no send-log line for them.
const NOT_OURS: [&str; 1] = ["dmarc-auth-failure-report"];

struct Options {
    out: PathBuf,
    messages: u64,
    seed: u64,
    mbox: bool,
    suppressions: Option<u64>,
    fixtures: PathBuf,
}

fn usage() -> &'static str {
    "usage: gen_corpus --out DIR --messages N --seed S [--mbox] [--suppressions M] [--fixtures DIR]"
}

fn parse_options() -> Result<Options> {
    let mut out = None;
    let mut messages = None;
    let mut seed = None;
    let mut mbox = false;
    let mut suppressions = None;
    let mut fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{arg} needs a value; {}", usage()))
        };
        match arg.as_str() {
            "--out" => out = Some(PathBuf::from(value()?)),
            "--messages" => messages = Some(value()?.parse().context("--messages")?),
            "--seed" => seed = Some(value()?.parse().context("--seed")?),
            "--mbox" => mbox = true,
            "--suppressions" => suppressions = Some(value()?.parse().context("--suppressions")?),
            "--fixtures" => fixtures = PathBuf::from(value()?),
            "--help" | "-h" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}; {}", usage()),
        }
    }
    Ok(Options {
        out: out.context(usage())?,
        messages: messages.context(usage())?,
        seed: seed.context(usage())?,
        mbox,
        suppressions,
        fixtures,
    })
}

/// SplitMix64: small, fast, and stable across library versions, so a seed always gives
/// the same corpus.
struct Random(u64);

impl Random {
    fn for_item(seed: u64, stream: u64, index: u64) -> Random {
        let mut random = Random(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        random.0 ^= index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        random.next();
        random
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// One fixture with what its expected output says about it.
struct Template {
    name: String,
    raw: Vec<u8>,
    /// Complainant addresses, each with whether a signed token carries it.
    addresses: Vec<(String, bool)>,
    /// Opaque recipient ids, each with whether a signed token carries it.
    ids: Vec<(String, bool)>,
    /// Message-ID values found in header lines (without angle brackets).
    message_ids: Vec<String>,
    /// The attached message's Message-ID, when it appears in clear.
    attached_message_id: Option<String>,
    source_ip: Option<String>,
    ours: bool,
}

fn load_templates(folder: &Path) -> Result<Vec<Vec<Template>>> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .with_context(|| format!("cannot list fixtures {}", folder.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter_map(|n| n.strip_suffix(".eml").map(str::to_string))
        .collect();
    names.sort();
    let mut by_category: Vec<Vec<Template>> = CATEGORIES.iter().map(|_| Vec::new()).collect();
    for name in names {
        let Some(category) = CATEGORIES
            .iter()
            .position(|(_, _, prefixes)| prefixes.iter().any(|p| name.starts_with(p)))
        else {
            continue;
        };
        by_category[category].push(load_template(folder, &name)?);
    }
    for (index, templates) in by_category.iter().enumerate() {
        ensure!(
            !templates.is_empty(),
            "no fixture for category {} in {}",
            CATEGORIES[index].0,
            folder.display()
        );
    }
    Ok(by_category)
}

fn load_template(folder: &Path, name: &str) -> Result<Template> {
    let raw = std::fs::read(folder.join(format!("{name}.eml")))?;
    let expected_path = folder.join(format!("{name}.json"));
    let expected: serde_json::Value = serde_json::from_slice(&std::fs::read(&expected_path)?)
        .with_context(|| format!("cannot read {}", expected_path.display()))?;
    let mut addresses: Vec<(String, bool)> = Vec::new();
    let mut ids: Vec<(String, bool)> = Vec::new();
    for recipient in expected["recipients"].as_array().into_iter().flatten() {
        let by_token = recipient["via"] == "token";
        if let Some(address) = recipient["address"].as_str()
            && !addresses.iter().any(|(a, _)| a == address)
        {
            addresses.push((address.to_string(), by_token));
        }
        if let Some(id) = recipient["id"].as_str()
            && !ids.iter().any(|(i, _)| i == id)
        {
            ids.push((id.to_string(), by_token));
        }
    }
    let mut message_ids = Vec::new();
    for line in raw.split(|&b| b == b'\n') {
        if line.len() > 11 && line[..11].eq_ignore_ascii_case(b"message-id:") {
            let value = String::from_utf8_lossy(&line[11..]);
            let value = value.trim().trim_start_matches('<');
            if let Some(end) = value.find('>')
                && !message_ids.iter().any(|m| m == &value[..end])
            {
                message_ids.push(value[..end].to_string());
            }
        }
    }
    let attached_message_id = expected["message_id"]
        .as_str()
        .filter(|m| message_ids.iter().any(|known| known == m))
        .map(str::to_string);
    let template = Template {
        name: name.to_string(),
        raw,
        addresses,
        ids,
        message_ids,
        attached_message_id,
        source_ip: expected["source_ip"].as_str().map(str::to_string),
        ours: !NOT_OURS.contains(&name),
    };
    // The tokens the fixture carries must be the ones this generator would make, or the
    // replacements would silently leave them unchanged.
    for (value, by_token) in template.addresses.iter().chain(&template.ids) {
        if *by_token {
            let token = fbl::token::sign(TOKEN_SECRET, value);
            ensure!(
                find(&template.raw, token.as_bytes(), 0).is_some(),
                "fixture {name}: no token for {value} in its bytes"
            );
        }
    }
    ensure!(
        !template.message_ids.is_empty(),
        "fixture {name} has no Message-ID to vary"
    );
    Ok(template)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from >= haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Which neighbours end a match: bytes of the class must not touch it on either side.
#[derive(Clone, Copy)]
enum Boundary {
    None,
    /// Letters, digits and `.+-_` (address local parts).
    Word,
    /// Letters and digits (ids, which follow a `b-` or `sub-` prefix).
    Alnum,
    /// Digits and `.` before, digits after (IPv4); hex digits and `:` for IPv6.
    Ip,
}

fn touches(boundary: Boundary, byte: u8, before: bool) -> bool {
    match boundary {
        Boundary::None => false,
        Boundary::Word => byte.is_ascii_alphanumeric() || b".+-_".contains(&byte),
        Boundary::Alnum => byte.is_ascii_alphanumeric(),
        Boundary::Ip => byte.is_ascii_hexdigit() || byte == b':' || (before && byte == b'.'),
    }
}

/// Replaces every bounded occurrence of `old` by `new`.
fn replace(text: &[u8], old: &[u8], new: &[u8], boundary: Boundary) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 64);
    let mut at = 0;
    let mut from = 0;
    while let Some(position) = find(text, old, from) {
        let end = position + old.len();
        let clear_before = position == 0 || !touches(boundary, text[position - 1], true);
        let clear_after = end == text.len() || !touches(boundary, text[end], false);
        if clear_before && clear_after {
            out.extend_from_slice(&text[at..position]);
            out.extend_from_slice(new);
            at = end;
        }
        from = position + 1;
    }
    out.extend_from_slice(&text[at..]);
    out
}

/// A new id of the same shape as `old`, unique for message `index`.
fn new_id(old: &str, index: u64, random: &mut Random) -> String {
    if let Some((_, rest)) = old.split_once(':') {
        // CFBL-Feedback-ID `48213:july-deals-2026:8c1e0b2d`: recipient number first.
        let tail = rest.rsplit_once(':').map_or(rest, |(campaign, _)| campaign);
        format!("{}:{tail}:{:08x}", 100_000 + index, random.next() as u32)
    } else if let Some((prefix, _)) = old.rsplit_once('-') {
        format!("{prefix}-{}", 100_000 + index)
    } else {
        // Opaque hex: a bijection of the index, so ids never repeat.
        format!(
            "{:08x}",
            (index as u32).wrapping_mul(0x9E37_79B1) ^ 0x5bd1_e995
        )
    }
}

/// `local.tagINDEX@domain`: keeps the fixture's local part and domain recognisable.
fn new_address(old: &str, index: u64) -> String {
    match old.rsplit_once('@') {
        Some((local, domain)) => format!("{local}.r{index}@{domain}"),
        None => format!("{old}.r{index}"),
    }
}

fn new_ip(old: &str, random: &mut Random) -> String {
    let host = 1 + random.below(254);
    if old.contains(':') {
        match old.rsplit_once("::") {
            Some((network, _)) => format!("{network}::{host:x}"),
            None => old.to_string(),
        }
    } else {
        match old.rsplit_once('.') {
            Some((network, _)) => format!("{network}.{host}"),
            None => old.to_string(),
        }
    }
}

const WEEKDAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Moves every RFC 5322 date (`Mon, 20 Jul 2026`) back by `weeks`, keeping its weekday.
fn shift_dates(text: &[u8], weeks: i64) -> Vec<u8> {
    if weeks == 0 {
        return text.to_vec();
    }
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if let Some((length, replacement)) = shifted_date_at(&text[i..], weeks) {
            out.extend_from_slice(replacement.as_bytes());
            i += length;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

/// A date starting at the front of `text`: its length and the shifted text.
fn shifted_date_at(text: &[u8], weeks: i64) -> Option<(usize, String)> {
    if text.len() < 16 || !WEEKDAYS.contains(&&text[..3]) || &text[3..5] != b", " {
        return None;
    }
    let rest = &text[5..];
    let day_digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=2).contains(&day_digits) || rest.get(day_digits) != Some(&b' ') {
        return None;
    }
    let day: u32 = std::str::from_utf8(&rest[..day_digits])
        .ok()?
        .parse()
        .ok()?;
    let month_at = day_digits + 1;
    let month = MONTHS
        .iter()
        .position(|m| rest.get(month_at..month_at + 3) == Some(*m))? as u32
        + 1;
    if rest.get(month_at + 3) != Some(&b' ') {
        return None;
    }
    let year_at = month_at + 4;
    let year_text = rest.get(year_at..year_at + 4)?;
    if !year_text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let year: i32 = std::str::from_utf8(year_text).ok()?.parse().ok()?;
    let date = NaiveDate::from_ymd_opt(year, month, day)? - chrono::Duration::weeks(weeks);
    let weekday = WEEKDAYS[date.weekday().num_days_from_monday() as usize];
    let month_name = MONTHS[date.month0() as usize];
    let day_text = if day_digits == 2 {
        format!("{:02}", date.day())
    } else {
        date.day().to_string()
    };
    let replacement = format!(
        "{}, {day_text} {} {}",
        String::from_utf8_lossy(weekday),
        String::from_utf8_lossy(month_name),
        date.year()
    );
    Some((5 + year_at + 4, replacement))
}

/// Rewrites the base64 JSON of an `X-KumoRef:` header with the new addresses.
fn rewrite_kumoref(text: Vec<u8>, addresses: &[(String, String)]) -> Result<Vec<u8>> {
    let key = b"X-KumoRef: ";
    let Some(start) = find(&text, key, 0) else {
        return Ok(text);
    };
    let value_at = start + key.len();
    let end = text[value_at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |p| p + value_at);
    let decoded = STANDARD
        .decode(text[value_at..end].trim_ascii())
        .context("X-KumoRef is not base64")?;
    let mut json = decoded;
    for (old, new) in addresses {
        json = replace(&json, old.as_bytes(), new.as_bytes(), Boundary::Word);
    }
    let mut out = text[..value_at].to_vec();
    out.extend_from_slice(STANDARD.encode(json).as_bytes());
    out.extend_from_slice(&text[end..]);
    Ok(out)
}

/// One generated message and the send-log lines that resolve it.
struct Generated {
    raw: Vec<u8>,
    sends: Vec<[String; 7]>,
}

fn generate(template: &Template, index: u64, random: &mut Random) -> Result<Generated> {
    let mut raw = template.raw.clone();
    let tag = format!("g{index:x}");
    let mut attached_message_id = None;
    for (position, old) in template.message_ids.iter().enumerate() {
        let new = match old.rsplit_once('@') {
            Some((local, domain)) => format!("{local}.{tag}.{position}@{domain}"),
            None => format!("{old}.{tag}.{position}"),
        };
        raw = replace(&raw, old.as_bytes(), new.as_bytes(), Boundary::None);
        if template.attached_message_id.as_ref() == Some(old) {
            attached_message_id = Some(new);
        }
    }
    let mut new_addresses = Vec::new();
    for (old, by_token) in &template.addresses {
        let new = new_address(old, index);
        if *by_token {
            let old_token = fbl::token::sign(TOKEN_SECRET, old);
            let new_token = fbl::token::sign(TOKEN_SECRET, &new);
            raw = replace(
                &raw,
                old_token.as_bytes(),
                new_token.as_bytes(),
                Boundary::None,
            );
        }
        raw = replace(&raw, old.as_bytes(), new.as_bytes(), Boundary::Word);
        // The VERP form `bounces+{local}={domain}@`.
        if let (Some((old_local, old_domain)), Some((new_local, _))) =
            (old.rsplit_once('@'), new.rsplit_once('@'))
        {
            let old_verp = format!("+{old_local}={old_domain}@");
            let new_verp = format!("+{new_local}={old_domain}@");
            raw = replace(
                &raw,
                old_verp.as_bytes(),
                new_verp.as_bytes(),
                Boundary::None,
            );
        }
        new_addresses.push((old.clone(), new));
    }
    raw = rewrite_kumoref(raw, &new_addresses)?;
    let mut new_ids = Vec::new();
    for (old, by_token) in &template.ids {
        let new = new_id(old, index, random);
        if *by_token {
            let old_token = fbl::token::sign(TOKEN_SECRET, old);
            let new_token = fbl::token::sign(TOKEN_SECRET, &new);
            raw = replace(
                &raw,
                old_token.as_bytes(),
                new_token.as_bytes(),
                Boundary::None,
            );
        }
        raw = replace(&raw, old.as_bytes(), new.as_bytes(), Boundary::Alnum);
        new_ids.push(new);
    }
    let mut source_ip = None;
    if let Some(old) = &template.source_ip {
        let new = new_ip(old, random);
        raw = replace(&raw, old.as_bytes(), new.as_bytes(), Boundary::Ip);
        source_ip = Some(new);
    }
    raw = shift_dates(&raw, random.below(9) as i64);

    let mut sends = Vec::new();
    if template.ours && (attached_message_id.is_some() || !new_ids.is_empty()) {
        // Within the default 120-day send-log retention before FBL_NOW=2026-11-20.
        let sent =
            chrono::DateTime::from_timestamp(1_790_000_000 + random.below(4_000_000) as i64, 0)
                .context("timestamp")?
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
        let campaign = format!("campaign-{}", random.below(200));
        let list = ["news", "deals", "digest"][random.below(3) as usize].to_string();
        let ip = source_ip
            .clone()
            .filter(|ip| !ip.contains(':'))
            .unwrap_or_default();
        let mut recipients: Vec<String> = new_addresses.iter().map(|(_, n)| n.clone()).collect();
        if recipients.is_empty() {
            // An id-only or Message-ID-only report: the send log knows who it was.
            recipients.push(format!("subscriber.r{index}@example.net"));
        }
        for (position, recipient) in recipients.iter().enumerate() {
            let id = new_ids.get(position).cloned().unwrap_or_default();
            sends.push([
                attached_message_id.clone().unwrap_or_default(),
                recipient.clone(),
                id,
                campaign.clone(),
                list.clone(),
                ip.clone(),
                sent.clone(),
            ]);
        }
        // Send-log lines need a Message-ID or an id.
        sends.retain(|line| !line[0].is_empty() || !line[2].is_empty());
    }
    Ok(Generated { raw, sends })
}

/// Writes one message as an mboxrd entry.
fn write_mbox_entry(out: &mut impl Write, raw: &[u8]) -> Result<()> {
    out.write_all(b"From MAILER-DAEMON Fri Nov 20 08:00:00 2026\n")?;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        let quoted = line.iter().position(|&b| b != b'>');
        if let Some(p) = quoted
            && line[p..].starts_with(b"From ")
        {
            out.write_all(b">")?;
        }
        out.write_all(line)?;
    }
    if !raw.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    out.write_all(b"\n")?;
    Ok(())
}

const FIRST_NAMES: [&str; 16] = [
    "ana", "ben", "chloe", "dev", "emma", "farid", "greta", "hiro", "ines", "jon", "kara", "liam",
    "mei", "nils", "olga", "pablo",
];
const LAST_NAMES: [&str; 12] = [
    "smith", "garcia", "muller", "rossi", "tanaka", "novak", "silva", "kowalski", "dubois",
    "jensen", "okafor", "patel",
];
const DOMAINS: [&str; 8] = [
    "example.com",
    "example.net",
    "example.org",
    "mail.example",
    "yahoo.example",
    "outlook.example",
    "cable.example",
    "isp.example",
];

fn write_suppressions(path: &Path, count: u64, seed: u64) -> Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(
        out,
        "# synthetic suppression list for benchmarks, seed {seed}"
    )?;
    for index in 0..count {
        let mut random = Random::for_item(seed, 2, index);
        let first = FIRST_NAMES[random.below(16) as usize];
        let last = LAST_NAMES[random.below(12) as usize];
        let domain = DOMAINS[random.below(8) as usize];
        // The index makes every address distinct.
        writeln!(out, "{first}.{last}{index}@{domain}")?;
    }
    out.flush()?;
    Ok(())
}

fn main() -> Result<()> {
    let options = parse_options()?;
    let categories = load_templates(&options.fixtures)?;
    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("cannot create {}", options.out.display()))?;

    let mut mbox = None;
    let maildir = options.out.join("Maildir");
    if options.mbox {
        let path = options.out.join("reports.mbox");
        mbox = Some(BufWriter::with_capacity(1 << 20, File::create(&path)?));
    } else {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub))?;
        }
    }
    let mut sends = csv::Writer::from_writer(BufWriter::with_capacity(
        1 << 20,
        File::create(options.out.join("sends.csv"))?,
    ));
    sends.write_record([
        "message_id",
        "recipient",
        "id",
        "campaign",
        "list",
        "source_ip",
        "sent_at",
    ])?;

    let total_weight: u32 = CATEGORIES.iter().map(|(_, w, _)| w).sum();
    let mut per_category = [0u64; CATEGORIES.len()];
    let (mut bytes, mut send_lines) = (0u64, 0u64);
    for index in 0..options.messages {
        let mut random = Random::for_item(options.seed, 1, index);
        let mut pick = random.below(total_weight as u64) as u32;
        let category = CATEGORIES
            .iter()
            .position(|(_, weight, _)| {
                if pick < *weight {
                    true
                } else {
                    pick -= weight;
                    false
                }
            })
            .expect("the weights add up");
        per_category[category] += 1;
        let templates = &categories[category];
        let template = &templates[random.below(templates.len() as u64) as usize];
        let generated = generate(template, index, &mut random)
            .with_context(|| format!("message {index} from {}", template.name))?;
        bytes += generated.raw.len() as u64;
        match &mut mbox {
            Some(out) => write_mbox_entry(out, &generated.raw)?,
            None => {
                // One in ten waits in new/, the rest were seen (cur/, flag S).
                let name = if index % 10 == 9 {
                    format!("new/1790000000.M{index:08}P{}.bench", options.seed)
                } else {
                    format!("cur/1790000000.M{index:08}P{}.bench:2,S", options.seed)
                };
                std::fs::write(maildir.join(name), &generated.raw)?;
            }
        }
        for line in &generated.sends {
            sends.write_record(line)?;
            send_lines += 1;
        }
    }
    if let Some(mut out) = mbox {
        out.flush()?;
    }
    sends.flush()?;
    if let Some(count) = options.suppressions {
        write_suppressions(&options.out.join("suppressions.txt"), count, options.seed)?;
    }
    eprintln!(
        "gen_corpus: {} messages ({:.1} MB, {:.0} bytes each on average), {send_lines} send-log lines{}",
        options.messages,
        bytes as f64 / 1e6,
        bytes as f64 / options.messages.max(1) as f64,
        options
            .suppressions
            .map_or(String::new(), |m| format!(", {m} suppressions"))
    );
    for (index, (name, _, _)) in CATEGORIES.iter().enumerate() {
        eprintln!("  {name:<12} {}", per_category[index]);
    }
    Ok(())
}
