//! The request body, read with a size limit, and the parsing of the JSON bodies into
//! checked values with messages that name the field at fault.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures::TryStreamExt;
use serde_json::value::RawValue;
use warp::{Filter, Rejection};

use super::error::{ApiError, BodyTooLarge, BodyTooSlow};
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

/// Parses the body of `PUT /connections/<token>` (SPEC §2.3, check 2).
pub fn join_params(body: &[u8]) -> Result<ConnectionParams, ApiError> {
    let fields = object_fields(body)?;
    reject_unknown_fields(
        &fields,
        &["funds", "initial_channel_target", "joinable_funds_target"],
    )?;
    let funds = amount_field(&fields, "funds")?;
    if funds.is_zero() {
        return Err(ApiError::InvalidInput(
            "'funds' must be greater than zero".into(),
        ));
    }
    let initial_channel_target = match fields.get("initial_channel_target") {
        None => DEFAULT_INITIAL_CHANNEL_TARGET,
        Some(raw) => serde_json::from_str::<u32>(raw.get())
            .ok()
            .filter(|target| *target <= MAX_INITIAL_CHANNEL_TARGET)
            .ok_or_else(|| {
                ApiError::InvalidInput(format!(
                    "'initial_channel_target' must be an integer from 0 to {MAX_INITIAL_CHANNEL_TARGET}"
                ))
            })?,
    };
    let joinable_funds_target = match fields.get("joinable_funds_target") {
        None => DEFAULT_JOINABLE_FUNDS_TARGET,
        Some(raw) => serde_json::from_str::<f64>(raw.get())
            .ok()
            .and_then(|value| JoinableFraction::from_f64(value).ok())
            .ok_or_else(|| {
                ApiError::InvalidInput(
                    "'joinable_funds_target' must be a number from 0.0 to 1.0".into(),
                )
            })?,
    };
    Ok(ConnectionParams {
        partner_selection: Default::default(),
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
        join_params(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn join_bodies_are_checked_field_by_field() {
        let ok = join_params(br#"{"funds": 100}"#).unwrap();
        assert_eq!(ok.funds, U256::from(100));
        assert_eq!(ok.initial_channel_target, 3);
        let big = join_params(br#"{"funds": "123456789012345678901234567890", "initial_channel_target": 0, "joinable_funds_target": 1}"#).unwrap();
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
}
