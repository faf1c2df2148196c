//! The JSON shapes of responses (SPEC §2).

use serde::Serialize;

use crate::node::{ChannelSummary, ConnectionSummary, DEFAULT_REVEAL_TIMEOUT};
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
