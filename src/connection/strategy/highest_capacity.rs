//! The participants with the largest deposits (CLBOSS-like).

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

use rand::RngCore;

use super::{GraphChange, PartnerStrategy};
use crate::connection::Participants;
use crate::types::{Address, U256};

/// Deterministic: the eligible participants with the largest capacity (the sum of their
/// deposits in open channels), ties broken by the smaller address.
///
/// Every node seen in a channel is indexed (capacity 0 until reported otherwise), in a
/// set ordered by capacity then address; `choose` walks it from the top, O(wanted +
/// skipped); `observe` is O(log n).
#[derive(Clone, Debug, Default)]
pub struct HighestCapacity {
    ranked: BTreeSet<(Reverse<U256>, Address)>,
    capacity: HashMap<Address, U256>,
}

impl HighestCapacity {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// The capacity of `node`, as observed (0 if unknown).
    pub fn capacity(&self, node: &Address) -> U256 {
        self.capacity.get(node).copied().unwrap_or(U256::ZERO)
    }

    fn set(&mut self, node: Address, capacity: U256) {
        if let Some(old) = self.capacity.insert(node, capacity) {
            self.ranked.remove(&(Reverse(old), node));
        }
        self.ranked.insert((Reverse(capacity), node));
    }
}

impl PartnerStrategy for HighestCapacity {
    fn name(&self) -> &'static str {
        "highest_capacity"
    }

    fn observe(&mut self, change: &GraphChange) {
        match *change {
            GraphChange::ChannelOpened { a, b } => {
                for node in [a, b] {
                    if !self.capacity.contains_key(&node) {
                        self.set(node, U256::ZERO);
                    }
                }
            }
            GraphChange::ChannelClosed { .. } => {}
            GraphChange::CapacityChanged { node, capacity } => self.set(node, capacity),
            GraphChange::NodeLeft { node } => {
                if self.capacity.contains_key(&node) {
                    self.set(node, U256::ZERO);
                }
            }
        }
    }

    fn choose(
        &mut self,
        participants: &Participants,
        wanted: usize,
        _rng: &mut dyn RngCore,
        excluded: &dyn Fn(&Address) -> bool,
    ) -> Vec<Address> {
        let mut chosen: Vec<Address> = Vec::with_capacity(wanted);
        if wanted == 0 {
            return chosen;
        }
        for (_, node) in &self.ranked {
            if chosen.len() == wanted {
                return chosen;
            }
            if !excluded(node) && participants.contains(node) {
                // Addresses are unique in the set: no duplicate check needed.
                chosen.push(*node);
            }
        }
        if chosen.len() < wanted && participants.len() > self.capacity.len() {
            // Participants the engine never reported (capacity 0): by address.
            let mut rest: Vec<Address> = participants
                .iter()
                .filter(|a| !self.capacity.contains_key(*a) && !excluded(a))
                .copied()
                .collect();
            rest.sort_unstable();
            rest.truncate(wanted - chosen.len());
            chosen.extend(rest);
        }
        chosen
    }
}
