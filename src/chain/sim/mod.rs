//! `SimChain`: the in-memory chain (SPEC §6).
//!
//! A [`Ledger`] (accounts, tokens, token networks, channels, the contract rules) behind a
//! thin async adapter that adds what a real chain has and a ledger does not: blocks every
//! `block_time`, an inclusion latency for each transaction, gas paid in ETH, and faults a
//! test can inject. Time is tokio's clock, so the same code runs on the wall clock in
//! `tokennet node` and on a paused, auto-advancing clock in tests.
//!
//! One `SimChain` is shared by any number of nodes: [`SimChain::for_account`] gives each
//! node a handle that signs as its own account, and that tells the chain which history the
//! node still needs: the chain keeps only that, and a bounded window ([`HistoryLimits`]).

mod faults;
mod history;
pub mod ledger;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use alloy_primitives::keccak256;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;
use tokio::time::Instant;

pub use faults::{Fault, FaultRule};
pub use history::{
    HistoryLen, HistoryLimits, DEFAULT_KEPT_EVENTS, DEFAULT_KEPT_RECEIPTS, DEFAULT_MAX_EVENTS,
};
pub use ledger::{Executed, Ledger, Revert};

use crate::chain::fees::{self, Fees};
use crate::chain::gas::{GasTable, GAS};
use crate::chain::{
    BlockInfo, Chain, ChainError, ChainEvent, EventRecord, PendingTx, Receipt, SignedTx,
    Transaction,
};
use crate::types::{Address, TokenAmount, B256, U256};
use history::{Cursor, History};

/// Default block interval of the simulated chain.
pub const DEFAULT_BLOCK_TIME: Duration = Duration::from_secs(1);
/// Default gas price: 1 gwei.
pub const DEFAULT_GAS_PRICE_WEI: u64 = 1_000_000_000;
/// Default settle timeout of the simulated chain's registry, in seconds.
pub const DEFAULT_SETTLE_TIMEOUT_SECS: u64 = 15;
/// Timestamp of the genesis block (2026-01-01T00:00:00Z).
pub const GENESIS_TIMESTAMP: u64 = 1_767_225_600;

/// How long a transaction waits before it can be included in a block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    /// Always the same.
    Fixed(Duration),
    /// Drawn uniformly from `min..=max` for each transaction, from the chain's seed.
    Uniform {
        /// Shortest latency.
        min: Duration,
        /// Longest latency.
        max: Duration,
    },
}

impl Default for Latency {
    fn default() -> Self {
        Latency::Fixed(Duration::ZERO)
    }
}

impl Latency {
    fn sample(&self, rng: &mut ChaCha8Rng) -> Duration {
        match *self {
            Latency::Fixed(latency) => latency,
            Latency::Uniform { min, max } if max > min => {
                let span = (max - min).as_nanos() as u64;
                min + Duration::from_nanos(rng.random_range(0..=span))
            }
            Latency::Uniform { min, .. } => min,
        }
    }
}

/// Knobs of a simulated chain. Build one with [`SimChain::builder`].
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seed of every random draw (latencies, derived addresses).
    pub seed: u64,
    /// Interval between blocks.
    pub block_time: Duration,
    /// Inclusion latency of every account without its own.
    pub latency: Latency,
    /// Gas price in wei.
    pub gas_price: U256,
    /// Settle timeout of new token networks, seconds.
    pub settle_timeout: u64,
    /// Blocks a transaction or event waits before it counts as confirmed.
    pub confirmation_blocks: u64,
    /// Gas charged per transaction kind.
    pub gas: GasTable,
    /// How much history (events, receipts) the chain keeps.
    pub history: HistoryLimits,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            block_time: DEFAULT_BLOCK_TIME,
            latency: Latency::default(),
            gas_price: U256::from(DEFAULT_GAS_PRICE_WEI),
            settle_timeout: DEFAULT_SETTLE_TIMEOUT_SECS,
            confirmation_blocks: 0,
            gas: GAS,
            history: HistoryLimits::default(),
        }
    }
}

/// Builds a [`SimChain`].
#[derive(Clone, Debug, Default)]
pub struct SimChainBuilder {
    config: SimConfig,
}

impl SimChainBuilder {
    /// Seed of the simulation.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// Interval between blocks.
    pub fn block_time(mut self, block_time: Duration) -> Self {
        self.config.block_time = block_time;
        self
    }

