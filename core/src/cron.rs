//! Cron schedules with time zones: what a cron trigger's `expression` and `timezone` mean, and the
//! next fire time.
//!
//! [croner] searches the calendar on the wall clock; this module owns the syntax it accepts and how
//! a wall-clock time becomes an instant.
//!
//! - Five fields are `minute hour day-of-month month day-of-week`, as in crontab(5): 0 or 7 is
//!   Sunday, 1 is Monday; months and days may be named by their first three letters (`jan`,
//!   `mon-fri`, any case); `*`, ranges, `/` steps and lists work in every field.
//! - Six fields put seconds first. Seven fields put seconds first and a year last (croner
//!   supports years from 1 to 5000).
//! - `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` and `@hourly` stand for
//!   their five-field forms; `@reboot` is refused, as a trigger has no boot to run at.
//! - When day-of-month and day-of-week both start with something other than `*`, a day matching
//!   either one fires; otherwise both must match (crontab(5), and Vixie cron's test on `*`).
//! - Only crontab syntax is accepted: croner's extensions (`L`, `W`, `#`, `?`, a `+` prefix) are
//!   refused, and a name outside its own field is an error rather than a number.
//! - Daylight saving: every wall-clock time fires at most once. One that the clock skips fires at
//!   the first instant after the jump; one that the clock repeats fires at its first occurrence.
//!   This holds for every pattern, not only for those with a single second, minute and hour,
//!   which is all that croner's own time zone handling covers.

use std::fmt::Display;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::CronParser;

/// A parsed cron trigger.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    tz: Tz,
}

/// A cron trigger that does not parse, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronError {
    /// `trigger.config.expression` or `trigger.config.timezone`.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// One field of an expression: its name in messages, its values and the names it takes.
struct Field {
    name: &'static str,
    range: &'static str,
    /// Three-letter names, lower case, for the values from `first` on.
    names: &'static [&'static str],
    first: u8,
}

const SECOND: Field = Field { name: "second", range: "0-59", names: &[], first: 0 };
const MINUTE: Field = Field { name: "minute", range: "0-59", names: &[], first: 0 };
const HOUR: Field = Field { name: "hour", range: "0-23", names: &[], first: 0 };
const DAY_OF_MONTH: Field = Field { name: "day-of-month", range: "1-31", names: &[], first: 0 };
const MONTH: Field = Field {
    name: "month",
    range: "1-12 or jan-dec",
    names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    first: 1,
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    range: "0-7 or sun-sat, 0 and 7 being Sunday",
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    first: 0,
};
const YEAR: Field = Field { name: "year", range: "1-5000", names: &[], first: 0 };

const FIVE: [&Field; 5] = [&MINUTE, &HOUR, &DAY_OF_MONTH, &MONTH, &DAY_OF_WEEK];
const SIX: [&Field; 6] = [&SECOND, &MINUTE, &HOUR, &DAY_OF_MONTH, &MONTH, &DAY_OF_WEEK];
const SEVEN: [&Field; 7] = [&SECOND, &MINUTE, &HOUR, &DAY_OF_MONTH, &MONTH, &DAY_OF_WEEK, &YEAR];

impl Schedule {
    /// Parses an expression of 5 fields (minute precision, as in crontab) or 6-7 fields (seconds
    /// first, optional year) in a time zone (UTC if none).
    pub fn parse(expression: &str, timezone: Option<&str>) -> Result<Self, CronError> {
        let cron = parse_expression(expression)?;
        let tz = match timezone {
            None => Tz::UTC,
            Some(name) => Tz::from_str(name).map_err(|_| CronError {
                field: "trigger.config.timezone",
                message: format!("`{name}` is not an IANA time zone such as Europe/Paris"),
            })?,
        };
        Ok(Self { cron, tz })
    }

