//! Ingesting messages: parse, store, attribute and suppress, in transactions of a bounded
//! number of messages. The one place that puts the store and the pure steps together for
//! reports; `fbl ingest`, `fbl run` and `fbl quarantine retry` all go through it.

use crate::attribution::Attribution;
use crate::config::SuppressionConfig;
use crate::content_key::content_key;
use crate::mail_source::Incoming;
use crate::report::{Kind, Report};
use crate::report_parser;
use crate::store::{Batch, NewReport, Store, Stored, SuppressChange, SuppressRequest, sha256};
use crate::suppression;
use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeMap;

/// Messages per transaction: large enough to be fast, small enough that a crash loses
/// little work (the lost work is redone, never doubled, on the next run). 2,000 rather than
/// 500 took 15 % less CPU at 100,000 messages (BENCHMARKS run 20): fewer commits write the
/// same hot B-tree pages to the log fewer times. SQLite's write lock is held for one
/// transaction, about a second at most here.
pub const BATCH_SIZE: usize = 2000;

/// The reading thread hands messages over in chunks of up to `CHUNK_MESSAGES` messages or
/// `CHUNK_BYTES` bytes (one hand-over per message cost a thread wake-up each), and may be
/// `AHEAD` chunks ahead of the storing thread.
const CHUNK_MESSAGES: usize = 64;
const CHUNK_BYTES: usize = 4 << 20;
const AHEAD: usize = 4;

/// A chunk of prepared messages; an input error, if any, comes last.
type Chunk = Vec<Result<(Incoming, Prepared)>>;

/// The work on one message that needs no store, done ahead by the reading thread.
struct Prepared {
    digest: [u8; 32],
    /// What the message says, whichever way it was delivered (`content_key`): once parsed,
    /// the attached report's when the report was read from a message attached to this one
    /// (`delivery_key`).
    content_key: [u8; 32],
    /// Whether `content_key` is final: the message was parsed (or is a head, never parsed).
    keyed: bool,
    /// What the reader found of these bytes in the store.
    seen: Seen,
    /// None when stored, or when the work is left to the storing thread.
    work: Option<PreparedWork>,
}

/// What the reading thread found in the store for a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Not looked up (no lookup connection, or the lookup failed): the storing thread does.
    Unknown,
    /// Stored already, as this report (reports are never deleted: a duplicate); `by_digest`
    /// when the report stored is of these very bytes (a file read again), not another
    /// delivery of it.
    Stored { id: i64, by_digest: bool },
    /// Not stored when the reader looked. A copy stored by this run after that is caught by
    /// the reports table's UNIQUE digest or content key when storing, or by the quarantine's
    /// when the copy was quarantined: the same bytes meet the same fate within a run. A
    /// delivery about to be quarantined as untrusted is looked up again by the storing
    /// thread, in its transaction: another delivery stored since makes it a duplicate.
    Absent,
}

struct PreparedWork {
    /// None when the parser panicked.
    parsed: Option<report_parser::Parsed>,
    /// True when the report is attributed already (the reader could read the send log).
    attributed: bool,
    /// The raw message compressed for the store.
    packed: Vec<u8>,
}

impl Prepared {
    /// The digest only: parsing is left to the storing thread.
    fn new(incoming: &Incoming) -> Prepared {
        Prepared {
            digest: sha256(&incoming.raw),
            content_key: content_key(&incoming.raw),
            keyed: incoming.oversized.is_some(),
            seen: Seen::Unknown,
            work: None,
        }
    }

    /// Everything: digest, parse, attribution and compressed bytes, unless `lookup` finds
    /// these bytes in the store already. Without `lookup`, attribution (which reads the send
    /// log) is left to the storing thread.
    fn ahead(
        incoming: &Incoming,
        mut lookup: Option<&mut crate::store::ReportLookup>,
        attribution: &Attribution,
    ) -> Result<Prepared> {
        let digest = sha256(&incoming.raw);
        let mut key = content_key(&incoming.raw);
        let mut look = |key: &[u8; 32]| match lookup
            .as_mut()
            .map(|lookup| lookup.report_match(&digest, key))
        {
            Some(Ok(Some((id, by_digest)))) => Seen::Stored { id, by_digest },
            Some(Ok(None)) => Seen::Absent,
            None | Some(Err(_)) => Seen::Unknown,
        };
        let mut seen = look(&key);
        let stored = |seen: &Seen| matches!(seen, Seen::Stored { .. });
        let mut parsed = None;
        if incoming.oversized.is_none() && !stored(&seen) {
            parsed = parse_caught(&incoming.raw);
            // A report read from an attached message is that message's delivery: looked up
            // by its key too (delivered directly, or forwarded by someone else, and stored).
            if let Some(inner) = parsed.as_ref().and_then(delivery_key)
                && inner != key
            {
                key = inner;
                if seen == Seen::Absent {
                    seen = look(&key);
                }
            }
        }
        // Parsed (so keyed), or the head of an oversized message, which is never parsed.
        let keyed = parsed.is_some() || incoming.oversized.is_some();
        let work = if incoming.oversized.is_some() || stored(&seen) {
            None
        } else {
            let mut attributed = false;
            if let (Some(parsed), Some(lookup)) = (parsed.as_mut(), lookup) {
                let report_parser::Parsed {
                    report, original, ..
                } = parsed;
                report_parser::attribute(report, original, attribution, &*lookup);
                attributed = true;
            }
            Some(PreparedWork {
                parsed,
                attributed,
                packed: crate::store::pack(&incoming.raw)?,
            })
        };
        Ok(Prepared {
            digest,
            content_key: key,
            keyed,
            seen,
            work,
        })
    }
}

