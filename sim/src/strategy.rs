//! Partner-selection strategies: how a joining node chooses new partners among the
//! participants of a token network.
//!
//! The connection manager's policy (`tokennet::connection`) decides *how many* new
//! partners a node wants and which addresses are not eligible (itself, the bootstrap
//! address, its current partners); a [`PartnerStrategy`] decides *which* ones. The engine
//! reports every change of the channel graph to every strategy ([`GraphChange`]), so a
//! strategy can keep the index it needs to choose quickly.
//!
//! To add a strategy: implement [`PartnerStrategy`] (in one file), add a variant to
//! [`StrategyKind`] and a line to [`StrategyKind::build`].
//!
//! Costs matter: a simulation runs up to a million nodes, so `choose` must not look at
//! every participant, and `observe` must be O(1) or O(log n).

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

use rand::seq::IndexedRandom;
use rand::{Rng, RngCore};
use tokennet::connection::{Participants, PartnerSampler};
use tokennet::types::{Address, U256};

/// What the strategies may keep an index of; the engine reports every change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphChange {
    /// A channel between `a` and `b` was opened.
    ChannelOpened {
        /// One end.
        a: Address,
        /// The other end.
        b: Address,
    },
    /// A channel between `a` and `b` was closed (it no longer counts in the graph).
    ChannelClosed {
        /// One end.
        a: Address,
        /// The other end.
        b: Address,
    },
    /// The capacity of `node` (the sum of its deposits in its open channels) changed.
    CapacityChanged {
        /// The node.
        node: Address,
        /// Its new capacity.
        capacity: U256,
    },
    /// `node` left the network: it has no channels any more (its channel closes are
    /// reported as well). Whether it may still be chosen is for the engine's `excluded`
    /// to say; the strategies only forget its channels.
    NodeLeft {
        /// The node.
        node: Address,
    },
}

/// A way of choosing new partners.
pub trait PartnerStrategy: Send {
    /// The name used in scenario files.
    fn name(&self) -> &'static str;

    /// Keeps the strategy's index up to date (default: nothing).
    fn observe(&mut self, _change: &GraphChange) {}

    /// Up to `wanted` distinct participants for which `excluded` is false.
    ///
    /// Returns fewer only when fewer are eligible.
    fn choose(
        &mut self,
        participants: &Participants,
        wanted: usize,
        rng: &mut dyn RngCore,
        excluded: &dyn Fn(&Address) -> bool,
    ) -> Vec<Address>;
}

/// Raiden's rule: uniformly among the eligible participants.
///
/// Exactly [`Participants::sample`], so that for the same rng it chooses what the node's
/// `tokennet::connection::UniformSampler` chooses. O(wanted) expected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Uniform;

impl PartnerStrategy for Uniform {
    fn name(&self) -> &'static str {
        "uniform"
    }

    fn choose(
        &mut self,
        participants: &Participants,
        wanted: usize,
        rng: &mut dyn RngCore,
        excluded: &dyn Fn(&Address) -> bool,
    ) -> Vec<Address> {
        participants.sample(wanted, rng, excluded)
    }
}

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
    endpoints: Vec<Address>,
    /// Per node: degree and entries recorded.
    ends: HashMap<Address, Ends>,
    /// Σ degree; `endpoints.len() − total_degree` entries are stale.
    total_degree: usize,
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

/// Names accepted in scenario files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// [`Uniform`].
    Uniform,
    /// [`PreferentialAttachment`].
    PreferentialAttachment,
    /// [`HighestCapacity`].
    HighestCapacity,
}

impl StrategyKind {
    /// Every strategy.
    pub const ALL: [StrategyKind; 3] = [
        StrategyKind::Uniform,
        StrategyKind::PreferentialAttachment,
        StrategyKind::HighestCapacity,
    ];

