//! Cost of the connection manager's join decision as the token network grows.
//!
//! Measures [`ConnectionManager::open_channels`] with the default parameters (target 3)
//! for a node that has no channels yet, on networks of 10^3, 10^5 and 10^6 participants.
//! The participant sets are built once, outside the timed loop; only the decision itself
//! (counting funded channels, then sampling three partners) is timed.
//!
//! SPEC §3 requires partner selection to cost O(target), not O(participants): Raiden
//! shuffled the whole participant list on every join, which dominated simulations of large
//! networks. The three figures, printed side by side as one group with the participant
//! count as parameter, should therefore stay flat (apart from cache effects of the larger
//! sets). A time growing with the participant count means the sampling regressed to a
//! pass over the whole list.
//!
//! A second group, `choose_partners_target_3`, times the same decision with each
//! partner-selection strategy (SPEC §3.1), a line per strategy, on the channel graph the
//! Raiden defaults grow: each participant opened channels to three earlier ones, chosen
//! uniformly (mean degree 6), with random deposits. The indices are fed once, outside the
//! timed loop. These lines should stay flat with the size too: every strategy documents a
//! cost per decision that does not grow with the network.
//!
//! Run with:
//!
//! ```text
//! cargo bench --bench policy
//! ```
//!
//! (add `-- --warm-up-time 1 --measurement-time 3` for a quicker run).

use std::hint::black_box;

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokennet::connection::strategy::{GraphChange, StrategyKind, StrategySet};
use tokennet::connection::{ConnectionManager, ConnectionParams, NetworkView, Participants};
use tokennet::types::{Address, U256};

/// Participant number `i`.
fn address(i: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = 0x10;
    bytes[12..].copy_from_slice(&i.to_be_bytes());
    Address::from(bytes)
}

/// A network of `size` participants, us among them.
fn network(us: Address, size: u64) -> Participants {
    let mut participants = Participants::new();
    participants.insert(us);
    for i in 1..size {
        participants.insert(address(i));
    }
    participants
}

fn join_decision(c: &mut Criterion) {
    let us = Address::from([0xAA; 20]);
    // One token (10^18 units), target 3, joinable 0.4: the defaults of a PUT.
    let manager = ConnectionManager::new(ConnectionParams::with_funds(U256::from(10u64.pow(18))));
    assert_eq!(manager.params().initial_channel_target, 3);

    let mut group = c.benchmark_group("open_channels_target_3");
    group.throughput(Throughput::Elements(1));
    for size in [1_000u64, 100_000, 1_000_000] {
        let participants = network(us, size);
        assert_eq!(participants.len() as u64, size);
        let view = NetworkView {
            us,
            our_channels: &[],
            participants: &participants,
            token_balance: U256::from(10u64.pow(18)),
            totals: None,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(size);
        // The decision opens three channels; checked once, not timed.
        assert_eq!(manager.open_channels(&view, &mut rng).len(), 3);
        group.bench_with_input(BenchmarkId::from_parameter(size), &view, |b, view| {
            b.iter(|| manager.open_channels(black_box(view), &mut rng));
        });
    }
    group.finish();
}

/// A network of `size` participants grown as the Raiden defaults grow it, and every
/// strategy's index fed with it.
fn grown_network(us: Address, size: u64) -> (Participants, StrategySet) {
    let participants = network(us, size);
    let mut strategies = StrategySet::default();
    let mut rng = ChaCha8Rng::seed_from_u64(size ^ 0x5EED);
    for i in 1..size {
        for _ in 0..3.min(i) {
            let j = rng.random_range(0..i);
            let (a, b) = (address(i), address(j));
            strategies.observe(&GraphChange::ChannelOpened { a, b });
            for node in [a, b] {
                strategies.observe(&GraphChange::CapacityChanged {
                    node,
                    capacity: U256::from(rng.random_range(1..1_000u64)),
                });
            }
        }
    }
    (participants, strategies)
}

fn partner_choice(c: &mut Criterion) {
    let us = Address::from([0xAA; 20]);
    let manager = ConnectionManager::new(ConnectionParams::with_funds(U256::from(10u64.pow(18))));
    let mut group = c.benchmark_group("choose_partners_target_3");
    group.throughput(Throughput::Elements(1));
    for size in [1_000u64, 100_000, 1_000_000] {
        let (participants, mut strategies) = grown_network(us, size);
        let view = NetworkView {
            us,
            our_channels: &[],
            participants: &participants,
            token_balance: U256::from(10u64.pow(18)),
            totals: None,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(size);
        for kind in StrategyKind::ALL {
            let Some(mut sampler) = strategies.sampler(kind, &mut rng) else {
                panic!("the set has every strategy");
            };
            // The decision opens three channels; checked once, not timed.
            assert_eq!(manager.open_channels_with(&view, &mut sampler).len(), 3);
            group.bench_with_input(BenchmarkId::new(kind.name(), size), &view, |b, view| {
                b.iter(|| manager.open_channels_with(black_box(view), &mut sampler));
            });
        }
    }
    group.finish();
}

// `criterion_group!` defines an undocumented `pub fn`; the workspace denies missing docs.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::join_decision, super::partner_choice);
}

criterion_main!(group::benches);
