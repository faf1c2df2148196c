//! The command line (SPEC §7). `tokennet` with no subcommand is `tokennet node`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::api::auth::ApiToken;
use crate::api::cors::{CorsPolicy, DEFAULT_CORS_DOMAINS};
use crate::api::hosts::HostPolicy;
use crate::api::ApiConfig;
use crate::connection::strategy::StrategyKind;
use crate::embedded::{DEFAULT_PEERS, DEFAULT_TOKENS, DEFAULT_TOKEN_BALANCE_UNITS};
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
/// Default `--shutdown-grace`.
pub const DEFAULT_SHUTDOWN_GRACE: &str = "2s";
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
#[allow(clippy::large_enum_variant)] // parsed once at start-up
pub enum Command {
    /// Run the node and its REST API (the default).
    Node(NodeArgs),
    /// Deploy the contracts on a chain and write a deployment file for `node`.
    Deploy(DeployArgs),
}

/// Flags of `tokennet deploy`.
#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    /// The Ethereum JSON-RPC endpoint.
    #[arg(long, value_name = "URL")]
    pub eth_rpc_endpoint: String,
    /// A file holding the deployer's private key (hex).
    #[arg(long, value_name = "FILE")]
    pub private_key_file: std::path::PathBuf,
    /// Settle timeout of the token networks, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 500)]
    pub settle_timeout: u64,
    /// Also deploy a test token (with `mintFor`) and register its token network.
    #[arg(long)]
    pub with_test_token: bool,
    /// Where to write the deployment JSON.
    #[arg(long, value_name = "FILE", default_value = "deployment.json")]
    pub out: std::path::PathBuf,
}

/// What to run.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // made once at start-up
pub enum Run {
    /// `tokennet node`.
    Node(NodeArgs),
    /// `tokennet deploy`.
    Deploy(DeployArgs),
}

impl NodeArgs {
    /// How to serve the API: the token and CORS policy of the flags, default timeouts.
    pub fn api_config(&self) -> ApiConfig {
        ApiConfig {
            token: self.api_token.clone(),
            cors: self.rpccorsdomain.clone(),
            hosts: self
                .api_hosts
                .clone()
                .unwrap_or_else(|| HostPolicy::default_for(self.api_address)),
            max_connections: self.api_max_connections,
            shutdown_grace: self.shutdown_grace,
            ..ApiConfig::default()
        }
    }
}

impl Cli {
    /// What was asked for; no subcommand is `node`.
    pub fn into_run(self) -> Run {
        match self.command {
            Some(Command::Node(args)) => Run::Node(args),
            Some(Command::Deploy(args)) => Run::Deploy(args),
            None => Run::Node(self.node),
        }
    }
}

