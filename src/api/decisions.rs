//! `GET /api/v1/connections/<token>/decisions?limit=N&before=ID` (SPEC §2.8): the decision
//! log of a token network's connection manager, newest first, a page at a time.
//!
//! Paging: each record has an `id`, larger for newer ones; the next page is asked with
//! `before=<the last id of this page>`. An empty page is the end of the log.

use std::convert::Infallible;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use warp::reply::{Reply, Response};
use warp::{Filter, Rejection};

use super::error::{clip, respond, ApiError};
use super::{bounded, with_node, ApiConfig};
use crate::chain::Chain;
use crate::node::store::DecisionRecord;
use crate::node::Node;
use crate::types::{checksummed, parse_checksummed_address, TokenAmount, U256};

/// Records per page when the request does not say (`limit`).
pub const DEFAULT_DECISIONS_LIMIT: u64 = 100;
/// The most records one page may ask for (`limit`).
pub const MAX_DECISIONS_LIMIT: u64 = 1000;

/// What the query string asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecisionsQuery {
    /// Records at most, 1 to [`MAX_DECISIONS_LIMIT`].
    pub limit: u64,
    /// Only records older than this id.
    pub before: Option<u64>,
}

impl Default for DecisionsQuery {
    fn default() -> Self {
        Self {
            limit: DEFAULT_DECISIONS_LIMIT,
            before: None,
        }
    }
}

impl DecisionsQuery {
    /// Parses a query string (without the `?`). Other parameters are ignored, as HTTP
    /// clients add their own (cache busters); `limit` and `before` must be positive
    /// integers, `limit` at most [`MAX_DECISIONS_LIMIT`], each given once.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let mut parsed = Self::default();
        let (mut limit_seen, mut before_seen) = (false, false);
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let seen = match name {
                "limit" => &mut limit_seen,
                "before" => &mut before_seen,
                _ => continue,
            };
            if std::mem::replace(seen, true) {
                return Err(ApiError::InvalidInput(format!(
                    "Query parameter '{name}' is given more than once"
                )));
            }
            // Ids are SQLite integers: positive and below 2^63.
            let number = value
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0 && i64::try_from(*n).is_ok());
            match (name, number) {
                ("limit", Some(limit)) if limit <= MAX_DECISIONS_LIMIT => parsed.limit = limit,
                ("limit", _) => {
                    return Err(ApiError::InvalidInput(format!(
                        "Query parameter 'limit' must be an integer from 1 to {MAX_DECISIONS_LIMIT}, not '{}'",
                        clip(value)
                    )))
                }
                (_, Some(before)) => parsed.before = Some(before),
                (_, None) => {
                    return Err(ApiError::InvalidInput(format!(
                        "Query parameter 'before' must be the id of a decision (a positive integer), not '{}'",
                        clip(value)
                    )))
                }
            }
        }
        Ok(parsed)
    }
}

/// A decision record as the API answers it.
#[derive(Debug, Serialize)]
pub struct DecisionObject {
    /// Its id: larger is newer; `before` pages with it.
    pub id: u64,
    /// When it was made, RFC 3339 UTC.
    pub time: String,
    /// The last block the node had processed then.
    pub block: u64,
    /// `open`, `deposit`, `match`, `skip`, `retry`, `wait`, `refused`, `close`, `settle`.
    pub kind: &'static str,
    /// The partner, checksummed, if the decision concerns one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_address: Option<String>,
    /// The channel, if it concerns one that existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_identifier: Option<u64>,
    /// Its amount (our new total deposit, the funds held, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<TokenAmount>,
    /// The partner-selection strategy then.
    pub strategy: &'static str,
    /// Why, in one sentence.
    pub reason: String,
    /// The numbers the rule used, by name.
    pub inputs: Inputs,
}

