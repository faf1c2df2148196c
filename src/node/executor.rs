//! Carrying out the policy's actions, and the leave, on the chain.
//!
//! A join's transactions are all submitted first (one approve for their total, then one
//! open or deposit per partner) and confirmed together, so that the join takes one block
//! plus the confirmation depth, not one round trip per step.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use futures::stream::{FuturesUnordered, StreamExt};
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use super::store::TxOutcome;
use super::transactions::{outcome_of, transaction_for};
use super::view::{ChannelPhase, NetworkState};
use super::{lock, Node, NodeError};
use crate::chain::{Chain, ChainError, PendingTx, Receipt, Transaction};
use crate::connection::{
    close_progress, settle_progress, tokens_needed, Action, ConnectionManager, ConnectionParams,
    Decision, Progress, SettleAt, UniformSampler,
};
use crate::types::{Address, ChannelId, TokenAmount, B256, U256};

impl<C: Chain> Node<C> {
    /// Submits one transaction and waits for it, at most the tx timeout.
    pub(super) async fn send_and_confirm(
        &self,
        transaction: Transaction,
    ) -> Result<Receipt, NodeError> {
        let pending = self.submit(transaction).await?;
        Ok(self.confirm(&pending).await?)
    }

    /// Signs `transaction`, journals it, then hands it to the chain, under the node's
    /// submission lock (a shutdown waits for it). A transaction for the same purpose
    /// already in flight, from this run or one before a restart, is returned instead of
    /// sending a second one.
    pub(super) async fn submit(&self, transaction: Transaction) -> Result<PendingTx, NodeError> {
        let _one_at_a_time = self.inner.submission.lock().await;
        if self.is_shutting_down() {
            return Err(NodeError::ShuttingDown);
        }
        let store = &self.inner.store;
        let purpose = transaction.purpose();
        if let Some(in_flight) = store
            .journal_in_flight(&purpose)
            .map_err(NodeError::store)?
        {
            tracing::info!(%purpose, tx = %in_flight.hash, "already in flight; waiting for it instead of sending again");
            return Ok(in_flight);
        }
        self.ensure_right_chain().await?;
        let signed = self.inner.chain.sign(transaction).await?;
        // Journaled before it leaves: whatever happens next, a restart knows about it.
        store.journal_signed(&signed).map_err(NodeError::store)?;
        let hash = signed.hash;
        match self.inner.chain.send(signed).await {
            Ok(pending) => Ok(pending),
            Err(error) => {
                // An RPC failure or an unreachable chain may hide a transaction that did
                // reach the chain: leave it in the journal, whose reconciliation finds
                // out. Anything else was refused for sure.
                if !matches!(error, ChainError::Rpc(_) | ChainError::Unavailable(_)) {
                    self.resolve(hash, TxOutcome::Dropped, &error.to_string());
                }
                Err(error.into())
            }
        }
    }

