//! Unit tests of the connection manager as a state machine: reactions in, responses and
//! decisions out; the retry gate inside the manager; the leave and the settle timing of
//! SPEC §3.1.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::strategy::StrategyKind;
use super::*;

fn addr(i: u8) -> Address {
    Address::repeat_byte(i)
}

fn us() -> Address {
    Address::repeat_byte(0xAA)
}

fn params(funds: u64, target: u32) -> ConnectionParams {
    ConnectionParams {
        partner_selection: Default::default(),
        funds: U256::from(funds),
        initial_channel_target: target,
        joinable_funds_target: JoinableFraction::from_billionths(400_000_000),
    }
}

fn participants(others: u8) -> Participants {
    let mut participants = Participants::new();
    participants.insert(us());
    for i in 1..=others {
        participants.insert(addr(i));
    }
    participants
}

fn channel(partner: Address, id: u64, ours: u64, theirs: u64) -> OpenChannel {
    OpenChannel {
        partner_opened: false,
        partner,
        channel_id: ChannelId(id),
        our_deposit: U256::from(ours),
        partner_deposit: U256::from(theirs),
    }
}

fn view<'a>(channels: &'a [OpenChannel], participants: &'a Participants) -> NetworkView<'a> {
    NetworkView {
        us: us(),
        our_channels: channels,
        participants,
        token_balance: U256::from(u64::MAX),
        totals: None,
    }
}

#[test]
fn a_new_channel_starts_one_retry_and_folds_the_next_triggers_into_one_more_run() {
    let participants = participants(5);
    let mut manager = ConnectionManager::new(params(100, 3));
    let view = view(&[], &participants);

    let Response::OpenChannels(retry) = manager.react(Reaction::NewChannel, &view) else {
        panic!("a manager short of its target retries");
    };
    assert_eq!(retry.kind, DecisionKind::Retry);
    assert_eq!(retry.inputs.funded_channels, Some(0));
    assert_eq!(retry.inputs.funds_remaining, Some(U256::from(100)));
    assert_eq!(manager.retry_gate(), RetryGate::Running);
    // Two more triggers during the run: no second run now, one more afterwards.
    assert_eq!(
        manager.react(Reaction::NewChannel, &view),
        Response::Nothing
    );
    assert_eq!(
        manager.react(Reaction::NewChannel, &view),
        Response::Nothing
    );
    let again = manager.retry_finished(&view).expect("one more run");
    assert_eq!(again.kind, DecisionKind::Retry);
    assert_eq!(manager.retry_finished(&view), None);
    assert_eq!(manager.retry_gate(), RetryGate::Idle);
}

#[test]
fn a_manager_at_its_target_or_leaving_does_not_retry() {
    let participants = participants(5);
    let funded = [
        channel(addr(1), 1, 20, 0),
        channel(addr(2), 2, 20, 0),
        channel(addr(3), 3, 20, 0),
    ];
    let mut manager = ConnectionManager::new(params(100, 3));
    let at_target = view(&funded, &participants);
    assert_eq!(
        manager.react(Reaction::NewChannel, &at_target),
        Response::Nothing
    );
    assert_eq!(manager.retry_gate(), RetryGate::Idle);

    let mut leaving = ConnectionManager::new(params(100, 3));
    leaving.start_leaving();
    let empty = view(&[], &participants);
    assert_eq!(
        leaving.react(Reaction::NewChannel, &empty),
        Response::Nothing
    );
    let deposit = Reaction::PartnerDeposit {
        channel_id: ChannelId(1),
    };
    assert_eq!(leaving.react(deposit, &empty), Response::Nothing);
    assert_eq!(
        manager.react(deposit, &empty),
        Response::Match {
            channel_id: ChannelId(1)
        }
    );
}

