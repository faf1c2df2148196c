//! The small value types every layer shares: addresses, token amounts, channel identifiers.
//!
//! Addresses and 256-bit integers come from `alloy-primitives`, the crate the real-chain
//! adapter builds on, so values cross from the chain to the API without conversion.

use std::fmt;
use std::str::FromStr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

pub use alloy_primitives::{Address, B256, U256};

/// An ERC20 token amount in the token's smallest unit.
///
/// In JSON it is written as an exact integer whatever its size (never a float), and read
/// from either a JSON integer or a string of decimal digits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenAmount(pub U256);

impl TokenAmount {
    /// Zero tokens.
    pub const ZERO: Self = Self(U256::ZERO);

    /// The amount as a 256-bit integer.
    pub fn get(self) -> U256 {
        self.0
    }
}

impl From<U256> for TokenAmount {
    fn from(value: U256) -> Self {
        Self(value)
    }
}

impl From<u64> for TokenAmount {
    fn from(value: u64) -> Self {
        Self(U256::from(value))
    }
}

impl fmt::Display for TokenAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why a text is not a token amount.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// The value is below zero.
    #[error("must not be negative")]
    Negative,
    /// The value has a fraction or an exponent.
    #[error("must be a whole number of token units")]
    Fractional,
    /// The value is not a number at all.
    #[error("must be an integer or a string of decimal digits")]
    NotANumber,
    /// The value does not fit in 256 bits.
    #[error("is larger than 2^256 - 1")]
    TooLarge,
}

impl FromStr for TokenAmount {
    type Err = AmountError;

    /// Parses the digits of a JSON number or of a decimal string.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = text.strip_prefix('-') {
            return if rest.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                Err(AmountError::Negative)
            } else {
                Err(AmountError::NotANumber)
            };
        }
        if text.is_empty() {
            return Err(AmountError::NotANumber);
        }
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            let looks_numeric = text
                .bytes()
                .all(|b| b.is_ascii_digit() || b".eE+-".contains(&b))
                && text.bytes().next().is_some_and(|b| b.is_ascii_digit());
            return Err(if looks_numeric {
                AmountError::Fractional
            } else {
                AmountError::NotANumber
            });
        }
        U256::from_str_radix(text, 10)
            .map(Self)
            .map_err(|_| AmountError::TooLarge)
    }
}

impl TokenAmount {
    /// Reads an amount from the raw JSON text of one value: an integer literal or a string
    /// of decimal digits.
    pub fn from_json(raw: &RawValue) -> Result<Self, AmountError> {
        let text = raw.get().trim();
        if text.starts_with('"') {
            let inner: String = serde_json::from_str(text).map_err(|_| AmountError::NotANumber)?;
            inner.parse()
        } else if text.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            text.parse()
        } else {
            Err(AmountError::NotANumber)
        }
    }
}

impl Serialize for TokenAmount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // A JSON number with all its digits, never a float. Most amounts fit in 128 bits,
        // which serde writes as an integer directly; larger ones go out as raw digits.
        if let Ok(small) = u128::try_from(self.0) {
            return serializer.serialize_u128(small);
        }
        let digits = self.0.to_string();
        let raw = RawValue::from_string(digits).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TokenAmount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Self::from_json(&raw).map_err(D::Error::custom)
    }
}

/// A channel identifier: a per-token-network counter starting at 1, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChannelId(pub u64);

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The placeholder partner that makes the first node of an empty token network visible.
///
/// It is never counted as a partner, never funded, never chosen from the participants.
pub const BOOTSTRAP_ADDRESS: Address = Address::new([0x22; 20]);

/// Why a text is not an address the API accepts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressParseError {
    /// The text does not start with `0x`.
    #[error("Not a valid hex address, 0x prefix missing.")]
    MissingPrefix,
    /// The text after `0x` is not 40 hex digits.
    #[error("Could not decode hex.")]
    NotHex,
    /// The digits are fine but the letter case is not the EIP-55 checksum.
    #[error("Not a valid EIP55 encoded address.")]
    BadChecksum,
}

/// Parses an address the way the REST API requires: `0x`, 40 hex digits, EIP-55 case.
///
/// All-lowercase addresses are rejected too, as Raiden did: an address typed without its
/// checksum is too easy to get wrong.
pub fn parse_checksummed_address(text: &str) -> Result<Address, AddressParseError> {
    let digits = text
        .strip_prefix("0x")
        .ok_or(AddressParseError::MissingPrefix)?;
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AddressParseError::NotHex);
    }
    let address = Address::from_str(text).map_err(|_| AddressParseError::NotHex)?;
    if address.to_checksum(None) == text {
        Ok(address)
    } else {
        Err(AddressParseError::BadChecksum)
    }
}

/// An address in its EIP-55 form, for JSON and logs.
pub fn checksummed(address: &Address) -> String {
    address.to_checksum(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_trip_exactly_whatever_their_size() {
        let max = TokenAmount(U256::MAX);
        let json = serde_json::to_string(&max).unwrap();
        assert_eq!(json, U256::MAX.to_string());
        let back: TokenAmount = serde_json::from_str(&json).unwrap();
        assert_eq!(back, max);
        let from_string: TokenAmount = serde_json::from_str("\"1000000000000000000\"").unwrap();
        assert_eq!(from_string, TokenAmount(U256::from(10u64.pow(18))));
    }

    #[test]
    fn amounts_reject_what_is_not_a_whole_non_negative_number() {
        for (text, expected) in [
            ("-5", AmountError::Negative),
            ("1.5", AmountError::Fractional),
            ("1e3", AmountError::Fractional),
            ("\"abc\"", AmountError::NotANumber),
            ("true", AmountError::NotANumber),
            ("null", AmountError::NotANumber),
            ("\"\"", AmountError::NotANumber),
        ] {
            let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
            assert_eq!(TokenAmount::from_json(&raw), Err(expected), "{text}");
        }
        let too_large = format!("{}0", U256::MAX);
        let raw: Box<RawValue> = serde_json::from_str(&too_large).unwrap();
        assert_eq!(TokenAmount::from_json(&raw), Err(AmountError::TooLarge));
    }

    #[test]
    fn addresses_must_be_checksummed() {
        let good = "0x5A5f458F6c1a034930E45dC9a64B99d7def06D7E";
        assert!(parse_checksummed_address(good).is_ok());
        assert_eq!(
            parse_checksummed_address(&good[2..]),
            Err(AddressParseError::MissingPrefix)
        );
        assert_eq!(
            parse_checksummed_address(&good.to_lowercase()),
            Err(AddressParseError::BadChecksum)
        );
        assert_eq!(
            parse_checksummed_address("0x5A5f"),
            Err(AddressParseError::NotHex)
        );
        assert_eq!(
            parse_checksummed_address("0xZZ5f458F6c1a034930E45dC9a64B99d7def06D7E"),
            Err(AddressParseError::NotHex)
        );
    }
}
