//! Betweenness (Lange et al., ICBC 2021): the partners through which most shortest
//! paths pass, where payments are routed.

use rand::{Rng, RngCore};
use rustc_hash::FxHashMap;

use super::graph::Graph;
use super::{GraphChange, PartnerStrategy};
use crate::connection::Participants;
use crate::types::Address;

/// Sources of the sampled searches per decision.
pub const BETWEENNESS_SOURCES: usize = 16;
/// Nodes each search reaches at most.
pub const BETWEENNESS_BALL: usize = 256;

/// Betweenness: the eligible participants with the highest betweenness centrality, as
/// estimated from a few sampled sources.
///
/// Exact betweenness (Brandes) is a search from every node, O(nodes × channels), far too
/// much per decision. Each decision instead:
///
/// 1. draws [`BETWEENNESS_SOURCES`] sources uniformly among the nodes of the graph (with
///    replacement; every node once if the graph has no more nodes than that);
/// 2. runs Brandes' single-source step from each, truncated after [`BETWEENNESS_BALL`]
///    nodes: shortest-path counts going down the levels, dependencies coming back up,
///    added to each node's score (the sampling estimator of Brandes and Pich, 2007,
///    restricted to pairs within a ball);
/// 3. returns the eligible nodes with the highest scores (ties: the one reached first),
///    and, if fewer than `wanted` scored above zero, the rest drawn uniformly among the
///    eligible.
///
/// The candidates are thus the nodes the sampled searches reached, at most
/// sources × ball of them. Cost per decision: O(sources × ball) for the searches (each
/// looks at no more than 8 × ball adjacency entries, so that hubs cost no more than
/// others) and O(sources × ball × log) to rank, about 10^5 steps with the defaults,
/// whatever the size of the network. `observe` is O(1) for an open, O(degree) for a close.
/// Memory: the channel graph (see the graph module: ~100 bytes per node, 8 per channel)
/// and 16 bytes of scratch per node. On a graph of at most [`BETWEENNESS_SOURCES`] nodes,
/// no larger than a ball (the unit tests), the scores are the exact betweenness (each
/// pair counted from both ends). Deterministic for a given rng.
#[derive(Clone, Debug, Default)]
pub struct Betweenness {
    graph: Graph,
    order: Vec<u32>,
    /// The shortest-path DAG of the last search.
    edges: Vec<(u32, u32)>,
    /// Scratch of the single-source step, valid for the nodes of `order`.
    paths: Vec<f64>,
    dependency: Vec<f64>,
}

impl Betweenness {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Brandes' single-source step from `source`, truncated; adds each reached node's
    /// dependency (the source's excluded) to `score`, remembering first-reach order.
    fn accumulate(&mut self, source: u32, score: &mut FxHashMap<u32, (f64, usize)>) {
        self.graph.bfs(
            source,
            BETWEENNESS_BALL,
            &mut self.order,
            Some(&mut self.edges),
        );
        let size = self.graph.len();
        self.paths.resize(size, 0.0);
        self.dependency.resize(size, 0.0);
        for &node in &self.order {
            self.paths[node as usize] = 0.0;
            self.dependency[node as usize] = 0.0;
        }
        self.paths[source as usize] = 1.0;
        // The search found the edges level by level: every edge into a node comes before
        // every edge out of it, so one pass forward counts the shortest paths and one pass
        // backward sums the dependencies.
        for &(from, to) in &self.edges {
            self.paths[to as usize] += self.paths[from as usize];
        }
        for &(from, to) in self.edges.iter().rev() {
            let below = self.paths[to as usize];
            if below > 0.0 {
                self.dependency[from as usize] +=
                    self.paths[from as usize] / below * (1.0 + self.dependency[to as usize]);
            }
        }
        for &node in &self.order[1..] {
            let rank = score.len();
            score.entry(node).or_insert((0.0, rank)).0 += self.dependency[node as usize];
        }
    }
}

impl PartnerStrategy for Betweenness {
    fn name(&self) -> &'static str {
        "betweenness"
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
        let mut chosen: Vec<Address> = Vec::with_capacity(wanted);
        if wanted == 0 || participants.is_empty() {
            return chosen;
        }
        let nodes = self.graph.len();
        let sources: Vec<u32> = if nodes <= BETWEENNESS_SOURCES {
            (0..nodes as u32).collect()
        } else {
            (0..BETWEENNESS_SOURCES)
                .map(|_| rng.random_range(0..nodes as u32))
                .collect()
        };
        // Node → (score, order first reached): the order makes ties deterministic.
        let mut score: FxHashMap<u32, (f64, usize)> = FxHashMap::default();
        for source in sources {
            self.accumulate(source, &mut score);
        }
        let mut ranked: Vec<(u32, f64, usize)> = score
            .into_iter()
            .filter(|(_, (s, _))| *s > 0.0)
            .map(|(node, (s, rank))| (node, s, rank))
            .collect();
        ranked.sort_unstable_by(|x, y| y.1.total_cmp(&x.1).then(x.2.cmp(&y.2)));
        for (node, _, _) in ranked {
            if chosen.len() == wanted {
                break;
            }
            let address = self.graph.address(node);
            if !excluded(&address) && participants.contains(&address) {
                chosen.push(address);
            }
        }
        if chosen.len() < wanted {
            let missing = wanted - chosen.len();
            let rest = participants.sample(missing, rng, |a| excluded(a) || chosen.contains(a));
            chosen.extend(rest);
        }
        chosen
    }
}
