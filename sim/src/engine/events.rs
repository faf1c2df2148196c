//! Applying the chain's events to the engine's indexes, and noting what each calls for
//! (the node's view does the same in the node).

use tokennet::chain::ChainEvent;

use tokennet::connection::{Closer, Reaction};

use super::index::{Closed, EdgeState, BOOTSTRAP_INDEX};
use super::Engine;

impl Engine<'_> {
    /// Applies one chain event to the engine's indexes and starts the reactions.
    pub(super) fn apply(&mut self, event: ChainEvent) {
        match event {
            ChainEvent::ChannelOpened {
                channel_id,
                participant1,
                participant2,
                ..
            } => {
                self.index.participants.insert(participant1);
                self.index.participants.insert(participant2);
                let a = self.index.index_or_bootstrap(&participant1);
                let b = self.index.index_or_bootstrap(&participant2);
                let slot = channel_id.0 as usize;
                let edges = &mut self.index.edges;
                if edges.len() <= slot {
                    edges.resize(slot + 1, None);
                }
                edges[slot] = Some(EdgeState {
                    a,
                    b,
                    deposit_a: 0,
                    deposit_b: 0,
                    open: true,
                });
                for side in [a, b] {
                    if side != BOOTSTRAP_INDEX {
                        self.nodes[side as usize].channels.push(channel_id);
                    }
                }
                self.channel_changed(a, b, None, Some(0));
                self.channel_changed(b, a, None, Some(0));
                self.observe_opened(participant1, participant2);
                for side in [a, b] {
                    if side != BOOTSTRAP_INDEX {
                        self.mark_dirty(side);
                    }
                }
                self.react_at_block_end(None, Reaction::NewChannel);
            }
            ChainEvent::ChannelNewDeposit {
                channel_id,
                participant,
                total_deposit,
                ..
            } => {
                let Some(Some(edge)) = self.index.edges.get_mut(channel_id.0 as usize) else {
                    return;
                };
                let new: u128 = total_deposit.get().saturating_to();
                let (who, old) = if self.index.index_of.get(&participant) == Some(&edge.a) {
                    (edge.a, std::mem::replace(&mut edge.deposit_a, new))
                } else {
                    (edge.b, std::mem::replace(&mut edge.deposit_b, new))
                };
                let partner = edge.other(who);
                if edge.open {
                    self.channel_changed(who, partner, Some(old), Some(new));
                }
                if who != BOOTSTRAP_INDEX {
                    self.observe_capacity(who);
                    self.mark_dirty(who);
                }
                if partner != BOOTSTRAP_INDEX && self.active_manager(partner).is_some() {
                    self.react_at_block_end(Some(partner), Reaction::PartnerDeposit { channel_id });
                }
            }
            ChainEvent::ChannelClosed {
                channel_id,
                closing_participant,
                ..
            } => {
                let Some(Some(edge)) = self.index.edges.get_mut(channel_id.0 as usize) else {
                    return;
                };
                let was_open = std::mem::replace(&mut edge.open, false);
                let (a, b) = (edge.a, edge.b);
                let (deposit_a, deposit_b) = (edge.deposit_a, edge.deposit_b);
                if was_open {
                    self.channel_changed(a, b, Some(deposit_a), None);
                    self.channel_changed(b, a, Some(deposit_b), None);
                }
                self.observe_closed(a, b);
                for side in [a, b] {
                    if side != BOOTSTRAP_INDEX {
                        self.observe_capacity(side);
                        self.mark_dirty(side);
                    }
                }
                // Each participant's manager says when it settles (SPEC §3.1): the
                // closer once the window opens, the other after a grace period.
                let closed_at = self.clock.now / 1000;
                let closer = self.index.index_or_bootstrap(&closing_participant);
                self.index.closed.insert(
                    channel_id,
                    Closed {
                        closer,
                        at_seconds: closed_at,
                    },
                );
                let partner = if closer == a { b } else { a };
                for (side, by) in [(closer, Closer::Us), (partner, Closer::Partner)] {
                    if side != BOOTSTRAP_INDEX {
                        let reaction = Reaction::Closed {
                            channel_id,
                            by,
                            closed_at,
                            settle_timeout: self.blocks.settle_timeout_s,
                        };
                        self.react_now(side, reaction);
                    }
                }
            }
            ChainEvent::ChannelSettled { channel_id, .. } => {
                let Some(edge) = self
                    .index
                    .edges
                    .get_mut(channel_id.0 as usize)
                    .and_then(Option::take)
                else {
                    return;
                };
                self.index.closed.remove(&channel_id);
                if edge.open {
                    // Settled without a close event seen: it stops counting now.
                    self.channel_changed(edge.a, edge.b, Some(edge.deposit_a), None);
                    self.channel_changed(edge.b, edge.a, Some(edge.deposit_b), None);
                }
                for side in [edge.a, edge.b] {
                    if side != BOOTSTRAP_INDEX {
                        self.nodes[side as usize]
                            .channels
                            .retain(|c| *c != channel_id);
                        self.mark_dirty(side);
                        self.maybe_left(side);
                    }
                }
            }
            ChainEvent::TokenNetworkCreated { .. } => {}
        }
    }
}