    /// The first fire strictly after `after_ms` (unix ms), in unix ms.
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        let after = DateTime::from_timestamp_millis(i64::try_from(after_ms).ok()?)?;
        // Fires fall on whole seconds, so the first one past the truncated wall time is past `after`.
        let mut wall = after.with_timezone(&self.tz).naive_local().with_nanosecond(0)?;
        loop {
            // An error means no fire before croner's last year, or none at all (`0 0 30 2 *`).
            wall = self.cron.find_next_occurrence(&wall, false).ok()?;
            let at = instant_of(self.tz, wall)?;
            // Wall times after `after`'s can still fire before it when `after` is in the second
            // pass of a repeated hour; the instants grow with the wall time, so this ends.
            if at > after {
                return u64::try_from(at.timestamp_millis()).ok();
            }
        }
    }
}

/// Checks `expression` against crontab(5) and hands croner the same schedule in its own terms.
fn parse_expression(expression: &str) -> Result<Cron, CronError> {
    let trimmed = expression.trim();
    let spelled = if trimmed.starts_with('@') { shortcut(expression, trimmed)? } else { trimmed };
    let values: Vec<&str> = spelled.split_whitespace().collect();
    let fields: &[&Field] = match values.len() {
        5 => &FIVE,
        6 => &SIX,
        7 => &SEVEN,
        count => {
            // Worded as before croner: API clients and tests match this message.
            return Err(CronError {
                field: "trigger.config.expression",
                message: format!("`{expression}` has {count} fields; expected 5, 6 or 7"),
            });
        }
    };
    let mut numeric = Vec::with_capacity(values.len());
    for (field, value) in fields.iter().zip(&values) {
        numeric.push(in_numbers(field, value).map_err(|why| invalid(expression, why))?);
    }

    // Day-of-month, then month, then day-of-week, after the seconds if any.
    let first_day = if fields.len() == 5 { 2 } else { 3 };
    let mut for_croner = numeric.clone();
    // Croner ORs the two day fields unless both are restricted; crontab also ANDs them when
    // either merely starts with `*` (`*/2`), which croner's `+` prefix asks for.
    if numeric[first_day].starts_with('*') || numeric[first_day + 2].starts_with('*') {
        for_croner[first_day + 2].insert(0, '+');
    }
    CronParser::new()
        .parse(&for_croner.join(" "))
        .map_err(|e| invalid(expression, field_at_fault(fields, &numeric).unwrap_or_else(|| e.to_string())))
}

/// The five-field form of an `@` shortcut.
fn shortcut<'a>(expression: &str, trimmed: &'a str) -> Result<&'a str, CronError> {
    match trimmed.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => Ok("0 0 1 1 *"),
        "@monthly" => Ok("0 0 1 * *"),
        "@weekly" => Ok("0 0 * * 0"),
        "@daily" | "@midnight" => Ok("0 0 * * *"),
        "@hourly" => Ok("0 * * * *"),
        "@reboot" => Err(invalid(
            expression,
            "`@reboot` runs a job when cron starts, and a trigger has no such moment; \
             give a time instead, such as `@daily`",
        )),
        _ => Err(invalid(
            expression,
            "the shortcuts are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly",
        )),
    }
}