#[test]
fn the_closer_settles_when_the_window_opens_and_the_other_a_grace_period_later() {
    let participants = participants(1);
    let mut manager = ConnectionManager::new(params(100, 3));
    let view = view(&[], &participants);
    let closed = |by| Reaction::Closed {
        channel_id: ChannelId(7),
        by,
        closed_at: 1_000,
        settle_timeout: 500,
    };
    let Response::Settle(ours) = manager.react(closed(Closer::Us), &view) else {
        panic!("a closed channel is settled");
    };
    assert_eq!(
        ours.settle_from, 1_501,
        "the contract wants now > closed_at + timeout"
    );
    let Response::Settle(theirs) = manager.react(closed(Closer::Partner), &view) else {
        panic!("a closed channel is settled");
    };
    assert_eq!(theirs.settle_from, 1_501 + SETTLE_GRACE_SECONDS);

    let decision = theirs.decision(addr(1), StrategyKind::Uniform);
    assert_eq!(decision.kind, DecisionKind::Settle);
    assert_eq!(decision.inputs.settle_from, Some(1_561));
    assert!(decision.reason().contains("grace") || decision.reason().contains("had not settled"));
    assert_eq!(ours.decision(addr(1), StrategyKind::Uniform).detail, None);
    assert_eq!(
        manager.react(
            Reaction::Settled {
                channel_id: ChannelId(7)
            },
            &view
        ),
        Response::Nothing
    );
}

#[test]
fn open_decisions_carry_the_numbers_that_reproduce_their_amounts_and_the_same_actions() {
    let participants = participants(2);
    let manager = ConnectionManager::new(params(100, 3));
    let view = view(&[], &participants);
    let decisions = manager.decide_open_channels(
        &view,
        &mut UniformSampler(&mut ChaCha8Rng::seed_from_u64(3)),
    );
    let actions = manager.open_channels(&view, &mut ChaCha8Rng::seed_from_u64(3));
    let from_decisions: Vec<Action> = decisions.iter().filter_map(|d| d.action).collect();
    assert_eq!(
        from_decisions, actions,
        "the same choices from the same seed"
    );

    let opens: Vec<&Decision> = decisions
        .iter()
        .filter(|d| d.kind == DecisionKind::Open)
        .collect();
    assert_eq!(opens.len(), 2, "only two participants exist");
    for open in &opens {
        assert_eq!(open.amount, Some(U256::from(20)), "100 × (1 − 0.4) / 3");
        assert_eq!(open.inputs.per_partner, Some(U256::from(20)));
        assert_eq!(open.inputs.eligible, Some(2));
        assert_eq!(open.inputs.funds, Some(U256::from(100)));
        assert_eq!(open.inputs.initial_channel_target, Some(3));
        assert!(
            open.reason().contains("among 2 eligible participants"),
            "{}",
            open.reason()
        );
    }
    // The third share waits for a participant that does not exist yet.
    let wait = decisions.last().expect("a wait");
    assert_eq!(wait.kind, DecisionKind::Wait);
    assert_eq!(wait.action, None);
    assert_eq!(wait.amount, Some(U256::from(20)));
    assert_eq!(wait.inputs.wanted, Some(1));
}

#[test]
fn a_top_up_is_a_deposit_and_a_partner_channel_funded_is_a_match() {
    let participants = participants(3);
    let channels = [channel(addr(1), 1, 5, 0), channel(addr(2), 2, 0, 50)];
    let manager = ConnectionManager::new(params(100, 1));
    let view = view(&channels, &participants);
    let decisions = manager.decide_open_channels(
        &view,
        &mut UniformSampler(&mut ChaCha8Rng::seed_from_u64(1)),
    );
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].kind, DecisionKind::Deposit);
    assert_eq!(decisions[0].channel_id, Some(ChannelId(1)));
    assert_eq!(decisions[0].inputs.our_deposit, Some(U256::from(5)));
    assert_eq!(decisions[0].amount, Some(U256::from(60)), "100 × 0.6 / 1");

    let matched = manager
        .match_partner_deposit(&view, &channels[1])
        .expect("a deposit to match");
    assert_eq!(matched.kind, DecisionKind::Match);
    // min(partner deposit 50, our deposit 0 + remaining 95, share 60) = 50.
    assert_eq!(matched.amount, Some(U256::from(50)));
    assert_eq!(matched.inputs.partner_deposit, Some(U256::from(50)));
    assert_eq!(matched.inputs.funds_remaining, Some(U256::from(95)));
    assert_eq!(matched.inputs.per_partner, Some(U256::from(60)));
    assert_eq!(
        matched.action,
        manager.join_partner_channel(&view, &channels[1])
    );
}

