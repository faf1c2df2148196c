//! The discrete-event engine: virtual time, a priority queue of events, the chain as a
//! [`Ledger`], and every simulated node running tokennet's connection-manager *policy*.
//!
//! The engine never decides what a node does: [`ConnectionManager`] does, as in the node.
//! What the engine adds is what the node's runtime does around it, at the same points:
//! - one queue of operations per node (join, retry, joining a partner's channel, leave,
//!   settle), each waiting for the previous one's transactions to be mined, as the
//!   node's per-token-network queue does;
//! - transactions included at the first block after their latency, in nonce order, gas
//!   paid from the node's ETH;
//! - reactions after each block: a partner's deposit → that node joins the channel; a new
//!   channel anywhere → every node that still wants partners runs a (coalesced) retry.
//!
//! A node reacts only to events that concern it; no event is broadcast to every node.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};

use rustc_hash::{FxHashMap as HashMap, FxHashSet};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokennet::chain::gas::{gas_reserve, ReserveInputs, GAS};
use tokennet::chain::sim::{Ledger, Revert};
use tokennet::chain::{ChainEvent, Transaction};
use tokennet::connection::{
    tokens_needed, Action, ConnectionManager, ConnectionParams, JoinableFraction, NetworkView,
    OpenChannel, Participants, RetryGate,
};
use tokennet::node::{partner_rng, transaction_for};
use tokennet::types::{Address, ChannelId, TokenAmount, BOOTSTRAP_ADDRESS, U256};

use crate::metrics::{Edge, SampleMetrics, Snapshot};
use crate::scenario::{Arrival, Scenario};
use crate::strategy::{GraphChange, PartnerStrategy, StrategyKind, StrategySampler};

/// Milliseconds of virtual time.
pub type Millis = u64;

/// Why a join failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinFailure {
    /// ETH below the gas reserve (the API's 402 before anything is sent).
    GasReserve,
    /// A transaction was not mined within the tx timeout (the API's 408).
    Timeout,
    /// A transaction could not be paid for (the API's 402 during the join).
    InsufficientEth,
    /// A transaction reverted (the API's 500).
    Reverted,
}

/// Where a simulated node is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Not arrived yet.
    Waiting,
    /// Joined (or joining): present in the network.
    Active,
    /// Closing and settling its channels.
    Leaving,
    /// Gone, every channel settled.
    Left,
    /// Its join was refused before anything was sent.
    Refused,
}

/// One operation in a node's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Join,
    Retry,
    JoinPartner(ChannelId),
    Leave,
    Settle(ChannelId),
}

/// Per-node state. Kept small: a million of these make a simulation.
struct SimNode {
    address: Address,
    cohort: u16,
    state: NodeState,
    manager: Option<ConnectionManager>,
    /// Our channels not yet settled (open or closed).
    channels: Vec<ChannelId>,
    /// Position in the node's partner-choice stream: the generator itself (hundreds of
    /// bytes) is rebuilt from the seed and the address when needed, so that a million
    /// nodes do not carry a million generators.
    rng_position: u128,
    queue: VecDeque<Op>,
    /// Transactions of the current operation not yet mined.
    in_flight: u32,
    current: Option<Op>,
    start_scheduled: bool,
    /// In `Engine::dirty`: its channels changed during the current block.
    dirty: bool,
    retry: RetryGate,
    /// No transaction of this node is included before its predecessor (nonce order).
    last_inclusion: Millis,
    /// ETH promised to transactions not yet mined.
    reserved_wei: U256,
    arrived_at: Option<Millis>,
    left_at: Option<Millis>,
    failure: Option<JoinFailure>,
    /// The parameters of its join, drawn at arrival.
    funds: U256,
    target: u32,
    joinable: JoinableFraction,
}

/// An open (or closed, not settled) channel, indexed by identifier.
#[derive(Clone, Copy, Debug)]
struct EdgeState {
    a: u32,
    b: u32,
    /// Deposits in token units. 128 bits hold any amount a scenario can mint, and halve
    /// the size of the hottest table of a million-node run.
    deposit_a: u128,
    deposit_b: u128,
    open: bool,
}

/// Node index of the bootstrap placeholder in edges.
const BOOTSTRAP_INDEX: u32 = u32::MAX;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Arrive(u32),
    Leave(u32),
    Mined {
        node: u32,
        tx: Box<Transaction>,
    },
    SettleDue {
        node: u32,
        channel: ChannelId,
    },
    StartOps(u32),
    /// After every transaction of a block: the reactions the block calls for.
    BlockEnd,
    Sample,
}

/// What a block calls for, in the order the node's view would report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Reaction {
    /// A channel opened somewhere: nodes that want partners retry.
    NewChannel,
    /// A partner's deposit grew: the node may join the channel.
    PartnerDeposit { node: u32, channel: ChannelId },
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Scheduled {
    time: Millis,
    seq: u64,
    event: Event,
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Counts of what happened, cumulative.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Counters {
    /// Nodes that arrived and tried to join.
    pub joins_started: u64,
    /// Joins refused: ETH below the gas reserve.
    pub joins_failed_gas_reserve: u64,
    /// Joins whose transactions took longer than the tx timeout.
    pub joins_failed_timeout: u64,
    /// Joins with a transaction that could not be paid for.
    pub joins_failed_insufficient_eth: u64,
    /// Joins with a reverted transaction.
    pub joins_failed_revert: u64,
    /// Transactions sent.
    pub transactions: u64,
    /// Transactions that reverted.
    pub transactions_reverted: u64,
    /// Transactions refused for lack of ETH.
    pub transactions_without_eth: u64,
    /// Retries of *open channels* run.
    pub retries: u64,
    /// Nodes that left and settled everything.
    pub leaves_completed: u64,
    /// Gas paid, in wei.
    #[serde(serialize_with = "u256_as_string")]
    pub gas_spent_wei: U256,
}

fn u256_as_string<S: serde::Serializer>(value: &U256, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&value.to_string())
}

