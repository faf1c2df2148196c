//! *Open channels* (SPEC §3, join steps 2 to 4) and joining a channel a partner funded,
//! as decisions: each one an action with the numbers that reproduce its amount.

use std::collections::HashSet;

use rand::Rng;

use super::{
    others_in, Action, ConnectionManager, Decision, DecisionKind, NetworkView, OpenChannel,
    PartnerSampler, UniformSampler,
};
use crate::types::{Address, BOOTSTRAP_ADDRESS, U256};

impl ConnectionManager {
    /// The join (SPEC §3, steps 2 to 4): what to open and fund now, choosing new
    /// partners uniformly at random (Raiden's rule). The actions of
    /// [`Self::decide_open_channels`].
    pub fn open_channels<R: Rng + ?Sized>(
        &self,
        view: &NetworkView<'_>,
        rng: &mut R,
    ) -> Vec<Action> {
        self.open_channels_with(view, &mut UniformSampler(rng))
    }

    /// The join with another way of choosing new partners (a strategy). The actions of
    /// [`Self::decide_open_channels`].
    pub fn open_channels_with<S: PartnerSampler + ?Sized>(
        &self,
        view: &NetworkView<'_>,
        sampler: &mut S,
    ) -> Vec<Action> {
        self.decide_open_channels(view, sampler)
            .into_iter()
            .filter_map(|decision| decision.action)
            .collect()
    }

    /// *Open channels* as decisions, in the order their transactions are sent: one
    /// `deposit` per unfunded channel topped up, one `open` per channel opened (the
    /// bootstrap channel included), and one `wait` when funds are held for partners that
    /// do not exist yet. Only `open` and `deposit` carry an action.
    pub fn decide_open_channels<S: PartnerSampler + ?Sized>(
        &self,
        view: &NetworkView<'_>,
        sampler: &mut S,
    ) -> Vec<Decision> {
        if self.leaving {
            return Vec::new();
        }
        let others = others_in(view);
        if others == 0 {
            let has_bootstrap = view
                .our_channels
                .iter()
                .any(|c| c.partner == BOOTSTRAP_ADDRESS);
            if has_bootstrap {
                return Vec::new();
            }
            let mut open = self.decision(DecisionKind::Open);
            open.partner = Some(BOOTSTRAP_ADDRESS);
            open.amount = Some(U256::ZERO);
            open.inputs.eligible = Some(0);
            open.action = Some(Action::Open {
                partner: BOOTSTRAP_ADDRESS,
                deposit: U256::ZERO,
            });
            let mut decisions = vec![open];
            let held = self.funds_remaining(view);
            if self.params.initial_channel_target > 0 && !held.is_zero() {
                // Nobody to fund yet: the funds wait for the first participants.
                let mut wait = self.decision(DecisionKind::Wait);
                wait.amount = Some(held);
                wait.inputs.funds_remaining = Some(held);
                wait.inputs.wanted = Some(self.params.initial_channel_target);
                wait.inputs.eligible = Some(0);
                decisions.push(wait);
            }
            return decisions;
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
        let mut decisions = Vec::with_capacity(wanted + 1);
        let base = |kind: DecisionKind, budget: U256| {
            let mut decision = self.decision(kind);
            decision.inputs.funded_channels = Some(funded as u32);
            decision.inputs.wanted = Some(wanted as u32);
            decision.inputs.funds_remaining = Some(budget);
            decision
        };

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
                // A channel the partner opened that counts toward our target is funded as
                // a partner's channel (a `match`), with our share as the amount.
                let kind = if channel.partner_opened {
                    DecisionKind::Match
                } else {
                    DecisionKind::Deposit
                };
                let mut deposit = base(kind, budget);
                deposit.partner = Some(channel.partner);
                deposit.channel_id = Some(channel.channel_id);
                deposit.amount = Some(per_partner);
                deposit.inputs.our_deposit = Some(channel.our_deposit);
                deposit.action = Some(Action::Deposit {
                    partner: channel.partner,
                    channel_id: channel.channel_id,
                    total_deposit: per_partner,
                });
                decisions.push(deposit);
                budget -= top_up;
            }
        }

