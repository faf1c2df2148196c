//! Following the chain: poll for new confirmed blocks, apply their events to the view,
//! and start the reactions the events call for.

use std::sync::Weak;
use std::time::Duration;

use futures::future::join_all;

use super::store::{ConnectionState, StoredConnection};
use super::view::ChannelPhase;
use super::{lock, Inner, Node, NodeError, SyncState, IDENTITY_CHECK_POLLS};
use crate::chain::Chain;
use crate::connection::{Reaction, Response, SettleAt};
use crate::types::{Address, U256};

/// Longest wait between two polls after repeated failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Most blocks asked for in one `events` call, so that a long catch-up is done in steps a
/// JSON-RPC endpoint accepts.
const MAX_BLOCKS_PER_POLL: u64 = 10_000;

/// What one poll did.
enum Poll {
    /// Applied the events it read; `caught_up`: up to the head.
    Done {
        /// Whether the view is up to the head.
        caught_up: bool,
    },
    /// Found another chain behind the endpoint: read nothing, changed nothing.
    WrongChain,
}

/// Starts the task that follows the chain for as long as the node exists: first it
/// reconciles the transactions journaled before a restart, then it polls from
/// `next_block` on; once caught up the first time, it resumes the `unfinished` work.
pub(super) fn spawn<C: Chain>(
    inner: Weak<Inner<C>>,
    mut next_block: u64,
    unfinished: Vec<StoredConnection>,
) {
    tokio::spawn(async move {
        if let Some(strong) = inner.upgrade() {
            Node { inner: strong }.reconcile_journal().await;
        }
        let mut unfinished = Some(unfinished);
        let mut failures = 0u32;
        // Checked first thing: the first poll is a (re)connection too.
        let mut polls_since_check = IDENTITY_CHECK_POLLS;
        loop {
            let Some(strong) = inner.upgrade() else {
                return;
            };
            let node = Node { inner: strong };
            let interval = node.inner.chain.poll_interval();
            // The chain's identity before anything is read from it: on every
            // reconnection (the first success after failed calls), every few polls, and
            // on every poll while the endpoint serves another chain.
            let check = failures > 0
                || polls_since_check >= IDENTITY_CHECK_POLLS
                || node.wrong_chain().is_some();
            let outcome = if check {
                polls_since_check = 0;
                match node.check_identity().await {
                    Ok(true) => node.poll_once(&mut next_block).await,
                    Ok(false) => Ok(Poll::WrongChain),
                    Err(error) => Err(error),
                }
            } else {
                polls_since_check += 1;
                node.poll_once(&mut next_block).await
            };
            let wait = match outcome {
                Ok(Poll::WrongChain) => {
                    failures = 0;
                    interval
                }
                Ok(Poll::Done { caught_up }) => {
                    failures = 0;
                    if caught_up {
                        if let Some(unfinished) = unfinished.take() {
                            node.resume(unfinished);
                        }
                        interval
                    } else {
                        Duration::ZERO
                    }
                }
                Err(error) => {
                    failures += 1;
                    let backoff = interval
                        .saturating_mul(2u32.saturating_pow(failures.min(16)))
                        .min(MAX_BACKOFF);
                    tracing::warn!(%error, ?backoff, "could not follow the chain; retrying");
                    backoff
                }
            };
            drop(node);
            tokio::time::sleep(wait).await;
        }
    });
}

impl<C: Chain> Node<C> {
    /// Reads the events from `next_block` to the confirmed head (at most a bounded
    /// range), stores and applies them and starts the reactions. Returns whether it
    /// caught up. A reorganisation of blocks already applied rewinds to the fork first,
    /// unless the chain turns out to be another one: then nothing changes.
    async fn poll_once(&self, next_block: &mut u64) -> Result<Poll, NodeError> {
        let head = self.inner.chain.latest_block().await?.number;
        if let Some(fork) = self.find_fork().await? {
            // Another chain behind the same endpoint also lacks our blocks: it must
            // never be taken for a fork, which would rewind the view to its blocks.
            if !self.check_identity().await? {
                return Ok(Poll::WrongChain);
            }
            self.note_head(head);
            self.inner.sync.send_modify(|state| state.head = head);
            // Without the applied events at hand, the view is rebuilt from the chain.
            let fork = fork.filter(|_| self.inner.store.keeps_events());
            self.rewind(fork)?;
            *next_block = fork.map_or(0, |block| block + 1);
            return Ok(Poll::Done { caught_up: false });
        }
        self.note_head(head);
        self.inner.sync.send_modify(|state| state.head = head);
        if head < *next_block {
            self.mark_processed(head.max(next_block.saturating_sub(1)), true);
            return Ok(Poll::Done { caught_up: true });
        }
        let to = head.min(*next_block + MAX_BLOCKS_PER_POLL - 1);
        // The hash first: if the chain reorganises between the two reads, the stored
        // hash is the old one, and the next poll notices.
        let to_hash = self.inner.chain.block_hash(to).await?;
        let events = self.inner.chain.events(*next_block, to).await?;
        // Stored before they are acted on: after a crash, the view rebuilt from the
        // database is never behind what the node did.
        self.inner
            .store
            .append_events(&events, to, to_hash)
            .map_err(NodeError::store)?;
        let mut reactions: Vec<(Address, Reaction)> = Vec::new();
        {
            let mut view = lock(&self.inner.view);
            for record in &events {
                if let Some(reaction) = view.apply(record) {
                    if !reactions.contains(&reaction) {
                        reactions.push(reaction);
                    }
                }
            }
        }
        *next_block = to + 1;
        let caught_up = to == head;
        self.mark_processed(to, caught_up);
        for (token_network, reaction) in reactions {
            self.react(token_network, reaction);
        }
        Ok(Poll::Done { caught_up })
    }

