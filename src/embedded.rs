//! The embedded network of `tokennet node` without `--eth-rpc-endpoint` (SPEC §6): a
//! simulated chain with a demo token (or several, `--sim-tokens`) and its token network,
//! peers that have already joined each of them (and really run the connection manager,
//! so they fund the channels we open to them), and our funded account.

use std::time::Duration;

use crate::chain::sim::{Latency, Revert, SimChain};
use crate::chain::{Chain, Transaction};
use crate::connection::{ConnectionParams, JoinableFraction};
use crate::node::{Node, NodeError};
use crate::types::{Address, TokenAmount, U256};

/// Decimals of the demo token.
pub const DEMO_TOKEN_DECIMALS: u32 = 18;
/// Default number of peers.
pub const DEFAULT_PEERS: usize = 8;
/// Default number of demo tokens.
pub const DEFAULT_TOKENS: usize = 1;
/// Default ETH of our account and of each peer: 10 ETH.
pub const DEFAULT_ETH_BALANCE_WEI: u128 = 10_000_000_000_000_000_000;
/// Default demo tokens of our account and of each peer, in whole tokens (of each demo
/// token).
pub const DEFAULT_TOKEN_BALANCE_UNITS: u64 = 1_000;
/// What each peer committed to each demo token network, in whole tokens.
pub const PEER_FUNDS_UNITS: u64 = 100;
/// The channel target of each peer: every peer starts with this many funded channels.
pub const PEER_CHANNEL_TARGET: u32 = 2;

/// One whole demo token in its smallest unit.
pub fn one_token() -> U256 {
    U256::from(10u64).pow(U256::from(DEMO_TOKEN_DECIMALS))
}

/// How to set the embedded network up.
#[derive(Clone, Debug)]
pub struct EmbeddedConfig {
    /// Number of peers.
    pub peers: usize,
    /// Number of demo tokens, each with its token network joined by every peer (at least
    /// one is always created).
    pub tokens: usize,
    /// Seed of the chain and the nodes.
    pub seed: u64,
    /// Block interval.
    pub block_time: Duration,
    /// Inclusion latency of every transaction.
    pub tx_latency: Duration,
    /// ETH of our account and of each peer, in wei.
    pub eth_balance: U256,
    /// Demo tokens of our account and of each peer, in whole tokens of each demo token.
    pub token_balance_units: u64,
    /// Settle timeout of the demo token networks.
    pub settle_timeout: Duration,
    /// Confirmation depth.
    pub confirmation_blocks: u64,
    /// Time a transaction may take to be mined.
    pub tx_timeout: Duration,
    /// Where our node keeps its state; `None`: in memory.
    pub datadir: Option<std::path::PathBuf>,
    /// Our node's strategy for joins that name none (`--partner-selection`).
    pub partner_selection: crate::connection::strategy::StrategyKind,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self {
            peers: DEFAULT_PEERS,
            tokens: DEFAULT_TOKENS,
            seed: 0,
            block_time: crate::chain::sim::DEFAULT_BLOCK_TIME,
            tx_latency: Duration::ZERO,
            eth_balance: U256::from(DEFAULT_ETH_BALANCE_WEI),
            token_balance_units: DEFAULT_TOKEN_BALANCE_UNITS,
            settle_timeout: Duration::from_secs(crate::chain::sim::DEFAULT_SETTLE_TIMEOUT_SECS),
            confirmation_blocks: 0,
            tx_timeout: crate::node::DEFAULT_TX_TIMEOUT,
            datadir: None,
            partner_selection: Default::default(),
        }
    }
}

/// One demo token and its token network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoToken {
    /// The token.
    pub token: Address,
    /// Its token network.
    pub token_network: Address,
}

/// The running embedded network.
pub struct EmbeddedNetwork {
    /// The chain, acting for its administrator.
    pub chain: SimChain,
    /// The first demo token (the only one by default).
    pub token: Address,
    /// Its token network.
    pub token_network: Address,
    /// Every demo token with its token network, in creation order; the first is
    /// [`EmbeddedNetwork::token`].
    pub tokens: Vec<DemoToken>,
    /// Our node.
    pub node: Node<SimChain>,
    /// The peers' nodes.
    pub peers: Vec<Node<SimChain>>,
}

