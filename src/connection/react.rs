//! What the manager does about a chain event: the reactions of SPEC §3 (a partner's
//! deposit → match it; a new channel while short of the target → a coalesced retry) and
//! of §3.1 (a close → settle, at once for the closer, after a grace period for the other).

use super::strategy::StrategyKind;
use super::{
    settle_from, Closer, ConnectionManager, Decision, DecisionKind, NetworkView, Reaction,
};
use crate::types::{Address, ChannelId};

/// What the runtime must do about a reaction.
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
    /// Nothing.
    Nothing,
    /// Run *open channels* now ([`ConnectionManager::decide_open_channels`] with a fresh
    /// view), then tell the manager with [`ConnectionManager::retry_finished`]. The
    /// decision is the `retry` to record.
    OpenChannels(Box<Decision>),
    /// Consider matching the partner's deposit in this channel
    /// ([`ConnectionManager::match_partner_deposit`] with a fresh view: the token
    /// balance the match needs is the runtime's to read).
    Match {
        /// The channel.
        channel_id: ChannelId,
    },
    /// Settle a closed channel once the chain's time reaches `settle_from`, if it is
    /// still unsettled then.
    Settle(SettleAt),
}

/// When to settle one closed channel, and why then.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SettleAt {
    /// The channel.
    pub channel_id: ChannelId,
    /// Who closed it.
    pub by: Closer,
    /// The chain timestamp (seconds) from which we settle it.
    pub settle_from: u64,
}

impl SettleAt {
    /// When to settle a channel closed by `by` at `closed_at` (SPEC §3.1).
    pub fn new(channel_id: ChannelId, by: Closer, closed_at: u64, settle_timeout: u64) -> Self {
        Self {
            channel_id,
            by,
            settle_from: settle_from(by, closed_at, settle_timeout),
        }
    }

    /// The `settle` decision, made when the time has come and the channel is still
    /// unsettled.
    pub fn decision(&self, partner: Address, strategy: StrategyKind) -> Decision {
        let mut decision = Decision::new(DecisionKind::Settle, strategy);
        decision.partner = Some(partner);
        decision.channel_id = Some(self.channel_id);
        decision.inputs.settle_from = Some(self.settle_from);
        if self.by == Closer::Partner {
            // Only this case needs words: the numbers do not say who closed.
            decision.detail = Some(format!(
                "the partner closed it and had not settled it {} s after its settle window opened",
                super::SETTLE_GRACE_SECONDS
            ));
        }
        decision
    }
}

impl ConnectionManager {
    /// What to do about one chain event. `view` is the token network after the event
    /// (its token balance may be a bound, such as `U256::MAX`, where the runtime does not
    /// read it synchronously: the run it starts reads it).
    ///
    /// A new channel starts a retry only when [`Self::wants_retry`] and no retry runs;
    /// one already running is asked to run once more (coalescing).
    pub fn react(&mut self, reaction: Reaction, view: &NetworkView<'_>) -> Response {
        match reaction {
            Reaction::NewChannel => {
                if self.wants_retry(view) && self.retry.trigger() {
                    Response::OpenChannels(Box::new(self.retry_decision(view)))
                } else {
                    Response::Nothing
                }
            }
            Reaction::PartnerDeposit { channel_id } if !self.leaving => {
                Response::Match { channel_id }
            }
            Reaction::PartnerDeposit { .. } | Reaction::Settled { .. } => Response::Nothing,
            Reaction::Closed {
                channel_id,
                by,
                closed_at,
                settle_timeout,
            } => Response::Settle(SettleAt::new(channel_id, by, closed_at, settle_timeout)),
        }
    }

    /// The retry's run of *open channels* ended. Returns the `retry` decision of one
    /// more run if triggers arrived meanwhile (the gate stays running), else `None`.
    pub fn retry_finished(&mut self, view: &NetworkView<'_>) -> Option<Decision> {
        self.retry.finish().then(|| self.retry_decision(view))
    }

    fn retry_decision(&self, view: &NetworkView<'_>) -> Decision {
        let mut decision = self.decision(DecisionKind::Retry);
        decision.inputs.funded_channels = Some(self.funded_channels(view) as u32);
        decision.inputs.funds_remaining = Some(self.funds_remaining(view));
        decision
    }
}
