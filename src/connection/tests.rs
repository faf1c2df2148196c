//! Unit tests of the connection policy.
//!
//! Every test builds a small token network by hand ([`Net`]), asks the policy what to do and
//! checks the exact actions. Random choices use a seeded [`ChaCha8Rng`], so every run is
//! reproducible.

use std::collections::{HashMap, HashSet};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Participant number `i` (never equal to [`us`] or to the bootstrap address for the
/// numbers these tests use).
fn addr(i: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = 0x10;
    bytes[12..].copy_from_slice(&i.to_be_bytes());
    Address::from(bytes)
}

/// Our own address.
fn us() -> Address {
    Address::from([0xAA; 20])
}

fn amount(n: u64) -> U256 {
    U256::from(n)
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn params(funds: u64, target: u32, joinable: f64) -> ConnectionParams {
    params_u256(U256::from(funds), target, joinable)
}

fn params_u256(funds: U256, target: u32, joinable: f64) -> ConnectionParams {
    ConnectionParams {
        partner_selection: Default::default(),
        funds,
        initial_channel_target: target,
        joinable_funds_target: match JoinableFraction::from_f64(joinable) {
            Ok(fraction) => fraction,
            Err(error) => panic!("bad fraction {joinable}: {error}"),
        },
    }
}

fn manager(funds: u64, target: u32, joinable: f64) -> ConnectionManager {
    ConnectionManager::new(params(funds, target, joinable))
}

fn channel(partner: Address, id: u64, ours: u64, theirs: u64) -> OpenChannel {
    OpenChannel {
        partner_opened: false,
        partner,
        channel_id: ChannelId(id),
        our_deposit: amount(ours),
        partner_deposit: amount(theirs),
    }
}

fn open(partner: Address, deposit: u64) -> Action {
    Action::Open {
        partner,
        deposit: amount(deposit),
    }
}

fn deposit(partner: Address, id: u64, total: u64) -> Action {
    Action::Deposit {
        partner,
        channel_id: ChannelId(id),
        total_deposit: amount(total),
    }
}

/// A token network as the policy sees it, owned, so that tests can apply actions to it.
struct Net {
    participants: Participants,
    channels: Vec<OpenChannel>,
    balance: U256,
    next_id: u64,
}

impl Net {
    /// A network with us and participants `1..=others`, no channels of ours, and a large
    /// token balance.
    fn with_others(others: u64) -> Self {
        let mut participants = Participants::new();
        participants.insert(us());
        for i in 1..=others {
            participants.insert(addr(i));
        }
        Self {
            participants,
            channels: Vec::new(),
            balance: U256::from(u64::MAX),
            next_id: 1,
        }
    }

    /// A network where nobody but us exists (not even in the participant list).
    fn empty() -> Self {
        Self {
            participants: Participants::new(),
            channels: Vec::new(),
            balance: U256::from(u64::MAX),
            next_id: 1,
        }
    }

    fn balance(mut self, balance: u64) -> Self {
        self.balance = amount(balance);
        self
    }

    /// Adds one of our channels (and its partner as a participant); returns its id.
    fn add_channel(&mut self, partner: Address, ours: u64, theirs: u64) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.participants.insert(partner);
        self.channels.push(channel(partner, id, ours, theirs));
        id
    }

    fn view(&self) -> NetworkView<'_> {
        NetworkView {
            us: us(),
            our_channels: &self.channels,
            participants: &self.participants,
            token_balance: self.balance,
            totals: None,
        }
    }

    /// Executes actions as a chain would: opens channels, raises deposits, spends tokens.
    fn apply(&mut self, actions: &[Action]) {
        for action in actions {
            match *action {
                Action::Open { partner, deposit } => {
                    assert!(
                        self.channels.iter().all(|c| c.partner != partner),
                        "second channel with {partner}"
                    );
                    assert!(deposit <= self.balance, "overspent");
                    self.balance -= deposit;
                    let id = self.next_id;
                    self.next_id += 1;
                    self.participants.insert(partner);
                    self.channels.push(OpenChannel {
                        partner_opened: false,
                        partner,
                        channel_id: ChannelId(id),
                        our_deposit: deposit,
                        partner_deposit: U256::ZERO,
                    });
                }
                Action::Deposit {
                    channel_id,
                    total_deposit,
                    ..
                } => {
                    let found = self
                        .channels
                        .iter_mut()
                        .find(|c| c.channel_id == channel_id);
                    let Some(c) = found else {
                        panic!("deposit into unknown channel {channel_id}")
                    };
                    assert!(total_deposit > c.our_deposit, "deposit does not raise");
                    let added = total_deposit - c.our_deposit;
                    assert!(added <= self.balance, "overspent");
                    self.balance -= added;
                    c.our_deposit = total_deposit;
                }
            }
        }
    }

    /// Our non-bootstrap channels.
    fn partner_channels(&self) -> usize {
        self.channels
            .iter()
            .filter(|c| c.partner != BOOTSTRAP_ADDRESS)
            .count()
    }
}

/// The partners of the `Open` actions, sorted (their order is the random sample order).
fn opened_partners(actions: &[Action]) -> Vec<Address> {
    let mut partners: Vec<Address> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Open { partner, .. } => Some(*partner),
            Action::Deposit { .. } => None,
        })
        .collect();
    partners.sort();
    partners
}