    /// Inclusion latency of every transaction (accounts can override it later).
    pub fn latency(mut self, latency: Latency) -> Self {
        self.config.latency = latency;
        self
    }

    /// Gas price in wei.
    pub fn gas_price(mut self, wei: U256) -> Self {
        self.config.gas_price = wei;
        self
    }

    /// Settle timeout of new token networks, in seconds (at least 1).
    pub fn settle_timeout(mut self, seconds: u64) -> Self {
        self.config.settle_timeout = seconds.max(1);
        self
    }

    /// Confirmation depth.
    pub fn confirmation_blocks(mut self, blocks: u64) -> Self {
        self.config.confirmation_blocks = blocks;
        self
    }

    /// How much history the chain keeps (see [`HistoryLimits`]).
    pub fn history(mut self, limits: HistoryLimits) -> Self {
        self.config.history = limits;
        self
    }

    /// Builds the chain and starts producing blocks. Must be called inside a tokio
    /// runtime. The returned handle acts for an administrator account with no funds,
    /// fit for setting the chain up; [`SimChain::for_account`] gives nodes theirs.
    pub fn build(self) -> SimChain {
        let config = self.config;
        let ledger = Ledger::new(config.seed, config.settle_timeout);
        let admin = ledger.derive_address("admin", 0);
        let (blocks, _) = watch::channel(0);
        let mut history = History::new(config.history);
        let cursor = history.bystander();
        let shared = Arc::new(Shared {
            state: Mutex::new(SimState {
                ledger,
                head: BlockInfo {
                    number: 0,
                    timestamp: GENESIS_TIMESTAMP,
                },
                started: Instant::now(),
                history,
                mempool: Vec::new(),
                accounts: HashMap::new(),
                faults: Vec::new(),
                latency_rng: ChaCha8Rng::seed_from_u64(config.seed ^ 0x5eed_1a7e),
                default_latency: config.latency,
                tx_counter: 0,
                mining_paused: false,
                replacements: HashSet::new(),
            }),
            blocks,
            config,
            instance: {
                use std::hash::{BuildHasher, Hasher};
                // Random keys per process and per call; no need for a cryptographic source.
                std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish()
            },
        });
        spawn_block_producer(Arc::downgrade(&shared));
        SimChain {
            shared,
            account: admin,
            cursor,
        }
    }
}

/// A transaction waiting in the mempool.
#[derive(Debug)]
struct MempoolEntry {
    pending: PendingTx,
    sender: Address,
    include_at: Instant,
    /// Gas it will cost (reserved from the sender's ETH until it is mined).
    cost: U256,
    fault: Option<Fault>,
}

/// Per-account bookkeeping of the adapter.
#[derive(Debug, Default)]
struct AccountState {
    nonce: u64,
    latency: Option<Latency>,
    /// No transaction of the account is included before its predecessor.
    last_include_at: Option<Instant>,
}

#[derive(Debug)]
struct SimState {
    ledger: Ledger,
    head: BlockInfo,
    started: Instant,
    /// Events and receipts, as long as someone may still ask for them.
    history: History,
    mempool: Vec<MempoolEntry>,
    accounts: HashMap<Address, AccountState>,
    faults: Vec<FaultRule>,
    latency_rng: ChaCha8Rng,
    /// Latency of accounts without their own.
    default_latency: Latency,
    tx_counter: u64,
    /// While set, blocks include no transaction.
    mining_paused: bool,
    /// Replacements signed by [`Chain::replace`] and not sent yet: sending one takes the
    /// place of its nonce's transaction instead of using a new nonce.
    replacements: HashSet<B256>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<SimState>,
    /// The head block number, for waiters.
    blocks: watch::Sender<u64>,
    config: SimConfig,
    /// Random per chain instance: two runs with one seed are still two chains, so that
    /// a state database of one is never taken for the other's.
    instance: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        // A panic while holding the lock leaves a half-applied block: nothing sensible can
        // continue from there, so propagate it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| panic!("simulated chain state poisoned: {poisoned}"))
    }
}

fn spawn_block_producer(shared: Weak<Shared>) {
    let Some(strong) = shared.upgrade() else {
        return;
    };
    let block_time = strong.config.block_time;
    drop(strong);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(Instant::now() + block_time, block_time);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticks.tick().await;
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let head = shared.lock().mine_block(&shared.config);
            shared.blocks.send_replace(head);
        }
    });
}