/// Flags of `tokennet node`.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// Where the REST API listens.
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_API_ADDRESS)]
    pub api_address: SocketAddr,

    /// A file holding the API's secret token, at least 16 bytes: every request must then
    /// carry `Authorization: Bearer <token>` (the file's content, trimmed), else 401.
    #[arg(long = "api-token-file", value_name = "FILE", value_parser = ApiToken::parse_file_flag)]
    pub api_token: Option<ApiToken>,

    /// Origins a browser page may call the API from, comma-separated; `*` stands for a
    /// host label or a port (`http://localhost:*`), `*` alone for any origin.
    #[arg(long, value_name = "LIST", default_value = DEFAULT_CORS_DOMAINS, value_parser = CorsPolicy::parse)]
    pub rpccorsdomain: CorsPolicy,

    /// How long a transaction may take to be mined before the call answers 408.
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_TX_TIMEOUT, value_parser = positive_duration)]
    pub tx_timeout: Duration,

    /// Blocks an event or transaction waits before it counts as confirmed (default: 5 on
    /// a real chain, 0 on the simulated one).
    #[arg(long, value_name = "N")]
    pub confirmation_blocks: Option<u64>,

    /// The Ethereum JSON-RPC endpoint. Absent: the embedded simulated chain.
    #[arg(long, value_name = "URL")]
    pub eth_rpc_endpoint: Option<String>,

    /// A file holding our private key (hex); for development chains.
    #[arg(long, value_name = "FILE", conflicts_with = "keystore_path")]
    pub private_key_file: Option<std::path::PathBuf>,

    /// A directory of JSON keystores; with --address and --password-file.
    #[arg(long, value_name = "DIR", requires_all = ["address", "password_file"])]
    pub keystore_path: Option<std::path::PathBuf>,

    /// Our address, to pick the keystore.
    #[arg(long, value_name = "0x…")]
    pub address: Option<String>,

    /// A file holding the keystore's password.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<std::path::PathBuf>,

    /// The TokenNetworkRegistry (or give --deployment).
    #[arg(long, value_name = "0x…")]
    pub tokennetwork_registry_contract_address: Option<String>,

    /// A deployment file written by `tokennet deploy` (registry and start block).
    #[arg(long, value_name = "FILE")]
    pub deployment: Option<std::path::PathBuf>,

    /// Where the node keeps its state database (connection managers, the chain events
    /// it has applied, its transaction journal). Default on a real chain: `~/.tokennet`.
    /// The embedded simulated chain is new at every start, so without this flag its
    /// state stays in memory.
    #[arg(long, value_name = "DIR")]
    pub datadir: Option<std::path::PathBuf>,

    /// Simulated chain: number of peers that have joined the demo token network.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PEERS)]
    pub sim_peers: usize,

    /// Simulated chain: number of demo tokens, each with its token network joined by
    /// every peer.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_TOKENS, value_parser = at_least_one)]
    pub sim_tokens: usize,

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

    /// Host names the API answers, comma-separated, against DNS rebinding: any other
    /// `Host` gets 403. Default: localhost, 127.0.0.1, [::1] and the --api-address host;
    /// `*` for any (requests without a Host header always pass).
    #[arg(long, value_name = "LIST", value_parser = HostPolicy::parse)]
    pub api_hosts: Option<HostPolicy>,

    /// At most this many API connections at once (fewer if the descriptor limit,
    /// `ulimit -n`, needs it); at the cap the oldest connection that has sent no request
    /// is closed to make room, or new ones wait.
    #[arg(long, value_name = "N", default_value_t = crate::api::DEFAULT_MAX_CONNECTIONS, value_parser = at_least_one)]
    pub api_max_connections: usize,

    /// On SIGINT or SIGTERM, how long API requests in flight (joins, leaves) get to
    /// finish; those still running after it are answered 503.
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_SHUTDOWN_GRACE, value_parser = duration)]
    pub shutdown_grace: Duration,

    /// On a real chain: how long a transaction may wait for inclusion before it is signed
    /// again with the same nonce and higher fees (at least 10 % more), and again after
    /// each further period; --tx-timeout still bounds the call.
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_TX_REPLACE_AFTER, value_parser = positive_duration)]
    pub tx_replace_after: Duration,

    /// On a real chain: the most a replacement offers per gas, in whole gwei; at the cap
    /// the node logs a warning and keeps waiting.
    #[arg(long, value_name = "G", default_value_t = DEFAULT_MAX_FEE_GWEI, value_parser = positive_gwei)]
    pub max_fee_gwei: u64,

    /// A chain that produces no new block for this long is reported as `stalled` in
    /// `/status` (and logged). Default: 60s on a real chain (five 12-second Ethereum
    /// slots), ten block times (--sim-block-time) on the embedded chain.
    #[arg(long, value_name = "DURATION", value_parser = positive_duration)]
    pub chain_stall_timeout: Option<Duration>,

    /// How a join that names no `partner_selection` chooses new partners (SPEC §3.1):
    /// one of uniform (Raiden's rule), preferential_attachment, highest_capacity, and the
    /// other strategies `PUT /connections` accepts.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_PARTNER_SELECTION, value_parser = strategy)]
    pub partner_selection: StrategyKind,
}

/// Default `--partner-selection`: Raiden's uniform choice.
pub const DEFAULT_PARTNER_SELECTION: &str = "uniform";

fn strategy(text: &str) -> Result<StrategyKind, String> {
    text.parse::<StrategyKind>()
        .map_err(|_| format!("valid strategies are {}", StrategyKind::names()))
}

/// Default `--tx-replace-after`.
pub const DEFAULT_TX_REPLACE_AFTER: &str = "60s";
/// Default `--max-fee-gwei` (see [`crate::node::DEFAULT_MAX_FEE_GWEI`] for why).
pub const DEFAULT_MAX_FEE_GWEI: u64 = crate::node::DEFAULT_MAX_FEE_GWEI;

fn positive_gwei(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("must be at least 1 gwei".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("must be a whole number of gwei".into()),
    }
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

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("must be a whole number".into()),
    }
}

