//! The scenario file as written: serde types that mirror the TOML, with spans kept on
//! every value that a later check may need to point at. Only the shape is checked
//! here (unknown keys, types, duration syntax); meaning is checked in `build`.
//!
//! No `untagged` or `flatten`: they make serde's messages vague. Map keys are plain
//! strings and tables carry no span (toml cannot span dotted keys or implicit tables),
//! so a problem with a whole table points at one of its required values.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use sim_core::SimDuration;
use toml::Spanned;

use super::duration::parse_duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub scenario: RawHeader,
    pub load: RawLoad,
    #[serde(default)]
    pub services: BTreeMap<String, RawService>,
    #[serde(default)]
    pub breakers: BTreeMap<String, RawBreaker>,
    #[serde(default)]
    pub bulkheads: BTreeMap<String, RawBulkhead>,
    #[serde(default)]
    pub faults: Vec<RawFault>,
    #[serde(default)]
    pub hypothesis: Option<RawHypothesis>,
    /// Read here so that the file's shape is checked in one place; applied by
    /// `variants.rs`, which rewrites the document per variant.
    #[serde(default)]
    pub variants: Vec<RawVariant>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    pub name: Spanned<String>,
    /// Shown by listings; not used by the run.
    #[serde(default)]
    pub description: Option<String>,
    pub seed: Spanned<i64>,
    pub duration: Spanned<RawDuration>,
    #[serde(default)]
    pub window: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub warmup: Option<Spanned<RawDuration>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoad {
    pub kind: Spanned<String>,
    /// `closed` only.
    #[serde(default)]
    pub users: Option<Spanned<i64>>,
    /// `closed` only.
    #[serde(default)]
    pub spawn_rate: Option<Spanned<f64>>,
    /// `closed` only. Not spanned: it may be an implicit table
    /// (`wait.between = [...]`), which toml cannot span; its leaves are.
    #[serde(default)]
    pub wait: Option<RawWait>,
    /// `open` only: requests per second.
    #[serde(default)]
    pub rate: Option<Spanned<f64>>,
    /// `open` only: changes of the rate over time.
    #[serde(default)]
    pub schedule: Option<Spanned<Vec<RawRateChange>>>,
    /// One endpoint for every request, or else `tasks`.
    #[serde(default)]
    pub target: Option<Spanned<String>>,
    #[serde(default)]
    pub tasks: Option<Spanned<Vec<RawTask>>>,
    #[serde(default)]
    pub timeout: Option<Spanned<RawDuration>>,
}

/// `{ at = "60s", rate = 200, ramp = "10s" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateChange {
    pub at: Spanned<RawDuration>,
    pub rate: Spanned<f64>,
    #[serde(default)]
    pub ramp: Option<Spanned<RawDuration>>,
}

