//! `Node<C: Chain>`: the runtime around the connection policy.
//!
//! It follows the chain's events into its [`View`], feeds the policy, executes the
//! policy's actions through the chain, and serializes the work of each token network:
//! a join, a leave, a retry or a reaction to a partner's deposit in one token network
//! waits for the one in progress there, while other token networks and every read go on
//! at once.

mod chain_watch;
mod connection_detail;
pub mod datadir;
mod decisions;
mod error;
mod executor;
mod follower;
mod plan;
mod refusal;
pub mod store;
mod transactions;
pub mod view;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;

pub use chain_watch::{
    ChainHealth, DEFAULT_CHAIN_STALL_TIMEOUT, DEFAULT_SIM_STALL_BLOCKS, IDENTITY_CHECK_POLLS,
};
pub use connection_detail::ConnectionDetail;
pub use error::NodeError;
pub use plan::{Plan, PlannedAction, WouldAnswer};
pub use transactions::transaction_for;
pub use view::{ChannelPhase, NetworkState, OurChannel, View};

use crate::chain::gas::{gas_reserve, ReserveInputs, GAS};
use crate::chain::{Chain, ChainError, Transaction};
use crate::connection::strategy::StrategyKind;
use crate::connection::{ConnectionManager, ConnectionParams};
use crate::types::{Address, TokenAmount, B256, U256};
use store::{ConnectionState, Loaded, Store, StoredConnection};

/// Default time a transaction may take to be mined before the call answers 408.
pub const DEFAULT_TX_TIMEOUT: Duration = Duration::from_secs(120);
/// Default time a transaction waits for inclusion before it is replaced with higher fees
/// (SPEC §7): about five blocks of a real chain, long enough not to outbid ourselves in a
/// block that is merely late.
pub const DEFAULT_TX_REPLACE_AFTER: Duration = Duration::from_secs(60);
/// Default cap on the fee per gas of a replacement, in gwei: ten times the base fee of a
/// busy day on mainnet, so that bumps clear any ordinary spike, while a runaway one costs
/// at most 200 gwei × ~150,000 gas ≈ 0.03 ETH for a channel open.
pub const DEFAULT_MAX_FEE_GWEI: u64 = 200;
/// The reveal timeout reported in channel objects (no payments, so nothing uses it).
pub const DEFAULT_REVEAL_TIMEOUT: u64 = 50;

/// Knobs of a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Time a transaction may take to be mined.
    pub tx_timeout: Duration,
    /// Seed of the partner choices.
    pub seed: u64,
    /// Time a transaction waits for inclusion before it is replaced with higher fees,
    /// and again after each further period.
    pub tx_replace_after: Duration,
    /// The most a replacement offers per gas, in wei.
    pub max_fee_per_gas: u128,
    /// No new head for this long: the chain is reported stalled.
    pub chain_stall_timeout: Duration,
    /// The strategy of a join that names none (`--partner-selection`).
    pub partner_selection: StrategyKind,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            tx_timeout: DEFAULT_TX_TIMEOUT,
            seed: 0,
            tx_replace_after: DEFAULT_TX_REPLACE_AFTER,
            max_fee_per_gas: u128::from(DEFAULT_MAX_FEE_GWEI) * crate::chain::fees::WEI_PER_GWEI,
            chain_stall_timeout: DEFAULT_CHAIN_STALL_TIMEOUT,
            partner_selection: StrategyKind::default(),
        }
    }
}

/// Builds and starts a [`Node`].
#[derive(Debug)]
pub struct NodeBuilder<C: Chain> {
    chain: C,
    config: NodeConfig,
    datadir: Option<std::path::PathBuf>,
}

impl<C: Chain> NodeBuilder<C> {
    /// Time a transaction may take to be mined.
    pub fn tx_timeout(mut self, timeout: Duration) -> Self {
        self.config.tx_timeout = timeout;
        self
    }

    /// Time a transaction waits for inclusion before it is replaced with the same nonce
    /// and higher fees, and again after each further period.
    pub fn tx_replace_after(mut self, period: Duration) -> Self {
        self.config.tx_replace_after = period;
        self
    }

    /// The most a replacement offers per gas, in wei; at the cap the node keeps waiting.
    pub fn max_fee_per_gas(mut self, wei: u128) -> Self {
        self.config.max_fee_per_gas = wei;
        self
    }

