//! The connection manager (SPEC §3): one state machine per token network, without I/O,
//! async or clock.
//!
//! Chain events ([`Reaction`]) and transaction outcomes ([`Outcome`]) go in; decisions
//! ([`Decision`], each an action with the numbers that say why) come out. Given the
//! manager's parameters and a view of the token network (our open channels, the
//! participants, our token balance), it says which channels to open and fund, which
//! partner deposit to match, when to retry, what to close and when to settle. The node
//! turns its decisions into transactions on a chain; the growth simulator into ledger
//! transactions at virtual times. Both run exactly this code.

mod decision;
mod leave;
mod manager;
mod open;
mod outcome;
mod params;
mod participants;
mod react;
mod reaction;
mod retry;
pub mod strategy;

pub use decision::{Decision, DecisionInputs, DecisionKind};
pub use leave::{
    close_progress, settle_from, settle_progress, ChannelStatus, Progress, SETTLE_GRACE_SECONDS,
};
pub use manager::ConnectionManager;
pub use outcome::Outcome;
pub use params::{
    ConnectionParams, FractionOutOfRange, JoinableFraction, DEFAULT_INITIAL_CHANNEL_TARGET,
    DEFAULT_JOINABLE_FUNDS_TARGET, MAX_INITIAL_CHANNEL_TARGET,
};
pub use participants::Participants;
pub use react::{Response, SettleAt};
pub use reaction::{Closer, Reaction};
pub use retry::RetryGate;

use rand::Rng;

use crate::types::{Address, ChannelId, BOOTSTRAP_ADDRESS, U256};

/// One of our open channels, as the policy needs to see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenChannel {
    /// The other participant.
    pub partner: Address,
    /// The channel.
    pub channel_id: ChannelId,
    /// Our total deposit.
    pub our_deposit: U256,
    /// The partner's total deposit.
    pub partner_deposit: U256,
    /// The partner opened it: it is `participant1` of the channel-opened event, as every
    /// tokennet and Raiden client opens with itself as `participant1`. Funding such a
    /// channel is a `match` in the decision log, whichever rule set the amount.
    pub partner_opened: bool,
}

/// What the policy sees of one token network.
#[derive(Clone, Copy, Debug)]
pub struct NetworkView<'a> {
    /// Our address.
    pub us: Address,
    /// Our open channels in this network (not closed, not settled), including the
    /// bootstrap channel and channels opened by hand or by partners.
    pub our_channels: &'a [OpenChannel],
    /// Everyone who has ever had a channel in this network.
    pub participants: &'a Participants,
    /// Our token balance on chain.
    pub token_balance: U256,
    /// Totals over `our_channels` kept by the runtime, or `None` (the node) for the policy
    /// to compute them by walking `our_channels`. See [`ChannelTotals`].
    pub totals: Option<ChannelTotals>,
}

/// The two totals over our open channels that the policy's rules are written in
/// (`funds_remaining`, `funded_channels`), as a runtime may keep them while channels
/// change instead of letting the policy walk `our_channels` on every call.
///
/// Why: in the growth simulator some strategies make hubs with 10^5 channels, and
/// whether such a node wants a retry is asked on every block it is touched; walking its
/// channels each time made a run quadratic. The node has a few channels per token
/// network and leaves [`NetworkView::totals`] unset.
///
/// A runtime that sets them must keep them equal to [`ChannelTotals::of`] over the
/// view's `our_channels` as the chain has them; the policy then reads only the totals
/// where a total is all it needs (the retry test, the reactions, matching a partner's
/// deposit), so such calls may be given only the channels they concern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelTotals {
    /// Σ our deposit over our open channels (the bootstrap channel included).
    pub deposited: U256,
    /// Our open channels, the bootstrap channel excluded, whose deposit reaches
    /// `funded_at`.
    pub funded: usize,
    /// The per-partner share `funded` was counted against. The policy uses `funded` only
    /// when this is its own share, and otherwise walks `our_channels`.
    pub funded_at: U256,
}

