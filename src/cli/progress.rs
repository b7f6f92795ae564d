//! The progress bar of `fbl run` and `fbl ingest`: one line on standard error, only when it
//! is a terminal (under cron nothing is written). A stretch with a known total (a mailbox
//! folder, a Maildir) gets a bar with done/total, percentage, rate and time left; one without
//! (an mbox) a running count and rate. The line is redrawn at most every `REDRAW` and ended
//! with a newline when the stretch is over.
//!
//! `render` is pure (state, time, width in, line out); `TerminalProgress` decides when to
//! draw and writes.

use crate::ingest::Progress;
use std::io::Write;
use std::time::{Duration, Instant};

/// The shortest time between two redraws.
pub const REDRAW: Duration = Duration::from_millis(100);
/// Widths outside these bounds are taken as the nearest bound.
pub const MIN_WIDTH: usize = 20;
pub const MAX_WIDTH: usize = 500;
/// The width when `COLUMNS` does not say.
pub const DEFAULT_WIDTH: usize = 80;
/// The bar is dropped rather than drawn narrower than this (inside its brackets).
const MIN_BAR: usize = 10;
/// The label is dropped (leaving `fbl:`) rather than cut shorter than this, `fbl: ` included.
const MIN_HEAD: usize = 8;

/// One stretch of work as the bar shows it.
#[derive(Debug, Clone)]
pub struct Stretch {
    pub label: String,
    pub total: Option<u64>,
    pub done: u64,
    pub started: Instant,
}

/// The line for a stretch at `now` on a terminal `width` columns wide (clamped to
/// `MIN_WIDTH..=MAX_WIDTH`). It never uses the last column (writing there wraps on some
/// terminals), so it is at most `width - 1` characters long.
pub fn render(stretch: &Stretch, now: Instant, width: usize) -> String {
    let room = width.clamp(MIN_WIDTH, MAX_WIDTH) - 1;
    let elapsed = now.saturating_duration_since(stretch.started);
    let done = stretch.done;
    let rate = rate(done, elapsed);
    let rate_text = rate.map_or_else(|| "--/s".to_string(), format_rate);
    let head = format!("fbl: {}", stretch.label);
    let Some(total) = stretch.total else {
        let noun = if done == 1 { "message" } else { "messages" };
        let stats = format!("  {done} {noun}  {rate_text}");
        return fit(&head, &stats, room);
    };
    let tail = if done >= total {
        format!("in {}", clock(elapsed.as_secs()))
    } else {
        // Rounded up: no "0:00" while work is left.
        let left = rate.map(|rate| ((total - done) as f64 / rate).ceil() as u64);
        format!("ETA {}", left.map_or_else(|| "--:--".to_string(), clock))
    };
    // Done as wide as the total and the rate six wide, so that the bar keeps its length.
    let digits = total.to_string().len();
    let stats = format!(
        " {done:>digits$}/{total} {:>3}%  {rate_text:>6}  {tail}",
        percent(done, total)
    );
    // " [" + bar + "]" after the head; the head gives way to the bar.
    let stats_len = stats.chars().count();
    let Some(for_head_and_bar) = room.checked_sub(stats_len + 3) else {
        return fit(&head, &stats, room);
    };
    if for_head_and_bar < MIN_BAR + MIN_HEAD {
        return fit(&head, &stats, room);
    }
    let head = truncate(&head, for_head_and_bar - MIN_BAR);
    let bar_width = for_head_and_bar - head.chars().count();
    format!("{head} [{}]{stats}", bar(done, total, bar_width))
}

/// `head` then `stats` in `room` characters: the head is cut first, then dropped for `fbl:`,
/// then the figures are cut at the end.
fn fit(head: &str, stats: &str, room: usize) -> String {
    let stats_len = stats.chars().count();
    if stats_len + MIN_HEAD <= room {
        format!("{}{stats}", truncate(head, room - stats_len))
    } else {
        truncate(&format!("fbl:{stats}"), room)
    }
}