    /// Seed of the partner choices (with the node's address, so that nodes sharing a
    /// seed still choose differently).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// No new head for this long: `/status` says `stalled` (`--chain-stall-timeout`).
    pub fn chain_stall_timeout(mut self, timeout: Duration) -> Self {
        self.config.chain_stall_timeout = timeout;
        self
    }

    /// The strategy of a join whose body names none (`--partner-selection`).
    pub fn partner_selection(mut self, kind: StrategyKind) -> Self {
        self.config.partner_selection = kind;
        self
    }

    /// Keeps the node's state in a SQLite database in `dir` (created if needed), so that
    /// a restart continues where the node stopped. Without it, state lives in memory.
    pub fn datadir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.datadir = Some(dir.into());
        self
    }

    /// Opens the state (the `datadir` database, refused if it belongs to another account
    /// or chain, or was written by a newer tokennet), loads it, and starts following the
    /// chain from where the state ends. Must be called inside a tokio runtime.
    pub async fn open(self) -> Result<Node<C>, NodeError> {
        // What the running node checks the chain against (SPEC §7, hardening item 8).
        let identity = self.chain.deployment_identity().await?;
        let store = match &self.datadir {
            Some(dir) => {
                let store = Store::open(dir).map_err(NodeError::store)?;
                let identity = self.chain.identity().await?;
                store
                    .bind(self.chain.our_address(), &identity)
                    .map_err(NodeError::store)?;
                store
            }
            None => Store::in_memory().map_err(NodeError::store)?,
        };
        let loaded = store.load().map_err(NodeError::store)?;
        if loaded.cursor.is_some() {
            tracing::info!(
                database = store.path(),
                events = loaded.events.len(),
                cursor = loaded.cursor,
                connections = loaded.connections.len(),
                "state loaded; catching up with the chain"
            );
        }
        Ok(self.start_with(Arc::new(store), loaded, Some(identity)))
    }

    /// Starts following the chain with its state in memory. Must be called inside a
    /// tokio runtime. For a node whose state must survive a restart, use
    /// [`NodeBuilder::datadir`] and [`NodeBuilder::open`].
    pub fn start(self) -> Node<C> {
        // An in-memory SQLite database fails to open only when memory is exhausted,
        // where nothing else would work either.
        #[allow(clippy::expect_used)]
        let store = Store::in_memory().expect("an in-memory SQLite database opens");
        self.start_with(Arc::new(store), Loaded::default(), None)
    }

    /// `identity`: the chain's [`Chain::deployment_identity`] at the start; `None`: the
    /// follower reads it first thing.
    fn start_with(self, store: Arc<Store>, loaded: Loaded, identity: Option<String>) -> Node<C> {
        let us = self.chain.our_address();
        let rng = partner_rng(self.config.seed, us);
        let view = View::restore(
            us,
            &loaded.events,
            &loaded.participants,
            &loaded.connections,
        );
        // The networks created before the cursor: the chain reads their events from now
        // on without seeing their creation again.
        let known: Vec<Address> = view.networks().map(|network| network.address).collect();
        self.chain.follow_token_networks(&known);
        let processed = loaded.cursor.unwrap_or(0);
        let (sync, _) = watch::channel(SyncState {
            processed,
            head: processed,
            ready: false,
        });
        let mut chain_watch = chain_watch::ChainWatch::new(self.config.chain_stall_timeout);
        if let Some(identity) = identity {
            chain_watch.expect(identity);
        }
        let poll_interval = self.chain.poll_interval();
        let inner = Arc::new(Inner {
            watch: Mutex::new(chain_watch),
            chain: self.chain,
            config: self.config,
            us,
            view: Mutex::new(view),
            sync,
            queues: Mutex::new(HashMap::new()),
            settles: Mutex::new(HashMap::new()),
            rng: Mutex::new(rng),
            submission: tokio::sync::Mutex::new(()),
            shutting_down: std::sync::atomic::AtomicBool::new(false),
            draining: std::sync::atomic::AtomicBool::new(false),
            store,
        });
        let next_block = loaded.cursor.map_or(0, |block| block + 1);
        follower::spawn(Arc::downgrade(&inner), next_block, loaded.connections);
        chain_watch::spawn_stall_logger(Arc::downgrade(&inner), poll_interval);
        Node { inner }
    }
}