impl From<&DecisionRecord> for DecisionObject {
    fn from(record: &DecisionRecord) -> Self {
        Self {
            id: record.id,
            time: record.time.clone(),
            block: record.block,
            kind: record.kind.as_str(),
            partner_address: record.partner.as_ref().map(checksummed),
            channel_identifier: record.channel_id.map(|id| id.0),
            amount: record.amount.map(TokenAmount),
            strategy: record.strategy.name(),
            reason: record.reason.clone(),
            inputs: Inputs(record.inputs.clone()),
        }
    }
}

/// The inputs of a decision: a JSON object of numbers, in the order the rule names them.
/// Integers are written exactly, as amounts are everywhere in the API (never floats);
/// fractions (`joinable_funds_target`, `score`) as JSON numbers; anything that is no
/// finite number stays a string.
#[derive(Debug)]
pub struct Inputs(pub Vec<(String, String)>);

impl Serialize for Inputs {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            if let Ok(integer) = U256::from_str_radix(value, 10) {
                map.serialize_entry(name, &TokenAmount(integer))?;
            } else if let Some(number) = json_number(value) {
                map.serialize_entry(name, &number)?;
            } else {
                map.serialize_entry(name, value)?;
            }
        }
        map.end()
    }
}

/// `text` as a JSON number if it is one, finite (`0.4`, `-1.5`; not `NaN`, `inf`).
fn json_number(text: &str) -> Option<Box<RawValue>> {
    let number: serde_json::Number = serde_json::from_str(text).ok()?;
    RawValue::from_string(number.to_string()).ok()
}

/// `GET /connections/<token>/decisions`.
pub async fn decisions<C: Chain>(
    token: String,
    query: String,
    node: Node<C>,
) -> Result<impl Reply, ApiError> {
    let token = parse_checksummed_address(&token)?;
    let query = DecisionsQuery::parse(&query)?;
    let records = node.decisions(token, query.limit, query.before)?;
    let objects: Vec<DecisionObject> = records.iter().map(DecisionObject::from).collect();
    Ok(warp::reply::json(&objects))
}

/// The raw query string, empty when the request has none (warp's `query::raw` rejects
/// a request without one).
fn raw_query() -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

/// `GET /api/v1/connections/<token>/decisions`.
pub fn route<C: Chain>(
    node: Node<C>,
    config: &ApiConfig,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = config.read_timeout;
    warp::path!("api" / "v1" / "connections" / String / "decisions")
        .and(warp::get())
        .and(raw_query())
        .and(with_node(node))
        .and_then(move |token, query, node| async move {
            respond(bounded(limit, decisions(token, query, node)).await)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_defaults_bounds_and_names_what_is_wrong() {
        assert_eq!(
            DecisionsQuery::parse("").ok(),
            Some(DecisionsQuery::default())
        );
        assert_eq!(
            DecisionsQuery::parse("limit=1000&before=42&_=17").ok(),
            Some(DecisionsQuery {
                limit: 1000,
                before: Some(42)
            })
        );
        for (query, named) in [
            ("limit=0", "'limit'"),
            ("limit=1001", "'limit'"),
            ("limit=ten", "'limit'"),
            ("limit=", "'limit'"),
            ("limit=-1", "'limit'"),
            ("limit=1&limit=2", "'limit'"),
            ("before=0", "'before'"),
            ("before=x", "'before'"),
            ("before=9223372036854775808", "'before'"),
            ("limit=5&before", "'before'"),
        ] {
            let error = DecisionsQuery::parse(query).expect_err(query);
            assert!(
                matches!(error, ApiError::InvalidInput(_)) && error.to_string().contains(named),
                "{query}: {error}"
            );
        }
    }

    #[test]
    fn inputs_are_numbers_written_exactly() {
        let inputs = Inputs(vec![
            ("funds".into(), "123456789012345678901234567890".into()),
            ("joinable_funds_target".into(), "0.4".into()),
            ("score".into(), "NaN".into()),
        ]);
        assert_eq!(
            serde_json::to_string(&inputs).unwrap(),
            r#"{"funds":123456789012345678901234567890,"joinable_funds_target":0.4,"score":"NaN"}"#
        );
    }
}
