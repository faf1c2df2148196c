//! The connection manager's *policy* (SPEC §3): pure decisions, no I/O, no async, no clock.
//!
//! Given the manager's parameters and a view of the token network (our open channels,
//! the participants, our token balance), it says which channels to open and fund. The
//! node executes those actions on a chain; the growth simulator executes them on a
//! ledger. Both run exactly this code.

mod decision;
mod params;
mod participants;
mod retry;
pub mod strategy;

pub use decision::{Decision, DecisionInputs, DecisionKind};
pub use params::{
    ConnectionParams, FractionOutOfRange, JoinableFraction, DEFAULT_INITIAL_CHANNEL_TARGET,
    DEFAULT_JOINABLE_FUNDS_TARGET, MAX_INITIAL_CHANNEL_TARGET,
};
pub use participants::Participants;
pub use retry::RetryGate;

use std::collections::HashSet;

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

/// The connection manager of one token network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionManager {
    params: ConnectionParams,
    leaving: bool,
}

impl ConnectionManager {
    /// A manager joined with `params`.
    pub fn new(params: ConnectionParams) -> Self {
        Self {
            params,
            leaving: false,
        }
    }

    /// The parameters of the last join.
    pub fn params(&self) -> &ConnectionParams {
        &self.params
    }

    /// Replaces the parameters (a repeated PUT). Also ends a leave: a PUT after a DELETE
    /// is a new join.
    pub fn set_params(&mut self, params: ConnectionParams) {
        self.params = params;
        self.leaving = false;
    }

    /// Whether a DELETE put this manager into the leaving state. (A PUT with target 0 is
    /// not leaving: it still joins channels others open.)
    pub fn is_leaving(&self) -> bool {
        self.leaving
    }

    /// Enters the leaving state: the manager opens and funds nothing more.
    pub fn start_leaving(&mut self) {
        self.leaving = true;
    }

    /// Our deposit per chosen partner.
    pub fn per_partner(&self) -> U256 {
        self.params.per_partner()
    }

    /// `min(funds − Σ our deposits in open channels, token balance)`.
    pub fn funds_remaining(&self, view: &NetworkView<'_>) -> U256 {
        let deposited = view
            .our_channels
            .iter()
            .fold(U256::ZERO, |sum, c| sum.saturating_add(c.our_deposit));
        self.params
            .funds
            .saturating_sub(deposited)
            .min(view.token_balance)
    }

    /// Our channels, bootstrap excluded, whose deposit reaches the per-partner share.
    pub fn funded_channels(&self, view: &NetworkView<'_>) -> usize {
        let per_partner = self.per_partner();
        view.our_channels
            .iter()
            .filter(|c| c.partner != BOOTSTRAP_ADDRESS && c.our_deposit >= per_partner)
            .count()
    }

    /// How many channels a join would still open: the target minus funded channels, at
    /// least one while the network has nobody but us (the bootstrap channel). For the gas
    /// reserve.
    pub fn channels_to_open(&self, view: &NetworkView<'_>) -> u64 {
        if self.leaving {
            return 0;
        }
        let missing = (self.params.initial_channel_target as usize)
            .saturating_sub(self.funded_channels(view)) as u64;
        if others_in(view) == 0 {
            missing.max(1)
        } else {
            missing
        }
    }

    /// The join (SPEC §3, steps 2 to 4): what to open and fund now, choosing new
    /// partners uniformly at random (Raiden's rule).
    pub fn open_channels<R: Rng + ?Sized>(
        &self,
        view: &NetworkView<'_>,
        rng: &mut R,
    ) -> Vec<Action> {
        self.open_channels_with(view, &mut UniformSampler(rng))
    }

    /// The join with another way of choosing new partners (the simulator's strategies).
    pub fn open_channels_with<S: PartnerSampler + ?Sized>(
        &self,
        view: &NetworkView<'_>,
        sampler: &mut S,
    ) -> Vec<Action> {
        if self.leaving {
            return Vec::new();
        }
        if others_in(view) == 0 {
            let has_bootstrap = view
                .our_channels
                .iter()
                .any(|c| c.partner == BOOTSTRAP_ADDRESS);
            return if has_bootstrap {
                Vec::new()
            } else {
                vec![Action::Open {
                    partner: BOOTSTRAP_ADDRESS,
                    deposit: U256::ZERO,
                }]
            };
        }
        let target = self.params.initial_channel_target as usize;
        let funded = self.funded_channels(view);
        if funded >= target {
            return Vec::new();
        }
        let wanted = target - funded;
        let per_partner = self.per_partner();
        // Deposits never take more than what is left of the funds.
        let mut budget = self.funds_remaining(view);
        let mut actions = Vec::with_capacity(wanted);

        let unfunded = view
            .our_channels
            .iter()
            .filter(|c| c.partner != BOOTSTRAP_ADDRESS && c.our_deposit < per_partner);
        // Every unfunded channel counts as chosen, funded now or not: when the budget
        // cannot top it up, replacing it with a new partner would open channels without
        // end while the funds stay short.
        let mut chosen = 0;
        for channel in unfunded.take(wanted) {
            chosen += 1;
            let top_up = per_partner - channel.our_deposit;
            if top_up <= budget {
                budget -= top_up;
                actions.push(Action::Deposit {
                    partner: channel.partner,
                    channel_id: channel.channel_id,
                    total_deposit: per_partner,
                });
            }
        }

        let still_wanted = wanted - chosen;
        let partners: HashSet<Address> = view.our_channels.iter().map(|c| c.partner).collect();
        let excluded =
            |a: &Address| *a == view.us || *a == BOOTSTRAP_ADDRESS || partners.contains(a);
        for partner in sampler.sample(view.participants, still_wanted, &excluded) {
            let deposit = if per_partner <= budget {
                per_partner
            } else {
                // Not enough left to fund it: open it anyway, so that the channel exists
                // and later funds can go into it, but deposit nothing now.
                U256::ZERO
            };
            budget -= deposit;
            actions.push(Action::Open { partner, deposit });
        }
        actions
    }

    /// Joining a channel a partner opened (SPEC §3): after the partner's deposit reached
    /// `channel.partner_deposit`, deposit `min(partner deposit, funds remaining, share)`
    /// if that is more than we have in it.
    pub fn join_partner_channel(
        &self,
        view: &NetworkView<'_>,
        channel: &OpenChannel,
    ) -> Option<Action> {
        if self.leaving || channel.partner == BOOTSTRAP_ADDRESS {
            return None;
        }
        let cap = self.params.joinable_cap();
        if channel.our_deposit >= cap {
            return None;
        }
        let available = channel.our_deposit + self.funds_remaining(view);
        let total = channel.partner_deposit.min(available).min(cap);
        (total > channel.our_deposit).then_some(Action::Deposit {
            partner: channel.partner,
            channel_id: channel.channel_id,
            total_deposit: total,
        })
    }

    /// Whether a new channel in the network is a reason to run [`Self::open_channels`]
    /// again: funds left, not leaving, fewer funded channels than the target.
    pub fn wants_retry(&self, view: &NetworkView<'_>) -> bool {
        !self.leaving
            && self.params.initial_channel_target > 0
            && self.funded_channels(view) < self.params.initial_channel_target as usize
            && !self.funds_remaining(view).is_zero()
    }
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
mod tests;