    /// A fresh strategy of this kind, with an empty index.
    pub fn build(self) -> Box<dyn PartnerStrategy> {
        match self {
            StrategyKind::Uniform => Box::new(Uniform),
            StrategyKind::PreferentialAttachment => Box::new(PreferentialAttachment::new()),
            StrategyKind::HighestCapacity => Box::new(HighestCapacity::new()),
        }
    }

    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Uniform => "uniform",
            StrategyKind::PreferentialAttachment => "preferential_attachment",
            StrategyKind::HighestCapacity => "highest_capacity",
        }
    }
}

impl std::fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Adapts a strategy and a node's rng to the policy's
/// `tokennet::connection::PartnerSampler`, for
/// `tokennet::connection::ConnectionManager::open_channels_with`.
pub struct StrategySampler<'a> {
    /// The strategy.
    pub strategy: &'a mut dyn PartnerStrategy,
    /// The node's rng.
    pub rng: &'a mut dyn RngCore,
}

impl PartnerSampler for StrategySampler<'_> {
    fn sample(
        &mut self,
        participants: &Participants,
        wanted: usize,
        excluded: &dyn Fn(&Address) -> bool,
    ) -> Vec<Address> {
        self.strategy
            .choose(participants, wanted, &mut *self.rng, excluded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::collections::HashSet;
    use tokennet::connection::{
        Action, ConnectionManager, ConnectionParams, NetworkView, OpenChannel, UniformSampler,
    };
    use tokennet::types::{ChannelId, BOOTSTRAP_ADDRESS};

    fn address(i: u64) -> Address {
        let mut bytes = [0u8; 20];
        bytes[12..].copy_from_slice(&i.to_be_bytes());
        Address::from(bytes)
    }

    fn index(a: &Address) -> usize {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&a.as_slice()[12..]);
        u64::from_be_bytes(bytes) as usize
    }

    fn participants(n: u64) -> Participants {
        let mut p = Participants::new();
        for i in 0..n {
            p.insert(address(i));
        }
        p
    }

    fn open(strategy: &mut dyn PartnerStrategy, a: u64, b: u64) {
        strategy.observe(&GraphChange::ChannelOpened {
            a: address(a),
            b: address(b),
        });
    }

    fn close(strategy: &mut dyn PartnerStrategy, a: u64, b: u64) {
        strategy.observe(&GraphChange::ChannelClosed {
            a: address(a),
            b: address(b),
        });
    }

    /// Frequencies of a single choice per participant over `draws` draws.
    fn frequencies(
        strategy: &mut dyn PartnerStrategy,
        participants: &Participants,
        draws: usize,
        seed: u64,
    ) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut counts = vec![0usize; participants.len()];
        for _ in 0..draws {
            let chosen = strategy.choose(participants, 1, &mut rng, &|_| false);
            assert_eq!(chosen.len(), 1);
            counts[index(&chosen[0])] += 1;
        }
        counts.iter().map(|&c| c as f64 / draws as f64).collect()
    }

    fn assert_close(observed: f64, expected: f64, what: &str) {
        assert!(
            (observed - expected).abs() <= 0.05 * expected + 0.002,
            "{what}: observed {observed}, expected {expected}"
        );
    }

    #[test]
    fn uniform_equals_participants_sample_and_the_node_sampler() {
        let p = participants(1000);
        let excluded = |a: &Address| index(a).is_multiple_of(3);
        let mut ours = ChaCha8Rng::seed_from_u64(5);
        let mut theirs = ChaCha8Rng::seed_from_u64(5);
        let mut node = ChaCha8Rng::seed_from_u64(5);
        let mut strategy = Uniform;
        for wanted in [0, 1, 3, 10, 700, 2000] {
            let a = strategy.choose(&p, wanted, &mut ours, &excluded);
            let b = p.sample(wanted, &mut theirs, excluded);
            let c = UniformSampler(&mut node).sample(&p, wanted, &excluded);
            assert_eq!(a, b);
            assert_eq!(a, c);
        }
    }

    #[test]
    fn preferential_attachment_follows_degree_plus_one_on_a_star() {
        // Hub 0 with 20 leaves 1..=20, and 10 isolated participants 21..=30.
        let p = participants(31);
        let mut pa = PreferentialAttachment::new();
        for leaf in 1..=20 {
            open(&mut pa, 0, leaf);
        }
        assert_eq!(pa.degree(&address(0)), 20);
        let total = 31.0 + 40.0;
        let f = frequencies(&mut pa, &p, 200_000, 11);
        assert_close(f[0], 21.0 / total, "hub");
        for (leaf, &fr) in f.iter().enumerate().take(21).skip(1) {
            assert_close(fr, 2.0 / total, &format!("leaf {leaf}"));
        }
        for (isolated, &fr) in f.iter().enumerate().skip(21) {
            assert_close(fr, 1.0 / total, &format!("isolated {isolated}"));
        }
        assert!(f[0] > 8.0 * f[1]);
    }

    #[test]
    fn preferential_attachment_handles_closes() {
        let p = participants(31);
        let mut pa = PreferentialAttachment::new();
        for leaf in 1..=20 {
            open(&mut pa, 0, leaf);
        }
        // Close 5 of the hub's channels: few stale entries, no rebuild yet.
        for leaf in 1..=5 {
            close(&mut pa, 0, leaf);
        }
        assert_eq!(pa.degree(&address(0)), 15);
        assert_eq!(pa.degree(&address(3)), 0);
        assert_eq!(pa.stale_entries(), 10);
        let total = 31.0 + 30.0;
        let f = frequencies(&mut pa, &p, 200_000, 12);
        assert_close(f[0], 16.0 / total, "hub");
        for (node, &fr) in f.iter().enumerate().take(6).skip(1) {
            assert_close(fr, 1.0 / total, &format!("closed leaf {node}"));
        }
        for (node, &fr) in f.iter().enumerate().take(21).skip(6) {
            assert_close(fr, 2.0 / total, &format!("leaf {node}"));
        }

        // Reopening reuses a stale entry.
        open(&mut pa, 0, 1);
        assert_eq!(pa.stale_entries(), 8);

        // Close everything but one channel: the list is rebuilt.
        for leaf in std::iter::once(1).chain(6..=19) {
            close(&mut pa, 0, leaf);
        }
        assert_eq!(pa.degree(&address(0)), 1);
        assert!(2 * pa.stale_entries() <= pa.endpoints.len());
        let total = 31.0 + 2.0;
        let f = frequencies(&mut pa, &p, 200_000, 13);
        assert_close(f[0], 2.0 / total, "former hub");
        assert_close(f[20], 2.0 / total, "last leaf");
        for (node, &fr) in f.iter().enumerate().take(20).skip(1) {
            assert_close(fr, 1.0 / total, &format!("node {node}"));
        }

        // A node that leaves counts at the degree-0 rate; its later closes change nothing.
        pa.observe(&GraphChange::NodeLeft { node: address(0) });
        assert_eq!(pa.degree(&address(0)), 0);
        assert_eq!(pa.degree(&address(20)), 1);
        close(&mut pa, 0, 20);
        assert_eq!(pa.degree(&address(20)), 0);
        assert_eq!(pa.total_degree, 0);
        let f = frequencies(&mut pa, &p, 100_000, 14);
        for (node, &fr) in f.iter().enumerate() {
            assert_close(fr, 1.0 / 31.0, &format!("node {node}"));
        }
    }

    #[test]
    fn preferential_attachment_falls_back_when_the_heavy_nodes_are_excluded() {
        // Hub 0 with 50 leaves; excluded: the hub and all leaves but 50. Eligible: 50
        // (degree 1) and the isolated 51..=52.
        let p = participants(53);
        let mut pa = PreferentialAttachment::new();
        for leaf in 1..=50 {
            open(&mut pa, 0, leaf);
        }
        let excluded = |a: &Address| index(a) < 50;
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..100 {
            let mut chosen = pa.choose(&p, 5, &mut rng, &excluded);
            chosen.sort();
            assert_eq!(chosen, vec![address(50), address(51), address(52)]);
        }
    }

    #[test]
    fn highest_capacity_picks_the_top_skipping_excluded() {
        let p = participants(10);
        let mut hc = HighestCapacity::new();
        for i in 1..10 {
            open(&mut hc, 0, i);
        }
        for (node, capacity) in [(3u64, 50u64), (5, 80), (7, 50), (2, 10), (9, 80)] {
            hc.observe(&GraphChange::CapacityChanged {
                node: address(node),
                capacity: U256::from(capacity),
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let none = |_: &Address| false;
        assert_eq!(
            hc.choose(&p, 4, &mut rng, &none),
            vec![address(5), address(9), address(3), address(7)]
        );
        let excluded = |a: &Address| *a == address(5) || *a == address(3);
        assert_eq!(
            hc.choose(&p, 3, &mut rng, &excluded),
            vec![address(9), address(7), address(2)]
        );
        // A capacity that drops moves down; zero-capacity nodes follow, by address.
        hc.observe(&GraphChange::CapacityChanged {
            node: address(9),
            capacity: U256::ZERO,
        });
        assert_eq!(hc.capacity(&address(9)), U256::ZERO);
        assert_eq!(
            hc.choose(&p, 6, &mut rng, &excluded),
            vec![
                address(7),
                address(2),
                address(0),
                address(1),
                address(4),
                address(6)
            ]
        );
        // A node that leaves drops to zero.
        hc.observe(&GraphChange::NodeLeft { node: address(7) });
        assert_eq!(hc.choose(&p, 1, &mut rng, &excluded), vec![address(2)]);
    }

    #[test]
    fn highest_capacity_finds_unreported_participants() {
        let p = participants(6);
        let mut hc = HighestCapacity::new();
        hc.observe(&GraphChange::CapacityChanged {
            node: address(4),
            capacity: U256::from(7u64),
        });
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(
            hc.choose(&p, 3, &mut rng, &|a| *a == address(0)),
            vec![address(4), address(1), address(2)]
        );
        // Reported nodes that are not participants are never chosen.
        let mut hc = HighestCapacity::new();
        hc.observe(&GraphChange::CapacityChanged {
            node: address(100),
            capacity: U256::from(7u64),
        });
        assert_eq!(
            hc.choose(&p, 2, &mut rng, &|_| false),
            vec![address(0), address(1)]
        );
    }

    /// A small random graph, observed by the strategy.
    fn populate(strategy: &mut dyn PartnerStrategy, n: u64, rng: &mut ChaCha8Rng) {
        for _ in 0..3 * n {
            let a = rng.random_range(0..n);
            let b = rng.random_range(0..n);
            if a != b {
                open(strategy, a, b);
                if rng.random_bool(0.3) {
                    close(strategy, a, b);
                }
                strategy.observe(&GraphChange::CapacityChanged {
                    node: address(a),
                    capacity: U256::from(rng.random_range(0..1000u64)),
                });
            }
        }
    }

    #[test]
    fn no_strategy_returns_excluded_or_duplicates() {
        let n = 40;
        let p = participants(n);
        for kind in StrategyKind::ALL {
            let mut strategy = kind.build();
            assert_eq!(strategy.name(), kind.name());
            let mut rng = ChaCha8Rng::seed_from_u64(17);
            populate(strategy.as_mut(), n, &mut rng);
            for round in 0..200u64 {
                let modulus = round % 7 + 2;
                let excluded = |a: &Address| (index(a) as u64).is_multiple_of(modulus);
                let eligible = (0..n).filter(|i| i % modulus != 0).count();
                let wanted = (round % 45) as usize;
                let chosen = strategy.choose(&p, wanted, &mut rng, &excluded);
                assert_eq!(chosen.len(), wanted.min(eligible), "{kind} round {round}");
                let unique: HashSet<Address> = chosen.iter().copied().collect();
                assert_eq!(unique.len(), chosen.len(), "{kind}: duplicates");
                assert!(
                    chosen.iter().all(|a| !excluded(a) && p.contains(a)),
                    "{kind}"
                );
            }
            // Nobody eligible, or nobody at all.
            assert!(strategy.choose(&p, 3, &mut rng, &|_| true).is_empty());
            assert!(strategy
                .choose(&Participants::new(), 3, &mut rng, &|_| false)
                .is_empty());
        }
    }

    #[test]
    fn strategy_kinds_parse_from_toml() {
        #[derive(serde::Deserialize)]
        struct Scenario {
            strategy: StrategyKind,
        }
        for kind in StrategyKind::ALL {
            let text = format!("strategy = \"{kind}\"");
            let scenario: Scenario = toml::from_str(&text).expect("parses");
            assert_eq!(scenario.strategy, kind);
        }
        assert!(toml::from_str::<Scenario>("strategy = \"random\"").is_err());
    }

    #[test]
    fn strategy_sampler_drives_the_connection_manager() {
        let us = address(1000);
        let mut p = participants(20);
        p.insert(us);
        p.insert(BOOTSTRAP_ADDRESS);
        let funds = U256::from(100u64);
        let manager = ConnectionManager::new(ConnectionParams::with_funds(funds));
        let channels = [OpenChannel {
            partner: address(19),
            channel_id: ChannelId(1),
            our_deposit: manager.per_partner(),
            partner_deposit: U256::ZERO,
        }];
        let view = NetworkView {
            us,
            our_channels: &channels,
            participants: &p,
            token_balance: funds,
        };
        let wanted = manager.channels_to_open(&view) as usize;
        assert!(wanted > 0);

        let mut hc = HighestCapacity::new();
        for i in 0..20 {
            hc.observe(&GraphChange::CapacityChanged {
                node: address(i),
                capacity: U256::from(i),
            });
        }
        hc.observe(&GraphChange::CapacityChanged {
            node: us,
            capacity: U256::from(1_000u64),
        });
        hc.observe(&GraphChange::CapacityChanged {
            node: BOOTSTRAP_ADDRESS,
            capacity: U256::from(1_000u64),
        });
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let actions = manager.open_channels_with(
            &view,
            &mut StrategySampler {
                strategy: &mut hc,
                rng: &mut rng,
            },
        );
        // The top capacities, skipping us, the bootstrap address and partner 19.
        let partners: Vec<Address> = actions
            .iter()
            .map(|a| match a {
                Action::Open { partner, .. } => *partner,
                Action::Deposit { partner, .. } => *partner,
            })
            .collect();
        let expected: Vec<Address> = (0..19).rev().take(wanted).map(address).collect();
        assert_eq!(partners, expected);

        // Uniform through the sampler equals the manager's own uniform choice.
        let mut a = ChaCha8Rng::seed_from_u64(8);
        let mut b = ChaCha8Rng::seed_from_u64(8);
        let mut uniform = Uniform;
        let through_sampler = manager.open_channels_with(
            &view,
            &mut StrategySampler {
                strategy: &mut uniform,
                rng: &mut a,
            },
        );
        assert_eq!(through_sampler, manager.open_channels(&view, &mut b));

        // And with a boxed strategy, as the engine holds them.
        let mut boxed = StrategyKind::PreferentialAttachment.build();
        let actions = manager.open_channels_with(
            &view,
            &mut StrategySampler {
                strategy: boxed.as_mut(),
                rng: &mut a,
            },
        );
        assert_eq!(actions.len(), wanted);
        assert!(actions.iter().all(|action| matches!(
            action,
            Action::Open { partner, .. }
                if *partner != us && *partner != BOOTSTRAP_ADDRESS && *partner != address(19)
        )));
    }
}
