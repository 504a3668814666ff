//! A cron trigger: the first line is the expression, the second the time
//! zone. Either it is refused with a field and a message, or every next fire
//! it gives is later than the time asked about.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_core::cron::Schedule;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.splitn(2, '\n');
    let expression = lines.next().unwrap_or_default();
    let timezone = lines.next().filter(|t| !t.is_empty());
    let Ok(schedule) = Schedule::parse(expression, timezone) else { return };
    // A fixed start keeps runs reproducible: 2026-03-29 00:30 UTC, a DST change in Europe.
    let mut after = 1_774_744_200_000u64;
    for _ in 0..4 {
        let Some(next) = schedule.next_after(after) else { return };
        assert!(next > after, "next fire {next} is not after {after}");
        after = next;
    }
});