impl ChannelTotals {
    /// The totals by walking `channels`, with `per_partner` as the funded share: what the
    /// policy computes when a view has none.
    pub fn of(channels: &[OpenChannel], per_partner: U256) -> Self {
        Self {
            deposited: deposited_in(channels),
            funded: funded_in(channels, per_partner),
            funded_at: per_partner,
        }
    }

    /// Whether a channel in which we deposited `our_deposit` to `partner` counts as
    /// funded against `per_partner`: the rule [`Self::of`] counts by, for a runtime
    /// keeping `funded` one channel at a time.
    pub fn counts_as_funded(partner: &Address, our_deposit: U256, per_partner: U256) -> bool {
        *partner != BOOTSTRAP_ADDRESS && our_deposit >= per_partner
    }
}

/// A step the policy wants taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open a channel with `partner` and put `deposit` in it (no deposit when zero).
    Open {
        /// The partner.
        partner: Address,
        /// Our deposit; zero opens without one.
        deposit: U256,
    },
    /// Raise our total deposit in an existing channel.
    Deposit {
        /// The partner.
        partner: Address,
        /// The channel.
        channel_id: ChannelId,
        /// Our new total deposit.
        total_deposit: U256,
    },
}

/// Tokens the actions take from us: each open's deposit plus each deposit's increase over
/// `current_deposit(partner)`. One approve of this amount covers them all.
pub fn tokens_needed(actions: &[Action], current_deposit: impl Fn(&Address) -> U256) -> U256 {
    actions.iter().fold(U256::ZERO, |sum, action| match action {
        Action::Open { deposit, .. } => sum.saturating_add(*deposit),
        Action::Deposit {
            partner,
            total_deposit,
            ..
        } => sum.saturating_add(total_deposit.saturating_sub(current_deposit(partner))),
    })
}

/// How new partners are chosen among the participants.
///
/// The node uses [`UniformSampler`], Raiden's rule; the simulator adds others (such as
/// preferential attachment) without touching the rest of the policy.
pub trait PartnerSampler {
    /// Up to `wanted` distinct participants for which `excluded` is false.
    fn sample(
        &mut self,
        participants: &Participants,
        wanted: usize,
        excluded: &dyn Fn(&Address) -> bool,
    ) -> Vec<Address>;
}

/// Uniform choice among the eligible participants, in O(wanted).
#[derive(Debug)]
pub struct UniformSampler<'r, R: Rng + ?Sized>(pub &'r mut R);

impl<R: Rng + ?Sized> PartnerSampler for UniformSampler<'_, R> {
    fn sample(
        &mut self,
        participants: &Participants,
        wanted: usize,
        excluded: &dyn Fn(&Address) -> bool,
    ) -> Vec<Address> {
        participants.sample(wanted, self.0, excluded)
    }
}

/// Σ our deposit over `channels` ([`ChannelTotals::deposited`] by walking).
fn deposited_in(channels: &[OpenChannel]) -> U256 {
    channels
        .iter()
        .fold(U256::ZERO, |sum, c| sum.saturating_add(c.our_deposit))
}

/// The channels funded against `per_partner` ([`ChannelTotals::funded`] by walking).
fn funded_in(channels: &[OpenChannel], per_partner: U256) -> usize {
    channels
        .iter()
        .filter(|c| ChannelTotals::counts_as_funded(&c.partner, c.our_deposit, per_partner))
        .count()
}

/// Participants other than us and the bootstrap placeholder.
fn others_in(view: &NetworkView<'_>) -> usize {
    let mut others = view.participants.len();
    if view.participants.contains(&view.us) {
        others -= 1;
    }
    if view.participants.contains(&BOOTSTRAP_ADDRESS) {
        others -= 1;
    }
    others
}

#[cfg(test)]
mod machine_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod totals_tests;