fn wei(text: &str) -> Result<U256, String> {
    U256::from_str_radix(text, 10).map_err(|_| "must be a whole number of wei".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node_args(cli: Cli) -> NodeArgs {
        match cli.into_run() {
            Run::Node(args) => args,
            Run::Deploy(_) => panic!("expected node"),
        }
    }

    #[test]
    fn no_subcommand_means_node_with_defaults() {
        let args = node_args(Cli::try_parse_from(["tokennet"]).unwrap());
        assert_eq!(args.api_address.to_string(), "127.0.0.1:5001");
        assert_eq!(args.tx_timeout, Duration::from_secs(120));
        assert_eq!(args.sim_peers, 8);
        let args = node_args(
            Cli::try_parse_from(["tokennet", "node", "--sim-block-time", "250ms"]).unwrap(),
        );
        assert_eq!(args.sim_block_time, Duration::from_millis(250));
    }

    #[test]
    fn sim_tokens_defaults_to_one_and_takes_a_count() {
        let args = node_args(Cli::try_parse_from(["tokennet"]).unwrap());
        assert_eq!(args.sim_tokens, 1);
        let args =
            node_args(Cli::try_parse_from(["tokennet", "node", "--sim-tokens", "4"]).unwrap());
        assert_eq!(args.sim_tokens, 4);
        for bad in ["0", "many"] {
            let error = Cli::try_parse_from(["tokennet", "--sim-tokens", bad]).unwrap_err();
            assert!(error.to_string().contains("--sim-tokens"), "{bad}: {error}");
        }
    }

    #[test]
    fn replacement_flags_have_defaults_and_name_themselves_when_wrong() {
        let args = node_args(Cli::try_parse_from(["tokennet"]).unwrap());
        assert_eq!(args.tx_replace_after, Duration::from_secs(60));
        assert_eq!(args.max_fee_gwei, 200);
        let args = node_args(
            Cli::try_parse_from([
                "tokennet",
                "node",
                "--tx-replace-after",
                "5s",
                "--max-fee-gwei",
                "30",
            ])
            .unwrap(),
        );
        assert_eq!(args.tx_replace_after, Duration::from_secs(5));
        assert_eq!(args.max_fee_gwei, 30);
        for (flag, bad) in [
            ("--tx-replace-after", "0s"),
            ("--tx-replace-after", "later"),
            ("--max-fee-gwei", "0"),
            ("--max-fee-gwei", "1.5"),
        ] {
            let error = Cli::try_parse_from(["tokennet", flag, bad]).unwrap_err();
            assert!(error.to_string().contains(flag), "{flag} {bad}: {error}");
        }
    }

    #[test]
    fn bad_values_name_the_flag() {
        let error = Cli::try_parse_from(["tokennet", "--tx-timeout", "soon"]).unwrap_err();
        assert!(error.to_string().contains("--tx-timeout"), "{error}");
        let error = Cli::try_parse_from(["tokennet", "--sim-block-time", "0s"]).unwrap_err();
        assert!(error.to_string().contains("--sim-block-time"), "{error}");
    }

    #[test]
    fn chain_stall_timeout_is_optional_and_positive() {
        let args = node_args(Cli::try_parse_from(["tokennet"]).unwrap());
        assert_eq!(args.chain_stall_timeout, None);
        let args = node_args(
            Cli::try_parse_from(["tokennet", "node", "--chain-stall-timeout", "90s"]).unwrap(),
        );
        assert_eq!(args.chain_stall_timeout, Some(Duration::from_secs(90)));
        for bad in ["0s", "soon"] {
            let error =
                Cli::try_parse_from(["tokennet", "--chain-stall-timeout", bad]).unwrap_err();
            assert!(
                error.to_string().contains("--chain-stall-timeout"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn partner_selection_defaults_to_uniform_and_names_the_valid_ones() {
        let args = node_args(Cli::try_parse_from(["tokennet"]).unwrap());
        assert_eq!(args.partner_selection, StrategyKind::Uniform);
        assert_eq!(
            DEFAULT_PARTNER_SELECTION.parse::<StrategyKind>(),
            Ok(StrategyKind::default())
        );
        for kind in StrategyKind::ALL {
            let args = node_args(
                Cli::try_parse_from(["tokennet", "--partner-selection", kind.name()]).unwrap(),
            );
            assert_eq!(args.partner_selection, kind);
        }
        let error = Cli::try_parse_from(["tokennet", "--partner-selection", "random"]).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("--partner-selection"), "{text}");
        assert!(text.contains(&StrategyKind::names()), "{text}");
    }
}
