//! Plans (SPEC §2.8), generic over the chain like `scenarios`: `tests/plan.rs` runs them
//! on the simulated chain and on our contracts on anvil.
//!
//! A plan changes nothing (our nonce, ETH, tokens, allowance and channels are the same
//! after it), answers the same when asked again (the node's partner-choice generator did
//! not move), and a PUT with the same body right after takes exactly the planned actions.
//! Below the gas reserve, the plan says 402 with the numbers, and the PUT answers 402.

use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokennet::chain::gas::GAS;
use tokennet::chain::Chain;
use tokennet::node::Node;
use tokennet::types::{checksummed, Address, U256};
use warp::http::StatusCode;

use super::scenarios::ScenarioNet;
use super::{call, e18};

/// What a plan test needs beyond [`ScenarioNet`].
#[allow(async_fn_in_trait)] // used in this test crate only, with concrete types
pub trait PlanNet: ScenarioNet {
    /// The account's transaction count on chain, where the chain tells it (anvil); the
    /// simulated chain keeps it private, and its other checks stand in.
    async fn nonce(&self, owner: Address) -> Option<u64>;
    /// Sets the account's ETH.
    async fn set_eth_balance(&self, owner: Address, wei: U256);
}

/// Everything of ours a plan must leave as it is.
#[derive(Debug, PartialEq)]
struct Ours {
    nonce: Option<u64>,
    eth: U256,
    tokens: U256,
    allowance: U256,
    pending: usize,
    channels: Value,
}

async fn ours<N: PlanNet>(net: &N, node: &Node<N::C>) -> Ours {
    let us = node.address();
    let chain = node.chain();
    Ours {
        nonce: net.nonce(us).await,
        eth: chain.eth_balance(us).await.expect("our ETH"),
        tokens: net.balance(us).await,
        allowance: chain
            .allowance(net.token(), us, net.token_network())
            .await
            .expect("our allowance"),
        pending: net.pending_transactions().await,
        channels: call(node, "GET", "/api/v1/channels", None).await.body,
    }
}

