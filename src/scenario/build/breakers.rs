//! `[breakers.NAME]`: one table per breaker, its `kind` naming the library whose
//! settings it takes, with that library's defaults.

use std::ops::Range;

use models::breaker::{
    ConsecutiveSettings, FailureOn, HystrixSettings, TripRule, WindowKind, WindowSettings,
    HEALTH_BUCKETS_MAX,
};
use models::spec::{BreakerKind, BreakerSpec};
use sim_core::SimDuration;
use toml::Spanned;

use super::{
    Checker, GOBREAKER_FAILURES_DEFAULT, GOBREAKER_MAX_REQUESTS_DEFAULT, GOBREAKER_TIMEOUT_DEFAULT,
    R4J_WINDOW_DEFAULT,
};
use crate::scenario::raw::{RawBreaker, RawDuration, RawFailureClass};

const CONSECUTIVE_KEYS: &[&str] = &[
    "failures",
    "trip",
    "open_for",
    "half_open_calls",
    "interval",
];
const WINDOW_KEYS: &[&str] = &[
    "window",
    "minimum_calls",
    "failure_rate",
    "slow_call_rate",
    "slow_call_duration",
    "half_open_calls",
    "open_for",
    "open_for_multiplier",
    "open_for_max",
    "automatic_transition",
    "half_open_max_wait",
];
const HYSTRIX_KEYS: &[&str] = &[
    "request_volume_threshold",
    "error_threshold_percentage",
    "sleep_window",
    "rolling_window",
    "rolling_buckets",
    "health_snapshot_interval",
    "force_open",
    "force_closed",
];

fn span<T>(value: &Option<Spanned<T>>) -> Option<Range<usize>> {
    value.as_ref().map(Spanned::span)
}

impl Checker {
    pub(super) fn breaker(&mut self, name: &str, breaker: &RawBreaker) -> BreakerSpec {
        let path = format!("breakers.{name}");
        let kind = breaker.kind.get_ref().as_str();
        let own = match kind {
            "consecutive" => CONSECUTIVE_KEYS,
            "count_window" | "time_window" => WINDOW_KEYS,
            "hystrix" => HYSTRIX_KEYS,
            other => {
                self.error(
                    breaker.kind.span(),
                    format!("{path}.kind: expected \"consecutive\" (gobreaker), \"count_window\" or \"time_window\" (resilience4j), or \"hystrix\", got \"{other}\""),
                );
                return BreakerSpec::consecutive(name, 1, GOBREAKER_TIMEOUT_DEFAULT, 1, None);
            }
        };
        self.keys_only_of(
            &given_keys(breaker),
            own,
            &path,
            &format!("a `{kind}` breaker"),
        );
        let kind = match kind {
            "consecutive" => BreakerKind::Consecutive(self.consecutive(&path, breaker)),
            "hystrix" => BreakerKind::Hystrix(self.hystrix(&path, breaker)),
            _ => BreakerKind::Window(self.window(&path, kind, breaker)),
        };
        BreakerSpec {
            name: name.to_string(),
            kind,
            failure_on: self.failure_on(&path, breaker),
        }
    }

