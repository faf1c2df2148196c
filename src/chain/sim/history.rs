//! What the simulated chain remembers of its past: the events and the receipts, kept only
//! as long as a node can still ask for them, so that a chain that runs for days stays
//! flat in memory.
//!
//! A real node's RPC endpoint (without an archive) forgets old state too; here the rule is
//! explicit (see the `Chain` contract in [`crate::chain`]):
//!
//! * **Events.** Every handle a node can follow the chain with ([`super::SimChain::for_account`])
//!   has a cursor: the first block of the last range it asked [`Chain::events`] for (a
//!   node asks again from there if storing the events failed, and from the next block on
//!   once it succeeded). Events from the oldest live cursor on are kept, and besides always
//!   the newest [`HistoryLimits::events`] events (whole blocks), so that a node started
//!   a little later still reads the chain from block 0. A cursor dies with the last clone
//!   of its handle. [`HistoryLimits::max_events`] bounds even what a stuck follower holds.
//! * **Receipts.** The newest [`HistoryLimits::receipts`] receipts are kept, and every
//!   receipt not yet confirmed (it cannot have been handed out yet).
//!
//! Asking for what was forgotten is a [`ChainError::Rpc`] that says so, never an empty
//! answer: an events range that starts before [`HistoryLen::first_block`], or a confirmation
//! of a transaction whose receipt was dropped (rather than [`ChainError::Dropped`], which
//! would tell the node that sending it anew is safe).
//!
//! [`Chain::events`]: crate::chain::Chain::events

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use crate::chain::{ChainError, EventRecord, Receipt};
use crate::types::{Address, B256};

/// Default of [`HistoryLimits::events`].
pub const DEFAULT_KEPT_EVENTS: usize = 1024;
/// Default of [`HistoryLimits::receipts`].
pub const DEFAULT_KEPT_RECEIPTS: usize = 1024;
/// Default of [`HistoryLimits::max_events`].
pub const DEFAULT_MAX_EVENTS: usize = 16 * DEFAULT_KEPT_EVENTS;

/// A cursor value that pins nothing: the handle has not asked for events yet and is not
/// known to follow the chain.
const NOT_FOLLOWING: u64 = u64::MAX;

/// How much history the simulated chain keeps. Build it with
/// [`super::SimChainBuilder::history`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryLimits {
    /// The newest events always kept (in whole blocks), whatever the followers' cursors:
    /// a node that starts while the chain has no more events than this reads it all.
    pub events: usize,
    /// The newest receipts kept once confirmed: a confirmation asked for later than that
    /// is an error.
    pub receipts: usize,
    /// Most events kept for followers that lag behind (a follower further behind gets an
    /// error instead of holding the chain's memory). At least `events`.
    pub max_events: usize,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        Self {
            events: DEFAULT_KEPT_EVENTS,
            receipts: DEFAULT_KEPT_RECEIPTS,
            max_events: DEFAULT_MAX_EVENTS,
        }
    }
}

/// How much history a simulated chain holds now ([`super::SimChain::history_len`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryLen {
    /// Events kept.
    pub events: usize,
    /// Receipts kept.
    pub receipts: usize,
    /// The first block whose events are kept: [`crate::chain::Chain::events`] from an
    /// earlier block is an error.
    pub first_block: u64,
}

/// A follower's cursor, shared by the clones of one handle. Kept in the chain as a weak
/// reference, so that a handle dropped with its node stops holding history.
#[derive(Debug)]
pub(super) struct Cursor(AtomicU64);

impl Cursor {
    fn new(block: u64) -> Arc<Self> {
        Arc::new(Self(AtomicU64::new(block)))
    }
}

/// A receipt (or the error a mined transaction ended with) with what pruning needs.
#[derive(Debug)]
struct KeptReceipt {
    block: u64,
    sender: Address,
    nonce: u64,
    result: Result<Receipt, ChainError>,
}

