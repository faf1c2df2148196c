//! The simulator and the node make the same decisions: a small scenario run through
//! `Node<SimChain>` (the real node runtime on the simulated chain) and through the
//! simulator's engine gives the same channels with the same deposits, with each of the
//! partner-selection strategies.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::time::Duration;

use tokennet::chain::sim::SimChain;
use tokennet::chain::{Chain, Transaction};
use tokennet::connection::strategy::StrategyKind;
use tokennet::connection::{ConnectionParams, JoinableFraction};
use tokennet::node::Node;
use tokennet::types::{Address, U256};
use tokennet_sim::engine::tokens_to_units;
use tokennet_sim::run::simulate;
use tokennet_sim::scenario::Scenario;

const SEED: u64 = 11;
const NODES: u64 = 7;
/// Seconds between arrivals: long enough for every reaction of a join to be done.
const GAP_SECONDS: u64 = 60;

fn scenario(strategy: StrategyKind) -> Scenario {
    let times: Vec<String> = (0..NODES)
        .map(|i| format!("\"{}ms\"", 500 + i * GAP_SECONDS * 1000))
        .collect();
    Scenario::from_toml(&format!(
        r#"
seed = {SEED}
sample_interval = "10m"
[chain]
block_time = "1s"
gas_price_gwei = 1.0
settle_timeout = "10s"
[[cohorts]]
name = "twins"
count = {NODES}
arrival = {{ process = "explicit", times = [{}] }}
funds = 100.0
initial_channel_target = 2
joinable_funds_target = 0.4
eth = 10.0
tx_latency = 0.0
partner_selection = "{strategy}"
"#,
        times.join(", ")
    ))
    .unwrap()
}

/// A channel as (identifier, participants in order, their deposits in token units).
type ChannelRow = (u64, Address, Address, U256, U256);

fn simulated_channels(scenario: &Scenario) -> BTreeSet<ChannelRow> {
    let outcome = simulate(scenario, true, |_| {}).unwrap();
    let address = |index: u32| -> Address {
        outcome.result.nodes[index as usize]
            .address
            .parse()
            .unwrap()
    };
    outcome
        .result
        .channels
        .iter()
        .map(|c| {
            (
                c.channel_id,
                address(c.a),
                address(c.b),
                tokens_to_units(c.deposit_a),
                tokens_to_units(c.deposit_b),
            )
        })
        .collect()
}

async fn node_channels(strategy: StrategyKind) -> BTreeSet<ChannelRow> {
    let chain = SimChain::builder()
        .seed(SEED)
        .block_time(Duration::from_secs(1))
        .gas_price(U256::from(1_000_000_000u64))
        .settle_timeout(10)
        .build();
    let start = tokio::time::Instant::now();
    let token = chain.deploy_test_token();
    let network = chain
        .execute_now(chain.our_address(), &Transaction::RegisterToken { token })
        .unwrap()
        .token_network
        .unwrap();
    let funds = tokens_to_units(100.0);
    let ten_eth = U256::from(10u64) * U256::from(10u64).pow(U256::from(18));
    let params = ConnectionParams {
        partner_selection: strategy,
        funds,
        initial_channel_target: 2,
        joinable_funds_target: JoinableFraction::from_f64(0.4).unwrap(),
    };
    let mut nodes = Vec::new();
    for index in 1..=NODES {
        let account = chain.create_account(index, ten_eth);
        nodes.push(Node::builder(chain.for_account(account)).seed(SEED).start());
    }
    for (i, node) in nodes.iter().enumerate() {
        let arrival = start + Duration::from_millis(500 + i as u64 * GAP_SECONDS * 1000);
        tokio::time::sleep_until(arrival).await;
        chain.mint(token, node.address(), funds).unwrap();
        node.join(token, params).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(GAP_SECONDS)).await;
    chain.with_ledger(|ledger| {
        ledger
            .token_network(&network)
            .unwrap()
            .channels()
            .map(|c| {
                let [p1, p2] = c.participants;
                (c.id.0, p1.address, p2.address, p1.deposit, p2.deposit)
            })
            .collect()
    })
}

/// The channels between nodes (the first node's bootstrap channel is in the node's ledger
/// but not in the simulator's edge list) from both, compared.
async fn same_channels(strategy: StrategyKind) -> BTreeSet<ChannelRow> {
    let scenario = scenario(strategy);
    let simulated = simulated_channels(&scenario);
    let real = node_channels(strategy).await;
    let bootstrap = tokennet::types::BOOTSTRAP_ADDRESS;
    let real: BTreeSet<ChannelRow> = real
        .into_iter()
        .filter(|(_, a, b, _, _)| *a != bootstrap && *b != bootstrap)
        .collect();
    assert!(
        real.len() >= NODES as usize,
        "{strategy}: too few channels to compare: {real:?}"
    );
    assert_eq!(
        simulated, real,
        "{strategy}: the simulator (left) and the node (right)"
    );
    real
}

#[tokio::test(start_paused = true)]
async fn the_simulator_and_the_node_open_the_same_channels_with_the_same_deposits() {
    same_channels(StrategyKind::Uniform).await;
}

#[tokio::test(start_paused = true)]
async fn with_preferential_attachment_too() {
    same_channels(StrategyKind::PreferentialAttachment).await;
}

#[tokio::test(start_paused = true)]
async fn with_highest_capacity_too() {
    same_channels(StrategyKind::HighestCapacity).await;
}

#[tokio::test(start_paused = true)]
async fn with_closeness_too() {
    same_channels(StrategyKind::Closeness).await;
}

#[tokio::test(start_paused = true)]
async fn with_betweenness_too() {
    same_channels(StrategyKind::Betweenness).await;
}

/// The strategies do choose differently: were the node or the simulator to ignore
/// `partner_selection`, the comparisons above could pass with uniform choices on both sides.
#[tokio::test(start_paused = true)]
async fn the_strategies_grow_different_networks() {
    let mut networks = Vec::new();
    for strategy in StrategyKind::ALL {
        let pairs: BTreeSet<(Address, Address)> = same_channels(strategy)
            .await
            .into_iter()
            .map(|(_, a, b, _, _)| (a.min(b), a.max(b)))
            .collect();
        networks.push((strategy, pairs));
    }
    let uniform = &networks[0].1;
    for (strategy, pairs) in &networks[1..] {
        assert_ne!(pairs, uniform, "{strategy} chose as uniform did");
    }
}
