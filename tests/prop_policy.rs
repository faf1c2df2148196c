#![allow(clippy::unwrap_used)]
//! Property tests of the connection manager's pure policy (SPEC §3), over random
//! parameters, participant sets, channels, deposits and balances.
//!
//! The unit tests in `src/connection/tests.rs` check exact actions on hand-built networks;
//! these check the rules that must hold on *every* network: no panic, never spend more
//! than `funds_remaining` or the token balance, never open with us, the bootstrap address
//! or a current partner, never more partners than the target needs, deposits only go up,
//! `per_partner` and `funds_remaining` are SPEC §3's integer arithmetic, and a leaving
//! manager does nothing. Amounts are checked against a model computed in 512 bits, so
//! that a wrap-around in the policy's 256-bit arithmetic cannot hide.

use std::collections::{BTreeSet, HashSet};

use alloy_primitives::U512;
use proptest::prelude::*;
use proptest::sample::Index;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokennet::connection::{
    tokens_needed, Action, ConnectionManager, ConnectionParams, JoinableFraction, NetworkView,
    OpenChannel, Participants, PartnerSampler, UniformSampler, MAX_INITIAL_CHANNEL_TARGET,
};
use tokennet::types::{Address, ChannelId, BOOTSTRAP_ADDRESS, U256};

/// Billionths in one whole (the denominator of `joinable_funds_target`).
const BILLION: u32 = 1_000_000_000;

// ---------------------------------------------------------------------------------------
// Addresses

/// Our own address.
const US: Address = Address::new([0xAA; 20]);

/// Participant number `i` (never us, never the bootstrap address).
fn addr(i: u16) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = 0x10;
    bytes[18..].copy_from_slice(&i.to_be_bytes());
    Address::from(bytes)
}

// ---------------------------------------------------------------------------------------
// Strategies

/// Token amounts with the edges over-represented: 0, 1, tiny, 64- and 128-bit, any
/// 256-bit value, powers of two and the top of the range.
fn amount() -> BoxedStrategy<U256> {
    prop_oneof![
        2 => Just(U256::ZERO),
        1 => Just(U256::from(1u8)),
        1 => Just(U256::MAX),
        1 => Just(U256::MAX - U256::from(1u8)),
        6 => (0u64..2_000).prop_map(U256::from),
        2 => any::<u64>().prop_map(U256::from),
        1 => any::<u128>().prop_map(U256::from),
        2 => any::<[u8; 32]>().prop_map(U256::from_be_bytes),
        1 => (0usize..256).prop_map(|k| U256::from(1u8) << k),
    ]
    .boxed()
}

/// `initial_channel_target` over its whole valid range, with the edges over-represented.
fn target() -> BoxedStrategy<u32> {
    prop_oneof![
        2 => Just(0u32),
        2 => Just(1u32),
        1 => Just(MAX_INITIAL_CHANNEL_TARGET),
        1 => Just(MAX_INITIAL_CHANNEL_TARGET - 1),
        6 => 0u32..12,
        2 => 0u32..=MAX_INITIAL_CHANNEL_TARGET,
    ]
    .boxed()
}

/// `joinable_funds_target` from 0 to 1, edges included.
fn joinable() -> BoxedStrategy<JoinableFraction> {
    prop_oneof![
        Just(0u32),
        Just(BILLION),
        Just(400_000_000u32),
        Just(BILLION - 1),
        0u32..=BILLION,
    ]
    .prop_map(JoinableFraction::from_billionths)
    .boxed()
}

fn params() -> BoxedStrategy<ConnectionParams> {
    (amount(), target(), joinable())
        .prop_map(
            |(funds, initial_channel_target, joinable_funds_target)| ConnectionParams {
                partner_selection: Default::default(),
                funds,
                initial_channel_target,
                joinable_funds_target,
            },
        )
        .boxed()
}

/// Who the partner of one of our channels is.
#[derive(Clone, Copy, Debug)]
enum PartnerKind {
    /// One of the participants, chosen by index (when that is us, the generator skips
    /// the channel; when it is the bootstrap address, it is the bootstrap channel).
    Participant(Index),
    /// An address not (yet) in the participant list.
    Stranger(u16),
    /// The bootstrap placeholder.
    Bootstrap,
}

