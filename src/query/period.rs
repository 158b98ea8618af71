//! Periods: the one vocabulary every dialect's dates are read into. A request names a
//! [`DateRange`] (a calendar period or span relative to today, fixed dates, or instants);
//! [`resolve`] turns it into a [`Span`] of UTC seconds, reading calendar days in the site's time
//! zone. The calendar arithmetic dialects need to name their own periods (Plausible's `6mo`
//! ending on a date, Matomo's `period=week&date=…`) is here too: [`Unit`], [`periods_ending`],
//! [`days_ending`], and dates as text ([`day_of`], [`date_text`]).
//!
//! Days are counted from 1970-01-01 (day 0), as [`crate::clock`] counts them.

use crate::clock::{civil_from_days, days_from_civil};
use crate::store::Store;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateRange {
    Today,
    Yesterday,
    /// The last N days, today included.
    LastDays(u32),
    /// This month, to today.
    Month,
    /// This year, to today.
    Year,
    /// Inclusive dates `YYYY-MM-DD`.
    Custom(String, String),
    /// The last 30 minutes.
    Realtime,
    /// The last N calendar months, this one whole: from the first day of the month N - 1
    /// months ago to the last day of this month (Plausible's `month`, `6mo`, `12mo`).
    LastMonths(u32),
    /// This calendar year, whole (Plausible's `year`).
    WholeYear,
    /// Everything kept (from the site's retention floor) to today.
    All,
    /// Unix seconds `[from, to)`.
    Instants(u64, u64),
}

/// A calendar unit periods are named in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Day,
    /// Monday to Sunday.
    Week,
    Month,
    Year,
}

/// The first and last day of the `n` periods of `unit` that end with the one holding `day`
/// (`n` ≥ 1), each period whole.
pub fn periods_ending(unit: Unit, n: i64, day: i64) -> (i64, i64) {
    let n = n.max(1);
    match unit {
        Unit::Day => (day - n + 1, day),
        Unit::Week => {
            // 1970-01-05 was a Monday.
            let monday = day - (day - 4).rem_euclid(7);
            (monday - 7 * (n - 1), monday + 6)
        }
        Unit::Month => {
            let (y, m, _) = civil_from_days(day);
            let this_month = y * 12 + m - 1;
            let first_day_of = |months: i64| days_from_civil(months.div_euclid(12), months.rem_euclid(12) + 1, 1);
            (first_day_of(this_month - (n - 1)), first_day_of(this_month + 1) - 1)
        }
        Unit::Year => {
            let (y, _, _) = civil_from_days(day);
            (days_from_civil(y - (n - 1), 1, 1), days_from_civil(y, 12, 31))
        }
    }
}

/// The first day of the period of `unit` that holds `day`.
pub fn period_start(unit: Unit, day: i64) -> i64 {
    periods_ending(unit, 1, day).0
}

/// The `n` days that end with `day`, `day` included.
pub fn days_ending(n: i64, day: i64) -> (i64, i64) {
    periods_ending(Unit::Day, n, day)
}

/// Whether `s` is a date `YYYY-MM-DD` (month 1–12, day 1–31).
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&s[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&s[8..10].parse::<u32>().unwrap_or(0))
}

/// The day of a date `YYYY-MM-DD` (checked by [`is_date`]).
pub fn day_of(date: &str) -> Option<i64> {
    if !is_date(date) {
        return None;
    }
    Some(days_from_civil(date[0..4].parse().ok()?, date[5..7].parse().ok()?, date[8..10].parse().ok()?))
}

/// `YYYY-MM-DD` of a day.
pub fn date_text(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A resolved range: Unix seconds `[from, to)`, and its label in the site's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from: u64,
    pub to: u64,
    /// The first and last calendar day (days since 1970-01-01) in the site's time zone.
    pub first_day: i64,
    pub last_day: i64,
}

impl Span {
    /// The span of the same length just before this one (for comparisons).
    pub(crate) fn previous(&self) -> Span {
        let length = self.to - self.from;
        let days = self.last_day - self.first_day + 1;
        Span {
            from: self.from.saturating_sub(length),
            to: self.from,
            first_day: self.first_day - days,
            last_day: self.first_day - 1,
        }
    }
}

/// The first and last day of a calendar range, given today in the site's time zone (`None`:
/// the range is not made of calendar days).
pub(crate) fn days_of(range: &DateRange, today: i64) -> Option<(i64, i64)> {
    Some(match range {
        DateRange::Today => (today, today),
        DateRange::Yesterday => (today - 1, today - 1),
        DateRange::LastDays(n) => days_ending(i64::from(*n), today),
        DateRange::Month => (period_start(Unit::Month, today), today),
        DateRange::Year => (period_start(Unit::Year, today), today),
        DateRange::LastMonths(n) => periods_ending(Unit::Month, i64::from(*n), today),
        DateRange::WholeYear => periods_ending(Unit::Year, 1, today),
        DateRange::All => (0, today),
        DateRange::Custom(from, to) => (day_of(from).unwrap_or(today), day_of(to).unwrap_or(today)),
        DateRange::Realtime | DateRange::Instants(..) => return None,
    })
}

/// The last whole day ClickHouse's `DateTime` holds (2105-12-31).
const DATETIME_LAST_DAY: i64 = 49_672;