/// An unsubscribe request without a token fbl signed may unsubscribe its sender only: the
/// sender's provider vouches for the From address (the DKIM pass `trust::check` asked for),
/// not for an address in the template it was mailed to (`unsubscribe+{local}={domain}@`, an
/// `{id}`), which anyone can write. Another address waits in quarantine for a person.
fn unsigned_request_names_its_sender(
    outer: &crate::header_block::HeaderBlock,
    own_unsubscribe: bool,
    report: &Report,
) -> std::result::Result<(), String> {
    if !own_unsubscribe {
        return Ok(());
    }
    let from = outer
        .get("From")
        .and_then(crate::address::normalise)
        .unwrap_or_default();
    // One mailbox whatever its `+tag` and case, and an Apple ID under any of its domains.
    let mailbox = |address: &str| -> String {
        let address = address.to_ascii_lowercase();
        let (local, domain) = address.rsplit_once('@').unwrap_or((&address, ""));
        let local = local.split_once('+').map_or(local, |(base, _)| base);
        let domain = match domain {
            "me.com" | "mac.com" => "icloud.com",
            other => other,
        };
        format!("{local}@{domain}")
    };
    let sender = mailbox(&from);
    match report
        .recipients
        .iter()
        .filter_map(|r| r.address.as_deref())
        .find(|address| from.is_empty() || mailbox(address) != sender)
    {
        Some(other) => Err(format!(
            "an unsubscribe request from {from} names {other}: without a token fbl signed, a \
             request unsubscribes its sender only"
        )),
        None => Ok(()),
    }
}

/// The content key that de-duplicates a parsed message when it differs from its own: that
/// of the message attached to it that the report was read from (a forward, an auto-reply
/// quoting the report, a ticket system passing it on). The report delivered directly, or
/// another forward of it, is then the same report: one complaint, however many ways it came.
fn delivery_key(parsed: &report_parser::Parsed) -> Option<[u8; 32]> {
    parsed.inner.as_deref().map(content_key)
}

/// The content key of the report `raw` carries attached (see `delivery_key`), if it is read
/// from an attached message: for `fbl run`'s tidying of a local source, which asks whether
/// the store keeps a file's report.
pub fn attached_report_key(raw: &[u8]) -> Option<[u8; 32]> {
    parse_caught(raw).as_ref().and_then(delivery_key)
}

/// Parses a message; None when the parser panicked (a bug, the message is quarantined).
fn parse_caught(raw: &[u8]) -> Option<report_parser::Parsed> {
    std::panic::catch_unwind(|| report_parser::parse(raw)).ok()
}

/// The reading thread of `ingest_all`: reads every input, prepares it and sends it on, in
/// order (an input that cannot be read is sent on as its error), until the inputs end or
/// the storing thread stops listening. It looks the digest up in a connection of its own, so that
/// messages stored by an earlier run are not parsed again (a copy stored by this run but
/// not yet committed is parsed for nothing: see `Seen::Absent`), and attributes on that
/// connection too: ingesting never writes the send log, so it reads there what the storing
/// thread would.
fn prepare_all(
    inputs: impl Iterator<Item = Result<Incoming>>,
    location: &crate::store::Location,
    attribution: &Attribution,
    sender: std::sync::mpsc::SyncSender<Chunk>,
) {
    // Without a connection (a store that cannot be opened twice), every message is parsed.
    let mut lookup = crate::store::ReportLookup::open(location).ok();
    let mut chunk: Chunk = Vec::with_capacity(CHUNK_MESSAGES);
    let mut chunk_bytes = 0;
    for item in inputs {
        let item = item.and_then(|incoming| {
            let prepared = Prepared::ahead(&incoming, lookup.as_mut(), attribution)?;
            Ok((incoming, prepared))
        });
        let failed = item.is_err();
        chunk_bytes += item.as_ref().map_or(0, |(incoming, _)| incoming.raw.len());
        chunk.push(item);
        if failed || chunk.len() == CHUNK_MESSAGES || chunk_bytes >= CHUNK_BYTES {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_MESSAGES));
            chunk_bytes = 0;
            if sender.send(full).is_err() {
                return;
            }
        }
    }
    if !chunk.is_empty() {
        let _ = sender.send(chunk);
    }
}

/// What one ingest run saw and did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub messages: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    /// Messages seen again that were already in quarantine.
    pub already_quarantined: u64,
    /// Of the quarantined, reports from an origin `[trust]` does not accept.
    pub untrusted: u64,
    pub by_kind: BTreeMap<String, u64>,
    pub by_reporter: BTreeMap<String, u64>,
    /// Complaints and unsubscribes stored with a complainant address.
    pub attributed: u64,
    /// Complaints and unsubscribes stored without one.
    pub unattributed: u64,
    pub suppressions_added: u64,
    pub suppressions_updated: u64,
    /// Why complaints were not attributed, with counts.
    pub unattributed_reasons: BTreeMap<String, u64>,
    /// Origins and reasons of what was quarantined.
    pub quarantine_reasons: Vec<String>,
    /// Quarantined messages (of this run or an earlier one) released because another
    /// delivery of their report was stored, or found stored: nobody needs to look at them.
    /// One quarantined earlier in this run is not counted in `quarantined` (nor `untrusted`,
    /// nor `quarantine_reasons`) any more.
    pub released: u64,
    /// Inputs that could not be read (a file the user running fbl may not read, one gone
    /// while it was read), with the error: they are where they were, not in the store, and
    /// the inputs after them were read.
    pub unreadable: Vec<String>,
    /// Addresses on the suppression list that a not-spam report names, with the report's
    /// id: fbl never takes them off by itself; a person may (`fbl suppress remove`).
    pub not_spam_for_listed: Vec<String>,
    /// Addresses a complaint or unsubscribe names that a person took off the list after it
    /// was reported (`fbl suppress remove`), with the report's id: left off the list, as
    /// that person decided (`fbl suppress show` says who removed it, when and why), and said
    /// so that they hear of a complaint they may not have known of.
    pub left_removed: Vec<String>,
    /// The quarantine rows this summary counts in `quarantined`, with their line of
    /// `quarantine_reasons` and whether they are counted in `untrusted`: a row released
    /// later in the run is taken out of the counts by its id.
    #[serde(skip)]
    quarantined_rows: Vec<QuarantinedRow>,
    /// Rows released here that this summary did not quarantine: of an earlier batch of the
    /// run (settled when the batches' summaries are added) or of an earlier run.
    #[serde(skip)]
    released_rows: Vec<i64>,
    /// Messages stored already as these very bytes before this run (a local source's file
    /// read again: `Ingester::ingest_source`), not counted in `duplicates`.
    #[serde(skip)]
    pub read_again: u64,
}