    /// Waits for a submitted transaction, at most the tx timeout, and journals how it
    /// ended (a timeout leaves it unresolved: it may still be mined).
    ///
    /// After each `tx_replace_after` without inclusion it is signed again with its nonce
    /// and higher fees, up to the fee cap, and the replacement waited for as well: the
    /// first of them to be mined is the outcome, and the others are journaled as
    /// replaced. Replacements journaled before a restart are waited for too. When the
    /// chain has dropped every one of them, the call fails as dropped, as before: sending
    /// anew is safe, and the caller's next call does it.
    pub(super) async fn confirm(&self, pending: &PendingTx) -> Result<Receipt, ChainError> {
        let timeout = self.inner.config.tx_timeout;
        // Never zero: a zero period would replace in a busy loop.
        let period = self
            .inner
            .config
            .tx_replace_after
            .max(Duration::from_millis(1));
        let deadline = Instant::now() + timeout;
        let mut next_replacement = Instant::now() + period;
        let mut candidates = self
            .inner
            .store
            .journal_alternatives(pending)
            .unwrap_or_default();
        if !candidates.iter().any(|c| c.hash == pending.hash) {
            candidates.push(pending.clone());
        }
        // The one to outbid next: the highest offer so far.
        let mut latest = pending.clone();
        for candidate in &candidates {
            if candidate.fees.max_fee_per_gas > latest.fees.max_fee_per_gas {
                latest = candidate.clone();
            }
        }
        let mut waiting: FuturesUnordered<_> = candidates
            .into_iter()
            .map(|tx| confirm_one(self.inner.chain.clone(), tx))
            .collect();
        let mut warned_at_cap = false;
        let (winner, result) = loop {
            tokio::select! {
                Some((tx, result)) = waiting.next() => match result {
                    // Most likely another transaction of this nonce took its place: the
                    // others tell what happened.
                    Err(ChainError::Dropped { .. }) if !waiting.is_empty() => continue,
                    result => break (tx, result),
                },
                () = tokio::time::sleep_until(next_replacement) => {
                    next_replacement += period;
                    match self.replace(&latest).await {
                        Replacement::Sent(replacement) => {
                            waiting.push(confirm_one(self.inner.chain.clone(), replacement.clone()));
                            latest = replacement;
                        }
                        Replacement::AtCap if !warned_at_cap => {
                            warned_at_cap = true;
                            tracing::warn!(
                                transaction = latest.transaction.name(),
                                tx = %latest.hash,
                                nonce = latest.nonce,
                                max_fee_per_gas = latest.fees.max_fee_per_gas,
                                cap = self.inner.config.max_fee_per_gas,
                                "not mined, and the fee cap (--max-fee-gwei) leaves no room for a replacement; waiting"
                            );
                        }
                        Replacement::AtCap | Replacement::Failed => {}
                    }
                },
                () = tokio::time::sleep_until(deadline) => {
                    let error = ChainError::NotMined {
                        transaction: latest.transaction.name(),
                        hash: latest.hash,
                        timeout,
                    };
                    break (latest, Err(error));
                },
            }
        };
        // An endpoint now serving another chain knows none of our transactions: that is
        // not a drop, and the journal keeps them until the right chain is back.
        let result = match result {
            Err(dropped @ ChainError::Dropped { .. }) => match self.ensure_right_chain().await {
                Ok(()) => Err(dropped),
                Err(wrong) => Err(ChainError::Unavailable(format!(
                    "{} {} cannot be followed: {wrong}",
                    winner.transaction.name(),
                    winner.hash
                ))),
            },
            other => other,
        };
        let others = match &result {
            Ok(receipt) => {
                self.resolve(
                    winner.hash,
                    TxOutcome::Confirmed,
                    &format!("block {}", receipt.block),
                );
                Some(TxOutcome::Replaced)
            }
            Err(error @ ChainError::Reverted { .. }) => {
                self.resolve(winner.hash, TxOutcome::Reverted, &error.to_string());
                Some(TxOutcome::Replaced)
            }
            Err(error @ (ChainError::Dropped { .. } | ChainError::InsufficientEth { .. })) => {
                self.resolve(winner.hash, TxOutcome::Dropped, &error.to_string());
                Some(TxOutcome::Dropped)
            }
            Err(ChainError::NotMined { .. } | ChainError::Rpc(_) | ChainError::Unavailable(_)) => {
                None
            }
        };
        if let Some(outcome) = others {
            // Every other transaction of the nonce: none of them can be mined any more.
            let detail = match outcome {
                TxOutcome::Replaced => {
                    format!("{} of the same nonce was mined instead", winner.hash)
                }
                _ => format!("dropped, as {} of the same nonce", winner.hash),
            };
            for other in self
                .inner
                .store
                .journal_alternatives(&winner)
                .unwrap_or_default()
            {
                self.resolve(other.hash, outcome, &detail);
            }
        }
        result
    }

