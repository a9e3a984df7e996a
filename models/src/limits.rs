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
/// Replicas of all services together: each has its own pool, queue and counters,
/// so a file of a thousand services of 10,000 replicas each would take gigabytes.
/// Kubernetes supports at most 150,000 pods in one cluster.
pub const REPLICAS_TOTAL_MAX: u64 = 150_000;
/// Simulated time of one run: 30 days.
pub const DURATION_MAX_SECS: u64 = 30 * 24 * 3600;
/// Events one run may process before it stops and says so.
pub const EVENTS_MAX: u64 = 2_000_000_000;
/// Requests in flight at once, counted two ways, each held to this: jobs in the
/// services (calls between services and abandoned work included), and open-loop
/// requests waiting for an answer (some have no job: sent into a blackhole). Each
/// costs about a hundred bytes, so a run stays near a gigabyte; past the limit it
/// stops and says so, instead of growing until the machine runs out. USERS_MAX
/// users through a gateway and one more service fit under it.
pub const IN_FLIGHT_MAX: u64 = 4_000_000;
/// Services, endpoints per service, steps per endpoint, breakers, faults.
pub const ITEMS_MAX: usize = 10_000;
/// Time windows in one report.
pub const WINDOWS_MAX: u64 = 100_000;
/// Numbers in one report's timeline: windows times two per service (busy and queue
/// means) and one per breaker. Ten million is about 200 MB of JSON.
pub const TIMELINE_CELLS_MAX: u64 = 10_000_000;
/// Breaker transitions kept for one report, over all breakers (checked every 4,096
/// events, so a run may pass it by that many). A breaker flapping every five
/// seconds for 30 days makes half a million; past a million the run stops.
pub const TRANSITIONS_MAX: u64 = 1_000_000;
/// Events in a row at one instant before the run is declared stuck: a closed loop
/// with zero think time and zero work would otherwise spin forever at one time.
/// Well above USERS_MAX, because that many users may all start at one instant
/// (spawn_rate = users), each with a few events of its own.
pub const EVENTS_AT_ONE_INSTANT_MAX: u64 = 20_000_000;