fn partner_kind() -> BoxedStrategy<PartnerKind> {
    prop_oneof![
        6 => any::<Index>().prop_map(PartnerKind::Participant),
        1 => (1000u16..1100).prop_map(PartnerKind::Stranger),
        1 => Just(PartnerKind::Bootstrap),
    ]
    .boxed()
}

/// A token network as the policy sees it, owned.
#[derive(Clone, Debug)]
struct Net {
    participants: Participants,
    channels: Vec<OpenChannel>,
    balance: U256,
    next_id: u64,
}

impl Net {
    fn view(&self) -> NetworkView<'_> {
        NetworkView {
            us: US,
            our_channels: &self.channels,
            participants: &self.participants,
            token_balance: self.balance,
            totals: None,
        }
    }

    fn partners(&self) -> HashSet<Address> {
        self.channels.iter().map(|c| c.partner).collect()
    }

    /// Non-bootstrap channels.
    fn partner_channels(&self) -> usize {
        self.channels
            .iter()
            .filter(|c| c.partner != BOOTSTRAP_ADDRESS)
            .count()
    }

    fn channel(&self, id: ChannelId) -> Option<&OpenChannel> {
        self.channels.iter().find(|c| c.channel_id == id)
    }

    /// Executes actions as a chain would; fails the case on an action no chain would
    /// accept (a second channel with a partner, a deposit that does not raise, spending
    /// tokens we do not have). Returns the tokens spent.
    fn apply(&mut self, actions: &[Action]) -> Result<U512, TestCaseError> {
        let mut spent = U512::ZERO;
        for action in actions {
            match *action {
                Action::Open { partner, deposit } => {
                    prop_assert!(
                        self.channels.iter().all(|c| c.partner != partner),
                        "second channel with {partner}"
                    );
                    prop_assert!(deposit <= self.balance, "overspent: {action:?}");
                    self.balance -= deposit;
                    spent += U512::from(deposit);
                    let id = ChannelId(self.next_id);
                    self.next_id += 1;
                    self.participants.insert(partner);
                    self.participants.insert(US);
                    self.channels.push(OpenChannel {
                        partner_opened: false,
                        partner,
                        channel_id: id,
                        our_deposit: deposit,
                        partner_deposit: U256::ZERO,
                    });
                }
                Action::Deposit {
                    partner,
                    channel_id,
                    total_deposit,
                } => {
                    let balance = self.balance;
                    let Some(c) = self
                        .channels
                        .iter_mut()
                        .find(|c| c.channel_id == channel_id)
                    else {
                        return Err(TestCaseError::fail(format!(
                            "deposit into unknown channel {channel_id}"
                        )));
                    };
                    prop_assert_eq!(c.partner, partner, "deposit names the wrong partner");
                    prop_assert!(total_deposit > c.our_deposit, "deposit does not raise");
                    let added = total_deposit - c.our_deposit;
                    prop_assert!(added <= balance, "overspent: {:?}", action);
                    self.balance -= added;
                    spent += U512::from(added);
                    c.our_deposit = total_deposit;
                }
            }
        }
        Ok(spent)
    }
}

