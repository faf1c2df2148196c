//! The decision log of the node's connection managers (SPEC §2.8): every decision is
//! logged at INFO in one line, addresses in EIP-55, and stored with the state (see
//! [`super::store::DecisionRecord`]), from where `GET /connections/<token>/decisions`
//! serves it.

use std::time::SystemTime;

use super::store::DecisionRecord;
use super::{Node, NodeError};
use crate::chain::Chain;
use crate::connection::Decision;
use crate::types::{checksummed, Address};

impl<C: Chain> Node<C> {
    /// Records decisions of the connection manager of `token_network`: one INFO line
    /// each, and a row each in the state database. The runtime calls it for every
    /// decision; it is public for tools and tests.
    ///
    /// A database failure is logged and goes no further: the decisions were made and
    /// acted on whether or not their record is written, so the join or leave that made
    /// them must not fail because of it.
    pub fn record_decisions(&self, token_network: Address, decisions: &[Decision]) {
        if decisions.is_empty() {
            return;
        }
        for decision in decisions {
            tracing::info!(
                token_network = %checksummed(&token_network),
                kind = %decision.kind,
                partner = %decision.partner.map(|p| checksummed(&p)).unwrap_or_default(),
                channel = %decision.channel_id.map(|id| id.to_string()).unwrap_or_default(),
                amount = %decision.amount.map(|a| a.to_string()).unwrap_or_default(),
                strategy = %decision.strategy,
                "decision: {}",
                decision.reason()
            );
        }
        let block = self.inner.sync.borrow().processed;
        if let Err(error) =
            self.inner
                .store
                .record_decisions(token_network, SystemTime::now(), block, decisions)
        {
            tracing::error!(
                %error,
                token_network = %checksummed(&token_network),
                decisions = decisions.len(),
                "decisions not stored"
            );
        }
    }

    /// The recorded decisions of the token network of `token`, newest first: at most
    /// `limit`, and only those older than the decision `before` (its id) when given.
    /// A token without a token network has none: [`NodeError::NoTokenNetwork`].
    pub fn decisions(
        &self,
        token: Address,
        limit: u64,
        before: Option<u64>,
    ) -> Result<Vec<DecisionRecord>, NodeError> {
        let token_network = self
            .token_network(&token)
            .ok_or(NodeError::NoTokenNetwork { token })?;
        self.inner
            .store
            .decisions(token_network, limit, before)
            .map_err(NodeError::store)
    }
}
