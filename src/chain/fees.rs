//! Transaction fees and the arithmetic of replacing a stuck transaction.
//!
//! A transaction that is not mined in time is signed again with the same nonce and
//! higher fees. Nodes accept such a replacement only when *both* its fee cap and its tip
//! are at least 10 % above the pending one's (geth's and anvil's `price_bump`; less is
//! refused with "replacement transaction underpriced"). We raise both by
//! [`BUMP_PERCENT`], rounded up, so that integer division never lands us just under the
//! 10 %, and never above the operator's cap.

use serde::{Deserialize, Serialize};

/// The raise nodes require of a replacement, in percent (geth's default `price_bump`).
pub const REQUIRED_BUMP_PERCENT: u128 = 10;
/// The raise we apply to both fees of a replacement, in percent: the required 10 % plus a
/// margin, so that a node with a slightly stricter rule still takes it.
pub const BUMP_PERCENT: u128 = 15;
/// Wei in one gwei.
pub const WEI_PER_GWEI: u128 = 1_000_000_000;

/// What a transaction offers to pay per gas, in wei.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fees {
    /// The most paid per gas, base fee and tip together (EIP-1559 `maxFeePerGas`); the
    /// gas price of a legacy transaction.
    pub max_fee_per_gas: u128,
    /// The tip to the block producer (EIP-1559 `maxPriorityFeePerGas`); equal to the gas
    /// price for a legacy transaction.
    pub max_priority_fee_per_gas: u128,
    /// A legacy (pre-EIP-1559) transaction: the chain has no base fee.
    pub legacy: bool,
}

impl Fees {
    /// The fees of a legacy transaction at `gas_price`.
    pub fn legacy(gas_price: u128) -> Self {
        Self {
            max_fee_per_gas: gas_price,
            max_priority_fee_per_gas: gas_price,
            legacy: true,
        }
    }

    /// The fees of an EIP-1559 transaction offered when the latest block's base fee is
    /// `base_fee`: twice the base fee plus the tip, so that the offer stays includable
    /// through six full blocks in a row (each raises the base fee by at most 12.5 %).
    pub fn eip1559(base_fee: u128, tip: u128) -> Self {
        Self {
            max_fee_per_gas: base_fee.saturating_mul(2).saturating_add(tip),
            max_priority_fee_per_gas: tip,
            legacy: false,
        }
    }
}

/// `value` raised by `percent`, rounded up: the smallest whole number at least
/// `value × (100 + percent) / 100`.
pub fn raised(value: u128, percent: u128) -> u128 {
    let scaled = value.saturating_mul(100 + percent);
    scaled / 100 + u128::from(!scaled.is_multiple_of(100))
}

/// Whether `new` may replace `old` at a node that requires [`REQUIRED_BUMP_PERCENT`]:
/// both fees at least that much higher (geth: `new × 100 ≥ old × 110`).
pub fn is_enough_to_replace(old: Fees, new: Fees) -> bool {
    let enough = |old: u128, new: u128| {
        new.saturating_mul(100) >= old.saturating_mul(100 + REQUIRED_BUMP_PERCENT) && new > old
    };
    enough(old.max_fee_per_gas, new.max_fee_per_gas)
        && enough(old.max_priority_fee_per_gas, new.max_priority_fee_per_gas)
}