/// Turns a date range into UTC seconds, reading calendar days in the site's time zone (asked
/// of ClickHouse, which has the time-zone database).
pub(crate) async fn resolve(store: &Store, range: &DateRange, time_zone: &str, now: u64) -> crate::store::Result<Span> {
    let utc = |from: u64, to: u64| Span {
        from,
        to,
        first_day: (from / 86_400) as i64,
        last_day: (to.saturating_sub(1) / 86_400) as i64,
    };
    match range {
        DateRange::Realtime => return Ok(utc(now.saturating_sub(30 * 60), now + 1)),
        DateRange::Instants(from, to) => return Ok(utc(*from, *to)),
        _ => {}
    }
    let today = store.local_date(now as u32, time_zone).await?;
    let today = day_of(today.get(..10).unwrap_or("")).unwrap_or((now / 86_400) as i64);
    let (first, last) = days_of(range, today).unwrap_or((today, today));
    // Within what ClickHouse's DateTime holds (1970 to 2105): a date outside it is converted to
    // another instant, not refused.
    let (first, last) = (first.clamp(0, DATETIME_LAST_DAY), last.clamp(0, DATETIME_LAST_DAY));
    let (from, to) = store
        .local_midnights(
            &format!("{} 00:00:00", date_text(first)),
            &format!("{} 00:00:00", date_text(last + 1)),
            time_zone,
        )
        .await?;
    Ok(Span { from: u64::from(from), to: u64::from(to), first_day: first, last_day: last })
}

/// Every bucket of the span, as the time dimension's values read.
pub(crate) fn time_labels(span: &Span, bucket: crate::query::request::TimeBucket) -> Vec<String> {
    use crate::query::request::TimeBucket;
    let mut labels = Vec::new();
    for day in span.first_day..=span.last_day {
        match bucket {
            TimeBucket::Hour => labels.extend((0..24).map(|h| format!("{} {h:02}:00:00", date_text(day)))),
            TimeBucket::Day => labels.push(date_text(day)),
            // The first bucket may start before the span.
            TimeBucket::Week if day == span.first_day || period_start(Unit::Week, day) == day => {
                labels.push(date_text(period_start(Unit::Week, day)))
            }
            TimeBucket::Month if day == span.first_day || period_start(Unit::Month, day) == day => {
                labels.push(date_text(period_start(Unit::Month, day)))
            }
            _ => {}
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::request::TimeBucket;

    fn day(text: &str) -> i64 {
        day_of(text).unwrap()
    }

    fn dates((first, last): (i64, i64)) -> (String, String) {
        (date_text(first), date_text(last))
    }

    #[test]
    fn periods_end_with_the_one_holding_the_day() {
        let d = day("2024-02-10"); // a Saturday
        assert_eq!(dates(periods_ending(Unit::Day, 7, d)), ("2024-02-04".into(), "2024-02-10".into()));
        assert_eq!(dates(periods_ending(Unit::Week, 1, d)), ("2024-02-05".into(), "2024-02-11".into()));
        assert_eq!(dates(periods_ending(Unit::Week, 2, d)), ("2024-01-29".into(), "2024-02-11".into()));
        assert_eq!(dates(periods_ending(Unit::Month, 1, d)), ("2024-02-01".into(), "2024-02-29".into()));
        assert_eq!(dates(periods_ending(Unit::Month, 6, d)), ("2023-09-01".into(), "2024-02-29".into()));
        assert_eq!(dates(periods_ending(Unit::Year, 2, d)), ("2023-01-01".into(), "2024-12-31".into()));
        assert_eq!(dates(days_ending(31, d)), ("2024-01-11".into(), "2024-02-10".into()));
    }

    #[test]
    fn calendar_ranges_read_today() {
        let today = day("2024-03-15");
        assert_eq!(dates(days_of(&DateRange::Month, today).unwrap()), ("2024-03-01".into(), "2024-03-15".into()));
        assert_eq!(dates(days_of(&DateRange::WholeYear, today).unwrap()), ("2024-01-01".into(), "2024-12-31".into()));
        assert_eq!(days_of(&DateRange::Yesterday, today), Some((today - 1, today - 1)));
        assert_eq!(days_of(&DateRange::Realtime, today), None);
    }

    #[test]
    fn dates_are_checked() {
        assert_eq!(day_of("1970-01-02"), Some(1));
        assert_eq!(day_of("2024-13-01"), None);
        assert_eq!(day_of("2024-1-01"), None);
        assert_eq!(date_text(0), "1970-01-01");
    }

    #[test]
    fn time_labels_cover_the_span() {
        // 2024-01-30 (a Tuesday) to 2024-02-02.
        let first = day("2024-01-30");
        let span = Span { from: 0, to: 0, first_day: first, last_day: first + 3 };
        assert_eq!(time_labels(&span, TimeBucket::Day), ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"]);
        assert_eq!(time_labels(&span, TimeBucket::Week), ["2024-01-29"]);
        assert_eq!(time_labels(&span, TimeBucket::Month), ["2024-01-01", "2024-02-01"]);
        assert_eq!(time_labels(&span, TimeBucket::Hour).len(), 96);
    }
}
