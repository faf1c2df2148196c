//! One plain async function per endpoint. Each returns `Result<_, ApiError>`; the status
//! codes are chosen in `error.rs`, never here.

use bytes::Bytes;
use std::collections::BTreeMap;

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::{self, Reply};

use super::body;
use super::error::ApiError;
use super::models::{ChannelObject, ConnectionEntry, ConnectionObject, PartnerEntry, PlanObject};
use crate::chain::{Chain, ChainError};
use crate::node::{Node, NodeError, NodeStatus};
use crate::types::{checksummed, parse_checksummed_address, Address};

fn address(text: &str) -> Result<Address, ApiError> {
    Ok(parse_checksummed_address(text)?)
}

/// A transaction the contracts refuse because of what the client asked for (registering
/// an address that is not a token, minting a token without `mintFor`) is invalid input,
/// as Raiden answered it; every other failure keeps its own meaning.
fn refused_input(what: String) -> impl FnOnce(NodeError) -> ApiError {
    move |error| match error {
        NodeError::Chain(ChainError::Reverted { ref reason, .. }) => {
            ApiError::InvalidInput(format!("{what}: {reason}"))
        }
        other => ApiError::Node(other),
    }
}

/// `GET /connections`.
pub async fn connections<C: Chain>(node: Node<C>) -> Result<impl Reply, ApiError> {
    // Serialized straight from the typed entries: going through `serde_json::Value` would
    // turn amounts beyond 64 bits into floats.
    let entries: BTreeMap<String, ConnectionEntry> = node
        .connections()
        .iter()
        .map(|summary| (checksummed(&summary.token), ConnectionEntry::from(summary)))
        .collect();
    Ok(reply::json(&entries))
}

/// `PUT /connections/<token>`.
pub async fn join<C: Chain>(
    token: String,
    body: Bytes,
    node: Node<C>,
) -> Result<impl Reply, ApiError> {
    let token = address(&token)?;
    let params = body::join_params(&body, node.default_partner_selection())?;
    node.join(token, params).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /connections/<token>` (SPEC §2.8).
pub async fn connection<C: Chain>(token: String, node: Node<C>) -> Result<impl Reply, ApiError> {
    let token = address(&token)?;
    let detail = node.connection(token)?;
    Ok(reply::json(&ConnectionObject::from(&detail)))
}

/// `POST /connections/<token>/plan` (SPEC §2.8): the PUT's body and checks, then the plan.
pub async fn plan<C: Chain>(
    token: String,
    body: Bytes,
    node: Node<C>,
) -> Result<impl Reply, ApiError> {
    let token = address(&token)?;
    let params = body::join_params(&body, node.default_partner_selection())?;
    let plan = node.plan(token, params).await?;
    Ok(reply::json(&PlanObject::from(&plan)))
}

/// `DELETE /connections/<token>`.
pub async fn leave<C: Chain>(token: String, node: Node<C>) -> Result<impl Reply, ApiError> {
    let token = address(&token)?;
    let partners = node.leave(token).await?;
    let partners: Vec<String> = partners.iter().map(checksummed).collect();
    Ok(reply::json(&partners))
}

/// `GET /address`.
pub async fn our_address<C: Chain>(node: Node<C>) -> Result<impl Reply, ApiError> {
    Ok(reply::json(
        &json!({ "our_address": checksummed(&node.address()) }),
    ))
}

/// `GET /version`.
pub async fn version() -> Result<impl Reply, ApiError> {
    Ok(reply::json(
        &json!({ "version": env!("CARGO_PKG_VERSION") }),
    ))
}

/// `GET /status`.
pub async fn status<C: Chain>(node: Node<C>) -> Result<impl Reply, ApiError> {
    Ok(reply::json(&match node.status() {
        NodeStatus::Ready => json!({ "status": "ready" }),
        NodeStatus::Syncing { blocks_to_sync } => {
            json!({ "status": "syncing", "blocks_to_sync": blocks_to_sync })
        }
        NodeStatus::WrongChain { expected, found } => json!({
            "status": "wrong_chain",
            "expected": expected,
            "found": found,
        }),
        NodeStatus::Stalled {
            head_age,
            head,
            synced,
        } => json!({
            "status": "stalled",
            "head_age_seconds": head_age.as_secs(),
            "head": head,
            "synced": synced,
        }),
    }))
}

/// `GET /openapi.json`: the API's OpenAPI document, as committed in `docs/openapi.json`.
pub async fn openapi() -> Result<impl Reply, ApiError> {
    Ok(reply::with_header(
        super::OPENAPI_JSON,
        warp::http::header::CONTENT_TYPE,
        "application/json",
    ))
}

/// `GET /tokens`.
pub async fn tokens<C: Chain>(node: Node<C>) -> Result<impl Reply, ApiError> {
    let tokens: Vec<String> = node.tokens().iter().map(checksummed).collect();
    Ok(reply::json(&tokens))
}

/// `PUT /tokens/<token>`.
pub async fn register_token<C: Chain>(
    token: String,
    node: Node<C>,
) -> Result<impl Reply, ApiError> {
    let token = address(&token)?;
    let network = node
        .register_token(token)
        .await
        .map_err(refused_input(format!(
            "Token {} cannot be registered",
            checksummed(&token)
        )))?;
    Ok(reply::with_status(
        reply::json(&json!({ "token_network_address": checksummed(&network) })),
        StatusCode::CREATED,
    ))
}

/// `GET /tokens/<token>`.
pub async fn token_network<C: Chain>(token: String, node: Node<C>) -> Result<impl Reply, ApiError> {
    let token = address(&token)?;
    let network = node.token_network(&token).ok_or_else(|| {
        ApiError::NotFound(format!(
            "No token network for token {}",
            checksummed(&token)
        ))
    })?;
    Ok(reply::json(&checksummed(&network)))
}

/// `GET /tokens/<token>/partners`.
pub async fn partners<C: Chain>(token: String, node: Node<C>) -> Result<impl Reply, ApiError> {
    let token = address(&token)?;
    let partners: Vec<PartnerEntry> = node
        .channels(Some(token))
        .iter()
        .map(|c| PartnerEntry::new(&token, &c.channel.partner))
        .collect();
    Ok(reply::json(&partners))
}

/// `GET /channels` and `GET /channels/<token>`.
pub async fn channels<C: Chain>(
    token: Option<String>,
    node: Node<C>,
) -> Result<impl Reply, ApiError> {
    let token = token.as_deref().map(address).transpose()?;
    let channels: Vec<ChannelObject> = node
        .channels(token)
        .iter()
        .map(ChannelObject::from)
        .collect();
    Ok(reply::json(&channels))
}

/// `GET /channels/<token>/<partner>`.
pub async fn channel<C: Chain>(
    token: String,
    partner: String,
    node: Node<C>,
) -> Result<impl Reply, ApiError> {
    let token = address(&token)?;
    let partner = address(&partner)?;
    let channel = node.channel(token, partner)?;
    Ok(reply::json(&ChannelObject::from(&channel)))
}

/// `POST /_testing/tokens/<token>/mint`.
pub async fn mint<C: Chain>(
    token: String,
    body: Bytes,
    node: Node<C>,
) -> Result<impl Reply, ApiError> {
    let token = address(&token)?;
    let (to, value) = body::mint_request(&body)?;
    let hash = node
        .mint(token, to, value)
        .await
        .map_err(refused_input(format!(
            "Cannot mint token {}",
            checksummed(&token)
        )))?;
    Ok(reply::json(
        &json!({ "transaction_hash": hash.to_string() }),
    ))
}
