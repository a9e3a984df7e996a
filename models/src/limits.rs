//! Bounds that keep a hostile or mistaken scenario from eating the machine. Each is a
//! named value; the loader rejects inputs past them with a clear message, and the
//! engine reports hitting the event budget or the in-flight limit instead of
//! running on.

/// Closed-loop users in one scenario.
pub const USERS_MAX: u32 = 1_000_000;
/// Workers or queue slots of one service (beyond this, say `unbounded`).
pub const CAPACITY_MAX: u32 = 10_000_000;
/// Replicas of one service.
pub const REPLICAS_MAX: u32 = 10_000;
/// Simulated time of one run: 30 days.
pub const DURATION_MAX_SECS: u64 = 30 * 24 * 3600;
/// Events one run may process before it stops and says so.
pub const EVENTS_MAX: u64 = 2_000_000_000;
/// Requests and calls in flight at once: jobs in services (abandoned work included)
/// and open-loop requests still waiting for an answer. Each costs a few hundred
/// bytes, so this keeps a run's memory near a gigabyte at most; past it the run
/// stops and says so. USERS_MAX users through a gateway and two services fit.
pub const IN_FLIGHT_MAX: u64 = 4_000_000;
/// Services, endpoints per service, steps per endpoint, breakers, faults.
pub const ITEMS_MAX: usize = 10_000;
/// Time windows in one report.
pub const WINDOWS_MAX: u64 = 100_000;
/// Events in a row at one instant before the run is declared stuck: a closed loop
/// with zero think time and zero work would otherwise spin forever at one time.
pub const EVENTS_AT_ONE_INSTANT_MAX: u64 = 1_000_000;