impl SimState {
    fn timestamp_now(&self) -> u64 {
        GENESIS_TIMESTAMP + self.started.elapsed().as_secs()
    }

    fn next_block(&mut self) -> BlockInfo {
        // Timestamps never go backwards and never repeat within a second's worth of
        // blocks going forward: at least the previous one.
        let timestamp = self.timestamp_now().max(self.head.timestamp);
        self.head = BlockInfo {
            number: self.head.number + 1,
            timestamp,
        };
        self.head
    }

    /// Mines one block with every transaction whose latency has passed.
    fn mine_block(&mut self, config: &SimConfig) -> u64 {
        let now = Instant::now();
        let block = self.next_block();
        if self.mining_paused {
            // Blocks go on (time passes) but include nothing, like a congested chain.
            return block.number;
        }
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.mempool)
            .into_iter()
            .partition(|entry| entry.include_at <= now && entry.fault != Some(Fault::NeverMine));
        self.mempool = waiting;
        for entry in ready {
            self.include(entry, block, config);
        }
        let confirmed = self.confirmed_head(config).number;
        self.history.prune(confirmed);
        block.number
    }

    fn include(&mut self, entry: MempoolEntry, block: BlockInfo, config: &SimConfig) {
        let name = entry.pending.transaction.name();
        let hash = entry.pending.hash;
        let gas_used = config.gas.gas_of(&entry.pending.transaction);
        if let Err(available) = self.ledger.charge_gas(&entry.sender, entry.cost) {
            let error = ChainError::InsufficientEth {
                transaction: name,
                needed: entry.cost,
                available,
            };
            self.history.add_receipt(
                hash,
                block.number,
                entry.sender,
                entry.pending.nonce,
                Err(error),
            );
            return;
        }
        let result = match entry.fault {
            Some(Fault::Revert(reason)) => Err(Revert(reason)),
            _ => self
                .ledger
                .execute(entry.sender, &entry.pending.transaction, block.timestamp),
        };
        let receipt = match result {
            Ok(outcome) => {
                self.record(block, outcome.events);
                Ok(Receipt {
                    hash,
                    block: block.number,
                    gas_used,
                    channel_id: outcome.channel_id,
                    token_network: outcome.token_network,
                })
            }
            Err(Revert(reason)) => Err(ChainError::Reverted {
                transaction: name,
                hash,
                reason,
            }),
        };
        self.history.add_receipt(
            hash,
            block.number,
            entry.sender,
            entry.pending.nonce,
            receipt,
        );
    }

    fn record(&mut self, block: BlockInfo, events: Vec<ChainEvent>) {
        self.history
            .record(events.into_iter().map(|event| EventRecord {
                block: block.number,
                timestamp: block.timestamp,
                event,
            }));
    }

    fn confirmed_head(&self, config: &SimConfig) -> BlockInfo {
        let number = self.head.number.saturating_sub(config.confirmation_blocks);
        BlockInfo {
            number,
            timestamp: self.head.timestamp,
        }
    }

    fn take_fault(&mut self, account: Address, transaction: Option<&Transaction>) -> Option<Fault> {
        let index = self
            .faults
            .iter()
            .position(|rule| rule.matches(account, transaction))?;
        let rule = &mut self.faults[index];
        let fault = rule.fault.clone();
        rule.remaining -= 1;
        if rule.remaining == 0 {
            self.faults.remove(index);
        }
        Some(fault)
    }

    /// ETH the account has promised to pending transactions.
    fn reserved_eth(&self, account: &Address) -> U256 {
        self.mempool
            .iter()
            .filter(|entry| &entry.sender == account)
            .map(|entry| entry.cost)
            .fold(U256::ZERO, |sum, cost| sum + cost)
    }
}

/// A handle on a simulated chain, acting for one account. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SimChain {
    shared: Arc<Shared>,
    account: Address,
    /// Where the node using this handle (and its clones) follows the chain: the chain
    /// keeps the events from there on.
    cursor: Arc<Cursor>,
}

impl SimChain {
    /// Starts building a simulated chain.
    pub fn builder() -> SimChainBuilder {
        SimChainBuilder::default()
    }

