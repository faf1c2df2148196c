//! Preferential attachment: probability proportional to degree + 1.

use std::collections::HashMap;

use rand::seq::IndexedRandom;
use rand::{Rng, RngCore};

use super::{GraphChange, PartnerStrategy};
use crate::connection::Participants;
use crate::types::Address;

/// Degree and entries in the endpoint list of one node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Ends {
    /// Open channels.
    degree: u32,
    /// Entries in `endpoints`; never below `degree`.
    recorded: u32,
}

/// Preferential attachment: a participant `v` is chosen with probability proportional to
/// `degree(v) + 1`, its number of open channels plus one (so that newcomers of degree 0
/// can be chosen).
///
/// The index is a list with one entry per channel end; a draw picks a uniform participant
/// (the "+1") with probability `N / (N + entries)`, else a uniform entry. Entries of
/// closed channels go stale rather than being removed: an entry of `v` is accepted with
/// probability `degree(v) / recorded(v)`, and the list is rebuilt when stale entries are
/// more than half of it. `observe` is O(1) amortized; `choose` is O(wanted) expected
/// while the excluded participants carry a small share of the weight, and falls back to
/// one weighted pass over the participants otherwise (as [`Participants::sample`] does).
#[derive(Clone, Debug, Default)]
pub struct PreferentialAttachment {
    /// One entry per channel end (some stale).
    pub(super) endpoints: Vec<Address>,
    /// Per node: degree and entries recorded.
    ends: HashMap<Address, Ends>,
    /// Σ degree; `endpoints.len() − total_degree` entries are stale.
    pub(super) total_degree: usize,
}

impl PreferentialAttachment {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of open channels of `node`, as observed.
    pub fn degree(&self, node: &Address) -> u32 {
        self.ends.get(node).map_or(0, |e| e.degree)
    }

    /// Entries of the endpoint list that belong to closed channels.
    pub fn stale_entries(&self) -> usize {
        self.endpoints.len() - self.total_degree
    }

    fn add_end(&mut self, node: Address) {
        let ends = self.ends.entry(node).or_default();
        ends.degree += 1;
        self.total_degree += 1;
        if ends.degree > ends.recorded {
            ends.recorded += 1;
            self.endpoints.push(node);
        }
        // Otherwise a stale entry of this node is valid again.
    }

    fn remove_ends(&mut self, node: &Address, count: Option<u32>) {
        if let Some(ends) = self.ends.get_mut(node) {
            let removed = count.map_or(ends.degree, |c| c.min(ends.degree));
            ends.degree -= removed;
            self.total_degree -= removed as usize;
        }
    }

    fn compact_if_stale(&mut self) {
        if 2 * self.stale_entries() <= self.endpoints.len() {
            return;
        }
        // Keep, in their order (so the result does not depend on hash order), the first
        // `degree(v)` entries of each node.
        let mut kept: HashMap<Address, u32> = HashMap::with_capacity(self.ends.len());
        let ends = &self.ends;
        self.endpoints.retain(|node| {
            let degree = ends.get(node).map_or(0, |e| e.degree);
            let count = kept.entry(*node).or_default();
            if *count < degree {
                *count += 1;
                true
            } else {
                false
            }
        });
        self.ends.retain(|_, e| e.degree > 0);
        for (node, e) in self.ends.iter_mut() {
            e.recorded = kept.get(node).copied().unwrap_or(0);
        }
    }

    /// The weight of a participant: degree + 1.
    fn weight(&self, node: &Address) -> f64 {
        f64::from(self.degree(node)) + 1.0
    }
}

impl PartnerStrategy for PreferentialAttachment {
    fn name(&self) -> &'static str {
        "preferential_attachment"
    }

    fn observe(&mut self, change: &GraphChange) {
        match *change {
            GraphChange::ChannelOpened { a, b } => {
                self.add_end(a);
                self.add_end(b);
            }
            GraphChange::ChannelClosed { a, b } => {
                self.remove_ends(&a, Some(1));
                self.remove_ends(&b, Some(1));
                self.compact_if_stale();
            }
            GraphChange::CapacityChanged { .. } => {}
            GraphChange::NodeLeft { node } => {
                self.remove_ends(&node, None);
                self.compact_if_stale();
            }
        }
    }

    fn choose(
        &mut self,
        participants: &Participants,
        wanted: usize,
        rng: &mut dyn RngCore,
        excluded: &dyn Fn(&Address) -> bool,
    ) -> Vec<Address> {
        let mut chosen: Vec<Address> = Vec::with_capacity(wanted);
        let n = participants.len();
        if wanted == 0 || n == 0 {
            return chosen;
        }
        let entries = self.endpoints.len();
        let max_draws = 8 * wanted + 64;
        for _ in 0..max_draws {
            if chosen.len() == wanted {
                return chosen;
            }
            let draw = rng.random_range(0..n + entries);
            let candidate = if draw < n {
                // `nth` on the participants' slice iterator is O(1).
                match participants.iter().nth(draw) {
                    Some(a) => *a,
                    None => continue,
                }
            } else {
                let node = self.endpoints[draw - n];
                let ends = self.ends.get(&node).copied().unwrap_or_default();
                let accepted = ends.degree > 0
                    && (ends.degree >= ends.recorded
                        || rng.random_range(0..ends.recorded) < ends.degree);
                if !accepted || !participants.contains(&node) {
                    continue;
                }
                node
            };
            if !excluded(&candidate) && !chosen.contains(&candidate) {
                chosen.push(candidate);
            }
        }
        if chosen.len() < wanted {
            // Most of the weight is excluded: one weighted pass over the eligible.
            let missing = wanted - chosen.len();
            let rest: Vec<Address> = participants
                .iter()
                .filter(|a| !excluded(a) && !chosen.contains(a))
                .copied()
                .collect();
            match rest.choose_multiple_weighted(rng, missing, |a| self.weight(a)) {
                Ok(picked) => chosen.extend(picked.copied()),
                // Unreachable (every weight is at least 1); keep the count right anyway.
                Err(_) => chosen.extend(rest.choose_multiple(rng, missing).copied()),
            }
        }
        chosen
    }
}
