//! Watching the chain while the node runs: is the endpoint still the chain the node
//! started on, does it still produce blocks, does it still answer?
//!
//! * **Identity.** The chain's [`Chain::deployment_identity`] (chain id, genesis hash,
//!   registry and its code) is read at the start and checked again on every reconnection,
//!   every [`IDENTITY_CHECK_POLLS`] polls, before a reorganisation is acted on, and before
//!   every transaction is signed. Another chain behind the same endpoint is never taken
//!   for a fork: the node stops sending, says so in `/status` and in an ERROR, and
//!   resumes by itself when the right chain is back.
//! * **Stall.** The time the head last advanced is kept, so that `/status` says `stalled`
//!   from it even while the follower is stuck in a call that does not return.
//! * **Silence.** The time the chain last answered bounds joins and leaves: one whose
//!   chain has not answered for `--tx-timeout` answers 408 (the work itself goes on).

use std::future::Future;
use std::sync::Weak;
use std::time::Duration;

// Tokio's clock, not the system's: tests on paused time see the chain stall and answer
// in the same time as the rest of the node.
use tokio::time::Instant;

use super::{lock, Inner, Node, NodeError};
use crate::chain::Chain;

/// Polls between two identity checks while nothing else calls for one. A few polls: the
/// check costs three reads, and a replaced endpoint is also caught on its first fork and
/// before any transaction is signed.
pub const IDENTITY_CHECK_POLLS: u32 = 5;
/// Default `--chain-stall-timeout` on a real chain: five Ethereum mainnet slots (12 s).
/// A missed slot is common and two in a row happen; five in a row mean the chain or the
/// endpoint has stopped. Chains with faster blocks are covered by the same bound.
pub const DEFAULT_CHAIN_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Default `--chain-stall-timeout` on the embedded chain, in block times
/// (`--sim-block-time`): its blocks come like clockwork, so ten missing ones mean it stopped.
pub const DEFAULT_SIM_STALL_BLOCKS: u32 = 10;

/// What the node knows about the chain's health.
#[derive(Debug)]
pub(super) struct ChainWatch {
    /// The chain the node started on (`None` until first read).
    expected: Option<String>,
    /// What the endpoint serves instead, while it is another chain.
    found: Option<String>,
    /// Newest head seen and when it last advanced.
    head: Option<u64>,
    head_advanced_at: Instant,
    /// When the chain last answered the follower.
    last_answer: Instant,
    /// Whether the stall has been logged.
    stall_logged: bool,
    /// No new head for this long: stalled.
    stall_timeout: Duration,
}

impl ChainWatch {
    /// Takes `identity` as the one the node started on.
    pub(super) fn expect(&mut self, identity: String) {
        self.expected = Some(identity);
    }

    pub(super) fn new(stall_timeout: Duration) -> Self {
        let now = Instant::now();
        Self {
            expected: None,
            found: None,
            head: None,
            head_advanced_at: now,
            last_answer: now,
            stall_logged: false,
            stall_timeout,
        }
    }
}

/// How the chain is doing, as `/status` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainHealth {
    /// It answers and produces blocks.
    Healthy,
    /// The endpoint serves another chain than the one the node started on.
    WrongChain {
        /// What the node started on.
        expected: String,
        /// What the endpoint serves now.
        found: String,
    },
    /// No new head for longer than the stall timeout.
    Stalled {
        /// Time since the head last advanced.
        head_age: Duration,
        /// The newest head seen.
        head: u64,
    },
}

impl<C: Chain> Node<C> {
    /// The chain's health now.
    pub fn chain_health(&self) -> ChainHealth {
        let watch = lock(&self.inner.watch);
        if let (Some(expected), Some(found)) = (&watch.expected, &watch.found) {
            return ChainHealth::WrongChain {
                expected: expected.clone(),
                found: found.clone(),
            };
        }
        let head_age = watch.head_advanced_at.elapsed();
        if head_age > watch.stall_timeout {
            return ChainHealth::Stalled {
                head_age,
                head: watch.head.unwrap_or_default(),
            };
        }
        ChainHealth::Healthy
    }

