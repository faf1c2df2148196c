//! Closeness (Lange et al., ICBC 2021): the partners that most reduce our mean hop
//! distance to the network, a greedy k-median.

use rand::RngCore;
use rustc_hash::FxHashMap;

use super::graph::{Graph, MAX_DEPTH};
use super::{GraphChange, PartnerStrategy};
use crate::connection::Participants;
use crate::types::Address;

/// Candidates scored per decision (at least `wanted`).
pub const CLOSENESS_CANDIDATES: usize = 16;
/// Nodes each candidate's search reaches at most.
pub const CLOSENESS_BALL: usize = 256;
/// What a node no chosen partner reaches counts as, in hops (above any real distance).
const FAR: u32 = MAX_DEPTH as u32 + 2;

/// Closeness: among a uniform sample of the eligible participants, the ones that bring
/// the network nearest, chosen greedily.
///
/// Lange et al. attach a newcomer to the nodes that minimise its mean distance to the
/// others (a k-median). Exactly, that is a search from every candidate over the whole
/// graph; here each decision:
///
/// 1. draws `max(wanted, CLOSENESS_CANDIDATES)` candidates uniformly among the eligible
///    ([`Participants::sample`], O(candidates) expected);
/// 2. runs a breadth-first search from each, truncated after [`CLOSENESS_BALL`] nodes:
///    the candidate's *ball*, the part of the network it brings within reach, with hop
///    counts;
/// 3. picks, `wanted` times, the candidate whose ball lowers most the sum over the balls'
///    nodes of our distance to them (`1 + hops`, or far if no partner chosen so far
///    reaches them), given the partners already picked in this decision.
///
/// Cost per decision: O(candidates × ball) for the searches (each looks at no more than
/// 8 × ball adjacency entries, so that hubs cost no more than others) plus
/// O(wanted × candidates × ball) for the greedy picks, about 5·10^4 steps with the
/// defaults, whatever the size of the network. `observe` is O(1) for an open, O(degree)
/// for a close. Memory: the channel graph (see the graph module: ~100 bytes per node, 8
/// per channel). On a graph smaller than a ball and with no more eligible participants
/// than candidates (the unit tests), this is the exact greedy k-median.
///
/// The strategy does not know which participant is us (the policy gives only what is not
/// eligible), so our existing channels do not count: a node topping up chooses as a
/// newcomer would. Ties go to the earlier candidate of the sample, so the choice is
/// deterministic for a given rng.
#[derive(Clone, Debug, Default)]
pub struct Closeness {
    graph: Graph,
    order: Vec<u32>,
}

impl Closeness {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }
}

impl PartnerStrategy for Closeness {
    fn name(&self) -> &'static str {
        "closeness"
    }

    fn observe(&mut self, change: &GraphChange) {
        self.graph.observe(change);
    }

    fn choose(
        &mut self,
        participants: &Participants,
        wanted: usize,
        rng: &mut dyn RngCore,
        excluded: &dyn Fn(&Address) -> bool,
    ) -> Vec<Address> {
        if wanted == 0 {
            return Vec::new();
        }
        let pool = participants.sample(wanted.max(CLOSENESS_CANDIDATES), rng, excluded);
        if pool.len() <= wanted {
            return pool;
        }
        // Each candidate's ball: (node, hops from the candidate).
        let balls: Vec<Vec<(u32, u32)>> = pool
            .iter()
            .map(|candidate| match self.graph.id(candidate) {
                Some(id) => {
                    self.graph.bfs(id, CLOSENESS_BALL, &mut self.order, None);
                    self.order
                        .iter()
                        .map(|&node| {
                            let hops = self.graph.depth_in_last_search(node).unwrap_or(MAX_DEPTH);
                            (node, u32::from(hops))
                        })
                        .collect()
                }
                // Never in a channel: it brings only itself (scored as gaining nothing).
                None => Vec::new(),
            })
            .collect();
        // Our distance to each node of the balls through the partners picked so far.
        let mut ours: FxHashMap<u32, u32> = FxHashMap::default();
        let mut taken = vec![false; pool.len()];
        let mut chosen = Vec::with_capacity(wanted);
        for _ in 0..wanted {
            let mut best: Option<(usize, u64)> = None;
            for (i, ball) in balls.iter().enumerate() {
                if taken[i] {
                    continue;
                }
                let gain: u64 = ball
                    .iter()
                    .map(|(node, hops)| {
                        let now = ours.get(node).copied().unwrap_or(FAR);
                        u64::from(now.saturating_sub(1 + hops))
                    })
                    .sum();
                if best.is_none_or(|(_, top)| gain > top) {
                    best = Some((i, gain));
                }
            }
            let Some((i, _)) = best else { break };
            taken[i] = true;
            chosen.push(pool[i]);
            for &(node, hops) in &balls[i] {
                let now = ours.entry(node).or_insert(FAR);
                *now = (*now).min(1 + hops);
            }
        }
        chosen
    }
}