/// Participants, our channels and our token balance. When `realistic`, every partner and
/// (with any channel) we are participants, as on a chain where participants are learned
/// from channel events; otherwise the list may miss them.
fn net() -> BoxedStrategy<Net> {
    (
        prop::collection::btree_set(0u16..80, 0..40),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec((partner_kind(), amount(), amount()), 0..10),
        amount(),
        prop::bool::weighted(0.8),
    )
        .prop_map(
            |(ids, us_listed, bootstrap_listed, channels, balance, realistic)| {
                let mut participants = Participants::new();
                for id in &ids {
                    participants.insert(addr(*id));
                }
                if us_listed {
                    participants.insert(US);
                }
                if bootstrap_listed {
                    participants.insert(BOOTSTRAP_ADDRESS);
                }
                let listed: Vec<Address> = participants.iter().copied().collect();
                let mut net = Net {
                    participants,
                    channels: Vec::new(),
                    balance,
                    next_id: 1,
                };
                for (kind, ours, theirs) in channels {
                    let partner = match kind {
                        PartnerKind::Participant(index) if !listed.is_empty() => {
                            *index.get(&listed)
                        }
                        PartnerKind::Participant(_) | PartnerKind::Bootstrap => BOOTSTRAP_ADDRESS,
                        PartnerKind::Stranger(i) => addr(i),
                    };
                    if partner == US || net.channels.iter().any(|c| c.partner == partner) {
                        continue;
                    }
                    let our_deposit = if partner == BOOTSTRAP_ADDRESS {
                        U256::ZERO
                    } else {
                        ours
                    };
                    net.channels.push(OpenChannel {
                        partner_opened: false,
                        partner,
                        channel_id: ChannelId(net.next_id),
                        our_deposit,
                        partner_deposit: theirs,
                    });
                    net.next_id += 1;
                    if realistic {
                        net.participants.insert(partner);
                        net.participants.insert(US);
                    }
                }
                net
            },
        )
        .boxed()
}

