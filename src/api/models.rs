//! The JSON shapes of responses (SPEC §2).

use serde::Serialize;

use crate::node::{
    ChannelSummary, ConnectionDetail, ConnectionSummary, Plan, DEFAULT_REVEAL_TIMEOUT,
};
use crate::types::{checksummed, Address, TokenAmount};

/// A value of the `GET /connections` object.
#[derive(Debug, Serialize)]
pub struct ConnectionEntry {
    /// `funds` of the last successful PUT.
    pub funds: TokenAmount,
    /// Sum of our deposits over our open channels.
    pub sum_deposits: TokenAmount,
    /// Number of our open channels.
    pub channels: u64,
}

impl From<&ConnectionSummary> for ConnectionEntry {
    fn from(summary: &ConnectionSummary) -> Self {
        Self {
            funds: TokenAmount(summary.funds),
            sum_deposits: TokenAmount(summary.sum_deposits),
            channels: summary.channels,
        }
    }
}

/// A channel object.
#[derive(Debug, Serialize)]
pub struct ChannelObject {
    /// The token network, checksummed.
    pub token_network_address: String,
    /// The token, checksummed.
    pub token_address: String,
    /// The partner, checksummed.
    pub partner_address: String,
    /// The channel identifier.
    pub channel_identifier: u64,
    /// `opened` or `closed` (settled channels are not listed).
    pub state: &'static str,
    /// Our total deposit.
    pub total_deposit: TokenAmount,
    /// The partner's total deposit.
    pub partner_total_deposit: TokenAmount,
    /// Our deposit minus withdrawals plus or minus transfers (no payments: the deposit).
    pub balance: TokenAmount,
    /// What we have withdrawn.
    pub total_withdraw: TokenAmount,
    /// Settle timeout, seconds.
    pub settle_timeout: u64,
    /// Reveal timeout.
    pub reveal_timeout: u64,
}

impl From<&ChannelSummary> for ChannelObject {
    fn from(summary: &ChannelSummary) -> Self {
        let channel = &summary.channel;
        Self {
            token_network_address: checksummed(&summary.token_network),
            token_address: checksummed(&summary.token),
            partner_address: checksummed(&channel.partner),
            channel_identifier: channel.id.0,
            state: channel.phase.as_str(),
            total_deposit: TokenAmount(channel.our_deposit),
            partner_total_deposit: TokenAmount(channel.partner_deposit),
            balance: TokenAmount(channel.our_deposit),
            total_withdraw: TokenAmount::ZERO,
            settle_timeout: summary.settle_timeout,
            reveal_timeout: DEFAULT_REVEAL_TIMEOUT,
        }
    }
}

/// An entry of `GET /tokens/<token>/partners`.
#[derive(Debug, Serialize)]
pub struct PartnerEntry {
    /// The partner, checksummed.
    pub partner_address: String,
    /// The path of the channel resource.
    pub channel: String,
}

impl PartnerEntry {
    /// The entry for our channel with `partner` in the network of `token`.
    pub fn new(token: &Address, partner: &Address) -> Self {
        Self {
            partner_address: checksummed(partner),
            channel: format!(
                "/api/v1/channels/{}/{}",
                checksummed(token),
                checksummed(partner)
            ),
        }
    }
}

/// `GET /connections/<token>` (SPEC §2.8).
#[derive(Debug, Serialize)]
pub struct ConnectionObject {
    /// `funds` of the last PUT.
    pub funds: TokenAmount,
    /// `initial_channel_target` of the last PUT.
    pub initial_channel_target: u32,
    /// `joinable_funds_target` of the last PUT.
    pub joinable_funds_target: f64,
    /// The strategy that chooses new partners.
    pub partner_selection: &'static str,
    /// `joining`, `joined` or `leaving`.
    pub state: &'static str,
    /// Sum of our deposits over our open channels.
    pub sum_deposits: TokenAmount,
    /// Number of our open channels.
    pub channels: u64,
}

impl From<&ConnectionDetail> for ConnectionObject {
    fn from(detail: &ConnectionDetail) -> Self {
        Self {
            funds: TokenAmount(detail.params.funds),
            initial_channel_target: detail.params.initial_channel_target,
            joinable_funds_target: detail.params.joinable_funds_target.as_f64(),
            partner_selection: detail.params.partner_selection.name(),
            state: detail.state.as_str(),
            sum_deposits: TokenAmount(detail.sum_deposits),
            channels: detail.channels,
        }
    }
}

/// One action of a plan.
#[derive(Debug, Serialize)]
pub struct PlanActionObject {
    /// `open` or `deposit`.
    pub kind: &'static str,
    /// The partner, checksummed.
    pub partner_address: String,
    /// Our total deposit in the channel once done.
    pub deposit: TokenAmount,
    /// Why.
    pub reason: String,
}

/// The gas reserve of a plan.
#[derive(Debug, Serialize)]
pub struct GasReserveObject {
    /// Wei the reserve needs.
    pub required: TokenAmount,
    /// Our ETH, wei.
    pub balance: TokenAmount,
}

/// `POST /connections/<token>/plan` (SPEC §2.8). Wei amounts are integers like token
/// amounts.
#[derive(Debug, Serialize)]
pub struct PlanObject {
    /// 204, 402 or 408: what the PUT would answer.
    pub would_answer: u16,
    /// Why.
    pub reason: String,
    /// The strategy that chose the partners.
    pub partner_selection: &'static str,
    /// The opens and deposits.
    pub actions: Vec<PlanActionObject>,
    /// The amount approved first; 0 when no approve is sent (a number either way, so
    /// that clients need no null check).
    pub approve: TokenAmount,
    /// Transactions the join would send.
    pub transactions: u64,
    /// Their gas.
    pub gas: u64,
    /// Wei per gas now.
    pub gas_price: TokenAmount,
    /// `gas × gas_price`, wei.
    pub eth_cost: TokenAmount,
    /// The gas reserve check (SPEC §4).
    pub gas_reserve: GasReserveObject,
}

impl From<&Plan> for PlanObject {
    fn from(plan: &Plan) -> Self {
        Self {
            would_answer: plan.would_answer.status(),
            reason: plan.reason.clone(),
            partner_selection: plan.partner_selection.name(),
            actions: plan
                .actions
                .iter()
                .map(|action| PlanActionObject {
                    kind: action.kind.as_str(),
                    partner_address: checksummed(&action.partner),
                    deposit: TokenAmount(action.deposit),
                    reason: action.reason.clone(),
                })
                .collect(),
            approve: TokenAmount(plan.approve.unwrap_or_default()),
            transactions: plan.transactions,
            gas: plan.gas,
            gas_price: TokenAmount(plan.gas_price),
            eth_cost: TokenAmount(plan.eth_cost),
            gas_reserve: GasReserveObject {
                required: TokenAmount(plan.gas_reserve.required),
                balance: TokenAmount(plan.gas_reserve.balance),
            },
        }
    }
}
