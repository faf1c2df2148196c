//! # tokennet
//!
//! A payment-channel node's "join a token network" feature, Raiden-compatible: a REST API
//! that opens and funds channels with chosen peers automatically, funds channels others
//! open to us, and leaves a token network by closing and settling every channel.
//!
//! The layers, from the bottom:
//!
//! * [`types`]: addresses (EIP-55), token amounts (256-bit), channel identifiers.
//! * [`chain`]: the [`chain::Chain`] trait, the only door to a blockchain, and
//!   [`chain::sim::SimChain`], the in-memory chain.
//! * [`connection`]: the connection manager's policy, pure: events in, actions out.
//! * [`node`]: [`node::Node`], the runtime that follows the chain, runs the policy and
//!   sends its transactions, one queue per token network.
//! * [`api`]: the REST API on warp.
//! * [`embedded`]: the populated simulated network `tokennet node` runs by default.
//!
//! ## Example
//!
//! Join a token network on a simulated chain, without HTTP:
//!
//! ```
//! use tokennet::connection::ConnectionParams;
//! use tokennet::embedded::{self, EmbeddedConfig};
//! use tokennet::types::U256;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let network = embedded::start(&EmbeddedConfig::default()).await?;
//! let funds = U256::from(100u64) * embedded::one_token();
//! network.node.join(network.token, ConnectionParams::with_funds(funds)).await?;
//! let joined = network.node.connections();
//! assert_eq!(joined[0].channels, 3);
//! # Ok(())
//! # }
//! ```

pub mod api;
pub mod chain;
pub mod cli;
pub mod connection;
pub mod embedded;
pub mod keys;
pub mod node;
pub mod redact;
pub mod secret_file;
pub mod types;
