//! Collision-resistant, roughly time-ordered ids in the style of cuid:
//! `c` + base36 milliseconds + base36 counter + base36 randomness.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn base36(mut n: u128, width: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// A new id of 25 characters, e.g. `cmf3k2x1a0001q9z8y7x6w5v4`.
pub fn new_id() -> String {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed) as u128;
    let random: u128 = rand::rng().random::<u64>() as u128;
    format!("c{}{}{}", base36(ms, 8), base36(count % 36u128.pow(4), 4), base36(random, 12))
}

/// The current time in unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Unix milliseconds as RFC 3339 with milliseconds, for the API.
pub fn iso(ms: u64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms as i64)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_25_chars_unique_and_start_with_c() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 25);
        assert!(a.starts_with('c'));
        assert_ne!(a, b);
    }

    #[test]
    fn iso_formats_milliseconds() {
        assert_eq!(iso(1_796_115_600_123), "2026-12-01T09:00:00.123Z");
    }
}
