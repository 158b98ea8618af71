//! Matomo's `period` and `date`: which calendar periods a request names, and how Matomo labels
//! them when it answers several (`2026-11-30`; `2026-11-23,2026-11-29` for a week; `2026-11`;
//! `2026`; `A,B` for a range).

use crate::query::period::{Unit, date_text, day_of, period_start, periods_ending};

/// The most periods one request may name (each is a query).
pub(crate) const MAX_PERIODS: usize = 100;

/// One period: its label and its first and last day (days since 1970-01-01).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Period {
    pub label: String,
    pub first_day: i64,
    pub last_day: i64,
}

/// What a request names: one period (answered as one object) or several (an object keyed by
/// their labels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Periods {
    One(Period),
    Several(Vec<Period>),
}

impl Periods {
    /// The first and last day of each period, in order.
    pub(crate) fn spans(&self) -> Vec<(i64, i64)> {
        match self {
            Periods::One(p) => vec![(p.first_day, p.last_day)],
            Periods::Several(list) => list.iter().map(|p| (p.first_day, p.last_day)).collect(),
        }
    }
}

fn unit_of(period: &str) -> Option<Unit> {
    Some(match period {
        "day" => Unit::Day,
        "week" => Unit::Week,
        "month" => Unit::Month,
        "year" => Unit::Year,
        _ => return None,
    })
}

fn label(unit: Unit, first: i64, last: i64) -> String {
    let text = date_text(first);
    match unit {
        Unit::Day => text,
        Unit::Week => format!("{text},{}", date_text(last)),
        Unit::Month => text[..7].to_string(),
        Unit::Year => text[..4].to_string(),
    }
}

/// A single date as Matomo reads it: `today`, `now`, `yesterday`, `yesterdaySameTime`,
/// `lastWeek`, `lastMonth`, `lastYear` (that day a week, a month or a year ago; the month's
/// last day when it has no such day) or `YYYY-MM-DD` (an ISO date-time is read for its date).
fn day(text: &str, today: i64) -> Option<i64> {
    match text {
        "today" | "now" => Some(today),
        "yesterday" | "yesterdaySameTime" => Some(today - 1),
        "lastWeek" => Some(today - 7),
        "lastMonth" => Some(months_before(today, 1)),
        "lastYear" => Some(months_before(today, 12)),
        _ => day_of(text.get(..10)?),
    }
}

/// The same day of the month `months` months before `day`, or that month's last day.
fn months_before(day: i64, months: i64) -> i64 {
    let text = date_text(day);
    let (year, month, date): (i64, i64, i64) =
        (text[..4].parse().unwrap_or(1970), text[5..7].parse().unwrap_or(1), text[8..10].parse().unwrap_or(1));
    let index = year * 12 + (month - 1) - months;
    let (year, month) = (index.div_euclid(12), index.rem_euclid(12) + 1);
    let first = |y: i64, m: i64| day_of(&format!("{y:04}-{m:02}-01")).unwrap_or(0);
    let next = if month == 12 { first(year + 1, 1) } else { first(year, month + 1) };
    (first(year, month) + date - 1).min(next - 1)
}