/// A quarantine row a summary counts (see `Summary::quarantined_rows`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct QuarantinedRow {
    id: i64,
    line: String,
    untrusted: bool,
}

impl Summary {
    /// True when a person should look: something was quarantined or left unattributed.
    pub fn needs_attention(&self) -> bool {
        self.quarantined > 0
            || self.unattributed > 0
            || !self.unreadable.is_empty()
            || !self.not_spam_for_listed.is_empty()
            || !self.left_removed.is_empty()
    }

    pub fn add(&mut self, other: &Summary) {
        self.messages += other.messages;
        self.stored += other.stored;
        self.duplicates += other.duplicates;
        self.quarantined += other.quarantined;
        self.already_quarantined += other.already_quarantined;
        self.untrusted += other.untrusted;
        self.attributed += other.attributed;
        self.unattributed += other.unattributed;
        self.suppressions_added += other.suppressions_added;
        self.suppressions_updated += other.suppressions_updated;
        for (k, v) in &other.by_kind {
            *self.by_kind.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.by_reporter {
            *self.by_reporter.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.unattributed_reasons {
            *self.unattributed_reasons.entry(k.clone()).or_default() += v;
        }
        self.released += other.released;
        self.read_again += other.read_again;
        self.quarantine_reasons
            .extend(other.quarantine_reasons.iter().cloned());
        self.unreadable.extend(other.unreadable.iter().cloned());
        self.not_spam_for_listed
            .extend(other.not_spam_for_listed.iter().cloned());
        self.left_removed.extend(other.left_removed.iter().cloned());
        self.quarantined_rows
            .extend(other.quarantined_rows.iter().cloned());
        for &id in &other.released_rows {
            self.settle_released(id);
        }
    }

    /// A quarantine row released by another delivery of its report: when this summary
    /// counted it as quarantined, it no longer does (nobody needs to look at it); otherwise
    /// it is kept, for the summary this one is added to.
    fn settle_released(&mut self, id: i64) {
        let Some(at) = self.quarantined_rows.iter().position(|row| row.id == id) else {
            self.released_rows.push(id);
            return;
        };
        let row = self.quarantined_rows.remove(at);
        self.quarantined = self.quarantined.saturating_sub(1);
        if row.untrusted {
            self.untrusted = self.untrusted.saturating_sub(1);
        }
        if let Some(line) = self.quarantine_reasons.iter().position(|l| *l == row.line) {
            self.quarantine_reasons.remove(line);
        }
    }
}

/// Where long work reports how far it is: `fbl run` and `fbl ingest` draw a bar from it on a
/// terminal. Work comes in stretches (a mailbox folder, a source); `advance` is called once
/// per message, so implementations must be cheap. The methods do nothing by default.
pub trait Progress {
    /// A stretch begins: `label` names it, `total` is how many messages it brings when that
    /// is known beforehand.
    fn start(&mut self, _label: &str, _total: Option<u64>) {}
    /// `done` messages of the current stretch are processed.
    fn advance(&mut self, _done: u64) {}
    /// The current stretch is over, finished or failed. Harmless when none is going on.
    fn finish(&mut self) {}
}

/// What ingesting needs besides the store.
pub struct Ingester<'a> {
    pub attribution: &'a Attribution,
    pub policy: &'a SuppressionConfig,
    /// The time of this run, RFC 3339 UTC.
    pub now: &'a str,
    /// Parse and attribute, but roll every transaction back: nothing is kept.
    pub dry_run: bool,
    /// When set, complaints and unsubscribes from an untrusted origin are quarantined.
    pub trust: Option<&'a crate::trust::TrustConfig>,
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Stored(i64),
    Duplicate(i64),
    Quarantined(String),
}

impl Ingester<'_> {
    /// Ingests every message of an iterator, committing every `BATCH_SIZE` messages.
    /// `progress` is called after each message with the count so far. An input that cannot
    /// be read is noted in `summary.unreadable` (a person must look: exit 1) and the inputs
    /// after it are read; a store error ends the run after committing what was done.
    ///
    /// Each batch's counts are added to `summary` once the batch is committed (on a dry run,
    /// once it is rolled back), so that after an error too it counts what the store holds:
    /// the caller that goes on (`fbl run`, past a failed source) reports it.
    ///
    /// A second thread reads the inputs and does the work that needs no writing (SHA-256,
    /// parsing, attributing, compressing) a few messages ahead, while this one stores them in
    /// order: the store sees what a single thread would do, and a run uses two cores.
    pub fn ingest_all(
        &self,
        store: &mut Store,
        inputs: impl Iterator<Item = Result<Incoming>> + Send,
        summary: &mut Summary,
        progress: impl FnMut(u64),
    ) -> Result<()> {
        self.ingest_inputs(store, inputs, summary, progress, None)
    }

    /// `ingest_all` for a local source that `fbl run` reads at every run: a message whose
    /// very bytes a report stored before this run has (its id at most `stored_before`) is a
    /// file read again, counted in `summary.read_again` instead of `duplicates`. Told by the
    /// reading thread's lookup; without its connection, such a file counts as a duplicate.
    pub fn ingest_source(
        &self,
        store: &mut Store,
        inputs: impl Iterator<Item = Result<Incoming>> + Send,
        summary: &mut Summary,
        progress: impl FnMut(u64),
        stored_before: i64,
    ) -> Result<()> {
        self.ingest_inputs(store, inputs, summary, progress, Some(stored_before))
    }

