//! The node's view of the chain, built from events alone: registered tokens, the
//! participants of each token network, our channels, and the connection managers.
//!
//! Applying an event is synchronous and cheap; it returns what the runtime should react
//! to, and never decides the reaction itself.

use std::collections::HashMap;

use super::store::{ConnectionState, StoredConnection};
use crate::chain::{ChainEvent, EventRecord};
use crate::connection::strategy::NetworkIndex;
use crate::connection::{
    ChannelStatus, Closer, ConnectionManager, Decision, NetworkView, OpenChannel, Participants,
    Reaction, SettleAt, UniformSampler,
};
use crate::types::{Address, ChannelId, U256};
use rand::RngCore;

/// Where one of our channels is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelPhase {
    /// Open.
    Opened,
    /// Closed; settleable once the block timestamp passes `closed_at + settle_timeout`.
    Closed {
        /// Who closed it.
        closer: Address,
        /// Timestamp of the close block, in seconds.
        closed_at: u64,
    },
}

impl ChannelPhase {
    /// The name used by the REST API.
    pub fn as_str(&self) -> &'static str {
        match self {
            ChannelPhase::Opened => "opened",
            ChannelPhase::Closed { .. } => "closed",
        }
    }
}

/// One of our channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OurChannel {
    /// Its identifier.
    pub id: ChannelId,
    /// The other participant.
    pub partner: Address,
    /// Our total deposit.
    pub our_deposit: U256,
    /// The partner's total deposit.
    pub partner_deposit: U256,
    /// The partner opened it (it is the event's `participant1`).
    pub partner_opened: bool,
    /// Where it is in its life.
    pub phase: ChannelPhase,
}

impl OurChannel {
    fn as_open(&self) -> OpenChannel {
        OpenChannel {
            partner: self.partner,
            channel_id: self.id,
            our_deposit: self.our_deposit,
            partner_deposit: self.partner_deposit,
            partner_opened: self.partner_opened,
        }
    }
}

/// The node's state of one token network.
#[derive(Debug)]
pub struct NetworkState {
    /// The token.
    pub token: Address,
    /// The token network contract.
    pub address: Address,
    /// Settle timeout, seconds.
    pub settle_timeout: u64,
    /// Everyone who has had a channel here.
    pub participants: Participants,
    /// Our channels that are not settled, by identifier.
    pub channels: HashMap<ChannelId, OurChannel>,
    /// The connection manager, from the first PUT on.
    pub manager: Option<ConnectionManager>,
    /// `funds` of the last PUT that succeeded.
    pub reported_funds: U256,
    /// The whole channel graph, as the partner-selection strategies index it (fed by
    /// every channel event of the network, not only ours).
    pub strategies: NetworkIndex,
}

impl NetworkState {
    /// Our open channels, in identifier order (a stable order makes the policy's
    /// decisions reproducible).
    pub fn open_channels(&self) -> Vec<OpenChannel> {
        let mut open: Vec<OpenChannel> = self
            .channels
            .values()
            .filter(|c| c.phase == ChannelPhase::Opened)
            .map(OurChannel::as_open)
            .collect();
        open.sort_by_key(|c| c.channel_id);
        open
    }