        let still_wanted = wanted - chosen;
        if still_wanted == 0 {
            return decisions;
        }
        let partners: HashSet<Address> = view.our_channels.iter().map(|c| c.partner).collect();
        // Participants that are current partners are not eligible; the bootstrap address
        // and we are already left out of `others`.
        let partners_among_others = partners
            .iter()
            .filter(|p| **p != view.us && **p != BOOTSTRAP_ADDRESS)
            .filter(|p| view.participants.contains(p))
            .count();
        let eligible = others.saturating_sub(partners_among_others) as u64;
        let excluded =
            |a: &Address| *a == view.us || *a == BOOTSTRAP_ADDRESS || partners.contains(a);
        let sampled = sampler.sample(view.participants, still_wanted, &excluded);
        let opened = sampled.len();
        for partner in sampled {
            let deposit = if per_partner <= budget {
                per_partner
            } else {
                // Not enough left to fund it: open it anyway, so that the channel exists
                // and later funds can go into it, but deposit nothing now.
                U256::ZERO
            };
            let mut open = base(DecisionKind::Open, budget);
            open.partner = Some(partner);
            open.amount = Some(deposit);
            open.inputs.eligible = Some(eligible);
            open.action = Some(Action::Open { partner, deposit });
            decisions.push(open);
            budget -= deposit;
        }
        let missing = still_wanted - opened;
        if missing > 0 && !per_partner.is_zero() && !budget.is_zero() {
            // Fewer eligible participants than wanted (SPEC §3, step 4): their shares
            // wait for participants that do not exist yet.
            let held = per_partner.saturating_mul(U256::from(missing)).min(budget);
            let mut wait = base(DecisionKind::Wait, budget);
            wait.amount = Some(held);
            wait.inputs.wanted = Some(missing as u32);
            wait.inputs.eligible = Some(eligible);
            decisions.push(wait);
        }
        decisions
    }

    /// Joining a channel a partner opened (SPEC §3): after the partner's deposit reached
    /// `channel.partner_deposit`, deposit `min(partner deposit, funds remaining, share)`
    /// if that is more than we have in it. The action of
    /// [`Self::match_partner_deposit`].
    pub fn join_partner_channel(
        &self,
        view: &NetworkView<'_>,
        channel: &OpenChannel,
    ) -> Option<Action> {
        self.match_partner_deposit(view, channel)
            .and_then(|decision| decision.action)
    }

    /// Joining a channel a partner opened, as a `match` decision with the numbers that
    /// reproduce its amount: `min(partner_deposit, our_deposit + funds_remaining,
    /// per_partner-or-joinable cap)`.
    pub fn match_partner_deposit(
        &self,
        view: &NetworkView<'_>,
        channel: &OpenChannel,
    ) -> Option<Decision> {
        if self.leaving || channel.partner == BOOTSTRAP_ADDRESS {
            return None;
        }
        let cap = self.params.joinable_cap();
        if channel.our_deposit >= cap {
            return None;
        }
        let funds_remaining = self.funds_remaining(view);
        let available = channel.our_deposit + funds_remaining;
        let total = channel.partner_deposit.min(available).min(cap);
        if total <= channel.our_deposit {
            return None;
        }
        let mut decision = self.decision(DecisionKind::Match);
        decision.partner = Some(channel.partner);
        decision.channel_id = Some(channel.channel_id);
        decision.amount = Some(total);
        decision.inputs.per_partner = Some(cap);
        decision.inputs.partner_deposit = Some(channel.partner_deposit);
        decision.inputs.our_deposit = Some(channel.our_deposit);
        decision.inputs.funds_remaining = Some(funds_remaining);
        decision.action = Some(Action::Deposit {
            partner: channel.partner,
            channel_id: channel.channel_id,
            total_deposit: total,
        });
        Some(decision)
    }
}
