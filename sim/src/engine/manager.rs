//! The connection-manager driver: what the node's runtime does around
//! [`ConnectionManager`], done at the same points in virtual time. Chain events go to
//! each concerned node's manager as [`Reaction`]s; its [`Response`]s and [`Decision`]s
//! become operations in the node's queue and ledger transactions. Nothing here decides
//! what a node does: every choice (partners, amounts, retries, closes, when to settle)
//! is the manager's.

use std::collections::BTreeSet;

use rustc_hash::FxHashSet;
use tokennet::chain::gas::{gas_reserve, ReserveInputs, GAS};
use tokennet::chain::Transaction;
use tokennet::connection::{
    tokens_needed, Action, ConnectionManager, ConnectionParams, Decision, NetworkView, OpenChannel,
    Reaction, Response, SettleAt,
};
use tokennet::node::{partner_rng, transaction_for};
use tokennet::types::{Address, ChannelId, TokenAmount, U256};

use super::clock::Event;
use super::node::{JoinFailure, NodeState, Op};
use super::Engine;

/// The reactions of the block being mined, and who wants partners.
#[derive(Default)]
pub(super) struct Reactions {
    /// Reactions of the block being mined, deduplicated, in order of first occurrence:
    /// for one node, or (`None`) for every node that wants partners.
    block: Vec<(Option<u32>, Reaction)>,
    seen: FxHashSet<(Option<u32>, Reaction)>,
    /// Nodes whose manager wants a retry: the only ones a new channel anywhere concerns,
    /// so that a new channel is not handed to every node.
    wanting: BTreeSet<u32>,
}