/// One row of `timeseries.csv`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// Virtual time, hours.
    pub time_hours: f64,
    /// Graph metrics at that time.
    pub metrics: SampleMetrics,
    /// Counters at that time.
    pub counters: Counters,
    /// Open channels with a node that has left: it is still a participant on chain, so
    /// others' connection managers may still choose it, as Raiden's would.
    pub channels_to_departed: u64,
}

/// A node at the end of the run, for `nodes.csv`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeRecord {
    /// Index (0-based, in arrival order of creation).
    pub index: u32,
    /// Address.
    pub address: String,
    /// Cohort name.
    pub cohort: String,
    /// State at the end.
    pub state: NodeState,
    /// Arrival, hours.
    pub arrived_hours: Option<f64>,
    /// Departure, hours.
    pub left_hours: Option<f64>,
    /// Funds of its join, tokens.
    pub funds: f64,
    /// Open channels at the end.
    pub channels: u32,
    /// Sum of its deposits in open channels, tokens.
    pub capacity: f64,
    /// Why its join failed, if it did.
    pub failure: Option<JoinFailure>,
}

/// A channel open at the end of the run, for `channels.csv`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChannelRecord {
    /// Identifier.
    pub channel_id: u64,
    /// First participant's node index.
    pub a: u32,
    /// Second participant's node index.
    pub b: u32,
    /// First participant's deposit, tokens.
    pub deposit_a: f64,
    /// Second participant's deposit, tokens.
    pub deposit_b: f64,
}

/// Whole tokens (as a scenario writes them, with up to 6 decimals) to token units.
pub fn tokens_to_units(tokens: f64) -> U256 {
    let micro = (tokens.max(0.0) * 1e6).round() as u128;
    U256::from(micro) * U256::from(1_000_000_000_000u64)
}

/// Token units to whole tokens, for reports.
pub fn units_to_tokens(units: U256) -> f64 {
    let micro: u128 = (units / U256::from(1_000_000_000_000u64)).saturating_to();
    micro as f64 / 1e6
}

fn eth_to_wei(eth: f64) -> U256 {
    let gwei = (eth.max(0.0) * 1e9).round() as u128;
    U256::from(gwei) * U256::from(1_000_000_000u64)
}

fn millis(duration: Duration) -> Millis {
    duration.as_millis() as Millis
}

/// A simulation in progress.
pub struct Engine<'s> {
    scenario: &'s Scenario,
    ledger: Ledger,
    token: Address,
    network: Address,
    participants: Participants,
    nodes: Vec<SimNode>,
    index_of: HashMap<Address, u32>,
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    now: Millis,
    /// Events other than samples still queued: the run ends when none are left.
    pending_work: u64,
    edges: Vec<Option<EdgeState>>,
    wanting: BTreeSet<u32>,
    strategies: Vec<(StrategyKind, Box<dyn PartnerStrategy>)>,
    counters: Counters,
    samples: Vec<Sample>,
    gas_price_wei: U256,
    block_ms: Millis,
    tx_timeout_ms: Millis,
    settle_timeout_s: u64,
    end: Option<Millis>,
    check_conservation: bool,
    minted: U256,
    /// Reactions of the block being mined, deduplicated, in order of first occurrence.
    block_reactions: Vec<Reaction>,
    seen_reactions: FxHashSet<Reaction>,
    block_end_scheduled: bool,
    /// Draws of transaction latencies (kept apart from the nodes' partner choices).
    latency_rng: ChaCha8Rng,
    /// Node addresses by index, apart from the nodes: the hot lookups touch 20 bytes, not
    /// a whole node.
    addresses: Vec<Address>,
    /// Nodes whose channels changed during the current block.
    dirty: Vec<u32>,
    /// Whether a strategy keeps an index of capacities (computing them costs).
    tracks_capacity: bool,
    /// Every arrival, by time, and the next one to schedule.
    arrivals: Vec<(Millis, u32)>,
    next_arrival: usize,
}

/// What a run produced.
pub struct RunResult {
    /// Rows of `timeseries.csv`.
    pub samples: Vec<Sample>,
    /// The final snapshot of the channel graph.
    pub snapshot: Snapshot,
    /// Rows of `nodes.csv`.
    pub nodes: Vec<NodeRecord>,
    /// Rows of `channels.csv`.
    pub channels: Vec<ChannelRecord>,
    /// Final counters.
    pub counters: Counters,
    /// Virtual time simulated.
    pub simulated: Duration,
}

