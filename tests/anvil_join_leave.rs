//! Raiden's join-and-leave golden case on a real chain: our contracts on anvil, each node
//! in-process with its own key and the REST API driven through the whole warp stack.
//! After the leave, balances on chain prove that no token was lost.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::anvil::AnvilNet;
use common::{call, e18, eventually};
use tokennet::chain::{Chain, Transaction};
use tokennet::types::{checksummed, U256};
use warp::http::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raiden_golden_join_and_leave_on_anvil() {
    let net = AnvilNet::start(0.5, 2).await;
    let one = e18();
    let share = one / U256::from(5);
    for index in 1..=4 {
        net.give_tokens(index, one).await;
    }
    // Accounts 1 and 2 are the peers, with a channel between them; 3 is A, 4 is B.
    let p1_chain = net.chain(1).await;
    let p1 = p1_chain.our_address();
    let p2 = net.signer(2).address();
    let open = p1_chain
        .submit(Transaction::OpenChannel {
            token_network: net.token_network,
            partner: p2,
        })
        .await
        .unwrap();
    p1_chain.confirm(&open).await.unwrap();
    let _p1_node = net.node(1).await;
    let _p2_node = net.node(2).await;
    let node_a = net.node(3).await;
    let node_b = net.node(4).await;
    let (a, b) = (node_a.address(), node_b.address());
    node_a.wait_ready().await;
    node_b.wait_ready().await;

    let token = checksummed(&net.token);
    let join = r#"{"funds": "1000000000000000000", "initial_channel_target": 3, "joinable_funds_target": 0.4}"#;
    let answer = call(
        &node_a,
        "PUT",
        &format!("/api/v1/connections/{token}"),
        Some(join),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let channels = call(&node_a, "GET", &format!("/api/v1/channels/{token}"), None).await;
    let mut partners: Vec<(String, u64)> = channels
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["partner_address"].as_str().unwrap().to_owned(),
                c["total_deposit"].as_u64().unwrap(),
            )
        })
        .collect();
    partners.sort();
    let mut expected = vec![
        (checksummed(&p1), 200_000_000_000_000_000u64),
        (checksummed(&p2), 200_000_000_000_000_000u64),
    ];
    expected.sort();
    assert_eq!(partners, expected);

    let answer = call(
        &node_b,
        "PUT",
        &format!("/api/v1/connections/{token}"),
        Some(join),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let channels = call(&node_b, "GET", &format!("/api/v1/channels/{token}"), None).await;
    assert_eq!(
        channels.body.as_array().unwrap().len(),
        3,
        "{}",
        channels.text
    );
    for channel in channels.body.as_array().unwrap() {
        assert_eq!(
            channel["total_deposit"].as_u64(),
            Some(200_000_000_000_000_000),
            "{channel}"
        );
    }
    let path_ab = format!("/api/v1/channels/{token}/{}", checksummed(&b));
    eventually(
        "A to deposit into the channel B opened",
        Duration::from_secs(30),
        || async {
            let channel = call(&node_a, "GET", &path_ab, None).await;
            channel.body["total_deposit"].as_u64() == Some(200_000_000_000_000_000)
        },
    )
    .await;

    let answer = call(
        &node_a,
        "DELETE",
        &format!("/api/v1/connections/{token}"),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let mut closed: Vec<String> = serde_json::from_value(answer.body).unwrap();
    closed.sort();
    let mut expected = vec![checksummed(&p1), checksummed(&p2), checksummed(&b)];
    expected.sort();
    assert_eq!(closed, expected);

    // On chain: A has every token back; B still has its two shares in the peers' channels.
    assert_eq!(net.balance(&p1_chain, a).await, one);
    assert_eq!(net.balance(&p1_chain, b).await, one - share * U256::from(2));
    assert_eq!(
        net.balance(&p1_chain, net.token_network).await,
        share * U256::from(2)
    );
    let channels = call(&node_a, "GET", "/api/v1/channels", None).await;
    assert_eq!(channels.body, serde_json::json!([]));
}