    /// Sets the stall timeout (`--chain-stall-timeout`).
    pub fn set_chain_stall_timeout(&self, timeout: Duration) {
        lock(&self.inner.watch).stall_timeout = timeout;
    }

    /// The refusal of a node whose endpoint serves another chain, if it does.
    pub(super) fn wrong_chain(&self) -> Option<NodeError> {
        match self.chain_health() {
            ChainHealth::WrongChain { expected, found } => {
                Some(NodeError::WrongChain { expected, found })
            }
            _ => None,
        }
    }

    /// Reads the chain's identity and compares it with the one the node started on (the
    /// first one read, if none was yet). Returns whether it is the same.
    pub(super) async fn check_identity(&self) -> Result<bool, NodeError> {
        let found = self.inner.chain.deployment_identity().await?;
        Ok(self.record_identity(found))
    }

    fn record_identity(&self, found: String) -> bool {
        let mut watch = lock(&self.inner.watch);
        let Some(expected) = watch.expected.clone() else {
            watch.expected = Some(found);
            return true;
        };
        if expected == found {
            if let Some(other) = watch.found.take() {
                tracing::info!(chain = %expected, other = %other, "the chain the node started on is back; following and sending again");
            }
            return true;
        }
        if watch.found.as_ref() != Some(&found) {
            tracing::error!(
                expected = %expected,
                found = %found,
                "the endpoint serves another chain than the one the node started on: sending nothing and keeping the view as it is until the right chain is back"
            );
        }
        watch.found = Some(found);
        false
    }

    /// Records an answer of the chain with its head.
    pub(super) fn note_head(&self, head: u64) {
        let mut watch = lock(&self.inner.watch);
        let now = Instant::now();
        watch.last_answer = now;
        if watch.head.is_none_or(|seen| head > seen) {
            watch.head = Some(head);
            watch.head_advanced_at = now;
        }
    }

    /// Runs `work`, the body of a join or leave, and answers [`NodeError::ChainSilent`]
    /// once the chain has not answered for `--tx-timeout` while it waits (counted from
    /// the start at the earliest). `work` runs in its own task and goes on.
    pub(super) async fn bounded<T: Send + 'static>(
        &self,
        what: &'static str,
        work: impl Future<Output = Result<T, NodeError>> + Send + 'static,
    ) -> Result<T, NodeError> {
        let timeout = self.inner.config.tx_timeout;
        let started = Instant::now();
        let poll = self
            .inner
            .chain
            .poll_interval()
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        let silent = async {
            loop {
                tokio::time::sleep(poll).await;
                let last_answer = lock(&self.inner.watch).last_answer.max(started);
                if last_answer.elapsed() >= timeout {
                    return;
                }
            }
        };
        tokio::select! {
            result = super::run_to_completion(work) => result,
            () = silent => Err(NodeError::ChainSilent { what, timeout }),
        }
    }
}

/// Starts the task that logs when the chain stalls (WARN, once) and when it moves again
/// (INFO), apart from the follower, which may be stuck in a call to the stalled chain.
pub(super) fn spawn_stall_logger<C: Chain>(inner: Weak<Inner<C>>, interval: Duration) {
    let interval = interval.clamp(Duration::from_millis(10), Duration::from_secs(1));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let Some(strong) = inner.upgrade() else {
                return;
            };
            let node = Node { inner: strong };
            let health = node.chain_health();
            let mut watch = lock(&node.inner.watch);
            match health {
                ChainHealth::Stalled { head_age, head } if !watch.stall_logged => {
                    watch.stall_logged = true;
                    tracing::warn!(
                        head,
                        head_age = %humantime::format_duration(round(head_age)),
                        stall_timeout = %humantime::format_duration(watch.stall_timeout),
                        "the chain has stalled: no new block for longer than --chain-stall-timeout"
                    );
                }
                ChainHealth::Healthy if watch.stall_logged => {
                    watch.stall_logged = false;
                    tracing::info!(
                        head = watch.head.unwrap_or_default(),
                        "the chain produces blocks again"
                    );
                }
                _ => {}
            }
        }
    });
}

fn round(duration: Duration) -> Duration {
    Duration::from_secs(duration.as_secs())
}