    fn ingest_inputs(
        &self,
        store: &mut Store,
        inputs: impl Iterator<Item = Result<Incoming>> + Send,
        summary: &mut Summary,
        mut progress: impl FnMut(u64),
        stored_before: Option<i64>,
    ) -> Result<()> {
        let location = store.location().clone();
        std::thread::scope(|scope| {
            let (sender, receiver) = std::sync::mpsc::sync_channel(AHEAD);
            let attribution = self.attribution;
            let reader = scope.spawn(move || prepare_all(inputs, &location, attribution, sender));
            // The receiving end goes with `store_all`: however it ends, the reader stops at
            // its next chunk.
            let stored = self.store_all(
                store,
                receiver.into_iter().flatten(),
                summary,
                &mut progress,
                stored_before,
            );
            let read = reader.join();
            stored?;
            read.map_err(|_| {
                anyhow::anyhow!("reading the inputs failed (a bug in fbl: please report it)")
            })
        })
    }

    /// The storing side of `ingest_all`: prepared messages into the store, in transactions
    /// of `BATCH_SIZE`, each one's counts added to `summary` once it is committed.
    fn store_all(
        &self,
        store: &mut Store,
        received: impl Iterator<Item = Result<(Incoming, Prepared)>>,
        summary: &mut Summary,
        progress: &mut impl FnMut(u64),
        stored_before: Option<i64>,
    ) -> Result<()> {
        let place = store.location().to_string();
        // Messages of this run in committed transactions: what a failure leaves stored.
        let mut committed = 0;
        let mut done = 0;
        let mut received = received.peekable();
        while received.peek().is_some() {
            let mut batch = store.begin()?;
            // The batch's counts: a batch rolled back (a failed statement or commit) is not
            // counted.
            let mut counted = Summary::default();
            let mut in_batch = 0;
            for item in received.by_ref() {
                match item {
                    Ok((incoming, prepared)) => {
                        let read_again = match prepared.seen {
                            Seen::Stored {
                                id,
                                by_digest: true,
                            } => {
                                incoming.oversized.is_none()
                                    && stored_before.is_some_and(|before| id <= before)
                            }
                            _ => false,
                        };
                        let outcome = self
                            .ingest_prepared(&mut batch, &incoming, prepared, &mut counted)
                            .map_err(|error| {
                                store_failure(error, &place, Kept::Messages(committed))
                            })?;
                        if read_again && matches!(outcome, Outcome::Duplicate(_)) {
                            counted.duplicates -= 1;
                            counted.read_again += 1;
                        }
                        done += 1;
                        progress(done);
                    }
                    // One input that cannot be read (a file fbl's user may not read) is said,
                    // and the rest is read: a source is not stopped for good by one file.
                    Err(error) => counted.unreadable.push(format!("{error:#}")),
                }
                in_batch += 1;
                if in_batch == BATCH_SIZE {
                    break;
                }
            }
            if self.dry_run {
                drop(batch);
            } else {
                batch
                    .commit()
                    .map_err(|error| store_failure(error, &place, Kept::Messages(committed)))?;
                committed += counted.messages;
            }
            summary.add(&counted);
        }
        Ok(())
    }

    /// Ingests one message inside an open transaction.
    pub fn ingest_one(
        &self,
        batch: &mut Batch,
        incoming: &Incoming,
        summary: &mut Summary,
    ) -> Result<Outcome> {
        let prepared = Prepared::new(incoming);
        self.ingest_prepared(batch, incoming, prepared, summary)
    }

