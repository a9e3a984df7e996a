//! The hold model alone, for profilers: `cargo run --release --example hold -- EVENTS`.

fn main() {
    let events = std::env::args()
        .nth(1)
        .map_or(Ok(2_000_000), |arg| arg.parse())
        .expect("EVENTS is a whole number");
    let checksum = sim_core::hold::hold_model(10_000, events, 1);
    println!("{checksum}");
}
