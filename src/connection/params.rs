//! The parameters of a join and the funds arithmetic they define (SPEC §3).

use super::strategy::StrategyKind;
use crate::types::U256;

/// Default `initial_channel_target`.
pub const DEFAULT_INITIAL_CHANNEL_TARGET: u32 = 3;
/// Largest accepted `initial_channel_target`.
pub const MAX_INITIAL_CHANNEL_TARGET: u32 = 1000;
/// Default `joinable_funds_target`, in billionths (0.4).
pub const DEFAULT_JOINABLE_FUNDS_TARGET: JoinableFraction = JoinableFraction(400_000_000);

/// Denominator of [`JoinableFraction`].
const BILLION: u64 = 1_000_000_000;

/// The share of the funds held back for channels others open, in billionths.
///
/// Kept as an integer so that the funds split is exact integer arithmetic: `0.4` is
/// 400,000,000 billionths, not the nearest binary float.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JoinableFraction(u32);

/// Why a number is not a valid `joinable_funds_target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("joinable_funds_target must be a number from 0.0 to 1.0")]
pub struct FractionOutOfRange;

impl JoinableFraction {
    /// From a number in `0.0..=1.0`, rounded to the nearest billionth.
    pub fn from_f64(value: f64) -> Result<Self, FractionOutOfRange> {
        if !(0.0..=1.0).contains(&value) {
            return Err(FractionOutOfRange);
        }
        Ok(Self((value * BILLION as f64).round() as u32))
    }

    /// The fraction as a float, for reports.
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / BILLION as f64
    }

    /// Billionths.
    pub fn billionths(self) -> u32 {
        self.0
    }

    /// From billionths (clamped to one whole).
    pub fn from_billionths(billionths: u32) -> Self {
        Self(billionths.min(BILLION as u32))
    }
}

/// What a join asks for: how much to commit, how many channels, how much to hold back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionParams {
    /// Tokens to commit to the network.
    pub funds: U256,
    /// Channels to open ourselves (0: only join channels others open).
    pub initial_channel_target: u32,
    /// Share of `funds` held back for channels others open.
    pub joinable_funds_target: JoinableFraction,
    /// How new partners are chosen (SPEC §3.1).
    pub partner_selection: StrategyKind,
}

impl ConnectionParams {
    /// Parameters with the default target and joinable share.
    pub fn with_funds(funds: U256) -> Self {
        Self {
            funds,
            initial_channel_target: DEFAULT_INITIAL_CHANNEL_TARGET,
            joinable_funds_target: DEFAULT_JOINABLE_FUNDS_TARGET,
            partner_selection: StrategyKind::Uniform,
        }
    }

    /// `funds × (1 − joinable) / target`, rounded down; 0 when the target is 0.
    pub fn per_partner(&self) -> U256 {
        if self.initial_channel_target == 0 {
            return U256::ZERO;
        }
        let keep = U256::from(BILLION - u64::from(self.joinable_funds_target.0));
        let billion = U256::from(BILLION);
        // funds = q·B + r, so funds·keep/B = q·keep + r·keep/B exactly, without the
        // overflow that funds·keep could cause near 2^256.
        let (q, r) = (self.funds / billion, self.funds % billion);
        let kept = q * keep + r * keep / billion;
        kept / U256::from(self.initial_channel_target)
    }

    /// The most we put into one channel a partner opened: the per-partner share, or in
    /// the join-only mode (target 0), anything left of the funds.
    pub fn joinable_cap(&self) -> U256 {
        if self.initial_channel_target == 0 {
            self.funds
        } else {
            self.per_partner()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(funds: U256, target: u32, joinable: f64) -> ConnectionParams {
        ConnectionParams {
            partner_selection: Default::default(),
            funds,
            initial_channel_target: target,
            joinable_funds_target: JoinableFraction::from_f64(joinable).unwrap(),
        }
    }

    #[test]
    fn split_matches_the_spec_examples() {
        assert_eq!(
            params(U256::from(100), 3, 0.4).per_partner(),
            U256::from(20)
        );
        let ether = U256::from(10u64.pow(18));
        assert_eq!(
            params(ether, 3, 0.4).per_partner(),
            U256::from(2 * 10u64.pow(17))
        );
    }

    #[test]
    fn split_rounds_down_and_handles_the_edges() {
        assert_eq!(params(U256::from(10), 3, 0.0).per_partner(), U256::from(3));
        assert_eq!(params(U256::from(100), 3, 1.0).per_partner(), U256::ZERO);
        assert_eq!(params(U256::from(100), 0, 0.4).per_partner(), U256::ZERO);
        assert_eq!(params(U256::from(1), 3, 0.4).per_partner(), U256::ZERO);
        // No overflow at the top of the range.
        assert_eq!(params(U256::MAX, 1, 0.0).per_partner(), U256::MAX);
        assert!(params(U256::MAX, 1, 0.5).per_partner() < U256::MAX);
    }

    #[test]
    fn fractions_outside_zero_to_one_are_refused() {
        for bad in [-0.1, 1.000001, f64::NAN, f64::INFINITY] {
            assert!(JoinableFraction::from_f64(bad).is_err(), "{bad}");
        }
        assert_eq!(
            JoinableFraction::from_f64(0.4).unwrap(),
            DEFAULT_JOINABLE_FUNDS_TARGET
        );
    }
}
