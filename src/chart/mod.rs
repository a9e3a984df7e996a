//! Charts as SVG text, drawn by hand rather than with a plotting crate (see
//! ARCHITECTURE.md for why): an SVG writer, axis scales, and the frame that every
//! chart shares. What the charts show lives with the reports (`render::charts`,
//! `render::sweep`).

pub mod plot;
pub mod scale;
pub mod svg;