/// The random source of a node's partner choices: from the seed and the node's address,
/// so that nodes sharing a seed still choose differently. The simulator derives its nodes'
/// generators the same way, so that a node and its simulated twin choose alike.
pub fn partner_rng(seed: u64, address: Address) -> ChaCha8Rng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[12..].copy_from_slice(address.as_slice());
    ChaCha8Rng::from_seed(bytes)
}

/// How far the node has followed the chain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SyncState {
    /// Last block whose events are in the view.
    processed: u64,
    /// Newest confirmed block seen.
    head: u64,
    /// Whether the first catch-up is done.
    ready: bool,
}

/// Whether the node can take joins and leaves, and how the chain is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    /// Following the chain.
    Ready,
    /// Catching up.
    Syncing {
        /// Blocks left.
        blocks_to_sync: u64,
    },
    /// The endpoint serves another chain than the one the node started on: the node
    /// sends nothing (every call that would act answers 503) until it is back.
    WrongChain {
        /// What the node started on.
        expected: String,
        /// What the endpoint serves now.
        found: String,
    },
    /// The chain has produced no new block for longer than `--chain-stall-timeout`
    /// (or does not answer). Calls are still taken; they may answer 408 or 503.
    Stalled {
        /// Time since the head last advanced.
        head_age: Duration,
        /// The newest head seen.
        head: u64,
        /// Whether the first catch-up was done.
        synced: bool,
    },
}

/// One joined token network, as `GET /connections` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionSummary {
    /// The token.
    pub token: Address,
    /// `funds` of the last successful PUT; zero if never joined.
    pub funds: U256,
    /// Sum of our deposits over our open channels.
    pub sum_deposits: U256,
    /// Number of our open channels.
    pub channels: u64,
}

/// One of our channels with its token network, as the channel endpoints report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelSummary {
    /// The token.
    pub token: Address,
    /// The token network.
    pub token_network: Address,
    /// Settle timeout, seconds.
    pub settle_timeout: u64,
    /// The channel.
    pub channel: OurChannel,
}

/// The gas reserve (SPEC §4) and what we hold against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GasReserveCheck {
    /// Wei needed to finish the life of every channel, with the join's.
    pub required: U256,
    /// Our ETH balance, wei.
    pub balance: U256,
    /// The chain's gas price the reserve was computed at, wei.
    pub gas_price: U256,
}

/// A turn to take, one holder at a time (a token network's queue, a channel's settle).
type Turn = Arc<tokio::sync::Mutex<()>>;

pub(crate) struct Inner<C: Chain> {
    /// The chain's identity, head and answers, as the node watches them.
    watch: Mutex<chain_watch::ChainWatch>,
    chain: C,
    config: NodeConfig,
    us: Address,
    view: Mutex<View>,
    sync: watch::Sender<SyncState>,
    /// One queue per token network (keyed by its address).
    queues: Mutex<HashMap<Address, Arc<tokio::sync::Mutex<()>>>>,
    /// One lock per channel being settled, so that a leave and a reaction to a close
    /// never both send `settleChannel` for it (the second would revert).
    settles: Mutex<HashMap<(Address, crate::types::ChannelId), Turn>>,
    rng: Mutex<ChaCha8Rng>,
    /// Held while a transaction is being signed, journaled and handed to the chain, so
    /// that a shutdown never cuts a submission in half.
    submission: tokio::sync::Mutex<()>,
    /// Set once a shutdown has begun: no new join, leave or transaction starts.
    shutting_down: std::sync::atomic::AtomicBool,
    /// Set when a shutdown is announced ([`Node::begin_shutdown`]): no new join or leave
    /// starts, while those in progress may finish within the API's grace period.
    draining: std::sync::atomic::AtomicBool,
    /// What must survive a restart.
    store: Arc<Store>,
}

/// A node: one account, its connection managers, its view of the chain. Cheap to clone.
pub struct Node<C: Chain> {
    inner: Arc<Inner<C>>,
}

impl<C: Chain> Clone for Node<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