/// The fees of the replacement of a transaction that offered `old`, when the chain asks
/// for `market` now: each fee raised by [`BUMP_PERCENT`] (rounded up), or the market's if
/// that is higher, and the fee cap at most `cap`. `None` when the cap leaves no room for
/// a replacement a node would take: the caller keeps waiting for the one it has.
pub fn bump(old: Fees, market: Fees, cap: u128) -> Option<Fees> {
    let max_fee = raised(old.max_fee_per_gas, BUMP_PERCENT)
        .max(market.max_fee_per_gas)
        .min(cap);
    let tip = raised(old.max_priority_fee_per_gas, BUMP_PERCENT)
        .max(market.max_priority_fee_per_gas)
        // The tip is part of the fee cap, never more than it.
        .min(max_fee);
    let new = if market.legacy {
        Fees::legacy(max_fee)
    } else {
        Fees {
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            legacy: false,
        }
    };
    is_enough_to_replace(old, new).then_some(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GWEI: u128 = WEI_PER_GWEI;

    #[test]
    fn raising_rounds_up() {
        assert_eq!(raised(100, 15), 115);
        assert_eq!(raised(1, 15), 2, "1.15 rounds up to 2");
        assert_eq!(raised(7, 10), 8, "7.7 rounds up to 8");
        assert_eq!(raised(0, 15), 0);
        assert_eq!(raised(u128::MAX, 15), u128::MAX / 100 + 1, "saturates");
    }

    #[test]
    fn a_bump_always_clears_the_ten_percent_a_node_requires() {
        // Every small value (where rounding matters most) and some large ones.
        let values = (1..5_000u128).chain([GWEI - 1, GWEI, 3 * GWEI + 7, 123_456_789_123]);
        for value in values {
            let old = Fees {
                max_fee_per_gas: value * 2 + 1,
                max_priority_fee_per_gas: value,
                legacy: false,
            };
            let new = bump(old, Fees::default(), u128::MAX)
                .unwrap_or_else(|| panic!("no bump of {value}"));
            // geth's rule, written out: new × 100 ≥ old × 110, for both fees.
            assert!(
                new.max_fee_per_gas * 100 >= old.max_fee_per_gas * 110,
                "{old:?} → {new:?}"
            );
            assert!(
                new.max_priority_fee_per_gas * 100 >= old.max_priority_fee_per_gas * 110,
                "{old:?} → {new:?}"
            );
            assert!(new.max_priority_fee_per_gas <= new.max_fee_per_gas);
        }
    }

    #[test]
    fn the_market_price_wins_when_it_is_higher() {
        let old = Fees::eip1559(GWEI, GWEI);
        let market = Fees::eip1559(50 * GWEI, 2 * GWEI);
        let new = bump(old, market, 1_000 * GWEI).unwrap();
        assert_eq!(new.max_fee_per_gas, 102 * GWEI);
        assert_eq!(new.max_priority_fee_per_gas, 2 * GWEI);
        let calm = Fees::eip1559(GWEI / 2, GWEI / 2);
        let new = bump(old, calm, 1_000 * GWEI).unwrap();
        assert_eq!(new.max_fee_per_gas, raised(3 * GWEI, 15));
        assert_eq!(new.max_priority_fee_per_gas, raised(GWEI, 15));
    }

    #[test]
    fn the_cap_is_never_exceeded_and_stops_the_bumps() {
        let cap = 20 * GWEI;
        let market = Fees::eip1559(50 * GWEI, GWEI);
        let mut fees = Fees::eip1559(GWEI, GWEI);
        let mut bumps = 0;
        while let Some(new) = bump(fees, market, cap) {
            assert!(new.max_fee_per_gas <= cap, "{new:?}");
            assert!(is_enough_to_replace(fees, new));
            fees = new;
            bumps += 1;
            assert!(bumps < 100, "the bumps stop at the cap");
        }
        assert_eq!(fees.max_fee_per_gas, cap, "the last offer is the cap");
        // Just under 10 % of room left: no replacement (a node would refuse it).
        let near = Fees::eip1559(0, cap * 100 / 110 + 1);
        let near = Fees {
            max_fee_per_gas: near.max_priority_fee_per_gas,
            ..near
        };
        assert_eq!(bump(near, market, cap), None);
    }

    #[test]
    fn a_legacy_chain_gets_a_legacy_replacement() {
        let old = Fees::legacy(10 * GWEI);
        let new = bump(old, Fees::legacy(GWEI), 100 * GWEI).unwrap();
        assert!(new.legacy);
        assert_eq!(new.max_fee_per_gas, raised(10 * GWEI, 15));
        assert_eq!(new.max_fee_per_gas, new.max_priority_fee_per_gas);
        // From a legacy offer to an EIP-1559 replacement: both fees above the old price.
        let new = bump(old, Fees::eip1559(GWEI, GWEI), 100 * GWEI).unwrap();
        assert!(!new.legacy);
        assert!(is_enough_to_replace(old, new));
    }
}
