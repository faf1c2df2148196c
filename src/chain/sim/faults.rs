//! Faults a test can inject into the simulated chain, one rule at a time.

use crate::chain::Transaction;
use crate::types::Address;

/// What goes wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The transaction is accepted but never mined (a caller's timeout gives 408). It
    /// stays in the mempool until a replacement ([`crate::chain::Chain::replace`]) takes
    /// its place; the replacement is a transaction of its own, hit only by a rule with
    /// calls left.
    NeverMine,
    /// The transaction is mined but reverts with this reason.
    Revert(String),
    /// The call fails as if the JSON-RPC endpoint had failed, with this message.
    RpcFailure(String),
}

/// A fault and the calls it hits: the next `remaining` matching ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRule {
    /// What goes wrong.
    pub fault: Fault,
    /// Only calls made by this account (any account if `None`).
    pub account: Option<Address>,
    /// Only transactions of this kind, by [`Transaction::name`] (any if `None`). Read calls
    /// have no kind: only rules without one hit them.
    pub transaction: Option<&'static str>,
    /// How many more calls it hits.
    pub remaining: usize,
}

impl FaultRule {
    /// A rule that hits the next call or transaction of any account once.
    pub fn once(fault: Fault) -> Self {
        Self {
            fault,
            account: None,
            transaction: None,
            remaining: 1,
        }
    }

    /// Restricts the rule to one account.
    pub fn for_account(mut self, account: Address) -> Self {
        self.account = Some(account);
        self
    }

    /// Restricts the rule to one kind of transaction, such as `"openChannelWithDeposit"`.
    pub fn for_transaction(mut self, name: &'static str) -> Self {
        self.transaction = Some(name);
        self
    }

    /// Makes the rule hit `times` calls instead of one.
    pub fn times(mut self, times: usize) -> Self {
        self.remaining = times;
        self
    }

    pub(super) fn matches(&self, account: Address, transaction: Option<&Transaction>) -> bool {
        if self.remaining == 0 || self.account.is_some_and(|only| only != account) {
            return false;
        }
        let is_transaction_fault = matches!(self.fault, Fault::NeverMine | Fault::Revert(_));
        match (transaction, self.transaction) {
            (Some(tx), Some(name)) => tx.name() == name,
            (Some(_), None) => true,
            // Reads can only fail the RPC way.
            (None, None) => !is_transaction_fault,
            (None, Some(_)) => false,
        }
    }
}