    /// Whether the chain no longer has the blocks the view was built from: `None` if it
    /// still has them, else the newest block both agree on (`Some(None)`: none known).
    async fn find_fork(&self) -> Result<Option<Option<u64>>, NodeError> {
        let checkpoints = self.inner.store.checkpoints().map_err(NodeError::store)?;
        let Some(&(latest, latest_hash)) = checkpoints.first() else {
            return Ok(None);
        };
        if self.inner.chain.block_hash(latest).await? == Some(latest_hash) {
            return Ok(None);
        }
        for &(block, hash) in &checkpoints[1..] {
            if self.inner.chain.block_hash(block).await? == Some(hash) {
                return Ok(Some(Some(block)));
            }
        }
        Ok(Some(None))
    }

    /// Forgets the events after `fork` (all of them for `None`) and rebuilds the view
    /// from the rest; the connection managers stay as they are.
    fn rewind(&self, fork: Option<u64>) -> Result<(), NodeError> {
        tracing::warn!(
            fork = ?fork,
            "the chain reorganised: forgetting the events after the fork and following the new blocks"
        );
        self.inner.store.rewind_to(fork).map_err(NodeError::store)?;
        let stored = self.inner.store.load().map_err(NodeError::store)?;
        {
            let mut view = lock(&self.inner.view);
            let rebuilt = view.rebuilt_from(&stored.events, &stored.participants);
            *view = rebuilt;
        }
        let block = fork.unwrap_or(0);
        self.inner
            .sync
            .send_modify(|state: &mut SyncState| state.processed = block);
        Ok(())
    }

    /// Waits for the outcome of every transaction journaled and not resolved before the
    /// node stopped, and records it. Until this is done the node is not ready, so that
    /// nothing is sent again for a purpose a transaction in flight already serves.
    async fn reconcile_journal(&self) {
        let unresolved = match self.inner.store.journal_unresolved() {
            Ok(unresolved) => unresolved,
            Err(error) => {
                tracing::error!(%error, "cannot read the transaction journal");
                return;
            }
        };
        if unresolved.is_empty() {
            return;
        }
        // A transaction and its replacements (one nonce, one purpose) are one wait:
        // `confirm` of the last one signed waits for all of them, resolves whichever is
        // mined, and marks the others replaced.
        let mut groups: Vec<crate::chain::PendingTx> = Vec::new();
        for pending in unresolved {
            let purpose = pending.transaction.purpose();
            match groups
                .iter_mut()
                .find(|g| g.nonce == pending.nonce && g.transaction.purpose() == purpose)
            {
                Some(group) => *group = pending,
                None => groups.push(pending),
            }
        }
        tracing::info!(
            transactions = groups.len(),
            "waiting for the transactions sent before the restart"
        );
        let outcomes = join_all(groups.iter().map(|pending| self.confirm(pending))).await;
        for (pending, outcome) in groups.iter().zip(outcomes) {
            match outcome {
                Ok(receipt) => tracing::info!(
                    transaction = pending.transaction.name(),
                    tx = %receipt.hash,
                    nonce = pending.nonce,
                    block = receipt.block,
                    "transaction sent before the restart: confirmed"
                ),
                Err(error) => tracing::warn!(
                    transaction = pending.transaction.name(),
                    tx = %pending.hash,
                    nonce = pending.nonce,
                    %error,
                    "transaction sent before the restart did not succeed"
                ),
            }
        }
    }

