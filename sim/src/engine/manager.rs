//! The connection-manager driver: what the node's runtime does around
//! [`ConnectionManager`], done at the same points in virtual time. It runs each node's
//! operations (join, retry, joining a partner's channel, leave, settle) by asking the
//! manager and turning its actions into ledger transactions, and runs the reactions a
//! block calls for once the block is mined.

use std::collections::BTreeSet;

use rustc_hash::FxHashSet;
use tokennet::chain::gas::{gas_reserve, ReserveInputs, GAS};
use tokennet::chain::Transaction;
use tokennet::connection::{
    tokens_needed, Action, ConnectionManager, ConnectionParams, NetworkView,
};
use tokennet::node::partner_rng;
use tokennet::types::{Address, ChannelId, TokenAmount, U256};

use super::node::{JoinFailure, NodeState, Op};
use super::Engine;

/// What a block calls for, in the order the node's view would report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Reaction {
    /// A channel opened somewhere: nodes that want partners retry.
    NewChannel,
    /// A partner's deposit grew: the node may join the channel.
    PartnerDeposit { node: u32, channel: ChannelId },
}

/// The reactions of the block being mined, and who wants partners.
#[derive(Default)]
pub(super) struct Reactions {
    /// Reactions of the block being mined, deduplicated, in order of first occurrence.
    block: Vec<Reaction>,
    seen: FxHashSet<Reaction>,
    /// Nodes whose manager wants a retry: those a new channel anywhere concerns.
    wanting: BTreeSet<u32>,
}

