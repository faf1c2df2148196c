//! Plans (SPEC §2.8): what a `PUT /connections/<token>` with a given body would do now —
//! partners, deposits, the approve, the transactions, their gas and ETH, the gas reserve
//! and the answer it would give — with nothing signed or sent.
//!
//! A plan runs the join's own checks and the join's own policy call on the node's current
//! view, with a *copy* of the node's partner-choice generator: the node's generator does
//! not move, so that a PUT with the same body right after, with nothing else happening in
//! between, chooses the same partners and deposits the same amounts.

use super::transactions::transaction_for;
use super::{lock, ChainHealth, GasReserveCheck, Node, NodeError};
use crate::chain::gas::GAS;
use crate::chain::{Chain, Transaction};
use crate::connection::strategy::StrategyKind;
use crate::connection::{
    tokens_needed, Action, ConnectionManager, ConnectionParams, Decision, DecisionKind, NetworkView,
};
use crate::types::{Address, TokenAmount, U256};

/// The status a PUT with the planned body would answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WouldAnswer {
    /// 204: the join would go through.
    Done,
    /// 402: our ETH is below the gas reserve; the PUT would refuse before sending.
    GasReserve,
    /// 408: the chain has stopped producing blocks, so the join's transactions would most
    /// likely not be mined within `--tx-timeout`.
    ChainStalled,
}

impl WouldAnswer {
    /// The HTTP status code.
    pub fn status(self) -> u16 {
        match self {
            WouldAnswer::Done => 204,
            WouldAnswer::GasReserve => 402,
            WouldAnswer::ChainStalled => 408,
        }
    }
}

/// One planned step: an open (with a deposit unless zero) or a deposit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedAction {
    /// `open` or `deposit`.
    pub kind: DecisionKind,
    /// The partner.
    pub partner: Address,
    /// Our total deposit in the channel once done.
    pub deposit: U256,
    /// Why, in one sentence, from the policy's numbers.
    pub reason: String,
    /// The policy's action, as the join would execute it.
    pub action: Action,
}

/// What a join with some body would do now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The answer the PUT would give.
    pub would_answer: WouldAnswer,
    /// Why, in one sentence.
    pub reason: String,
    /// The strategy that chose the partners.
    pub partner_selection: StrategyKind,
    /// The opens and deposits, in the order the join sends them (none on a 402).
    pub actions: Vec<PlannedAction>,
    /// The amount of the approve sent first, when the current allowance does not cover
    /// the deposits.
    pub approve: Option<U256>,
    /// Transactions the join would send (the approve included).
    pub transactions: u64,
    /// Their gas, from the gas table of our contracts (`chain::gas`).
    pub gas: u64,
    /// The chain's gas price now, wei.
    pub gas_price: U256,
    /// `gas × gas_price`, wei.
    pub eth_cost: U256,
    /// The gas reserve check the PUT makes (SPEC §4).
    pub gas_reserve: GasReserveCheck,
}