/// The periods of `period` and `date` when today is `today` (in the site's time zone), or
/// Matomo's message for what it cannot read.
pub(crate) fn parse(period: &str, date: &str, today: i64) -> Result<Periods, String> {
    let bad_date = || format!("The date '{date}' is not a correct date.");
    // lastN: the N periods ending with the current one; previousN: the N before it.
    let count = |prefix: &str| date.strip_prefix(prefix).and_then(|n| n.parse::<i64>().ok()).filter(|n| *n >= 1);
    let span = match date.split_once(',') {
        Some((a, b)) => Some((day(a, today).ok_or_else(bad_date)?, day(b, today).ok_or_else(bad_date)?)),
        None => None,
    };
    if period == "range" {
        let (first, last) = match (span, count("last"), count("previous")) {
            (Some(span), _, _) => span,
            (_, Some(n), _) => periods_ending(Unit::Day, n, today),
            (_, _, Some(n)) => periods_ending(Unit::Day, n, today - 1),
            _ => return Err(bad_date()),
        };
        if first > last {
            return Err(bad_date());
        }
        let label = format!("{},{}", date_text(first), date_text(last));
        return Ok(Periods::One(Period { label, first_day: first, last_day: last }));
    }
    let unit = unit_of(period).ok_or_else(|| {
        format!(
            "The period '{period}' is not supported. Try any of the following instead: day, week, month, year, range"
        )
    })?;
    let whole = |day: i64| {
        let (first, last) = periods_ending(unit, 1, day);
        Period { label: label(unit, first, last), first_day: first, last_day: last }
    };
    let several = |from: i64, to: i64| -> Result<Periods, String> {
        let mut periods = Vec::new();
        let mut at = period_start(unit, from);
        while at <= to {
            if periods.len() == MAX_PERIODS {
                return Err(format!("at most {MAX_PERIODS} periods in one request"));
            }
            let period = whole(at);
            at = period.last_day + 1;
            periods.push(period);
        }
        Ok(Periods::Several(periods))
    };
    match (span, count("last"), count("previous")) {
        (Some((a, b)), _, _) if a <= b => several(a, b),
        (Some(_), _, _) => Err(bad_date()),
        (_, Some(n), _) if n as usize > MAX_PERIODS => Err(format!("at most {MAX_PERIODS} periods in one request")),
        (_, _, Some(n)) if n as usize > MAX_PERIODS => Err(format!("at most {MAX_PERIODS} periods in one request")),
        (_, Some(n), _) => several(periods_ending(unit, n, today).0, today),
        (_, _, Some(n)) => {
            let before = period_start(unit, today) - 1;
            several(periods_ending(unit, n, before).0, before)
        }
        _ => Ok(Periods::One(whole(day(date, today).ok_or_else(bad_date)?))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_and_dates_as_matomo_names_them() {
        let today = day_of("2026-12-03").unwrap(); // a Thursday
        let one = |period: &str, date: &str| match parse(period, date, today).unwrap() {
            Periods::One(p) => (p.label, date_text(p.first_day), date_text(p.last_day)),
            other => panic!("{other:?}"),
        };
        let labels = |period: &str, date: &str| match parse(period, date, today).unwrap() {
            Periods::Several(ps) => ps.into_iter().map(|p| p.label).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(one("day", "yesterday"), ("2026-12-02".into(), "2026-12-02".into(), "2026-12-02".into()));
        assert_eq!(one("week", "today"), ("2026-11-30,2026-12-06".into(), "2026-11-30".into(), "2026-12-06".into()));
        assert_eq!(one("month", "2026-02-10").0, "2026-02");
        assert_eq!(one("year", "now").0, "2026");
        assert_eq!(one("range", "last7"), ("2026-11-27,2026-12-03".into(), "2026-11-27".into(), "2026-12-03".into()));
        assert_eq!(one("range", "previous7").1, "2026-11-26");
        assert_eq!(one("range", "2026-11-01,2026-11-30").0, "2026-11-01,2026-11-30");
        assert_eq!(labels("day", "last3"), ["2026-12-01", "2026-12-02", "2026-12-03"]);
        assert_eq!(labels("month", "previous2"), ["2026-10", "2026-11"]);
        assert_eq!(labels("day", "2026-11-29,2026-12-01"), ["2026-11-29", "2026-11-30", "2026-12-01"]);
        assert_eq!(one("day", "lastWeek").0, "2026-11-26");
        assert_eq!(one("day", "lastYear").0, "2025-12-03");
        assert_eq!(months_before(day_of("2026-03-31").unwrap(), 1), day_of("2026-02-28").unwrap());
        assert_eq!(months_before(day_of("2026-01-15").unwrap(), 1), day_of("2025-12-15").unwrap());
        assert!(parse("day", "last1000", today).unwrap_err().contains("at most 100"));
        assert!(parse("day", "someday", today).unwrap_err().contains("is not a correct date"));
        assert!(parse("hour", "today", today).unwrap_err().contains("is not supported"));
    }
}
