//! A simulated node: where it is in its life, the parameters of its join, and its queue
//! of operations, which run one after the other as the node's per-token-network queue
//! runs its calls.

use std::collections::VecDeque;

use serde::Serialize;
use tokennet::connection::{ConnectionManager, JoinableFraction, Outcome};
use tokennet::types::{Address, ChannelId, U256};

use super::clock::{Event, Millis};
use super::Engine;

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

impl JoinFailure {
    /// Why a join failed, from how one of its transactions ended; `None` when it did
    /// what it was sent for.
    pub(super) fn from_outcome(outcome: Outcome) -> Option<Self> {
        match outcome {
            Outcome::Confirmed => None,
            Outcome::Reverted => Some(JoinFailure::Reverted),
            // Never in the simulator: the ledger neither drops a transaction nor fails
            // to answer. Counted as the API's 500, which they would be.
            Outcome::Dropped | Outcome::Unknown => Some(JoinFailure::Reverted),
            Outcome::NoEth => Some(JoinFailure::InsufficientEth),
            Outcome::TimedOut => Some(JoinFailure::Timeout),
        }
    }
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

/// One operation in a node's queue. (Settles are not among them: the node settles each
/// closed channel in a task of its own when its time comes, and so does the engine.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Join,
    Retry,
    JoinPartner(ChannelId),
    Leave,
}

/// Per-node state. Kept small: a million of these make a simulation.
pub(super) struct SimNode {
    pub(super) address: Address,
    pub(super) cohort: u16,
    pub(super) state: NodeState,
    pub(super) manager: Option<ConnectionManager>,
    /// Our channels not yet settled (open or closed).
    pub(super) channels: Vec<ChannelId>,
    /// Σ our deposits in our open channels (its capacity), kept as channels change so that
    /// no event walks the channels of a hub ([`tokennet::connection::ChannelTotals`]).
    pub(super) deposited: U256,
    /// Our open channels funded against the manager's per-partner share, kept likewise
    /// once the node has a manager (counted once at the join).
    pub(super) funded: u32,
    /// Position in the node's partner-choice stream: the generator itself (hundreds of
    /// bytes) is rebuilt from the seed and the address when needed, so that a million
    /// nodes do not carry a million generators.
    pub(super) rng_position: u128,
    pub(super) queue: VecDeque<Op>,
    /// Transactions of the current operation not yet mined.
    pub(super) in_flight: u32,
    pub(super) current: Option<Op>,
    pub(super) start_scheduled: bool,
    /// In the channel index's dirty list: its channels changed during the current block.
    pub(super) dirty: bool,
    /// No transaction of this node is included before its predecessor (nonce order).
    pub(super) last_inclusion: Millis,
    /// ETH promised to transactions not yet mined.
    pub(super) reserved_wei: U256,
    pub(super) arrived_at: Option<Millis>,
    pub(super) left_at: Option<Millis>,
    pub(super) failure: Option<JoinFailure>,
    /// The parameters of its join, drawn at arrival.
    pub(super) funds: U256,
    pub(super) target: u32,
    pub(super) joinable: JoinableFraction,
}

impl SimNode {
    /// A node that has not arrived yet.
    pub(super) fn new(address: Address, cohort: u16) -> Self {
        SimNode {
            address,
            cohort,
            state: NodeState::Waiting,
            manager: None,
            channels: Vec::new(),
            deposited: U256::ZERO,
            funded: 0,
            rng_position: 0,
            queue: VecDeque::new(),
            in_flight: 0,
            current: None,
            start_scheduled: false,
            dirty: false,
            last_inclusion: 0,
            reserved_wei: U256::ZERO,
            arrived_at: None,
            left_at: None,
            failure: None,
            funds: U256::ZERO,
            target: 0,
            joinable: tokennet::connection::DEFAULT_JOINABLE_FUNDS_TARGET,
        }
    }
}

impl Engine<'_> {
    /// Queues an operation; it starts now if the node is idle.
    pub(super) fn enqueue(&mut self, n: u32, op: Op) {
        let node = &mut self.nodes[n as usize];
        node.queue.push_back(op);
        if node.current.is_none() && !node.start_scheduled {
            node.start_scheduled = true;
            self.clock.schedule(self.clock.now, Event::StartOps(n));
        }
    }

    /// Runs queued operations until one sends transactions (the rest wait for them).
    pub(super) fn start_next_op(&mut self, n: u32) {
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

    /// The current operation is done: the manager says whether a coalesced retry runs
    /// again, and a leave with nothing to settle ends.
    pub(super) fn finish_op(&mut self, n: u32) {
        let op = self.nodes[n as usize].current.take();
        if op == Some(Op::Retry) {
            self.retry_finished(n);
        }
        if op == Some(Op::Leave) {
            self.maybe_left(n);
        }
        self.refresh_wanting(n);
    }

    /// A leaving node whose channels are all settled has left.
    pub(super) fn maybe_left(&mut self, n: u32) {
        let node = &mut self.nodes[n as usize];
        if node.state == NodeState::Leaving && node.channels.is_empty() {
            node.state = NodeState::Left;
            node.left_at = Some(self.clock.now);
            self.records.counters.leaves_completed += 1;
        }
    }

    /// Counts a failed join, once per node, by its first cause.
    pub(super) fn fail_join(&mut self, n: u32, cause: JoinFailure) {
        let node = &mut self.nodes[n as usize];
        if node.failure.is_some() {
            return;
        }
        node.failure = Some(cause);
        let counters = &mut self.records.counters;
        match cause {
            JoinFailure::GasReserve => counters.joins_failed_gas_reserve += 1,
            JoinFailure::Timeout => counters.joins_failed_timeout += 1,
            JoinFailure::InsufficientEth => counters.joins_failed_insufficient_eth += 1,
            JoinFailure::Reverted => counters.joins_failed_revert += 1,
        }
    }
}