    /// Carries on with the work a restart interrupted: joins that had not completed (and
    /// the retries of joined networks), leaves that had not settled everything, and
    /// channels a partner closed that wait for settlement.
    fn resume(&self, unfinished: Vec<StoredConnection>) {
        let mut leaving = Vec::new();
        for stored in unfinished {
            let node = self.clone();
            match stored.state {
                ConnectionState::Joining | ConnectionState::Joined => {
                    tokio::spawn(async move { node.resume_join(stored).await });
                }
                ConnectionState::Leaving => {
                    leaving.push(stored.token_network);
                    tokio::spawn(async move { node.resume_leave(stored).await });
                }
            }
        }
        let closed: Vec<(Address, SettleAt)> = {
            let view = lock(&self.inner.view);
            view.networks()
                .filter(|network| !leaving.contains(&network.address))
                .flat_map(|network| {
                    network
                        .channels
                        .values()
                        .filter(|c| matches!(c.phase, ChannelPhase::Closed { .. }))
                        .filter_map(|c| network.settle_at(self.inner.us, &c.id))
                        .map(|at| (network.address, at))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        for (token_network, at) in closed {
            self.spawn_settle(token_network, at);
        }
    }

    async fn resume_join(&self, stored: StoredConnection) {
        let queue = self.queue(stored.token_network);
        let _turn = queue.lock().await;
        if stored.state == ConnectionState::Joining {
            tracing::info!(token = %stored.token, "resuming a join the restart interrupted");
        }
        let result = match self.open_channels(stored.token_network).await {
            Ok(()) if stored.state == ConnectionState::Joining => {
                self.complete_join(stored.token_network, stored.token, stored.params)
            }
            other => other,
        };
        match result {
            Ok(()) if stored.state == ConnectionState::Joining => {
                tracing::info!(token = %stored.token, "join completed after the restart")
            }
            Ok(()) => {}
            Err(error) => {
                tracing::warn!(token = %stored.token, %error, "could not resume the join; a new PUT continues it")
            }
        }
    }

    async fn resume_leave(&self, stored: StoredConnection) {
        let queue = self.queue(stored.token_network);
        let _turn = queue.lock().await;
        let unsettled = self
            .with_network(stored.token_network, |n| n.channels.len())
            .unwrap_or(0);
        if unsettled == 0 {
            return;
        }
        tracing::info!(token = %stored.token, channels = unsettled, "resuming a leave the restart interrupted");
        match self
            .close_and_settle_all(stored.token, stored.token_network)
            .await
        {
            Ok(partners) => {
                tracing::info!(token = %stored.token, ?partners, "leave completed after the restart")
            }
            Err(error) => {
                tracing::warn!(token = %stored.token, %error, "could not resume the leave; a new DELETE continues it")
            }
        }
    }

    fn mark_processed(&self, block: u64, caught_up: bool) {
        self.inner.sync.send_modify(|state: &mut SyncState| {
            state.processed = state.processed.max(block);
            state.ready |= caught_up;
        });
    }

    /// Hands a chain event to the connection manager of its token network and carries
    /// out its response. A network without a manager (never joined) still settles the
    /// channels closed in it, by the same rule.
    fn react(&self, token_network: Address, reaction: Reaction) {
        let response = {
            let mut view = lock(&self.inner.view);
            let Some(network) = view.network_mut(&token_network) else {
                return;
            };
            match network.manager {
                Some(mut manager) => {
                    let open = network.open_channels();
                    // The token balance is read by the run a response starts; here the
                    // manager only decides whether a run could be worth it.
                    let policy_view = network.policy_view(self.inner.us, &open, U256::MAX);
                    let response = manager.react(reaction, &policy_view);
                    network.manager = Some(manager);
                    response
                }
                None => match reaction {
                    Reaction::Closed {
                        channel_id,
                        by,
                        closed_at,
                        settle_timeout,
                    } => Response::Settle(SettleAt::new(channel_id, by, closed_at, settle_timeout)),
                    _ => Response::Nothing,
                },
            }
        };
        match response {
            Response::Nothing => {}
            Response::OpenChannels(retry) => {
                self.record_decisions(token_network, std::slice::from_ref(&*retry));
                self.run_retries(token_network);
            }
            Response::Match { channel_id } => {
                let node = self.clone();
                tokio::spawn(async move {
                    if let Err(error) = node.join_partner_channel(token_network, channel_id).await {
                        tracing::warn!(%error, channel = %channel_id, "could not join a partner's channel");
                    }
                });
            }
            Response::Settle(at) => self.spawn_settle(token_network, at),
        }
    }

    /// Settles a closed channel when its time comes (SPEC §3.1), in its own task.
    fn spawn_settle(&self, token_network: Address, at: SettleAt) {
        let node = self.clone();
        tokio::spawn(async move {
            if let Err(error) = node.settle_when_possible(token_network, at).await {
                tracing::warn!(%error, channel = %at.channel_id, "could not settle a closed channel");
            }
        });
    }

    /// Runs *open channels* until the manager's retry gate says no more run is due: the
    /// gate was opened by [`ConnectionManager::react`](crate::connection::ConnectionManager::react),
    /// and triggers that arrive during a run fold into one more.
    fn run_retries(&self, token_network: Address) {
        let node = self.clone();
        tokio::spawn(async move {
            loop {
                {
                    let queue = node.queue(token_network);
                    let _turn = queue.lock().await;
                    if let Err(error) = node.open_channels(token_network).await {
                        tracing::warn!(%error, "retry of the connection manager failed");
                    }
                }
                let again = node
                    .with_network_mut(token_network, |network| {
                        let mut manager = network.manager?;
                        let open = network.open_channels();
                        let policy_view = network.policy_view(node.inner.us, &open, U256::MAX);
                        let again = manager.retry_finished(&policy_view);
                        network.manager = Some(manager);
                        again
                    })
                    .flatten();
                match again {
                    Some(retry) => node.record_decisions(token_network, &[retry]),
                    None => return,
                }
            }
        });
    }
}
