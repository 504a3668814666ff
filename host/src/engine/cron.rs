//! Cron schedules with time zones: parsing, and the next fire time.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A parsed cron trigger.
#[derive(Debug, Clone)]
pub struct Schedule {
    schedule: cron::Schedule,
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

impl Schedule {
    /// Parses an expression of 5 fields (minute precision, as in crontab) or
    /// 6-7 fields (seconds first, optional year) in a time zone (UTC if none).
    pub fn parse(expression: &str, timezone: Option<&str>) -> Result<Self, CronError> {
        let fields = expression.split_whitespace().count();
        let full = match fields {
            5 => format!("0 {expression}"),
            6 | 7 => expression.to_owned(),
            _ => {
                return Err(CronError {
                    field: "trigger.config.expression",
                    message: format!("`{expression}` has {fields} fields; expected 5, 6 or 7"),
                });
            }
        };
        let schedule = cron::Schedule::from_str(&full).map_err(|e| CronError {
            field: "trigger.config.expression",
            message: format!("`{expression}` is not a valid cron expression: {e}"),
        })?;
        let tz = match timezone {
            None => Tz::UTC,
            Some(name) => Tz::from_str(name).map_err(|_| CronError {
                field: "trigger.config.timezone",
                message: format!("`{name}` is not an IANA time zone such as Europe/Paris"),
            })?,
        };
        Ok(Self { schedule, tz })
    }

    /// The first fire strictly after `after_ms` (unix ms), in unix ms.
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        let after: DateTime<Utc> = DateTime::from_timestamp_millis(i64::try_from(after_ms).ok()?)?;
        let local = self.tz.from_utc_datetime(&after.naive_utc());
        let next = self.schedule.after(&local).next()?;
        u64::try_from(next.with_timezone(&Utc).timestamp_millis()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