    fn consecutive(&mut self, path: &str, breaker: &RawBreaker) -> ConsecutiveSettings {
        let trip = match (&breaker.failures, &breaker.trip) {
            (Some(failures), Some(trip)) => {
                self.error(
                    trip.failure_ratio.span(),
                    format!(
                        "{path}.trip: give either `failures` ({}) or `trip`, not both",
                        failures.get_ref()
                    ),
                );
                TripRule::ConsecutiveFailures(1)
            }
            (None, Some(trip)) => {
                let ratio = *trip.failure_ratio.get_ref();
                if !(ratio > 0.0 && ratio <= 1.0) {
                    self.error(
                        trip.failure_ratio.span(),
                        format!("{path}.trip.failure_ratio: expected a share of requests in (0, 1], got {ratio}"),
                    );
                }
                let min_requests = self.count_in(
                    &trip.min_requests,
                    &format!("{path}.trip.min_requests"),
                    1,
                    u64::from(u32::MAX),
                ) as u32;
                TripRule::FailureRatio {
                    ratio,
                    min_requests,
                }
            }
            (failures, None) => TripRule::ConsecutiveFailures(self.count_or(
                path,
                failures,
                "failures",
                1,
                GOBREAKER_FAILURES_DEFAULT,
            )),
        };
        let interval = breaker.interval.as_ref().map(|interval| {
            if interval.get_ref().0 == SimDuration::ZERO {
                self.error(
                    interval.span(),
                    format!("{path}.interval: expected a duration above 0; leave `interval` out to never clear counts in closed state"),
                );
            }
            interval.get_ref().0
        });
        ConsecutiveSettings {
            trip,
            open_for: self.duration_or(
                path,
                &breaker.open_for,
                "open_for",
                GOBREAKER_TIMEOUT_DEFAULT,
            ),
            max_requests: self.count_or(
                path,
                &breaker.half_open_calls,
                "half_open_calls",
                1,
                GOBREAKER_MAX_REQUESTS_DEFAULT,
            ),
            interval,
        }
    }

    fn window(&mut self, path: &str, kind: &str, breaker: &RawBreaker) -> WindowSettings {
        let size = self.count_or(path, &breaker.window, "window", 1, R4J_WINDOW_DEFAULT);
        let window = if kind == "count_window" {
            WindowKind::Count(size)
        } else {
            WindowKind::Time(size)
        };
        let defaults = WindowSettings::resilience4j_defaults(window);
        let multiplier = breaker.open_for_multiplier.as_ref().map_or(1.0, |value| {
            let factor = *value.get_ref();
            if !(factor.is_finite() && (1.0..=100.0).contains(&factor)) {
                self.error(
                    value.span(),
                    format!(
                        "{path}.open_for_multiplier: expected a factor from 1 to 100, got {factor}"
                    ),
                );
            }
            factor
        });
        WindowSettings {
            window,
            minimum_calls: self.count_or(
                path,
                &breaker.minimum_calls,
                "minimum_calls",
                1,
                defaults.minimum_calls,
            ),
            failure_rate_threshold: self.percent_or(
                path,
                &breaker.failure_rate,
                "failure_rate",
                defaults.failure_rate_threshold,
            ),
            slow_call_rate_threshold: self.percent_or(
                path,
                &breaker.slow_call_rate,
                "slow_call_rate",
                defaults.slow_call_rate_threshold,
            ),
            slow_call_duration: self.duration_or(
                path,
                &breaker.slow_call_duration,
                "slow_call_duration",
                defaults.slow_call_duration,
            ),
            half_open_calls: self.count_or(
                path,
                &breaker.half_open_calls,
                "half_open_calls",
                1,
                defaults.half_open_calls,
            ),
            open_for: {
                let open_for =
                    self.duration_or(path, &breaker.open_for, "open_for", defaults.open_for);
                // resilience4j keeps this wait in whole milliseconds and refuses one
                // under a millisecond (a growing wait would start from 0 ms).
                if let Some(raw) = &breaker.open_for {
                    if open_for < SimDuration::from_millis(1) {
                        self.error(
                            raw.span(),
                            format!("{path}.open_for: expected at least 1ms, as resilience4j's waitDurationInOpenState, got {open_for}"),
                        );
                    }
                }
                open_for
            },
            open_for_multiplier: multiplier,
            open_for_max: breaker
                .open_for_max
                .as_ref()
                .map(|max| self.duration_in(max, &format!("{path}.open_for_max"), true)),
            automatic_transition: breaker
                .automatic_transition
                .as_ref()
                .is_some_and(|flag| *flag.get_ref()),
            half_open_max_wait: breaker
                .half_open_max_wait
                .as_ref()
                .map(|wait| self.duration_in(wait, &format!("{path}.half_open_max_wait"), true)),
        }
    }

