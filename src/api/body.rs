//! The request body, read with a size limit, and the parsing of the JSON bodies into
//! checked values with messages that name the field at fault.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures::TryStreamExt;
use serde_json::value::RawValue;
use warp::{Filter, Rejection};

use super::error::{ApiError, BodyTooLarge, BodyTooSlow};
use crate::connection::strategy::StrategyKind;
use crate::connection::{
    ConnectionParams, JoinableFraction, DEFAULT_INITIAL_CHANNEL_TARGET,
    DEFAULT_JOINABLE_FUNDS_TARGET, MAX_INITIAL_CHANNEL_TARGET,
};
use crate::types::{parse_checksummed_address, Address, TokenAmount, U256};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: u64 = 16 * 1024;

/// Default time a client has to send the whole body, once its headers are in.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The body as bytes, refused with 413 past [`MAX_BODY_BYTES`] whether or not the client
/// announced its length, and with 408 if it takes longer than
/// [`DEFAULT_BODY_READ_TIMEOUT`] to arrive.
pub fn limited() -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    limited_within(DEFAULT_BODY_READ_TIMEOUT)
}

/// [`limited`], with the body to arrive within `timeout` (else 408): a client that sends
/// its body slowly cannot hold a connection and a handler open.
pub fn limited_within(
    timeout: Duration,
) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and_then(|length: Option<u64>| async move {
            match length {
                Some(length) if length > MAX_BODY_BYTES => {
                    Err(warp::reject::custom(BodyTooLarge(MAX_BODY_BYTES)))
                }
                _ => Ok(()),
            }
        })
        .untuple_one()
        .and(warp::body::stream())
        .and_then(move |stream| async move {
            tokio::time::timeout(timeout, collect_limited(stream))
                .await
                .unwrap_or_else(|_| Err(warp::reject::custom(BodyTooSlow(timeout))))
        })
}

async fn collect_limited(
    stream: impl futures::Stream<Item = Result<impl Buf, warp::Error>>,
) -> Result<Bytes, Rejection> {
    let mut body = BytesMut::new();
    let mut stream = Box::pin(stream);
    while let Some(mut chunk) = stream
        .try_next()
        .await
        .map_err(|_| warp::reject::custom(BodyTooLarge(MAX_BODY_BYTES)))?
    {
        if body.len() as u64 + chunk.remaining() as u64 > MAX_BODY_BYTES {
            return Err(warp::reject::custom(BodyTooLarge(MAX_BODY_BYTES)));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            let n = part.len();
            body.extend_from_slice(part);
            chunk.advance(n);
        }
    }
    Ok(body.freeze())
}

/// The top-level fields of a JSON object body, each kept as raw JSON so that big
/// integers keep every digit.
fn object_fields(body: &[u8]) -> Result<HashMap<String, Box<RawValue>>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidInput(
            "Request body is missing: expected a JSON object".into(),
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::InvalidInput("Request body is not UTF-8".into()))?;
    let value: Box<RawValue> = serde_json::from_str(text)
        .map_err(|e| ApiError::InvalidInput(format!("Request body is not valid JSON: {e}")))?;
    if !value.get().trim_start().starts_with('{') {
        return Err(ApiError::InvalidInput(
            "Request body must be a JSON object".into(),
        ));
    }
    serde_json::from_str(value.get())
        .map_err(|e| ApiError::InvalidInput(format!("Request body is not valid JSON: {e}")))
}