/// `value` with names turned into numbers, or why the field is not crontab syntax.
fn in_numbers(field: &Field, value: &str) -> Result<String, String> {
    // Croner accepts an empty list item (found by fuzzing: `* ,, * * *`
    // parsed, and never fired); crontab refuses it.
    if value.split(',').any(str::is_empty) {
        return Err(format!("the {} field `{value}` has an empty item in its list", field.name));
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_alphabetic() {
            let end = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
            let (word, after) = rest.split_at(end);
            out.push_str(&name_value(field, value, word, out.ends_with('-'))?);
            rest = after;
            continue;
        }
        if !(c.is_ascii_digit() || matches!(c, '*' | ',' | '-' | '/')) {
            let names = if field.names.is_empty() { "" } else { ", names" };
            return Err(format!(
                "the {} field `{value}` may only hold numbers{names}, `*`, `,`, `-` and `/` ({})",
                field.name, field.range
            ));
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

/// The number a name stands for in `field`; `ends_range` marks a name after `-`.
fn name_value(field: &Field, value: &str, word: &str, ends_range: bool) -> Result<String, String> {
    let lower = word.to_ascii_lowercase();
    let Some(index) = field.names.iter().position(|name| *name == lower) else {
        return Err(if field.names.is_empty() {
            format!("the {} field `{value}` takes numbers ({}), not `{word}`", field.name, field.range)
        } else {
            format!("`{word}` in the {} field `{value}` is not one of {}", field.name, field.range)
        });
    };
    let number = usize::from(field.first) + index;
    // Sunday closing a range is 7, so that `fri-sun` runs forward.
    Ok(if number == 0 && ends_range { "7".to_owned() } else { number.to_string() })
}

/// Names the field that croner refuses, by trying each one alone.
fn field_at_fault(fields: &[&Field], numeric: &[String]) -> Option<String> {
    let parser = CronParser::new();
    fields.iter().enumerate().find_map(|(at, field)| {
        let alone: Vec<&str> =
            (0..fields.len()).map(|i| if i == at { numeric[i].as_str() } else { "*" }).collect();
        let e = parser.parse(&alone.join(" ")).err()?;
        let detail = match e {
            croner::errors::CronError::ComponentError(detail) => detail,
            other => other.to_string(),
        };
        Some(format!("the {} field `{}` is invalid ({}): {detail}", field.name, numeric[at], field.range))
    })
}

fn invalid(expression: &str, why: impl Display) -> CronError {
    CronError {
        field: "trigger.config.expression",
        message: format!("`{expression}` is not a valid cron expression: {why}"),
    }
}

/// The instant at which the wall-clock time `wall` fires in `tz`.
fn instant_of(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(at) => Some(at.to_utc()),
        // A repeated wall time fires once, at its first occurrence.
        LocalResult::Ambiguous(first, _) => Some(first.to_utc()),
        // A skipped wall time fires as soon as the clock is past it.
        LocalResult::None => first_instant_past(tz, wall),
    }
}

/// The first whole second whose wall time in `tz` is later than `wall`, a time the clock skips.
fn first_instant_past(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    // No UTC offset reaches a day, so a day either side of `wall` read as UTC brackets the jump,
    // and zone changes are whole seconds apart: bisect on seconds.
    let seconds = wall.and_utc().timestamp();
    let (mut before, mut past) = (seconds - 86_400, seconds + 86_400);
    while past - before > 1 {
        let middle = before + (past - before) / 2;
        if DateTime::from_timestamp(middle, 0)?.with_timezone(&tz).naive_local() > wall {
            past = middle;
        } else {
            before = middle;
        }
    }
    DateTime::from_timestamp(past, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: `core/fuzz` found these accepted as schedules that never fire.
    #[test]
    fn an_empty_item_in_a_list_is_refused_naming_the_field() {
        for (expression, field) in
            [("* ,, * * *", "hour"), ("*    ,,     * * *", "hour"), ("1,,2 * * * *", "minute")]
        {
            let error = Schedule::parse(expression, None).unwrap_err();
            assert_eq!(error.field, "trigger.config.expression");
            assert!(error.message.contains(&format!("the {field} field")), "{expression}: {}", error.message);
            assert!(error.message.contains("empty item"), "{}", error.message);
        }
        assert!(Schedule::parse("1,2 * * * *", None).is_ok());
    }

    /// Unix ms of a UTC time.
    fn utc(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> u64 {
        Utc.with_ymd_and_hms(year, month, day, hour, minute, 0).unwrap().timestamp_millis() as u64
    }

    /// The first `count` fires strictly after `from`.
    fn fires(schedule: &Schedule, from: u64, count: usize) -> Vec<u64> {
        let mut at = from;
        (0..count)
            .map(|_| {
                at = schedule.next_after(at).unwrap();
                at
            })
            .collect()
    }

    fn message(expression: &str) -> String {
        let e = Schedule::parse(expression, None).unwrap_err();
        assert_eq!(e.field, "trigger.config.expression", "{expression}");
        e.message
    }

    #[test]
    fn five_fields_fire_on_the_minute_in_the_time_zone() {
        // 09:00 in Paris on 2026-01-15 is 08:00 UTC.
        let s = Schedule::parse("0 9 * * *", Some("Europe/Paris")).unwrap();
        let from = Utc.with_ymd_and_hms(2026, 1, 15, 7, 0, 0).unwrap().timestamp_millis() as u64;
        let next = Utc.with_ymd_and_hms(2026, 1, 15, 8, 0, 0).unwrap().timestamp_millis() as u64;
        assert_eq!(s.next_after(from), Some(next));
    }

    #[test]
    fn every_second_fires_on_the_next_second() {
        let s = Schedule::parse("* * * * * *", None).unwrap();
        assert_eq!(s.next_after(1_000), Some(2_000));
        assert_eq!(s.next_after(1_500), Some(2_000));
    }

    #[test]
    fn bad_expressions_and_zones_name_their_field() {
        assert_eq!(Schedule::parse("nope", None).unwrap_err().field, "trigger.config.expression");
        assert_eq!(
            Schedule::parse("* * * * *", Some("Mars/Olympus")).unwrap_err(),
            CronError {
                field: "trigger.config.timezone",
                message: "`Mars/Olympus` is not an IANA time zone such as Europe/Paris".into()
            }
        );
    }

    #[test]
    fn monday_to_friday_fires_on_weekdays_only() {
        // 2026-01-04 is a Sunday: the week's fires are Monday 5th to Friday 9th, then Monday 12th.
        let s = Schedule::parse("0 9 * * 1-5", None).unwrap();
        let week = [5, 6, 7, 8, 9, 12].map(|day| utc(2026, 1, day, 9, 0));
        assert_eq!(fires(&s, utc(2026, 1, 4, 0, 0), 6), week);
    }

    #[test]
    fn zero_and_seven_are_sunday() {
        for expression in ["* * * * 0", "* * * * 7"] {
            let s = Schedule::parse(expression, None).unwrap();
            // From Saturday 2026-01-03 noon, the first fire is Sunday's first minute.
            assert_eq!(s.next_after(utc(2026, 1, 3, 12, 0)), Some(utc(2026, 1, 4, 0, 0)), "{expression}");
            // From Sunday's last minute, the next Sunday.
            assert_eq!(s.next_after(utc(2026, 1, 4, 23, 59)), Some(utc(2026, 1, 11, 0, 0)), "{expression}");
        }
    }

    #[test]
    fn names_stand_for_months_and_days_in_any_case() {
        let weekdays = Schedule::parse("0 9 * JAN mon-fri", None).unwrap();
        assert_eq!(
            fires(&weekdays, utc(2026, 1, 30, 12, 0), 2),
            [utc(2027, 1, 1, 9, 0), utc(2027, 1, 4, 9, 0)]
        );
        // Sunday closing a range counts as 7: Friday 2026-01-09, Saturday, Sunday, then Friday.
        let weekend = Schedule::parse("0 12 * * Fri-Sun", None).unwrap();
        let days = [9, 10, 11, 16].map(|day| utc(2026, 1, day, 12, 0));
        assert_eq!(fires(&weekend, utc(2026, 1, 5, 0, 0), 4), days);
        let list = Schedule::parse("0 0 1 feb,aug *", None).unwrap();
        assert_eq!(fires(&list, utc(2026, 1, 1, 0, 0), 2), [utc(2026, 2, 1, 0, 0), utc(2026, 8, 1, 0, 0)]);
    }

    #[test]
    fn names_outside_their_field_are_refused() {
        assert_eq!(
            message("* * * * jan"),
            "`* * * * jan` is not a valid cron expression: `jan` in the day-of-week field `jan` is not \
             one of 0-7 or sun-sat, 0 and 7 being Sunday"
        );
        assert_eq!(
            message("0 0 mon * *"),
            "`0 0 mon * *` is not a valid cron expression: the day-of-month field `mon` takes numbers \
             (1-31), not `mon`"
        );
        assert!(message("0 9 * * monday").contains("`monday`"));
    }

    #[test]
    fn ranges_steps_and_lists_combine() {
        let s = Schedule::parse("0,30 8-18/5 * * *", None).unwrap();
        let day = [(8, 0), (8, 30), (13, 0), (13, 30), (18, 0), (18, 30)].map(|(h, m)| utc(2026, 1, 1, h, m));
        assert_eq!(fires(&s, utc(2026, 1, 1, 0, 0), 6), day);
        let every_quarter = Schedule::parse("*/15 * * * *", None).unwrap();
        assert_eq!(
            fires(&every_quarter, utc(2026, 1, 1, 0, 1), 2),
            [utc(2026, 1, 1, 0, 15), utc(2026, 1, 1, 0, 30)]
        );
    }

    #[test]
    fn both_day_fields_restricted_fire_on_either() {
        // The 13th or a Friday: Friday 2nd, Friday 9th, Tuesday 13th, Friday 16th.
        let s = Schedule::parse("0 0 13 * 5", None).unwrap();
        let days = [2, 9, 13, 16].map(|day| utc(2026, 1, day, 0, 0));
        assert_eq!(fires(&s, utc(2026, 1, 1, 0, 0), 4), days);
    }

    #[test]
    fn a_day_field_starting_with_a_star_narrows_the_other() {
        // Odd days that are Mondays, as in Vixie cron: 5th and 19th (the 12th and 26th are even).
        let s = Schedule::parse("0 0 */2 * 1", None).unwrap();
        let days = [5, 19].map(|day| utc(2026, 1, day, 0, 0));
        assert_eq!(fires(&s, utc(2026, 1, 1, 0, 0), 2), days);
    }

    #[test]
    fn shortcuts_fire_at_their_times() {
        let from = utc(2026, 1, 1, 12, 0); // a Thursday
        let cases = [
            ("@yearly", utc(2027, 1, 1, 0, 0)),
            ("@annually", utc(2027, 1, 1, 0, 0)),
            ("@monthly", utc(2026, 2, 1, 0, 0)),
            ("@weekly", utc(2026, 1, 4, 0, 0)),
            ("@daily", utc(2026, 1, 2, 0, 0)),
            ("@midnight", utc(2026, 1, 2, 0, 0)),
            ("@hourly", utc(2026, 1, 1, 13, 0)),
            ("@DAILY", utc(2026, 1, 2, 0, 0)),
        ];
        for (expression, next) in cases {
            let s = Schedule::parse(expression, None).unwrap();
            assert_eq!(s.next_after(from), Some(next), "{expression}");
        }
        let daily = Schedule::parse("@daily", None).unwrap();
        assert_eq!(daily.next_after(utc(2026, 1, 2, 0, 0)), Some(utc(2026, 1, 3, 0, 0)));
    }

    #[test]
    fn reboot_and_unknown_shortcuts_are_refused() {
        assert_eq!(
            message("@reboot"),
            "`@reboot` is not a valid cron expression: `@reboot` runs a job when cron starts, and a \
             trigger has no such moment; give a time instead, such as `@daily`"
        );
        assert!(message("@fortnightly").contains("the shortcuts are @yearly"));
    }

    #[test]
    fn six_fields_put_seconds_first() {
        let s = Schedule::parse("*/10 * * * * *", None).unwrap();
        assert_eq!(s.next_after(1_000), Some(10_000));
        assert_eq!(s.next_after(10_000), Some(20_000));
    }

    #[test]
    fn seven_fields_end_with_a_year() {
        let s = Schedule::parse("0 0 12 1 jan * 2027", None).unwrap();
        assert_eq!(s.next_after(utc(2026, 1, 1, 0, 0)), Some(utc(2027, 1, 1, 12, 0)));
        assert_eq!(s.next_after(utc(2027, 1, 1, 12, 0)), None);
    }

    #[test]
    fn seven_fields_combine_the_day_fields_like_five() {
        let either = Schedule::parse("0 0 0 13 * 5 2026", None).unwrap();
        let days = [2, 9, 13].map(|day| utc(2026, 1, day, 0, 0));
        assert_eq!(fires(&either, utc(2026, 1, 1, 0, 0), 3), days);
        let both = Schedule::parse("0 0 0 */2 * 1 2026", None).unwrap();
        assert_eq!(fires(&both, utc(2026, 1, 1, 0, 0), 2), [utc(2026, 1, 5, 0, 0), utc(2026, 1, 19, 0, 0)]);
    }

    #[test]
    fn an_impossible_date_never_fires() {
        let s = Schedule::parse("0 0 30 2 *", None).unwrap();
        assert_eq!(s.next_after(utc(2026, 1, 1, 0, 0)), None);
    }

    #[test]
    fn paris_follows_its_summer_time() {
        // 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer (from 2026-03-29).
        let s = Schedule::parse("0 9 * * *", Some("Europe/Paris")).unwrap();
        let days = [utc(2026, 3, 28, 8, 0), utc(2026, 3, 29, 7, 0), utc(2026, 3, 30, 7, 0)];
        assert_eq!(fires(&s, utc(2026, 3, 28, 0, 0), 3), days);
    }

    #[test]
    fn a_skipped_wall_time_fires_once_when_the_clock_jumps() {
        // New York skips 02:00-02:59 on 2026-03-08: 02:30 EST on the 7th, 03:00 EDT on the 8th,
        // 02:30 EDT on the 9th.
        let s = Schedule::parse("30 2 * * *", Some("America/New_York")).unwrap();
        let days = [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)];
        assert_eq!(fires(&s, utc(2026, 3, 7, 0, 0), 3), days);
        // A list in the skipped hour also fires, where croner alone would drop it.
        let twice = Schedule::parse("30 2,14 * * *", Some("America/New_York")).unwrap();
        assert_eq!(fires(&twice, utc(2026, 3, 8, 0, 0), 2), [utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 18, 30)]);
    }

    #[test]
    fn wall_times_in_the_skipped_hour_fire_once_between_them() {
        // 01:30 EST, then 02:00 and 02:30 (skipped) fire once at 03:00 EDT, then 03:30 EDT.
        let s = Schedule::parse("*/30 * * * *", Some("America/New_York")).unwrap();
        let fires_at = [utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 7, 30)];
        assert_eq!(fires(&s, utc(2026, 3, 8, 6, 0), 3), fires_at);
    }

    #[test]
    fn a_repeated_wall_time_fires_once() {
        // New York repeats 01:00-01:59 on 2026-11-01: 01:30 EDT (05:30 UTC) fires, 01:30 EST does not.
        let s = Schedule::parse("30 1 * * *", Some("America/New_York")).unwrap();
        let days = [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)];
        assert_eq!(fires(&s, utc(2026, 10, 31, 12, 0), 2), days);
        // From within the second pass, the next day.
        assert_eq!(s.next_after(utc(2026, 11, 1, 6, 0)), Some(utc(2026, 11, 2, 6, 30)));
    }

    #[test]
    fn an_hourly_job_skips_the_second_pass_of_a_repeated_hour() {
        // 00:00 EDT, 01:00 EDT, then 02:00 EST: the wall clock's second 01:00 does not fire again.
        let s = Schedule::parse("0 * * * *", Some("America/New_York")).unwrap();
        let hours = [utc(2026, 11, 1, 4, 0), utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 7, 0)];
        assert_eq!(fires(&s, utc(2026, 11, 1, 3, 30), 3), hours);
        assert_eq!(s.next_after(utc(2026, 11, 1, 6, 15)), Some(utc(2026, 11, 1, 7, 0)));
    }

    #[test]
    fn bad_fields_are_named_in_the_message() {
        assert_eq!(
            message("61 * * * *"),
            "`61 * * * *` is not a valid cron expression: the minute field `61` is invalid (0-59): Number \
             out of bounds."
        );
        assert!(message("* * * * 8").contains("the day-of-week field `8`"));
        assert!(message("0 0 L * *").contains("the day-of-month field `L`"));
        assert!(message("0 0 * * 5#2").contains("may only hold numbers, names"));
        assert!(message("0 0 ? * *").contains("the day-of-month field `?`"));
        // The API's integration tests match this wording.
        assert_eq!(message("every day"), "`every day` has 2 fields; expected 5, 6 or 7");
        assert!(message("* * * * * * * *").contains("has 8 fields; expected 5, 6 or 7"));
        assert!(message("").contains("has 0 fields"));
    }
}
