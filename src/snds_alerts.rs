//! Which SNDS changes deserve an alert: an IP turning YELLOW or RED, trap hits, a range newly
//! blocked in ipStatus, a range unblocked. Pure: the caller says what is stored, and records
//! each alert under its event key (`SndsAlert::event`) so that it is raised once.

use crate::snds::FilterColor;
use crate::store::IpStatusPeriod;
use serde::Serialize;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The IP's filter result became YELLOW from GREEN (or from nothing known).
    TurnedYellow,
    /// The IP's filter result became RED from GREEN or YELLOW (or from nothing known).
    TurnedRed,
    /// The IP hit spam traps on a day.
    TrapHits,
    /// ipStatus lists addresses as blocked that no range it listed before blocked.
    Blocked,
    /// ipStatus lists addresses in no blocked range that a range it listed before blocked.
    Unblocked,
    /// The account's newest data day is more than `stale_after_days` behind the run's day:
    /// SNDS stopped sending it data (once per episode: the event is that newest day).
    NoNewData,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::TurnedYellow => "turned_yellow",
            AlertKind::TurnedRed => "turned_red",
            AlertKind::TrapHits => "trap_hits",
            AlertKind::Blocked => "blocked",
            AlertKind::Unblocked => "unblocked",
            AlertKind::NoNewData => "no_new_data",
        }
    }
}

/// One alert, raised once per event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SndsAlert {
    pub account: String,
    pub kind: AlertKind,
    /// The IP, or an ipStatus range `first-last` (one IP when both ends are the same).
    pub ip: String,
    /// The SNDS day of a data alert.
    pub day: Option<String>,
    /// The filter result, the trap hits, or the ipStatus details.
    pub detail: String,
    /// One line for people.
    pub message: String,
    /// With account, kind and IP, what makes the event unique: the day for data alerts,
    /// the ipStatus period for blocked and unblocked.
    #[serde(skip)]
    pub event: String,
}

/// The worst of a day's filter results (an IP may have several windows in a day).
pub fn worst_filter_result<'a>(results: impl IntoIterator<Item = &'a str>) -> FilterColor {
    results
        .into_iter()
        .map(FilterColor::parse)
        .max_by_key(|colour| (colour.severity(), *colour == FilterColor::Green))
        .unwrap_or(FilterColor::Unknown)
}

/// The alerts one IP's day calls for: its filter result got worse than on the stored day
/// before (`previous`, `None` when there is none), or it hit traps: the first time, or more
/// of them than the highest figure already alerted for the day (`trap_hits_alerted`, from a
/// refetch or a corrected figure).
pub fn data_alerts(
    account: &str,
    ip: &str,
    day: &str,
    filter_result: FilterColor,
    trap_hits: u64,
    previous: Option<FilterColor>,
    trap_hits_alerted: Option<u64>,
) -> Vec<SndsAlert> {
    let mut alerts = Vec::new();
    let before = previous.map(FilterColor::severity).unwrap_or(0);
    let kind = match filter_result {
        FilterColor::Yellow => Some(AlertKind::TurnedYellow),
        FilterColor::Red => Some(AlertKind::TurnedRed),
        FilterColor::Green | FilterColor::Unknown => None,
    };
    if let Some(kind) = kind
        && filter_result.severity() > before
    {
        let colour = filter_result.as_str().to_ascii_uppercase();
        let was = match previous {
            Some(previous) if previous != FilterColor::Unknown => {
                format!(" (was {})", previous.as_str().to_ascii_uppercase())
            }
            _ => String::new(),
        };
        alerts.push(SndsAlert {
            account: account.to_owned(),
            kind,
            ip: ip.to_owned(),
            day: Some(day.to_owned()),
            detail: colour.clone(),
            message: format!("snds {account}: {ip} turned {colour} on {day}{was}"),
            event: day.to_owned(),
        });
    }
    alerts.extend(trap_hits_alert(
        account,
        ip,
        day,
        trap_hits,
        trap_hits_alerted,
    ));
    alerts
}

