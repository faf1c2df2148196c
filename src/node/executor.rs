//! Carrying out the policy's actions, and the leave, on the chain.
//!
//! A join's transactions are all submitted first (one approve for their total, then one
//! open or deposit per partner) and confirmed together, so that the join takes one block
//! plus the confirmation depth, not one round trip per step.

use std::time::Duration;

use futures::future::join_all;

use super::view::ChannelPhase;
use super::{lock, Node, NodeError};
use crate::chain::{Chain, ChainError, PendingTx, Receipt, Transaction};
use crate::connection::{tokens_needed, Action};
use crate::types::{Address, ChannelId, TokenAmount, U256};

impl<C: Chain> Node<C> {
    /// Submits one transaction and waits for it, at most the tx timeout.
    pub(super) async fn send_and_confirm(
        &self,
        transaction: Transaction,
    ) -> Result<Receipt, NodeError> {
        let pending = self.inner.chain.submit(transaction).await?;
        Ok(self.confirm(&pending).await?)
    }

    async fn confirm(&self, pending: &PendingTx) -> Result<Receipt, ChainError> {
        let timeout = self.inner.config.tx_timeout;
        match tokio::time::timeout(timeout, self.inner.chain.confirm(pending)).await {
            Ok(result) => result,
            Err(_) => Err(ChainError::NotMined {
                transaction: pending.transaction.name(),
                hash: pending.hash,
                timeout,
            }),
        }
    }