    /// A handle on the same chain that signs as `account`, for one node: until the last
    /// clone of it is dropped, the chain keeps the events the node has not read yet (all
    /// those still kept when the handle is made, until its first [`Chain::events`]).
    pub fn for_account(&self, account: Address) -> SimChain {
        let cursor = self.shared.lock().history.follower();
        SimChain {
            shared: Arc::clone(&self.shared),
            account,
            cursor,
        }
    }

    /// How much history the chain keeps now: it stays bounded however long the chain
    /// runs (see [`HistoryLimits`]).
    pub fn history_len(&self) -> HistoryLen {
        self.shared.lock().history.len()
    }

    /// The chain's configuration.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// A new account with `eth` wei, its address derived from the seed and `index`.
    pub fn create_account(&self, index: u64, eth: U256) -> Address {
        let mut state = self.shared.lock();
        let address = state.ledger.derive_address("account", index);
        state.ledger.set_eth_balance(address, eth);
        address
    }

    /// Sets an account's ETH balance.
    pub fn set_eth_balance(&self, account: Address, wei: U256) {
        self.shared.lock().ledger.set_eth_balance(account, wei);
    }

    /// Deploys a test token (with `mintFor`).
    pub fn deploy_test_token(&self) -> Address {
        self.shared.lock().ledger.deploy_token(true)
    }

    /// Gives `to` new tokens, outside any transaction (a genesis allocation).
    pub fn mint(&self, token: Address, to: Address, amount: U256) -> Result<(), Revert> {
        self.shared.lock().ledger.mint(token, to, amount)
    }

    /// Runs `transaction` as `sender` right now, in a block of its own, without gas or
    /// latency: for setting a chain up before nodes act on it.
    pub fn execute_now(
        &self,
        sender: Address,
        transaction: &Transaction,
    ) -> Result<Executed, Revert> {
        let outcome = {
            let mut state = self.shared.lock();
            let block = state.next_block();
            let outcome = state.ledger.execute(sender, transaction, block.timestamp)?;
            state.record(block, outcome.events.clone());
            outcome
        };
        let head = self.shared.lock().head.number;
        self.shared.blocks.send_replace(head);
        Ok(outcome)
    }

    /// Reads the ledger.
    pub fn with_ledger<T>(&self, read: impl FnOnce(&Ledger) -> T) -> T {
        read(&self.shared.lock().ledger)
    }

    /// Injects a fault: it hits the next matching calls or transactions.
    pub fn inject(&self, rule: FaultRule) {
        self.shared.lock().faults.push(rule);
    }

    /// Removes every injected fault not yet used.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Sets the inclusion latency of one account's transactions, or of every account
    /// without its own (`None`).
    pub fn set_latency(&self, account: Option<Address>, latency: Latency) {
        let mut state = self.shared.lock();
        match account {
            Some(account) => state.accounts.entry(account).or_default().latency = Some(latency),
            None => state.default_latency = latency,
        }
    }

    /// Stops (or resumes) including transactions in blocks; blocks keep coming. For tests
    /// that need transactions to wait, as `evm_setAutomine(false)` does on anvil.
    pub fn set_mining_paused(&self, paused: bool) {
        self.shared.lock().mining_paused = paused;
    }

    /// Transactions submitted and not yet mined.
    pub fn pending_transactions(&self) -> usize {
        self.shared.lock().mempool.len()
    }

    /// The head block (not only the confirmed one).
    pub fn head(&self) -> BlockInfo {
        self.shared.lock().head
    }

    /// The sender of `pending` if its receipt may have been dropped from the history.
    fn receipt_dropped(&self, state: &SimState, pending: &PendingTx) -> Option<Address> {
        let config = &self.shared.config;
        // Usually our own transaction; the others are looked for only on this rare path.
        std::iter::once(&self.account)
            .chain(state.history.accounts_with_dropped_receipts())
            .find(|sender| {
                state.history.receipt_dropped(sender, pending.nonce)
                    && tx_hash(**sender, pending.nonce, config.seed, self.shared.instance)
                        == pending.hash
            })
            .copied()
    }

    fn rpc_fault(&self) -> Result<(), ChainError> {
        match self.shared.lock().take_fault(self.account, None) {
            Some(Fault::RpcFailure(message)) => Err(ChainError::Rpc(message)),
            _ => Ok(()),
        }
    }
}

