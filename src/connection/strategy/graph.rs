//! The channel graph as the network-aware strategies see it, and truncated breadth-first
//! searches over it.
//!
//! Nodes get dense indices in the order they are first seen, so that adjacency lists are
//! `Vec<u32>` and a search's scratch space is a few arrays indexed by node, reused from one
//! search to the next (a generation stamp marks what the current search has visited, so
//! nothing is cleared per search).
//!
//! Memory: per node, its address twice (list and map, ~60 bytes with the map's overhead),
//! an adjacency `Vec` (24 bytes) and 9 bytes of scratch; per open channel, 8 bytes (one
//! `u32` at each end). About 10 MB for 10^5 nodes and 1.5·10^5 channels.

use std::collections::HashMap;

use super::GraphChange;
use crate::types::Address;

/// The open channels between nodes, as adjacency lists.
#[derive(Clone, Debug, Default)]
pub(super) struct Graph {
    ids: HashMap<Address, u32>,
    addresses: Vec<Address>,
    /// Per node, the other end of each of its open channels (a multiset: a pair may have
    /// two channels while one is closing and the next is open).
    adjacency: Vec<Vec<u32>>,
    /// Scratch of the searches: distance from the source, valid where `seen` holds the
    /// current generation.
    depth: Vec<u8>,
    seen: Vec<u32>,
    generation: u32,
}

/// The deepest level a search goes to; also what "not reached" counts as.
pub(super) const MAX_DEPTH: u8 = 60;
/// Adjacency entries a search may look at, per node of its budget.
pub(super) const SCANS_PER_NODE: usize = 8;

impl Graph {
    /// Number of nodes ever seen.
    pub(super) fn len(&self) -> usize {
        self.addresses.len()
    }

    /// The index of `address`, if it was seen.
    pub(super) fn id(&self, address: &Address) -> Option<u32> {
        self.ids.get(address).copied()
    }

    /// The address of node `id`.
    pub(super) fn address(&self, id: u32) -> Address {
        self.addresses[id as usize]
    }

    fn intern(&mut self, address: Address) -> u32 {
        if let Some(&id) = self.ids.get(&address) {
            return id;
        }
        let id = self.addresses.len() as u32;
        self.ids.insert(address, id);
        self.addresses.push(address);
        self.adjacency.push(Vec::new());
        self.depth.push(0);
        self.seen.push(0);
        id
    }

    fn remove_one(list: &mut Vec<u32>, value: u32) {
        if let Some(at) = list.iter().position(|&v| v == value) {
            list.swap_remove(at);
        }
    }

    /// Applies one change: O(1) for an open, O(degree) for a close, O(degree²) for a
    /// node that leaves.
    pub(super) fn observe(&mut self, change: &GraphChange) {
        match *change {
            GraphChange::ChannelOpened { a, b } => {
                let a = self.intern(a);
                let b = self.intern(b);
                self.adjacency[a as usize].push(b);
                self.adjacency[b as usize].push(a);
            }
            GraphChange::ChannelClosed { a, b } => {
                if let (Some(a), Some(b)) = (self.id(&a), self.id(&b)) {
                    Self::remove_one(&mut self.adjacency[a as usize], b);
                    Self::remove_one(&mut self.adjacency[b as usize], a);
                }
            }
            GraphChange::CapacityChanged { .. } => {}
            GraphChange::NodeLeft { node } => {
                if let Some(id) = self.id(&node) {
                    let ends = std::mem::take(&mut self.adjacency[id as usize]);
                    for other in ends {
                        Self::remove_one(&mut self.adjacency[other as usize], id);
                    }
                }
            }
        }
    }

    /// A breadth-first search from `source` that stops once `budget` nodes are reached,
    /// after [`SCANS_PER_NODE`]` × budget` adjacency entries looked at (so that a hub with
    /// a hundred thousand channels costs no more than a small node), or at depth
    /// [`MAX_DEPTH`]. Leaves in `order` the nodes reached, the source first, in order of
    /// depth, and, if `edges` is given, the edges of the shortest-path DAG it found
    /// (`(u, w)` with `depth(w) = depth(u) + 1`), in the order found. O(budget).
    pub(super) fn bfs(
        &mut self,
        source: u32,
        budget: usize,
        order: &mut Vec<u32>,
        mut edges: Option<&mut Vec<(u32, u32)>>,
    ) {
        order.clear();
        if let Some(edges) = edges.as_deref_mut() {
            edges.clear();
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // A wrap: stamps of 4·10^9 searches ago would look current.
            self.seen.iter_mut().for_each(|s| *s = 0);
            self.generation = 1;
        }
        let generation = self.generation;
        self.seen[source as usize] = generation;
        self.depth[source as usize] = 0;
        order.push(source);
        let mut scans = SCANS_PER_NODE * budget;
        let mut next = 0;
        'search: while next < order.len() {
            let node = order[next];
            next += 1;
            let depth = self.depth[node as usize];
            if depth >= MAX_DEPTH {
                break;
            }
            for &other in &self.adjacency[node as usize] {
                if scans == 0 {
                    break 'search;
                }
                scans -= 1;
                if self.seen[other as usize] != generation {
                    if order.len() >= budget {
                        // Full: the rest of this level is left out.
                        continue;
                    }
                    self.seen[other as usize] = generation;
                    self.depth[other as usize] = depth + 1;
                    order.push(other);
                } else if self.depth[other as usize] != depth + 1 {
                    continue;
                }
                if let Some(edges) = edges.as_deref_mut() {
                    edges.push((node, other));
                }
            }
        }
    }

    /// The depth of `node` in the last search, if it reached `node`.
    pub(super) fn depth_in_last_search(&self, node: u32) -> Option<u8> {
        (self.seen[node as usize] == self.generation).then(|| self.depth[node as usize])
    }
}
