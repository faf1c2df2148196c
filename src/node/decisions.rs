//! The decision log of the node's connection managers (SPEC §2.8): every decision is
//! logged at INFO in one line, addresses in EIP-55.

use super::Node;
use crate::chain::Chain;
use crate::connection::Decision;
use crate::types::{checksummed, Address};

impl<C: Chain> Node<C> {
    /// Records decisions of the connection manager of `token_network`.
    pub(crate) fn record_decisions(&self, token_network: Address, decisions: &[Decision]) {
        for decision in decisions {
            tracing::info!(
                token_network = %checksummed(&token_network),
                kind = %decision.kind,
                partner = decision.partner.map(|p| checksummed(&p)).unwrap_or_default(),
                amount = decision.amount.map(|a| a.to_string()).unwrap_or_default(),
                strategy = %decision.strategy,
                "decision: {}",
                decision.reason()
            );
        }
    }
}
