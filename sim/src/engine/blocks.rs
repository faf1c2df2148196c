//! Blocks and transaction inclusion: each transaction is included at the first block
//! after its latency, in nonce order, paying its gas in ETH; the block's events then go to
//! the engine's indexes, and its reactions run once every transaction of it is in.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokennet::chain::gas::GAS;
use tokennet::chain::Transaction;
use tokennet::connection::Outcome;
use tokennet::types::U256;

use super::clock::{millis, Event, Millis};
use super::node::{JoinFailure, Op};
use super::Engine;
use crate::scenario::Scenario;

/// The chain's timing and prices, and the draws of transaction latencies.
pub(super) struct Blocks {
    pub(super) gas_price_wei: U256,
    pub(super) block_ms: Millis,
    tx_timeout_ms: Millis,
    pub(super) settle_timeout_s: u64,
    /// Draws of transaction latencies (kept apart from the nodes' partner choices).
    latency_rng: ChaCha8Rng,
    /// Whether the reactions of the block being mined are scheduled already.
    pub(super) block_end_scheduled: bool,
}

impl Blocks {
    /// The chain of `scenario`, with its settle timeout in whole seconds.
    pub(super) fn new(scenario: &Scenario, settle_timeout_s: u64) -> Self {
        let chain = &scenario.chain;
        Self {
            gas_price_wei: U256::from((chain.gas_price_gwei * 1e9).round() as u128),
            block_ms: millis(chain.block_time).max(1),
            tx_timeout_ms: millis(chain.tx_timeout),
            settle_timeout_s,
            latency_rng: ChaCha8Rng::seed_from_u64(scenario.seed ^ 0x1A7E_0C1E),
            block_end_scheduled: false,
        }
    }

    /// The time of the first block at or after `time`.
    pub(super) fn block_at_or_after(&self, time: Millis) -> Millis {
        time.div_ceil(self.block_ms) * self.block_ms
    }

    /// What `tx` costs in wei.
    pub(super) fn cost_of(&self, tx: &Transaction) -> U256 {
        self.gas_price_wei * U256::from(GAS.gas_of(tx))
    }
}

impl Engine<'_> {
    /// Submits transactions: each is included at the first block after its latency, not
    /// before its predecessor. `op`: the queued operation they belong to (`None` for a
    /// settle). Returns how many were accepted.
    pub(super) fn submit(&mut self, n: u32, op: Option<Op>, transactions: Vec<Transaction>) -> u32 {
        let cohort = &self.scenario.cohorts[self.nodes[n as usize].cohort as usize];
        let latency = &cohort.tx_latency;
        let now = self.clock.now;
        let mut sent = 0u32;
        let mut timed_out = false;
        for tx in transactions {
            let cost = self.blocks.cost_of(&tx);
            let address = self.nodes[n as usize].address;
            let available = self
                .ledger
                .eth_balance(&address)
                .saturating_sub(self.nodes[n as usize].reserved_wei);
            if available < cost {
                self.records.counters.transactions_without_eth += 1;
                if op == Some(Op::Join) {
                    self.fail_join(n, JoinFailure::InsufficientEth);
                }
                break;
            }
            let node = &mut self.nodes[n as usize];
            let blocks = &mut self.blocks;
            let delay = (latency.sample(&mut blocks.latency_rng) * 1000.0).round() as Millis;
            if delay > blocks.tx_timeout_ms {
                timed_out = true;
            }
            let ready = (now + delay).max(node.last_inclusion);
            let mut block_time = blocks.block_at_or_after(ready);
            if block_time <= now {
                block_time = (now / blocks.block_ms + 1) * blocks.block_ms;
            }
            node.last_inclusion = block_time;
            node.reserved_wei += cost;
            self.records.counters.transactions += 1;
            sent += 1;
            self.clock.schedule(
                block_time,
                Event::Mined {
                    node: n,
                    tx: Box::new(tx),
                    queued: op.is_some(),
                },
            );
        }
        if timed_out && op == Some(Op::Join) {
            self.fail_join(n, JoinFailure::Timeout);
        }
        sent
    }

    /// Node `n`'s transaction is included now: it pays its gas, runs on the ledger, and
    /// its events go to the indexes. When it was the last of its operation, the next
    /// operation starts after this block's reactions.
    pub(super) fn mined(&mut self, n: u32, tx: Transaction, queued: bool) {
        let now = self.clock.now;
        if !self.blocks.block_end_scheduled {
            // Scheduled now, it runs after every transaction of this block: those were
            // all scheduled before this one ran.
            self.blocks.block_end_scheduled = true;
            self.clock.schedule(now, Event::BlockEnd);
        }
        let address = self.nodes[n as usize].address;
        let cost = self.blocks.cost_of(&tx);
        {
            let node = &mut self.nodes[n as usize];
            node.reserved_wei = node.reserved_wei.saturating_sub(cost);
        }
        let outcome = if self.ledger.charge_gas(&address, cost).is_ok() {
            self.records.counters.gas_spent_wei += cost;
            match self.ledger.execute(address, &tx, now / 1000) {
                Ok(executed) => {
                    for event in executed.events {
                        self.apply(event);
                    }
                    Outcome::Confirmed
                }
                Err(_) => {
                    self.records.counters.transactions_reverted += 1;
                    Outcome::Reverted
                }
            }
        } else {
            self.records.counters.transactions_without_eth += 1;
            Outcome::NoEth
        };
        if queued && self.nodes[n as usize].current == Some(Op::Join) {
            if let Some(failure) = JoinFailure::from_outcome(outcome) {
                self.fail_join(n, failure);
            }
        }
        if !queued {
            return;
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
                self.clock.schedule(now, Event::StartOps(n));
            }
        }
    }
}