impl Engine<'_> {
    /// Node `n`'s view of the token network for its manager, for a call that reads
    /// only the node's totals and, with `Some(channel)`, that one channel: the view's
    /// channels are that channel (if open) or none, and its totals are the node's, kept
    /// as its channels change. So a reaction, a retry test or a match costs the same for
    /// a hub with 10^5 channels as for a node with three (the policy reads the totals;
    /// [`tokennet::connection::ChannelTotals`]).
    fn with_view<T>(
        &mut self,
        n: u32,
        token_balance: U256,
        channel: Option<ChannelId>,
        f: impl FnOnce(&mut ConnectionManager, &NetworkView<'_>) -> T,
    ) -> Option<T> {
        let totals = self.totals_of(n);
        let this: Option<OpenChannel> = channel.and_then(|id| self.open_channel(n, id));
        let node = &mut self.nodes[n as usize];
        node.manager.as_mut().map(|manager| {
            let view = NetworkView {
                us: node.address,
                our_channels: this.as_slice(),
                participants: &self.index.participants,
                token_balance,
                totals: Some(totals),
            };
            f(manager, &view)
        })
    }

    /// Runs one operation: asks the manager, submits the transactions. Returns how many
    /// were submitted.
    pub(super) fn run_op(&mut self, n: u32, op: Op) -> u32 {
        let decisions: Vec<Decision> = match op {
            Op::Join => {
                let node = &self.nodes[n as usize];
                let params = ConnectionParams {
                    partner_selection: self.scenario.cohorts[node.cohort as usize]
                        .partner_selection,
                    funds: node.funds,
                    initial_channel_target: node.target,
                    joinable_funds_target: node.joinable,
                };
                let manager = ConnectionManager::new(params);
                // The gas reserve (SPEC §4), as the node checks it before a join.
                let open = self.open_channels_of(n);
                let view = NetworkView {
                    us: node.address,
                    our_channels: &open,
                    participants: &self.index.participants,
                    token_balance: U256::MAX,
                    totals: None,
                };
                let inputs = ReserveInputs {
                    channels_to_open: manager.channels_to_open(&view),
                    open_channels: open.len() as u64,
                    closed_channels: 0,
                };
                let reserve = gas_reserve(&GAS, self.blocks.gas_price_wei, inputs);
                if self.ledger.eth_balance(&node.address) < reserve {
                    self.fail_join(n, JoinFailure::GasReserve);
                    let node = &mut self.nodes[n as usize];
                    node.state = NodeState::Refused;
                    node.queue.clear();
                    return 0;
                }
                let node = &mut self.nodes[n as usize];
                node.manager = Some(manager);
                node.state = NodeState::Active;
                self.count_funded(n, &open);
                self.decide_open_channels(n)
            }
            Op::Retry => {
                self.records.counters.retries += 1;
                self.decide_open_channels(n)
            }
            Op::JoinPartner(channel) => {
                if self.active_manager(n).is_none() {
                    return 0;
                }
                let balance = self.token_balance(n);
                self.with_view(n, balance, Some(channel), |manager, view| {
                    let this = view.our_channels.first()?;
                    manager.match_partner_deposit(view, this)
                })
                .flatten()
                .into_iter()
                .collect()
            }
            Op::Leave => return self.leave(n),
        };
        self.record_decisions(n, &decisions);
        let actions: Vec<Action> = decisions.iter().filter_map(|d| d.action).collect();
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

    /// The manager's *open channels*, with the node's strategy and partner generator.
    fn decide_open_channels(&mut self, n: u32) -> Vec<Decision> {
        let Some(manager) = self.active_manager(n) else {
            return Vec::new();
        };
        let open = self.take_open_channels(n);
        let totals = self.totals_of(n);
        let token_balance = self.token_balance(n);
        let seed = self.scenario.seed;
        let node = &mut self.nodes[n as usize];
        let view = NetworkView {
            us: node.address,
            our_channels: &open,
            participants: &self.index.participants,
            token_balance,
            totals: Some(totals),
        };
        // The same generator as the node's (`partner_rng`), at the same position.
        let mut rng = partner_rng(seed, node.address);
        rng.set_word_pos(node.rng_position);
        let decisions = self
            .strategies
            .decide_open_channels(&manager, &view, &mut rng);
        node.rng_position = rng.get_word_pos();
        self.give_back(open);
        decisions
    }

    /// One approve for the total, then one transaction per action, as the node sends them.
    fn submit_actions(&mut self, n: u32, op: Op, actions: Vec<Action>) -> u32 {
        if actions.is_empty() {
            return 0;
        }
        // Our current deposit in the channels the deposits raise, looked up by their
        // identifiers: not a walk of every channel of the node (a hub has 10^5).
        let raised: Vec<OpenChannel> = actions
            .iter()
            .filter_map(|action| match action {
                Action::Deposit { channel_id, .. } => self.open_channel(n, *channel_id),
                Action::Open { .. } => None,
            })
            .collect();
        let current = |partner: &Address| {
            raised
                .iter()
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
                .map(|action| transaction_for(network, action)),
        );
        self.submit(n, Some(op), transactions)
    }

    /// The leave: the manager closes every open channel; each is settled when the
    /// manager's rule says (SPEC §3.1), on the close's reaction.
    fn leave(&mut self, n: u32) -> u32 {
        if self.nodes[n as usize].state != NodeState::Active {
            return 0;
        }
        self.nodes[n as usize].state = NodeState::Leaving;
        self.reactions.wanting.remove(&n);
        // The leave walks every channel (it closes them all), once per node.
        let open = self.take_open_channels(n);
        let node = &mut self.nodes[n as usize];
        let closes = node
            .manager
            .as_mut()
            .map(|manager| {
                let view = NetworkView {
                    us: node.address,
                    our_channels: &open,
                    participants: &self.index.participants,
                    token_balance: U256::ZERO,
                    totals: None,
                };
                manager.leave(&view)
            })
            .unwrap_or_default();
        self.give_back(open);
        self.record_decisions(n, &closes);
        let network = self.network;
        let transactions: Vec<Transaction> = closes
            .iter()
            .filter_map(|close| {
                Some(Transaction::CloseChannel {
                    token_network: network,
                    channel_id: close.channel_id?,
                    partner: close.partner?,
                })
            })
            .collect();
        let sent = self.submit(n, Some(Op::Leave), transactions);
        if sent == 0 {
            self.maybe_left(n);
        }
        sent
    }

    /// Settles a closed channel if it is still unsettled: its time has come
    /// ([`SettleAt`]). Sent at once, not behind the node's queued operations, as the
    /// node's settle task does.
    pub(super) fn settle(&mut self, n: u32, channel: ChannelId) {
        let Some(at) = self.settle_at(n, channel) else {
            return; // settled meanwhile
        };
        let Some(edge) = self.index.edge(channel.0) else {
            return;
        };
        let partner = self.index.address_of(edge.other(n));
        if self.decisions.is_some() {
            let strategy = self.nodes[n as usize]
                .manager
                .map(|m| m.params().partner_selection)
                .unwrap_or_default();
            self.record_decisions(n, &[at.decision(partner, strategy)]);
        }
        let tx = Transaction::SettleChannel {
            token_network: self.network,
            channel_id: channel,
            partner,
        };
        self.submit(n, None, vec![tx]);
    }

    /// When node `n` settles `channel`, if it is closed and not settled.
    fn settle_at(&self, n: u32, channel: ChannelId) -> Option<SettleAt> {
        let closed = self.index.closed.get(&channel)?;
        let by = if closed.closer == n {
            tokennet::connection::Closer::Us
        } else {
            tokennet::connection::Closer::Partner
        };
        Some(SettleAt::new(
            channel,
            by,
            closed.at_seconds,
            self.blocks.settle_timeout_s,
        ))
    }

    /// Hands one of node `n`'s channel events to its manager now (a close: when to
    /// settle does not depend on the rest of the block).
    pub(super) fn react_now(&mut self, n: u32, reaction: Reaction) {
        if !matches!(
            self.nodes[n as usize].state,
            NodeState::Active | NodeState::Leaving
        ) {
            return;
        }
        let response = self.with_view(n, U256::ZERO, None, |manager, view| {
            manager.react(reaction, view)
        });
        if let Some(response) = response {
            self.respond(n, response);
        }
    }

    /// Notes a reaction of the block being mined (once per block), for node `n` or, with
    /// `None`, for every node that wants partners.
    pub(super) fn react_at_block_end(&mut self, n: Option<u32>, reaction: Reaction) {
        if self.reactions.seen.insert((n, reaction)) {
            self.reactions.block.push((n, reaction));
        }
    }

    /// The block's reactions, in the order a node's view reports them: a new channel
    /// goes to every node that wants partners, a partner's deposit to that node.
    pub(super) fn block_end(&mut self) {
        self.blocks.block_end_scheduled = false;
        self.reactions.seen.clear();
        for n in std::mem::take(&mut self.index.dirty) {
            self.nodes[n as usize].dirty = false;
            self.refresh_wanting(n);
        }
        for (node, reaction) in std::mem::take(&mut self.reactions.block) {
            match node {
                Some(n) => self.react_active(n, reaction),
                None => {
                    let wanting: Vec<u32> = self.reactions.wanting.iter().copied().collect();
                    for n in wanting {
                        self.react_active(n, reaction);
                    }
                }
            }
        }
    }

    /// Hands a reaction to node `n`'s manager, if it is active, and carries out the
    /// response. The view has the node's token balance: the engine knows it at once.
    fn react_active(&mut self, n: u32, reaction: Reaction) {
        if self.active_manager(n).is_none() {
            return;
        }
        let balance = self.token_balance(n);
        let response = self.with_view(n, balance, None, |manager, view| {
            manager.react(reaction, view)
        });
        if let Some(response) = response {
            self.respond(n, response);
        }
    }

    /// Carries out a manager's response: an operation in the node's queue, or a settle
    /// scheduled for when the manager says.
    fn respond(&mut self, n: u32, response: Response) {
        match response {
            Response::Nothing => {}
            Response::OpenChannels(retry) => {
                self.record_decisions(n, std::slice::from_ref(&*retry));
                self.enqueue(n, Op::Retry);
            }
            Response::Match { channel_id } => self.enqueue(n, Op::JoinPartner(channel_id)),
            Response::Settle(at) => {
                let due = self.blocks.block_at_or_after(at.settle_from * 1000);
                self.clock.schedule(
                    due,
                    Event::SettleDue {
                        node: n,
                        channel: at.channel_id,
                    },
                );
            }
        }
    }

    /// A retry's run of *open channels* ended: the manager says whether triggers that
    /// came meanwhile call for one more.
    pub(super) fn retry_finished(&mut self, n: u32) {
        let balance = self.token_balance(n);
        let again = self
            .with_view(n, balance, None, |manager, view| {
                manager.retry_finished(view)
            })
            .flatten();
        if let Some(retry) = again {
            self.record_decisions(n, std::slice::from_ref(&retry));
            self.nodes[n as usize].queue.push_back(Op::Retry);
        }
    }

    /// Keeps `wanting` equal to the set of nodes whose manager wants a retry. Asked on
    /// every block a node's channels change: O(1) for a node of any degree.
    pub(super) fn refresh_wanting(&mut self, n: u32) {
        let wants = match self.active_manager(n) {
            Some(manager) => {
                let view = NetworkView {
                    us: self.nodes[n as usize].address,
                    our_channels: &[],
                    participants: &self.index.participants,
                    token_balance: self.token_balance(n),
                    totals: Some(self.totals_of(n)),
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