impl Engine<'_> {
    /// Runs one operation: asks the manager, submits the transactions. Returns how many
    /// were submitted.
    pub(super) fn run_op(&mut self, n: u32, op: Op) -> u32 {
        let actions: Vec<Action> = match op {
            Op::Join => {
                let node = &self.nodes[n as usize];
                let params = ConnectionParams {
                    partner_selection: Default::default(),
                    funds: node.funds,
                    initial_channel_target: node.target,
                    joinable_funds_target: node.joinable,
                };
                let manager = ConnectionManager::new(params);
                // The gas reserve (SPEC §4), as the node checks it before a join.
                let open = self.open_channels_of(n);
                let view = NetworkView {
                    us: self.nodes[n as usize].address,
                    our_channels: &open,
                    participants: &self.index.participants,
                    token_balance: U256::MAX,
                };
                let inputs = ReserveInputs {
                    channels_to_open: manager.channels_to_open(&view),
                    open_channels: open.len() as u64,
                    closed_channels: 0,
                };
                let reserve = gas_reserve(&GAS, self.blocks.gas_price_wei, inputs);
                let address = self.nodes[n as usize].address;
                if self.ledger.eth_balance(&address) < reserve {
                    self.fail_join(n, JoinFailure::GasReserve);
                    let node = &mut self.nodes[n as usize];
                    node.state = NodeState::Refused;
                    node.queue.clear();
                    return 0;
                }
                let node = &mut self.nodes[n as usize];
                node.manager = Some(manager);
                node.state = NodeState::Active;
                self.decide_open_channels(n)
            }
            Op::Retry => {
                self.records.counters.retries += 1;
                self.decide_open_channels(n)
            }
            Op::JoinPartner(channel) => {
                let Some(manager) = self.active_manager(n) else {
                    return 0;
                };
                let open = self.open_channels_of(n);
                let Some(this) = open.iter().find(|c| c.channel_id == channel).copied() else {
                    return 0;
                };
                let view = NetworkView {
                    us: self.nodes[n as usize].address,
                    our_channels: &open,
                    participants: &self.index.participants,
                    token_balance: self.token_balance(n),
                };
                manager
                    .join_partner_channel(&view, &this)
                    .into_iter()
                    .collect()
            }
            Op::Leave => return self.leave(n),
            Op::Settle(channel) => return self.settle(n, channel),
        };
        self.submit_actions(n, op, actions)
    }

    /// Node `n`'s manager, while it is active.
    pub(super) fn active_manager(&self, n: u32) -> Option<ConnectionManager> {
        let node = &self.nodes[n as usize];
        if node.state != NodeState::Active {
            return None;
        }
        node.manager
    }

    fn decide_open_channels(&mut self, n: u32) -> Vec<Action> {
        let Some(manager) = self.active_manager(n) else {
            return Vec::new();
        };
        let open = self.open_channels_of(n);
        let token_balance = self.token_balance(n);
        let kind = self.scenario.cohorts[self.nodes[n as usize].cohort as usize].partner_selection;
        let seed = self.scenario.seed;
        let node = &mut self.nodes[n as usize];
        let view = NetworkView {
            us: node.address,
            our_channels: &open,
            participants: &self.index.participants,
            token_balance,
        };
        // The same generator as the node's (`partner_rng`), at the same position.
        let mut rng = partner_rng(seed, node.address);
        rng.set_word_pos(node.rng_position);
        let actions = self
            .strategies
            .open_channels(kind, &manager, &view, &mut rng);
        node.rng_position = rng.get_word_pos();
        actions
    }

    /// One approve for the total, then one transaction per action, as the node sends them.
    fn submit_actions(&mut self, n: u32, op: Op, actions: Vec<Action>) -> u32 {
        if actions.is_empty() {
            return 0;
        }
        let open = self.open_channels_of(n);
        let current = |partner: &Address| {
            open.iter()
                .find(|c| &c.partner == partner)
                .map(|c| c.our_deposit)
                .unwrap_or_default()
        };
        let needed = tokens_needed(&actions, current);
        let mut transactions = Vec::with_capacity(actions.len() + 1);
        if !needed.is_zero() {
            transactions.push(Transaction::Approve {
                token: self.token,
                spender: self.network,
                amount: TokenAmount(needed),
            });
        }
        let network = self.network;
        transactions.extend(
            actions
                .iter()
                .map(|action| Transaction::for_action(network, action)),
        );
        self.submit(n, op, transactions)
    }

    /// The leave: close every open channel (each is settled when its window opens).
    fn leave(&mut self, n: u32) -> u32 {
        let node = &mut self.nodes[n as usize];
        if node.state != NodeState::Active {
            return 0;
        }
        node.state = NodeState::Leaving;
        if let Some(manager) = node.manager.as_mut() {
            manager.start_leaving();
        }
        self.reactions.wanting.remove(&n);
        let closes: Vec<Transaction> = self
            .open_channels_of(n)
            .iter()
            .map(|c| Transaction::CloseChannel {
                token_network: self.network,
                channel_id: c.channel_id,
                partner: c.partner,
            })
            .collect();
        let sent = self.submit(n, Op::Leave, closes);
        if sent == 0 && self.nodes[n as usize].channels.is_empty() {
            let node = &mut self.nodes[n as usize];
            node.state = NodeState::Left;
            node.left_at = Some(self.clock.now);
            self.records.counters.leaves_completed += 1;
        }
        sent
    }

    fn settle(&mut self, n: u32, channel: ChannelId) -> u32 {
        let Some(edge) = self.index.edge(channel.0) else {
            return 0;
        };
        let tx = Transaction::SettleChannel {
            token_network: self.network,
            channel_id: channel,
            partner: self.index.address_of(edge.other(n)),
        };
        self.submit(n, Op::Settle(channel), vec![tx])
    }

    /// Notes a reaction of the block being mined (once per block).
    pub(super) fn react(&mut self, reaction: Reaction) {
        if self.reactions.seen.insert(reaction) {
            self.reactions.block.push(reaction);
        }
    }

    /// The block's reactions, in the order a node's view reports them: a new channel
    /// makes every node that wants partners retry (coalesced); a partner's deposit makes
    /// that node consider joining the channel.
    pub(super) fn block_end(&mut self) {
        self.blocks.block_end_scheduled = false;
        self.reactions.seen.clear();
        for n in std::mem::take(&mut self.index.dirty) {
            self.nodes[n as usize].dirty = false;
            self.refresh_wanting(n);
        }
        for reaction in std::mem::take(&mut self.reactions.block) {
            match reaction {
                Reaction::NewChannel => {
                    let wanting: Vec<u32> = self.reactions.wanting.iter().copied().collect();
                    for n in wanting {
                        self.trigger_retry(n);
                    }
                }
                Reaction::PartnerDeposit { node, channel } => {
                    self.enqueue(node, Op::JoinPartner(channel));
                }
            }
        }
    }

    fn trigger_retry(&mut self, n: u32) {
        if self.nodes[n as usize].retry.trigger() {
            self.enqueue(n, Op::Retry);
        }
    }

    /// Keeps `wanting` equal to the set of nodes whose manager wants a retry.
    pub(super) fn refresh_wanting(&mut self, n: u32) {
        let wants = match self.active_manager(n) {
            Some(manager) => {
                let open = self.open_channels_of(n);
                let view = NetworkView {
                    us: self.nodes[n as usize].address,
                    our_channels: &open,
                    participants: &self.index.participants,
                    token_balance: self.token_balance(n),
                };
                manager.wants_retry(&view)
            }
            None => false,
        };
        if wants {
            self.reactions.wanting.insert(n);
        } else {
            self.reactions.wanting.remove(&n);
        }
    }
}
