//! From the connection manager's actions to transactions: the mapping lives on the
//! node's side, so that `crate::chain` knows nothing of the connection manager. The
//! simulator imports it too, and so sends what the node sends.

use crate::chain::{ChainError, Transaction};
use crate::connection::{Action, Outcome};
use crate::types::{Address, TokenAmount};

/// The transaction that carries out a policy action in `token_network`: an open (with a
/// deposit unless it is zero) or a deposit.
pub fn transaction_for(token_network: Address, action: &Action) -> Transaction {
    match *action {
        Action::Open { partner, deposit } if deposit.is_zero() => Transaction::OpenChannel {
            token_network,
            partner,
        },
        Action::Open { partner, deposit } => Transaction::OpenChannelWithDeposit {
            token_network,
            partner,
            total_deposit: TokenAmount(deposit),
        },
        Action::Deposit {
            partner,
            channel_id,
            total_deposit,
        } => Transaction::SetTotalDeposit {
            token_network,
            channel_id,
            partner,
            total_deposit: TokenAmount(total_deposit),
        },
    }
}

/// How a transaction ended, as the connection manager needs to know it.
pub(crate) fn outcome_of(error: &ChainError) -> Outcome {
    match error {
        ChainError::Reverted { .. } => Outcome::Reverted,
        ChainError::InsufficientEth { .. } => Outcome::NoEth,
        ChainError::NotMined { .. } => Outcome::TimedOut,
        ChainError::Dropped { .. } => Outcome::Dropped,
        ChainError::Rpc(_) | ChainError::Unavailable(_) => Outcome::Unknown,
    }
}