    /// *Open channels* (SPEC §3, steps 2 to 5) for one token network, with the manager's
    /// current parameters. The caller holds the network's queue.
    pub(super) async fn open_channels(&self, token_network: Address) -> Result<(), NodeError> {
        let Some(token) = self.with_network(token_network, |n| n.token) else {
            return Ok(());
        };
        let balance = self.inner.chain.token_balance(token, self.inner.us).await?;
        let actions = {
            let view = lock(&self.inner.view);
            let Some(network) = view.network(&token_network) else {
                return Ok(());
            };
            let Some(manager) = network.manager else {
                return Ok(());
            };
            let open = network.open_channels();
            let policy_view = network.policy_view(self.inner.us, &open, balance.get());
            let mut rng = lock(&self.inner.rng);
            manager.open_channels(&policy_view, &mut *rng)
        };
        self.execute(token, token_network, actions).await
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
            manager.join_partner_channel(&policy_view, this)
        };
        match action {
            Some(action) => self.execute(token, token_network, vec![action]).await,
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
        if !needed.is_zero() {
            let approve = Transaction::Approve {
                token,
                spender: token_network,
                amount: TokenAmount(needed),
            };
            pending.push(chain.submit(approve).await?);
        }
        let mut errors: Vec<ChainError> = Vec::new();
        for action in &actions {
            match chain
                .submit(Transaction::for_action(token_network, action))
                .await
            {
                Ok(tx) => pending.push(tx),
                Err(error) => errors.push(error),
            }
        }
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
                    errors.push(error);
                }
            }
        }
        if last_block > 0 {
            self.wait_synced(last_block).await?;
        }
        for (lost, revert) in lost_races {
            if let Err(error) = self
                .deposit_after_lost_race(token, token_network, &lost, revert)
                .await
            {
                errors.push(error);
            }
        }
        match errors.into_iter().next() {
            Some(error) => Err(error.into()),
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
    ) -> Result<(), ChainError> {
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
            return Err(revert);
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
        let pending = self.inner.chain.submit(tx).await?;
        let receipt = self.confirm(&pending).await?;
        log_receipt(self.inner.us, token, &pending, &receipt);
        self.wait_synced(receipt.block)
            .await
            .map_err(|e| ChainError::Rpc(e.to_string()))
    }

    /// The leave's on-chain part: close every open channel, settle every closed one.
    pub(super) async fn close_and_settle_all(
        &self,
        token: Address,
        token_network: Address,
    ) -> Result<Vec<Address>, NodeError> {
        let open = self
            .with_network(token_network, |n| n.open_channels())
            .unwrap_or_default();
        let mut pending = Vec::new();
        let mut errors = Vec::new();
        for channel in &open {
            let close = Transaction::CloseChannel {
                token_network,
                channel_id: channel.channel_id,
                partner: channel.partner,
            };
            match self.inner.chain.submit(close).await {
                Ok(tx) => pending.push(tx),
                Err(error) => errors.push(error),
            }
        }
        let results = join_all(pending.iter().map(|tx| self.confirm(tx))).await;
        let mut last_block = 0;
        for (tx, result) in pending.iter().zip(results) {
            match result {
                Ok(receipt) => {
                    last_block = last_block.max(receipt.block);
                    log_receipt(self.inner.us, token, tx, &receipt);
                }
                Err(error) => errors.push(error),
            }
        }
        if last_block > 0 {
            self.wait_synced(last_block).await?;
        }
        if let Some(error) = errors.into_iter().next() {
            // Closed channels stay closed: a new DELETE continues from here.
            return Err(error.into());
        }

        let closed: Vec<(ChannelId, Address)> = self
            .with_network(token_network, |n| {
                let mut closed: Vec<_> = n
                    .channels
                    .values()
                    .filter(|c| matches!(c.phase, ChannelPhase::Closed { .. }))
                    .map(|c| (c.id, c.partner))
                    .collect();
                closed.sort();
                closed
            })
            .unwrap_or_default();
        let settles = closed
            .iter()
            .map(|(channel_id, _)| self.settle_when_possible(token_network, *channel_id));
        if let Some(error) = join_all(settles).await.into_iter().find_map(Result::err) {
            return Err(error);
        }
        let partners: Vec<Address> = closed.into_iter().map(|(_, partner)| partner).collect();
        tracing::info!(node = %self.inner.us, token = %token, partners = ?partners, "left token network: every channel settled");
        Ok(partners)
    }

    /// Waits until a closed channel can be settled, then settles it. Succeeds too when
    /// the partner settled it first.
    pub(super) async fn settle_when_possible(
        &self,
        token_network: Address,
        channel_id: ChannelId,
    ) -> Result<(), NodeError> {
        let Some((settle_timeout, channel)) = self.with_network(token_network, |n| {
            (n.settle_timeout, n.channels.get(&channel_id).copied())
        }) else {
            return Ok(());
        };
        let Some(channel) = channel else {
            return Ok(()); // already settled
        };
        let ChannelPhase::Closed { closed_at, .. } = channel.phase else {
            return Ok(());
        };
        let token = self
            .with_network(token_network, |n| n.token)
            .unwrap_or_default();
        let poll = self
            .inner
            .chain
            .poll_interval()
            .max(Duration::from_millis(10));
        loop {
            if !self.has_channel(token_network, channel_id) {
                return Ok(());
            }
            let now = self.inner.chain.latest_block().await?.timestamp;
            if now > closed_at + settle_timeout {
                break;
            }
            let remaining = Duration::from_secs(closed_at + settle_timeout + 1 - now);
            tokio::time::sleep(remaining.min(poll.max(Duration::from_millis(200)))).await;
        }
        let settle = Transaction::SettleChannel {
            token_network,
            channel_id,
            partner: channel.partner,
        };
        let result = self.send_and_confirm(settle).await;
        match result {
            Ok(receipt) => {
                tracing::info!(node = %self.inner.us, token = %token, partner = %channel.partner, tx = %receipt.hash, "channel settled");
                self.wait_synced(receipt.block).await
            }
            Err(NodeError::Chain(ChainError::Reverted { .. })) => {
                // The partner may have settled it first: fine once the view shows it.
                let head = self.inner.chain.latest_block().await?.number;
                self.wait_synced(head).await?;
                if self.has_channel(token_network, channel_id) {
                    result.map(|_| ())
                } else {
                    Ok(())
                }
            }
            Err(error) => Err(error),
        }
    }

    fn has_channel(&self, token_network: Address, channel_id: ChannelId) -> bool {
        self.with_network(token_network, |n| n.channels.contains_key(&channel_id))
            .unwrap_or(false)
    }
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