impl<C: Chain> Node<C> {
    /// Plans a join of `token` with `params` (SPEC §2.8): the PUT's checks in the PUT's
    /// order (503 while syncing, 409 for an unregistered token or funds beyond our
    /// balance), then the gas reserve and the policy's choices, sending nothing.
    ///
    /// It does not wait for a join or leave in progress for the token: it answers from
    /// the node's current view, as a GET does.
    pub async fn plan(&self, token: Address, params: ConnectionParams) -> Result<Plan, NodeError> {
        self.ensure_ready()?;
        let token_network = self.require_token_network(token).await?;
        // The view the PUT would decide on: every block up to the head.
        self.catch_up().await?;
        self.check_token_funds(token, token_network, &params)
            .await?;
        let reserve = self.gas_reserve(Some((token_network, params))).await?;
        if reserve.balance < reserve.required {
            let refusal = NodeError::GasReserve {
                required: reserve.required,
                available: reserve.balance,
            };
            return Ok(Plan {
                would_answer: WouldAnswer::GasReserve,
                reason: format!(
                    "{refusal} The balance is {} wei; nothing would be sent.",
                    reserve.balance
                ),
                partner_selection: params.partner_selection,
                actions: Vec::new(),
                approve: None,
                transactions: 0,
                gas: 0,
                gas_price: reserve.gas_price,
                eth_cost: U256::ZERO,
                gas_reserve: reserve,
            });
        }

        let balance = self.inner.chain.token_balance(token, self.inner.us).await?;
        let (decisions, summary) = {
            let mut view = lock(&self.inner.view);
            let Some(network) = view.network_mut(&token_network) else {
                return Err(NodeError::UnregisteredToken { token });
            };
            // The manager as the PUT leaves it: its parameters replaced by the body's.
            let mut manager = network.manager.unwrap_or(ConnectionManager::new(params));
            manager.set_params(params);
            // A copy: the node's own generator must not move (see the module docs).
            let mut rng = lock(&self.inner.rng).clone();
            // The one policy call of a join (`NetworkState::plan_join`), with the strategy of
            // the body's `partner_selection`.
            let decisions = network.plan_join(&manager, self.inner.us, balance.get(), &mut rng);
            let open = network.open_channels();
            let policy_view = network.policy_view(self.inner.us, &open, balance.get());
            (decisions, PolicySummary::of(&manager, &policy_view))
        };
        let actions: Vec<PlannedAction> = decisions.iter().filter_map(planned).collect();
        // Funds held for partners that do not exist yet: said in the plan's reason.
        let held = decisions
            .iter()
            .filter(|d| d.kind == DecisionKind::Wait)
            .filter_map(|d| d.amount)
            .fold(U256::ZERO, |sum, amount| sum.saturating_add(amount));

        let current_deposit = |partner: &Address| {
            self.with_network(token_network, |n| {
                n.channel_with(partner)
                    .map(|c| c.our_deposit)
                    .unwrap_or_default()
            })
            .unwrap_or_default()
        };
        let policy_actions: Vec<Action> = actions.iter().map(|a| a.action).collect();
        let needed = tokens_needed(&policy_actions, current_deposit);
        let approve = if needed.is_zero() {
            None
        } else {
            let allowance = self
                .inner
                .chain
                .allowance(token, self.inner.us, token_network)
                .await?;
            (allowance < needed).then_some(needed)
        };
        let mut transactions: Vec<Transaction> = Vec::with_capacity(actions.len() + 1);
        if let Some(amount) = approve {
            transactions.push(Transaction::Approve {
                token,
                spender: token_network,
                amount: TokenAmount(amount),
            });
        }
        transactions.extend(
            policy_actions
                .iter()
                .map(|action| transaction_for(token_network, action)),
        );
        let gas: u64 = transactions.iter().map(|tx| GAS.gas_of(tx)).sum();
        let eth_cost = reserve.gas_price.saturating_mul(U256::from(gas));

        let (would_answer, reason) = match self.chain_health() {
            ChainHealth::Stalled { head_age, .. } if !transactions.is_empty() => (
                WouldAnswer::ChainStalled,
                format!(
                    "the chain has produced no new block for {}: the join's {} transactions would most likely not be mined within --tx-timeout",
                    humantime::format_duration(std::time::Duration::from_secs(head_age.as_secs())),
                    transactions.len()
                ),
            ),
            _ => (
                WouldAnswer::Done,
                done_reason(&actions, approve, transactions.len(), gas, held, &summary),
            ),
        };
        Ok(Plan {
            would_answer,
            reason,
            partner_selection: params.partner_selection,
            actions,
            approve,
            transactions: transactions.len() as u64,
            gas,
            gas_price: reserve.gas_price,
            eth_cost,
            gas_reserve: reserve,
        })
    }
}

/// The numbers of the policy a plan's reason reports.
#[derive(Clone, Copy, Debug)]
struct PolicySummary {
    funded: usize,
    target: u32,
    funds_remaining: U256,
}

impl PolicySummary {
    fn of(manager: &ConnectionManager, view: &NetworkView<'_>) -> Self {
        Self {
            funded: manager.funded_channels(view),
            target: manager.params().initial_channel_target,
            funds_remaining: manager.funds_remaining(view),
        }
    }
}

/// A decision that acts (`open`, `deposit`), with the reason the decision log would
/// record for it; `None` for the others (`wait`).
fn planned(decision: &Decision) -> Option<PlannedAction> {
    let action = decision.action?;
    let (partner, deposit) = match action {
        Action::Open { partner, deposit } => (partner, deposit),
        Action::Deposit {
            partner,
            total_deposit,
            ..
        } => (partner, total_deposit),
    };
    // The plan speaks of transactions (SPEC §2.8: `open` or `deposit`); whether a deposit
    // matches a partner's channel is in its reason.
    let kind = match action {
        Action::Open { .. } => DecisionKind::Open,
        Action::Deposit { .. } => DecisionKind::Deposit,
    };
    Some(PlannedAction {
        kind,
        partner,
        deposit,
        reason: decision.reason(),
        action,
    })
}

/// The plan's sentence for a join that would answer 204.
fn done_reason(
    actions: &[PlannedAction],
    approve: Option<U256>,
    transactions: usize,
    gas: u64,
    held: U256,
    summary: &PolicySummary,
) -> String {
    let held = if held.is_zero() {
        String::new()
    } else {
        format!("; {held} tokens would wait for participants that do not exist yet")
    };
    if actions.is_empty() {
        return format!(
            "nothing to open or fund now ({} of {} channels funded, {} funds remaining{held}); the PUT would store the parameters and answer 204",
            summary.funded, summary.target, summary.funds_remaining
        );
    }
    let opens = actions
        .iter()
        .filter(|a| a.kind == DecisionKind::Open)
        .count();
    let deposits = actions.len() - opens;
    let total = actions
        .iter()
        .fold(U256::ZERO, |sum, a| sum.saturating_add(a.deposit));
    let approve = match approve {
        Some(amount) => format!("an approve of {amount} and "),
        None => String::new(),
    };
    format!(
        "{} of {} channels funded: would open {opens} channel(s) and deposit into {deposits}, putting {total} tokens in, with {approve}{} channel transaction(s) ({transactions} in all, {gas} gas){held}; then answer 204",
        summary.funded,
        summary.target,
        actions.len()
    )
}