/// `(partner, our deposit)` of every channel in a `GET /channels` answer, sorted.
fn deposits(channels: &Value) -> Vec<(String, U256)> {
    let mut rows: Vec<(String, U256)> = channels
        .as_array()
        .expect("an array of channels")
        .iter()
        .map(|c| {
            (
                c["partner_address"].as_str().expect("partner").to_owned(),
                amount(&c["total_deposit"]),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn amount(value: &Value) -> U256 {
    U256::from_str_radix(&value.to_string(), 10)
        .unwrap_or_else(|_| panic!("not an integer amount: {value}"))
}

/// A plan's wei figures, read from its text with every digit (`Value` would turn the
/// large ones into floats).
#[derive(serde::Deserialize)]
struct Wei {
    approve: Box<RawValue>,
    gas_price: Box<RawValue>,
    eth_cost: Box<RawValue>,
    gas_reserve: Reserve,
}

#[derive(serde::Deserialize)]
struct Reserve {
    required: Box<RawValue>,
    balance: Box<RawValue>,
}

fn digits(raw: &RawValue) -> U256 {
    U256::from_str_radix(raw.get(), 10)
        .unwrap_or_else(|_| panic!("not an integer amount: {}", raw.get()))
}

fn wei(text: &str) -> Wei {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not a plan ({e}): {text}"))
}

/// Lets a few blocks pass, so that anything a plan had sent would be mined and show.
async fn let_blocks_pass() {
    tokio::time::sleep(Duration::from_secs(3)).await;
}

/// Six peers in three channels (participants to choose from), one of which opens a
/// channel with us without deposit (a channel the join tops up: a `deposit` action).
/// Below the reserve, the plan says 402 and sends nothing; with ETH, it plans one deposit
/// and two opens, sends nothing, says the same again, and the PUT takes exactly those.
pub async fn a_plan_changes_nothing_and_the_put_follows_it<N: PlanNet>(net: &mut N) {
    let one = e18();
    let mut peers = Vec::new();
    for _ in 0..6 {
        peers.push(net.account(one).await);
    }
    for pair in peers.chunks(2) {
        net.open_channel(pair[0], pair[1]).await;
    }
    let us = net.account(one).await;
    net.open_channel(peers[0], us).await;
    let node = net.node(us).await;
    let token = checksummed(&net.token());
    let path = format!("/api/v1/connections/{token}");
    let plan_path = format!("{path}/plan");
    // As Raiden's clients send it, with the strategy named.
    let body = r#"{"funds": "1000000000000000000", "initial_channel_target": "3", "joinable_funds_target": "0.4", "partner_selection": "uniform"}"#;
    let share = one * U256::from(2) / U256::from(10);

    // Below the gas reserve: 402 with the numbers, nothing sent, and the PUT agrees.
    let eth = node.chain().eth_balance(us).await.expect("our ETH");
    net.set_eth_balance(us, U256::from(1000)).await;
    let before = ours(net, &node).await;
    let plan = call(&node, "POST", &plan_path, Some(body)).await;
    assert_eq!(plan.status, StatusCode::OK, "{}", plan.text);
    assert_eq!(plan.body["would_answer"], 402, "{}", plan.text);
    let figures = wei(&plan.text);
    assert_eq!(
        digits(&figures.gas_reserve.balance),
        U256::from(1000),
        "{}",
        plan.text
    );
    let required = digits(&figures.gas_reserve.required);
    assert!(required > U256::from(1000), "{}", plan.text);
    let reason = plan.body["reason"].as_str().expect("a reason");
    assert!(
        reason.contains(&format!("at least {required} wei is required"))
            && reason.contains("1000 wei"),
        "{reason}"
    );
    assert_eq!(plan.body["actions"], json!([]));
    assert_eq!(plan.body["approve"], 0);
    let_blocks_pass().await;
    assert_eq!(ours(net, &node).await, before, "a 402 plan sends nothing");
    let answer = call(&node, "PUT", &path, Some(body)).await;
    assert_eq!(
        answer.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        answer.text
    );
    net.set_eth_balance(us, eth).await;

    // With ETH: the plan.
    let before = ours(net, &node).await;
    let plan = call(&node, "POST", &plan_path, Some(body)).await;
    assert_eq!(plan.status, StatusCode::OK, "{}", plan.text);
    let p = &plan.body;
    assert_eq!(p["would_answer"], 204, "{}", plan.text);
    assert_eq!(p["partner_selection"], "uniform");
    let actions = p["actions"].as_array().expect("actions");
    assert_eq!(actions.len(), 3, "{}", plan.text);
    assert_eq!(
        actions[0]["kind"], "deposit",
        "the unfunded channel first: {}",
        plan.text
    );
    assert_eq!(actions[0]["partner_address"], checksummed(&peers[0]));
    for action in actions {
        assert_eq!(amount(&action["deposit"]), share, "{action}");
        let reason = action["reason"].as_str().expect("a reason");
        assert!(
            reason.contains("funds 1000000000000000000 × (1 − 0.4) / 3"),
            "{reason}"
        );
    }
    for open in &actions[1..] {
        assert_eq!(open["kind"], "open", "{}", plan.text);
        let partner = open["partner_address"].as_str().expect("a partner");
        assert!(
            peers[1..].iter().any(|p| checksummed(p) == partner),
            "an eligible partner: {partner}"
        );
        let reason = open["reason"].as_str().expect("a reason");
        assert!(
            reason.contains("uniform sampling among 5 eligible participants"),
            "{reason}"
        );
    }
    let figures = wei(&plan.text);
    assert_eq!(digits(&figures.approve), share * U256::from(3));
    assert_eq!(p["transactions"], 4);
    let gas = GAS.approve + GAS.set_total_deposit + 2 * GAS.open_channel_with_deposit;
    assert_eq!(p["gas"], gas);
    assert_eq!(
        digits(&figures.eth_cost),
        digits(&figures.gas_price) * U256::from(gas)
    );
    assert!(digits(&figures.gas_reserve.required) <= digits(&figures.gas_reserve.balance));

    // It sent nothing, and asked again it says the same: the generator did not move.
    let_blocks_pass().await;
    assert_eq!(ours(net, &node).await, before, "a plan sends nothing");
    let again = call(&node, "POST", &plan_path, Some(body)).await;
    assert_eq!(
        again.body["actions"], plan.body["actions"],
        "the same plan twice"
    );

    // The PUT right after takes exactly the planned actions.
    let answer = call(&node, "PUT", &path, Some(body)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let mut planned: Vec<(String, U256)> = actions
        .iter()
        .map(|a| {
            (
                a["partner_address"].as_str().expect("partner").to_owned(),
                amount(&a["deposit"]),
            )
        })
        .collect();
    planned.sort();
    let channels = call(&node, "GET", "/api/v1/channels", None).await;
    assert_eq!(
        deposits(&channels.body),
        planned,
        "the PUT did what the plan said"
    );
    if let (Some(nonce_before), Some(nonce_after)) = (before.nonce, net.nonce(us).await) {
        assert_eq!(
            nonce_after - nonce_before,
            4,
            "the PUT sent the planned number of transactions"
        );
    }
    assert_eq!(net.balance(us).await, one - share * U256::from(3));
    let connection = call(&node, "GET", &path, None).await;
    assert_eq!(connection.body["partner_selection"], "uniform");
    assert_eq!(connection.body["state"], "joined");
    assert_eq!(connection.body["channels"], 3);

    // Joined: a plan of the same body has nothing left to do.
    let plan = call(&node, "POST", &plan_path, Some(body)).await;
    assert_eq!(plan.body["would_answer"], 204, "{}", plan.text);
    assert_eq!(plan.body["actions"], json!([]), "{}", plan.text);
    assert_eq!(plan.body["transactions"], 0, "{}", plan.text);
}