fn reject_unknown_fields(
    fields: &HashMap<String, Box<RawValue>>,
    known: &[&str],
) -> Result<(), ApiError> {
    let mut unknown: Vec<&str> = fields
        .keys()
        .map(String::as_str)
        .filter(|key| !known.contains(key))
        .collect();
    unknown.sort_unstable();
    match unknown.first() {
        Some(field) => Err(ApiError::InvalidInput(format!(
            "Unknown field '{}'; accepted fields are {}",
            super::error::clip(field),
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

fn amount_field(fields: &HashMap<String, Box<RawValue>>, name: &str) -> Result<U256, ApiError> {
    let raw = fields
        .get(name)
        .ok_or_else(|| ApiError::InvalidInput(format!("Missing field '{name}'")))?;
    TokenAmount::from_json(raw)
        .map(TokenAmount::get)
        .map_err(|e| ApiError::InvalidInput(format!("'{name}' {e}")))
}

/// The fields of a join body (SPEC §2.3), in the order their errors are reported.
pub const JOIN_FIELDS: &[&str] = &[
    "funds",
    "initial_channel_target",
    "joinable_funds_target",
    "partner_selection",
];

/// The text inside a JSON string value, `None` when `raw` is not a string.
fn string_content(raw: &RawValue) -> Option<String> {
    let text = raw.get().trim();
    if text.starts_with('"') {
        serde_json::from_str(text).ok()
    } else {
        None
    }
}

/// Whether `text` is a decimal number as a person writes it: an optional `-`, digits, an
/// optional fraction and an optional exponent; no spaces, no `+` in front, no bare `.5`.
fn is_decimal_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == bytes.len()
}

/// `initial_channel_target`: a JSON integer, or a string of decimal digits (Raiden's
/// clients send `"3"`), from 0 to [`MAX_INITIAL_CHANNEL_TARGET`].
fn target_value(raw: &RawValue) -> Option<u32> {
    match string_content(raw) {
        Some(text) => {
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // Leading zeros are fine, as in amounts; too many digits overflow to `None`.
            let significant = text.trim_start_matches('0');
            if significant.is_empty() {
                Some(0)
            } else {
                significant.parse::<u32>().ok()
            }
        }
        None => serde_json::from_str::<u32>(raw.get()).ok(),
    }
    .filter(|target| *target <= MAX_INITIAL_CHANNEL_TARGET)
}

/// `joinable_funds_target`: a JSON number, or a string holding a decimal number
/// (`"0.4"`), from 0.0 to 1.0. A string is read exactly as the same number written
/// without quotes would be, so that both give the same fraction.
fn joinable_value(raw: &RawValue) -> Option<JoinableFraction> {
    let value = match string_content(raw) {
        Some(text) => {
            if !is_decimal_number(&text) {
                return None;
            }
            // JSON numbers have no leading zeros: drop them so that the JSON reader, the
            // one that reads unquoted numbers, reads this one too.
            let (sign, unsigned) = match text.strip_prefix('-') {
                Some(rest) => ("-", rest),
                None => ("", text.as_str()),
            };
            let trimmed = unsigned.trim_start_matches('0');
            let normal = if trimmed.is_empty() || !trimmed.starts_with(|c: char| c.is_ascii_digit())
            {
                format!("{sign}0{trimmed}")
            } else {
                format!("{sign}{trimmed}")
            };
            serde_json::from_str::<f64>(&normal).ok()?
        }
        None => serde_json::from_str::<f64>(raw.get()).ok()?,
    };
    JoinableFraction::from_f64(value).ok()
}

/// `partner_selection`: a JSON string naming a strategy of SPEC §3.1.
fn strategy_value(raw: &RawValue) -> Result<StrategyKind, ApiError> {
    let name = string_content(raw).ok_or_else(|| {
        ApiError::InvalidInput(format!(
            "'partner_selection' must be a string; valid strategies are {}",
            StrategyKind::names()
        ))
    })?;
    name.parse::<StrategyKind>().map_err(|_| {
        ApiError::InvalidInput(format!(
            "'partner_selection' {:?} is not a strategy; valid strategies are {}",
            super::error::clip(&name),
            StrategyKind::names()
        ))
    })
}

/// Parses the body of `PUT /connections/<token>` and of its plan (SPEC §2.3, check 2).
///
/// Numbers may come as JSON numbers or as strings holding the same number, as Raiden
/// accepted them. `default_selection` is the node's `--partner-selection`, for a body that
/// names no strategy.
pub fn join_params(
    body: &[u8],
    default_selection: StrategyKind,
) -> Result<ConnectionParams, ApiError> {
    let fields = object_fields(body)?;
    reject_unknown_fields(&fields, JOIN_FIELDS)?;
    let funds = amount_field(&fields, "funds")?;
    if funds.is_zero() {
        return Err(ApiError::InvalidInput(
            "'funds' must be greater than zero".into(),
        ));
    }
    let initial_channel_target = match fields.get("initial_channel_target") {
        None => DEFAULT_INITIAL_CHANNEL_TARGET,
        Some(raw) => target_value(raw).ok_or_else(|| {
            ApiError::InvalidInput(format!(
                "'initial_channel_target' must be an integer from 0 to {MAX_INITIAL_CHANNEL_TARGET}, as a number or a string of digits"
            ))
        })?,
    };
    let joinable_funds_target = match fields.get("joinable_funds_target") {
        None => DEFAULT_JOINABLE_FUNDS_TARGET,
        Some(raw) => joinable_value(raw).ok_or_else(|| {
            ApiError::InvalidInput(
                "'joinable_funds_target' must be a number from 0.0 to 1.0, as a number or a decimal string".into(),
            )
        })?,
    };
    let partner_selection = match fields.get("partner_selection") {
        None => default_selection,
        Some(raw) => strategy_value(raw)?,
    };
    Ok(ConnectionParams {
        partner_selection,
        funds,
        initial_channel_target,
        joinable_funds_target,
    })
}

/// Parses the body of the test-token mint: `{"to": "0x…", "value": n}`.
pub fn mint_request(body: &[u8]) -> Result<(Address, U256), ApiError> {
    let fields = object_fields(body)?;
    reject_unknown_fields(&fields, &["to", "value"])?;
    let to_raw = fields
        .get("to")
        .ok_or_else(|| ApiError::InvalidInput("Missing field 'to'".into()))?;
    let to_text: String = serde_json::from_str(to_raw.get())
        .map_err(|_| ApiError::InvalidInput("'to' must be an address string".into()))?;
    let to = parse_checksummed_address(&to_text)
        .map_err(|e| ApiError::InvalidInput(format!("'to': {e}")))?;
    let value = amount_field(&fields, "value")?;
    Ok((to, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str) -> String {
        join_params(body.as_bytes(), StrategyKind::Uniform)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn join_bodies_are_checked_field_by_field() {
        let ok = join_params(br#"{"funds": 100}"#, StrategyKind::Uniform).unwrap();
        assert_eq!(ok.funds, U256::from(100));
        assert_eq!(ok.initial_channel_target, 3);
        let big = join_params(br#"{"funds": "123456789012345678901234567890", "initial_channel_target": 0, "joinable_funds_target": 1}"#, StrategyKind::Uniform).unwrap();
        assert_eq!(big.funds.to_string(), "123456789012345678901234567890");
        assert!(message("").contains("missing"));
        assert!(message("{").contains("not valid JSON"));
        assert!(message("[]").contains("JSON object"));
        assert!(message(r#"{"funds": -1}"#).contains("negative"));
        assert!(message(r#"{"funds": 0}"#).contains("greater than zero"));
        assert!(message(r#"{"funds": "ten"}"#).contains("'funds'"));
        assert!(message(r#"{"initial_channel_target": 3}"#).contains("Missing field 'funds'"));
        assert!(message(r#"{"funds": 1, "fund": 2}"#).contains("Unknown field 'fund'"));
        assert!(message(r#"{"funds": 1, "joinable_funds_target": 1.5}"#).contains("joinable"));
        assert!(message(r#"{"funds": 1, "joinable_funds_target": -0.1}"#).contains("joinable"));
        assert!(message(r#"{"funds": 1, "initial_channel_target": 1001}"#)
            .contains("initial_channel_target"));
        assert!(message(r#"{"funds": 1, "initial_channel_target": 2.5}"#)
            .contains("initial_channel_target"));
    }

    fn parsed(body: &str) -> ConnectionParams {
        join_params(body.as_bytes(), StrategyKind::Uniform)
            .unwrap_or_else(|e| panic!("{body} refused: {e}"))
    }

    #[test]
    fn numbers_may_come_as_strings_holding_the_same_number() {
        let as_numbers = parsed(
            r#"{"funds": 1000000000000000000, "initial_channel_target": 3, "joinable_funds_target": 0.4}"#,
        );
        let as_strings = parsed(
            r#"{"funds": "1000000000000000000", "initial_channel_target": "3", "joinable_funds_target": "0.4"}"#,
        );
        assert_eq!(as_numbers, as_strings);
        assert_eq!(
            parsed(r#"{"funds": 1, "initial_channel_target": "007"}"#).initial_channel_target,
            7
        );
        assert_eq!(
            parsed(r#"{"funds": 1, "initial_channel_target": "1000"}"#).initial_channel_target,
            1000
        );
        for (text, billionths) in [
            ("1", 1_000_000_000),
            ("0", 0),
            ("4e-1", 400_000_000),
            ("00.25", 250_000_000),
            ("-0.0", 0),
        ] {
            let body = format!(r#"{{"funds": 1, "joinable_funds_target": "{text}"}}"#);
            assert_eq!(
                parsed(&body).joinable_funds_target.billionths(),
                billionths,
                "{text}"
            );
        }
        for bad in [
            r#""3.5""#,
            r#""abc""#,
            r#""""#,
            r#"" 3""#,
            r#""3 ""#,
            r#""-1""#,
            r#""+3""#,
            r#""1001""#,
            r#""3e0""#,
            r#""99999999999999999999""#,
        ] {
            let text = message(&format!(
                r#"{{"funds": 1, "initial_channel_target": {bad}}}"#
            ));
            assert!(text.contains("'initial_channel_target'"), "{bad}: {text}");
        }
        for bad in [
            r#""abc""#,
            r#""""#,
            r#"" 0.4""#,
            r#""0.4 ""#,
            r#"".4""#,
            r#""1.""#,
            r#""+0.4""#,
            r#""1.5""#,
            r#""-0.1""#,
            r#""NaN""#,
            r#""inf""#,
            r#""0x1""#,
        ] {
            let text = message(&format!(
                r#"{{"funds": 1, "joinable_funds_target": {bad}}}"#
            ));
            assert!(text.contains("'joinable_funds_target'"), "{bad}: {text}");
        }
    }

    #[test]
    fn partner_selection_names_a_strategy_or_takes_the_default() {
        assert_eq!(
            join_params(br#"{"funds": 1}"#, StrategyKind::HighestCapacity)
                .unwrap()
                .partner_selection,
            StrategyKind::HighestCapacity
        );
        for kind in StrategyKind::ALL {
            let body = format!(r#"{{"funds": 1, "partner_selection": "{}"}}"#, kind.name());
            assert_eq!(parsed(&body).partner_selection, kind);
        }
        for bad in [
            r#""random""#,
            r#""Uniform""#,
            r#""""#,
            "3",
            "null",
            r#"["uniform"]"#,
        ] {
            let text = message(&format!(r#"{{"funds": 1, "partner_selection": {bad}}}"#));
            assert!(text.contains("'partner_selection'"), "{bad}: {text}");
            assert!(text.contains(&StrategyKind::names()), "{bad}: {text}");
        }
    }
}
