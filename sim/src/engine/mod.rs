//! The discrete-event engine: virtual time, a priority queue of events, the chain as a
//! [`Ledger`], and every simulated node running tokennet's connection manager.
//!
//! The engine never decides what a node does: [`tokennet::connection`] does, as in the
//! node. What the engine adds is what is the simulator's own, one idea per file:
//! - [`clock`]: virtual time and the event queue;
//! - [`arrivals`]: when nodes arrive and what they bring;
//! - [`node`]: a node's state and its queue of operations, which run one after the
//!   other as the node's per-token-network queue runs its calls;
//! - [`blocks`]: transactions included at the first block after their latency, in nonce
//!   order, gas paid from the node's ETH;
//! - [`index`] and [`events`]: the chain's events applied to the engine's indexes, and
//!   each node's totals (capacity, funded channels) kept as its channels change, so that
//!   no event costs more for a hub than for a node with three channels;
//! - [`manager`]: the connection-manager driver, which asks each node's manager and
//!   turns its actions into transactions, and runs a block's reactions once it is mined;
//! - [`strategies`]: the partner-selection strategies of the run;
//! - [`records`] and [`units`]: counters, samples, the rows of the output files;
//! - [`decisions`]: `decisions.csv`, with `--decisions`.
//!
//! A node reacts only to events that concern it; no event is broadcast to every node.

mod arrivals;
mod blocks;
mod clock;
mod decisions;
mod events;
mod index;
mod manager;
mod node;
mod records;
mod strategies;
mod units;

use tokennet::chain::sim::{Ledger, Revert};
use tokennet::chain::Transaction;
use tokennet::types::{Address, U256};

pub use clock::Millis;
pub use decisions::{DecisionLog, DECISIONS_HEADER};
pub use node::{JoinFailure, NodeState};
pub use records::{ChannelRecord, Counters, NodeRecord, RunResult, Sample};
pub use units::{tokens_to_units, units_to_tokens};

use crate::scenario::Scenario;
use arrivals::Arrivals;
use blocks::Blocks;
use clock::{millis, Clock, Event};
use index::ChannelIndex;
use manager::Reactions;
use node::{Op, SimNode};
use records::Records;
use strategies::Strategies;

/// A simulation in progress.
pub struct Engine<'s> {
    scenario: &'s Scenario,
    /// The chain's state and rules.
    ledger: Ledger,
    token: Address,
    network: Address,
    /// Tokens minted to the nodes: what the conservation check counts.
    minted: U256,
    clock: Clock,
    blocks: Blocks,
    arrivals: Arrivals,
    nodes: Vec<SimNode>,
    index: ChannelIndex,
    reactions: Reactions,
    strategies: Strategies,
    records: Records,
    /// `decisions.csv`, with `--decisions`.
    decisions: Option<DecisionLog>,
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

        let node_count = scenario.node_count() as usize;
        let mut engine = Engine {
            scenario,
            ledger,
            token,
            network,
            minted: U256::ZERO,
            clock: Clock::new(scenario.duration.map(millis)),
            blocks: Blocks::new(scenario, settle_timeout_s),
            arrivals: Arrivals::default(),
            nodes: Vec::with_capacity(node_count),
            index: ChannelIndex::with_capacity(node_count),
            reactions: Reactions::default(),
            strategies: Strategies::new(scenario),
            records: Records::default(),
            decisions: None,
        };
        engine.create_nodes();
        engine.schedule_next_arrival();
        engine.clock.schedule(0, Event::Sample);
        Ok(engine)
    }

    /// Checks at every sample that no token was created or lost (slow: for tests).
    pub fn check_conservation(&mut self, on: bool) {
        self.records.check_conservation = on;
    }

    /// Writes every decision of every node's connection manager to `log`.
    pub fn log_decisions(&mut self, log: DecisionLog) {
        self.decisions = Some(log);
    }

    /// Runs to the end; `progress` is told the fraction done now and then.
    pub fn run(mut self, mut progress: impl FnMut(f64)) -> RunResult {
        let total = self.clock.end.unwrap_or(0) as f64;
        let node_count = self.nodes.len().max(1) as f64;
        let mut processed = 0u64;
        while let Some(event) = self.clock.next() {
            self.handle(event);
            processed += 1;
            if processed.is_multiple_of(65_536) {
                let done = if total > 0.0 {
                    self.clock.now as f64 / total
                } else {
                    self.records.counters.joins_started as f64 / node_count
                };
                progress(done.min(1.0));
            }
        }
        if let Some(end) = self.clock.end {
            self.clock.now = end;
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
            Event::Mined { node, tx, queued } => self.mined(node, *tx, queued),
            Event::SettleDue { node, channel } => self.settle(node, channel),
            Event::StartOps(node) => {
                self.nodes[node as usize].start_scheduled = false;
                self.start_next_op(node);
            }
            Event::BlockEnd => self.block_end(),
            Event::Sample => {
                self.take_sample();
                let more = self.clock.pending_work > 0 || self.clock.end.is_some();
                if more {
                    let next = self.clock.now + millis(self.scenario.sample_interval);
                    if self.clock.end.is_none_or(|end| next <= end) {
                        self.clock.schedule(next, Event::Sample);
                    }
                }
            }
        }
    }
}