/// The kept events and receipts, and the followers' cursors.
#[derive(Debug, Default)]
pub(super) struct History {
    limits: HistoryLimits,
    /// In chain order.
    events: VecDeque<EventRecord>,
    /// Every block before this one has had its events dropped.
    first_block: u64,
    receipts: HashMap<B256, KeptReceipt>,
    /// Hashes of `receipts` in the order they were mined.
    receipt_order: VecDeque<B256>,
    /// Per account, the highest nonce whose receipt was dropped (one number per account,
    /// so that this stays bounded too).
    dropped_nonces: HashMap<Address, u64>,
    followers: Vec<Weak<Cursor>>,
}

impl History {
    pub(super) fn new(limits: HistoryLimits) -> Self {
        Self {
            limits: HistoryLimits {
                max_events: limits.max_events.max(limits.events),
                ..limits
            },
            // Room for the usual spread above the kept windows from the start: a buffer
            // that doubles only when a follower lags behind once, minutes into a run, is a
            // step in the node's memory then (one of 0.3 MiB at about 430 s, in two 480 s
            // load runs), whereas this is spent in the first seconds.
            events: VecDeque::with_capacity(4 * limits.events),
            receipts: HashMap::with_capacity(2 * limits.receipts),
            receipt_order: VecDeque::with_capacity(2 * limits.receipts),
            ..Self::default()
        }
    }

    /// A cursor for a new handle that may follow the chain: it holds every event still
    /// kept until the handle first asks for events.
    pub(super) fn follower(&mut self) -> Arc<Cursor> {
        let cursor = Cursor::new(self.first_block);
        self.followers.push(Arc::downgrade(&cursor));
        self.followers.retain(|weak| weak.strong_count() > 0);
        cursor
    }

    /// A cursor for a handle not known to follow the chain (the administrator's): it
    /// holds nothing until the handle asks for events.
    pub(super) fn bystander(&mut self) -> Arc<Cursor> {
        let cursor = Cursor::new(NOT_FOLLOWING);
        self.followers.push(Arc::downgrade(&cursor));
        cursor
    }

    pub(super) fn record(&mut self, records: impl IntoIterator<Item = EventRecord>) {
        self.events.extend(records);
    }

    /// The events of blocks `from..=to` for the handle of `cursor`, which from now on
    /// needs nothing before `from`.
    pub(super) fn events(
        &self,
        cursor: &Cursor,
        from: u64,
        to: u64,
    ) -> Result<Vec<EventRecord>, ChainError> {
        if from < self.first_block {
            return Err(ChainError::Rpc(format!(
                "history pruned: the simulated chain keeps events from block {} on (blocks \
                 {from}..={to} asked); it keeps only what its running nodes still need, so a \
                 node must start following it before then",
                self.first_block
            )));
        }
        cursor.0.store(from, Ordering::Relaxed);
        let start = self.events.partition_point(|record| record.block < from);
        let end = self.events.partition_point(|record| record.block <= to);
        Ok(self.events.range(start..end.max(start)).cloned().collect())
    }

    pub(super) fn add_receipt(
        &mut self,
        hash: B256,
        block: u64,
        sender: Address,
        nonce: u64,
        result: Result<Receipt, ChainError>,
    ) {
        let kept = KeptReceipt {
            block,
            sender,
            nonce,
            result,
        };
        if self.receipts.insert(hash, kept).is_none() {
            self.receipt_order.push_back(hash);
        }
    }

    /// The block a transaction was mined in and how it ended, if its receipt is kept.
    pub(super) fn receipt(&self, hash: &B256) -> Option<(u64, &Result<Receipt, ChainError>)> {
        self.receipts
            .get(hash)
            .map(|kept| (kept.block, &kept.result))
    }

    /// Whether the receipt of a transaction of `sender` with `nonce` may have been
    /// dropped: a transaction of the account at least as new was mined and forgotten.
    pub(super) fn receipt_dropped(&self, sender: &Address, nonce: u64) -> bool {
        self.dropped_nonces
            .get(sender)
            .is_some_and(|&newest| nonce <= newest)
    }