impl<'s> Engine<'s> {
    /// Sets up the chain (token, token network) and schedules every arrival.
    pub fn new(scenario: &'s Scenario) -> Result<Self, Revert> {
        let chain = &scenario.chain;
        let settle_timeout_s = chain.settle_timeout.as_secs().max(1);
        let mut ledger = Ledger::new(scenario.seed, settle_timeout_s);
        let token = ledger.deploy_token(true);
        let admin = ledger.derive_address("admin", 0);
        let network = ledger
            .execute(admin, &Transaction::RegisterToken { token }, 0)?
            .token_network
            .ok_or_else(|| Revert("registration created no network".into()))?;
        let to_limit = |limit: Option<f64>| limit.map(tokens_to_units).unwrap_or(U256::MAX);
        ledger.set_deposit_limits(
            &network,
            to_limit(chain.channel_participant_deposit_limit),
            to_limit(chain.token_network_deposit_limit),
        )?;

        let mut strategies: Vec<(StrategyKind, Box<dyn PartnerStrategy>)> = Vec::new();
        for cohort in &scenario.cohorts {
            if !strategies
                .iter()
                .any(|(k, _)| *k == cohort.partner_selection)
            {
                strategies.push((cohort.partner_selection, cohort.partner_selection.build()));
            }
        }

        let mut engine = Engine {
            scenario,
            ledger,
            token,
            network,
            participants: Participants::new(),
            nodes: Vec::with_capacity(scenario.node_count() as usize),
            index_of: HashMap::with_capacity_and_hasher(
                scenario.node_count() as usize,
                Default::default(),
            ),
            queue: BinaryHeap::new(),
            seq: 0,
            now: 0,
            pending_work: 0,
            edges: vec![None],
            wanting: BTreeSet::new(),
            strategies,
            counters: Counters::default(),
            samples: Vec::new(),
            gas_price_wei: U256::from((chain.gas_price_gwei * 1e9).round() as u128),
            block_ms: millis(chain.block_time).max(1),
            tx_timeout_ms: millis(chain.tx_timeout),
            settle_timeout_s,
            end: scenario.duration.map(millis),
            check_conservation: false,
            minted: U256::ZERO,
            block_reactions: Vec::new(),
            seen_reactions: FxHashSet::default(),
            block_end_scheduled: false,
            latency_rng: ChaCha8Rng::seed_from_u64(scenario.seed ^ 0x1A7E_0C1E),
            addresses: Vec::with_capacity(scenario.node_count() as usize),
            dirty: Vec::new(),
            tracks_capacity: scenario
                .cohorts
                .iter()
                .any(|c| c.partner_selection == StrategyKind::HighestCapacity),
            arrivals: Vec::with_capacity(scenario.node_count() as usize),
            next_arrival: 0,
        };
        engine.create_nodes();
        // By time, then by index: the order in which the nodes were created.
        engine.arrivals.sort_unstable();
        engine.schedule_next_arrival();
        engine.schedule(0, Event::Sample);
        Ok(engine)
    }

    /// Checks at every sample that no token was created or lost (slow: for tests).
    pub fn check_conservation(&mut self, on: bool) {
        self.check_conservation = on;
    }

    fn create_nodes(&mut self) {
        let mut arrivals_rng = ChaCha8Rng::seed_from_u64(self.scenario.seed ^ 0xA771_5A15);
        let mut index = 0u32;
        for (cohort_index, cohort) in self.scenario.cohorts.iter().enumerate() {
            let times = arrival_times(&cohort.arrival, cohort.count, &mut arrivals_rng);
            for time in times {
                let address = self.ledger.derive_address("account", u64::from(index) + 1);
                self.index_of.insert(address, index);
                self.addresses.push(address);
                self.nodes.push(SimNode {
                    address,
                    cohort: cohort_index as u16,
                    state: NodeState::Waiting,
                    manager: None,
                    channels: Vec::new(),
                    rng_position: 0,
                    queue: VecDeque::new(),
                    in_flight: 0,
                    current: None,
                    start_scheduled: false,
                    dirty: false,
                    retry: RetryGate::Idle,
                    last_inclusion: 0,
                    reserved_wei: U256::ZERO,
                    arrived_at: None,
                    left_at: None,
                    failure: None,
                    funds: U256::ZERO,
                    target: 0,
                    joinable: tokennet::connection::DEFAULT_JOINABLE_FUNDS_TARGET,
                });
                self.arrivals.push((time, index));
                index += 1;
            }
        }
    }

    /// Schedules the next arrival. Arrivals are fed to the queue one at a time, so that
    /// the queue holds what is in flight, not a million future arrivals.
    fn schedule_next_arrival(&mut self) {
        if let Some(&(time, index)) = self.arrivals.get(self.next_arrival) {
            self.next_arrival += 1;
            self.schedule(time, Event::Arrive(index));
        }
    }