/// Deposits of the `Open` actions, in action order.
fn open_deposits(actions: &[Action]) -> Vec<U256> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Open { deposit, .. } => Some(*deposit),
            Action::Deposit { .. } => None,
        })
        .collect()
}

/// What the actions take out of our funds.
fn spent(net: &Net, actions: &[Action]) -> U256 {
    actions.iter().fold(U256::ZERO, |sum, a| match *a {
        Action::Open { deposit, .. } => sum + deposit,
        Action::Deposit {
            channel_id,
            total_deposit,
            ..
        } => {
            let current = net
                .channels
                .iter()
                .find(|c| c.channel_id == channel_id)
                .map_or(U256::ZERO, |c| c.our_deposit);
            sum + (total_deposit - current)
        }
    })
}

// ---------------------------------------------------------------------------------------
// Funds split
// ---------------------------------------------------------------------------------------

#[test]
fn per_partner_spec_example_100_target_3_joinable_04_is_20() {
    let m = manager(100, 3, 0.4);
    assert_eq!(m.per_partner(), amount(20));
    assert_eq!(m.params().joinable_cap(), amount(20));
}

#[test]
fn per_partner_of_one_token_in_wei_is_two_tenths() {
    let m = ConnectionManager::new(params_u256(amount(10u64.pow(18)), 3, 0.4));
    assert_eq!(m.per_partner(), amount(2 * 10u64.pow(17)));
}

#[test]
fn per_partner_rounds_down_on_odd_numbers() {
    // 101 × 0.6 = 60.6 → 60, / 3 = 20.
    assert_eq!(manager(101, 3, 0.4).per_partner(), amount(20));
    // 10 × 1.0 / 3 = 3.33 → 3.
    assert_eq!(manager(10, 3, 0.0).per_partner(), amount(3));
    // 7 × 0.5 = 3.5 → 3, / 2 = 1.5 → 1.
    assert_eq!(manager(7, 2, 0.5).per_partner(), amount(1));
    // 99 × 0.6 = 59.4 → 59, / 3 = 19.67 → 19.
    assert_eq!(manager(99, 3, 0.4).per_partner(), amount(19));
    // 10^18 + 1 with joinable 0.4: the extra wei does not round up.
    let m = ConnectionManager::new(params_u256(amount(10u64.pow(18) + 1), 3, 0.4));
    assert_eq!(m.per_partner(), amount(2 * 10u64.pow(17)));
    // 10^18 − 1 rounds down below 2·10^17.
    let m = ConnectionManager::new(params_u256(amount(10u64.pow(18) - 1), 3, 0.4));
    assert_eq!(m.per_partner(), amount(2 * 10u64.pow(17) - 1));
}

#[test]
fn per_partner_edges_target_zero_and_joinable_one() {
    assert_eq!(manager(100, 0, 0.4).per_partner(), U256::ZERO);
    assert_eq!(manager(100, 3, 1.0).per_partner(), U256::ZERO);
    assert_eq!(manager(100, 1, 0.0).per_partner(), amount(100));
    assert_eq!(manager(0, 3, 0.4).per_partner(), U256::ZERO);
}

#[test]
fn open_channels_deposits_per_partner_in_each_new_channel() {
    let net = Net::with_others(10);
    let actions = manager(100, 3, 0.4).open_channels(&net.view(), &mut rng(1));
    assert_eq!(actions.len(), 3);
    assert_eq!(open_deposits(&actions), vec![amount(20); 3]);
    assert_eq!(opened_partners(&actions).len(), 3);
}

// ---------------------------------------------------------------------------------------
// funds_remaining / funded
// ---------------------------------------------------------------------------------------

#[test]
fn funds_remaining_is_funds_minus_deposits_capped_by_balance() {
    let m = manager(100, 3, 0.4);
    let mut net = Net::with_others(5);
    assert_eq!(m.funds_remaining(&net.view()), amount(100));
    // Channels opened by hand and by partners count too.
    net.add_channel(addr(1), 20, 0);
    net.add_channel(addr(2), 15, 40);
    assert_eq!(m.funds_remaining(&net.view()), amount(65));
    let net = net.balance(30);
    assert_eq!(m.funds_remaining(&net.view()), amount(30));
    // Deposits above the funds saturate at zero.
    let mut net = Net::with_others(5);
    net.add_channel(addr(1), 150, 0);
    assert_eq!(m.funds_remaining(&net.view()), U256::ZERO);
}

#[test]
fn funded_means_our_deposit_reaches_per_partner() {
    let m = manager(100, 3, 0.4);
    let mut net = Net::with_others(5);
    net.add_channel(addr(1), 20, 0); // exactly per_partner: funded
    net.add_channel(addr(2), 19, 0); // one short: not funded
    net.add_channel(addr(3), 50, 0); // above: funded
    net.add_channel(addr(4), 0, 100); // partner's deposit does not count
    assert_eq!(m.funded_channels(&net.view()), 2);
}

// ---------------------------------------------------------------------------------------
// Network smaller than the target
// ---------------------------------------------------------------------------------------

