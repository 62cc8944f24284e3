//! When `every` and `cron` triggers fire next.

use crate::flow::Trigger;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Intervals are capped at this (a century), so that adding them to a clock cannot overflow.
const LONGEST: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The next fire time of one flow's timed trigger.
#[derive(Debug, Clone)]
pub(crate) enum Schedule {
    /// `every`: on the monotonic clock, so changes of the wall clock do not matter.
    Every {
        /// The interval.
        every: Duration,
        /// The next tick.
        next: Instant,
    },
    /// `cron`: on the UTC wall clock.
    Cron {
        /// The pattern.
        cron: Arc<croner::Cron>,
        /// The pattern as written (to tell whether a reload changed it).
        text: String,
        /// The next occurrence; `None` when the pattern never matches again.
        next: Option<DateTime<Utc>>,
    },
}

impl Schedule {
    /// The schedule of `trigger` starting now: `every` fires one interval from now, `cron`
    /// at its next occurrence after now. `None` for triggers that are not timed.
    #[must_use]
    pub(crate) fn start(trigger: &Trigger, now: Instant, wall: DateTime<Utc>) -> Option<Schedule> {
        match trigger {
            Trigger::Every(every) => {
                let every = (*every).min(LONGEST);
                Some(Schedule::Every {
                    every,
                    next: now + every,
                })
            }
            Trigger::Cron(cron, text) => Some(Schedule::Cron {
                next: next_occurrence(cron, wall),
                cron: Arc::clone(cron),
                text: text.clone(),
            }),
            Trigger::Watch(_) => None,
        }
    }

    /// Whether this schedule is the one `trigger` would give (same interval or pattern),
    /// so a reload that did not touch the trigger can keep the running cadence.
    #[must_use]
    pub(crate) fn same_trigger(&self, trigger: &Trigger) -> bool {
        match (self, trigger) {
            (Schedule::Every { every, .. }, Trigger::Every(e)) => *every == (*e).min(LONGEST),
            (Schedule::Cron { text, .. }, Trigger::Cron(_, t)) => text == t,
            _ => false,
        }
    }

    /// Whether the next tick is due.
    #[must_use]
    pub(crate) fn due(&self, now: Instant, wall: DateTime<Utc>) -> bool {
        match self {
            Schedule::Every { next, .. } => now >= *next,
            Schedule::Cron { next, .. } => next.is_some_and(|n| wall >= n),
        }
    }

    /// Moves on past a tick that was due. Ticks missed meanwhile (the machine slept, a
    /// long pause) are not made up for: the cadence resumes at the next one in the future.
    pub(crate) fn advance(&mut self, now: Instant, wall: DateTime<Utc>) {
        match self {
            Schedule::Every { every, next } => {
                let behind = now.saturating_duration_since(*next);
                // Whole intervals missed, plus the one due now.
                let missed = behind.as_nanos() / every.as_nanos().max(1);
                let steps = u32::try_from(missed + 1).unwrap_or(u32::MAX);
                *next = every
                    .checked_mul(steps)
                    .and_then(|d| next.checked_add(d))
                    .unwrap_or(now + *every);
            }
            Schedule::Cron { cron, next, .. } => {
                let from = next.map_or(wall, |n| n.max(wall));
                *next = next_occurrence(cron, from);
            }
        }
    }

    /// How long until the next tick (zero when due; `None` when there is none).
    #[must_use]
    pub(crate) fn wait(&self, now: Instant, wall: DateTime<Utc>) -> Option<Duration> {
        match self {
            Schedule::Every { next, .. } => Some(next.saturating_duration_since(now)),
            Schedule::Cron { next, .. } => {
                next.map(|n| (n - wall).to_std().unwrap_or(Duration::ZERO))
            }
        }
    }

    /// The next tick as a UTC time, for log lines.
    #[must_use]
    pub(crate) fn next_wall(&self, now: Instant, wall: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every { next, .. } => {
                let ahead = next.saturating_duration_since(now);
                chrono::Duration::from_std(ahead)
                    .ok()
                    .and_then(|d| wall.checked_add_signed(d))
            }
            Schedule::Cron { next, .. } => *next,
        }
    }
}

/// The first occurrence of `cron` strictly after `after`.
fn next_occurrence(cron: &croner::Cron, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    cron.find_next_occurrence(&after, false).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron(text: &str) -> Trigger {
        let c = croner::parser::CronParser::new().parse(text).unwrap();
        Trigger::Cron(Arc::new(c), text.to_owned())
    }

    fn at(s: &str) -> DateTime<Utc> {
        crate::time::parse(s).unwrap()
    }

    #[test]
    fn every_first_fires_one_interval_after_start_then_keeps_its_cadence() {
        let t0 = Instant::now();
        let wall = Utc::now();
        let mut s = Schedule::start(&Trigger::Every(Duration::from_secs(10)), t0, wall).unwrap();
        assert!(!s.due(t0, wall));
        assert_eq!(s.wait(t0, wall), Some(Duration::from_secs(10)));
        let t10 = t0 + Duration::from_secs(10);
        assert!(s.due(t10, wall));
        // Handled a little late: the next tick stays on the 10 s grid.
        s.advance(t10 + Duration::from_secs(2), wall);
        assert_eq!(
            s.wait(t10 + Duration::from_secs(2), wall),
            Some(Duration::from_secs(8))
        );
    }

    #[test]
    fn every_skips_ticks_missed_while_asleep() {
        let t0 = Instant::now();
        let wall = Utc::now();
        let mut s = Schedule::start(&Trigger::Every(Duration::from_secs(10)), t0, wall).unwrap();
        let late = t0 + Duration::from_secs(45);
        s.advance(late, wall);
        assert_eq!(s.wait(late, wall), Some(Duration::from_secs(5)));
        assert!(!s.due(late, wall));
    }

    #[test]
    fn cron_fires_at_its_next_utc_occurrence() {
        let now = at("2026-11-28T09:31:10.000Z");
        let mut s = Schedule::start(&cron("*/15 * * * *"), Instant::now(), now).unwrap();
        assert_eq!(
            s.next_wall(Instant::now(), now),
            Some(at("2026-11-28T09:45:00.000Z"))
        );
        assert!(!s.due(Instant::now(), now));
        let then = at("2026-11-28T09:45:00.200Z");
        assert!(s.due(Instant::now(), then));
        s.advance(Instant::now(), then);
        assert_eq!(
            s.next_wall(Instant::now(), then),
            Some(at("2026-11-28T10:00:00.000Z"))
        );
        // A tick missed by hours goes on from now, not from the missed time.
        let much_later = at("2026-11-28T13:07:00.000Z");
        s.advance(Instant::now(), much_later);
        assert_eq!(
            s.next_wall(Instant::now(), much_later),
            Some(at("2026-11-28T13:15:00.000Z"))
        );
    }

    #[test]
    fn a_reload_keeps_the_schedule_only_for_the_same_trigger() {
        let s = Schedule::start(
            &Trigger::Every(Duration::from_secs(5)),
            Instant::now(),
            Utc::now(),
        )
        .unwrap();
        assert!(s.same_trigger(&Trigger::Every(Duration::from_secs(5))));
        assert!(!s.same_trigger(&Trigger::Every(Duration::from_secs(6))));
        assert!(!s.same_trigger(&cron("* * * * *")));
        assert!(
            Schedule::start(
                &Trigger::Watch("in/*.json".into()),
                Instant::now(),
                Utc::now()
            )
            .is_none()
        );
    }
}