    /// Ingests one message, whose store-free work is done, inside an open transaction.
    fn ingest_prepared(
        &self,
        batch: &mut Batch,
        incoming: &Incoming,
        prepared: Prepared,
        summary: &mut Summary,
    ) -> Result<Outcome> {
        summary.messages += 1;
        let digest = prepared.digest;
        let mut content_key = prepared.content_key;
        let key = &content_key;
        // A delivery that lost its message (a broken pipe, a `.forward` gone wrong) must be
        // seen: the parser would take it for a message that is not a report. Checked before
        // the lookup, which would find an empty message stored by an earlier fbl.
        if incoming.oversized.is_none() && incoming.raw.iter().all(u8::is_ascii_whitespace) {
            let reason = match incoming.raw.len() {
                0 => "empty message (0 bytes)".to_string(),
                n => format!("empty message ({n} bytes of white space only)"),
            };
            let known = summary.already_quarantined;
            let first_from = batch.quarantine_origin(&digest)?;
            let outcome =
                self.quarantine(batch, incoming, &digest, key, reason.clone(), summary)?;
            // Every empty delivery is a delivery lost, not the same broken message read
            // again: it needs attention each time, though its (no) bytes are kept once. But
            // the file first quarantined, read again (a `[[source]]` reads its files at every
            // run, and never deletes or moves an empty one), is the same loss: said once.
            // Another empty file is said until it is deleted; a pipe's is always new.
            let read_again =
                incoming.origin != "-" && first_from.as_deref() == Some(incoming.origin.as_str());
            if summary.already_quarantined > known && !read_again {
                summary.already_quarantined = known;
                summary.quarantined += 1;
                summary
                    .quarantine_reasons
                    .push(format!("{}: {reason}", incoming.origin));
            }
            return Ok(outcome);
        }
        let stored = match prepared.seen {
            Seen::Stored { id, .. } => Some(id),
            Seen::Absent => None,
            Seen::Unknown => batch.report_id_by_digests(&digest, key)?,
        };
        if let Some(id) = stored {
            return self.duplicate(batch, incoming, &digest, key, id, summary);
        }
        if let Some(size) = incoming.oversized {
            let reason = format!(
                "message of {size} bytes was bigger than limits.max_message_bytes: only its first \
                 {} bytes were kept; ingest the original again with a larger max_message_bytes",
                incoming.raw.len()
            );
            return self.quarantine(batch, incoming, &digest, key, reason, summary);
        }
        let (parsed, attributed, packed) = match prepared.work {
            Some(work) => (work.parsed, work.attributed, Some(work.packed)),
            None => (parse_caught(&incoming.raw), false, None),
        };
        let Some(parsed) = parsed else {
            let reason =
                "the parser failed on this message (a bug in fbl: please report it)".to_string();
            return self.quarantine(batch, incoming, &digest, key, reason, summary);
        };
        // Parsed here: a report read from an attached message is keyed as that message, and
        // is a duplicate when another delivery of it is stored (see `Prepared::ahead`).
        if !prepared.keyed
            && let Some(inner) = delivery_key(&parsed)
            && inner != content_key
        {
            content_key = inner;
            if let Some(id) = batch.report_id_by_digests(&digest, &content_key)? {
                return self.duplicate(batch, incoming, &digest, &content_key, id, summary);
            }
        }
        let key = &content_key;
        let report_parser::Parsed {
            mut report,
            original,
            ..
        } = parsed;
        if let Some(error) = report.error.clone() {
            return self.quarantine(batch, incoming, &digest, key, error, summary);
        }
        if !attributed {
            report_parser::attribute(&mut report, &original, self.attribution, &*batch);
        }
        if let Some(trust) = self.trust
            && matches!(report.kind, Kind::Complaint | Kind::Unsubscribe)
        {
            let outer = crate::header_block::HeaderBlock::parse(&incoming.raw);
            let own_unsubscribe =
                report.format == crate::report::Format::None && report.kind == Kind::Unsubscribe;
            // An unsubscribe request whose address carried a token we signed names only the
            // subscriber we sent it to: proof enough, whoever relayed it. For a request, the
            // token strategy reads only that address (never the request's own headers), so
            // every address found `via` token is one the request was sent to.
            let signed = own_unsubscribe
                && !report.recipients.is_empty()
                && report
                    .recipients
                    .iter()
                    .filter(|r| r.address.is_some())
                    .all(|r| r.via == crate::report::Via::Token);
            let checked = if signed {
                Ok(())
            } else {
                crate::trust::check(
                    &incoming.raw,
                    &outer,
                    report.reporter,
                    own_unsubscribe,
                    trust,
                )
                .and_then(|()| unsigned_request_names_its_sender(&outer, own_unsubscribe, &report))
            };
            if let Err(why) = checked {
                // The reader looked these up before this thread stored what came ahead of
                // them: another delivery of the report, trusted, may be stored by now (in
                // this transaction). Then this one is a duplicate, not a report to set aside.
                if prepared.seen == Seen::Absent
                    && let Some(id) = batch.report_id_by_digests(&digest, key)?
                {
                    return self.duplicate(batch, incoming, &digest, key, id, summary);
                }
                return self.quarantine(
                    batch,
                    incoming,
                    &digest,
                    key,
                    format!("untrusted_reporter: {why}"),
                    summary,
                );
            }
        }
        let stored = batch.store_report(&NewReport {
            raw: &incoming.raw,
            packed: packed.as_deref(),
            sha256: digest,
            content_key: Some(content_key),
            origin: &incoming.origin,
            report: &report,
            ingested_at: self.now,
        })?;
        let id = match stored {
            Stored::Duplicate(id) => {
                return self.duplicate(batch, incoming, &digest, key, id, summary);
            }
            Stored::New(id) => id,
        };
        self.release(batch, &digest, Some(key), id, summary)?;
        batch.release_quarantined_heads(&incoming.raw, id, self.now)?;
        summary.stored += 1;
        *summary
            .by_kind
            .entry(report.kind.as_str().to_string())
            .or_default() += 1;
        *summary
            .by_reporter
            .entry(report.reporter.as_str().to_string())
            .or_default() += 1;
        // The complaint's time, as the store keeps it (`reports.reported_at`).
        let reported_at = crate::derivation::not_after_now(report.report_date.as_deref(), self.now);
        self.act(batch, id, &report, reported_at, summary)?;
        Ok(Outcome::Stored(id))
    }

    /// A message whose report is stored already (these bytes, or another delivery of it).
    /// Quarantined, its deliveries leave the quarantine, linked to that report: a copy set
    /// aside (untrusted by the way it came, say) is no longer waiting for a person once
    /// another delivery of it was stored.
    fn duplicate(
        &self,
        batch: &mut Batch,
        incoming: &Incoming,
        digest: &[u8; 32],
        content_key: &[u8; 32],
        id: i64,
        summary: &mut Summary,
    ) -> Result<Outcome> {
        // The head of an oversized message has no content key of the message's.
        let content_key = incoming.oversized.is_none().then_some(content_key);
        self.release(batch, digest, content_key, id, summary)?;
        // The whole message again (as the head's reason says to ingest it), stored before its
        // head was quarantined: the head is released as when the message is stored after it.
        if incoming.oversized.is_none() {
            batch.release_quarantined_heads(&incoming.raw, id, self.now)?;
        }
        summary.duplicates += 1;
        Ok(Outcome::Duplicate(id))
    }

    /// Releases the quarantined deliveries of report `id` (its bytes, its content key), and
    /// takes those quarantined earlier in this run out of the counts that need a person.
    fn release(
        &self,
        batch: &mut Batch,
        digest: &[u8; 32],
        content_key: Option<&[u8; 32]>,
        id: i64,
        summary: &mut Summary,
    ) -> Result<()> {
        for row in batch.release_quarantine(digest, content_key, id, self.now)? {
            summary.released += 1;
            summary.settle_released(row);
        }
        Ok(())
    }