/// At most `max` characters of `text`, ending in `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// The inside of the bar, `width` characters: `#` for what is done, `-` for the rest.
pub fn bar(done: u64, total: u64, width: usize) -> String {
    let filled = if total == 0 {
        width
    } else {
        (u128::from(done.min(total)) * width as u128 / u128::from(total)) as usize
    };
    format!("{}{}", "#".repeat(filled), "-".repeat(width - filled))
}

/// Whole percent done, rounded down so that 100 means all of it; an empty total is done.
pub fn percent(done: u64, total: u64) -> u64 {
    if total == 0 {
        return 100;
    }
    (u128::from(done.min(total)) * 100 / u128::from(total)) as u64
}

/// Messages per second so far, when anything was done in measurable time.
fn rate(done: u64, elapsed: Duration) -> Option<f64> {
    let seconds = elapsed.as_secs_f64();
    (done > 0 && seconds > 0.0).then(|| done as f64 / seconds)
}

fn format_rate(rate: f64) -> String {
    if rate >= 10.0 {
        format!("{rate:.0}/s")
    } else {
        format!("{rate:.1}/s")
    }
}

/// Seconds as `m:ss` under an hour, `h:mm:ss` from one.
pub fn clock(seconds: u64) -> String {
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

/// The terminal's width: the `COLUMNS` environment variable when set (an explicit choice
/// wins), else what the terminal on standard error says its size is, else 80.
pub fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|columns| columns.trim().parse::<usize>().ok())
        .filter(|&columns| columns > 0)
        .or_else(stderr_columns)
        .unwrap_or(DEFAULT_WIDTH)
}

/// The width of the terminal on standard error (`TIOCGWINSZ`), when it has one and knows it.
fn stderr_columns() -> Option<usize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the pointer given, which points at a
    // local of that type; on failure (not a terminal) it writes nothing.
    let status = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) };
    (status == 0 && size.ws_col > 0).then_some(size.ws_col as usize)
}

/// Draws the bar on a writer (standard error when it is a terminal). When off, every
/// method returns at once: not even the clock is read.
pub struct TerminalProgress<W: Write> {
    out: W,
    on: bool,
    width: usize,
    current: Option<Stretch>,
    last_draw: Option<Instant>,
    /// Characters of the line on screen, so that a shorter line blanks what is left of it.
    drawn: usize,
}

impl TerminalProgress<std::io::Stderr> {
    /// On standard error, drawing only when it is a terminal.
    pub fn stderr() -> Self {
        use std::io::IsTerminal;
        let stderr = std::io::stderr();
        let on = stderr.is_terminal();
        TerminalProgress::new(stderr, on, terminal_width())
    }
}

impl<W: Write> TerminalProgress<W> {
    pub fn new(out: W, on: bool, width: usize) -> Self {
        TerminalProgress {
            out,
            on,
            width,
            current: None,
            last_draw: None,
            drawn: 0,
        }
    }

    pub fn start_at(&mut self, label: &str, total: Option<u64>, now: Instant) {
        self.finish_at(now);
        self.current = Some(Stretch {
            label: label.to_string(),
            total,
            done: 0,
            started: now,
        });
    }

    /// Records `done` and redraws unless the last drawing is more recent than `REDRAW`.
    pub fn advance_at(&mut self, done: u64, now: Instant) {
        let Some(stretch) = &mut self.current else {
            return;
        };
        stretch.done = done;
        if self
            .last_draw
            .is_none_or(|last| now.saturating_duration_since(last) >= REDRAW)
        {
            self.draw(now);
        }
    }

    /// Draws the final state and ends the line, when anything was done or drawn; a stretch
    /// with nothing in it leaves the screen alone.
    pub fn finish_at(&mut self, now: Instant) {
        if self
            .current
            .as_ref()
            .is_some_and(|s| s.done > 0 || self.last_draw.is_some())
        {
            self.draw(now);
            let _ = writeln!(self.out);
            let _ = self.out.flush();
        }
        self.current = None;
        self.last_draw = None;
        self.drawn = 0;
    }

    fn draw(&mut self, now: Instant) {
        let Some(stretch) = &self.current else {
            return;
        };
        let line = render(stretch, now, self.width);
        let length = line.chars().count();
        let blank = self.drawn.saturating_sub(length);
        let _ = write!(self.out, "\r{line}{:blank$}", "");
        let _ = self.out.flush();
        self.drawn = length;
        self.last_draw = Some(now);
    }

