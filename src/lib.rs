//! tokennet
#![allow(missing_docs)]
pub mod types;
pub mod chain;
pub mod connection;
pub mod node;
pub mod api;
pub mod embedded;
pub mod cli;
