//! The seeded workload: how many writes each simulated minute holds, exactly when, and of which
//! kind. Pure functions of their random stream, so a history can be regenerated bit for bit.

use rand::Rng;

pub(super) const MINUTE_MICROS: i64 = 60_000_000;
pub(super) const HOUR_MICROS: i64 = 60 * MINUTE_MICROS;

/// What one write does to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriteKind {
    Insert,
    Update,
    Delete,
}

/// Writes in simulated minute `minute` so that every hour holds exactly `writes_per_hour`,
/// spread as evenly as whole numbers allow.
pub(super) fn writes_in_minute(writes_per_hour: u32, minute: u64) -> u64 {
    let per_hour = u128::from(writes_per_hour);
    let through = |m: u64| (u128::from(m) * per_hour / 60) as u64;
    through(minute + 1) - through(minute)
}

/// `count` strictly increasing microsecond timestamps in `[start, start + span)`: one in each of
/// `count` equal slots, at a random offset inside it. At most one write per microsecond fits, so
/// `count` is capped at `span`.
pub(super) fn write_times(rng: &mut impl Rng, start: i64, span: i64, count: u64) -> Vec<i64> {
    let count = i128::from(count.min(span.max(0) as u64));
    let span = i128::from(span);
    (0..count)
        .map(|i| {
            let slot_start = i * span / count;
            let slot_end = (i + 1) * span / count;
            start + (slot_start + rng.random_range(0..slot_end - slot_start)) as i64
        })
        .collect()
}

/// About 30% inserts, 55% updates and 15% deletes; always an insert on an empty table.
pub(super) fn choose_kind(rng: &mut impl Rng, live_items: usize) -> WriteKind {
    if live_items == 0 {
        return WriteKind::Insert;
    }
    match rng.random_range(0..100u8) {
        0..30 => WriteKind::Insert,
        30..85 => WriteKind::Update,
        _ => WriteKind::Delete,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn every_hour_holds_exactly_the_configured_writes() {
        for per_hour in [0, 1, 59, 61, 600, 100_000] {
            for hour in 0..3u64 {
                let total: u64 = (hour * 60..hour * 60 + 60).map(|m| writes_in_minute(per_hour, m)).sum();
                assert_eq!(total, u64::from(per_hour), "{per_hour} per hour, hour {hour}");
            }
        }
        assert_eq!(writes_in_minute(600, 17), 10);
    }

    #[test]
    fn times_are_strictly_increasing_and_inside_the_span() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for count in [0, 1, 7, 1000, 2_000_000] {
            let span = if count > 1000 { MINUTE_MICROS } else { 1_000 };
            let times = write_times(&mut rng, 5_000, span, count);
            assert_eq!(times.len() as u64, count);
            assert!(times.windows(2).all(|w| w[0] < w[1]));
            assert!(times.iter().all(|t| (5_000..5_000 + span).contains(t)));
        }
        let crowded = write_times(&mut rng, 0, 10, 25);
        assert_eq!(crowded, (0..10).collect::<Vec<_>>(), "one write per microsecond at most");
    }

    #[test]
    fn the_mix_is_about_thirty_fifty_five_fifteen() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut counts = [0usize; 3];
        for _ in 0..10_000 {
            counts[choose_kind(&mut rng, 10) as usize] += 1;
        }
        assert!((2700..3300).contains(&counts[0]), "{counts:?}");
        assert!((5200..5800).contains(&counts[1]), "{counts:?}");
        assert!((1300..1700).contains(&counts[2]), "{counts:?}");
        assert_eq!(choose_kind(&mut rng, 0), WriteKind::Insert);
    }
}
