//! The leave (SPEC §2.4): close every open channel, then settle each; and when to settle
//! a closed channel (SPEC §3.1).
//!
//! Both participants may settle a closed channel once its window opens; the second
//! settle in a block reverts and wastes its gas. So the closer settles as soon as the
//! window opens, and the other participant only if the channel is still unsettled a grace
//! period later. Two partners leaving at once may both close their shared channel: the
//! second close reverts, and that is progress for its leave, not a failure.

use super::{Closer, ConnectionManager, Decision, DecisionKind, NetworkView, Outcome};

/// How long after the settle window opens the participant that did *not* close a
/// channel waits before settling it itself, in seconds: five blocks of a 12-second chain.
/// The closer settles at once; this leaves it several blocks to do so, so that only a
/// closer that went away costs the other participant a settle.
pub const SETTLE_GRACE_SECONDS: u64 = 60;

/// The chain timestamp (seconds) from which the participant described by `by` settles a
/// channel closed at `closed_at`: `closed_at + settle_timeout + 1` for the closer (the
/// contract accepts a settle once the block timestamp exceeds `closed_at +
/// settle_timeout`), [`SETTLE_GRACE_SECONDS`] later for the other participant.
pub fn settle_from(by: Closer, closed_at: u64, settle_timeout: u64) -> u64 {
    let window_opens = closed_at.saturating_add(settle_timeout).saturating_add(1);
    match by {
        Closer::Us => window_opens,
        Closer::Partner => window_opens.saturating_add(SETTLE_GRACE_SECONDS),
    }
}

/// Where one of our channels is, as the runtime's view shows it after a transaction's
/// outcome is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelStatus {
    /// Still open.
    Open,
    /// Closed.
    Closed(Closer),
    /// Settled (gone from the view).
    Settled,
}

/// What a close or settle of the leave came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Progress {
    /// Our transaction did it.
    Done,
    /// The partner did it first (our transaction reverted): progress all the same.
    DoneByPartner,
    /// It failed: the leave stops here and a new DELETE continues it.
    Failed(Outcome),
}

impl ConnectionManager {
    /// Starts the leave: the manager opens and funds nothing more, and closes every open
    /// channel of `view` (bootstrap channel and channels opened by hand or by partners
    /// included), one `close` decision each, in the view's order.
    pub fn leave(&mut self, view: &NetworkView<'_>) -> Vec<Decision> {
        self.start_leaving();
        view.our_channels
            .iter()
            .map(|channel| {
                let mut close = Decision::new(DecisionKind::Close, self.params.partner_selection);
                close.partner = Some(channel.partner);
                close.channel_id = Some(channel.channel_id);
                close.amount = Some(channel.our_deposit);
                close.inputs.our_deposit = Some(channel.our_deposit);
                close.inputs.partner_deposit = Some(channel.partner_deposit);
                close
            })
            .collect()
    }
}

/// What a close came to, given its outcome and the channel as the view shows it once
/// that outcome's block is applied. A close that reverted because the partner closed
/// first (or the channel is already settled) is progress.
pub fn close_progress(outcome: Outcome, after: ChannelStatus) -> Progress {
    match (outcome, after) {
        (Outcome::Confirmed, _) => Progress::Done,
        (Outcome::Reverted, ChannelStatus::Closed(Closer::Partner) | ChannelStatus::Settled) => {
            Progress::DoneByPartner
        }
        // Our own close mined meanwhile (a replacement, a retry after a restart).
        (Outcome::Reverted, ChannelStatus::Closed(Closer::Us)) => Progress::Done,
        (outcome, _) => Progress::Failed(outcome),
    }
}

/// What a settle came to, given its outcome and the channel as the view shows it once
/// that outcome's block is applied. A settle that reverted because the channel is
/// already settled (by the partner) is progress.
pub fn settle_progress(outcome: Outcome, after: ChannelStatus) -> Progress {
    match (outcome, after) {
        (Outcome::Confirmed, _) => Progress::Done,
        (Outcome::Reverted, ChannelStatus::Settled) => Progress::DoneByPartner,
        (outcome, _) => Progress::Failed(outcome),
    }
}