    /// Signs `stuck` again with higher fees, journals the replacement, and sends it,
    /// under the node's submission lock.
    async fn replace(&self, stuck: &PendingTx) -> Replacement {
        let _one_at_a_time = self.inner.submission.lock().await;
        if self.is_shutting_down() {
            return Replacement::Failed;
        }
        // As for every transaction: nothing is signed for another chain.
        if let Err(error) = self.ensure_right_chain().await {
            tracing::warn!(%error, tx = %stuck.hash, "not replacing: the chain cannot be checked or is not ours");
            return Replacement::Failed;
        }
        let cap = self.inner.config.max_fee_per_gas;
        let signed = match self.inner.chain.replace(stuck, cap).await {
            Ok(Some(signed)) => signed,
            Ok(None) => return Replacement::AtCap,
            Err(error) => {
                tracing::warn!(%error, tx = %stuck.hash, "could not sign a replacement; waiting");
                return Replacement::Failed;
            }
        };
        // Journaled before it leaves, as every transaction: a restart waits for it too.
        if let Err(error) = self.inner.store.journal_replacement(&signed, stuck.hash) {
            tracing::warn!(%error, tx = %stuck.hash, "could not journal a replacement; not sending it");
            return Replacement::Failed;
        }
        let hash = signed.hash;
        let fees = signed.fees;
        match self.inner.chain.send(signed).await {
            Ok(replacement) => {
                tracing::info!(
                    transaction = stuck.transaction.name(),
                    nonce = stuck.nonce,
                    replaced = %stuck.hash,
                    tx = %hash,
                    max_fee_per_gas = fees.max_fee_per_gas,
                    max_priority_fee_per_gas = fees.max_priority_fee_per_gas,
                    "not mined in time: replaced with higher fees"
                );
                crash_point("replacement journaled and sent, old one not yet marked");
                Replacement::Sent(replacement)
            }
            Err(error) => {
                // The one it would replace may just have been mined ("nonce too low"), or
                // the chain wants more: keep waiting for what is out there.
                tracing::warn!(%error, tx = %stuck.hash, "replacement refused; waiting");
                if !matches!(error, ChainError::Rpc(_) | ChainError::Unavailable(_)) {
                    self.resolve(hash, TxOutcome::Dropped, &error.to_string());
                }
                Replacement::Failed
            }
        }
    }

    fn resolve(&self, hash: B256, outcome: TxOutcome, detail: &str) {
        // Failing to record an outcome is not fatal: the entry stays unresolved, and the
        // next start asks the chain again.
        if let Err(error) = self.inner.store.journal_resolve(hash, outcome, detail) {
            tracing::warn!(%error, tx = %hash, "could not record a transaction's outcome");
        }
    }

    /// *Open channels* (SPEC §3, steps 2 to 5) for one token network, with the manager's
    /// current parameters. The caller holds the network's queue.
    pub(super) async fn open_channels(&self, token_network: Address) -> Result<(), NodeError> {
        let Some(token) = self.with_network(token_network, |n| n.token) else {
            return Ok(());
        };
        let balance = self.inner.chain.token_balance(token, self.inner.us).await?;
        let decisions = {
            let view = lock(&self.inner.view);
            let Some(network) = view.network(&token_network) else {
                return Ok(());
            };
            let Some(manager) = network.manager else {
                return Ok(());
            };
            let mut rng = lock(&self.inner.rng);
            self.decide_join(network, &manager, balance.get(), &mut rng)
        };
        self.record_decisions(token_network, &decisions);
        let actions = decisions.iter().filter_map(|d| d.action).collect();
        self.execute(token, token_network, actions).await
    }

