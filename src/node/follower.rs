//! Following the chain: poll for new confirmed blocks, apply their events to the view,
//! and start the reactions the events call for.

use std::sync::Weak;
use std::time::Duration;

use super::view::Reaction;
use super::{lock, Inner, Node, SyncState};
use crate::chain::{Chain, ChainError};
use crate::types::U256;

/// Longest wait between two polls after repeated failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Most blocks asked for in one `events` call, so that a long catch-up is done in steps a
/// JSON-RPC endpoint accepts.
const MAX_BLOCKS_PER_POLL: u64 = 10_000;

/// Starts the task that follows the chain for as long as the node exists.
pub(super) fn spawn<C: Chain>(inner: Weak<Inner<C>>) {
    tokio::spawn(async move {
        let mut next_block = 0u64;
        let mut failures = 0u32;
        loop {
            let Some(strong) = inner.upgrade() else {
                return;
            };
            let node = Node { inner: strong };
            let interval = node.inner.chain.poll_interval();
            let wait = match node.poll_once(&mut next_block).await {
                Ok(caught_up) => {
                    failures = 0;
                    if caught_up {
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
    /// range), applies them and starts the reactions. Returns whether it caught up.
    async fn poll_once(&self, next_block: &mut u64) -> Result<bool, ChainError> {
        let head = self.inner.chain.latest_block().await?.number;
        self.inner.sync.send_modify(|state| state.head = head);
        if head < *next_block {
            self.mark_processed(head.max(next_block.saturating_sub(1)), true);
            return Ok(true);
        }
        let to = head.min(*next_block + MAX_BLOCKS_PER_POLL - 1);
        let events = self.inner.chain.events(*next_block, to).await?;
        let mut reactions = Vec::new();
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
        for reaction in reactions {
            self.react(reaction);
        }
        Ok(caught_up)
    }

    fn mark_processed(&self, block: u64, caught_up: bool) {
        self.inner.sync.send_modify(|state: &mut SyncState| {
            state.processed = state.processed.max(block);
            state.ready |= caught_up;
        });
    }

    fn react(&self, reaction: Reaction) {
        match reaction {
            Reaction::NewChannel { token_network } => self.trigger_retry(token_network),
            Reaction::PartnerDeposit {
                token_network,
                channel_id,
            } => {
                let node = self.clone();
                tokio::spawn(async move {
                    if let Err(error) = node.join_partner_channel(token_network, channel_id).await {
                        tracing::warn!(%error, channel = %channel_id, "could not join a partner's channel");
                    }
                });
            }
            Reaction::ClosedByPartner {
                token_network,
                channel_id,
            } => {
                let node = self.clone();
                tokio::spawn(async move {
                    if let Err(error) = node.settle_when_possible(token_network, channel_id).await {
                        tracing::warn!(%error, channel = %channel_id, "could not settle a channel the partner closed");
                    }
                });
            }
        }
    }

    /// Runs *open channels* again if the manager wants it, coalescing triggers.
    fn trigger_retry(&self, token_network: crate::types::Address) {
        let start = {
            let mut view = lock(&self.inner.view);
            let Some(network) = view.network_mut(&token_network) else {
                return;
            };
            let Some(manager) = network.manager else {
                return;
            };
            let open = network.open_channels();
            // The token balance is checked by the run itself; here only whether a run
            // could be worth it.
            let policy_view = network.policy_view(self.inner.us, &open, U256::MAX);
            manager.wants_retry(&policy_view) && network.retry.trigger()
        };
        if !start {
            return;
        }
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
                    .with_network_mut(token_network, |network| network.retry.finish())
                    .unwrap_or(false);
                if !again {
                    return;
                }
            }
        });
    }
}
