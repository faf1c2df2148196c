//! tokennet-sim
pub mod dist;
pub mod metrics;
pub mod plots;
pub mod strategy;
