//! The engine's indexes of the chain: the participants, every channel not yet settled
//! (by identifier, as node indices and deposits), and node addresses both ways. They are
//! what the chain's events say, kept in the form the hot lookups need.

use rustc_hash::FxHashMap as HashMap;
use tokennet::connection::{ChannelTotals, OpenChannel, Participants};
use tokennet::types::{Address, ChannelId, BOOTSTRAP_ADDRESS, U256};

use super::Engine;

/// Node index of the bootstrap placeholder in edges.
pub(super) const BOOTSTRAP_INDEX: u32 = u32::MAX;

/// An open (or closed, not settled) channel, indexed by identifier.
#[derive(Clone, Copy, Debug)]
pub(super) struct EdgeState {
    pub(super) a: u32,
    pub(super) b: u32,
    /// Deposits in token units. 128 bits hold any amount a scenario can mint, and halve
    /// the size of the hottest table of a million-node run.
    pub(super) deposit_a: u128,
    pub(super) deposit_b: u128,
    pub(super) open: bool,
}

impl EdgeState {
    /// The other participant than `n`.
    pub(super) fn other(&self, n: u32) -> u32 {
        if self.a == n {
            self.b
        } else {
            self.a
        }
    }
}

/// A channel closed and not settled yet: who closed it, and when.
#[derive(Clone, Copy, Debug)]
pub(super) struct Closed {
    /// The closer's node index.
    pub(super) closer: u32,
    /// Timestamp of the block of the close, seconds.
    pub(super) at_seconds: u64,
}

/// The indexes.
pub(super) struct ChannelIndex {
    /// Everyone who has ever had a channel.
    pub(super) participants: Participants,
    /// Channels by identifier (slot 0 unused); `None` once settled.
    pub(super) edges: Vec<Option<EdgeState>>,
    pub(super) index_of: HashMap<Address, u32>,
    /// Node addresses by index, apart from the nodes: the hot lookups touch 20 bytes, not
    /// a whole node.
    pub(super) addresses: Vec<Address>,
    /// Nodes whose channels changed during the current block.
    pub(super) dirty: Vec<u32>,
    /// The buffer of [`Engine::take_open_channels`].
    pub(super) scratch: Vec<OpenChannel>,
    /// Channels closed and not settled (few at a time: a map, not a column of `edges`).
    pub(super) closed: HashMap<ChannelId, Closed>,
}

impl ChannelIndex {
    /// Empty indexes sized for `nodes` nodes.
    pub(super) fn with_capacity(nodes: usize) -> Self {
        Self {
            participants: Participants::new(),
            edges: vec![None],
            index_of: HashMap::with_capacity_and_hasher(nodes, Default::default()),
            addresses: Vec::with_capacity(nodes),
            dirty: Vec::new(),
            scratch: Vec::new(),
            closed: HashMap::default(),
        }
    }

    /// The channel `id`, if not settled.
    pub(super) fn edge(&self, id: u64) -> Option<EdgeState> {
        self.edges.get(id as usize).copied().flatten()
    }

    /// The address of node `index` (or of the bootstrap placeholder).
    pub(super) fn address_of(&self, index: u32) -> Address {
        if index == BOOTSTRAP_INDEX {
            BOOTSTRAP_ADDRESS
        } else {
            self.addresses[index as usize]
        }
    }

    /// The node index of `address`; the bootstrap placeholder's for anyone else.
    pub(super) fn index_or_bootstrap(&self, address: &Address) -> u32 {
        self.index_of
            .get(address)
            .copied()
            .unwrap_or(BOOTSTRAP_INDEX)
    }
}

