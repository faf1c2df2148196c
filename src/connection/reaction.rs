//! What a chain event means to a connection manager.
//!
//! The node's view and the simulator's engine each turn the chain's events into these,
//! and hand them to [`super::ConnectionManager::react`]. They are keyed by channel, not
//! by token network or node: the runtime keys its managers. `Copy + Eq + Hash`, so that
//! a runtime can deduplicate the reactions of one block cheaply.

use crate::types::ChannelId;

/// A chain event, as the connection manager of the token network it happened in sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reaction {
    /// A new channel appeared in the token network (a possible new participant).
    NewChannel,
    /// The partner's deposit in one of our channels grew.
    PartnerDeposit {
        /// The channel.
        channel_id: ChannelId,
    },
    /// One of our channels was closed.
    Closed {
        /// The channel.
        channel_id: ChannelId,
        /// Who closed it.
        by: Closer,
        /// Timestamp of the block of the close, in seconds.
        closed_at: u64,
        /// The token network's settle timeout, in seconds.
        settle_timeout: u64,
    },
    /// One of our channels was settled: nothing more can happen to it.
    Settled {
        /// The channel.
        channel_id: ChannelId,
    },
}

/// Who closed one of our channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Closer {
    /// We did.
    Us,
    /// The partner did.
    Partner,
}
