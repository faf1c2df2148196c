//! [`ChannelTotals`]: a view with totals kept by the runtime gets the same answers from
//! the policy as a view whose channels the policy walks (the node's case), including when
//! the calls that read only totals are given none of the channels (the simulator's case).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

fn addr(i: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = 0x20;
    bytes[12..].copy_from_slice(&i.to_be_bytes());
    Address::from(bytes)
}

fn us() -> Address {
    Address::from([0xAB; 20])
}

/// A random network: participants, our channels (sometimes the bootstrap channel, deposits
/// around the per-partner share, zero among them), a token balance and a manager.
fn case(rng: &mut ChaCha8Rng) -> (ConnectionManager, Participants, Vec<OpenChannel>, U256) {
    let funds = rng.random_range(0..1_000u64);
    let target = rng.random_range(0..6u32);
    let joinable = JoinableFraction::from_f64(rng.random_range(0..=10u32) as f64 / 10.0)
        .unwrap_or(DEFAULT_JOINABLE_FUNDS_TARGET);
    let params = ConnectionParams {
        partner_selection: Default::default(),
        funds: U256::from(funds),
        initial_channel_target: target,
        joinable_funds_target: joinable,
    };
    let manager = ConnectionManager::new(params);
    let share = manager.per_partner().saturating_to::<u64>();
    let mut participants = Participants::new();
    for i in 1..=rng.random_range(0..8u64) {
        participants.insert(addr(i));
    }
    let mut channels = Vec::new();
    if rng.random_bool(0.3) {
        participants.insert(BOOTSTRAP_ADDRESS);
        channels.push(OpenChannel {
            partner_opened: false,
            partner: BOOTSTRAP_ADDRESS,
            channel_id: ChannelId(100),
            our_deposit: U256::from(rng.random_range(0..3u64)),
            partner_deposit: U256::ZERO,
        });
    }
    for i in 1..=rng.random_range(0..6u64) {
        let ours = match rng.random_range(0..4) {
            0 => 0,
            1 => share,
            2 => share.saturating_sub(1),
            _ => rng.random_range(0..=share + 10),
        };
        participants.insert(addr(i));
        channels.push(OpenChannel {
            partner_opened: false,
            partner: addr(i),
            channel_id: ChannelId(i),
            our_deposit: U256::from(ours),
            partner_deposit: U256::from(rng.random_range(0..=share + 10)),
        });
    }
    if rng.random_bool(0.5) {
        participants.insert(us());
    }
    let balance = U256::from(rng.random_range(0..1_200u64));
    (manager, participants, channels, balance)
}

fn view_of<'a>(
    participants: &'a Participants,
    our_channels: &'a [OpenChannel],
    token_balance: U256,
    totals: Option<ChannelTotals>,
) -> NetworkView<'a> {
    NetworkView {
        us: us(),
        our_channels,
        participants,
        token_balance,
        totals,
    }
}

#[test]
fn totals_give_the_answers_of_the_walk() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for round in 0..2_000 {
        let (manager, participants, channels, balance) = case(&mut rng);
        let totals = ChannelTotals::of(&channels, manager.per_partner());
        let view = |our_channels, totals| view_of(&participants, our_channels, balance, totals);
        let walked = view(&channels, None);
        // The runtime's view: the totals and, for calls reading only them, no channels.
        let kept = view(&[], Some(totals));
        let kept_full = view(&channels, Some(totals));
        let at = format!("round {round}: {manager:?} {channels:?} balance {balance}");

        assert_eq!(
            manager.funds_remaining(&kept),
            manager.funds_remaining(&walked),
            "{at}"
        );
        assert_eq!(
            manager.funded_channels(&kept),
            manager.funded_channels(&walked),
            "{at}"
        );
        assert_eq!(
            manager.wants_retry(&kept),
            manager.wants_retry(&walked),
            "{at}"
        );
        assert_eq!(
            manager.channels_to_open(&kept_full),
            manager.channels_to_open(&walked),
            "{at}"
        );
        // A new channel, and the end of a retry with a trigger that came meanwhile.
        let (mut a, mut b) = (manager, manager);
        assert_eq!(
            a.react(Reaction::NewChannel, &kept),
            b.react(Reaction::NewChannel, &walked),
            "{at}"
        );
        a.react(Reaction::NewChannel, &kept);
        b.react(Reaction::NewChannel, &walked);
        assert_eq!(a.retry_finished(&kept), b.retry_finished(&walked), "{at}");
        // Matching a partner's deposit, given only that channel.
        for channel in &channels {
            assert_eq!(
                manager.match_partner_deposit(
                    &view(std::slice::from_ref(channel), Some(totals)),
                    channel
                ),
                manager.match_partner_deposit(&walked, channel),
                "{at}"
            );
        }
        // Open channels walks the channels it funds, and reads the totals.
        assert_eq!(
            manager.decide_open_channels(
                &kept_full,
                &mut UniformSampler(&mut ChaCha8Rng::seed_from_u64(round))
            ),
            manager.decide_open_channels(
                &walked,
                &mut UniformSampler(&mut ChaCha8Rng::seed_from_u64(round))
            ),
            "{at}"
        );
        // A count against another share is not used: the policy walks.
        let stale = ChannelTotals {
            funded: totals.funded + 1,
            funded_at: totals.funded_at + U256::from(1),
            ..totals
        };
        assert_eq!(
            manager.funded_channels(&view(&channels, Some(stale))),
            manager.funded_channels(&walked),
            "{at}"
        );
    }
}

#[test]
fn counts_as_funded_is_the_rule_of_the_walk() {
    let share = U256::from(10u64);
    let channels = [
        OpenChannel {
            partner_opened: false,
            partner: BOOTSTRAP_ADDRESS,
            channel_id: ChannelId(1),
            our_deposit: U256::from(50u64),
            partner_deposit: U256::ZERO,
        },
        OpenChannel {
            partner_opened: false,
            partner: addr(1),
            channel_id: ChannelId(2),
            our_deposit: U256::from(10u64),
            partner_deposit: U256::ZERO,
        },
        OpenChannel {
            partner_opened: false,
            partner: addr(2),
            channel_id: ChannelId(3),
            our_deposit: U256::from(9u64),
            partner_deposit: U256::ZERO,
        },
    ];
    let totals = ChannelTotals::of(&channels, share);
    assert_eq!(totals.deposited, U256::from(69u64));
    assert_eq!(totals.funded, 1);
    let one_by_one = channels
        .iter()
        .filter(|c| ChannelTotals::counts_as_funded(&c.partner, c.our_deposit, share))
        .count();
    assert_eq!(one_by_one, totals.funded);
}
