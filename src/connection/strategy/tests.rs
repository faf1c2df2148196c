//! Tests of the strategies.

use super::*;
use crate::connection::{
    Action, ConnectionManager, ConnectionParams, NetworkView, OpenChannel, UniformSampler,
};
use crate::types::{ChannelId, BOOTSTRAP_ADDRESS};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

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
fn strategy_kinds_parse_from_their_names_and_refuse_others() {
    for kind in StrategyKind::ALL {
        assert_eq!(kind.name().parse::<StrategyKind>(), Ok(kind));
    }
    let error = "random".parse::<StrategyKind>().unwrap_err();
    assert!(
        error
            .to_string()
            .contains("uniform, preferential_attachment"),
        "{error}"
    );
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
        partner_opened: false,
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
        totals: None,
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

/// A graph of `edges` observed by a fresh strategy of `kind`, and its participants.
fn hand_made(kind: StrategyKind, edges: &[(u64, u64)]) -> (Box<dyn PartnerStrategy>, Participants) {
    let mut strategy = kind.build();
    let mut p = Participants::new();
    for &(a, b) in edges {
        p.insert(address(a));
        p.insert(address(b));
        open(strategy.as_mut(), a, b);
    }
    (strategy, p)
}

/// The path 0 – 1 – … – 6.
const PATH: [(u64, u64); 6] = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6)];
/// A star: hub 0, leaves 1 to 8.
const STAR: [(u64, u64); 8] = [
    (0, 1),
    (0, 2),
    (0, 3),
    (0, 4),
    (0, 5),
    (0, 6),
    (0, 7),
    (0, 8),
];

/// Two cliques {0..4} and {5..9}, joined by the bridge 4 – 5.
fn bridged_cliques() -> Vec<(u64, u64)> {
    let mut edges = Vec::new();
    for group in [0u64, 5] {
        for i in group..group + 5 {
            for j in i + 1..group + 5 {
                edges.push((i, j));
            }
        }
    }
    edges.push((4, 5));
    edges
}

fn choose_sorted(
    strategy: &mut dyn PartnerStrategy,
    p: &Participants,
    wanted: usize,
    excluded: &dyn Fn(&Address) -> bool,
    seed: u64,
) -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chosen: Vec<u64> = strategy
        .choose(p, wanted, &mut rng, excluded)
        .iter()
        .map(|a| index(a) as u64)
        .collect();
    chosen.sort_unstable();
    chosen
}

#[test]
fn closeness_picks_the_centre_of_a_path_the_hub_of_a_star_and_an_end_of_the_bridge() {
    for seed in 0..20 {
        let (mut s, p) = hand_made(StrategyKind::Closeness, &PATH);
        assert_eq!(choose_sorted(s.as_mut(), &p, 1, &|_| false, seed), [3]);
        // With the centre excluded, one of its two neighbours.
        let next = choose_sorted(s.as_mut(), &p, 1, &|a| index(a) == 3, seed);
        assert!(next == [2] || next == [4], "{next:?}");
        // Two partners, greedily: the centre, then a node of the outer half of one side
        // (which gains 4 hops in all, where a neighbour of 3 gains only 3).
        let two = choose_sorted(s.as_mut(), &p, 2, &|_| false, seed);
        assert!(
            two.contains(&3) && [0, 1, 5, 6].iter().any(|x| two.contains(x)),
            "{two:?}"
        );

        let (mut s, p) = hand_made(StrategyKind::Closeness, &STAR);
        assert_eq!(choose_sorted(s.as_mut(), &p, 1, &|_| false, seed), [0]);

        let (mut s, p) = hand_made(StrategyKind::Closeness, &bridged_cliques());
        let one = choose_sorted(s.as_mut(), &p, 1, &|_| false, seed);
        assert!(one == [4] || one == [5], "{one:?}");
        // The second partner comes from the other side of the bridge.
        let two = choose_sorted(s.as_mut(), &p, 2, &|_| false, seed);
        assert!(two[0] < 5 && two[1] >= 5, "{two:?}");
    }
}

#[test]
fn betweenness_picks_the_hub_the_bridge_and_the_middle_of_a_path() {
    for seed in 0..20 {
        let (mut s, p) = hand_made(StrategyKind::Betweenness, &STAR);
        assert_eq!(choose_sorted(s.as_mut(), &p, 1, &|_| false, seed), [0]);

        let (mut s, p) = hand_made(StrategyKind::Betweenness, &bridged_cliques());
        assert_eq!(choose_sorted(s.as_mut(), &p, 2, &|_| false, seed), [4, 5]);
        // With one end excluded, the other.
        assert_eq!(
            choose_sorted(s.as_mut(), &p, 1, &|a| index(a) == 4, seed),
            [5]
        );

        let (mut s, p) = hand_made(StrategyKind::Betweenness, &PATH);
        assert_eq!(choose_sorted(s.as_mut(), &p, 1, &|_| false, seed), [3]);
        assert_eq!(
            choose_sorted(s.as_mut(), &p, 3, &|_| false, seed),
            [2, 3, 4]
        );
        // More wanted than have a score (the ends have none): filled up uniformly.
        assert_eq!(
            choose_sorted(s.as_mut(), &p, 7, &|_| false, seed),
            [0, 1, 2, 3, 4, 5, 6]
        );
    }
}

