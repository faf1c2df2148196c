//! Reorganisations on a real anvil, made with `evm_snapshot` / `evm_revert`: a node that
//! acts on the head follows the chain back and forth, and a node with a confirmation
//! depth never sees what the reorganisation takes back.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use alloy::providers::{Provider, RootProvider};
use common::anvil::AnvilNet;
use serde_json::{json, Value};
use tokennet::chain::ethereum::{EthChain, EthConfig};
use tokennet::chain::Chain;
use tokennet::node::Node;
use tokennet::types::Address;

/// Blocks come only when the test mines them, so that it decides what each fork holds.
async fn manual_anvil() -> (AnvilNet, RootProvider) {
    let net = AnvilNet::start(1.0, 30).await;
    let provider = RootProvider::new_http(net.anvil.endpoint().parse().unwrap());
    raw(&provider, "evm_setIntervalMining", json!([0])).await;
    (net, provider)
}

async fn raw(provider: &RootProvider, method: &'static str, params: Value) -> Value {
    provider
        .raw_request(method.into(), params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

async fn mine(provider: &RootProvider, blocks: u64) {
    for _ in 0..blocks {
        raw(provider, "evm_mine", json!([])).await;
    }
}

/// A node for dev account `index` that counts events as confirmed `depth` blocks deep,
/// with its state in memory.
async fn node(net: &AnvilNet, index: usize, depth: u64) -> Node<EthChain> {
    node_with_state(net, index, depth, None).await
}

/// The same, with its state in `datadir` when given: a reorganisation then rebuilds the
/// view from the stored events instead of from the chain.
async fn node_with_state(
    net: &AnvilNet,
    index: usize,
    depth: u64,
    datadir: Option<&std::path::Path>,
) -> Node<EthChain> {
    let chain = EthChain::connect(
        EthConfig {
            rpc_url: net.anvil.endpoint(),
            registry: net.deployment.token_network_registry,
            start_block: net.deployment.start_block,
            confirmation_blocks: depth,
            poll_interval: Duration::from_millis(100),
        },
        net.signer(index),
    )
    .await
    .unwrap();
    let node = match datadir {
        Some(dir) => Node::builder(chain).datadir(dir).open().await.unwrap(),
        None => Node::builder(chain).start(),
    };
    node.wait_ready().await;
    node
}

/// Sends an open from dev account `from` to `to` and mines it; returns once it is mined.
async fn open_channel(net: &AnvilNet, provider: &RootProvider, from: usize, to: Address) {
    let (chain, pending) = net.send_open(from, to).await;
    mine(provider, 1).await;
    chain.confirm(&pending).await.unwrap();
}

fn partners(node: &Node<EthChain>) -> Vec<Address> {
    node.channels(None)
        .into_iter()
        .map(|c| c.channel.partner)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_the_head_follows_a_reverted_block_and_the_new_fork() {
    follows_a_reverted_block(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_its_state_on_disk_rewinds_its_stored_events_to_the_fork() {
    let datadir = tempfile::tempdir().unwrap();
    let node = follows_a_reverted_block(Some(datadir.path())).await;
    // The events of the abandoned block are gone from the database too.
    let stored = node.store().load().unwrap();
    let opened: Vec<_> = stored
        .events
        .iter()
        .filter(|r| matches!(r.event, tokennet::chain::ChainEvent::ChannelOpened { .. }))
        .collect();
    assert_eq!(
        opened.len(),
        1 + RING,
        "the ring's channels and the new fork's: {opened:?}"
    );
}

/// Channels among other participants, opened before the reorganisation: the rebuilt view
/// must still know them.
const RING: usize = 2;

async fn follows_a_reverted_block(datadir: Option<&std::path::Path>) -> Node<EthChain> {
    let (net, provider) = manual_anvil().await;
    let us = net.signer(1).address();
    let (second, third) = (net.signer(2).address(), net.signer(3).address());
    open_channel(&net, &provider, 4, net.signer(5).address()).await;
    open_channel(&net, &provider, 5, net.signer(6).address()).await;
    let node = node_with_state(&net, 1, 0, datadir).await;

    let snapshot = raw(&provider, "evm_snapshot", json!([])).await;
    open_channel(&net, &provider, 2, us).await;
    common::eventually(
        "the node to see the channel the second account opened",
        Duration::from_secs(10),
        || async { partners(&node) == vec![second] },
    )
    .await;

    // Take the block back, and grow a longer fork where the third account opens a
    // channel with us instead (same channel identifier, another partner).
    assert_eq!(
        raw(&provider, "evm_revert", json!([snapshot])).await,
        json!(true)
    );
    mine(&provider, 2).await;
    open_channel(&net, &provider, 3, us).await;
    common::eventually(
        "the node to forget the reverted channel and see the new fork's",
        Duration::from_secs(10),
        || async { partners(&node) == vec![third] },
    )
    .await;
    let channel = node.channels(None)[0];
    assert_eq!(
        channel.channel.id.0,
        1 + RING as u64,
        "the new fork reuses the identifier"
    );
    assert_eq!(node.status(), tokennet::node::NodeStatus::Ready);
    node
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_below_the_confirmation_depth_are_never_acted_on() {
    let (net, provider) = manual_anvil().await;
    let us = net.signer(1).address();
    let (second, third) = (net.signer(2).address(), net.signer(3).address());
    let depth = 3;
    let node = node(&net, 1, depth).await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let watcher = {
        let node = node.clone();
        let seen = seen.clone();
        tokio::spawn(async move {
            loop {
                for partner in partners(&node) {
                    let mut seen = seen.lock().unwrap();
                    if !seen.contains(&partner) {
                        seen.push(partner);
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    let snapshot = raw(&provider, "evm_snapshot", json!([])).await;
    open_channel(&net, &provider, 2, us).await;
    // One block short of the depth: still not confirmed.
    mine(&provider, depth - 1).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        raw(&provider, "evm_revert", json!([snapshot])).await,
        json!(true)
    );
    mine(&provider, depth + 2).await;
    open_channel(&net, &provider, 3, us).await;
    mine(&provider, depth).await;
    common::eventually(
        "the node to see the channel once it is confirmed",
        Duration::from_secs(10),
        || async { partners(&node) == vec![third] },
    )
    .await;
    watcher.abort();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![third],
        "the channel of {second}, never confirmed, was never in the view"
    );
}
