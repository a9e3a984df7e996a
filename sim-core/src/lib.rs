//! `sim-core`: the discrete-event engine under `cascade`.
//!
//! It knows virtual time, a future event list, named random streams, duration
//! distributions and bounded-memory statistics. It knows nothing about services,
//! requests, files or TOML.

pub mod dist;
pub mod fifo;
pub mod hold;
pub mod queue;
pub mod rng;
pub mod stats;
pub mod time;
mod ziggurat;

pub use dist::Distribution;
pub use fifo::Fifo;
pub use queue::{EventQueue, TimerId};
pub use rng::RngStream;
pub use stats::{LatencyHistogram, TimeWindows, WindowTotals};
pub use time::{SimDuration, SimTime};
