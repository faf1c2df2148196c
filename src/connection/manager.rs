//! The connection manager of one token network: its parameters, whether it is leaving,
//! its retry gate, and the quantities every rule of SPEC §3 is written in.
//!
//! The rules themselves live beside it, one idea per file: [`super::open`] (open
//! channels, match a partner's deposit), [`super::react`] (what a chain event means),
//! [`super::leave`] (close, then settle).

use super::RetryGate;
use super::{
    deposited_in, funded_in, others_in, ConnectionParams, Decision, DecisionInputs, DecisionKind,
    NetworkView,
};
use crate::types::U256;

/// The connection manager of one token network, as a state machine without I/O: chain
/// events ([`super::Reaction`]) and transaction outcomes ([`super::Outcome`]) go in,
/// [`Decision`]s come out. The node and the simulator drive this one type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionManager {
    pub(super) params: ConnectionParams,
    pub(super) leaving: bool,
    /// Coalescing of the retries of *open channels* (SPEC §3, Retry).
    pub(super) retry: RetryGate,
}

impl ConnectionManager {
    /// A manager joined with `params`.
    pub fn new(params: ConnectionParams) -> Self {
        Self {
            params,
            leaving: false,
            retry: RetryGate::Idle,
        }
    }

    /// The parameters of the last join.
    pub fn params(&self) -> &ConnectionParams {
        &self.params
    }

    /// Replaces the parameters (a repeated PUT). Also ends a leave: a PUT after a DELETE
    /// is a new join. A retry in progress stays in progress.
    pub fn set_params(&mut self, params: ConnectionParams) {
        self.params = params;
        self.leaving = false;
    }

    /// Whether a DELETE put this manager into the leaving state. (A PUT with target 0 is
    /// not leaving: it still joins channels others open.)
    pub fn is_leaving(&self) -> bool {
        self.leaving
    }

    /// Enters the leaving state: the manager opens and funds nothing more.
    pub fn start_leaving(&mut self) {
        self.leaving = true;
    }

    /// The state of the retries.
    pub fn retry_gate(&self) -> RetryGate {
        self.retry
    }

    /// Our deposit per chosen partner.
    pub fn per_partner(&self) -> U256 {
        self.params.per_partner()
    }

    /// `min(funds − Σ our deposits in open channels, token balance)`.
    pub fn funds_remaining(&self, view: &NetworkView<'_>) -> U256 {
        let deposited = match view.totals {
            Some(totals) => totals.deposited,
            None => deposited_in(view.our_channels),
        };
        self.params
            .funds
            .saturating_sub(deposited)
            .min(view.token_balance)
    }

    /// Our channels, bootstrap excluded, whose deposit reaches the per-partner share.
    pub fn funded_channels(&self, view: &NetworkView<'_>) -> usize {
        let per_partner = self.per_partner();
        match view.totals {
            Some(totals) if totals.funded_at == per_partner => totals.funded,
            _ => funded_in(view.our_channels, per_partner),
        }
    }

    /// How many channels a join would still open: the target minus funded channels, at
    /// least one while the network has nobody but us (the bootstrap channel). For the gas
    /// reserve.
    pub fn channels_to_open(&self, view: &NetworkView<'_>) -> u64 {
        if self.leaving {
            return 0;
        }
        let missing = (self.params.initial_channel_target as usize)
            .saturating_sub(self.funded_channels(view)) as u64;
        if others_in(view) == 0 {
            missing.max(1)
        } else {
            missing
        }
    }

    /// Whether a new channel in the network is a reason to run *open channels* again:
    /// funds left, not leaving, fewer funded channels than the target.
    pub fn wants_retry(&self, view: &NetworkView<'_>) -> bool {
        !self.leaving
            && self.params.initial_channel_target > 0
            && self.funded_channels(view) < self.params.initial_channel_target as usize
            && !self.funds_remaining(view).is_zero()
    }

    /// A decision of `kind` with this manager's strategy and the join's parameters among
    /// its inputs (the numbers every amount is computed from).
    pub(super) fn decision(&self, kind: DecisionKind) -> Decision {
        let mut decision = Decision::new(kind, self.params.partner_selection);
        decision.inputs = DecisionInputs {
            funds: Some(self.params.funds),
            initial_channel_target: Some(self.params.initial_channel_target),
            joinable_funds_target: Some(self.params.joinable_funds_target),
            per_partner: Some(self.per_partner()),
            ..DecisionInputs::default()
        };
        decision
    }
}