    /// Hystrix's defaults and the checks that make Hystrix refuse a setting.
    fn hystrix(&mut self, path: &str, breaker: &RawBreaker) -> HystrixSettings {
        let defaults = HystrixSettings::default();
        let rolling_window = self.duration_or(
            path,
            &breaker.rolling_window,
            "rolling_window",
            defaults.rolling_window,
        );
        let rolling_buckets = self.count_or(
            path,
            &breaker.rolling_buckets,
            "rolling_buckets",
            1,
            defaults.rolling_buckets,
        );
        let window_ms = rolling_window.as_nanos() / 1_000_000;
        if !window_ms.is_multiple_of(u64::from(rolling_buckets)) {
            let at = span(&breaker.rolling_buckets)
                .or_else(|| span(&breaker.rolling_window))
                .unwrap_or_else(|| breaker.kind.span());
            self.error(
                at,
                format!("{path}.rolling_buckets: Hystrix needs the rolling window ({rolling_window} = {window_ms} ms) to divide equally into {rolling_buckets} buckets"),
            );
        }
        let mut health_snapshot_interval = self.duration_or(
            path,
            &breaker.health_snapshot_interval,
            "health_snapshot_interval",
            defaults.health_snapshot_interval,
        );
        if rolling_window > SimDuration::ZERO && health_snapshot_interval > rolling_window {
            let at = span(&breaker.health_snapshot_interval)
                .or_else(|| span(&breaker.rolling_window))
                .unwrap_or_else(|| breaker.kind.span());
            self.error(
                at,
                format!("{path}.health_snapshot_interval: {health_snapshot_interval} is longer than the rolling window ({rolling_window}), which would hold no health bucket"),
            );
        }
        let health_buckets = rolling_window.as_nanos() / health_snapshot_interval.as_nanos().max(1);
        if health_snapshot_interval > SimDuration::ZERO && health_buckets > HEALTH_BUCKETS_MAX {
            let at = span(&breaker.health_snapshot_interval)
                .or_else(|| span(&breaker.rolling_window))
                .unwrap_or_else(|| breaker.kind.span());
            self.error(
                at,
                format!("{path}.health_snapshot_interval: {health_snapshot_interval} slices the {rolling_window} rolling window into {health_buckets} health buckets; the limit is {HEALTH_BUCKETS_MAX}"),
            );
        }
        if health_snapshot_interval == SimDuration::ZERO
            || health_snapshot_interval > rolling_window
            || health_buckets > HEALTH_BUCKETS_MAX
        {
            // Already reported; keep the settings the engine accepts.
            health_snapshot_interval = rolling_window.max(SimDuration(1));
        }
        let error_threshold_percentage = breaker.error_threshold_percentage.as_ref().map_or(
            defaults.error_threshold_percentage,
            |value| {
                let percent = *value.get_ref();
                if !(1..=100).contains(&percent) {
                    self.error(
                        value.span(),
                        format!("{path}.error_threshold_percentage: expected a whole percentage in (0, 100], got {percent}"),
                    );
                    return defaults.error_threshold_percentage;
                }
                percent as u32
            },
        );
        let flag = |raw: &Option<Spanned<bool>>| raw.as_ref().is_some_and(|flag| *flag.get_ref());
        HystrixSettings {
            rolling_window: rolling_window.max(health_snapshot_interval),
            rolling_buckets,
            health_snapshot_interval,
            request_volume_threshold: self.count_or(
                path,
                &breaker.request_volume_threshold,
                "request_volume_threshold",
                0,
                defaults.request_volume_threshold,
            ),
            error_threshold_percentage,
            sleep_window: breaker
                .sleep_window
                .as_ref()
                .map_or(defaults.sleep_window, |wait| {
                    self.duration_in(wait, &format!("{path}.sleep_window"), false)
                }),
            force_open: flag(&breaker.force_open),
            force_closed: flag(&breaker.force_closed),
        }
    }