    /// Accounts whose receipts were dropped, for finding the sender of a hash.
    pub(super) fn accounts_with_dropped_receipts(&self) -> impl Iterator<Item = &Address> {
        self.dropped_nonces.keys()
    }

    /// Drops what no follower needs any more, past the limits; `confirmed` is the newest
    /// confirmed block (receipts after it are still to be handed out).
    pub(super) fn prune(&mut self, confirmed: u64) {
        self.prune_events();
        while self.receipts.len() > self.limits.receipts {
            let Some(&oldest) = self.receipt_order.front() else {
                break;
            };
            if let Some(kept) = self.receipts.get(&oldest) {
                if kept.block > confirmed {
                    break;
                }
            }
            self.receipt_order.pop_front();
            if let Some(kept) = self.receipts.remove(&oldest) {
                let newest = self.dropped_nonces.entry(kept.sender).or_default();
                *newest = (*newest).max(kept.nonce);
            }
        }
    }

    fn prune_events(&mut self) {
        let len = self.events.len();
        if len <= self.limits.events {
            return;
        }
        self.followers.retain(|weak| weak.strong_count() > 0);
        let slowest = self
            .followers
            .iter()
            .filter_map(Weak::upgrade)
            .map(|cursor| cursor.0.load(Ordering::Relaxed))
            .min()
            .unwrap_or(NOT_FOLLOWING);
        // Whole blocks: a range is answered completely or not at all.
        let window_start = self.events[len - self.limits.events].block;
        let cap_start = self.events[len - self.limits.max_events.min(len)].block;
        let keep_from = window_start.min(slowest).max(cap_start);
        let drop = self
            .events
            .partition_point(|record| record.block < keep_from);
        if drop > 0 {
            self.events.drain(..drop);
            self.first_block = self.first_block.max(keep_from);
        }
    }

    pub(super) fn len(&self) -> HistoryLen {
        HistoryLen {
            events: self.events.len(),
            receipts: self.receipts.len(),
            first_block: self.first_block,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::ChainEvent;

    fn record(block: u64) -> EventRecord {
        EventRecord {
            block,
            timestamp: block,
            event: ChainEvent::TokenNetworkCreated {
                token: Address::repeat_byte(1),
                token_network: Address::repeat_byte(2),
                settle_timeout: 1,
            },
        }
    }

    fn limits(events: usize, max_events: usize) -> HistoryLimits {
        HistoryLimits {
            events,
            receipts: 1,
            max_events,
        }
    }

    #[test]
    fn the_window_keeps_whole_blocks() {
        let mut history = History::new(limits(3, 100));
        // Blocks 1, 2, 2, 3, 3: the newest three events start inside block 2.
        history.record([1, 2, 2, 3, 3].map(record));
        history.prune(3);
        let kept = history.len();
        assert_eq!((kept.events, kept.first_block), (4, 2));
        let cursor = history.bystander();
        assert!(history.events(&cursor, 1, 3).is_err(), "block 1 is gone");
        assert_eq!(history.events(&cursor, 2, 3).unwrap().len(), 4);
    }

    #[test]
    fn a_cursor_holds_events_until_the_cap_and_only_while_its_handle_lives() {
        let mut history = History::new(limits(2, 6));
        let cursor = history.follower();
        history.record((1..=5).map(record));
        history.prune(5);
        assert_eq!(history.len().events, 5, "the follower has read nothing yet");
        history.record((6..=8).map(record));
        history.prune(8);
        assert_eq!(history.len().events, 6, "the cap");
        assert_eq!(history.len().first_block, 3);
        assert!(history.events(&cursor, 7, 8).is_ok());
        history.record([9].map(record));
        history.prune(9);
        assert_eq!(history.len().first_block, 7, "held from the cursor on");
        drop(cursor);
        history.prune(9);
        assert_eq!(
            history.len().first_block,
            8,
            "only the window once it is gone"
        );
    }
}