#[test]
fn small_network_opens_what_is_possible_with_per_partner_each() {
    let m = manager(100, 3, 0.4);
    let mut net = Net::with_others(2);
    let actions = m.open_channels(&net.view(), &mut rng(3));
    assert_eq!(opened_partners(&actions), vec![addr(1), addr(2)]);
    assert_eq!(open_deposits(&actions), vec![amount(20), amount(20)]);
    net.apply(&actions);

    // The rest waits: nothing more to do now, but a retry is wanted.
    assert_eq!(m.funds_remaining(&net.view()), amount(60));
    assert_eq!(m.open_channels(&net.view(), &mut rng(4)), vec![]);
    assert!(m.wants_retry(&net.view()));
    assert_eq!(m.channels_to_open(&net.view()), 1);

    // A new participant appears: it gets exactly per_partner.
    net.participants.insert(addr(3));
    let actions = m.open_channels(&net.view(), &mut rng(5));
    assert_eq!(actions, vec![open(addr(3), 20)]);
    net.apply(&actions);
    assert!(!m.wants_retry(&net.view()));
    assert_eq!(m.open_channels(&net.view(), &mut rng(6)), vec![]);
}

#[test]
fn small_network_with_a_single_other_participant() {
    let net = Net::with_others(1);
    let actions = manager(90, 5, 0.0).open_channels(&net.view(), &mut rng(0));
    assert_eq!(actions, vec![open(addr(1), 18)]);
}

// ---------------------------------------------------------------------------------------
// Bootstrap
// ---------------------------------------------------------------------------------------

#[test]
fn bootstrap_opened_without_deposit_when_network_is_empty() {
    let m = manager(100, 3, 0.4);
    let net = Net::empty();
    assert_eq!(
        m.open_channels(&net.view(), &mut rng(0)),
        vec![open(BOOTSTRAP_ADDRESS, 0)]
    );
}

#[test]
fn bootstrap_opened_when_only_we_are_participants() {
    let m = manager(100, 3, 0.4);
    let net = Net::with_others(0);
    assert_eq!(
        m.open_channels(&net.view(), &mut rng(0)),
        vec![open(BOOTSTRAP_ADDRESS, 0)]
    );
    // Someone else's bootstrap channel alone does not make the network non-empty for us.
    let mut net = Net::with_others(0);
    net.participants.insert(BOOTSTRAP_ADDRESS);
    assert_eq!(
        m.open_channels(&net.view(), &mut rng(0)),
        vec![open(BOOTSTRAP_ADDRESS, 0)]
    );
}

#[test]
fn bootstrap_not_opened_twice() {
    let m = manager(100, 3, 0.4);
    let mut net = Net::with_others(0);
    net.apply(&m.open_channels(&net.view(), &mut rng(0)));
    assert_eq!(net.channels.len(), 1);
    assert!(net.participants.contains(&BOOTSTRAP_ADDRESS));
    assert_eq!(m.open_channels(&net.view(), &mut rng(1)), vec![]);
    // Also when the chain has not yet reported the bootstrap address as a participant.
    let mut net = Net::with_others(0);
    net.channels.push(channel(BOOTSTRAP_ADDRESS, 1, 0, 0));
    assert!(!net.participants.contains(&BOOTSTRAP_ADDRESS));
    assert_eq!(m.open_channels(&net.view(), &mut rng(2)), vec![]);
}

#[test]
fn bootstrap_opened_even_in_join_only_mode() {
    // SPEC §3 step 2 has no condition on the target.
    let m = manager(100, 0, 0.4);
    let net = Net::with_others(0);
    assert_eq!(
        m.open_channels(&net.view(), &mut rng(0)),
        vec![open(BOOTSTRAP_ADDRESS, 0)]
    );
    assert_eq!(m.channels_to_open(&net.view()), 1);
}

#[test]
fn bootstrap_never_counted_as_funded() {
    // per_partner 0: any channel would count as funded, except the bootstrap one.
    let m = manager(100, 3, 1.0);
    let mut net = Net::with_others(0);
    net.add_channel(BOOTSTRAP_ADDRESS, 0, 0);
    assert_eq!(m.funded_channels(&net.view()), 0);
    // Not even with a deposit in it.
    let m = manager(100, 3, 0.4);
    let mut net = Net::with_others(0);
    net.add_channel(BOOTSTRAP_ADDRESS, 1_000, 0);
    assert_eq!(m.funded_channels(&net.view()), 0);
    assert_eq!(m.channels_to_open(&net.view()), 3);
}

#[test]
fn channels_to_open_is_at_least_one_in_an_empty_network() {
    let net = Net::empty();
    assert_eq!(manager(100, 3, 0.4).channels_to_open(&net.view()), 3);
    assert_eq!(manager(100, 0, 0.4).channels_to_open(&net.view()), 1);
    assert_eq!(manager(100, 1, 0.4).channels_to_open(&net.view()), 1);
    let net = Net::with_others(4);
    assert_eq!(manager(100, 0, 0.4).channels_to_open(&net.view()), 0);
    assert_eq!(manager(100, 3, 0.4).channels_to_open(&net.view()), 3);
}

#[test]
fn bootstrap_never_chosen_as_partner_when_others_exist() {
    let m = manager(100, 3, 0.4);
    let mut net = Net::with_others(0);
    net.add_channel(BOOTSTRAP_ADDRESS, 0, 0);
    net.participants.insert(addr(1));
    for seed in 0..200 {
        let actions = m.open_channels(&net.view(), &mut rng(seed));
        // Only the one real participant; the bootstrap channel gets no deposit either.
        assert_eq!(actions, vec![open(addr(1), 20)], "seed {seed}");
    }
}

