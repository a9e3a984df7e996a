//! `models`: the microservice world that `cascade` simulates.
//!
//! It turns a validated [`spec::Scenario`] into a [`report::RunReport`]. It never
//! reads files, the environment, the wall clock or an ambient random source; every
//! random number comes from a named stream of the scenario's seed.

pub mod breaker;
pub mod limits;
pub mod report;
pub mod retry;
pub mod sim;
pub mod spec;

pub use report::RunReport;
pub use sim::{
    simulate, simulate_observed, simulate_with_limits, Hop, HopKind, Observer, RequestRecord,
    RunLimits,
};
pub use spec::Scenario;
