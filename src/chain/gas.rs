//! The one gas table: what each channel operation costs, used both by the gas reserve
//! (SPEC §4) and by the simulated chain when it charges a transaction.
//!
//! The figures are measured for **our own contracts** (`contracts/`), receipt `gasUsed`, by
//!
//! ```sh
//! cargo run --release --example gas_table
//! ```
//!
//! on anvil 1.7.1 (`contracts/node_modules`, its default hardfork), with the contracts as
//! committed in `contracts/artifacts/` (solc 0.8.37+commit.f401782d, evmVersion prague,
//! viaIR, optimizer 10,000 runs). The command deploys with `tokennet deploy`'s code,
//! registers a token the way the node does (no deposit limits) and runs one channel
//! lifecycle through `EthChain`. Its output, next to raiden-contracts 0.50.2 on the same
//! anvil (SPEC §5.4), is in the README's Benchmarks section:
//!
//! | operation | ours | Raiden 0.50 on anvil 1.7.1 |
//! |---|---:|---:|
//! | createERC20TokenNetwork | 2,198,252 | 3,531,532 |
//! | ERC20 approve (test token) | 45,906 | 46,190 |
//! | openChannel | 51,811 | 86,430 |
//! | openChannelWithDeposit (the network's first deposit) | 91,494 | 135,276 |
//! | setTotalDeposit, partner's first deposit | 50,481 | 86,054 |
//! | setTotalDeposit, top-up | 50,508 | 68,966 |
//! | closeChannel, empty balance proof | 58,823 | 87,536 |
//! | settleChannel, no balance proofs | 48,978 | 83,205 |
//! | mintFor (test token, to an account without tokens) | 52,580 | - |
//!
//! Where an operation has cheaper and dearer cases the table keeps the dearer one: the
//! open-with-deposit that is the network's first deposit (it creates the network's token
//! balance; later ones cost about 17,000 less), and the top-up for `setTotalDeposit` (27
//! gas above a first deposit with our contracts). Against a Raiden 0.50 deployment the
//! node spends more gas than this table says (the right-hand column above).
//! Re-run the command and update this table whenever a contract changes.
//!
//! With these figures a fresh node joining with target 3 at 20 gwei reserves
//! `3 × 199,295 gas × 20 gwei × 1.1 ≈ 0.0132 ETH`, where Raiden's v1 formula with its own
//! figures and the unlock allowance asked about 0.108 ETH (SPEC §4).

use crate::chain::Transaction;
use crate::types::U256;

/// Gas used by one kind of transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GasTable {
    /// `openChannel` without deposit.
    pub open_channel: u64,
    /// `openChannelWithDeposit`, the usual way the node opens a funded channel.
    pub open_channel_with_deposit: u64,
    /// `setTotalDeposit` (the dearer of a participant's first deposit and a top-up).
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
    open_channel: 51_811,
    open_channel_with_deposit: 91_494,
    set_total_deposit: 50_508,
    close_channel: 58_823,
    settle_channel: 48_978,
    approve: 45_906,
    create_token_network: 2_198_252,
    mint: 52_580,
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

    #[test]
    fn a_fresh_join_with_target_3_at_20_gwei_reserves_about_0_0132_eth() {
        assert_eq!(GAS.channel_lifecycle(), 199_295);
        let inputs = ReserveInputs {
            channels_to_open: 3,
            ..ReserveInputs::default()
        };
        let twenty_gwei = U256::from(20_000_000_000u64);
        assert_eq!(
            gas_reserve(&GAS, twenty_gwei, inputs),
            U256::from(13_153_470_000_000_000u64)
        );
    }
}