/// `{ target = "shop/browse", weight = 3 }`: Locust's weighted `@task`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTask {
    pub target: Spanned<String>,
    #[serde(default)]
    pub weight: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum RawWait {
    Between([Spanned<RawDuration>; 2]),
    Constant(Spanned<RawDuration>),
    /// Exponential think time with this mean (for closed queueing networks).
    Exponential(Spanned<RawDuration>),
    /// Locust's `constant_pacing(w)`.
    ConstantPacing(Spanned<RawDuration>),
    /// Locust's `constant_throughput(r)`: tasks per second per user.
    ConstantThroughput(Spanned<f64>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub workers: Spanned<RawCapacity>,
    #[serde(default)]
    pub queue: Option<Spanned<RawCapacity>>,
    #[serde(default)]
    pub endpoints: BTreeMap<String, RawEndpoint>,
    #[serde(default)]
    pub replicas: Option<Spanned<i64>>,
    /// "round_robin" (default), "random" or "least_outstanding".
    #[serde(default)]
    pub balancer: Option<Spanned<String>>,
    /// Not spanned (a table); its leaves are.
    #[serde(default)]
    pub outlier: Option<RawOutlier>,
}

/// Envoy's `outlier_detection`, consecutive-5xx detector; every key has Envoy's default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutlier {
    #[serde(default)]
    pub consecutive_5xx: Option<Spanned<i64>>,
    #[serde(default)]
    pub interval: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub base_ejection_time: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub max_ejection_time: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub max_ejection_percent: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    pub steps: Spanned<Vec<Spanned<RawStep>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Not spanned, like `wait`: `[...steps.work.lognormal]` makes it implicit.
    #[serde(default)]
    pub work: Option<RawDistribution>,
    #[serde(default)]
    pub call: Option<Spanned<String>>,
    #[serde(default)]
    pub timeout: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub connect_timeout: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub breaker: Option<Spanned<String>>,
    #[serde(default)]
    pub fallback: Option<Spanned<RawFallback>>,
    /// Not spanned (a table); its leaves are.
    #[serde(default)]
    pub retry: Option<RawRetry>,
    #[serde(default)]
    pub bulkhead: Option<Spanned<String>>,
    /// "retry_outside_breaker" (default) or "breaker_outside_retry".
    #[serde(default)]
    pub order: Option<Spanned<String>>,
    #[serde(default)]
    pub propagate_deadline: Option<Spanned<bool>>,
    /// A fan-out: these calls at once.
    #[serde(default)]
    pub parallel: Option<Spanned<Vec<Spanned<RawStep>>>>,
    /// `parallel` only: how many must succeed, or "all" (the default).
    #[serde(default)]
    pub wait_for: Option<Spanned<RawWaitFor>>,
}

/// A count of calls, or `"all"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawWaitFor {
    Count(i64),
    All,
}

impl<'de> Deserialize<'de> for RawWaitFor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WaitForVisitor;
        impl Visitor<'_> for WaitForVisitor {
            type Value = RawWaitFor;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of calls, or \"all\"")
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<RawWaitFor, E> {
                Ok(RawWaitFor::Count(value))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawWaitFor, E> {
                if text == "all" {
                    Ok(RawWaitFor::All)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(text), &self))
                }
            }
        }
        deserializer.deserialize_any(WaitForVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBulkhead {
    /// "semaphore".
    pub kind: Spanned<String>,
    #[serde(default)]
    pub max_concurrent: Option<Spanned<i64>>,
    /// `semaphore` only.
    #[serde(default)]
    pub max_wait: Option<Spanned<RawDuration>>,
    /// `thread_pool` only.
    #[serde(default)]
    pub queue_capacity: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    /// Attempts in all, the first included.
    pub attempts: Spanned<i64>,
    /// "constant", "linear" or "exponential" (default).
    #[serde(default)]
    pub backoff: Option<Spanned<String>>,
    #[serde(default)]
    pub base: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub multiplier: Option<Spanned<f64>>,
    #[serde(default)]
    pub max: Option<Spanned<RawDuration>>,
    /// "none" (default), "full", "equal" or "decorrelated".
    #[serde(default)]
    pub jitter: Option<Spanned<String>>,
    /// Failure classes: "5xx", "408", "429", "timeout", "connection", "rejected".
    #[serde(default)]
    pub on: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub budget: Option<RawBudget>,
}

/// `{ kind = "finagle", ttl = "10s", min_retries_per_sec = 10, percent_can_retry = 0.2 }`
/// or `{ kind = "grpc", max_tokens = 10, token_ratio = 0.1 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    pub kind: Spanned<String>,
    #[serde(default)]
    pub ttl: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub min_retries_per_sec: Option<Spanned<i64>>,
    #[serde(default)]
    pub percent_can_retry: Option<Spanned<f64>>,
    #[serde(default)]
    pub max_tokens: Option<Spanned<i64>>,
    #[serde(default)]
    pub token_ratio: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum RawDistribution {
    Constant(Spanned<RawDuration>),
    Uniform([Spanned<RawDuration>; 2]),
    /// Given by its mean.
    Exponential(Spanned<RawDuration>),
    Normal {
        mean: Spanned<RawDuration>,
        std_dev: Spanned<RawDuration>,
    },
    Lognormal {
        median: Spanned<RawDuration>,
        p99: Spanned<RawDuration>,
    },
}

/// `"error"` (answer 500, as a handler doing `http.Error(w, ..., 500)`),
/// `"propagate"`, `"degraded"`, or a status to answer (`503`). A plain value, never
/// a table, so that it always has a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawFallback {
    Error,
    Propagate,
    Degraded,
    Status(i64),
}