    fn schedule(&mut self, time: Millis, event: Event) {
        if event != Event::Sample {
            self.pending_work += 1;
        }
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            time,
            seq: self.seq,
            event,
        }));
    }

    /// Runs to the end; `progress` is told the fraction done now and then.
    pub fn run(mut self, mut progress: impl FnMut(f64)) -> RunResult {
        let total = self.end.unwrap_or(0) as f64;
        let node_count = self.nodes.len().max(1) as f64;
        let mut processed = 0u64;
        while let Some(Reverse(next)) = self.queue.pop() {
            if self.end.is_some_and(|end| next.time > end) {
                break;
            }
            self.now = next.time;
            if next.event != Event::Sample {
                self.pending_work -= 1;
            }
            self.handle(next.event);
            processed += 1;
            if processed.is_multiple_of(65_536) {
                let done = if total > 0.0 {
                    self.now as f64 / total
                } else {
                    self.counters.joins_started as f64 / node_count
                };
                progress(done.min(1.0));
            }
        }
        if let Some(end) = self.end {
            self.now = end;
        }
        self.take_sample();
        progress(1.0);
        self.finish()
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Arrive(node) => {
                self.schedule_next_arrival();
                self.arrive(node);
            }
            Event::Leave(node) => self.enqueue(node, Op::Leave),
            Event::Mined { node, tx } => self.mined(node, *tx),
            Event::SettleDue { node, channel } => self.enqueue(node, Op::Settle(channel)),
            Event::StartOps(node) => {
                self.nodes[node as usize].start_scheduled = false;
                self.start_next_op(node);
            }
            Event::BlockEnd => self.block_end(),
            Event::Sample => {
                self.take_sample();
                let more = self.pending_work > 0 || self.end.is_some();
                if more {
                    let next = self.now + millis(self.scenario.sample_interval);
                    if self.end.is_none_or(|end| next <= end) {
                        self.schedule(next, Event::Sample);
                    }
                }
            }
        }
    }

    fn arrive(&mut self, n: u32) {
        let cohort = &self.scenario.cohorts[self.nodes[n as usize].cohort as usize];
        // Parameters are drawn from a generator of their own, so that a cohort's
        // distributions do not shift the node's partner choices.
        let mut draws = ChaCha8Rng::seed_from_u64(
            self.scenario.seed ^ u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let funds = tokens_to_units(cohort.funds.sample(&mut draws));
        let eth = eth_to_wei(cohort.eth.sample(&mut draws));
        let lifetime = cohort.lifetime.as_ref().map(|d| d.sample(&mut draws));
        let max_target = f64::from(tokennet::connection::MAX_INITIAL_CHANNEL_TARGET);
        let target = cohort
            .initial_channel_target
            .sample(&mut draws)
            .round()
            .clamp(0.0, max_target) as u32;
        let joinable = JoinableFraction::from_f64(
            cohort
                .joinable_funds_target
                .sample(&mut draws)
                .clamp(0.0, 1.0),
        )
        .unwrap_or(tokennet::connection::DEFAULT_JOINABLE_FUNDS_TARGET);
        let address = self.nodes[n as usize].address;
        self.ledger.set_eth_balance(address, eth);
        if self.ledger.mint(self.token, address, funds).is_ok() {
            self.minted += funds;
        }
        let node = &mut self.nodes[n as usize];
        node.funds = funds;
        node.target = target;
        node.joinable = joinable;
        node.arrived_at = Some(self.now);
        self.counters.joins_started += 1;
        if let Some(seconds) = lifetime {
            let at = self.now + (seconds * 1000.0).round() as Millis;
            self.schedule(at, Event::Leave(n));
        }
        self.enqueue(n, Op::Join);
    }

    fn enqueue(&mut self, n: u32, op: Op) {
        let node = &mut self.nodes[n as usize];
        node.queue.push_back(op);
        if node.current.is_none() && !node.start_scheduled {
            node.start_scheduled = true;
            self.schedule(self.now, Event::StartOps(n));
        }
    }

    fn start_next_op(&mut self, n: u32) {
        loop {
            let node = &mut self.nodes[n as usize];
            if node.current.is_some() {
                return;
            }
            let Some(op) = node.queue.pop_front() else {
                return;
            };
            node.current = Some(op);
            let sent = self.run_op(n, op);
            if sent > 0 {
                self.nodes[n as usize].in_flight = sent;
                return;
            }
            self.finish_op(n);
        }
    }

    /// The policy's view for node `n`, built from its open channels.
    fn open_channels_of(&self, n: u32) -> Vec<OpenChannel> {
        let node = &self.nodes[n as usize];
        node.channels
            .iter()
            .filter_map(|id| {
                let edge = self.edges.get(id.0 as usize).copied().flatten()?;
                if !edge.open {
                    return None;
                }
                let (partner_index, ours, theirs) = if edge.a == n {
                    (
                        edge.b,
                        U256::from(edge.deposit_a),
                        U256::from(edge.deposit_b),
                    )
                } else {
                    (
                        edge.a,
                        U256::from(edge.deposit_b),
                        U256::from(edge.deposit_a),
                    )
                };
                Some(OpenChannel {
                    partner: self.address_of(partner_index),
                    channel_id: *id,
                    our_deposit: ours,
                    partner_deposit: theirs,
                })
            })
            .collect()
    }

    fn address_of(&self, index: u32) -> Address {
        if index == BOOTSTRAP_INDEX {
            BOOTSTRAP_ADDRESS
        } else {
            self.addresses[index as usize]
        }
    }

    fn token_balance(&self, n: u32) -> U256 {
        self.ledger
            .token_balance(&self.token, &self.nodes[n as usize].address)
    }

    /// Runs one operation: asks the policy, submits the transactions. Returns how many
    /// were submitted.
    fn run_op(&mut self, n: u32, op: Op) -> u32 {
        let actions: Vec<Action> = match op {
            Op::Join => {
                let node = &self.nodes[n as usize];
                let params = ConnectionParams {
                    partner_selection: Default::default(),
                    funds: node.funds,
                    initial_channel_target: node.target,
                    joinable_funds_target: node.joinable,
                };
                let manager = ConnectionManager::new(params);
                // The gas reserve (SPEC §4), as the node checks it before a join.
                let open = self.open_channels_of(n);
                let view = NetworkView {
                    us: self.nodes[n as usize].address,
                    our_channels: &open,
                    participants: &self.participants,
                    token_balance: U256::MAX,
                };
                let inputs = ReserveInputs {
                    channels_to_open: manager.channels_to_open(&view),
                    open_channels: open.len() as u64,
                    closed_channels: 0,
                };
                let reserve = gas_reserve(&GAS, self.gas_price_wei, inputs);
                let address = self.nodes[n as usize].address;
                if self.ledger.eth_balance(&address) < reserve {
                    self.fail_join(n, JoinFailure::GasReserve);
                    let node = &mut self.nodes[n as usize];
                    node.state = NodeState::Refused;
                    node.queue.clear();
                    return 0;
                }
                let node = &mut self.nodes[n as usize];
                node.manager = Some(manager);
                node.state = NodeState::Active;
                self.decide_open_channels(n)
            }
            Op::Retry => {
                self.counters.retries += 1;
                self.decide_open_channels(n)
            }
            Op::JoinPartner(channel) => {
                let Some(manager) = self.active_manager(n) else {
                    return 0;
                };
                let open = self.open_channels_of(n);
                let Some(this) = open.iter().find(|c| c.channel_id == channel).copied() else {
                    return 0;
                };
                let view = NetworkView {
                    us: self.nodes[n as usize].address,
                    our_channels: &open,
                    participants: &self.participants,
                    token_balance: self.token_balance(n),
                };
                manager
                    .join_partner_channel(&view, &this)
                    .into_iter()
                    .collect()
            }
            Op::Leave => return self.leave(n),
            Op::Settle(channel) => return self.settle(n, channel),
        };
        self.submit_actions(n, op, actions)
    }

    fn active_manager(&self, n: u32) -> Option<ConnectionManager> {
        let node = &self.nodes[n as usize];
        if node.state != NodeState::Active {
            return None;
        }
        node.manager
    }

    fn decide_open_channels(&mut self, n: u32) -> Vec<Action> {
        let Some(manager) = self.active_manager(n) else {
            return Vec::new();
        };
        let open = self.open_channels_of(n);
        let token_balance = self.token_balance(n);
        let kind = self.scenario.cohorts[self.nodes[n as usize].cohort as usize].partner_selection;
        let seed = self.scenario.seed;
        let Engine {
            nodes,
            participants,
            strategies,
            ..
        } = self;
        let node = &mut nodes[n as usize];
        let view = NetworkView {
            us: node.address,
            our_channels: &open,
            participants,
            token_balance,
        };
        // The same generator as the node's (`partner_rng`), at the same position.
        let mut rng = partner_rng(seed, node.address);
        rng.set_word_pos(node.rng_position);
        let strategy = strategies
            .iter_mut()
            .find(|(k, _)| *k == kind)
            .map(|(_, s)| s.as_mut());
        let actions = match strategy {
            Some(strategy) => {
                let mut sampler = StrategySampler {
                    strategy,
                    rng: &mut rng,
                };
                manager.open_channels_with(&view, &mut sampler)
            }
            None => manager.open_channels(&view, &mut rng),
        };
        node.rng_position = rng.get_word_pos();
        actions
    }

    /// One approve for the total, then one transaction per action, as the node sends them.
    fn submit_actions(&mut self, n: u32, op: Op, actions: Vec<Action>) -> u32 {
        if actions.is_empty() {
            return 0;
        }
        let open = self.open_channels_of(n);
        let current = |partner: &Address| {
            open.iter()
                .find(|c| &c.partner == partner)
                .map(|c| c.our_deposit)
                .unwrap_or_default()
        };
        let needed = tokens_needed(&actions, current);
        let mut transactions = Vec::with_capacity(actions.len() + 1);
        if !needed.is_zero() {
            transactions.push(Transaction::Approve {
                token: self.token,
                spender: self.network,
                amount: TokenAmount(needed),
            });
        }
        let network = self.network;
        transactions.extend(
            actions
                .iter()
                .map(|action| transaction_for(network, action)),
        );
        self.submit(n, op, transactions)
    }

    /// Submits transactions: each is included at the first block after its latency, not
    /// before its predecessor. Returns how many were accepted.
    fn submit(&mut self, n: u32, op: Op, transactions: Vec<Transaction>) -> u32 {
        let cohort = &self.scenario.cohorts[self.nodes[n as usize].cohort as usize];
        let latency = &cohort.tx_latency;
        let mut sent = 0u32;
        let mut timed_out = false;
        for tx in transactions {
            let cost = self.gas_price_wei * U256::from(GAS.gas_of(&tx));
            let address = self.nodes[n as usize].address;
            let available = self
                .ledger
                .eth_balance(&address)
                .saturating_sub(self.nodes[n as usize].reserved_wei);
            if available < cost {
                self.counters.transactions_without_eth += 1;
                if op == Op::Join {
                    self.fail_join(n, JoinFailure::InsufficientEth);
                }
                break;
            }
            let node = &mut self.nodes[n as usize];
            let delay = (latency.sample(&mut self.latency_rng) * 1000.0).round() as Millis;
            if delay > self.tx_timeout_ms {
                timed_out = true;
            }
            let ready = (self.now + delay).max(node.last_inclusion);
            let mut block_time = ready.div_ceil(self.block_ms) * self.block_ms;
            if block_time <= self.now {
                block_time = (self.now / self.block_ms + 1) * self.block_ms;
            }
            node.last_inclusion = block_time;
            node.reserved_wei += cost;
            self.counters.transactions += 1;
            sent += 1;
            self.schedule(
                block_time,
                Event::Mined {
                    node: n,
                    tx: Box::new(tx),
                },
            );
        }
        if timed_out && op == Op::Join {
            self.fail_join(n, JoinFailure::Timeout);
        }
        sent
    }

    fn fail_join(&mut self, n: u32, cause: JoinFailure) {
        let node = &mut self.nodes[n as usize];
        if node.failure.is_some() {
            return;
        }
        node.failure = Some(cause);
        match cause {
            JoinFailure::GasReserve => self.counters.joins_failed_gas_reserve += 1,
            JoinFailure::Timeout => self.counters.joins_failed_timeout += 1,
            JoinFailure::InsufficientEth => self.counters.joins_failed_insufficient_eth += 1,
            JoinFailure::Reverted => self.counters.joins_failed_revert += 1,
        }
    }

    fn mined(&mut self, n: u32, tx: Transaction) {
        if !self.block_end_scheduled {
            // Scheduled now, it runs after every transaction of this block: those were
            // all scheduled before this one ran.
            self.block_end_scheduled = true;
            self.schedule(self.now, Event::BlockEnd);
        }
        let address = self.nodes[n as usize].address;
        let cost = self.gas_price_wei * U256::from(GAS.gas_of(&tx));
        {
            let node = &mut self.nodes[n as usize];
            node.reserved_wei = node.reserved_wei.saturating_sub(cost);
        }
        let charged = self.ledger.charge_gas(&address, cost).is_ok();
        if charged {
            self.counters.gas_spent_wei += cost;
            let timestamp = self.now / 1000;
            match self.ledger.execute(address, &tx, timestamp) {
                Ok(outcome) => {
                    for event in outcome.events {
                        self.apply(event);
                    }
                }
                Err(_) => {
                    self.counters.transactions_reverted += 1;
                    if self.nodes[n as usize].current == Some(Op::Join) {
                        self.fail_join(n, JoinFailure::Reverted);
                    }
                }
            }
        } else {
            self.counters.transactions_without_eth += 1;
            if self.nodes[n as usize].current == Some(Op::Join) {
                self.fail_join(n, JoinFailure::InsufficientEth);
            }
        }
        let node = &mut self.nodes[n as usize];
        node.in_flight = node.in_flight.saturating_sub(1);
        if node.in_flight == 0 {
            self.finish_op(n);
            // The next operation starts after this block's reactions, as the node's
            // queue lets the next call in once its view has caught up.
            let node = &mut self.nodes[n as usize];
            if !node.queue.is_empty() && !node.start_scheduled {
                node.start_scheduled = true;
                self.schedule(self.now, Event::StartOps(n));
            }
        }
    }

    fn finish_op(&mut self, n: u32) {
        let node = &mut self.nodes[n as usize];
        let op = node.current.take();
        if op == Some(Op::Retry) && node.retry.finish() {
            node.queue.push_back(Op::Retry);
        }
        if matches!(op, Some(Op::Settle(_)) | Some(Op::Leave))
            && node.state == NodeState::Leaving
            && node.channels.is_empty()
        {
            node.state = NodeState::Left;
            node.left_at = Some(self.now);
            self.counters.leaves_completed += 1;
        }
        self.refresh_wanting(n);
    }

    fn leave(&mut self, n: u32) -> u32 {
        let node = &mut self.nodes[n as usize];
        if node.state != NodeState::Active {
            return 0;
        }
        node.state = NodeState::Leaving;
        if let Some(manager) = node.manager.as_mut() {
            manager.start_leaving();
        }
        self.wanting.remove(&n);
        let closes: Vec<Transaction> = self
            .open_channels_of(n)
            .iter()
            .map(|c| Transaction::CloseChannel {
                token_network: self.network,
                channel_id: c.channel_id,
                partner: c.partner,
            })
            .collect();
        let sent = self.submit(n, Op::Leave, closes);
        if sent == 0 && self.nodes[n as usize].channels.is_empty() {
            let node = &mut self.nodes[n as usize];
            node.state = NodeState::Left;
            node.left_at = Some(self.now);
            self.counters.leaves_completed += 1;
        }
        sent
    }

    fn settle(&mut self, n: u32, channel: ChannelId) -> u32 {
        let Some(edge) = self.edges.get(channel.0 as usize).copied().flatten() else {
            return 0;
        };
        let partner = if edge.a == n { edge.b } else { edge.a };
        let tx = Transaction::SettleChannel {
            token_network: self.network,
            channel_id: channel,
            partner: self.address_of(partner),
        };
        self.submit(n, Op::Settle(channel), vec![tx])
    }

    /// Applies one chain event to the engine's indexes and starts the reactions.
    fn apply(&mut self, event: ChainEvent) {
        match event {
            ChainEvent::ChannelOpened {
                channel_id,
                participant1,
                participant2,
                ..
            } => {
                self.participants.insert(participant1);
                self.participants.insert(participant2);
                let a = self.index_or_bootstrap(&participant1);
                let b = self.index_or_bootstrap(&participant2);
                let slot = channel_id.0 as usize;
                if self.edges.len() <= slot {
                    self.edges.resize(slot + 1, None);
                }
                self.edges[slot] = Some(EdgeState {
                    a,
                    b,
                    deposit_a: 0,
                    deposit_b: 0,
                    open: true,
                });
                for side in [a, b] {
                    if side != BOOTSTRAP_INDEX {
                        self.nodes[side as usize].channels.push(channel_id);
                    }
                }
                self.observe(GraphChange::ChannelOpened {
                    a: participant1,
                    b: participant2,
                });
                for side in [a, b] {
                    if side != BOOTSTRAP_INDEX {
                        self.mark_dirty(side);
                    }
                }
                self.react(Reaction::NewChannel);
            }
            ChainEvent::ChannelNewDeposit {
                channel_id,
                participant,
                total_deposit,
                ..
            } => {
                let Some(Some(edge)) = self.edges.get_mut(channel_id.0 as usize) else {
                    return;
                };
                let who = if self.index_of.get(&participant) == Some(&edge.a) {
                    edge.deposit_a = total_deposit.get().saturating_to();
                    edge.a
                } else {
                    edge.deposit_b = total_deposit.get().saturating_to();
                    edge.b
                };
                let partner = if who == edge.a { edge.b } else { edge.a };
                if who != BOOTSTRAP_INDEX {
                    if self.tracks_capacity {
                        let capacity = self.capacity_of(who);
                        self.observe(GraphChange::CapacityChanged {
                            node: participant,
                            capacity,
                        });
                    }
                    self.mark_dirty(who);
                }
                if partner != BOOTSTRAP_INDEX && self.active_manager(partner).is_some() {
                    self.react(Reaction::PartnerDeposit {
                        node: partner,
                        channel: channel_id,
                    });
                }
            }
            ChainEvent::ChannelClosed {
                channel_id,
                closing_participant,
                ..
            } => {
                let Some(Some(edge)) = self.edges.get_mut(channel_id.0 as usize) else {
                    return;
                };
                edge.open = false;
                let (a, b) = (edge.a, edge.b);
                self.observe(GraphChange::ChannelClosed {
                    a: self.address_of(a),
                    b: self.address_of(b),
                });
                for side in [a, b] {
                    if side != BOOTSTRAP_INDEX {
                        if self.tracks_capacity {
                            let capacity = self.capacity_of(side);
                            let node = self.address_of(side);
                            self.observe(GraphChange::CapacityChanged { node, capacity });
                        }
                        self.mark_dirty(side);
                    }
                }
                // The closer settles once the settle timeout has passed.
                if let Some(&closer) = self.index_of.get(&closing_participant) {
                    let due_s = self.now / 1000 + self.settle_timeout_s + 1;
                    let due = (due_s * 1000).div_ceil(self.block_ms) * self.block_ms;
                    self.schedule(
                        due,
                        Event::SettleDue {
                            node: closer,
                            channel: channel_id,
                        },
                    );
                }
            }
            ChainEvent::ChannelSettled { channel_id, .. } => {
                let Some(edge) = self
                    .edges
                    .get_mut(channel_id.0 as usize)
                    .and_then(Option::take)
                else {
                    return;
                };
                for side in [edge.a, edge.b] {
                    if side != BOOTSTRAP_INDEX {
                        self.nodes[side as usize]
                            .channels
                            .retain(|c| *c != channel_id);
                        self.mark_dirty(side);
                    }
                }
            }
            ChainEvent::TokenNetworkCreated { .. } => {}
        }
    }

    /// Notes that a node's channels changed: whether it wants partners is decided once,
    /// at the end of the block, however many of its events the block holds.
    fn mark_dirty(&mut self, n: u32) {
        let node = &mut self.nodes[n as usize];
        if !node.dirty {
            node.dirty = true;
            self.dirty.push(n);
        }
    }

    fn react(&mut self, reaction: Reaction) {
        if self.seen_reactions.insert(reaction) {
            self.block_reactions.push(reaction);
        }
    }

    /// The block's reactions, in the order a node's view reports them: a new channel
    /// makes every node that wants partners retry (coalesced); a partner's deposit makes
    /// that node consider joining the channel.
    fn block_end(&mut self) {
        self.block_end_scheduled = false;
        self.seen_reactions.clear();
        for n in std::mem::take(&mut self.dirty) {
            self.nodes[n as usize].dirty = false;
            self.refresh_wanting(n);
        }
        for reaction in std::mem::take(&mut self.block_reactions) {
            match reaction {
                Reaction::NewChannel => {
                    let wanting: Vec<u32> = self.wanting.iter().copied().collect();
                    for n in wanting {
                        self.trigger_retry(n);
                    }
                }
                Reaction::PartnerDeposit { node, channel } => {
                    self.enqueue(node, Op::JoinPartner(channel));
                }
            }
        }
    }

    fn index_or_bootstrap(&self, address: &Address) -> u32 {
        self.index_of
            .get(address)
            .copied()
            .unwrap_or(BOOTSTRAP_INDEX)
    }

    fn capacity_of(&self, n: u32) -> U256 {
        self.open_channels_of(n)
            .iter()
            .fold(U256::ZERO, |sum, c| sum + c.our_deposit)
    }

    fn observe(&mut self, change: GraphChange) {
        for (_, strategy) in &mut self.strategies {
            strategy.observe(&change);
        }
    }

    fn trigger_retry(&mut self, n: u32) {
        if self.nodes[n as usize].retry.trigger() {
            self.enqueue(n, Op::Retry);
        }
    }

    /// Keeps `wanting` equal to the set of nodes whose manager wants a retry.
    fn refresh_wanting(&mut self, n: u32) {
        let wants = match self.active_manager(n) {
            Some(manager) => {
                let open = self.open_channels_of(n);
                let view = NetworkView {
                    us: self.nodes[n as usize].address,
                    our_channels: &open,
                    participants: &self.participants,
                    token_balance: self.token_balance(n),
                };
                manager.wants_retry(&view)
            }
            None => false,
        };
        if wants {
            self.wanting.insert(n);
        } else {
            self.wanting.remove(&n);
        }
    }

    fn snapshot(&self) -> Snapshot {
        let present = self
            .nodes
            .iter()
            .map(|n| matches!(n.state, NodeState::Active | NodeState::Leaving))
            .collect();
        let edges = self
            .edges
            .iter()
            .flatten()
            .filter(|e| e.open && e.a != BOOTSTRAP_INDEX && e.b != BOOTSTRAP_INDEX)
            .map(|e| Edge {
                a: e.a,
                b: e.b,
                deposit_a: units_to_tokens(U256::from(e.deposit_a)),
                deposit_b: units_to_tokens(U256::from(e.deposit_b)),
            })
            .collect();
        Snapshot { present, edges }
    }

    fn take_sample(&mut self) {
        if self.check_conservation {
            self.assert_conservation();
        }
        let metrics = crate::metrics::sample_metrics(&self.snapshot());
        let time_hours = self.now as f64 / 3_600_000.0;
        if self
            .samples
            .last()
            .is_some_and(|s| s.time_hours == time_hours)
        {
            self.samples.pop();
        }
        let departed =
            |i: u32| i != BOOTSTRAP_INDEX && self.nodes[i as usize].state == NodeState::Left;
        let channels_to_departed = self
            .edges
            .iter()
            .flatten()
            .filter(|e| e.open && (departed(e.a) || departed(e.b)))
            .count() as u64;
        self.samples.push(Sample {
            time_hours,
            metrics,
            channels_to_departed,
            counters: self.counters.clone(),
        });
    }

    fn assert_conservation(&self) {
        let held = self.nodes.iter().fold(U256::ZERO, |sum, n| {
            sum + self.ledger.token_balance(&self.token, &n.address)
        });
        let locked = self
            .ledger
            .token_network(&self.network)
            .map(|n| n.total_deposits())
            .unwrap_or_default();
        assert_eq!(
            held + locked,
            self.minted,
            "tokens not conserved at {} ms: held {held} + locked {locked} != minted {}",
            self.now,
            self.minted
        );
    }

    fn finish(self) -> RunResult {
        let snapshot = self.snapshot();
        let capacities: Vec<f64> = (0..self.nodes.len() as u32)
            .map(|n| units_to_tokens(self.capacity_of(n)))
            .collect();
        let hours = |t: Millis| t as f64 / 3_600_000.0;
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| NodeRecord {
                index: i as u32,
                address: tokennet::types::checksummed(&node.address),
                cohort: self.scenario.cohorts[node.cohort as usize].name.clone(),
                state: node.state,
                arrived_hours: node.arrived_at.map(hours),
                left_hours: node.left_at.map(hours),
                funds: units_to_tokens(node.funds),
                channels: self.open_channels_of(i as u32).len() as u32,
                capacity: capacities[i],
                failure: node.failure,
            })
            .collect();
        let channels = self
            .edges
            .iter()
            .enumerate()
            .filter_map(|(id, edge)| {
                let edge = (*edge)?;
                (edge.open && edge.a != BOOTSTRAP_INDEX && edge.b != BOOTSTRAP_INDEX).then(|| {
                    ChannelRecord {
                        channel_id: id as u64,
                        a: edge.a,
                        b: edge.b,
                        deposit_a: units_to_tokens(U256::from(edge.deposit_a)),
                        deposit_b: units_to_tokens(U256::from(edge.deposit_b)),
                    }
                })
            })
            .collect();
        RunResult {
            samples: self.samples,
            snapshot,
            nodes,
            channels,
            counters: self.counters,
            simulated: Duration::from_millis(self.now),
        }
    }
}

/// Arrival times of a cohort's `count` nodes, in milliseconds.
fn arrival_times(arrival: &Arrival, count: u64, rng: &mut ChaCha8Rng) -> Vec<Millis> {
    match arrival {
        Arrival::AtStart => vec![0; count as usize],
        Arrival::Poisson {
            rate_per_hour,
            start,
        } => {
            let mean_gap_ms = 3_600_000.0 / rate_per_hour;
            let mut t = start.map(millis).unwrap_or(0) as f64;
            (0..count)
                .map(|_| {
                    let u: f64 = rng.random::<f64>();
                    t += -mean_gap_ms * (1.0 - u).ln();
                    t.round() as Millis
                })
                .collect()
        }
        Arrival::Explicit { times } => {
            let mut out: Vec<Millis> = times.iter().map(|d| millis(*d)).collect();
            let gap = match out.as_slice() {
                [.., a, b] => b - a,
                _ => 0,
            };
            while (out.len() as u64) < count {
                let last = out.last().copied().unwrap_or(0);
                out.push(last + gap);
            }
            out
        }
    }
}
