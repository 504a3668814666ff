//! `wait`: sleep durably for a duration (`90s`, `15m`, `2h`, `2d`, `1h30m`,
//! ISO-8601 `PT90S`) or until an ISO-8601 instant. The run sleeps in the
//! database; no task waits.

use chrono::{DateTime, SecondsFormat, Utc};
use weft_sdk::prelude::*;

/// Config of a wait step: exactly one of `duration` and `until`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How long to wait: `500ms`, `90s`, `15m`, `2h`, `2d`, `1w`, combinations
    /// such as `1h30m`, or ISO-8601 such as `PT1H30M`.
    duration: Option<String>,
    /// When to wake: an ISO-8601 / RFC 3339 instant such as `2026-12-01T09:00:00Z`.
    until: Option<String>,
}

struct Wait;

impl Step for Wait {
    type Config = Config;

    fn info() -> Info {
        Info::new("wait", env!("CARGO_PKG_VERSION"))
            .description("Sleeps durably for a duration or until an instant")
    }

    fn run(input: Input<Config>, _host: &dyn Host) -> Result<Outcome, StepError> {
        let until_ms = match (input.config.duration, input.config.until) {
            (Some(d), None) => {
                let ms = parse_duration(d.trim()).ok_or_else(|| {
                    StepError::fatal(format!(
                        "config field `duration`: {d:?} is not a duration (use e.g. 90s, 15m, 2h, 2d, 1h30m or PT1H30M)"
                    ))
                })?;
                input.now_ms.saturating_add(ms)
            }
            (None, Some(u)) => {
                let instant = DateTime::parse_from_rfc3339(u.trim()).map_err(|e| {
                    StepError::fatal(format!(
                        "config field `until`: {u:?} is not an ISO-8601 instant such as 2026-12-01T09:00:00Z ({e})"
                    ))
                })?;
                u64::try_from(instant.timestamp_millis()).unwrap_or(0)
            }
            (Some(_), Some(_)) => {
                return Err(StepError::fatal("config: give either `duration` or `until`, not both"));
            }
            (None, None) => return Err(StepError::fatal("config: `duration` or `until` is required")),
        };
        let iso = i64::try_from(until_ms)
            .ok()
            .and_then(DateTime::<Utc>::from_timestamp_millis)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true));
        Ok(Outcome::sleep_until(until_ms, json!({ "until": until_ms, "untilIso": iso })))
    }
}

/// Milliseconds in `text`, or `None` when it is not a duration.
fn parse_duration(text: &str) -> Option<u64> {
    if let Some(iso) = text.strip_prefix('P') {
        return parse_iso_duration(iso);
    }
    let mut total: u64 = 0;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(total)
}

/// ISO-8601 duration after the `P`: `nW`, `nD`, then `T` with `nH`, `nM`, `nS`.
fn parse_iso_duration(text: &str) -> Option<u64> {
    let (date, time) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut total: u64 = 0;
    let mut parsed_any = false;
    for (part, units) in [
        (date, &[('W', 604_800_000u64), ('D', 86_400_000)][..]),
        (time.unwrap_or(""), &[('H', 3_600_000), ('M', 60_000), ('S', 1_000)][..]),
    ] {
        let mut rest = part;
        for (unit, ms) in units {
            if let Some(idx) = rest.find(*unit) {
                let n: u64 = rest[..idx].parse().ok()?;
                total = total.checked_add(n.checked_mul(*ms)?)?;
                rest = &rest[idx + 1..];
                parsed_any = true;
            }
        }
        if !rest.is_empty() {
            return None;
        }
    }
    if time == Some("") { None } else { parsed_any.then_some(total) }
}

weft_sdk::export_step!(Wait);
