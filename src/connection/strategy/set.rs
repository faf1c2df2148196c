//! One index per strategy kind, fed the same graph changes: what the node keeps per token
//! network and the simulator keeps per run, so that both choose with the same code.

use std::collections::HashMap;

use rand::RngCore;

use super::{GraphChange, PartnerStrategy, StrategyKind, StrategySampler};
use crate::types::{Address, ChannelId, BOOTSTRAP_ADDRESS, U256};

/// Strategies of some kinds, each with its index, fed from the start.
///
/// Fed from the start rather than built when first asked for: an index built later from
/// the graph as it is would differ from one that saw the changes in order (the
/// preferential-attachment list, the graph's node order), and the node and the simulator
/// must choose alike. Memory, with every kind, per node of the network: ~100 bytes for
/// each of the two graphs (closeness, betweenness), ~100 for highest capacity, ~50 for
/// preferential attachment; per open channel: 8 bytes for each graph and 40 for
/// preferential attachment. Some 35 MB for 10^5 nodes and 1.5·10^5 channels.
pub struct StrategySet {
    strategies: Vec<(StrategyKind, Box<dyn PartnerStrategy>)>,
}

impl std::fmt::Debug for StrategySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.strategies.iter().map(|(kind, _)| kind))
            .finish()
    }
}

impl Default for StrategySet {
    /// Every kind.
    fn default() -> Self {
        Self::new(StrategyKind::ALL)
    }
}

impl StrategySet {
    /// Fresh indices of the given kinds (each once).
    pub fn new(kinds: impl IntoIterator<Item = StrategyKind>) -> Self {
        let mut strategies: Vec<(StrategyKind, Box<dyn PartnerStrategy>)> = Vec::new();
        for kind in kinds {
            if !strategies.iter().any(|(k, _)| *k == kind) {
                strategies.push((kind, kind.build()));
            }
        }
        Self { strategies }
    }

    /// Feeds a change to every index: the sum of their `observe` costs.
    pub fn observe(&mut self, change: &GraphChange) {
        for (_, strategy) in &mut self.strategies {
            strategy.observe(change);
        }
    }

    /// The strategy of `kind`, if the set has it.
    pub fn get_mut(&mut self, kind: StrategyKind) -> Option<&mut (dyn PartnerStrategy + '_)> {
        self.strategies
            .iter_mut()
            .find(|(k, _)| *k == kind)
            .map(|(_, s)| s.as_mut() as &mut dyn PartnerStrategy)
    }

    /// A sampler for the connection manager with the strategy of `kind` and `rng`; `None`
    /// if the set lacks that kind.
    pub fn sampler<'a>(
        &'a mut self,
        kind: StrategyKind,
        rng: &'a mut dyn RngCore,
    ) -> Option<StrategySampler<'a>> {
        let strategy = self.get_mut(kind)?;
        Some(StrategySampler { strategy, rng })
    }

    /// Whether an index uses capacities ([`GraphChange::CapacityChanged`]): computing
    /// them costs the simulator, which skips it otherwise.
    pub fn tracks_capacity(&self) -> bool {
        self.strategies
            .iter()
            .any(|(k, _)| *k == StrategyKind::HighestCapacity)
    }
}

/// A channel of the network, as the index knows it.
#[derive(Clone, Copy, Debug)]
struct Channel {
    a: Address,
    b: Address,
    deposit_a: U256,
    deposit_b: U256,
    open: bool,
}

/// A token network's channel graph built from its channel events, feeding a
/// [`StrategySet`] the same [`GraphChange`]s the simulator's engine reports for the same
/// events: the node keeps one per token network.
///
/// The engine's rules, which this follows so that both choose alike: an open reports
/// `ChannelOpened` (the bootstrap address included); a deposit reports the depositor's
/// new capacity (the sum of its deposits in its open channels; never the bootstrap's); a
/// close reports `ChannelClosed`, then the new capacity of each end but the bootstrap.
///
/// Memory: ~130 bytes per channel not yet settled and ~70 per node with a capacity, on
/// top of the strategies' own (see [`StrategySet`]). Each event is O(1) here plus the
/// strategies' `observe`.
#[derive(Debug, Default)]
pub struct NetworkIndex {
    channels: HashMap<ChannelId, Channel>,
    capacity: HashMap<Address, U256>,
    strategies: StrategySet,
}

impl NetworkIndex {
    /// An empty network, with an index for every strategy kind.
    pub fn new() -> Self {
        Self::default()
    }

    /// The strategies, to choose with.
    pub fn strategies(&mut self) -> &mut StrategySet {
        &mut self.strategies
    }

    /// The capacity of `node` as reported to the strategies.
    pub fn capacity(&self, node: &Address) -> U256 {
        self.capacity.get(node).copied().unwrap_or_default()
    }

    /// A channel between `a` and `b` was opened.
    pub fn channel_opened(&mut self, id: ChannelId, a: Address, b: Address) {
        if self.channels.contains_key(&id) {
            return;
        }
        self.channels.insert(
            id,
            Channel {
                a,
                b,
                deposit_a: U256::ZERO,
                deposit_b: U256::ZERO,
                open: true,
            },
        );
        self.strategies
            .observe(&GraphChange::ChannelOpened { a, b });
    }

    /// `participant`'s total deposit in channel `id` is now `total`.
    pub fn deposit(&mut self, id: ChannelId, participant: Address, total: U256) {
        let Some(channel) = self.channels.get_mut(&id) else {
            return;
        };
        if !channel.open {
            return;
        }
        let old = if participant == channel.a {
            std::mem::replace(&mut channel.deposit_a, total)
        } else {
            std::mem::replace(&mut channel.deposit_b, total)
        };
        if participant == BOOTSTRAP_ADDRESS {
            return;
        }
        let capacity = self.capacity.entry(participant).or_default();
        *capacity = capacity.saturating_sub(old).saturating_add(total);
        let capacity = *capacity;
        self.strategies.observe(&GraphChange::CapacityChanged {
            node: participant,
            capacity,
        });
    }

    /// Channel `id` was closed: it leaves the graph.
    pub fn channel_closed(&mut self, id: ChannelId) {
        let Some(channel) = self.channels.get_mut(&id) else {
            return;
        };
        if !channel.open {
            return;
        }
        channel.open = false;
        let channel = *channel;
        self.strategies.observe(&GraphChange::ChannelClosed {
            a: channel.a,
            b: channel.b,
        });
        for (node, deposit) in [
            (channel.a, channel.deposit_a),
            (channel.b, channel.deposit_b),
        ] {
            if node == BOOTSTRAP_ADDRESS {
                continue;
            }
            let capacity = self.capacity.entry(node).or_default();
            *capacity = capacity.saturating_sub(deposit);
            let capacity = *capacity;
            self.strategies
                .observe(&GraphChange::CapacityChanged { node, capacity });
        }
    }

    /// Channel `id` was settled: nothing more can happen to it.
    pub fn channel_settled(&mut self, id: ChannelId) {
        if let Some(channel) = self.channels.remove(&id) {
            if channel.open {
                // Settled without a close seen (events lost to a compaction): close it.
                self.channels.insert(id, channel);
                self.channel_closed(id);
                self.channels.remove(&id);
            }
        }
    }
}
