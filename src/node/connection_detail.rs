//! One connection as `GET /api/v1/connections/<token>` reports it (SPEC §2.8): its
//! stored parameters and state, with our channels as the view has them now.

use super::store::ConnectionState;
use super::{ChannelPhase, Node, NodeError};
use crate::chain::Chain;
use crate::connection::ConnectionParams;
use crate::types::{Address, U256};

/// A joined token network: the parameters of its last PUT, where its manager is, and our
/// open channels there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionDetail {
    /// The token.
    pub token: Address,
    /// The parameters of the last PUT (or of the manager a DELETE left with).
    pub params: ConnectionParams,
    /// Joining (a PUT is at work), joined, or leaving (a DELETE set it).
    pub state: ConnectionState,
    /// Sum of our deposits over our open channels in the token network.
    pub sum_deposits: U256,
    /// Number of our open channels in the token network.
    pub channels: u64,
}

impl<C: Chain> Node<C> {
    /// The connection of `token`, or [`NodeError::NotJoined`] when it was never joined.
    ///
    /// The parameters and state come from the store, which every PUT and DELETE writes
    /// before it acts, so that a restart with `--datadir` reports the same; the channels
    /// come from the view. Never waits for a join or leave in progress.
    pub fn connection(&self, token: Address) -> Result<ConnectionDetail, NodeError> {
        let token_network = self
            .token_network(&token)
            .ok_or(NodeError::NotJoined { token })?;
        let stored = self
            .inner
            .store
            .connection(token_network)
            .map_err(NodeError::store)?
            .ok_or(NodeError::NotJoined { token })?;
        let (sum_deposits, channels) = self
            .with_network(token_network, |network| {
                let open = network
                    .channels
                    .values()
                    .filter(|c| c.phase == ChannelPhase::Opened)
                    .count() as u64;
                (network.sum_open_deposits(), open)
            })
            .unwrap_or_default();
        Ok(ConnectionDetail {
            token,
            params: stored.params,
            state: stored.state,
            sum_deposits,
            channels,
        })
    }
}