/// Runs `work` in its own task and waits for it: dropping the waiting future (a client
/// that disconnects) leaves the work running to its end.
async fn run_to_completion<T: Send + 'static>(
    work: impl Future<Output = Result<T, NodeError>> + Send + 'static,
) -> Result<T, NodeError> {
    match tokio::spawn(work).await {
        Ok(result) => result,
        Err(error) => Err(NodeError::Internal(format!("the task failed: {error}"))),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded data are plain maps updated in short critical sections that do not
    // panic; if one did, the data are still consistent, so keep going.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<C: Chain> Node<C> {
    /// Starts building a node on `chain`.
    pub fn builder(chain: C) -> NodeBuilder<C> {
        NodeBuilder {
            chain,
            config: NodeConfig::default(),
            datadir: None,
        }
    }

    /// Our address.
    pub fn address(&self) -> Address {
        self.inner.us
    }

    /// The strategy of a join whose body names none (`--partner-selection`).
    pub fn default_partner_selection(&self) -> StrategyKind {
        self.inner.config.partner_selection
    }

    /// The chain the node acts on.
    pub fn chain(&self) -> &C {
        &self.inner.chain
    }

    /// Whether the node follows the chain or is still catching up, and whether the chain
    /// is the one it started on and still produces blocks.
    pub fn status(&self) -> NodeStatus {
        let sync = *self.inner.sync.borrow();
        match self.chain_health() {
            ChainHealth::WrongChain { expected, found } => {
                NodeStatus::WrongChain { expected, found }
            }
            ChainHealth::Stalled { head_age, head } => NodeStatus::Stalled {
                head_age,
                head,
                synced: sync.ready,
            },
            ChainHealth::Healthy if sync.ready => NodeStatus::Ready,
            ChainHealth::Healthy => NodeStatus::Syncing {
                blocks_to_sync: sync.head.saturating_sub(sync.processed),
            },
        }
    }

    /// Waits until the first catch-up with the chain is done.
    pub async fn wait_ready(&self) {
        let mut sync = self.inner.sync.subscribe();
        // The sender lives as long as `self`, so `wait_for` cannot fail here.
        let _ = sync.wait_for(|state| state.ready).await;
    }

    /// Registered tokens, in registration order.
    pub fn tokens(&self) -> Vec<Address> {
        lock(&self.inner.view).tokens().collect()
    }

    /// The token network of `token`, as far as the view knows.
    pub fn token_network(&self, token: &Address) -> Option<Address> {
        lock(&self.inner.view).token_network_of(token)
    }

    /// Every token network where we have an open channel (SPEC §2.2).
    pub fn connections(&self) -> Vec<ConnectionSummary> {
        let view = lock(&self.inner.view);
        view.networks()
            .filter_map(|network| {
                let open = network
                    .channels
                    .values()
                    .filter(|c| c.phase == ChannelPhase::Opened)
                    .count();
                (open > 0).then(|| ConnectionSummary {
                    token: network.token,
                    funds: network.reported_funds,
                    sum_deposits: network.sum_open_deposits(),
                    channels: open as u64,
                })
            })
            .collect()
    }

    /// Our non-settled channels, of one token or all, ordered by token then identifier.
    pub fn channels(&self, token: Option<Address>) -> Vec<ChannelSummary> {
        let view = lock(&self.inner.view);
        let mut channels = Vec::new();
        for network in view.networks() {
            if token.is_some_and(|token| token != network.token) {
                continue;
            }
            let mut ours: Vec<OurChannel> = network.channels.values().copied().collect();
            ours.sort_by_key(|c| c.id);
            channels.extend(ours.into_iter().map(|channel| ChannelSummary {
                token: network.token,
                token_network: network.address,
                settle_timeout: network.settle_timeout,
                channel,
            }));
        }
        channels
    }

    /// Our non-settled channel with `partner` in the network of `token`.
    pub fn channel(&self, token: Address, partner: Address) -> Result<ChannelSummary, NodeError> {
        self.channels(Some(token))
            .into_iter()
            .find(|c| c.channel.partner == partner)
            .ok_or(NodeError::NoSuchChannel { token, partner })
    }

    /// The connection manager of `token`, if it was ever joined.
    pub fn connection_manager(&self, token: &Address) -> Option<ConnectionManager> {
        let view = lock(&self.inner.view);
        let network = view.token_network_of(token)?;
        view.network(&network)?.manager
    }

    /// Join (SPEC §2.3, §3): checks balances and the gas reserve, stores the parameters,
    /// opens and funds channels, and returns once every transaction is mined.
    ///
    /// The work runs in its own task: a caller that goes away (an HTTP client that
    /// disconnects) does not cut a join between two transactions.
    pub async fn join(&self, token: Address, params: ConnectionParams) -> Result<(), NodeError> {
        let node = self.clone();
        let result = self
            .bounded("join", async move { node.join_now(token, params).await })
            .await;
        if let Err(error) = &result {
            self.record_refusal(token, &params, error);
        }
        result
    }

    async fn join_now(&self, token: Address, params: ConnectionParams) -> Result<(), NodeError> {
        self.ensure_ready()?;
        let token_network = self.require_token_network(token).await?;
        let queue = self.queue(token_network);
        let _turn = queue.lock().await;
        self.ensure_ready()?;
        self.catch_up().await?;
        self.check_token_funds(token, token_network, &params)
            .await?;
        self.check_gas_reserve(Some((token_network, params)))
            .await?;
        let reported_funds = self
            .with_network(token_network, |n| n.reported_funds)
            .unwrap_or_default();
        self.persist_connection(
            token_network,
            token,
            params,
            ConnectionState::Joining,
            reported_funds,
        )?;
        self.with_network_mut(token_network, |network| match &mut network.manager {
            Some(manager) => manager.set_params(params),
            None => network.manager = Some(ConnectionManager::new(params)),
        });
        tracing::info!(
            token = %token,
            funds = %params.funds,
            target = params.initial_channel_target,
            joinable = params.joinable_funds_target.as_f64(),
            "joining token network"
        );
        self.open_channels(token_network).await?;
        self.complete_join(token_network, token, params)
    }

    /// Refuses (409) `funds` beyond our token balance plus what is already in our open
    /// channels of the network (SPEC §2.3, check 4): for a join and for its plan.
    async fn check_token_funds(
        &self,
        token: Address,
        token_network: Address,
        params: &ConnectionParams,
    ) -> Result<(), NodeError> {
        let balance = self.inner.chain.token_balance(token, self.inner.us).await?;
        let committed = self
            .with_network(token_network, |n| n.sum_open_deposits())
            .unwrap_or_default();
        let available = balance.get().saturating_add(committed);
        if params.funds > available {
            return Err(NodeError::InsufficientTokenBalance {
                token,
                funds: params.funds,
                available,
            });
        }
        Ok(())
    }

    /// Records that a join is done: `GET /connections` reports its funds from now on.
    fn complete_join(
        &self,
        token_network: Address,
        token: Address,
        params: ConnectionParams,
    ) -> Result<(), NodeError> {
        self.persist_connection(
            token_network,
            token,
            params,
            ConnectionState::Joined,
            params.funds,
        )?;
        self.with_network_mut(token_network, |network| {
            network.reported_funds = params.funds;
        });
        Ok(())
    }

    fn persist_connection(
        &self,
        token_network: Address,
        token: Address,
        params: ConnectionParams,
        state: ConnectionState,
        reported_funds: U256,
    ) -> Result<(), NodeError> {
        self.inner
            .store
            .save_connection(&StoredConnection {
                token_network,
                token,
                params,
                state,
                reported_funds,
            })
            .map_err(NodeError::store)
    }

    /// Leave (SPEC §2.4): stops the manager, closes every open channel we have in the
    /// network, waits until all are settled, and returns the partners of the closed ones.
    /// Like [`Node::join`], it runs to completion even if the caller goes away.
    pub async fn leave(&self, token: Address) -> Result<Vec<Address>, NodeError> {
        let node = self.clone();
        self.bounded("leave", async move { node.leave_now(token).await })
            .await
    }

    async fn leave_now(&self, token: Address) -> Result<Vec<Address>, NodeError> {
        self.ensure_ready()?;
        let token_network = self.require_token_network(token).await?;
        let queue = self.queue(token_network);
        let _turn = queue.lock().await;
        self.ensure_ready()?;
        let (params, reported_funds) = self
            .with_network(token_network, |network| {
                (network.manager.map(|m| *m.params()), network.reported_funds)
            })
            .unwrap_or_default();
        let params = params.unwrap_or(ConnectionParams {
            partner_selection: Default::default(),
            initial_channel_target: 0,
            ..ConnectionParams::with_funds(U256::ZERO)
        });
        self.persist_connection(
            token_network,
            token,
            params,
            ConnectionState::Leaving,
            reported_funds,
        )?;
        self.with_network_mut(token_network, |network| {
            let manager = network
                .manager
                .get_or_insert_with(|| ConnectionManager::new(params));
            manager.start_leaving();
        });
        tracing::info!(token = %token, "leaving token network");
        self.close_and_settle_all(token, token_network).await
    }

    /// Takes on a connection manager with `params` without sending anything: for a node
    /// whose channels already exist (the embedded network's peers, a restart).
    pub async fn adopt_connection(
        &self,
        token: Address,
        params: ConnectionParams,
    ) -> Result<(), NodeError> {
        self.wait_ready().await;
        let token_network = self.require_token_network(token).await?;
        self.with_network_mut(token_network, |network| {
            network.manager = Some(ConnectionManager::new(params));
        });
        self.complete_join(token_network, token, params)
    }

    /// Registers a token network for `token`; returns its address.
    /// Like a join, bounded by `--tx-timeout` of silence of the chain (408).
    pub async fn register_token(&self, token: Address) -> Result<Address, NodeError> {
        let node = self.clone();
        self.bounded("registration", async move {
            node.register_token_now(token).await
        })
        .await
    }

    async fn register_token_now(&self, token: Address) -> Result<Address, NodeError> {
        if self.inner.chain.token_network(token).await?.is_some() {
            return Err(NodeError::AlreadyRegistered { token });
        }
        let receipt = self
            .send_and_confirm(Transaction::RegisterToken { token })
            .await?;
        self.wait_synced(receipt.block).await?;
        receipt.token_network.ok_or_else(|| {
            NodeError::Chain(ChainError::Rpc(
                "registration receipt names no token network".into(),
            ))
        })
    }

    /// Mints test tokens (only tokens with `mintFor`); returns the transaction hash.
    /// Bounded like [`Node::register_token`].
    pub async fn mint(&self, token: Address, to: Address, amount: U256) -> Result<B256, NodeError> {
        let node = self.clone();
        self.bounded(
            "mint",
            async move { node.mint_now(token, to, amount).await },
        )
        .await
    }

    async fn mint_now(&self, token: Address, to: Address, amount: U256) -> Result<B256, NodeError> {
        let receipt = self
            .send_and_confirm(Transaction::MintFor {
                token,
                to,
                amount: TokenAmount(amount),
            })
            .await?;
        Ok(receipt.hash)
    }

    /// Announces a shutdown: new joins and leaves answer [`NodeError::ShuttingDown`]
    /// from now on, while those in progress go on (and send their transactions), so that
    /// they can still finish within the API's grace period. [`Node::shutdown`] follows.
    pub fn begin_shutdown(&self) {
        self.inner
            .draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Stops taking work and returns once no transaction submission is in progress:
    /// new joins, leaves and transactions answer [`NodeError::ShuttingDown`] from then
    /// on. Work already waiting for receipts is left as it is; the journal lets the next
    /// start pick it up. Then closes the state database: call it once the API has
    /// answered its requests (after `api::serve_with` returns), since work still running
    /// then finds the database closed and answers [`NodeError::ShuttingDown`].
    pub async fn shutdown(&self) {
        self.begin_shutdown();
        self.inner
            .shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let _no_submission_in_progress = self.inner.submission.lock().await;
        match self.inner.store.close() {
            Ok(()) => {
                tracing::info!("no transaction submission in progress; state database closed")
            }
            Err(error) => tracing::error!(%error, "closing the state database failed"),
        }
    }

    /// The state database, for operators' tools and tests.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Whether [`Node::shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner
            .shutting_down
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    fn ensure_ready(&self) -> Result<(), NodeError> {
        if self.is_shutting_down()
            || self
                .inner
                .draining
                .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(NodeError::ShuttingDown);
        }
        if let Some(wrong) = self.wrong_chain() {
            return Err(wrong);
        }
        let sync = *self.inner.sync.borrow();
        if sync.ready {
            // A stalled chain is not refused here: its transactions may still be mined,
            // and a join or leave is bounded by --tx-timeout anyway.
            Ok(())
        } else {
            Err(NodeError::Syncing {
                blocks_to_sync: sync.head.saturating_sub(sync.processed),
            })
        }
    }

    /// Refuses, before anything is signed, when the endpoint serves another chain than
    /// the one the node started on: checked live before every transaction, so that no
    /// transaction of ours ever reaches another chain, even between two checks of the
    /// follower. [`Node::submit`] calls it.
    pub(crate) async fn ensure_right_chain(&self) -> Result<(), NodeError> {
        if let Some(wrong) = self.wrong_chain() {
            return Err(wrong);
        }
        if self.check_identity().await? {
            Ok(())
        } else {
            Err(self.wrong_chain().unwrap_or_else(|| {
                NodeError::Internal("the chain's identity changed while it was checked".into())
            }))
        }
    }

    /// Waits until the view has applied every block up to the chain's head as it is now,
    /// so that a join (and its plan) decides on the participants of the latest blocks: a
    /// follower one poll behind would otherwise choose among fewer, or open a channel
    /// that a partner has just opened with us.
    pub(crate) async fn catch_up(&self) -> Result<(), NodeError> {
        let head = self.inner.chain.latest_block().await?.number;
        self.wait_synced(head).await
    }

    /// The token network of `token`, asking the chain when the view has not seen it yet.
    async fn require_token_network(&self, token: Address) -> Result<Address, NodeError> {
        if let Some(network) = self.token_network(&token) {
            return Ok(network);
        }
        if self.inner.chain.token_network(token).await?.is_none() {
            return Err(NodeError::UnregisteredToken { token });
        }
        // Registered, but the event is not in the view yet: catch up.
        let head = self.inner.chain.latest_block().await?.number;
        self.wait_synced(head).await?;
        self.token_network(&token)
            .ok_or(NodeError::UnregisteredToken { token })
    }

    fn queue(&self, token_network: Address) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(lock(&self.inner.queues).entry(token_network).or_default())
    }

    fn with_network<T>(
        &self,
        token_network: Address,
        read: impl FnOnce(&NetworkState) -> T,
    ) -> Option<T> {
        lock(&self.inner.view).network(&token_network).map(read)
    }

    fn with_network_mut<T>(
        &self,
        token_network: Address,
        change: impl FnOnce(&mut NetworkState) -> T,
    ) -> Option<T> {
        lock(&self.inner.view)
            .network_mut(&token_network)
            .map(change)
    }

    /// Refuses with 402 when our ETH does not cover the gas reserve (SPEC §4). `joining`
    /// replaces the parameters of one network by those of the join being checked.
    async fn check_gas_reserve(
        &self,
        joining: Option<(Address, ConnectionParams)>,
    ) -> Result<(), NodeError> {
        let reserve = self.gas_reserve(joining).await?;
        if reserve.balance < reserve.required {
            return Err(NodeError::GasReserve {
                required: reserve.required,
                available: reserve.balance,
            });
        }
        Ok(())
    }

    /// The gas reserve (SPEC §4) against our ETH, as [`Node::check_gas_reserve`] and a
    /// plan see it.
    async fn gas_reserve(
        &self,
        joining: Option<(Address, ConnectionParams)>,
    ) -> Result<GasReserveCheck, NodeError> {
        let gas_price = self.inner.chain.gas_price().await?;
        let available = self.inner.chain.eth_balance(self.inner.us).await?;
        let inputs = {
            let view = lock(&self.inner.view);
            let mut inputs = ReserveInputs::default();
            for network in view.networks() {
                let open = network.open_channels();
                inputs.open_channels += open.len() as u64;
                inputs.closed_channels += network
                    .channels
                    .values()
                    .filter(|c| matches!(c.phase, ChannelPhase::Closed { .. }))
                    .count() as u64;
                let manager = match joining {
                    Some((address, params)) if address == network.address => {
                        let mut manager = network.manager.unwrap_or(ConnectionManager::new(params));
                        manager.set_params(params);
                        Some(manager)
                    }
                    _ => network.manager,
                };
                if let Some(manager) = manager {
                    let policy_view = network.policy_view(self.inner.us, &open, U256::MAX);
                    inputs.channels_to_open += manager.channels_to_open(&policy_view);
                }
            }
            inputs
        };
        Ok(GasReserveCheck {
            required: gas_reserve(&GAS, gas_price, inputs),
            balance: available,
            gas_price,
        })
    }

    /// Waits until the view holds every event up to `block`, at most the tx timeout.
    async fn wait_synced(&self, block: u64) -> Result<(), NodeError> {
        let mut sync = self.inner.sync.subscribe();
        let caught_up = sync.wait_for(|state| state.ready && state.processed >= block);
        let outcome = tokio::time::timeout(self.inner.config.tx_timeout, caught_up)
            .await
            .map(|result| result.is_ok());
        match outcome {
            Ok(true) => Ok(()),
            // A wait on the chain bounded by --tx-timeout: 408, like a transaction not
            // mined in time, not a failure of the node.
            Ok(false) | Err(_) => Err(NodeError::NotSeen {
                block,
                timeout: self.inner.config.tx_timeout,
            }),
        }
    }
}