#[test]
fn network_aware_strategies_forget_closed_channels() {
    for kind in [StrategyKind::Closeness, StrategyKind::Betweenness] {
        // A star whose hub 0 loses all its channels, while 9 becomes the new hub.
        let (mut s, mut p) = hand_made(kind, &STAR);
        for leaf in 1..=8 {
            close(s.as_mut(), 0, leaf);
            open(s.as_mut(), 9, leaf);
        }
        p.insert(address(9));
        assert_eq!(
            choose_sorted(s.as_mut(), &p, 1, &|_| false, 1),
            [9],
            "{kind}"
        );
        s.observe(&GraphChange::NodeLeft { node: address(9) });
        open(s.as_mut(), 5, 1);
        open(s.as_mut(), 5, 2);
        assert_eq!(
            choose_sorted(s.as_mut(), &p, 1, &|_| false, 1),
            [5],
            "{kind}"
        );
    }
}

#[test]
fn network_aware_strategies_are_deterministic_for_a_seed_on_a_large_graph() {
    for kind in [StrategyKind::Closeness, StrategyKind::Betweenness] {
        let n = 5_000;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut first = kind.build();
        let mut second = kind.build();
        let p = participants(n);
        for i in 1..n {
            // Each node links to an earlier one, some to two: a sparse connected graph.
            for _ in 0..1 + (i % 2) {
                let j = rng.random_range(0..i);
                open(first.as_mut(), i, j);
                open(second.as_mut(), i, j);
            }
        }
        let excluded = |a: &Address| index(a).is_multiple_of(10);
        for seed in 0..5 {
            let a = choose_sorted(first.as_mut(), &p, 3, &excluded, seed);
            let b = choose_sorted(second.as_mut(), &p, 3, &excluded, seed);
            assert_eq!(a, b, "{kind}");
            assert_eq!(a.len(), 3);
            assert!(a.iter().all(|i| !i.is_multiple_of(10)));
        }
    }
}

#[test]
fn the_network_index_reports_what_the_simulator_reports() {
    let (a, b, c) = (address(1), address(2), address(3));
    let mut index = NetworkIndex::new();
    index.channel_opened(ChannelId(1), a, b);
    index.channel_opened(ChannelId(2), a, c);
    index.channel_opened(ChannelId(3), a, BOOTSTRAP_ADDRESS);
    index.deposit(ChannelId(1), a, U256::from(5u64));
    index.deposit(ChannelId(2), a, U256::from(7u64));
    index.deposit(ChannelId(2), a, U256::from(9u64));
    index.deposit(ChannelId(1), b, U256::from(4u64));
    index.deposit(ChannelId(3), BOOTSTRAP_ADDRESS, U256::from(100u64));
    assert_eq!(index.capacity(&a), U256::from(14u64));
    assert_eq!(index.capacity(&BOOTSTRAP_ADDRESS), U256::ZERO);
    let p = {
        let mut p = Participants::new();
        for x in [a, b, c, BOOTSTRAP_ADDRESS] {
            p.insert(x);
        }
        p
    };
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let hc = index
        .strategies()
        .get_mut(StrategyKind::HighestCapacity)
        .unwrap();
    assert_eq!(
        hc.choose(&p, 2, &mut rng, &|x| *x == BOOTSTRAP_ADDRESS),
        [a, b]
    );
    let hub = index
        .strategies()
        .get_mut(StrategyKind::Betweenness)
        .unwrap();
    assert_eq!(hub.choose(&p, 1, &mut rng, &|_| false), [a]);

    index.channel_closed(ChannelId(2));
    index.channel_closed(ChannelId(2));
    assert_eq!(index.capacity(&a), U256::from(5u64));
    index.channel_closed(ChannelId(1));
    index.channel_settled(ChannelId(1));
    assert_eq!(index.capacity(&a), U256::ZERO);
    assert_eq!(index.capacity(&b), U256::ZERO);
    // Only the bootstrap channel is left open: a has degree 1.
    let pa = index
        .strategies()
        .get_mut(StrategyKind::PreferentialAttachment)
        .unwrap();
    assert_eq!(pa.name(), "preferential_attachment");
    assert!(StrategySet::new([StrategyKind::Uniform])
        .get_mut(StrategyKind::Closeness)
        .is_none());
    assert!(StrategySet::default().tracks_capacity());
}