impl Engine<'_> {
    /// Node `n`'s open channels, as the manager sees them.
    pub(super) fn open_channels_of(&self, n: u32) -> Vec<OpenChannel> {
        let mut open = Vec::new();
        self.fill_open_channels(n, &mut open);
        open
    }

    /// Node `n`'s open channels in the engine's reusable buffer: the views of the hot
    /// paths (every reaction, every retry) then allocate nothing. Give it back with
    /// [`Self::give_back`].
    pub(super) fn take_open_channels(&mut self, n: u32) -> Vec<OpenChannel> {
        let mut open = std::mem::take(&mut self.index.scratch);
        open.clear();
        self.fill_open_channels(n, &mut open);
        open
    }

    /// Returns the buffer of [`Self::take_open_channels`].
    pub(super) fn give_back(&mut self, open: Vec<OpenChannel>) {
        self.index.scratch = open;
    }

    fn fill_open_channels(&self, n: u32, out: &mut Vec<OpenChannel>) {
        let node = &self.nodes[n as usize];
        out.extend(
            node.channels
                .iter()
                .filter_map(|id| self.open_channel(n, *id)),
        );
    }

    /// Node `n`'s channel `id` as the manager sees it, if it is open and `n`'s: one
    /// lookup, however many channels the node has.
    pub(super) fn open_channel(&self, n: u32, id: ChannelId) -> Option<OpenChannel> {
        let edge = self.index.edge(id.0)?;
        if !edge.open || (edge.a != n && edge.b != n) {
            return None;
        }
        let (partner_index, ours, theirs) = if edge.a == n {
            (
                edge.b,
                U256::from(edge.deposit_a),
                U256::from(edge.deposit_b),
            )
        } else {
            (
                edge.a,
                U256::from(edge.deposit_b),
                U256::from(edge.deposit_a),
            )
        };
        Some(OpenChannel {
            partner: self.index.address_of(partner_index),
            channel_id: id,
            our_deposit: ours,
            partner_deposit: theirs,
            // Edges keep the event's participant1 as `a`: the opener.
            partner_opened: edge.a == partner_index,
        })
    }

    /// Node `n`'s token balance on the ledger.
    pub(super) fn token_balance(&self, n: u32) -> U256 {
        self.ledger
            .token_balance(&self.token, &self.nodes[n as usize].address)
    }

    /// The sum of node `n`'s deposits in its open channels, kept as they change: O(1)
    /// for a node of any degree.
    pub(super) fn capacity_of(&self, n: u32) -> U256 {
        let deposited = self.nodes[n as usize].deposited;
        debug_assert_eq!(
            deposited,
            ChannelTotals::of(&self.open_channels_of(n), U256::ZERO).deposited,
            "node {n}'s kept capacity"
        );
        deposited
    }

    /// Node `n`'s totals for its manager's views, kept as its channels change (O(1));
    /// debug builds check them against the policy's own walk of its channels.
    pub(super) fn totals_of(&self, n: u32) -> ChannelTotals {
        let node = &self.nodes[n as usize];
        let per_partner = node.manager.map(|m| m.per_partner()).unwrap_or_default();
        let totals = ChannelTotals {
            deposited: node.deposited,
            funded: node.funded as usize,
            funded_at: per_partner,
        };
        debug_assert!(
            node.manager.is_none()
                || totals == ChannelTotals::of(&self.open_channels_of(n), per_partner),
            "node {n}'s kept totals {totals:?}"
        );
        totals
    }

    /// Keeps node `n`'s totals as one of its channels, with `partner`, changes: `old`
    /// and `new` are our deposit in it while it is open, `None` while it is not.
    pub(super) fn channel_changed(
        &mut self,
        n: u32,
        partner: u32,
        old: Option<u128>,
        new: Option<u128>,
    ) {
        if n == BOOTSTRAP_INDEX {
            return;
        }
        let partner = self.index.address_of(partner);
        let node = &mut self.nodes[n as usize];
        let per_partner = node.manager.map(|m| m.per_partner());
        if let Some(old) = old {
            node.deposited -= U256::from(old);
            if per_partner.is_some_and(|share| {
                ChannelTotals::counts_as_funded(&partner, U256::from(old), share)
            }) {
                node.funded -= 1;
            }
        }
        if let Some(new) = new {
            node.deposited += U256::from(new);
            if per_partner.is_some_and(|share| {
                ChannelTotals::counts_as_funded(&partner, U256::from(new), share)
            }) {
                node.funded += 1;
            }
        }
    }

    /// Counts node `n`'s funded channels once, when it gets its manager (and with it the
    /// share they are counted against); [`Self::channel_changed`] keeps the count after.
    pub(super) fn count_funded(&mut self, n: u32, open: &[OpenChannel]) {
        let node = &mut self.nodes[n as usize];
        let per_partner = node.manager.map(|m| m.per_partner()).unwrap_or_default();
        node.funded = ChannelTotals::of(open, per_partner).funded as u32;
    }

    /// Notes that a node's channels changed: whether it wants partners is decided once,
    /// at the end of the block, however many of its events the block holds.
    pub(super) fn mark_dirty(&mut self, n: u32) {
        let node = &mut self.nodes[n as usize];
        if !node.dirty {
            node.dirty = true;
            self.index.dirty.push(n);
        }
    }
}
