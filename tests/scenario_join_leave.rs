//! Raiden's join-and-leave golden case, through the REST API on the simulated chain.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::{call, e18, eventually, TestNet};
use serde_json::Value;
use tokennet::types::{checksummed, Address, U256};
use warp::http::StatusCode;

fn deposits_by_partner(channels: &Value) -> Vec<(String, u64, String)> {
    let mut rows: Vec<(String, u64, String)> = channels
        .as_array()
        .expect("an array of channels")
        .iter()
        .map(|c| {
            (
                c["partner_address"].as_str().unwrap().to_owned(),
                c["total_deposit"].as_u64().unwrap(),
                c["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test(start_paused = true)]
async fn raiden_golden_join_and_leave() {
    let net = TestNet::new();
    let one = e18();
    let share = one / U256::from(5); // 0.2 · 10^18
    let share_u64 = 200_000_000_000_000_000u64;

    // Two peers with a channel between them. They run nodes (no connection manager), so
    // that they react as real peers would, but never fund anything themselves.
    let p1 = net.account(one);
    let p2 = net.account(one);
    net.open_channel_now(p1, p2, U256::ZERO);
    let _p1_node = net.node(p1);
    let _p2_node = net.node(p2);

    let a = net.account(one);
    let b = net.account(one);
    let node_a = net.node(a);
    let node_b = net.node(b);
    node_a.wait_ready().await;
    node_b.wait_ready().await;
    let token = net.token_path();
    let join = r#"{"funds": "1000000000000000000", "initial_channel_target": 3, "joinable_funds_target": 0.4}"#;

    // A joins: the network has two participants, fewer than the target of three.
    let answer = call(
        &node_a,
        "PUT",
        &format!("/api/v1/connections/{token}"),
        Some(join),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert!(answer.text.is_empty());
    let channels = call(&node_a, "GET", &format!("/api/v1/channels/{token}"), None).await;
    let mut expected = vec![
        (checksummed(&p1), share_u64, "opened".to_owned()),
        (checksummed(&p2), share_u64, "opened".to_owned()),
    ];
    expected.sort();
    assert_eq!(deposits_by_partner(&channels.body), expected);

    // B joins: three channels of 0.2 · 10^18, and A deposits as much into B's channel.
    let answer = call(
        &node_b,
        "PUT",
        &format!("/api/v1/connections/{token}"),
        Some(join),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let channels = call(&node_b, "GET", &format!("/api/v1/channels/{token}"), None).await;
    let mut expected_b: Vec<_> = [a, p1, p2]
        .iter()
        .map(|p| (checksummed(p), share_u64, "opened".to_owned()))
        .collect();
    expected_b.sort();
    assert_eq!(deposits_by_partner(&channels.body), expected_b);

    let path_ab = format!("/api/v1/channels/{token}/{}", checksummed(&b));
    eventually(
        "A to deposit into the channel B opened",
        Duration::from_secs(30),
        || async {
            let channel = call(&node_a, "GET", &path_ab, None).await;
            channel.body["total_deposit"].as_u64() == Some(share_u64)
        },
    )
    .await;
    let connections = call(&node_a, "GET", "/api/v1/connections", None).await;
    assert_eq!(
        connections.body[&token],
        serde_json::json!({"funds": 1_000_000_000_000_000_000u64, "sum_deposits": 600_000_000_000_000_000u64, "channels": 3})
    );
    assert_eq!(net.balance(a), one - share * U256::from(3));

    // A leaves: every channel closed and settled, every token back with its owner.
    let answer = call(
        &node_a,
        "DELETE",
        &format!("/api/v1/connections/{token}"),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let mut partners: Vec<String> = serde_json::from_value(answer.body).unwrap();
    partners.sort();
    let mut expected_partners = vec![checksummed(&p1), checksummed(&p2), checksummed(&b)];
    expected_partners.sort();
    assert_eq!(partners, expected_partners);

    let channels = call(&node_a, "GET", "/api/v1/channels", None).await;
    assert_eq!(
        channels.body,
        serde_json::json!([]),
        "A has no channel left"
    );
    assert_eq!(
        call(&node_a, "GET", "/api/v1/connections", None).await.body,
        serde_json::json!({})
    );
    assert_eq!(net.balance(a), one, "A has all its tokens back");
    let network = net.chain.with_ledger(|l| {
        l.token_network(&net.token_network)
            .unwrap()
            .total_deposits()
    });
    // Only B's channels with the two peers still hold tokens: B's two shares.
    assert_eq!(network, share * U256::from(2));
    assert_eq!(net.balance(b), one - share * U256::from(2));
    assert_eq!(net.balance(p1) + net.balance(p2), one * U256::from(2));
    let supply = net.chain.with_ledger(|l| l.total_supply(&net.token));
    let held: U256 = [p1, p2, a, b]
        .iter()
        .map(|x: &Address| net.balance(*x))
        .sum::<U256>()
        + network;
    assert_eq!(held, supply, "no token was created or lost");
}