    fn failure_on(&mut self, path: &str, breaker: &RawBreaker) -> FailureOn {
        let Some(classes) = &breaker.failure_on else {
            return FailureOn::default();
        };
        let mut failures = FailureOn::nothing();
        for class in classes.get_ref() {
            let status = match class.get_ref() {
                RawFailureClass::Status(status) => Some(*status),
                RawFailureClass::Name(name) => match name.as_str() {
                    "timeout" => {
                        failures.timeouts = true;
                        None
                    }
                    "connection" => {
                        failures.connection = true;
                        None
                    }
                    "bulkhead" => {
                        failures.bulkhead = true;
                        None
                    }
                    "1xx" | "2xx" | "3xx" | "4xx" | "5xx" => {
                        failures.add_class(u16::from(name.as_bytes()[0] - b'0'));
                        None
                    }
                    digits if digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit()) => {
                        digits.parse().ok()
                    }
                    other => {
                        self.error(
                            class.span(),
                            format!("{path}.failure_on: unknown outcome \"{other}\"; expected a status such as 503, a class \"4xx\" or \"5xx\", \"timeout\", \"connection\" or \"bulkhead\""),
                        );
                        None
                    }
                },
            };
            if let Some(status) = status {
                let status = self.status_at(status, class.span(), &format!("{path}.failure_on"));
                failures.add_status(status);
            }
        }
        failures
    }

    fn count_or(
        &mut self,
        path: &str,
        raw: &Option<Spanned<i64>>,
        key: &str,
        min: u64,
        default: u32,
    ) -> u32 {
        raw.as_ref().map_or(default, |value| {
            self.count_in(value, &format!("{path}.{key}"), min, u64::from(u32::MAX)) as u32
        })
    }

    fn duration_or(
        &mut self,
        path: &str,
        raw: &Option<Spanned<RawDuration>>,
        key: &str,
        default: SimDuration,
    ) -> SimDuration {
        raw.as_ref().map_or(default, |value| {
            self.duration_in(value, &format!("{path}.{key}"), true)
        })
    }

    fn percent_or(
        &mut self,
        path: &str,
        raw: &Option<Spanned<f64>>,
        key: &str,
        default: f64,
    ) -> f64 {
        raw.as_ref().map_or(default, |value| {
            let rate = *value.get_ref();
            if !(rate > 0.0 && rate <= 100.0) {
                self.error(
                    value.span(),
                    format!("{path}.{key}: expected a percentage in (0, 100], got {rate}"),
                );
            }
            rate
        })
    }
}

/// Every kind-specific key the file gives, with its position.
fn given_keys(breaker: &RawBreaker) -> Vec<(&'static str, Option<Range<usize>>)> {
    vec![
        ("failures", span(&breaker.failures)),
        (
            "trip",
            breaker.trip.as_ref().map(|trip| trip.failure_ratio.span()),
        ),
        ("open_for", span(&breaker.open_for)),
        ("half_open_calls", span(&breaker.half_open_calls)),
        ("interval", span(&breaker.interval)),
        ("window", span(&breaker.window)),
        ("minimum_calls", span(&breaker.minimum_calls)),
        ("failure_rate", span(&breaker.failure_rate)),
        ("slow_call_rate", span(&breaker.slow_call_rate)),
        ("slow_call_duration", span(&breaker.slow_call_duration)),
        ("open_for_multiplier", span(&breaker.open_for_multiplier)),
        ("open_for_max", span(&breaker.open_for_max)),
        ("automatic_transition", span(&breaker.automatic_transition)),
        ("half_open_max_wait", span(&breaker.half_open_max_wait)),
        (
            "request_volume_threshold",
            span(&breaker.request_volume_threshold),
        ),
        (
            "error_threshold_percentage",
            span(&breaker.error_threshold_percentage),
        ),
        ("sleep_window", span(&breaker.sleep_window)),
        ("rolling_window", span(&breaker.rolling_window)),
        ("rolling_buckets", span(&breaker.rolling_buckets)),
        (
            "health_snapshot_interval",
            span(&breaker.health_snapshot_interval),
        ),
        ("force_open", span(&breaker.force_open)),
        ("force_closed", span(&breaker.force_closed)),
    ]
}
