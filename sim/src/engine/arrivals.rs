//! Arrivals: when each node comes, and what it brings (the parameters of its join, its
//! tokens and ETH, its lifetime), drawn from its cohort's distributions.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokennet::connection::JoinableFraction;

use super::clock::{millis, Event, Millis};
use super::node::{Op, SimNode};
use super::units::{eth_to_wei, tokens_to_units};
use super::Engine;
use crate::scenario::Arrival;

/// Every arrival, by time, and the next one to schedule. Arrivals are fed to the event
/// queue one at a time, so that the queue holds what is in flight, not a million future
/// arrivals.
#[derive(Default)]
pub(super) struct Arrivals {
    list: Vec<(Millis, u32)>,
    next: usize,
}

impl Engine<'_> {
    /// Creates every node, in cohort order, and sorts their arrivals by time.
    pub(super) fn create_nodes(&mut self) {
        let mut arrivals_rng = ChaCha8Rng::seed_from_u64(self.scenario.seed ^ 0xA771_5A15);
        let mut index = 0u32;
        self.arrivals
            .list
            .reserve(self.scenario.node_count() as usize);
        for (cohort_index, cohort) in self.scenario.cohorts.iter().enumerate() {
            let times = arrival_times(&cohort.arrival, cohort.count, &mut arrivals_rng);
            for time in times {
                let address = self.ledger.derive_address("account", u64::from(index) + 1);
                self.index.index_of.insert(address, index);
                self.index.addresses.push(address);
                self.nodes.push(SimNode::new(address, cohort_index as u16));
                self.arrivals.list.push((time, index));
                index += 1;
            }
        }
        // By time, then by index: the order in which the nodes were created.
        self.arrivals.list.sort_unstable();
    }

    /// Schedules the next arrival.
    pub(super) fn schedule_next_arrival(&mut self) {
        if let Some(&(time, index)) = self.arrivals.list.get(self.arrivals.next) {
            self.arrivals.next += 1;
            self.clock.schedule(time, Event::Arrive(index));
        }
    }

    /// Node `n` arrives: it draws its parameters, receives its tokens and ETH, schedules
    /// its leave, and queues its join.
    pub(super) fn arrive(&mut self, n: u32) {
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
        let now = self.clock.now;
        let node = &mut self.nodes[n as usize];
        node.funds = funds;
        node.target = target;
        node.joinable = joinable;
        node.arrived_at = Some(now);
        self.records.counters.joins_started += 1;
        if let Some(seconds) = lifetime {
            let at = now + (seconds * 1000.0).round() as Millis;
            self.clock.schedule(at, Event::Leave(n));
        }
        self.enqueue(n, Op::Join);
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