impl<'de> Deserialize<'de> for RawFallback {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FallbackVisitor;
        impl Visitor<'_> for FallbackVisitor {
            type Value = RawFallback;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"error\", \"propagate\", \"degraded\" or an HTTP status such as 503")
            }
            fn visit_i64<E: de::Error>(self, status: i64) -> Result<RawFallback, E> {
                Ok(RawFallback::Status(status))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawFallback, E> {
                match text {
                    "error" => Ok(RawFallback::Error),
                    "propagate" => Ok(RawFallback::Propagate),
                    "degraded" => Ok(RawFallback::Degraded),
                    _ => Err(E::invalid_value(de::Unexpected::Str(text), &self)),
                }
            }
        }
        deserializer.deserialize_any(FallbackVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBreaker {
    pub kind: Spanned<String>,
    /// consecutive only.
    #[serde(default)]
    pub failures: Option<Spanned<i64>>,
    #[serde(default)]
    pub open_for: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub half_open_calls: Option<Spanned<i64>>,
    /// consecutive only.
    #[serde(default)]
    pub interval: Option<Spanned<RawDuration>>,
    /// Windows only: calls (count_window) or seconds (time_window).
    #[serde(default)]
    pub window: Option<Spanned<i64>>,
    #[serde(default)]
    pub minimum_calls: Option<Spanned<i64>>,
    /// Percent.
    #[serde(default)]
    pub failure_rate: Option<Spanned<f64>>,
    /// Percent.
    #[serde(default)]
    pub slow_call_rate: Option<Spanned<f64>>,
    #[serde(default)]
    pub slow_call_duration: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub open_for_multiplier: Option<Spanned<f64>>,
    #[serde(default)]
    pub open_for_max: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub automatic_transition: Option<Spanned<bool>>,
    #[serde(default)]
    pub half_open_max_wait: Option<Spanned<RawDuration>>,
    /// consecutive only: gobreaker's `ReadyToTrip` as a failure ratio, instead of
    /// `failures`.
    #[serde(default)]
    pub trip: Option<RawTrip>,
    /// Every kind: which outcomes are failures.
    #[serde(default)]
    pub failure_on: Option<Spanned<Vec<Spanned<RawFailureClass>>>>,
    /// hystrix only, from here on, named after Hystrix's properties.
    #[serde(default)]
    pub request_volume_threshold: Option<Spanned<i64>>,
    #[serde(default)]
    pub error_threshold_percentage: Option<Spanned<i64>>,
    #[serde(default)]
    pub sleep_window: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub rolling_window: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub rolling_buckets: Option<Spanned<i64>>,
    #[serde(default)]
    pub health_snapshot_interval: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub force_open: Option<Spanned<bool>>,
    #[serde(default)]
    pub force_closed: Option<Spanned<bool>>,
}

/// `trip = { failure_ratio = 0.6, min_requests = 3 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrip {
    pub failure_ratio: Spanned<f64>,
    pub min_requests: Spanned<i64>,
}

/// One entry of `failure_on`: a status (`408` or `"408"`), a class of statuses
/// (`"5xx"`), or `"timeout"`, `"connection"`, `"bulkhead"`. Checked in `build`, so
/// that the message can list what is expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawFailureClass {
    Status(i64),
    Name(String),
}