    /// Applies the suppression policy to a stored report, whose complaint the store dates
    /// `reported_at` (its `reports.reported_at`).
    pub fn act(
        &self,
        batch: &mut Batch,
        report_id: i64,
        report: &Report,
        reported_at: &str,
        summary: &mut Summary,
    ) -> Result<()> {
        if report.kind == Kind::NotSpam {
            // The user says the mail is wanted (RFC 6430): never a suppression, and never a
            // removal either (one user's "not spam" is no consent for a list another report
            // put them on), but a person should hear of it when the address is listed.
            for address in report.recipient_addresses() {
                if batch.is_suppressed(address, self.now)? {
                    summary
                        .not_spam_for_listed
                        .push(format!("{address} (report {report_id})"));
                }
            }
            return Ok(());
        }
        if !matches!(report.kind, Kind::Complaint | Kind::Unsubscribe) {
            return Ok(());
        }
        let addresses = report.recipient_addresses();
        if addresses.is_empty() {
            summary.unattributed += 1;
            let reason = report
                .attribution_notes
                .first()
                .cloned()
                .unwrap_or_else(|| "no complainant found".to_string());
            *summary.unattributed_reasons.entry(reason).or_default() += 1;
            return Ok(());
        }
        summary.attributed += 1;
        let Some(reason) = suppression::reason_for(report.kind, self.policy) else {
            return Ok(());
        };
        // When the report says it was written; never later than it was stored (a Date in
        // the future, a wrong clock or a forgery, would date the entry ahead and put off its
        // expiry). A complaint reported before a person's removal of the address does not
        // put it back (`Batch::suppress`).
        let seen_at = reported_at;
        // The expiry counts from when fbl acts on the report, not from its Date: an old
        // report (a mailbox's backlog, a device's wrong clock, a Date the sender of an
        // unsubscribe request wrote) would make an entry that has expired already, and
        // suppress nobody.
        let expires_at = suppression::expiry(reason, self.now, self.policy);
        for address in addresses {
            let change = batch.suppress(&SuppressRequest {
                address,
                reason,
                source: report.reporter.as_str(),
                seen_at,
                expires_at: expires_at.as_deref(),
                report_id: Some(report_id),
                actor: "report",
                now: self.now,
            })?;
            match change {
                SuppressChange::Added => summary.suppressions_added += 1,
                SuppressChange::Updated => summary.suppressions_updated += 1,
                SuppressChange::Unchanged => {}
                SuppressChange::LeftRemoved => summary
                    .left_removed
                    .push(format!("{address} (report {report_id})")),
            }
        }
        Ok(())
    }

    fn quarantine(
        &self,
        batch: &mut Batch,
        incoming: &Incoming,
        digest: &[u8; 32],
        content_key: &[u8; 32],
        reason: String,
        summary: &mut Summary,
    ) -> Result<Outcome> {
        let size = incoming.oversized.unwrap_or(incoming.raw.len() as u64);
        // Kept with its content key, so that storing another delivery of the report releases
        // it; the head of an oversized message has none of the message's.
        let content_key = incoming.oversized.is_none().then_some(content_key);
        if let Some(id) = batch.quarantine(
            &incoming.raw,
            digest,
            content_key,
            size,
            &incoming.origin,
            &reason,
            self.now,
        )? {
            let line = format!("{}: {reason}", incoming.origin);
            let untrusted = reason.starts_with("untrusted_reporter:");
            summary.quarantined += 1;
            if untrusted {
                summary.untrusted += 1;
            }
            summary.quarantine_reasons.push(line.clone());
            summary.quarantined_rows.push(QuarantinedRow {
                id,
                line,
                untrusted,
            });
        } else {
            summary.already_quarantined += 1;
        }
        Ok(Outcome::Quarantined(reason))
    }
}

/// A store error in the middle of a run's work (an ingest, a send-log import, an SNDS fetch,
/// the expiry, recording an export), made fit for the person reading cron's mail: it names
/// the store, and a full disk (or an exhausted quota) says so plainly, with what this run
/// kept. The transaction that failed is rolled back whole.
pub(crate) fn store_failure(error: anyhow::Error, place: &str, kept: Kept) -> anyhow::Error {
    if crate::store::is_disk_full(&error) {
        disk_full(error, place, kept)
    } else if format!("{error:#}").contains(place) {
        // Already named (PostgreSQL errors name their store).
        error
    } else {
        error.context(format!("store {place}"))
    }
}

/// What a run that a full store disk stopped has kept, for `disk_full` to say.
pub(crate) enum Kept {
    /// The first this many messages of the run, in committed transactions.
    Messages(u64),
    /// The first this many entries of a send log, in committed slices.
    SendLogEntries(u64),
    /// A whole send log, but not every stored complaint it attributes.
    SendLogImported,
    /// A whole send log and what it attributes, but not the Outlook.com blocks it shows.
    SendLogBlocks,
    /// An export's files, written whole, but not their record in the store.
    Export,
    /// Everything ingested by `fbl run`, and the SNDS days stored, but not the others.
    Snds,
    /// Everything ingested and fetched by `fbl run`, but not the expiry and the prune.
    Expiry,
    /// Everything ingested and exported by `fbl run`, but not the report step's work.
    Report,
    /// What the store held before `fbl snds fetch`, and the days it stored.
    SndsFetched,
    /// Everything: `fbl report` only scans and summarises what is stored.
    Summaries,
}

/// The context `disk_full` puts on an error: a store that can take nothing more this run.
/// A run stops on it (exit 2) wherever it is met; its type tells it from an export's own
/// full disk, which fails that export only.
#[derive(Debug)]
pub(crate) struct StoreFull(String);

impl std::fmt::Display for StoreFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A store error that `is_disk_full`, said plainly: the store, that its disk is full, and
/// what this run kept. One wording for every place that writes to the store in a run.
pub(crate) fn disk_full(error: anyhow::Error, place: &str, kept: Kept) -> anyhow::Error {
    let kept = match kept {
        Kept::Messages(committed) => format!(
            "the first {committed} messages of this run are committed and kept, the next run \
             processes the rest"
        ),
        Kept::SendLogEntries(committed) => format!(
            "the first {committed} entries of the send log are committed and kept, the next \
             run imports the rest"
        ),
        Kept::SendLogImported => String::from(
            "the send log is imported and kept; run fbl reattribute too, for the stored \
             complaints it attributes",
        ),
        Kept::SendLogBlocks => String::from(
            "the send log is imported and kept; import it again to record the Outlook.com \
             blocks its delivery statuses show",
        ),
        Kept::Export => {
            String::from("the export is written whole; the next export covers its changes again")
        }
        Kept::Snds => String::from(
            "everything ingested this run is committed and kept, and the SNDS days stored; the \
             next run fetches the others",
        ),
        Kept::Expiry => String::from(
            "everything ingested and fetched this run is committed and kept; the next run \
             expires suppressions and prunes the send log",
        ),
        Kept::Report => String::from(
            "everything ingested and exported this run is committed and kept; the next run does \
             the report step again",
        ),
        Kept::SndsFetched => {
            String::from("the SNDS days stored before are kept; the next fetch gets the others")
        }
        Kept::Summaries => {
            String::from("nothing stored is lost; the next report summarises the complaints again")
        }
    };
    error.context(StoreFull(format!(
        "store {place}: the disk is full; free some space and run fbl again ({kept})"
    )))
}

