//! Concurrency of the API (SPEC §2.5): calls queue per token network only.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::{call, e18, TestNet};
use tokennet::chain::sim::{Fault, FaultRule, Latency};
use tokennet::chain::{Chain, Transaction};
use tokennet::types::{checksummed, Address, U256};
use warp::http::StatusCode;

/// Peers with channels among them, so that they are participants of the network.
fn peers(net: &TestNet, count: usize) -> Vec<Address> {
    let peers: Vec<Address> = (0..count).map(|_| net.account(e18())).collect();
    for pair in peers.chunks(2) {
        if let [a, b] = pair {
            net.open_channel_now(*a, *b, U256::ZERO);
        }
    }
    peers
}

#[tokio::test(start_paused = true)]
async fn reads_and_other_tokens_do_not_wait_for_a_slow_join() {
    let net = TestNet::new();
    // A second token with its own network.
    let other_token = net.chain.deploy_test_token();
    let other_network = net
        .chain
        .execute_now(
            net.chain.our_address(),
            &Transaction::RegisterToken { token: other_token },
        )
        .unwrap()
        .token_network
        .unwrap();
    let peers = peers(&net, 4);
    // The second network needs participants too.
    for pair in peers.chunks(2) {
        if let [a, b] = pair {
            net.chain.mint(other_token, *a, e18()).unwrap();
            net.chain
                .execute_now(
                    *a,
                    &Transaction::OpenChannel {
                        token_network: other_network,
                        partner: *b,
                    },
                )
                .unwrap();
        }
    }
    let us = net.account(e18());
    net.chain.mint(other_token, us, e18()).unwrap();
    let node = net.node_with_timeout(us, Duration::from_secs(60));
    node.wait_ready().await;

    // The first join's four transactions (one approve, three opens) are stuck: they are
    // never mined, so that join waits for its whole 60 s tx timeout.
    net.chain
        .inject(FaultRule::once(Fault::NeverMine).for_account(us).times(4));
    let slow_node = node.clone();
    let slow_path = format!("/api/v1/connections/{}", net.token_path());
    let slow = tokio::spawn(async move {
        let answer = call(&slow_node, "PUT", &slow_path, Some(r#"{"funds": 1000}"#)).await;
        (answer.status, tokio::time::Instant::now())
    });
    // Let the slow join submit its transactions.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = tokio::time::Instant::now();

    // A GET answers at once: no virtual time passes.
    let answer = call(&node, "GET", "/api/v1/connections", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        tokio::time::Instant::now(),
        started,
        "GET waited for the join"
    );

    // A join of the other token completes within a couple of blocks.
    let other_path = format!("/api/v1/connections/{}", checksummed(&other_token));
    let answer = call(
        &node,
        "PUT",
        &other_path,
        Some(r#"{"funds": 1000, "initial_channel_target": 2}"#),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let other_done = tokio::time::Instant::now();
    assert!(
        other_done - started < Duration::from_secs(5),
        "took {:?}",
        other_done - started
    );
    assert!(
        !slow.is_finished(),
        "the slow join should still be waiting for its transactions"
    );

    let (status, slow_done) = slow.await.unwrap();
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert!(
        slow_done - started >= Duration::from_secs(55),
        "slow join took {:?}",
        slow_done - started
    );
}

#[tokio::test(start_paused = true)]
async fn two_joins_of_one_token_run_one_after_the_other() {
    let net = TestNet::new();
    peers(&net, 8);
    let us = net.account(U256::from(10_000));
    let node = net.node(us);
    node.wait_ready().await;
    let path = format!("/api/v1/connections/{}", net.token_path());

    // The first join is slow; the second one, sent right after, must wait for it.
    net.chain
        .set_latency(Some(us), Latency::Fixed(Duration::from_secs(20)));
    let first_node = node.clone();
    let first_path = path.clone();
    let first = tokio::spawn(async move {
        let answer = call(
            &first_node,
            "PUT",
            &first_path,
            Some(r#"{"funds": 500, "joinable_funds_target": 0.4}"#),
        )
        .await;
        (answer.status, tokio::time::Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    net.chain
        .set_latency(Some(us), Latency::Fixed(Duration::ZERO));
    let second = call(
        &node,
        "PUT",
        &path,
        Some(r#"{"funds": 1000, "joinable_funds_target": 0.4}"#),
    )
    .await;
    let second_done = tokio::time::Instant::now();
    assert_eq!(second.status, StatusCode::NO_CONTENT, "{}", second.text);
    assert!(
        first.is_finished(),
        "the second join answered before the first"
    );
    let (first_status, first_done) = first.await.unwrap();
    assert_eq!(first_status, StatusCode::NO_CONTENT);
    assert!(first_done <= second_done);

    // Had they overlapped, the second would have chosen three more partners while the
    // first's channels were not yet on chain. In turn, it tops up the same three.
    let channels = call(
        &node,
        "GET",
        &format!("/api/v1/channels/{}", net.token_path()),
        None,
    )
    .await;
    let deposits: Vec<u64> = channels
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["total_deposit"].as_u64().unwrap())
        .collect();
    assert_eq!(deposits, vec![200, 200, 200], "{}", channels.text);
    let connections = call(&node, "GET", "/api/v1/connections", None).await;
    assert_eq!(
        connections.body[net.token_path()],
        serde_json::json!({"funds": 1000, "sum_deposits": 600, "channels": 3})
    );
}