/// The hash of a simulated transaction: fixed by its sender, nonce and chain.
fn tx_hash(sender: Address, nonce: u64, seed: u64, instance: u64) -> B256 {
    keccak256(
        [
            sender.as_slice(),
            &nonce.to_be_bytes(),
            &seed.to_be_bytes(),
            &instance.to_be_bytes(),
        ]
        .concat(),
    )
}

impl Chain for SimChain {
    fn our_address(&self) -> Address {
        self.account
    }

    async fn latest_block(&self) -> Result<BlockInfo, ChainError> {
        self.rpc_fault()?;
        Ok(self.shared.lock().confirmed_head(&self.shared.config))
    }

    async fn gas_price(&self) -> Result<U256, ChainError> {
        self.rpc_fault()?;
        Ok(self.shared.config.gas_price)
    }

    async fn eth_balance(&self, owner: Address) -> Result<U256, ChainError> {
        self.rpc_fault()?;
        Ok(self.shared.lock().ledger.eth_balance(&owner))
    }

    async fn token_balance(
        &self,
        token: Address,
        owner: Address,
    ) -> Result<TokenAmount, ChainError> {
        self.rpc_fault()?;
        Ok(TokenAmount(
            self.shared.lock().ledger.token_balance(&token, &owner),
        ))
    }

    async fn token_network(&self, token: Address) -> Result<Option<Address>, ChainError> {
        self.rpc_fault()?;
        Ok(self.shared.lock().ledger.token_network_of(&token))
    }

    async fn settle_timeout(&self, token_network: Address) -> Result<u64, ChainError> {
        self.rpc_fault()?;
        self.shared
            .lock()
            .ledger
            .token_network(&token_network)
            .map(|network| network.settle_timeout)
            .ok_or_else(|| ChainError::Rpc(format!("no token network at {token_network}")))
    }

    async fn events(&self, from: u64, to: u64) -> Result<Vec<EventRecord>, ChainError> {
        self.rpc_fault()?;
        let state = self.shared.lock();
        let to = to.min(state.confirmed_head(&self.shared.config).number);
        state.history.events(&self.cursor, from, to)
    }

    async fn sign(&self, transaction: Transaction) -> Result<SignedTx, ChainError> {
        let config = &self.shared.config;
        let mut state = self.shared.lock();
        let account = state.accounts.entry(self.account).or_default();
        account.nonce += 1;
        let nonce = account.nonce;
        let hash = tx_hash(self.account, nonce, config.seed, self.shared.instance);
        Ok(SignedTx {
            hash,
            nonce,
            transaction,
            raw: Default::default(),
            fees: Fees::legacy(config.gas_price.saturating_to()),
        })
    }

    async fn send(&self, signed: SignedTx) -> Result<PendingTx, ChainError> {
        let config = &self.shared.config;
        let mut state = self.shared.lock();
        let transaction = signed.transaction;
        let fault = state.take_fault(self.account, Some(&transaction));
        if let Some(Fault::RpcFailure(message)) = fault {
            return Err(ChainError::Rpc(message));
        }
        // A replacement takes the place of the transaction with its nonce in the mempool
        // if it offers enough more, as a real node's pool.
        let replaced = if state.replacements.remove(&signed.hash) {
            let Some(index) = state
                .mempool
                .iter()
                .position(|e| e.sender == self.account && e.pending.nonce == signed.nonce)
            else {
                return Err(ChainError::Rpc(format!(
                    "nonce too low: nonce {} was mined already",
                    signed.nonce
                )));
            };
            if !fees::is_enough_to_replace(state.mempool[index].pending.fees, signed.fees) {
                return Err(ChainError::Rpc(
                    "replacement transaction underpriced".into(),
                ));
            }
            Some(index)
        } else {
            None
        };
        let cost =
            U256::from(signed.fees.max_fee_per_gas) * U256::from(config.gas.gas_of(&transaction));
        let old_cost = replaced.map_or(U256::ZERO, |index| state.mempool[index].cost);
        let available = state
            .ledger
            .eth_balance(&self.account)
            .saturating_sub(state.reserved_eth(&self.account).saturating_sub(old_cost));
        if available < cost {
            return Err(ChainError::InsufficientEth {
                transaction: transaction.name(),
                needed: cost,
                available,
            });
        }
        state.tx_counter += 1;
        let default_latency = state.default_latency;
        let account_latency = state.accounts.get(&self.account).and_then(|a| a.latency);
        let latency = account_latency
            .unwrap_or(default_latency)
            .sample(&mut state.latency_rng);
        let account = state.accounts.entry(self.account).or_default();
        let mut include_at = Instant::now() + latency;
        if let Some(previous) = account.last_include_at {
            include_at = include_at.max(previous);
        }
        account.last_include_at = Some(include_at);
        let pending = PendingTx {
            hash: signed.hash,
            nonce: signed.nonce,
            transaction,
            fees: signed.fees,
        };
        if let Some(index) = replaced {
            state.mempool.remove(index);
        }
        state.mempool.push(MempoolEntry {
            pending: pending.clone(),
            sender: self.account,
            include_at,
            cost,
            fault,
        });
        Ok(pending)
    }