#[test]
fn bootstrap_in_participants_is_not_chosen_without_our_bootstrap_channel() {
    // The bootstrap address is a participant (someone else's placeholder channel), and we
    // have no channel with it: it is still never sampled.
    let m = manager(100, 3, 0.4);
    let mut net = Net::with_others(2);
    net.participants.insert(BOOTSTRAP_ADDRESS);
    for seed in 0..200 {
        let actions = m.open_channels(&net.view(), &mut rng(seed));
        assert_eq!(
            opened_partners(&actions),
            vec![addr(1), addr(2)],
            "seed {seed}"
        );
    }
}

#[test]
fn bootstrap_channel_is_not_joined() {
    let m = manager(100, 3, 0.4);
    let mut net = Net::with_others(3);
    net.add_channel(BOOTSTRAP_ADDRESS, 0, 50);
    let bootstrap = net.channels[0];
    assert_eq!(m.join_partner_channel(&net.view(), &bootstrap), None);
}

// ---------------------------------------------------------------------------------------
// Unfunded channels first
// ---------------------------------------------------------------------------------------

#[test]
fn unfunded_channels_are_topped_up_before_sampling_new_partners() {
    let m = manager(100, 3, 0.4); // per_partner 20
    let mut net = Net::with_others(10);
    let a = net.add_channel(addr(1), 0, 0);
    let b = net.add_channel(addr(2), 5, 30);
    net.add_channel(addr(3), 20, 0); // funded
    let actions = m.open_channels(&net.view(), &mut rng(9));
    assert_eq!(
        actions,
        vec![deposit(addr(1), a, 20), deposit(addr(2), b, 20)]
    );
}

#[test]
fn unfunded_deposits_come_before_new_opens() {
    let m = manager(100, 4, 0.2); // per_partner 20
    let mut net = Net::with_others(10);
    let a = net.add_channel(addr(1), 0, 0);
    let b = net.add_channel(addr(2), 10, 0);
    net.add_channel(addr(3), 20, 0);
    for seed in 0..50 {
        let actions = m.open_channels(&net.view(), &mut rng(seed));
        assert_eq!(actions.len(), 3, "seed {seed}");
        assert_eq!(actions[0], deposit(addr(1), a, 20));
        assert_eq!(actions[1], deposit(addr(2), b, 20));
        let Action::Open { partner, deposit } = actions[2] else {
            panic!("third action is not an open: {actions:?}")
        };
        assert!(![addr(1), addr(2), addr(3)].contains(&partner));
        assert_eq!(deposit, amount(20));
    }
}

#[test]
fn only_as_many_unfunded_channels_as_missing_are_funded() {
    let m = manager(100, 2, 0.0); // per_partner 50
    let mut net = Net::with_others(10);
    let a = net.add_channel(addr(1), 0, 0);
    let b = net.add_channel(addr(2), 0, 0);
    net.add_channel(addr(3), 0, 0);
    let actions = m.open_channels(&net.view(), &mut rng(0));
    assert_eq!(
        actions,
        vec![deposit(addr(1), a, 50), deposit(addr(2), b, 50)]
    );
}

#[test]
fn unfunded_top_up_within_budget() {
    // per_partner 20, only 15 left: a top-up of 10 fits, the deposit is the full share.
    let m = manager(100, 1, 0.8);
    let mut net = Net::with_others(5).balance(15);
    let a = net.add_channel(addr(1), 10, 0);
    assert_eq!(
        m.open_channels(&net.view(), &mut rng(0)),
        vec![deposit(addr(1), a, 20)]
    );
}

#[test]
fn unaffordable_unfunded_channels_are_not_replaced_by_new_partners() {
    // per_partner 20, 10 tokens left. Our three channels are all unfunded; they are the
    // partners chosen for target − funded = 3. Their top-ups do not fit, so nothing can be
    // done now: no new partner may be chosen in their place.
    let m = manager(100, 3, 0.4);
    let mut net = Net::with_others(10).balance(10);
    net.add_channel(addr(1), 0, 0);
    net.add_channel(addr(2), 0, 0);
    net.add_channel(addr(3), 0, 0);
    assert_eq!(m.open_channels(&net.view(), &mut rng(0)), vec![]);
}

