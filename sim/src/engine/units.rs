//! Amounts as a scenario writes them (whole tokens, ether) and as the chain keeps them.

use tokennet::types::U256;

/// Whole tokens (as a scenario writes them, with up to 6 decimals) to token units.
pub fn tokens_to_units(tokens: f64) -> U256 {
    let micro = (tokens.max(0.0) * 1e6).round() as u128;
    U256::from(micro) * U256::from(1_000_000_000_000u64)
}

/// Token units to whole tokens, for reports.
pub fn units_to_tokens(units: U256) -> f64 {
    let micro: u128 = (units / U256::from(1_000_000_000_000u64)).saturating_to();
    micro as f64 / 1e6
}

/// Ether (up to 9 decimals) to wei.
pub(super) fn eth_to_wei(eth: f64) -> U256 {
    let gwei = (eth.max(0.0) * 1e9).round() as u128;
    U256::from(gwei) * U256::from(1_000_000_000u64)
}
