//! # tokennet-sim
//!
//! The growth simulator: thousands to millions of nodes joining a token network with
//! **the same connection-manager policy as the node** (`tokennet::connection`), on the
//! same chain rules (`tokennet::chain::sim::Ledger`), in virtual time, reproducibly.
//!
//! * [`scenario`]: the TOML scenario format, validated with errors that name field and line;
//! * [`engine`]: the discrete-event engine;
//! * [`strategy`]: partner-selection strategies behind one trait;
//! * [`dist`]: the distributions a scenario draws from;
//! * [`metrics`]: graph metrics of the channel network;
//! * [`output`] and [`plots`]: CSV, JSON and SVG files;
//! * [`run`] and [`sweep`]: one run, and a grid of runs in parallel.

pub mod dist;
pub mod engine;
pub mod metrics;
pub mod output;
pub mod plots;
pub mod run;
pub mod scenario;
pub mod strategy;
pub mod sweep;