#[test]
fn a_top_up_of_a_channel_the_partner_opened_is_a_match_with_our_share() {
    let participants = participants(3);
    let opened_by_partner = OpenChannel {
        partner_opened: true,
        ..channel(addr(1), 1, 0, 50)
    };
    let manager = ConnectionManager::new(params(100, 1));
    let view = view(std::slice::from_ref(&opened_by_partner), &participants);
    let decisions = manager.decide_open_channels(
        &view,
        &mut UniformSampler(&mut ChaCha8Rng::seed_from_u64(1)),
    );
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].kind, DecisionKind::Match);
    assert_eq!(decisions[0].amount, Some(U256::from(60)), "100 × 0.6 / 1");
    let reason = decisions[0].reason();
    assert!(reason.contains("opened a channel with us"), "{reason}");
    assert!(
        reason.contains("deposit up to 60 = funds 100 × (1 − 0.4) / 1"),
        "{reason}"
    );
}

#[test]
fn a_leave_closes_every_open_channel_and_then_opens_nothing() {
    let participants = participants(3);
    let channels = [
        channel(BOOTSTRAP_ADDRESS, 1, 0, 0),
        channel(addr(1), 2, 20, 0),
        channel(addr(2), 3, 0, 50),
    ];
    let mut manager = ConnectionManager::new(params(100, 3));
    let view = view(&channels, &participants);
    let closes = manager.leave(&view);
    assert!(manager.is_leaving());
    assert_eq!(closes.len(), 3);
    for (close, channel) in closes.iter().zip(&channels) {
        assert_eq!(close.kind, DecisionKind::Close);
        assert_eq!(close.channel_id, Some(channel.channel_id));
        assert_eq!(close.partner, Some(channel.partner));
        assert_eq!(close.action, None);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    assert!(manager.open_channels(&view, &mut rng).is_empty());
    assert!(manager.match_partner_deposit(&view, &channels[2]).is_none());
}

#[test]
fn a_close_or_settle_the_partner_made_first_is_progress_and_anything_else_fails() {
    use ChannelStatus::*;
    assert_eq!(
        close_progress(Outcome::Confirmed, Closed(Closer::Us)),
        Progress::Done
    );
    assert_eq!(
        close_progress(Outcome::Reverted, Closed(Closer::Partner)),
        Progress::DoneByPartner
    );
    assert_eq!(
        close_progress(Outcome::Reverted, Settled),
        Progress::DoneByPartner
    );
    assert_eq!(
        close_progress(Outcome::Reverted, Open),
        Progress::Failed(Outcome::Reverted)
    );
    assert_eq!(
        close_progress(Outcome::NoEth, Closed(Closer::Partner)),
        Progress::Failed(Outcome::NoEth)
    );
    assert_eq!(settle_progress(Outcome::Confirmed, Settled), Progress::Done);
    assert_eq!(
        settle_progress(Outcome::Reverted, Settled),
        Progress::DoneByPartner
    );
    assert_eq!(
        settle_progress(Outcome::Reverted, Closed(Closer::Us)),
        Progress::Failed(Outcome::Reverted)
    );
    assert_eq!(
        settle_progress(Outcome::TimedOut, Settled),
        Progress::Failed(Outcome::TimedOut)
    );
}