/// Why the embedded network could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// A genesis transaction broke a contract rule (a bug in the set-up).
    #[error("setting up the simulated chain failed: {0}")]
    Genesis(#[from] Revert),
    /// A peer could not take on its connection manager.
    #[error("starting a simulated peer failed")]
    Peer(#[from] NodeError),
    /// Our node's state could not be opened.
    #[error("opening our node's state")]
    OurState(#[source] NodeError),
}

/// Builds the chain, its genesis state and every node, and waits until our node follows
/// the chain. Must be called inside a tokio runtime.
pub async fn start(config: &EmbeddedConfig) -> Result<EmbeddedNetwork, EmbeddedError> {
    let chain = SimChain::builder()
        .seed(config.seed)
        .block_time(config.block_time)
        .latency(Latency::Fixed(config.tx_latency))
        .settle_timeout(config.settle_timeout.as_secs_f64().ceil() as u64)
        .confirmation_blocks(config.confirmation_blocks)
        .build();
    let admin = chain.our_address();
    let mut demo_tokens = Vec::with_capacity(config.tokens.max(1));
    for _ in 0..config.tokens.max(1) {
        let token = chain.deploy_test_token();
        let token_network = chain
            .execute_now(admin, &Transaction::RegisterToken { token })?
            .token_network
            .ok_or_else(|| Revert("registration created no token network".into()))?;
        demo_tokens.push(DemoToken {
            token,
            token_network,
        });
    }
    let first = demo_tokens[0];

    let tokens = U256::from(config.token_balance_units) * one_token();
    let us = chain.create_account(0, config.eth_balance);
    let peers: Vec<Address> = (1..=config.peers as u64)
        .map(|index| chain.create_account(index, config.eth_balance))
        .collect();
    let peer_params = ConnectionParams {
        partner_selection: Default::default(),
        funds: U256::from(PEER_FUNDS_UNITS) * one_token(),
        initial_channel_target: PEER_CHANNEL_TARGET,
        joinable_funds_target: JoinableFraction::from_billionths(400_000_000),
    };
    for demo in &demo_tokens {
        chain.mint(demo.token, us, tokens)?;
        for peer in &peers {
            chain.mint(demo.token, *peer, tokens)?;
            let approve = Transaction::Approve {
                token: demo.token,
                spender: demo.token_network,
                amount: TokenAmount(tokens),
            };
            chain.execute_now(*peer, &approve)?;
        }
        open_peer_ring(
            &chain,
            demo.token_network,
            &peers,
            peer_params.per_partner(),
        )?;
    }

    let mut builder = Node::builder(chain.for_account(us))
        .seed(config.seed)
        .partner_selection(config.partner_selection)
        .tx_timeout(config.tx_timeout);
    if let Some(dir) = &config.datadir {
        builder = builder.datadir(dir);
    }
    let node = builder.open().await.map_err(EmbeddedError::OurState)?;
    let mut peer_nodes = Vec::with_capacity(peers.len());
    for peer in &peers {
        let peer_node = Node::builder(chain.for_account(*peer))
            .seed(config.seed)
            .tx_timeout(config.tx_timeout)
            .start();
        for demo in &demo_tokens {
            peer_node.adopt_connection(demo.token, peer_params).await?;
        }
        peer_nodes.push(peer_node);
    }
    node.wait_ready().await;
    Ok(EmbeddedNetwork {
        chain,
        token: first.token,
        token_network: first.token_network,
        tokens: demo_tokens,
        node,
        peers: peer_nodes,
    })
}

/// Each peer opens a channel to the next one around a ring and both fund it, so that
/// every peer starts with its target of funded channels.
fn open_peer_ring(
    chain: &SimChain,
    token_network: Address,
    peers: &[Address],
    deposit: U256,
) -> Result<(), Revert> {
    if peers.len() < 2 {
        return Ok(());
    }
    // With two peers the ring is a single channel.
    let links = if peers.len() == 2 { 1 } else { peers.len() };
    for i in 0..links {
        let (a, b) = (peers[i], peers[(i + 1) % peers.len()]);
        let opened = chain.execute_now(
            a,
            &Transaction::OpenChannelWithDeposit {
                token_network,
                partner: b,
                total_deposit: TokenAmount(deposit),
            },
        )?;
        let channel_id = opened
            .channel_id
            .ok_or_else(|| Revert("open returned no channel".into()))?;
        chain.execute_now(
            b,
            &Transaction::SetTotalDeposit {
                token_network,
                channel_id,
                partner: a,
                total_deposit: TokenAmount(deposit),
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn several_demo_tokens_each_with_its_network_and_peers() {
        let config = EmbeddedConfig {
            peers: 4,
            tokens: 3,
            ..EmbeddedConfig::default()
        };
        let network = start(&config).await.expect("the embedded network starts");
        assert_eq!(network.tokens.len(), 3);
        assert_eq!(network.tokens[0].token, network.token);
        assert_eq!(network.tokens[0].token_network, network.token_network);
        let registered = network.node.tokens();
        for demo in &network.tokens {
            assert!(registered.contains(&demo.token), "{demo:?} not registered");
            assert_eq!(
                network.node.token_network(&demo.token),
                Some(demo.token_network)
            );
            let balance = network
                .chain
                .token_balance(demo.token, network.node.address())
                .await
                .expect("our balance");
            assert_eq!(
                balance.get(),
                U256::from(DEFAULT_TOKEN_BALANCE_UNITS) * one_token()
            );
            for peer in &network.peers {
                assert!(
                    peer.connection_manager(&demo.token).is_some(),
                    "a peer has no connection manager for {demo:?}"
                );
                let open = peer
                    .channels(Some(demo.token))
                    .iter()
                    .filter(|c| c.channel.phase == crate::node::ChannelPhase::Opened)
                    .count();
                assert_eq!(open, PEER_CHANNEL_TARGET as usize);
            }
        }
        let distinct: std::collections::HashSet<_> =
            network.tokens.iter().map(|d| d.token).collect();
        assert_eq!(distinct.len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_tokens_still_makes_one() {
        let config = EmbeddedConfig {
            peers: 2,
            tokens: 0,
            ..EmbeddedConfig::default()
        };
        let network = start(&config).await.expect("the embedded network starts");
        assert_eq!(network.tokens.len(), 1);
    }
}