    /// The policy's view, given our open channels and token balance.
    pub fn policy_view<'a>(
        &'a self,
        us: Address,
        open: &'a [OpenChannel],
        token_balance: U256,
    ) -> NetworkView<'a> {
        NetworkView {
            us,
            our_channels: open,
            participants: &self.participants,
            token_balance,
            totals: None,
        }
    }

    /// The join (SPEC §3, steps 2 to 4) with `manager`'s parameters: new partners are
    /// chosen by its `partner_selection`, with this network's strategy index and `rng` (the
    /// node's `partner_rng`, as the simulator's engine does).
    pub fn plan_join(
        &mut self,
        manager: &ConnectionManager,
        us: Address,
        token_balance: U256,
        rng: &mut dyn RngCore,
    ) -> Vec<Decision> {
        let open = self.open_channels();
        let view = NetworkView {
            us,
            our_channels: &open,
            participants: &self.participants,
            token_balance,
            totals: None,
        };
        let kind = manager.params().partner_selection;
        match self.strategies.strategies().sampler(kind, rng) {
            Some(mut sampler) => manager.decide_open_channels(&view, &mut sampler),
            // Unreachable (the index has every kind); Raiden's rule rather than nothing.
            None => manager.decide_open_channels(&view, &mut UniformSampler(rng)),
        }
    }

    /// Our non-settled channel with `partner`.
    pub fn channel_with(&self, partner: &Address) -> Option<&OurChannel> {
        self.channels.values().find(|c| &c.partner == partner)
    }

    /// Where our channel `channel_id` is, for the connection manager's leave rules
    /// (settled channels are gone from the view).
    pub fn status_of(&self, us: Address, channel_id: &ChannelId) -> ChannelStatus {
        match self.channels.get(channel_id).map(|c| c.phase) {
            None => ChannelStatus::Settled,
            Some(ChannelPhase::Opened) => ChannelStatus::Open,
            Some(ChannelPhase::Closed { closer, .. }) if closer == us => {
                ChannelStatus::Closed(Closer::Us)
            }
            Some(ChannelPhase::Closed { .. }) => ChannelStatus::Closed(Closer::Partner),
        }
    }

    /// When to settle our channel `channel_id`, if it is closed (SPEC §3.1).
    pub fn settle_at(&self, us: Address, channel_id: &ChannelId) -> Option<SettleAt> {
        match self.channels.get(channel_id)?.phase {
            ChannelPhase::Opened => None,
            ChannelPhase::Closed { closer, closed_at } => {
                let by = if closer == us {
                    Closer::Us
                } else {
                    Closer::Partner
                };
                Some(SettleAt::new(
                    *channel_id,
                    by,
                    closed_at,
                    self.settle_timeout,
                ))
            }
        }
    }

    /// Sum of our deposits over our open channels.
    pub fn sum_open_deposits(&self) -> U256 {
        self.channels
            .values()
            .filter(|c| c.phase == ChannelPhase::Opened)
            .fold(U256::ZERO, |sum, c| sum.saturating_add(c.our_deposit))
    }
}

/// Everything the node knows, from the events it has applied.
#[derive(Debug)]
pub struct View {
    us: Address,
    networks: HashMap<Address, NetworkState>,
    /// Token → token network, in registration order.
    tokens: Vec<(Address, Address)>,
}

impl View {
    /// An empty view for the node with address `us`.
    pub fn new(us: Address) -> Self {
        Self {
            us,
            networks: HashMap::new(),
            tokens: Vec::new(),
        }
    }

    /// A view rebuilt from stored events, participants and connection managers (a
    /// restart). The participants include those whose channels' events were compacted
    /// away.
    pub fn restore(
        us: Address,
        events: &[EventRecord],
        participants: &[(Address, Address)],
        connections: &[StoredConnection],
    ) -> Self {
        let mut view = View::new(us);
        for record in events {
            view.apply(record);
        }
        for (token_network, participant) in participants {
            if let Some(network) = view.networks.get_mut(token_network) {
                network.participants.insert(*participant);
            }
        }
        for stored in connections {
            if let Some(network) = view.networks.get_mut(&stored.token_network) {
                let mut manager = ConnectionManager::new(stored.params);
                if stored.state == ConnectionState::Leaving {
                    manager.start_leaving();
                }
                network.manager = Some(manager);
                network.reported_funds = stored.reported_funds;
            }
        }
        view
    }

    /// The view `events` and `participants` give, with this view's connection managers
    /// carried over: what a reorganisation leaves once the events of the abandoned blocks
    /// are forgotten.
    pub fn rebuilt_from(
        &self,
        events: &[EventRecord],
        participants: &[(Address, Address)],
    ) -> View {
        let mut view = View::restore(self.us, events, participants, &[]);
        for (address, old) in &self.networks {
            if let Some(network) = view.networks.get_mut(address) {
                network.manager = old.manager;
                network.reported_funds = old.reported_funds;
            }
        }
        view
    }