/// The trap-hit alert of an IP's day: the first hits (event: the day), or a rise above the
/// highest figure already alerted (event: the day and the new figure, so each new figure is
/// raised once); a figure that stays or falls raises nothing.
fn trap_hits_alert(
    account: &str,
    ip: &str,
    day: &str,
    trap_hits: u64,
    alerted: Option<u64>,
) -> Option<SndsAlert> {
    let (message, event) = match alerted {
        _ if trap_hits == 0 => return None,
        None => {
            let traps = if trap_hits == 1 { "trap" } else { "traps" };
            (
                format!("snds {account}: {ip} hit {trap_hits} spam {traps} on {day}"),
                day.to_owned(),
            )
        }
        Some(before) if trap_hits > before => (
            format!("snds {account}: {ip} trap hits on {day} rose from {before} to {trap_hits}"),
            trap_hits_rise_event(day, trap_hits),
        ),
        Some(_) => return None,
    };
    Some(SndsAlert {
        account: account.to_owned(),
        kind: AlertKind::TrapHits,
        ip: ip.to_owned(),
        day: Some(day.to_owned()),
        detail: trap_hits.to_string(),
        message,
        event,
    })
}

/// The event key of a rise of a day's trap hits to `trap_hits`: `DAY FIGURE`.
fn trap_hits_rise_event(day: &str, trap_hits: u64) -> String {
    format!("{day} {trap_hits}")
}

/// The alerts an ipStatus snapshot calls for: each part of a blocked period that began, and
/// each part of a blocked period that ended, as the store tells them
/// (`Batch::apply_snds_ip_status`: only addresses that entered or left every blocked range,
/// so a range that grows or shrinks alerts its new or its dropped addresses alone). The event
/// is the period's; with the part's range it is unique.
pub fn ip_status_alerts(
    account: &str,
    opened: &[IpStatusPeriod],
    closed: &[IpStatusPeriod],
) -> Vec<SndsAlert> {
    let alert = |period: &IpStatusPeriod, kind: AlertKind| {
        let range = range_text(&period.first_ip, &period.last_ip);
        // What to do next: the delisting form asks for evidence `fbl report delist` gathers,
        // per sending IP. A range's first address is seldom one: name it for one IP only.
        let next = if period.first_ip == period.last_ip {
            format!(
                "; `fbl report delist --ip {}` gathers what Microsoft's delisting form asks for",
                period.first_ip
            )
        } else {
            "; `fbl report delist --ip IP`, for each of your sending IPs in the range, gathers \
             what Microsoft's delisting form asks for"
                .to_owned()
        };
        let message = match kind {
            AlertKind::Blocked if period.details.is_empty() => {
                format!("snds {account}: {range} is blocked by Outlook.com{next}")
            }
            AlertKind::Blocked => format!(
                "snds {account}: {range} is blocked by Outlook.com: {}{next}",
                period.details
            ),
            _ => format!("snds {account}: {range} is no longer blocked by Outlook.com"),
        };
        SndsAlert {
            account: account.to_owned(),
            kind,
            ip: range,
            day: None,
            detail: period.details.clone(),
            message,
            event: format!("period {}", period.id),
        }
    };
    let blocked = opened
        .iter()
        .filter(|period| period.blocked)
        .map(|period| alert(period, AlertKind::Blocked));
    let unblocked = closed
        .iter()
        .filter(|period| period.blocked)
        .map(|period| alert(period, AlertKind::Unblocked));
    blocked.chain(unblocked).collect()
}

