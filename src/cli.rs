//! The command line (SPEC §7). `tokennet` with no subcommand is `tokennet node`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::embedded::{DEFAULT_PEERS, DEFAULT_TOKEN_BALANCE_UNITS};
use crate::types::U256;

/// Default `--api-address`.
pub const DEFAULT_API_ADDRESS: &str = crate::api::DEFAULT_API_ADDRESS;
/// Default `--tx-timeout`.
pub const DEFAULT_TX_TIMEOUT: &str = "120s";
/// Default `--sim-block-time`.
pub const DEFAULT_SIM_BLOCK_TIME: &str = "1s";
/// Default `--sim-tx-latency`.
pub const DEFAULT_SIM_TX_LATENCY: &str = "0s";
/// Default `--sim-settle-timeout`.
pub const DEFAULT_SIM_SETTLE_TIMEOUT: &str = "15s";
/// Default `--sim-eth-balance`: 10 ETH.
pub const DEFAULT_SIM_ETH_BALANCE: &str = "10000000000000000000";

/// A payment-channel node that joins and leaves token networks.
#[derive(Debug, Parser)]
#[command(name = "tokennet", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to run (default: `node`).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of `node`, when no subcommand is given.
    #[command(flatten)]
    pub node: NodeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the node and its REST API (the default).
    Node(NodeArgs),
}

impl Cli {
    /// The node's flags, whichever way they were given.
    pub fn node_args(self) -> NodeArgs {
        match self.command {
            Some(Command::Node(args)) => args,
            None => self.node,
        }
    }
}

/// Flags of `tokennet node`.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// Where the REST API listens.
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_API_ADDRESS)]
    pub api_address: SocketAddr,

    /// How long a transaction may take to be mined before the call answers 408.
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_TX_TIMEOUT, value_parser = positive_duration)]
    pub tx_timeout: Duration,

    /// Blocks an event or transaction waits before it counts as confirmed.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub confirmation_blocks: u64,

    /// Simulated chain: number of peers that have joined the demo token network.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PEERS)]
    pub sim_peers: usize,

    /// Simulated chain: seed of every random choice (addresses, partners, latencies).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub sim_seed: u64,

    /// Simulated chain: interval between blocks.
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_SIM_BLOCK_TIME, value_parser = positive_duration)]
    pub sim_block_time: Duration,

    /// Simulated chain: time before a transaction can be included in a block.
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_SIM_TX_LATENCY, value_parser = duration)]
    pub sim_tx_latency: Duration,

    /// Simulated chain: ETH of our account and of each peer, in wei.
    #[arg(long, value_name = "WEI", default_value = DEFAULT_SIM_ETH_BALANCE, value_parser = wei)]
    pub sim_eth_balance: U256,

    /// Simulated chain: demo tokens of our account and of each peer, in whole tokens.
    #[arg(long, value_name = "UNITS", default_value_t = DEFAULT_TOKEN_BALANCE_UNITS)]
    pub sim_token_balance: u64,

    /// Simulated chain: settle timeout of the demo token network (whole seconds).
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_SIM_SETTLE_TIMEOUT, value_parser = positive_duration)]
    pub sim_settle_timeout: Duration,
}

fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{e}; write a duration such as 250ms, 2s or 5m"))
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    let value = duration(text)?;
    if value.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(value)
}

fn wei(text: &str) -> Result<U256, String> {
    U256::from_str_radix(text, 10).map_err(|_| "must be a whole number of wei".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_subcommand_means_node_with_defaults() {
        let args = Cli::try_parse_from(["tokennet"]).unwrap().node_args();
        assert_eq!(args.api_address.to_string(), "127.0.0.1:5001");
        assert_eq!(args.tx_timeout, Duration::from_secs(120));
        assert_eq!(args.sim_peers, 8);
        let args = Cli::try_parse_from(["tokennet", "node", "--sim-block-time", "250ms"])
            .unwrap()
            .node_args();
        assert_eq!(args.sim_block_time, Duration::from_millis(250));
    }

    #[test]
    fn bad_values_name_the_flag() {
        let error = Cli::try_parse_from(["tokennet", "--tx-timeout", "soon"]).unwrap_err();
        assert!(error.to_string().contains("--tx-timeout"), "{error}");
        let error = Cli::try_parse_from(["tokennet", "--sim-block-time", "0s"]).unwrap_err();
        assert!(error.to_string().contains("--sim-block-time"), "{error}");
    }
}