/// A whole case: a manager (joined or leaving) on a network, and a seed for its choices.
fn case() -> BoxedStrategy<(ConnectionManager, Net, u64)> {
    (params(), prop::bool::weighted(0.15), net(), any::<u64>())
        .prop_map(|(params, leaving, net, seed)| {
            let mut manager = ConnectionManager::new(params);
            if leaving {
                manager.start_leaving();
            }
            (manager, net, seed)
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------
// The model: SPEC §3's definitions, computed in 512 bits

fn wide(value: U256) -> U512 {
    U512::from(value)
}

/// Back to 256 bits, for values the model proves fit (panics otherwise).
fn narrow(value: U512) -> U256 {
    value.to::<U256>()
}

/// `funds × (1 − joinable) / target`, rounded down; 0 when the target is 0.
fn model_per_partner(params: &ConnectionParams) -> U256 {
    if params.initial_channel_target == 0 {
        return U256::ZERO;
    }
    let keep = U512::from(BILLION - params.joinable_funds_target.billionths());
    let exact = wide(params.funds) * keep
        / (U512::from(BILLION) * U512::from(params.initial_channel_target));
    narrow(exact)
}

/// `min(funds − Σ our deposits over our open channels, token balance)`, never below 0.
fn model_funds_remaining(params: &ConnectionParams, net: &Net) -> U256 {
    let deposited = net
        .channels
        .iter()
        .fold(U512::ZERO, |sum, c| sum + wide(c.our_deposit));
    let left = wide(params.funds).saturating_sub(deposited);
    narrow(left.min(wide(net.balance)))
}

/// Non-bootstrap channels whose deposit reaches `per_partner`.
fn model_funded(net: &Net, per_partner: U256) -> usize {
    net.channels
        .iter()
        .filter(|c| c.partner != BOOTSTRAP_ADDRESS && c.our_deposit >= per_partner)
        .count()
}

/// Participants other than us and the bootstrap address.
fn model_others(net: &Net) -> usize {
    net.participants
        .iter()
        .filter(|a| **a != US && **a != BOOTSTRAP_ADDRESS)
        .count()
}

/// Participants a join may choose as new partners.
fn model_eligible(net: &Net) -> usize {
    let partners = net.partners();
    net.participants
        .iter()
        .filter(|a| **a != US && **a != BOOTSTRAP_ADDRESS && !partners.contains(*a))
        .count()
}

/// The most we put into a channel a partner opened: the per-partner share, or, in the
/// join-only mode (target 0, where the share is 0), what is left of the funds.
fn model_joinable_cap(params: &ConnectionParams) -> U256 {
    if params.initial_channel_target == 0 {
        params.funds
    } else {
        model_per_partner(params)
    }
}

/// SPEC §3, joining channels others open: `min(d, funds_remaining, cap)` more than we
/// have, as a new total deposit, if that raises ours; nothing when leaving.
fn model_join_partner(
    manager: &ConnectionManager,
    net: &Net,
    channel: &OpenChannel,
) -> Option<U256> {
    if manager.is_leaving() || channel.partner == BOOTSTRAP_ADDRESS {
        return None;
    }
    let remaining = model_funds_remaining(manager.params(), net);
    let total = wide(channel.partner_deposit)
        .min(wide(channel.our_deposit) + wide(remaining))
        .min(wide(model_joinable_cap(manager.params())));
    (total > wide(channel.our_deposit)).then(|| narrow(total))
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

// ---------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    /// `per_partner` and `funds_remaining` are SPEC §3's definitions, exactly, for any
    /// funds (0 to 2^256 − 1), target and joinable share.
    #[test]
    fn arithmetic_matches_the_spec((manager, net, _seed) in case()) {
        let params = *manager.params();
        let per_partner = manager.per_partner();
        prop_assert_eq!(per_partner, model_per_partner(&params));
        prop_assert_eq!(per_partner, params.per_partner());
        prop_assert!(per_partner <= params.funds);
        prop_assert_eq!(
            manager.funds_remaining(&net.view()),
            model_funds_remaining(&params, &net)
        );
        prop_assert_eq!(
            manager.funded_channels(&net.view()),
            model_funded(&net, per_partner)
        );
    }

    /// A join's actions, on any network: who gets a channel, how many, how much.
    #[test]
    fn open_channels_obeys_the_rules((manager, net, seed) in case()) {
        let view = net.view();
        let params = *manager.params();
        let actions = manager.open_channels(&view, &mut rng(seed));

        // The same seed gives the same actions.
        prop_assert_eq!(&actions, &manager.open_channels(&view, &mut rng(seed)));

        if manager.is_leaving() {
            prop_assert!(actions.is_empty(), "leaving, yet {:?}", actions);
            return Ok(());
        }
        let has_bootstrap = net.channels.iter().any(|c| c.partner == BOOTSTRAP_ADDRESS);
        if model_others(&net) == 0 {
            // Nobody to connect with: the bootstrap channel, without deposit, once.
            let expected = if has_bootstrap {
                vec![]
            } else {
                vec![Action::Open { partner: BOOTSTRAP_ADDRESS, deposit: U256::ZERO }]
            };
            prop_assert_eq!(actions, expected);
            return Ok(());
        }

        let per_partner = model_per_partner(&params);
        let remaining = model_funds_remaining(&params, &net);
        let funded = model_funded(&net, per_partner);
        let target = params.initial_channel_target as usize;
        let wanted = target.saturating_sub(funded);
        let unfunded = net
            .channels
            .iter()
            .filter(|c| c.partner != BOOTSTRAP_ADDRESS && c.our_deposit < per_partner)
            .count();
        let partners = net.partners();

        let mut opened = HashSet::new();
        let mut deposited = HashSet::new();
        let mut spent = U512::ZERO;
        for action in &actions {
            match *action {
                Action::Open { partner, deposit } => {
                    prop_assert_ne!(partner, US, "opened a channel with us");
                    prop_assert_ne!(partner, BOOTSTRAP_ADDRESS, "chose the bootstrap address");
                    prop_assert!(!partners.contains(&partner), "{} is already a partner", partner);
                    prop_assert!(net.participants.contains(&partner), "{} is no participant", partner);
                    prop_assert!(opened.insert(partner), "{} chosen twice", partner);
                    // Each new channel gets the share, or nothing when the budget is short
                    // (never a partial or a zero-valued deposit action).
                    prop_assert!(
                        deposit == per_partner || deposit.is_zero(),
                        "deposit {} is neither 0 nor per_partner {}", deposit, per_partner
                    );
                    spent += wide(deposit);
                }
                Action::Deposit { partner, channel_id, total_deposit } => {
                    let channel = net.channel(channel_id);
                    prop_assert!(channel.is_some(), "deposit into unknown channel {}", channel_id);
                    let channel = channel.unwrap();
                    prop_assert_eq!(channel.partner, partner);
                    prop_assert_ne!(partner, BOOTSTRAP_ADDRESS, "funded the bootstrap channel");
                    prop_assert!(
                        total_deposit > channel.our_deposit,
                        "deposit {} does not raise {}", total_deposit, channel.our_deposit
                    );
                    prop_assert_eq!(total_deposit, per_partner, "top-ups go to per_partner");
                    prop_assert!(deposited.insert(channel_id), "channel {} funded twice", channel_id);
                    spent += wide(total_deposit) - wide(channel.our_deposit);
                }
            }
        }

        // Never more than the funds left, nor than the tokens we hold.
        prop_assert!(spent <= wide(remaining), "spent {} of {} remaining", spent, remaining);
        prop_assert!(spent <= wide(net.balance), "spent {} of balance {}", spent, net.balance);
        let current = |p: &Address| {
            net.channels.iter().find(|c| c.partner == *p).map_or(U256::ZERO, |c| c.our_deposit)
        };
        prop_assert_eq!(wide(tokens_needed(&actions, current)), spent);

        // Never more partners than the target needs: unfunded channels count first, new
        // partners fill the rest, as many as there are eligible participants.
        prop_assert!(opened.len() + deposited.len() <= wanted);
        let chosen_unfunded = unfunded.min(wanted);
        prop_assert!(deposited.len() <= chosen_unfunded);
        prop_assert_eq!(
            opened.len(),
            (wanted - chosen_unfunded).min(model_eligible(&net)),
            "target {} funded {} unfunded {} eligible {}",
            target, funded, unfunded, model_eligible(&net)
        );
        // The gas reserve's count covers every channel the join opens.
        prop_assert!(opened.len() as u64 <= manager.channels_to_open(&view));
    }

    /// Joining a channel a partner opened: `min(d, funds_remaining, per_partner)` as the
    /// new total, only upwards, nothing when leaving or for the bootstrap channel.
    #[test]
    fn join_partner_channel_obeys_the_rule((manager, net, _seed) in case()) {
        let view = net.view();
        let params = *manager.params();
        let remaining = model_funds_remaining(&params, &net);
        for channel in &net.channels {
            let action = manager.join_partner_channel(&view, channel);
            let expected = model_join_partner(&manager, &net, channel);
            match action {
                None => prop_assert_eq!(expected, None, "nothing for {:?}", channel),
                Some(Action::Open { .. }) => {
                    prop_assert!(false, "joining opened a channel: {:?}", action);
                }
                Some(Action::Deposit { partner, channel_id, total_deposit }) => {
                    prop_assert_eq!(Some(total_deposit), expected, "for {:?}", channel);
                    prop_assert_eq!(partner, channel.partner);
                    prop_assert_eq!(channel_id, channel.channel_id);
                    prop_assert!(!manager.is_leaving());
                    prop_assert!(total_deposit > channel.our_deposit);
                    prop_assert!(total_deposit <= channel.partner_deposit);
                    let added = total_deposit - channel.our_deposit;
                    prop_assert!(added <= remaining && added <= net.balance);
                    if params.initial_channel_target > 0 {
                        prop_assert!(total_deposit <= model_per_partner(&params));
                    } else {
                        prop_assert!(total_deposit <= params.funds);
                    }
                }
            }
        }
    }

    /// A leaving manager opens nothing, funds nothing, asks for no retry and reserves gas
    /// for no new channel.
    #[test]
    fn leaving_does_nothing((params, net, seed) in (params(), net(), any::<u64>())) {
        let mut manager = ConnectionManager::new(params);
        manager.start_leaving();
        let view = net.view();
        prop_assert!(manager.open_channels(&view, &mut rng(seed)).is_empty());
        prop_assert_eq!(manager.channels_to_open(&view), 0);
        prop_assert!(!manager.wants_retry(&view));
        for channel in &net.channels {
            prop_assert_eq!(manager.join_partner_channel(&view, channel), None);
        }
        // A PUT after the DELETE is a new join, with the same rules as ever.
        manager.set_params(params);
        prop_assert!(!manager.is_leaving());
    }

    /// `wants_retry` is SPEC §3's condition: not leaving, funds left, fewer funded
    /// channels than a non-zero target.
    #[test]
    fn wants_retry_matches_the_spec((manager, net, _seed) in case()) {
        let params = *manager.params();
        let per_partner = model_per_partner(&params);
        let expected = !manager.is_leaving()
            && params.initial_channel_target > 0
            && model_funded(&net, per_partner) < params.initial_channel_target as usize
            && !model_funds_remaining(&params, &net).is_zero();
        prop_assert_eq!(manager.wants_retry(&net.view()), expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Joins, retries and joined partner channels, round after round on a network that
    /// grows: every action is one a chain accepts, the total spent never exceeds what
    /// was left of the funds at the start, and the channels never outnumber the target
    /// (or what we had before).
    #[test]
    fn repeated_runs_stay_within_funds_and_target(
        (manager, mut net, seed) in case(),
        rounds in prop::collection::vec(
            (prop::collection::vec(0u16..200, 0..6), any::<Index>(), amount()),
            1..6,
        ),
    ) {
        let params = *manager.params();
        let budget = wide(model_funds_remaining(&params, &net));
        let limit = net.partner_channels().max(params.initial_channel_target as usize);
        let had_bootstrap = net.channels.iter().any(|c| c.partner == BOOTSTRAP_ADDRESS);
        let mut spent = U512::ZERO;
        let mut r = rng(seed);
        for (newcomers, pick, partner_deposit) in rounds {
            for i in newcomers {
                net.participants.insert(addr(i));
            }
            let actions = manager.open_channels(&net.view(), &mut r);
            spent += net.apply(&actions)?;

            // A partner raises its deposit in one of our channels; we join it.
            if !net.channels.is_empty() {
                let at = pick.index(net.channels.len());
                let raised = net.channels[at].partner_deposit.max(partner_deposit);
                net.channels[at].partner_deposit = raised;
                let channel = net.channels[at];
                if let Some(action) = manager.join_partner_channel(&net.view(), &channel) {
                    spent += net.apply(&[action])?;
                }
            }

            prop_assert!(spent <= budget, "spent {} of {}", spent, budget);
            prop_assert!(
                net.partner_channels() <= limit,
                "{} channels, target {}", net.partner_channels(), params.initial_channel_target
            );
            let bootstraps = net.channels.iter().filter(|c| c.partner == BOOTSTRAP_ADDRESS).count();
            prop_assert!(bootstraps <= 1, "{} bootstrap channels", bootstraps);
            if manager.is_leaving() {
                prop_assert!(spent.is_zero());
                prop_assert_eq!(bootstraps, usize::from(had_bootstrap));
            }
        }
    }

    /// The sampler: up to `wanted` distinct participants, none excluded, as many as there
    /// are eligible ones when fewer than wanted.
    #[test]
    fn sampling_is_distinct_eligible_and_complete(
        ids in prop::collection::vec(0u16..400, 0..300),
        excluded in prop::collection::btree_set(0u16..400, 0..300),
        wanted in prop_oneof![0usize..5, 0usize..400],
        seed in any::<u64>(),
    ) {
        let mut participants = Participants::new();
        let mut distinct = BTreeSet::new();
        for id in &ids {
            prop_assert_eq!(participants.insert(addr(*id)), distinct.insert(*id));
        }
        prop_assert_eq!(participants.len(), distinct.len());
        prop_assert_eq!(participants.is_empty(), distinct.is_empty());
        let excluded: HashSet<Address> = excluded.into_iter().map(addr).collect();
        let is_excluded = |a: &Address| excluded.contains(a);
        let eligible = participants.iter().filter(|a| !is_excluded(a)).count();

        let mut r = rng(seed);
        let direct = participants.sample(wanted, &mut r, is_excluded);
        let through_trait =
            UniformSampler(&mut rng(seed)).sample(&participants, wanted, &is_excluded);
        for sample in [&direct, &through_trait] {
            prop_assert_eq!(sample.len(), wanted.min(eligible));
            let unique: HashSet<&Address> = sample.iter().collect();
            prop_assert_eq!(unique.len(), sample.len(), "duplicates in {:?}", sample);
            for a in sample.iter() {
                prop_assert!(participants.contains(a));
                prop_assert!(!excluded.contains(a), "{} is excluded", a);
            }
        }
        prop_assert_eq!(direct, through_trait);
    }
}
