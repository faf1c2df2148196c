//! What can go wrong in the node, as data: the API maps each variant to a status code in
//! one place (`api::error`).

use crate::chain::ChainError;
use crate::types::{Address, U256};

impl NodeError {
    /// A state database failure, as a node error. A database closed by a shutdown is
    /// no failure of the request: it is [`NodeError::ShuttingDown`] (503), not a
    /// database error (500).
    pub fn store(error: super::store::StoreError) -> Self {
        match error {
            super::store::StoreError::Closed => NodeError::ShuttingDown,
            error => NodeError::Store(error.to_string()),
        }
    }
}

/// Why a node operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// The token has no token network on this chain.
    #[error("Token {token} is not registered; register it with PUT /api/v1/tokens/{token}")]
    UnregisteredToken {
        /// The token, checksummed in the message.
        token: Address,
    },
    /// The token already has a token network.
    #[error("Token {token} is already registered")]
    AlreadyRegistered {
        /// The token.
        token: Address,
    },
    /// `funds` is more than we have of the token.
    #[error(
        "Insufficient balance for token {token}: funds {funds} exceed the {available} available"
    )]
    InsufficientTokenBalance {
        /// The token.
        token: Address,
        /// What was asked for.
        funds: U256,
        /// Our balance plus what we already have in open channels of this token.
        available: U256,
    },
    /// Our ETH does not cover the gas reserve (SPEC §4).
    #[error("The account balance is below the estimated amount necessary to finish the lifecycles of all active channels. A balance of at least {required} wei is required.")]
    GasReserve {
        /// The reserve.
        required: U256,
        /// Our balance.
        available: U256,
    },
    /// No such channel.
    #[error("Channel with partner {partner} for token {token} not found")]
    NoSuchChannel {
        /// The token.
        token: Address,
        /// The partner.
        partner: Address,
    },
    /// The token has no token network (that the node has seen): nothing to read of it.
    #[error("No token network for token {token}")]
    NoTokenNetwork {
        /// The token.
        token: Address,
    },
    /// The token has no connection: it was never joined (`GET /connections/<token>`).
    #[error("Token {token} is not joined; join it with PUT /api/v1/connections/{token}")]
    NotJoined {
        /// The token.
        token: Address,
    },
    /// The node is still catching up with the chain.
    #[error("The node is still syncing with the chain ({blocks_to_sync} blocks to go); try again shortly")]
    Syncing {
        /// Blocks left.
        blocks_to_sync: u64,
    },
    /// The node is shutting down and takes no new work.
    #[error("The node is shutting down; try again once it has restarted")]
    ShuttingDown,
    /// The endpoint serves another chain (or deployment) than the one the node started
    /// on: the node sends nothing until the right chain is back.
    #[error("The chain endpoint now serves another chain than the one this node started on (expected {expected}; found {found}); the node sends nothing until the right chain is back")]
    WrongChain {
        /// What the node started on.
        expected: String,
        /// What the endpoint serves now.
        found: String,
    },
    /// The chain has not answered for the whole `--tx-timeout` while a join, leave,
    /// registration or mint waited on it. The work goes on if the chain answers again.
    #[error("The chain has not answered for {} (--tx-timeout); the {what} goes on if it answers again", humantime::format_duration(*timeout))]
    ChainSilent {
        /// `join`, `leave`, `registration` or `mint`.
        what: &'static str,
        /// The `--tx-timeout`.
        timeout: std::time::Duration,
    },
    /// The node did not see a block its work waits for (the block of a mined
    /// transaction) within `--tx-timeout`: the chain's events could not be read in time.
    #[error("The node did not see block {block} of the chain within {} (--tx-timeout); try again shortly", humantime::format_duration(*timeout))]
    NotSeen {
        /// The block waited for.
        block: u64,
        /// The `--tx-timeout`.
        timeout: std::time::Duration,
    },
    /// The state database failed.
    #[error("state database: {0}")]
    Store(String),
    /// A bug: a task of the node failed unexpectedly. The node keeps running.
    #[error("internal error: {0}")]
    Internal(String),
    /// A chain call or transaction failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_closed_by_a_shutdown_is_shutting_down_not_a_database_error() {
        use super::super::store::StoreError;
        assert_eq!(
            NodeError::store(StoreError::Closed),
            NodeError::ShuttingDown
        );
    }
}