    /// Registered tokens, in registration order.
    pub fn tokens(&self) -> impl Iterator<Item = Address> + '_ {
        self.tokens.iter().map(|(token, _)| *token)
    }

    /// The token network of `token`.
    pub fn token_network_of(&self, token: &Address) -> Option<Address> {
        self.tokens
            .iter()
            .find(|(t, _)| t == token)
            .map(|(_, network)| *network)
    }

    /// A token network's state.
    pub fn network(&self, address: &Address) -> Option<&NetworkState> {
        self.networks.get(address)
    }

    /// A token network's state, to change it.
    pub fn network_mut(&mut self, address: &Address) -> Option<&mut NetworkState> {
        self.networks.get_mut(address)
    }

    /// Every token network, in registration order.
    pub fn networks(&self) -> impl Iterator<Item = &NetworkState> + '_ {
        self.tokens
            .iter()
            .filter_map(|(_, network)| self.networks.get(network))
    }

    /// Applies one event; returns what the connection manager of which token network
    /// should react to.
    pub fn apply(&mut self, record: &EventRecord) -> Option<(Address, Reaction)> {
        let us = self.us;
        match record.event {
            ChainEvent::TokenNetworkCreated {
                token,
                token_network,
                settle_timeout,
            } => {
                if !self.networks.contains_key(&token_network) {
                    self.tokens.push((token, token_network));
                    self.networks.insert(
                        token_network,
                        NetworkState {
                            token,
                            address: token_network,
                            settle_timeout,
                            participants: Participants::new(),
                            channels: HashMap::new(),
                            manager: None,
                            reported_funds: U256::ZERO,
                            strategies: NetworkIndex::new(),
                        },
                    );
                }
                None
            }
            ChainEvent::ChannelOpened {
                token_network,
                channel_id,
                participant1,
                participant2,
            } => {
                let network = self.networks.get_mut(&token_network)?;
                network.participants.insert(participant1);
                network.participants.insert(participant2);
                network
                    .strategies
                    .channel_opened(channel_id, participant1, participant2);
                let partner = if participant1 == us {
                    Some(participant2)
                } else if participant2 == us {
                    Some(participant1)
                } else {
                    None
                };
                if let Some(partner) = partner {
                    network.channels.insert(
                        channel_id,
                        OurChannel {
                            id: channel_id,
                            partner,
                            our_deposit: U256::ZERO,
                            partner_deposit: U256::ZERO,
                            partner_opened: participant1 == partner,
                            phase: ChannelPhase::Opened,
                        },
                    );
                }
                Some((token_network, Reaction::NewChannel))
            }
            ChainEvent::ChannelNewDeposit {
                token_network,
                channel_id,
                participant,
                total_deposit,
            } => {
                let network = self.networks.get_mut(&token_network)?;
                network
                    .strategies
                    .deposit(channel_id, participant, total_deposit.get());
                let channel = network.channels.get_mut(&channel_id)?;
                if participant == us {
                    channel.our_deposit = total_deposit.get();
                    None
                } else {
                    channel.partner_deposit = total_deposit.get();
                    Some((token_network, Reaction::PartnerDeposit { channel_id }))
                }
            }
            ChainEvent::ChannelClosed {
                token_network,
                channel_id,
                closing_participant,
            } => {
                let network = self.networks.get_mut(&token_network)?;
                network.strategies.channel_closed(channel_id);
                let settle_timeout = network.settle_timeout;
                let channel = network.channels.get_mut(&channel_id)?;
                channel.phase = ChannelPhase::Closed {
                    closer: closing_participant,
                    closed_at: record.timestamp,
                };
                let by = if closing_participant == us {
                    Closer::Us
                } else {
                    Closer::Partner
                };
                Some((
                    token_network,
                    Reaction::Closed {
                        channel_id,
                        by,
                        closed_at: record.timestamp,
                        settle_timeout,
                    },
                ))
            }
            ChainEvent::ChannelSettled {
                token_network,
                channel_id,
                ..
            } => {
                let network = self.networks.get_mut(&token_network)?;
                network.strategies.channel_settled(channel_id);
                // Settled channels leave the view: nothing more can happen to them, and a
                // long-lived node must not accumulate them.
                network
                    .channels
                    .remove(&channel_id)
                    .map(|_| (token_network, Reaction::Settled { channel_id }))
            }
        }
    }
}