/// The alert of an account whose newest stored data day (`newest`) is more than
/// `stale_after_days` days before `today`, the run's day; None when it is not that far
/// behind, when the account never had data (a new account: nothing has gone quiet), or when
/// `stale_after_days` is 0. The event is the newest day: one alert while the data stays
/// away, and one again if it comes back and stops once more. `check` says what to look at
/// for this account's access (its key, or its sign-in).
pub fn no_new_data_alert(
    account: &str,
    newest: Option<chrono::NaiveDate>,
    today: chrono::NaiveDate,
    stale_after_days: u32,
    check: &str,
) -> Option<SndsAlert> {
    let newest = newest?;
    let behind = (today - newest).num_days();
    if stale_after_days == 0 || behind <= i64::from(stale_after_days) {
        return None;
    }
    Some(SndsAlert {
        account: account.to_owned(),
        kind: AlertKind::NoNewData,
        ip: String::new(),
        day: Some(newest.to_string()),
        detail: behind.to_string(),
        message: format!(
            "snds {account}: no SNDS data newer than {newest}, {behind} days before {today} \
             (SNDS lags a day or two): check at the SNDS portal that the IP authorisation of \
             your IPs is still active, and {check}; SNDS also lists nothing for IPs that sent \
             no mail to Outlook.com"
        ),
        event: newest.to_string(),
    })
}