    /// *Open channels* as decisions, for `manager` on `network` with our token `balance`:
    /// the one policy call of a join, shared with its plan (`plan.rs`), which passes a copy
    /// of the node's generator so that the join after it chooses alike.
    pub(super) fn decide_join(
        &self,
        network: &NetworkState,
        manager: &ConnectionManager,
        balance: U256,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Decision> {
        let open = network.open_channels();
        let policy_view = network.policy_view(self.inner.us, &open, balance);
        manager.decide_open_channels(&policy_view, &mut UniformSampler(rng))
    }

    /// Deposits into a channel a partner funded, if the manager's rule says so.
    pub(super) async fn join_partner_channel(
        &self,
        token_network: Address,
        channel_id: ChannelId,
    ) -> Result<(), NodeError> {
        let queue = self.queue(token_network);
        let _turn = queue.lock().await;
        let Some(token) = self.with_network(token_network, |n| n.token) else {
            return Ok(());
        };
        let balance = self.inner.chain.token_balance(token, self.inner.us).await?;
        let action = {
            let view = lock(&self.inner.view);
            let Some(network) = view.network(&token_network) else {
                return Ok(());
            };
            let (Some(manager), Some(channel)) =
                (network.manager, network.channels.get(&channel_id))
            else {
                return Ok(());
            };
            if channel.phase != ChannelPhase::Opened {
                return Ok(());
            }
            let open = network.open_channels();
            let Some(this) = open.iter().find(|c| c.channel_id == channel_id) else {
                return Ok(());
            };
            let policy_view = network.policy_view(self.inner.us, &open, balance.get());
            manager.match_partner_deposit(&policy_view, this)
        };
        match action {
            Some(decision) => {
                self.record_decisions(token_network, std::slice::from_ref(&decision));
                let actions = decision.action.into_iter().collect();
                self.execute(token, token_network, actions).await
            }
            None => Ok(()),
        }
    }

    /// Submits the transactions of `actions` (after one approve for their total), then
    /// confirms them together. One partner's failure does not stop the others; the first
    /// failure is returned once all are done.
    async fn execute(
        &self,
        token: Address,
        token_network: Address,
        actions: Vec<Action>,
    ) -> Result<(), NodeError> {
        if actions.is_empty() {
            return Ok(());
        }
        let chain = &self.inner.chain;
        let current_deposit = |partner: &Address| {
            self.with_network(token_network, |n| {
                n.channel_with(partner)
                    .map(|c| c.our_deposit)
                    .unwrap_or_default()
            })
            .unwrap_or_default()
        };
        let needed = tokens_needed(&actions, current_deposit);

        let mut pending = Vec::with_capacity(actions.len() + 1);
        // An allowance that already covers the join (its approve was mined before a
        // restart cut the join short) is not approved again.
        if !needed.is_zero() && chain.allowance(token, self.inner.us, token_network).await? < needed
        {
            let approve = Transaction::Approve {
                token,
                spender: token_network,
                amount: TokenAmount(needed),
            };
            pending.push(self.submit(approve).await?);
        }
        crash_point("join: approve sent, channels not yet");
        let mut errors: Vec<NodeError> = Vec::new();
        for action in &actions {
            match self.submit(transaction_for(token_network, action)).await {
                Ok(tx) => pending.push(tx),
                Err(error) => errors.push(error),
            }
        }
        crash_point("join: every transaction sent, none confirmed");
        let results = join_all(pending.iter().map(|tx| self.confirm(tx))).await;

        let mut last_block = 0;
        let mut lost_races = Vec::new();
        for (tx, result) in pending.iter().zip(results) {
            match result {
                Ok(receipt) => {
                    last_block = last_block.max(receipt.block);
                    log_receipt(self.inner.us, token, tx, &receipt);
                }
                Err(error @ ChainError::Reverted { .. }) if is_open(&tx.transaction) => {
                    // Most likely the partner opened a channel with us at the same time:
                    // once the view has it, deposit into that one instead.
                    tracing::info!(%error, "open reverted; will deposit into the partner's channel if it exists");
                    lost_races.push((tx.transaction.clone(), error));
                }
                Err(error) => {
                    tracing::warn!(token = %token, transaction = tx.transaction.name(), %error, "transaction failed");
                    errors.push(error.into());
                }
            }
        }
        if last_block > 0 {
            self.wait_synced(last_block).await?;
        }
        crash_point("join: every transaction confirmed");
        for (lost, revert) in lost_races {
            if let Err(error) = self
                .deposit_after_lost_race(token, token_network, &lost, revert)
                .await
            {
                errors.push(error);
            }
        }
        match errors.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// After our open reverted, deposits into the channel that now exists with the
    /// partner; the approve of the join already covers the amount. Without such a
    /// channel, the open's own revert (`revert`) is the failure.
    async fn deposit_after_lost_race(
        &self,
        token: Address,
        token_network: Address,
        lost: &Transaction,
        revert: ChainError,
    ) -> Result<(), NodeError> {
        let (partner, deposit) = match lost {
            Transaction::OpenChannelWithDeposit {
                partner,
                total_deposit,
                ..
            } => (*partner, total_deposit.get()),
            Transaction::OpenChannel { partner, .. } => (*partner, U256::ZERO),
            _ => return Ok(()),
        };
        let existing = self
            .with_network(token_network, |n| n.channel_with(&partner).copied())
            .flatten();
        let Some(channel) = existing.filter(|c| c.phase == ChannelPhase::Opened) else {
            return Err(revert.into());
        };
        if channel.our_deposit >= deposit {
            return Ok(());
        }
        let tx = Transaction::SetTotalDeposit {
            token_network,
            channel_id: channel.id,
            partner,
            total_deposit: TokenAmount(deposit),
        };
        let pending = self.submit(tx).await?;
        let receipt = self.confirm(&pending).await?;
        log_receipt(self.inner.us, token, &pending, &receipt);
        self.wait_synced(receipt.block).await
    }

    /// The leave's on-chain part, as the connection manager sequences it: close every
    /// open channel (a channel the partner closed first is progress, not a failure),
    /// then settle every closed one. Returns the partners of the channels it settled.
    pub(super) async fn close_and_settle_all(
        &self,
        token: Address,
        token_network: Address,
    ) -> Result<Vec<Address>, NodeError> {
        let us = self.inner.us;
        let closes: Vec<Decision> = self
            .with_network_mut(token_network, |network| {
                let mut manager = network.manager.unwrap_or_else(|| {
                    ConnectionManager::new(ConnectionParams {
                        initial_channel_target: 0,
                        ..ConnectionParams::with_funds(U256::ZERO)
                    })
                });
                let open = network.open_channels();
                let closes = manager.leave(&network.policy_view(us, &open, U256::ZERO));
                network.manager = Some(manager);
                closes
            })
            .unwrap_or_default();
        self.record_decisions(token_network, &closes);
        let mut pending = Vec::new();
        let mut errors = Vec::new();
        for close in &closes {
            let (Some(channel_id), Some(partner)) = (close.channel_id, close.partner) else {
                continue;
            };
            let close = Transaction::CloseChannel {
                token_network,
                channel_id,
                partner,
            };
            match self.submit(close).await {
                Ok(tx) => pending.push((channel_id, tx)),
                Err(error) => errors.push(error),
            }
        }
        crash_point("leave: closes sent, none confirmed");
        let results = join_all(pending.iter().map(|(_, tx)| self.confirm(tx))).await;
        let mut last_block = 0;
        let mut reverted = Vec::new();
        for ((channel_id, tx), result) in pending.iter().zip(results) {
            match result {
                Ok(receipt) => {
                    last_block = last_block.max(receipt.block);
                    log_receipt(us, token, tx, &receipt);
                }
                Err(error @ ChainError::Reverted { .. }) => reverted.push((*channel_id, error)),
                Err(error) => errors.push(error.into()),
            }
        }
        if !reverted.is_empty() {
            // A close that reverted: most likely the partner closed first, in the same
            // block or just before. The view, once it holds that block, tells.
            last_block = last_block.max(self.inner.chain.latest_block().await?.number);
        }
        if last_block > 0 {
            self.wait_synced(last_block).await?;
        }
        for (channel_id, error) in reverted {
            let status = self
                .with_network(token_network, |n| n.status_of(us, &channel_id))
                .unwrap_or(crate::connection::ChannelStatus::Settled);
            match close_progress(outcome_of(&error), status) {
                Progress::Failed(_) => errors.push(error.into()),
                Progress::Done | Progress::DoneByPartner => {
                    tracing::info!(node = %us, token = %token, channel = %channel_id, "our close reverted: the partner closed the channel first; settling it");
                }
            }
        }
        if let Some(error) = errors.into_iter().next() {
            // Closed channels stay closed: a new DELETE continues from here.
            return Err(error);
        }
        crash_point("leave: closes confirmed, waiting for the settle timeout");

        let closed: Vec<(SettleAt, Address)> = self
            .with_network(token_network, |n| {
                let mut closed: Vec<_> = n
                    .channels
                    .values()
                    .filter_map(|c| Some((n.settle_at(us, &c.id)?, c.partner)))
                    .collect();
                closed.sort_by_key(|(at, _)| at.channel_id);
                closed
            })
            .unwrap_or_default();
        let settles = closed
            .iter()
            .map(|(at, _)| self.settle_when_possible(token_network, *at));
        if let Some(error) = join_all(settles).await.into_iter().find_map(Result::err) {
            return Err(error);
        }
        let partners: Vec<Address> = closed.into_iter().map(|(_, partner)| partner).collect();
        tracing::info!(node = %us, token = %token, partners = ?partners, "left token network: every channel settled");
        Ok(partners)
    }

    /// Waits until the chain's time reaches `at.settle_from`, then settles the channel
    /// if it is still unsettled (SPEC §3.1: the closer as soon as the window opens, the
    /// other participant a grace period later). Succeeds too when the partner settled it
    /// first. One call at a time per channel: a leave and a reaction to the close never
    /// both send a settle.
    pub(super) async fn settle_when_possible(
        &self,
        token_network: Address,
        at: SettleAt,
    ) -> Result<(), NodeError> {
        let channel_id = at.channel_id;
        let turn = Arc::clone(
            lock(&self.inner.settles)
                .entry((token_network, channel_id))
                .or_default(),
        );
        let _turn = turn.lock().await;
        let Some((token, strategy, channel)) = self.with_network(token_network, |n| {
            (
                n.token,
                n.manager
                    .map(|m| m.params().partner_selection)
                    .unwrap_or_default(),
                n.channels.get(&channel_id).copied(),
            )
        }) else {
            return Ok(());
        };
        let Some(channel) = channel else {
            return self.settled(token_network, channel_id); // already settled
        };
        if channel.phase == ChannelPhase::Opened {
            return Ok(());
        }
        let poll = self
            .inner
            .chain
            .poll_interval()
            .max(Duration::from_millis(10));
        loop {
            if !self.has_channel(token_network, channel_id) {
                return self.settled(token_network, channel_id);
            }
            let now = self.inner.chain.latest_block().await?.timestamp;
            if now >= at.settle_from {
                break;
            }
            let remaining = Duration::from_secs(at.settle_from - now);
            tokio::time::sleep(remaining.min(poll.max(Duration::from_millis(200)))).await;
        }
        self.record_decisions(token_network, &[at.decision(channel.partner, strategy)]);
        let settle = Transaction::SettleChannel {
            token_network,
            channel_id,
            partner: channel.partner,
        };
        let result = match self.submit(settle).await {
            Ok(pending) => {
                crash_point("leave: settle sent, not confirmed");
                self.confirm(&pending).await.map_err(NodeError::from)
            }
            Err(error) => Err(error),
        };
        match result {
            Ok(receipt) => {
                tracing::info!(node = %self.inner.us, token = %token, partner = %channel.partner, tx = %receipt.hash, "channel settled");
                self.wait_synced(receipt.block).await?;
                self.settled(token_network, channel_id)
            }
            Err(NodeError::Chain(ref error @ ChainError::Reverted { .. })) => {
                // The partner may have settled it first: fine once the view shows it.
                let outcome = outcome_of(error);
                let head = self.inner.chain.latest_block().await?.number;
                self.wait_synced(head).await?;
                let status = self
                    .with_network(token_network, |n| n.status_of(self.inner.us, &channel_id))
                    .unwrap_or(crate::connection::ChannelStatus::Settled);
                match settle_progress(outcome, status) {
                    Progress::Failed(_) => result.map(|_| ()),
                    Progress::Done | Progress::DoneByPartner => {
                        self.settled(token_network, channel_id)
                    }
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Forgets the settle lock of a channel that is settled.
    fn settled(&self, token_network: Address, channel_id: ChannelId) -> Result<(), NodeError> {
        lock(&self.inner.settles).remove(&(token_network, channel_id));
        Ok(())
    }

    fn has_channel(&self, token_network: Address, channel_id: ChannelId) -> bool {
        self.with_network(token_network, |n| n.channels.contains_key(&channel_id))
            .unwrap_or(false)
    }
}

/// A place where the crash tests kill the node: with `TOKENNET_CRASH_POINT` set to its
/// name, the node logs `crash point reached: <name>` and stops there for good, so that a
/// test can SIGKILL the process at exactly this moment. Without the variable (always, in
/// production) it does nothing.
fn crash_point(name: &str) {
    static POINT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let armed = POINT.get_or_init(|| std::env::var("TOKENNET_CRASH_POINT").ok());
    if armed.as_deref() == Some(name) {
        eprintln!("crash point reached: {name}");
        tracing::warn!(point = name, "crash point reached; waiting to be killed");
        // Blocks this worker thread on purpose: nothing of this node may go on.
        loop {
            std::thread::park();
        }
    }
}

/// What became of an attempt to replace a stuck transaction.
enum Replacement {
    /// Sent: wait for it too.
    Sent(PendingTx),
    /// The fee cap leaves no room for a higher offer.
    AtCap,
    /// Not sent this time (logged); the next period tries again.
    Failed,
}

/// One transaction's confirmation with the transaction it is about, so that several can
/// be awaited together.
async fn confirm_one<C: Chain>(
    chain: C,
    tx: PendingTx,
) -> (PendingTx, Result<Receipt, ChainError>) {
    let result = chain.confirm(&tx).await;
    (tx, result)
}

fn is_open(transaction: &Transaction) -> bool {
    matches!(
        transaction,
        Transaction::OpenChannel { .. } | Transaction::OpenChannelWithDeposit { .. }
    )
}

fn log_receipt(us: Address, token: Address, pending: &PendingTx, receipt: &Receipt) {
    match &pending.transaction {
        Transaction::OpenChannel { partner, .. } => {
            tracing::info!(node = %us, token = %token, partner = %partner, tx = %receipt.hash, channel = ?receipt.channel_id, "channel opened");
        }
        Transaction::OpenChannelWithDeposit {
            partner,
            total_deposit,
            ..
        } => {
            tracing::info!(node = %us, token = %token, partner = %partner, deposit = %total_deposit, tx = %receipt.hash, channel = ?receipt.channel_id, "channel opened with deposit");
        }
        Transaction::SetTotalDeposit {
            partner,
            total_deposit,
            channel_id,
            ..
        } => {
            tracing::info!(node = %us, token = %token, partner = %partner, total_deposit = %total_deposit, channel = %channel_id, tx = %receipt.hash, "deposit");
        }
        Transaction::CloseChannel {
            partner,
            channel_id,
            ..
        } => {
            tracing::info!(node = %us, token = %token, partner = %partner, channel = %channel_id, tx = %receipt.hash, "channel closed");
        }
        other => {
            tracing::debug!(node = %us, token = %token, transaction = other.name(), tx = %receipt.hash, "transaction confirmed");
        }
    }
}
