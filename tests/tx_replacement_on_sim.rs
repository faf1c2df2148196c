//! Stuck transactions on the simulated chain: a transaction held in the mempool by a
//! `NeverMine` fault is replaced (same nonce, higher fees) after `tx_replace_after`, the
//! replacement is mined and the join completes; when replacements are stuck too, they
//! stop at the fee cap and the join answers "not mined".

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::TestNet;
use tokennet::chain::sim::{Fault, FaultRule, SimChain};
use tokennet::chain::ChainError;
use tokennet::connection::ConnectionParams;
use tokennet::node::{Node, NodeError};
use tokennet::types::{Address, U256};

/// A network with two participants that have a channel, and us with tokens.
fn network() -> (TestNet, Address) {
    let net = TestNet::new();
    let a = net.account(U256::from(1_000u64));
    let b = net.account(U256::from(1_000u64));
    net.open_channel_now(a, b, U256::ZERO);
    let us = net.account(U256::from(1_000u64));
    (net, us)
}

async fn node(
    net: &TestNet,
    us: Address,
    datadir: &std::path::Path,
    tx_timeout: Duration,
    max_fee_per_gas: u128,
) -> Node<SimChain> {
    let node = Node::builder(net.chain.for_account(us))
        .tx_timeout(tx_timeout)
        .tx_replace_after(Duration::from_secs(1))
        .max_fee_per_gas(max_fee_per_gas)
        .seed(7)
        .datadir(datadir)
        .open()
        .await
        .unwrap();
    node.wait_ready().await;
    node
}

fn join_params() -> ConnectionParams {
    ConnectionParams {
        partner_selection: Default::default(),
        initial_channel_target: 2,
        ..ConnectionParams::with_funds(U256::from(100u64))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_is_never_mined_is_replaced_and_the_join_completes() {
    let (net, us) = network();
    let datadir = tempfile::tempdir().unwrap();
    let node = node(&net, us, datadir.path(), Duration::from_secs(20), u128::MAX).await;
    // One of the opens (the simulated chain does not hold later nonces behind a stuck
    // one, so the approve would let the opens revert for want of an allowance).
    net.chain.inject(
        FaultRule::once(Fault::NeverMine)
            .for_account(us)
            .for_transaction("openChannelWithDeposit"),
    );

    let joined = tokio::time::timeout(Duration::from_secs(30), node.join(net.token, join_params()))
        .await
        .expect("the join to end within 30 s");
    assert_eq!(joined, Ok(()));
    assert_eq!(
        net.chain.pending_transactions(),
        0,
        "nothing left in the mempool"
    );

    let entries = node.store().journal_entries().unwrap();
    let stuck = entries
        .iter()
        .find(|e| e.replaces.is_some())
        .unwrap_or_else(|| panic!("a replacement: {entries:#?}"));
    let stuck_nonce: Vec<_> = entries
        .iter()
        .filter(|e| e.purpose == stuck.purpose)
        .collect();
    assert_eq!(
        stuck_nonce.len(),
        2,
        "the open and its replacement: {entries:#?}"
    );
    assert_eq!(stuck_nonce[0].outcome.as_deref(), Some("replaced"));
    assert_eq!(stuck_nonce[1].outcome.as_deref(), Some("confirmed"));
    assert_eq!(stuck_nonce[1].replaces, Some(stuck_nonce[0].hash));
    assert_eq!(stuck_nonce[0].nonce, stuck_nonce[1].nonce);
    assert!(
        stuck_nonce[1].fees.max_fee_per_gas * 100 >= stuck_nonce[0].fees.max_fee_per_gas * 110,
        "{stuck_nonce:#?}"
    );
    assert!(
        entries
            .iter()
            .filter(|e| e.purpose != stuck.purpose)
            .all(|e| e.outcome.as_deref() == Some("confirmed") && e.replaces.is_none()),
        "the others, mined at once, were not replaced: {entries:#?}"
    );
    assert_eq!(
        entries.len(),
        4,
        "approve, two opens, one replacement: {entries:#?}"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacements_stop_at_the_cap_and_the_join_times_out() {
    let (net, us) = network();
    let datadir = tempfile::tempdir().unwrap();
    let gas_price: u128 = net.chain.config().gas_price.saturating_to();
    // Room for one raise of 15 % above the gas price, not for a second one.
    let cap = gas_price * 12 / 10;
    let node = node(&net, us, datadir.path(), Duration::from_secs(5), cap).await;
    // Both opens and their replacements are never mined.
    net.chain.inject(
        FaultRule::once(Fault::NeverMine)
            .for_account(us)
            .for_transaction("openChannelWithDeposit")
            .times(10),
    );

    let joined = tokio::time::timeout(Duration::from_secs(30), node.join(net.token, join_params()))
        .await
        .expect("the join to end within 30 s");
    match joined {
        Err(NodeError::Chain(ChainError::NotMined { transaction, .. })) => {
            assert_eq!(transaction, "openChannelWithDeposit")
        }
        other => panic!("expected an open not mined, got {other:?}"),
    }
    let entries = node.store().journal_entries().unwrap();
    assert!(
        entries.iter().all(|e| e.fees.max_fee_per_gas <= cap),
        "nothing above the cap: {entries:#?}"
    );
    let replacements: Vec<_> = entries.iter().filter(|e| e.replaces.is_some()).collect();
    assert_eq!(
        replacements.len(),
        2,
        "each open replaced once, then no room under the cap: {entries:#?}"
    );
    assert!(replacements.iter().all(|e| e.outcome.is_none()));
    assert_eq!(
        net.chain.pending_transactions(),
        2,
        "the two replacements wait"
    );
    node.shutdown().await;
}