/// `first-last`, or one IP when both ends are the same.
pub fn range_text(first_ip: &str, last_ip: &str) -> String {
    if first_ip == last_ip {
        first_ip.to_owned()
    } else {
        format!("{first_ip}-{last_ip}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_whose_data_stopped_alerts_after_the_lag_and_a_new_one_does_not() {
        let day = |d: &str| d.parse::<chrono::NaiveDate>().unwrap();
        let alert = |newest: Option<&str>, today: &str, after: u32| {
            no_new_data_alert("main", newest.map(day), day(today), after, "the key")
        };
        // SNDS's usual lag of a day or two, and three days, are no alert.
        assert_eq!(alert(Some("2026-11-22"), "2026-11-24", 3), None);
        assert_eq!(alert(Some("2026-11-22"), "2026-11-25", 3), None);
        let stale = alert(Some("2026-11-22"), "2026-11-27", 3).unwrap();
        assert_eq!(stale.kind, AlertKind::NoNewData);
        assert_eq!(stale.event, "2026-11-22");
        assert_eq!(stale.detail, "5");
        assert!(
            stale.message.starts_with(
                "snds main: no SNDS data newer than 2026-11-22, 5 days before 2026-11-27"
            ),
            "{}",
            stale.message
        );
        assert!(
            stale.message.contains("IP authorisation"),
            "{}",
            stale.message
        );
        // Another day later, the same episode: the same event, raised once by the store.
        assert_eq!(
            alert(Some("2026-11-22"), "2026-11-28", 3).unwrap().event,
            stale.event
        );
        // A new account has nothing that went quiet; 0 turns the alert off.
        assert_eq!(alert(None, "2026-11-27", 3), None);
        assert_eq!(alert(Some("2026-11-22"), "2026-11-27", 0), None);
        assert!(alert(Some("2026-11-22"), "2026-11-24", 1).is_some());
    }

    fn kinds(alerts: &[SndsAlert]) -> Vec<AlertKind> {
        alerts.iter().map(|alert| alert.kind).collect()
    }

    #[test]
    fn worse_colours_alert_and_better_ones_do_not() {
        use FilterColor::*;
        let check = |now: FilterColor, before: Option<FilterColor>, expected: &[AlertKind]| {
            let alerts = data_alerts("main", "192.0.2.1", "2026-11-17", now, 0, before, None);
            assert_eq!(kinds(&alerts), expected, "{now:?} after {before:?}");
        };
        check(Yellow, Some(Green), &[AlertKind::TurnedYellow]);
        check(Yellow, None, &[AlertKind::TurnedYellow]);
        check(Yellow, Some(Unknown), &[AlertKind::TurnedYellow]);
        check(Red, Some(Yellow), &[AlertKind::TurnedRed]);
        check(Red, Some(Green), &[AlertKind::TurnedRed]);
        check(Yellow, Some(Yellow), &[]);
        check(Yellow, Some(Red), &[]);
        check(Red, Some(Red), &[]);
        check(Green, Some(Red), &[]);
        check(Unknown, None, &[]);
    }

    #[test]
    fn trap_hits_alert_with_the_count() {
        let alerts = data_alerts(
            "main",
            "198.51.100.7",
            "2026-11-17",
            FilterColor::Red,
            14,
            Some(FilterColor::Yellow),
            None,
        );
        let messages: Vec<&str> = alerts.iter().map(|a| a.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "snds main: 198.51.100.7 turned RED on 2026-11-17 (was YELLOW)",
                "snds main: 198.51.100.7 hit 14 spam traps on 2026-11-17",
            ]
        );
        assert!(alerts.iter().all(|a| a.event == "2026-11-17"));
    }

    #[test]
    fn trap_hits_that_rise_above_the_alerted_figure_alert_again_and_others_do_not() {
        let check = |trap_hits: u64, alerted: Option<u64>, expected: Option<(&str, &str)>| {
            let alerts = data_alerts(
                "main",
                "198.51.100.7",
                "2026-11-20",
                FilterColor::Green,
                trap_hits,
                Some(FilterColor::Green),
                alerted,
            );
            let got = alerts
                .iter()
                .map(|a| (a.message.as_str(), a.event.as_str()))
                .next();
            assert_eq!(got, expected, "{trap_hits} after {alerted:?}");
            assert!(alerts.iter().all(|a| a.kind == AlertKind::TrapHits));
            assert!(alerts.iter().all(|a| a.detail == trap_hits.to_string()));
        };
        check(
            2,
            None,
            Some((
                "snds main: 198.51.100.7 hit 2 spam traps on 2026-11-20",
                "2026-11-20",
            )),
        );
        check(
            7,
            Some(2),
            Some((
                "snds main: 198.51.100.7 trap hits on 2026-11-20 rose from 2 to 7",
                "2026-11-20 7",
            )),
        );
        check(7, Some(7), None);
        check(5, Some(7), None);
        check(0, Some(7), None);
        check(0, None, None);
    }

    #[test]
    fn the_worst_window_of_a_day_counts() {
        assert_eq!(
            worst_filter_result(["GREEN", "red", "yellow"]),
            FilterColor::Red
        );
        assert_eq!(worst_filter_result(["", "GREEN"]), FilterColor::Green);
        assert_eq!(worst_filter_result([""]), FilterColor::Unknown);
        assert_eq!(worst_filter_result([]), FilterColor::Unknown);
    }

    #[test]
    fn blocked_periods_that_begin_or_end_alert() {
        let period = |id: i64, first: &str, last: &str, blocked: bool| IpStatusPeriod {
            id,
            account: "main".to_owned(),
            first_ip: first.to_owned(),
            last_ip: last.to_owned(),
            blocked,
            blocked_raw: if blocked { "Yes" } else { "No" }.to_owned(),
            details: "SpamHaus SBL/XBL".to_owned(),
            first_seen_at: "2026-11-20T08:00:00Z".to_owned(),
            last_seen_at: "2026-11-20T08:00:00Z".to_owned(),
            ended_at: None,
        };
        let alerts = ip_status_alerts(
            "main",
            &[
                period(3, "203.0.113.40", "203.0.113.47", true),
                period(4, "203.0.113.9", "203.0.113.9", false),
                period(5, "203.0.113.77", "203.0.113.77", true),
            ],
            &[period(1, "192.0.2.9", "192.0.2.9", true)],
        );
        let messages: Vec<&str> = alerts.iter().map(|a| a.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "snds main: 203.0.113.40-203.0.113.47 is blocked by Outlook.com: SpamHaus SBL/XBL; \
                 `fbl report delist --ip IP`, for each of your sending IPs in the range, gathers \
                 what Microsoft's delisting form asks for",
                // One IP: the command names it.
                "snds main: 203.0.113.77 is blocked by Outlook.com: SpamHaus SBL/XBL; \
                 `fbl report delist --ip 203.0.113.77` gathers what Microsoft's delisting form \
                 asks for",
                "snds main: 192.0.2.9 is no longer blocked by Outlook.com",
            ]
        );
        assert_eq!(alerts[0].event, "period 3");
        assert_eq!(alerts[2].event, "period 1");
    }
}