    #[cfg(test)]
    fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Progress for TerminalProgress<W> {
    fn start(&mut self, label: &str, total: Option<u64>) {
        if self.on {
            self.start_at(label, total, Instant::now());
        }
    }

    fn advance(&mut self, done: u64) {
        if self.on {
            self.advance_at(done, Instant::now());
        }
    }

    fn finish(&mut self) {
        if self.on {
            self.finish_at(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stretch(total: Option<u64>, done: u64, started: Instant) -> Stretch {
        Stretch {
            label: "mailbox jmrp INBOX".to_string(),
            total,
            done,
            started,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_bar_shows_done_total_percent_rate_and_time_left() {
        let t = Instant::now();
        let line = render(&stretch(Some(1000), 250, t), t + secs(10), 80);
        // 25/s, 750 left: 30 s.
        assert!(line.starts_with("fbl: mailbox jmrp INBOX ["), "{line}");
        assert!(
            line.ends_with("]  250/1000  25%    25/s  ETA 0:30"),
            "{line}"
        );
        assert_eq!(line.chars().count(), 79, "{line}");
        let inside = &line[line.find('[').unwrap() + 1..line.find(']').unwrap()];
        let filled = inside.chars().filter(|&c| c == '#').count();
        assert_eq!(filled, inside.len() / 4, "{line}");
        assert!(inside.chars().all(|c| c == '#' || c == '-'), "{line}");
    }

    #[test]
    fn the_bar_fills_in_proportion_and_never_past_the_end() {
        assert_eq!(bar(0, 10, 10), "----------");
        assert_eq!(bar(5, 10, 10), "#####-----");
        assert_eq!(bar(1, 3, 10), "###-------");
        assert_eq!(bar(10, 10, 10), "##########");
        // More done than announced (a folder that grew): full, not longer.
        assert_eq!(bar(12, 10, 10), "##########");
        assert_eq!(bar(u64::MAX - 1, u64::MAX, 4), "###-");
    }

    #[test]
    fn percent_is_rounded_down_so_100_means_done() {
        assert_eq!(percent(0, 7), 0);
        assert_eq!(percent(999, 1000), 99);
        assert_eq!(percent(1000, 1000), 100);
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(5, 3), 100);
    }

    #[test]
    fn time_is_minutes_and_seconds_then_hours() {
        assert_eq!(clock(0), "0:00");
        assert_eq!(clock(7), "0:07");
        assert_eq!(clock(59 * 60 + 59), "59:59");
        assert_eq!(clock(3600), "1:00:00");
        assert_eq!(clock(26 * 3600 + 5 * 60 + 9), "26:05:09");
        assert_eq!(clock(u64::MAX), "5124095576030431:00:15");
    }

    #[test]
    fn the_time_left_follows_the_rate_so_far() {
        let t = Instant::now();
        // 2 per second, 7,200 left: an hour.
        let line = render(&stretch(Some(10_000), 2_800, t), t + secs(1400), 100);
        assert!(
            line.ends_with("  2800/10000  28%   2.0/s  ETA 1:00:00"),
            "{line}"
        );
        let line = render(&stretch(Some(20_000), 2_800, t), t + secs(1400), 100);
        assert!(line.ends_with("   2.0/s  ETA 2:23:20"), "{line}");
        // Rounded up: a third of a second left is not "0:00".
        let line = render(&stretch(Some(7), 6, t), t + secs(2), 80);
        assert!(line.ends_with(" 6/7  85%   3.0/s  ETA 0:01"), "{line}");
    }

    #[test]
    fn nothing_measurable_yet_gives_no_rate_or_time_left() {
        let t = Instant::now();
        let line = render(&stretch(Some(100), 0, t), t + secs(3), 80);
        assert!(line.ends_with("   0/100   0%    --/s  ETA --:--"), "{line}");
        let line = render(&stretch(Some(100), 5, t), t, 80);
        assert!(line.ends_with("   5/100   5%    --/s  ETA --:--"), "{line}");
    }

    #[test]
    fn a_finished_stretch_says_how_long_it_took() {
        let t = Instant::now();
        let line = render(&stretch(Some(300), 300, t), t + secs(75), 80);
        assert!(line.ends_with("] 300/300 100%   4.0/s  in 1:15"), "{line}");
        assert!(!line.contains('-'), "{line}");
        // Rounded down: 1.9 s took one second, not two.
        let line = render(
            &stretch(Some(19), 19, t),
            t + Duration::from_millis(1900),
            80,
        );
        assert!(line.ends_with("] 19/19 100%    10/s  in 0:01"), "{line}");
    }

    #[test]
    fn an_unknown_total_gives_a_running_count_without_a_bar() {
        let t = Instant::now();
        let line = render(
            &Stretch {
                label: "source old.mbox".to_string(),
                total: None,
                done: 12_345,
                started: t,
            },
            t + secs(5),
            80,
        );
        assert_eq!(line, "fbl: source old.mbox  12345 messages  2469/s");
        let line = render(
            &Stretch {
                label: "-".to_string(),
                total: None,
                done: 1,
                started: t,
            },
            t + secs(4),
            80,
        );
        assert_eq!(line, "fbl: -  1 message  0.2/s");
    }

    #[test]
    fn a_zero_total_is_a_full_bar() {
        let t = Instant::now();
        let line = render(&stretch(Some(0), 0, t), t + secs(1), 60);
        assert!(line.ends_with("] 0/0 100%    --/s  in 0:01"), "{line}");
        let inside = &line[line.find('[').unwrap() + 1..line.find(']').unwrap()];
        assert!(
            !inside.is_empty() && inside.chars().all(|c| c == '#'),
            "{line}"
        );
    }

    #[test]
    fn the_line_fits_any_width_and_the_label_gives_way_first() {
        let t = Instant::now();
        let long = Stretch {
            label: "mailbox a-very-long-mailbox-name Archives/2026/Feedback/Microsoft".into(),
            total: Some(123_456),
            done: 65_432,
            started: t,
        };
        let states = [
            long.clone(),
            Stretch {
                total: None,
                ..long.clone()
            },
            stretch(Some(10), 3, t),
            stretch(Some(0), 0, t),
            Stretch {
                label: "Entwürfe ünd Ärger".into(),
                ..stretch(Some(u64::MAX), u64::MAX / 3, t)
            },
        ];
        for state in &states {
            for width in 0..300 {
                let line = render(state, t + secs(40), width);
                let max = width.clamp(MIN_WIDTH, MAX_WIDTH) - 1;
                assert!(
                    line.chars().count() <= max,
                    "width {width}: {line:?} is {} long",
                    line.chars().count()
                );
                assert!(line.starts_with("fbl"), "width {width}: {line:?}");
            }
            let huge = render(state, t + secs(40), 100_000);
            // Clamped: at most MAX_WIDTH - 1 characters.
            assert!(huge.chars().count() < MAX_WIDTH, "{huge}");
        }
        // At 80 columns the long label is cut to leave the bar room.
        let line = render(&long, t + secs(40), 80);
        assert_eq!(line.chars().count(), 79, "{line}");
        assert!(line.contains("…"), "{line}");
        assert!(line.contains(" [#"), "{line}");
        assert!(
            line.ends_with("  65432/123456  53%  1636/s  ETA 0:36"),
            "{line}"
        );
        // Too narrow for a bar: the figures stay, the bar goes.
        let line = render(&long, t + secs(40), 45);
        assert!(!line.contains('['), "{line}");
        assert!(
            line.ends_with("  65432/123456  53%  1636/s  ETA 0:36"),
            "{line}"
        );
        // Wide: the bar takes the room, the label is whole.
        let line = render(&long, t + secs(40), 200);
        assert_eq!(line.chars().count(), 199);
        assert!(
            line.starts_with(&format!("fbl: {} [", long.label)),
            "{line}"
        );
        assert_eq!(render(&long, t, 100_000).chars().count(), MAX_WIDTH - 1);
    }

    #[test]
    fn redraws_at_most_every_redraw_interval_and_ends_with_a_newline() {
        let t = Instant::now();
        let mut progress = TerminalProgress::new(Vec::new(), true, 80);
        progress.start_at("source demo", Some(5000), t);
        // 1,000 messages in 50 ms: drawn once, at the first.
        for n in 1..=1000 {
            progress.advance_at(n, t + Duration::from_micros(50 * n));
        }
        // Then 4,000 over 2 s: one drawing per 100 ms at most.
        for n in 1001..=5000 {
            progress.advance_at(n, t + Duration::from_micros(500 * n));
        }
        progress.finish_at(t + secs(3));
        let text = String::from_utf8(progress.into_inner()).unwrap();
        let drawings = text.matches('\r').count();
        assert!(
            (20..=25).contains(&drawings),
            "{drawings} drawings:\n{text}"
        );
        assert!(text.starts_with("\rfbl: source demo ["), "{text:?}");
        assert!(text.contains("]    1/5000   0%"), "{text:?}");
        assert!(!text.contains("]    2/5000"), "{text:?}");
        assert!(
            text.ends_with("] 5000/5000 100%  1667/s  in 0:03\n"),
            "{text:?}"
        );
        assert_eq!(text.matches('\n').count(), 1);
        // While the count grows the bar keeps its length.
        let bars: Vec<usize> = text
            .split('\r')
            .filter(|drawing| drawing.contains("ETA"))
            .map(|drawing| drawing.find(']').unwrap() - drawing.find('[').unwrap())
            .collect();
        assert!(
            bars.len() > 10 && bars[1..].iter().all(|&b| b == bars[1]),
            "{bars:?}"
        );
    }

    #[test]
    fn a_shorter_line_blanks_the_rest_of_the_longer_one() {
        let t = Instant::now();
        let mut progress = TerminalProgress::new(Vec::new(), true, 80);
        progress.start_at("source mbox", None, t);
        progress.advance_at(1000, t + secs(1));
        progress.finish_at(t + secs(10_000));
        let text = String::from_utf8(progress.into_inner()).unwrap();
        let lines: Vec<&str> = text.split('\r').skip(1).collect();
        assert_eq!(
            lines,
            [
                "fbl: source mbox  1000 messages  1000/s",
                "fbl: source mbox  1000 messages  0.1/s \n",
            ]
        );
    }

    #[test]
    fn stretches_with_nothing_in_them_leave_the_screen_alone() {
        let t = Instant::now();
        let mut progress = TerminalProgress::new(Vec::new(), true, 80);
        progress.start_at("mailbox jmrp INBOX", Some(0), t);
        progress.finish_at(t + secs(1));
        progress.start_at("source mbox", None, t);
        progress.start_at("source next", Some(2), t);
        progress.finish_at(t + secs(1));
        progress.finish_at(t + secs(1));
        assert!(progress.into_inner().is_empty());
    }

    #[test]
    fn a_new_stretch_ends_the_line_of_the_last_one() {
        let t = Instant::now();
        let mut progress = TerminalProgress::new(Vec::new(), true, 80);
        progress.start_at("mailbox jmrp INBOX", Some(2), t);
        progress.advance_at(1, t + secs(1));
        progress.start_at("mailbox jmrp Junk", Some(1), t + secs(2));
        progress.advance_at(1, t + secs(3));
        progress.finish_at(t + secs(3));
        let text = String::from_utf8(progress.into_inner()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text:?}");
        // Ended when the next began, two seconds in.
        assert!(lines[0].contains("INBOX [") && lines[0].ends_with("] 1/2  50%   0.5/s  ETA 0:02"));
        assert!(lines[1].contains("Junk [") && lines[1].ends_with("] 1/1 100%   1.0/s  in 0:01"));
    }

    #[test]
    fn off_it_writes_nothing() {
        let mut progress = TerminalProgress::new(Vec::new(), false, 80);
        progress.start("source demo", Some(3));
        for n in 1..=3 {
            progress.advance(n);
        }
        progress.finish();
        assert!(progress.into_inner().is_empty());
    }
}
