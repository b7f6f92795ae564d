//! IANA time zones, for reading SNDS times and classic syslog times (which carry no offset)
//! as UTC.
//!
//! A zone is looked up by name in the system's zone database (`/usr/share/zoneinfo`, or
//! `TZDIR`), so that an updated `tzdata` package is used; on a system without one, in the
//! copy of the database fbl carries (jiff's). Looking a name up reads a file; converting
//! with a zone does no IO.
//!
//! The tables are not compiled into the program as pointers: chrono-tz did that, and every
//! fbl process, even `fbl suppress check`, paid about a megabyte of relocations at start
//! (BENCHMARKS.md, run 7).

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use jiff::tz::{AmbiguousOffset, TimeZone};

/// The zone SNDS times are read in when the configuration names none. One implementation
/// assumes US Pacific, another UTC; Microsoft does not document it.
pub const DEFAULT_SNDS_ZONE: &str = "America/Los_Angeles";

/// An IANA time zone.
#[derive(Debug, Clone)]
pub struct Zone(TimeZone);

impl Zone {
    /// The zone of this IANA name (such as `UTC` or `Europe/Paris`, in any case), or `None`
    /// when no database knows it.
    pub fn named(name: &str) -> Option<Zone> {
        TimeZone::get(name).ok().map(Zone)
    }

    /// Coordinated Universal Time.
    pub fn utc() -> Zone {
        Zone(TimeZone::UTC)
    }

    /// The zone of this host: `TZ` (an IANA name, a TZif path or a POSIX rule), else
    /// `/etc/localtime`; UTC when neither names a zone. Reads the environment and a file.
    pub fn system() -> Zone {
        Zone(TimeZone::system())
    }

    /// [`DEFAULT_SNDS_ZONE`].
    pub fn default_snds() -> Zone {
        Zone::named(DEFAULT_SNDS_ZONE)
            .expect("the zone database fbl carries has America/Los_Angeles")
    }

    /// The instant a local time of this zone names. A local time skipped by a
    /// daylight-saving change is read with the offset in force before the change; a repeated
    /// one takes the earlier instant (the offset before the change too). `None` outside the
    /// years -9999 to 9999.
    pub fn to_utc(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        self.instant(local, false)
    }

    /// As [`to_utc`](Self::to_utc), but a local time repeated when the clocks go back takes
    /// the later instant (the offset after the change): for a time that cannot be earlier
    /// than one known before it.
    pub fn to_utc_later(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        self.instant(local, true)
    }

    fn instant(&self, local: NaiveDateTime, later_in_fold: bool) -> Option<DateTime<Utc>> {
        use chrono::{Datelike, Timelike};
        let civil = jiff::civil::DateTime::new(
            i16::try_from(local.year()).ok()?,
            local.month() as i8,
            local.day() as i8,
            local.hour() as i8,
            local.minute() as i8,
            local.second() as i8,
            // A leap second (chrono keeps it as a 1,000,000,000+ nanosecond) is its second's end.
            local.nanosecond().min(999_999_999) as i32,
        )
        .ok()?;
        let offset = match self.0.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset,
            AmbiguousOffset::Fold { after, .. } if later_in_fold => after,
            AmbiguousOffset::Gap { before, .. } | AmbiguousOffset::Fold { before, .. } => before,
        };
        let utc = local.checked_sub_signed(TimeDelta::seconds(offset.seconds().into()))?;
        Some(utc.and_utc())
    }

    /// The local time of this zone at an instant; `None` outside the years -9999 to 9999.
    pub fn to_local(&self, instant: DateTime<Utc>) -> Option<NaiveDateTime> {
        let timestamp = jiff::Timestamp::from_second(instant.timestamp()).ok()?;
        let offset = self.0.to_offset(timestamp);
        instant
            .naive_utc()
            .checked_add_signed(TimeDelta::seconds(offset.seconds().into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn utc(text: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(text).unwrap().to_utc())
    }

    #[test]
    fn reads_local_times_across_daylight_saving_changes() {
        let pacific = Zone::default_snds();
        assert_eq!(
            pacific.to_utc(local("2026-02-10 16:00:00")),
            utc("2026-02-11T00:00:00Z")
        );
        assert_eq!(
            pacific.to_utc(local("2026-07-01 12:00:00")),
            utc("2026-07-01T19:00:00Z")
        );
        // 2:30 on 8 March 2026 never happens in Pacific time: read with PST, as before it.
        assert_eq!(
            pacific.to_utc(local("2026-03-08 02:30:00")),
            utc("2026-03-08T10:30:00Z")
        );
        // 1:30 on 1 November 2026 happens twice: the earlier, still PDT; or the later, PST.
        assert_eq!(
            pacific.to_utc(local("2026-11-01 01:30:00")),
            utc("2026-11-01T08:30:00Z")
        );
        assert_eq!(
            pacific.to_utc_later(local("2026-11-01 01:30:00")),
            utc("2026-11-01T09:30:00Z")
        );
        assert_eq!(
            pacific.to_utc_later(local("2026-07-01 12:00:00")),
            utc("2026-07-01T19:00:00Z")
        );
        let paris = Zone::named("Europe/Paris").unwrap();
        assert_eq!(
            paris.to_utc(local("2026-03-29 02:30:00")),
            utc("2026-03-29T01:30:00Z")
        );
        assert_eq!(
            Zone::utc().to_utc(local("2026-02-10 16:00:00")),
            utc("2026-02-10T16:00:00Z")
        );
    }

    #[test]
    fn gives_the_local_time_of_an_instant() {
        let pacific = Zone::default_snds();
        let at = |text: &str| pacific.to_local(utc(text).unwrap());
        assert_eq!(
            at("2026-02-11T00:00:00Z"),
            Some(local("2026-02-10 16:00:00"))
        );
        assert_eq!(
            at("2026-07-01T19:00:00Z"),
            Some(local("2026-07-01 12:00:00"))
        );
        // Both instants that read 1:30 on 1 November 2026.
        assert_eq!(
            at("2026-11-01T08:30:00Z"),
            Some(local("2026-11-01 01:30:00"))
        );
        assert_eq!(
            at("2026-11-01T09:30:00Z"),
            Some(local("2026-11-01 01:30:00"))
        );
    }

    #[test]
    fn names_are_iana_names() {
        assert!(Zone::named("UTC").is_some());
        assert!(Zone::named("america/los_angeles").is_some());
        assert!(Zone::named("US/Pacific").is_some());
        assert!(Zone::named("Mars/Olympus_Mons").is_none());
        assert!(Zone::named("").is_none());
    }

    #[test]
    fn years_outside_the_calendar_give_none() {
        let far = chrono::NaiveDate::from_ymd_opt(12026, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(Zone::utc().to_utc(far), None);
    }
}
