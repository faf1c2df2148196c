//! A join the node refused (402, 408, 409) is a decision too (SPEC §2.8: `refused`),
//! recorded with the refusal's message, so that the decision log says why a join did
//! nothing.

use super::{Node, NodeError};
use crate::chain::{Chain, ChainError};
use crate::connection::{ConnectionParams, Decision, DecisionKind};
use crate::types::Address;

/// The status a join answers with `error`, if it is a refusal of the join itself: 402
/// (gas reserve, ETH), 408 (the chain too slow), 409 (the token balance). Failures of
/// the node (500, 503) and unknown tokens (no token network to record it in) are not.
fn refusal_status(error: &NodeError) -> Option<u16> {
    match error {
        NodeError::GasReserve { .. } | NodeError::Chain(ChainError::InsufficientEth { .. }) => {
            Some(402)
        }
        NodeError::ChainSilent { .. }
        | NodeError::NotSeen { .. }
        | NodeError::Chain(ChainError::NotMined { .. }) => Some(408),
        NodeError::InsufficientTokenBalance { .. } => Some(409),
        _ => None,
    }
}

impl<C: Chain> Node<C> {
    /// Records a `refused` decision for a join of `token` with `params` that failed
    /// with `error`, if that failure is a refusal.
    pub(super) fn record_refusal(
        &self,
        token: Address,
        params: &ConnectionParams,
        error: &NodeError,
    ) {
        let Some(status) = refusal_status(error) else {
            return;
        };
        let Some(token_network) = self.token_network(&token) else {
            return;
        };
        let mut decision = Decision::new(DecisionKind::Refused, params.partner_selection);
        decision.amount = Some(params.funds);
        decision.inputs.funds = Some(params.funds);
        decision.inputs.initial_channel_target = Some(params.initial_channel_target);
        decision.inputs.joinable_funds_target = Some(params.joinable_funds_target);
        decision.detail = Some(format!("answered {status}: {error}"));
        self.record_decisions(token_network, &[decision]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::U256;

    #[test]
    fn refusals_are_the_402_408_and_409_of_a_join_and_nothing_else() {
        let gas = NodeError::GasReserve {
            required: U256::from(2),
            available: U256::from(1),
        };
        assert_eq!(refusal_status(&gas), Some(402));
        let balance = NodeError::InsufficientTokenBalance {
            token: Address::ZERO,
            funds: U256::from(2),
            available: U256::from(1),
        };
        assert_eq!(refusal_status(&balance), Some(409));
        let silent = NodeError::NotSeen {
            block: 1,
            timeout: std::time::Duration::from_secs(1),
        };
        assert_eq!(refusal_status(&silent), Some(408));
        assert_eq!(refusal_status(&NodeError::Internal("x".into())), None);
        assert_eq!(refusal_status(&NodeError::ShuttingDown), None);
    }
}