#[test]
fn short_budget_retries_never_exceed_target_channels() {
    let m = manager(100, 3, 0.4); // per_partner 20
    let mut net = Net::with_others(50).balance(10);
    for round in 0..5 {
        // A new channel somewhere in the network triggers a retry.
        if m.wants_retry(&net.view()) {
            let actions = m.open_channels(&net.view(), &mut rng(round));
            net.apply(&actions);
        }
        assert!(
            net.partner_channels() <= 3,
            "round {round}: {} channels for target 3",
            net.partner_channels()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Joining channels others open
// ---------------------------------------------------------------------------------------

#[test]
fn join_deposits_partner_deposit_when_smaller_than_share() {
    let m = manager(100, 3, 0.4);
    let mut net = Net::with_others(5);
    let id = net.add_channel(addr(1), 0, 7);
    let c = net.channels[0];
    assert_eq!(
        m.join_partner_channel(&net.view(), &c),
        Some(deposit(addr(1), id, 7))
    );
}

#[test]
fn join_deposits_at_most_per_partner() {
    let m = manager(100, 3, 0.4);
    let mut net = Net::with_others(5);
    let id = net.add_channel(addr(1), 0, 500);
    let c = net.channels[0];
    assert_eq!(
        m.join_partner_channel(&net.view(), &c),
        Some(deposit(addr(1), id, 20))
    );
}

#[test]
fn join_deposits_at_most_funds_remaining() {
    let m = manager(100, 3, 0.4);
    // Capped by the token balance.
    let mut net = Net::with_others(5).balance(3);
    let id = net.add_channel(addr(1), 0, 50);
    let c = net.channels[0];
    assert_eq!(
        m.join_partner_channel(&net.view(), &c),
        Some(deposit(addr(1), id, 3))
    );
    // Capped by funds minus our other deposits.
    let mut net = Net::with_others(5);
    net.add_channel(addr(2), 20, 0);
    net.add_channel(addr(3), 20, 0);
    net.add_channel(addr(4), 20, 0);
    net.add_channel(addr(5), 28, 0);
    let id = net.add_channel(addr(6), 0, 50);
    let c = net.channels[4];
    assert_eq!(m.funds_remaining(&net.view()), amount(12));
    assert_eq!(
        m.join_partner_channel(&net.view(), &c),
        Some(deposit(addr(6), id, 12))
    );
}

#[test]
fn join_tops_up_an_existing_deposit_by_at_most_funds_remaining() {
    // Our deposit 10 already counts in funds_remaining: the new total may be our deposit
    // plus what is left (here 10 + 5), never more.
    let m = manager(100, 3, 0.4);
    let mut net = Net::with_others(5).balance(5);
    let id = net.add_channel(addr(1), 10, 50);
    let c = net.channels[0];
    assert_eq!(
        m.join_partner_channel(&net.view(), &c),
        Some(deposit(addr(1), id, 15))
    );
}

#[test]
fn join_does_nothing_when_we_already_have_that_much() {
    let m = manager(100, 3, 0.4);
    let mut net = Net::with_others(5);
    // Already at the share.
    net.add_channel(addr(1), 20, 50);
    // Already at the partner's deposit.
    net.add_channel(addr(2), 7, 7);
    // Above the partner's deposit.
    net.add_channel(addr(3), 9, 4);
    // Partner has deposited nothing.
    net.add_channel(addr(4), 0, 0);
    for c in net.channels.clone() {
        assert_eq!(m.join_partner_channel(&net.view(), &c), None, "{c:?}");
    }
}

#[test]
fn join_does_nothing_without_funds() {
    let m = manager(100, 3, 0.4);
    let mut net = Net::with_others(5).balance(0);
    net.add_channel(addr(1), 0, 50);
    let c = net.channels[0];
    assert_eq!(m.join_partner_channel(&net.view(), &c), None);
}

#[test]
fn join_does_nothing_when_leaving() {
    let mut m = manager(100, 3, 0.4);
    m.start_leaving();
    let mut net = Net::with_others(5);
    net.add_channel(addr(1), 0, 50);
    let c = net.channels[0];
    assert_eq!(m.join_partner_channel(&net.view(), &c), None);
}

#[test]
fn join_only_mode_caps_by_remaining_funds() {
    let m = manager(100, 0, 0.4);
    assert_eq!(m.params().joinable_cap(), amount(100));
    let mut net = Net::with_others(5);
    let a = net.add_channel(addr(1), 0, 70);
    let c = net.channels[0];
    let action = m.join_partner_channel(&net.view(), &c);
    assert_eq!(action, Some(deposit(addr(1), a, 70)));
    net.apply(&[deposit(addr(1), a, 70)]);

    // The second partner asks for 70 too: only 30 are left.
    let b = net.add_channel(addr(2), 0, 70);
    let c = net.channels[1];
    assert_eq!(
        m.join_partner_channel(&net.view(), &c),
        Some(deposit(addr(2), b, 30))
    );
    net.apply(&[deposit(addr(2), b, 30)]);

    // Nothing is left for a third.
    net.add_channel(addr(3), 0, 70);
    let c = net.channels[2];
    assert_eq!(m.join_partner_channel(&net.view(), &c), None);
}

// ---------------------------------------------------------------------------------------
// Retry
// ---------------------------------------------------------------------------------------

#[test]
fn retry_gate_trigger_when_idle_starts_a_run() {
    let mut gate = RetryGate::default();
    assert_eq!(gate, RetryGate::Idle);
    assert!(gate.trigger());
    assert_eq!(gate, RetryGate::Running);
    assert!(!gate.finish());
    assert_eq!(gate, RetryGate::Idle);
}

#[test]
fn retry_gate_trigger_while_running_folds_into_one_more_run() {
    let mut gate = RetryGate::Idle;
    assert!(gate.trigger());
    assert!(!gate.trigger());
    assert_eq!(gate, RetryGate::RunningWithPending);
    // The run ends: one more run, and the gate stays running.
    assert!(gate.finish());
    assert_eq!(gate, RetryGate::Running);
    // That run ends with nothing pending.
    assert!(!gate.finish());
    assert_eq!(gate, RetryGate::Idle);
}

#[test]
fn retry_gate_many_triggers_make_exactly_one_extra_run() {
    let mut gate = RetryGate::Idle;
    let mut runs = 0;
    if gate.trigger() {
        runs += 1;
    }
    for _ in 0..1000 {
        if gate.trigger() {
            runs += 1;
        }
    }
    while gate.finish() {
        runs += 1;
    }
    assert_eq!(runs, 2);
    assert_eq!(gate, RetryGate::Idle);
}

#[test]
fn retry_gate_triggers_during_the_extra_run_make_another() {
    let mut gate = RetryGate::Idle;
    assert!(gate.trigger());
    assert!(!gate.trigger());
    assert!(gate.finish()); // extra run starts
    assert!(!gate.trigger()); // a trigger during the extra run
    assert!(!gate.trigger());
    assert!(gate.finish()); // one more
    assert!(!gate.finish());
    assert_eq!(gate, RetryGate::Idle);
}

#[test]
fn retry_gate_finish_when_idle_stays_idle() {
    let mut gate = RetryGate::Idle;
    assert!(!gate.finish());
    assert_eq!(gate, RetryGate::Idle);
    assert!(!gate.finish());
    assert_eq!(gate, RetryGate::Idle);
    assert!(gate.trigger());
}

#[test]
fn wants_retry_while_funds_left_not_leaving_and_below_target() {
    let m = manager(100, 3, 0.4);
    let mut net = Net::with_others(5);
    assert!(m.wants_retry(&net.view()));
    net.add_channel(addr(1), 20, 0);
    net.add_channel(addr(2), 20, 0);
    assert!(m.wants_retry(&net.view()));
    // Target reached.
    net.add_channel(addr(3), 20, 0);
    assert!(!m.wants_retry(&net.view()));
}

#[test]
fn wants_retry_false_without_funds() {
    let m = manager(100, 3, 0.4);
    let net = Net::with_others(5).balance(0);
    assert!(!m.wants_retry(&net.view()));
    // Funds all deposited, target not reached.
    let mut net = Net::with_others(5);
    net.add_channel(addr(1), 100, 0);
    assert_eq!(m.funded_channels(&net.view()), 1);
    assert!(!m.wants_retry(&net.view()));
}

#[test]
fn wants_retry_false_when_leaving_or_join_only() {
    let net = Net::with_others(5);
    let mut m = manager(100, 3, 0.4);
    m.start_leaving();
    assert!(!m.wants_retry(&net.view()));
    let m = manager(100, 0, 0.4);
    assert!(!m.wants_retry(&net.view()));
}

// ---------------------------------------------------------------------------------------
// Leaving vs target 0
// ---------------------------------------------------------------------------------------

#[test]
fn leaving_opens_and_joins_nothing() {
    let mut m = manager(100, 3, 0.4);
    assert!(!m.is_leaving());
    m.start_leaving();
    assert!(m.is_leaving());
    // Not the bootstrap channel either.
    let empty = Net::empty();
    assert_eq!(m.open_channels(&empty.view(), &mut rng(0)), vec![]);
    assert_eq!(m.channels_to_open(&empty.view()), 0);
    // Nor channels with others, nor top-ups.
    let mut net = Net::with_others(10);
    net.add_channel(addr(1), 0, 50);
    assert_eq!(m.open_channels(&net.view(), &mut rng(0)), vec![]);
    assert_eq!(m.channels_to_open(&net.view()), 0);
    let c = net.channels[0];
    assert_eq!(m.join_partner_channel(&net.view(), &c), None);
}

#[test]
fn put_with_target_zero_is_not_leaving_and_still_joins() {
    let m = manager(100, 0, 0.4);
    assert!(!m.is_leaving());
    let mut net = Net::with_others(10);
    // Opens nothing itself.
    assert_eq!(m.open_channels(&net.view(), &mut rng(0)), vec![]);
    assert_eq!(m.channels_to_open(&net.view()), 0);
    // But joins a partner's channel.
    let id = net.add_channel(addr(1), 0, 50);
    let c = net.channels[0];
    assert_eq!(
        m.join_partner_channel(&net.view(), &c),
        Some(deposit(addr(1), id, 50))
    );
}

#[test]
fn set_params_after_leaving_ends_leaving() {
    let mut m = manager(100, 3, 0.4);
    m.start_leaving();
    m.set_params(params(100, 3, 0.4));
    assert!(!m.is_leaving());
    let net = Net::with_others(5);
    assert_eq!(m.open_channels(&net.view(), &mut rng(0)).len(), 3);
    assert_eq!(m.channels_to_open(&net.view()), 3);
}

#[test]
fn set_params_with_target_zero_after_leaving_is_join_only() {
    let mut m = manager(100, 3, 0.4);
    m.start_leaving();
    m.set_params(params(100, 0, 0.4));
    assert!(!m.is_leaving());
    let mut net = Net::with_others(5);
    let id = net.add_channel(addr(1), 0, 30);
    let c = net.channels[0];
    assert_eq!(
        m.join_partner_channel(&net.view(), &c),
        Some(deposit(addr(1), id, 30))
    );
}

// ---------------------------------------------------------------------------------------
// Tiny funds and budget
// ---------------------------------------------------------------------------------------

#[test]
fn tiny_funds_open_without_deposit() {
    // 2 × 0.6 = 1.2 → 1, / 3 = 0.
    let m = manager(2, 3, 0.4);
    assert_eq!(m.per_partner(), U256::ZERO);
    let mut net = Net::with_others(10);
    let actions = m.open_channels(&net.view(), &mut rng(0));
    assert_eq!(actions.len(), 3);
    assert_eq!(open_deposits(&actions), vec![U256::ZERO; 3]);
    net.apply(&actions);
    // With a share of 0 every channel counts as funded: no Deposit of 0 follows.
    assert_eq!(m.open_channels(&net.view(), &mut rng(1)), vec![]);
}

#[test]
fn tiny_funds_never_deposit_zero_into_existing_channels() {
    let m = manager(2, 3, 0.4);
    let mut net = Net::with_others(10);
    net.add_channel(addr(1), 0, 0);
    net.add_channel(addr(2), 0, 5);
    let actions = m.open_channels(&net.view(), &mut rng(0));
    // Our two zero-deposit channels count as funded (share 0): one new channel, no deposit.
    assert_eq!(actions.len(), 1);
    assert!(matches!(actions[0], Action::Open { deposit, .. } if deposit.is_zero()));
    for c in net.channels.clone() {
        assert_eq!(m.join_partner_channel(&net.view(), &c), None);
    }
}

#[test]
fn open_channels_never_emits_a_zero_deposit_action() {
    // Share 0 (tiny funds, joinable 1.0), or a share with nothing left to give.
    let cases = [
        (0, 3, 0.4, u64::MAX),
        (1, 3, 0.0, u64::MAX),
        (2, 3, 0.4, u64::MAX),
        (100, 3, 1.0, u64::MAX),
        (100, 3, 0.4, 0),
    ];
    for (funds, target, joinable, balance) in cases {
        let m = manager(funds, target, joinable);
        let mut net = Net::with_others(10).balance(balance);
        net.add_channel(addr(1), 0, 0);
        let actions = m.open_channels(&net.view(), &mut rng(0));
        assert!(
            actions.iter().all(|a| !matches!(a, Action::Deposit { .. })),
            "{funds}/{target}/{joinable}/{balance}: {actions:?}"
        );
    }
}

#[test]
fn short_budget_opens_new_channels_without_deposit() {
    // per_partner 33, but only 50 tokens: one channel gets 33, the others open empty.
    let m = manager(100, 3, 0.0);
    let net = Net::with_others(10).balance(50);
    let actions = m.open_channels(&net.view(), &mut rng(0));
    assert_eq!(actions.len(), 3);
    assert_eq!(
        open_deposits(&actions),
        vec![amount(33), U256::ZERO, U256::ZERO]
    );
    assert!(spent(&net, &actions) <= m.funds_remaining(&net.view()));
}

#[test]
fn deposits_never_exceed_funds_remaining() {
    for seed in 0..100u64 {
        let mut r = rng(seed);
        let m = manager(100, 4, 0.2); // per_partner 20
        let balance = seed % 90;
        let mut net = Net::with_others(20).balance(balance);
        // Some unfunded and funded channels of ours.
        net.add_channel(addr(1), seed % 20, 0);
        net.add_channel(addr(2), (seed * 7) % 25, 0);
        let actions = m.open_channels(&net.view(), &mut r);
        let remaining = m.funds_remaining(&net.view());
        assert!(
            spent(&net, &actions) <= remaining,
            "seed {seed}: spent {} of {remaining}: {actions:?}",
            spent(&net, &actions)
        );
        net.apply(&actions); // panics on overspending the balance
    }
}

#[test]
fn deposits_never_exceed_funds_when_hand_opened_channels_used_them() {
    // A hand-opened channel took 70 of the 100: only 30 are left for three shares of 20.
    let m = manager(100, 3, 0.4);
    let mut net = Net::with_others(10);
    net.add_channel(addr(1), 70, 0); // funded (70 ≥ 20)
    let actions = m.open_channels(&net.view(), &mut rng(3));
    assert_eq!(open_deposits(&actions), vec![amount(20), U256::ZERO]);
}

// ---------------------------------------------------------------------------------------
// Repeated PUT
// ---------------------------------------------------------------------------------------

#[test]
fn set_params_replaces_all_parameters() {
    let mut m = manager(100, 3, 0.4);
    let new = params(1_000, 5, 0.5);
    m.set_params(new);
    assert_eq!(*m.params(), new);
    assert_eq!(m.per_partner(), amount(100));
}

#[test]
fn raising_the_target_opens_more_channels() {
    let mut m = manager(100, 2, 0.0); // per_partner 50
    let mut net = Net::with_others(10);
    net.apply(&m.open_channels(&net.view(), &mut rng(0)));
    assert_eq!(net.partner_channels(), 2);
    assert_eq!(m.open_channels(&net.view(), &mut rng(1)), vec![]);

    // PUT again: 200 tokens, target 4, per_partner 50. The two channels stay funded.
    m.set_params(params(200, 4, 0.0));
    let actions = m.open_channels(&net.view(), &mut rng(2));
    assert_eq!(open_deposits(&actions), vec![amount(50), amount(50)]);
    let before: HashSet<Address> = net.channels.iter().map(|c| c.partner).collect();
    assert!(opened_partners(&actions)
        .iter()
        .all(|p| !before.contains(p)));
    net.apply(&actions);
    assert_eq!(net.partner_channels(), 4);
}

#[test]
fn raising_the_share_tops_up_existing_channels_first() {
    let mut m = manager(60, 3, 0.0); // per_partner 20
    let mut net = Net::with_others(10);
    net.apply(&m.open_channels(&net.view(), &mut rng(0)));
    // PUT again with more funds: per_partner 40, the three channels are now unfunded.
    m.set_params(params(120, 3, 0.0));
    let actions = m.open_channels(&net.view(), &mut rng(1));
    let expected: Vec<Action> = net
        .channels
        .iter()
        .map(|c| deposit(c.partner, c.channel_id.0, 40))
        .collect();
    assert_eq!(actions, expected);
}

#[test]
fn lowering_the_target_or_funds_never_closes() {
    let mut m = manager(100, 3, 0.4);
    let mut net = Net::with_others(10);
    net.apply(&m.open_channels(&net.view(), &mut rng(0)));
    assert_eq!(net.partner_channels(), 3);
    for new in [
        params(50, 1, 0.6), // share still 20: all three stay funded
        params(10, 3, 0.4),
        params(100, 0, 0.4),
        params(0, 3, 0.4),
    ] {
        m.set_params(new);
        // The Action type has no close, and nothing at all is proposed.
        assert_eq!(m.open_channels(&net.view(), &mut rng(1)), vec![], "{new:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Determinism and partner selection
// ---------------------------------------------------------------------------------------

#[test]
fn same_seed_gives_same_actions() {
    let m = manager(1_000, 5, 0.4);
    let mut net = Net::with_others(1_000);
    net.add_channel(addr(7), 0, 0);
    let first = m.open_channels(&net.view(), &mut rng(42));
    let second = m.open_channels(&net.view(), &mut rng(42));
    assert_eq!(first, second);
    assert_eq!(first.len(), 5);
    // And different seeds do pick differently (all 20 seeds equal would be astronomically
    // unlikely with 1000 participants).
    let distinct: HashSet<Vec<Address>> = (0..20)
        .map(|seed| opened_partners(&m.open_channels(&net.view(), &mut rng(seed))))
        .collect();
    assert!(distinct.len() > 1);
}

#[test]
fn selection_never_picks_us_bootstrap_or_current_partners() {
    // 8 participants besides us: 3 are partners already, 5 are free. Target 8 with 3
    // funded wants 5 more: exactly the free ones, whatever the seed.
    let m = manager(1_000, 8, 0.0); // per_partner 125
    let mut net = Net::with_others(8);
    net.participants.insert(BOOTSTRAP_ADDRESS);
    net.add_channel(BOOTSTRAP_ADDRESS, 0, 0);
    for i in 1..=3 {
        net.add_channel(addr(i), 125, 0);
    }
    let free: Vec<Address> = (4..=8).map(addr).collect();
    for seed in 0..200 {
        let actions = m.open_channels(&net.view(), &mut rng(seed));
        assert_eq!(opened_partners(&actions), free, "seed {seed}");
        assert_eq!(open_deposits(&actions), vec![amount(125); 5]);
    }
}

#[test]
fn selection_excludes_us_bootstrap_and_partners_in_a_large_network() {
    let m = manager(1_000, 10, 0.0);
    let mut net = Net::with_others(30);
    net.participants.insert(BOOTSTRAP_ADDRESS);
    net.add_channel(BOOTSTRAP_ADDRESS, 0, 0);
    for i in 1..=5 {
        net.add_channel(addr(i), 0, 0);
    }
    let partners: HashSet<Address> = net.channels.iter().map(|c| c.partner).collect();
    for seed in 0..300 {
        let actions = m.open_channels(&net.view(), &mut rng(seed));
        let opened = opened_partners(&actions);
        assert_eq!(opened.len(), 5, "seed {seed}");
        let unique: HashSet<&Address> = opened.iter().collect();
        assert_eq!(unique.len(), 5, "duplicates, seed {seed}");
        for p in &opened {
            assert_ne!(*p, us());
            assert_ne!(*p, BOOTSTRAP_ADDRESS);
            assert!(!partners.contains(p), "seed {seed}: picked partner {p}");
        }
    }
}

#[test]
fn selection_is_uniform_across_participants() {
    // 10 candidates, target 1: each should be picked about 1 in 10 times.
    let m = manager(100, 1, 0.0);
    let mut net = Net::with_others(10);
    net.participants.insert(BOOTSTRAP_ADDRESS);
    let mut r = rng(2024);
    let mut counts: HashMap<Address, u32> = HashMap::new();
    let draws = 20_000;
    for _ in 0..draws {
        let actions = m.open_channels(&net.view(), &mut r);
        let [Action::Open { partner, .. }] = actions[..] else {
            panic!("expected one open: {actions:?}")
        };
        *counts.entry(partner).or_default() += 1;
    }
    assert_eq!(counts.len(), 10, "{counts:?}");
    // Expected 2000 each, standard deviation ≈ 42: ±250 is about 6 σ.
    for (partner, count) in &counts {
        assert!(
            (1750..=2250).contains(count),
            "{partner}: {count} of {draws}"
        );
    }
}

#[test]
fn selection_is_uniform_over_pairs_with_exclusions() {
    // 5 candidates besides 3 partners and us, target picks 2 new ones: the 10 pairs are
    // equally likely.
    let m = manager(1_000, 5, 0.0); // per_partner 200
    let mut net = Net::with_others(8);
    for i in 1..=3 {
        net.add_channel(addr(i), 200, 0);
    }
    let mut r = rng(77);
    let mut counts: HashMap<Vec<Address>, u32> = HashMap::new();
    for _ in 0..20_000 {
        let opened = opened_partners(&m.open_channels(&net.view(), &mut r));
        assert_eq!(opened.len(), 2);
        *counts.entry(opened).or_default() += 1;
    }
    assert_eq!(counts.len(), 10, "{counts:?}");
    for (pair, count) in &counts {
        assert!((1750..=2250).contains(count), "{pair:?}: {count}");
    }
}
