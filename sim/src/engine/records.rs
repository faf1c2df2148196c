//! What a run reports: the counters, a row of `timeseries.csv` per sample, and at the end
//! the rows of `nodes.csv` and `channels.csv` and the final graph.

use std::time::Duration;

use serde::Serialize;
use tokennet::types::U256;

use super::clock::Millis;
use super::decisions::DecisionLog;
use super::index::BOOTSTRAP_INDEX;
use super::node::{JoinFailure, NodeState};
use super::units::units_to_tokens;
use super::Engine;
use crate::metrics::{Edge, SampleMetrics, Snapshot};

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
    /// The decision log, if the run kept one, to be finished by the caller.
    pub decision_log: Option<DecisionLog>,
}

/// The counters and the samples taken so far.
#[derive(Default)]
pub(super) struct Records {
    pub(super) counters: Counters,
    samples: Vec<Sample>,
    /// Whether to check at every sample that no token was created or lost.
    pub(super) check_conservation: bool,
}

impl Engine<'_> {
    fn snapshot(&self) -> Snapshot {
        let present = self
            .nodes
            .iter()
            .map(|n| matches!(n.state, NodeState::Active | NodeState::Leaving))
            .collect();
        let edges = self
            .index
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

    /// A row of `timeseries.csv` for now (replacing one taken at the same time).
    pub(super) fn take_sample(&mut self) {
        if self.records.check_conservation {
            self.assert_conservation();
        }
        let metrics = crate::metrics::sample_metrics(&self.snapshot());
        let time_hours = self.clock.now as f64 / 3_600_000.0;
        if self
            .records
            .samples
            .last()
            .is_some_and(|s| s.time_hours == time_hours)
        {
            self.records.samples.pop();
        }
        let departed =
            |i: u32| i != BOOTSTRAP_INDEX && self.nodes[i as usize].state == NodeState::Left;
        let channels_to_departed = self
            .index
            .edges
            .iter()
            .flatten()
            .filter(|e| e.open && (departed(e.a) || departed(e.b)))
            .count() as u64;
        let counters = self.records.counters.clone();
        self.records.samples.push(Sample {
            time_hours,
            metrics,
            channels_to_departed,
            counters,
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
            self.clock.now,
            self.minted
        );
    }

    /// The run's result, from the state at its end.
    pub(super) fn finish(self) -> RunResult {
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
            .index
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
            samples: self.records.samples,
            snapshot,
            nodes,
            channels,
            counters: self.records.counters,
            simulated: Duration::from_millis(self.clock.now),
            decision_log: self.decisions,
        }
    }
}