    async fn block_hash(&self, number: u64) -> Result<Option<B256>, ChainError> {
        self.rpc_fault()?;
        let head = self.shared.lock().head.number;
        // The simulated chain never reorganises: a block's hash is fixed by the chain
        // instance and its number.
        Ok((number <= head).then(|| {
            keccak256(
                [
                    &self.shared.instance.to_be_bytes()[..],
                    &number.to_be_bytes()[..],
                ]
                .concat(),
            )
        }))
    }

    async fn allowance(
        &self,
        token: Address,
        owner: Address,
        spender: Address,
    ) -> Result<U256, ChainError> {
        self.rpc_fault()?;
        Ok(self
            .shared
            .lock()
            .ledger
            .allowance(&token, &owner, &spender))
    }

    async fn identity(&self) -> Result<String, ChainError> {
        Ok(format!(
            "simulated chain, seed {}, instance {:016x}",
            self.shared.config.seed, self.shared.instance
        ))
    }

    async fn confirm(&self, pending: &PendingTx) -> Result<Receipt, ChainError> {
        let mut blocks = self.shared.blocks.subscribe();
        loop {
            {
                let state = self.shared.lock();
                if let Some((mined_in, receipt)) = state.history.receipt(&pending.hash) {
                    let confirmed = state.confirmed_head(&self.shared.config).number;
                    if mined_in <= confirmed {
                        return receipt.clone();
                    }
                } else if !state.mempool.iter().any(|e| e.pending.hash == pending.hash) {
                    if let Some(sender) = self.receipt_dropped(&state, pending) {
                        // It may have been mined: saying "dropped" would invite sending it
                        // again, so say what is known.
                        return Err(ChainError::Rpc(format!(
                            "history pruned: the simulated chain no longer keeps the receipt \
                             of {} {} (nonce {} of {sender}); it keeps the newest {} receipts",
                            pending.transaction.name(),
                            pending.hash,
                            pending.nonce,
                            self.shared.config.history.receipts
                        )));
                    }
                    return Err(ChainError::Dropped {
                        transaction: pending.transaction.name(),
                        hash: pending.hash,
                    });
                }
            }
            if blocks.changed().await.is_err() {
                return Err(ChainError::Rpc("the simulated chain stopped".into()));
            }
        }
    }

    async fn replace(
        &self,
        stuck: &PendingTx,
        max_fee_per_gas: u128,
    ) -> Result<Option<SignedTx>, ChainError> {
        let config = &self.shared.config;
        let market = Fees::legacy(config.gas_price.saturating_to());
        let Some(fees) = fees::bump(stuck.fees, market, max_fee_per_gas) else {
            return Ok(None);
        };
        // The first signature's hash, with the new fee: another transaction of one nonce.
        let hash = keccak256(
            [
                self.account.as_slice(),
                &stuck.nonce.to_be_bytes(),
                &config.seed.to_be_bytes(),
                &self.shared.instance.to_be_bytes(),
                &fees.max_fee_per_gas.to_be_bytes(),
            ]
            .concat(),
        );
        self.shared.lock().replacements.insert(hash);
        Ok(Some(SignedTx {
            hash,
            nonce: stuck.nonce,
            transaction: stuck.transaction.clone(),
            raw: Default::default(),
            fees,
        }))
    }

    fn poll_interval(&self) -> Duration {
        self.shared.config.block_time
    }
}
