//! The one gas table: what each channel operation costs, used both by the gas reserve
//! (SPEC §4) and by the simulated chain when it charges a transaction.
//!
//! Until our own contracts exist (the real-chain work), the figures are those measured for
//! the raiden-contracts 0.50.2 bytecode on anvil 1.7.1 (SPEC §5.4, right-hand column):
//! they are the upper bound our contracts must beat. Replace them with the figures that
//! the gas-table command measures for our contracts once it exists.

use crate::chain::Transaction;
use crate::types::U256;

/// Gas used by one kind of transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GasTable {
    /// `openChannel` without deposit.
    pub open_channel: u64,
    /// `openChannelWithDeposit`, the usual way the node opens a funded channel.
    pub open_channel_with_deposit: u64,
    /// `setTotalDeposit` (the first deposit of a participant; top-ups cost less).
    pub set_total_deposit: u64,
    /// `closeChannel` with an empty balance proof.
    pub close_channel: u64,
    /// `settleChannel` with no balance proofs.
    pub settle_channel: u64,
    /// ERC20 `approve`.
    pub approve: u64,
    /// `TokenNetworkRegistry.createERC20TokenNetwork`.
    pub create_token_network: u64,
    /// The test token's `mintFor`.
    pub mint: u64,
}

/// The gas table in force (see the module docs for where the figures come from).
pub const GAS: GasTable = GasTable {
    open_channel: 86_430,
    open_channel_with_deposit: 135_276,
    set_total_deposit: 86_054,
    close_channel: 87_536,
    settle_channel: 83_205,
    approve: 46_190,
    create_token_network: 3_531_532,
    mint: 51_000,
};

impl GasTable {
    /// Gas used by `transaction`.
    pub fn gas_of(&self, transaction: &Transaction) -> u64 {
        match transaction {
            Transaction::RegisterToken { .. } => self.create_token_network,
            Transaction::Approve { .. } => self.approve,
            Transaction::OpenChannel { .. } => self.open_channel,
            Transaction::OpenChannelWithDeposit { .. } => self.open_channel_with_deposit,
            Transaction::SetTotalDeposit { .. } => self.set_total_deposit,
            Transaction::CloseChannel { .. } => self.close_channel,
            Transaction::SettleChannel { .. } => self.settle_channel,
            Transaction::MintFor { .. } => self.mint,
        }
    }

    /// Gas to open, fund, close and settle one channel: the whole life of a new channel.
    pub fn channel_lifecycle(&self) -> u64 {
        self.open_channel_with_deposit + self.close_channel + self.settle_channel
    }

    /// Gas still needed by an open channel: close and settle.
    pub fn close_and_settle(&self) -> u64 {
        self.close_channel + self.settle_channel
    }
}

/// How many channels of each kind the gas reserve must cover (SPEC §4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReserveInputs {
    /// Channels about to be opened (the target minus funded channels, at least 1 for the
    /// bootstrap case), across every token network we are in.
    pub channels_to_open: u64,
    /// Our open channels.
    pub open_channels: u64,
    /// Our closed, not yet settled channels.
    pub closed_channels: u64,
}

/// The ETH (wei) needed to finish the life of every channel counted in `inputs`, with a
/// 10 % margin: `gas_price × 1.1 × Σ gas`.
pub fn gas_reserve(table: &GasTable, gas_price: U256, inputs: ReserveInputs) -> U256 {
    let gas = inputs.channels_to_open as u128 * table.channel_lifecycle() as u128
        + inputs.open_channels as u128 * table.close_and_settle() as u128
        + inputs.closed_channels as u128 * table.settle_channel as u128;
    gas_price
        .saturating_mul(U256::from(gas))
        .saturating_mul(U256::from(11))
        / U256::from(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_adds_ten_percent_to_the_lifecycle_gas() {
        let gwei = U256::from(1_000_000_000u64);
        let inputs = ReserveInputs {
            channels_to_open: 3,
            open_channels: 0,
            closed_channels: 0,
        };
        let expected =
            U256::from(3 * GAS.channel_lifecycle()) * gwei * U256::from(11) / U256::from(10);
        assert_eq!(gas_reserve(&GAS, gwei, inputs), expected);
        assert_eq!(
            gas_reserve(&GAS, gwei, ReserveInputs::default()),
            U256::ZERO
        );
    }
}