/// What `fbl reattribute` did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Reattributed {
    /// Unattributed complaint and unsubscribe reports looked at.
    pub examined: u64,
    /// Of those, reports now attributed.
    pub attributed: u64,
    pub suppressions_added: u64,
    pub suppressions_updated: u64,
    /// Addresses left off the list because a person removed them after the complaint
    /// (see `Summary::left_removed`).
    pub left_removed: Vec<String>,
}

impl Ingester<'_> {
    /// Attributes again every stored complaint that has no complainant yet (after a send log
    /// import, or a change of the attribution settings), and acts on what is found.
    pub fn reattribute(&self, store: &mut Store) -> Result<Reattributed> {
        let mut outcome = Reattributed::default();
        let pending = store.reattribution_pending()?;
        let ids = store.unattributed_report_ids()?;
        // Each chunk's raw reports are in memory together: 500, as before the ingest's
        // transactions grew to 2,000 (a report may be 25 MB).
        const REATTRIBUTE_CHUNK: usize = 500;
        for chunk in ids.chunks(REATTRIBUTE_CHUNK) {
            let mut raws = Vec::with_capacity(chunk.len());
            for (id, reported_at) in chunk {
                if let Some(raw) = store.report_raw(*id)? {
                    raws.push((*id, reported_at, raw));
                }
            }
            let mut batch = store.begin()?;
            for (id, reported_at, raw) in raws {
                outcome.examined += 1;
                let report_parser::Parsed {
                    mut report,
                    original,
                    ..
                } = report_parser::parse(&raw);
                // A report this fbl reads as broken (say two Feedback-Types that disagree, an
                // error since it was stored), or as no longer a complaint or unsubscribe, is
                // left as it was: it would be quarantined if it came in now, and suppresses
                // nobody.
                if report.error.is_some()
                    || !matches!(report.kind, Kind::Complaint | Kind::Unsubscribe)
                {
                    continue;
                }
                report_parser::attribute(&mut report, &original, self.attribution, &batch);
                if report.recipient_addresses().is_empty() {
                    continue;
                }
                batch.update_attribution(id, &report)?;
                outcome.attributed += 1;
                let mut summary = Summary::default();
                self.act(&mut batch, id, &report, reported_at, &mut summary)?;
                outcome.suppressions_added += summary.suppressions_added;
                outcome.suppressions_updated += summary.suppressions_updated;
                outcome.left_removed.extend(summary.left_removed);
            }
            batch.commit()?;
        }
        // Done: the send log's entries so far have been looked up for every complaint.
        if pending != 0 {
            let mut batch = store.begin()?;
            batch.clear_reattribution_pending(pending)?;
            batch.commit()?;
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AttributionConfig;
    use std::path::Path;

    fn fixtures() -> Vec<Incoming> {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports");
        let mut paths: Vec<_> = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "eml"))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|path| Incoming {
                origin: path.display().to_string(),
                raw: std::fs::read(&path).unwrap(),
                oversized: None,
            })
            .collect()
    }

    /// Runs `f` with an ingester of the default settings.
    fn with_ingester<T>(f: impl FnOnce(&Ingester) -> T) -> T {
        let attribution = Attribution::new(&AttributionConfig::default(), None).unwrap();
        let policy = SuppressionConfig::default();
        f(&Ingester {
            attribution: &attribution,
            policy: &policy,
            now: "2026-11-20T08:00:00Z",
            dry_run: false,
            trust: None,
        })
    }

    /// `ingest_all` with a new summary, handed back with its outcome.
    fn ingest(
        store: &mut Store,
        inputs: Vec<Result<Incoming>>,
        progress: impl FnMut(u64),
    ) -> (Summary, Result<()>) {
        let mut summary = Summary::default();
        let done = with_ingester(|ingester| {
            ingester.ingest_all(store, inputs.into_iter(), &mut summary, progress)
        });
        (summary, done)
    }

    /// `ingest`, which must succeed.
    fn ingested(
        store: &mut Store,
        inputs: Vec<Result<Incoming>>,
        progress: impl FnMut(u64),
    ) -> Summary {
        let (summary, done) = ingest(store, inputs, progress);
        done.unwrap();
        summary
    }

    fn stored_reports(store: &Store) -> u64 {
        store.counts().unwrap().reports
    }

    /// A send log that names the complainant of the fixture that carries only a Message-ID.
    fn with_send_log(path: &Path) -> Store {
        let mut store = Store::open(path).unwrap();
        let entry = crate::sendlog::SendLogEntry {
            message_id: Some("20260720104501.9b1c77e0@mta1.example.com".to_string()),
            recipient: "found-in-the-send-log@example.org".to_string(),
            id: None,
            campaign: None,
            list: None,
            source_ip: None,
            sent_at: Some("2026-07-20T10:45:01Z".to_string()),
        };
        let mut batch = store.begin().unwrap();
        assert!(batch.add_send_log(&entry, "2026-11-20T08:00:00Z").unwrap());
        batch.commit().unwrap();
        store
    }

    /// The two-thread `ingest_all` (which also attributes on the reading thread, send log
    /// included) gives what one message at a time gives, in the same order.
    #[test]
    fn reading_ahead_stores_what_one_thread_stores() {
        let dir = tempfile::tempdir().unwrap();
        let messages = fixtures();
        let mut ahead = with_send_log(&dir.path().join("ahead.sqlite"));
        let mut seen = Vec::new();
        let summary = ingested(
            &mut ahead,
            messages.iter().cloned().map(Ok).collect(),
            |n| seen.push(n),
        );
        assert_eq!(seen, (1..=messages.len() as u64).collect::<Vec<_>>());

        let mut alone = with_send_log(&dir.path().join("alone.sqlite"));
        let mut expected = Summary::default();
        let mut outcomes = Vec::new();
        with_ingester(|one| {
            let mut batch = alone.begin().unwrap();
            for incoming in &messages {
                outcomes.push(one.ingest_one(&mut batch, incoming, &mut expected).unwrap());
            }
            batch.commit().unwrap();
        });
        assert_eq!(summary, expected);
        for store in [&ahead, &alone] {
            let found = store
                .active_suppression("found-in-the-send-log@example.org", "2026-11-21T00:00:00Z")
                .unwrap();
            assert!(found.is_some(), "attributed through the send log");
        }
        assert!(
            summary.stored > 50 && summary.quarantined > 0,
            "{summary:?}"
        );
        for (id, outcome) in outcomes.iter().enumerate() {
            if let Outcome::Stored(stored) = outcome {
                assert_eq!(
                    ahead.report_raw(*stored).unwrap(),
                    alone.report_raw(*stored).unwrap(),
                    "message {id} stored under the same id"
                );
            }
        }

        // Again: every message is found stored (by the reading thread), none is parsed again.
        // The fixtures' forwards of other fixtures' reports were duplicates the first time.
        assert!(summary.duplicates > 0, "{summary:?}");
        let again = ingested(&mut ahead, messages.into_iter().map(Ok).collect(), |_| {});
        assert_eq!(again.duplicates, summary.stored + summary.duplicates);
        assert_eq!(again.stored, 0);
    }

    /// The same bytes twice in one run: the reading thread cannot see the first copy (not
    /// committed yet), so the store's UNIQUE digests decide. The summary is the one-message
    /// path's: each report stored once and counted once, each broken input quarantined once.
    #[test]
    fn copies_within_one_run_are_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let messages = fixtures();
        let twice: Vec<Incoming> = messages.iter().chain(&messages).cloned().collect();
        let mut store = Store::open(&dir.path().join("twice.sqlite")).unwrap();
        let summary = ingested(&mut store, twice.iter().cloned().map(Ok).collect(), |_| {});

        let mut alone = Store::open(&dir.path().join("alone.sqlite")).unwrap();
        let mut expected = Summary::default();
        with_ingester(|one| {
            let mut batch = alone.begin().unwrap();
            for incoming in &twice {
                one.ingest_one(&mut batch, incoming, &mut expected).unwrap();
            }
            batch.commit().unwrap();
        });
        assert_eq!(summary, expected);
        // Each report is stored once: its second copy is a duplicate, and so are both copies
        // of a fixture that forwards another fixture's report.
        let once = ingested(
            &mut Store::open(&dir.path().join("once.sqlite")).unwrap(),
            messages.iter().cloned().map(Ok).collect(),
            |_| {},
        );
        assert_eq!(summary.stored, once.stored);
        assert_eq!(summary.duplicates, once.stored + 2 * once.duplicates);
        assert_eq!(summary.already_quarantined, summary.quarantined);
        assert!(summary.quarantined > 0, "{summary:?}");
        assert_eq!(stored_reports(&store), summary.stored);
    }

    /// One message at a time (a mailbox's poll, `fbl quarantine retry`: parsed by the storing
    /// thread), a report delivered directly and forwarded by a colleague is one report, in
    /// either order.
    #[test]
    fn a_forward_of_a_stored_report_is_a_duplicate_one_message_at_a_time() {
        let read = |name: &str| Incoming {
            origin: name.to_string(),
            raw: std::fs::read(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("fixtures/reports")
                    .join(name),
            )
            .unwrap(),
            oversized: None,
        };
        let direct = read("jmrp-legacy-2016.eml");
        let forward = read("forwarded-jmrp-legacy-thunderbird-message-rfc822.eml");
        let dir = tempfile::tempdir().unwrap();
        for (n, [first, second]) in [[&direct, &forward], [&forward, &direct]]
            .into_iter()
            .enumerate()
        {
            let mut store = Store::open(&dir.path().join(format!("{n}.sqlite"))).unwrap();
            let mut summary = Summary::default();
            let outcomes = with_ingester(|one| {
                let mut batch = store.begin().unwrap();
                let outcomes = [first, second]
                    .map(|incoming| one.ingest_one(&mut batch, incoming, &mut summary).unwrap());
                batch.commit().unwrap();
                outcomes
            });
            assert!(
                matches!(outcomes, [Outcome::Stored(id), Outcome::Duplicate(again)] if id == again),
                "{}: {outcomes:?}",
                first.origin
            );
            assert_eq!((summary.stored, summary.duplicates), (1, 1));
            assert_eq!(stored_reports(&store), 1);
        }
    }

    /// An input that cannot be read is said, and the inputs after it are read: a source is
    /// not stopped for good by one file its reader may not open.
    #[test]
    fn an_input_that_cannot_be_read_is_said_and_the_rest_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
        let messages = fixtures();
        let before = BATCH_SIZE.min(messages.len()) - 3;
        let mut inputs: Vec<Result<Incoming>> =
            messages.iter().take(before).cloned().map(Ok).collect();
        inputs.push(Err(anyhow::anyhow!("cannot read broken.eml")));
        inputs.extend(messages.iter().skip(before).cloned().map(Ok));
        let (summary, done) = ingest(&mut store, inputs, |_| {});
        done.unwrap();
        assert_eq!(summary.unreadable, ["cannot read broken.eml"]);
        assert!(summary.needs_attention());
        let mut probe = Store::open(&dir.path().join("probe.sqlite")).unwrap();
        let every = messages.iter().cloned().map(Ok).collect();
        let mut expected = ingested(&mut probe, every, |_| {});
        expected.unreadable = summary.unreadable.clone();
        assert!(expected.stored > 0);
        assert_eq!(stored_reports(&store), expected.stored);
        assert_eq!(summary, expected);
    }
}