impl<'de> Deserialize<'de> for RawFailureClass {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ClassVisitor;
        impl Visitor<'_> for ClassVisitor {
            type Value = RawFailureClass;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an HTTP status such as 503, or \"5xx\", \"timeout\", \"connection\", \"bulkhead\"")
            }
            fn visit_i64<E: de::Error>(self, status: i64) -> Result<RawFailureClass, E> {
                Ok(RawFailureClass::Status(status))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawFailureClass, E> {
                Ok(RawFailureClass::Name(text.to_string()))
            }
        }
        deserializer.deserialize_any(ClassVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub target: Spanned<String>,
    pub kind: Spanned<String>,
    /// `hang` only.
    #[serde(default, rename = "for")]
    pub hold: Option<Spanned<RawHold>>,
    /// `hang` only.
    #[serde(default)]
    pub then_status: Option<Spanned<i64>>,
    /// `error` only: the share of requests that fail, in (0, 1].
    #[serde(default)]
    pub rate: Option<Spanned<f64>>,
    /// `error` only: the status they fail with.
    #[serde(default)]
    pub status: Option<Spanned<i64>>,
    /// `latency` only: the added delay.
    #[serde(default)]
    pub latency: Option<Spanned<RawDuration>>,
    /// `latency` only: the delay varies uniformly by up to this much either way.
    #[serde(default)]
    pub jitter: Option<Spanned<RawDuration>>,
    /// `slowdown` only: how many times longer work takes.
    #[serde(default)]
    pub factor: Option<Spanned<f64>>,
    /// `restart` only.
    #[serde(default)]
    pub down_for: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub cold_start: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub cold_factor: Option<Spanned<f64>>,
    /// Percent of the target's replicas hit (Litmus' `PODS_AFFECTED_PERC`).
    #[serde(default)]
    pub replicas_percent: Option<Spanned<f64>>,
    #[serde(default)]
    pub from: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub until: Option<Spanned<RawDuration>>,
    /// How long the fault (or each episode of it) lasts; the other way to say `until`.
    #[serde(default)]
    pub duration: Option<Spanned<RawDuration>>,
    /// Repeat an episode this often (Litmus' `CHAOS_INTERVAL`).
    #[serde(default)]
    pub every: Option<Spanned<RawDuration>>,
}

/// How long a hang holds the worker: a duration, or `"forever"` (no answer at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawHold {
    For(SimDuration),
    Forever,
}

impl<'de> Deserialize<'de> for RawHold {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HoldVisitor;
        impl Visitor<'_> for HoldVisitor {
            type Value = RawHold;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration string such as \"30s\", or \"forever\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawHold, E> {
                if text == "forever" {
                    return Ok(RawHold::Forever);
                }
                parse_duration(text).map(RawHold::For).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(HoldVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHypothesis {
    pub title: Spanned<String>,
    #[serde(default)]
    pub before_at: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub after_at: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub pause_after: Option<Spanned<RawDuration>>,
    pub probes: Spanned<Vec<RawProbe>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    pub name: Spanned<String>,
    pub kind: Spanned<String>,
    /// Its meaning depends on `kind`, as in Chaos Toolkit.
    pub tolerance: Spanned<toml::Value>,
    #[serde(default)]
    pub target: Option<Spanned<String>>,
    #[serde(default)]
    pub timeout: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub window: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub percentile: Option<Spanned<f64>>,
    #[serde(default)]
    pub breaker: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVariant {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Dotted path → new value.
    #[serde(default)]
    pub set: BTreeMap<String, Spanned<toml::Value>>,
    /// Dotted paths to remove.
    #[serde(default)]
    pub unset: Vec<Spanned<String>>,
}

/// A duration string, parsed while deserializing so that a malformed one is reported
/// at its own position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawDuration(pub SimDuration);

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = RawDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration string such as \"30s\", \"5ms\" or \"1.5s\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawDuration, E> {
                parse_duration(text).map(RawDuration).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(DurationVisitor)
    }
}

/// A count of workers or queue slots, or `"unbounded"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawCapacity {
    Count(i64),
    Unbounded,
}

impl<'de> Deserialize<'de> for RawCapacity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CapacityVisitor;
        impl Visitor<'_> for CapacityVisitor {
            type Value = RawCapacity;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number or \"unbounded\"")
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<RawCapacity, E> {
                Ok(RawCapacity::Count(value))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawCapacity, E> {
                if text == "unbounded" {
                    Ok(RawCapacity::Unbounded)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(text), &self))
                }
            }
        }
        deserializer.deserialize_any(CapacityVisitor)
    }
}
