//! Where the engine meets the partner-selection strategies: one instance per strategy the
//! scenario's cohorts name, told of every change of the channel graph, and asked when a
//! node of a cohort using it chooses partners.

use rand_chacha::ChaCha8Rng;
use tokennet::connection::strategy::StrategySet;
use tokennet::connection::{ConnectionManager, Decision, NetworkView, UniformSampler};
use tokennet::types::Address;

use super::Engine;
use crate::scenario::Scenario;
use crate::strategy::GraphChange;

/// The strategies of a run: the connection manager's [`StrategySet`], as the node keeps
/// one per token network.
pub(super) struct Strategies {
    set: StrategySet,
    /// Whether a strategy keeps an index of capacities (computing them costs).
    tracks_capacity: bool,
}

impl Strategies {
    /// One instance of each strategy a cohort of `scenario` names.
    pub(super) fn new(scenario: &Scenario) -> Self {
        let set = StrategySet::new(scenario.cohorts.iter().map(|c| c.partner_selection));
        let tracks_capacity = set.tracks_capacity();
        Self {
            set,
            tracks_capacity,
        }
    }

    /// Tells every strategy of a change of the channel graph.
    fn observe(&mut self, change: &GraphChange) {
        self.set.observe(change);
    }

    /// The manager's *open channels* as decisions, choosing new partners with the
    /// strategy of its connection (`partner_selection`) and the node's generator `rng`.
    pub(super) fn decide_open_channels(
        &mut self,
        manager: &ConnectionManager,
        view: &NetworkView<'_>,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Decision> {
        let kind = manager.params().partner_selection;
        match self.set.sampler(kind, &mut *rng) {
            Some(mut sampler) => manager.decide_open_channels(view, &mut sampler),
            None => manager.decide_open_channels(view, &mut UniformSampler(rng)),
        }
    }
}

impl Engine<'_> {
    /// A channel opened between two participants.
    pub(super) fn observe_opened(&mut self, a: Address, b: Address) {
        self.strategies
            .observe(&GraphChange::ChannelOpened { a, b });
    }

    /// The channel between nodes (or the bootstrap placeholder) `a` and `b` closed.
    pub(super) fn observe_closed(&mut self, a: u32, b: u32) {
        let change = GraphChange::ChannelClosed {
            a: self.index.address_of(a),
            b: self.index.address_of(b),
        };
        self.strategies.observe(&change);
    }

    /// Node `n`'s capacity (its deposits in open channels) may have changed; computed
    /// only if a strategy keeps an index of capacities.
    pub(super) fn observe_capacity(&mut self, n: u32) {
        if self.strategies.tracks_capacity {
            let change = GraphChange::CapacityChanged {
                node: self.index.address_of(n),
                capacity: self.capacity_of(n),
            };
            self.strategies.observe(&change);
        }
    }
}
