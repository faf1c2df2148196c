//! Stuck transactions on a real anvil: blocks come only when the test mines them. The
//! node's first offers wait until it replaces them (same nonce, fees raised 15 %); then
//! every block has a base fee the test sets just above the first offers
//! (`anvil_setNextBlockBaseFeePerGas`), which anvil would evict, and below the
//! replacements. The join completes through the replacements, and the journal shows,
//! for each nonce, the replaced transaction and the confirmed one. With no block at all
//! and a low fee cap, the replacements stop at the cap and the join answers "not mined"
//! (408) at its tx timeout.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use alloy::consensus::Transaction as _;
use alloy::providers::{Provider, RootProvider};
use common::anvil::AnvilNet;
use common::eventually;
use serde_json::{json, Value};
use tokennet::chain::ethereum::{EthChain, EthConfig};
use tokennet::chain::fees::WEI_PER_GWEI;
use tokennet::chain::{Chain, ChainError};
use tokennet::connection::ConnectionParams;
use tokennet::node::store::JournalEntry;
use tokennet::node::{Node, NodeError};
use tokennet::types::{Address, U256};

/// Our dev account (it has sent nothing before the node runs).
const OURS: usize = 5;
/// How long a transaction waits before the node replaces it.
const REPLACE_AFTER: Duration = Duration::from_secs(1);

async fn raw(provider: &RootProvider, method: &'static str, params: Value) -> Value {
    provider
        .raw_request(method.into(), params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// Anvil with two participants that have a channel, tokens for us, and then no block
/// unless the test mines one.
async fn congested_anvil() -> (AnvilNet, RootProvider) {
    let net = AnvilNet::start(0.5, 30).await;
    let provider = RootProvider::new_http(net.anvil.endpoint().parse().unwrap());
    let (chain, pending) = net.send_open(1, net.signer(2).address()).await;
    chain.confirm(&pending).await.unwrap();
    net.give_tokens(OURS, U256::from(1_000u64)).await;
    // A block on top, so that a node counting one confirmation sees the channel.
    let head = provider.get_block_number().await.unwrap();
    eventually(
        "a block on top of the participants' channel",
        Duration::from_secs(10),
        || async { provider.get_block_number().await.unwrap() > head },
    )
    .await;
    raw(&provider, "evm_setIntervalMining", json!([0])).await;
    raw(&provider, "evm_setAutomine", json!([false])).await;
    (net, provider)
}

/// Mines a block every 200 ms, each with `base_fee`, until dropped.
struct FeePressure(tokio::task::JoinHandle<()>);

impl FeePressure {
    fn start(provider: RootProvider, base_fee: u128) -> Self {
        Self(tokio::spawn(async move {
            loop {
                raw(
                    &provider,
                    "anvil_setNextBlockBaseFeePerGas",
                    json!([format!("{base_fee:#x}")]),
                )
                .await;
                raw(&provider, "evm_mine", json!([])).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }))
    }
}

impl Drop for FeePressure {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Our node, with its state on disk (an in-memory journal forgets resolved entries).
async fn node(
    net: &AnvilNet,
    datadir: &std::path::Path,
    tx_timeout: Duration,
    max_fee_per_gas: u128,
) -> Node<EthChain> {
    let chain = EthChain::connect(
        EthConfig {
            rpc_url: net.anvil.endpoint(),
            registry: net.deployment.token_network_registry,
            start_block: net.deployment.start_block,
            confirmation_blocks: 1,
            poll_interval: Duration::from_millis(100),
        },
        net.signer(OURS),
    )
    .await
    .unwrap();
    let node = Node::builder(chain)
        .tx_timeout(tx_timeout)
        .tx_replace_after(REPLACE_AFTER)
        .max_fee_per_gas(max_fee_per_gas)
        .seed(3)
        .datadir(datadir)
        .open()
        .await
        .unwrap();
    node.wait_ready().await;
    node
}

/// A join of 100 tokens with two channels: an approve and two opens.
fn join_params() -> ConnectionParams {
    ConnectionParams {
        partner_selection: Default::default(),
        initial_channel_target: 2,
        ..ConnectionParams::with_funds(U256::from(100u64))
    }
}

/// Starts the join in a task of its own; returns once its three first offers are in the
/// mempool, with their journal entries.
async fn start_join(
    node: &Node<EthChain>,
    token: Address,
) -> (
    tokio::task::JoinHandle<Result<(), NodeError>>,
    Vec<JournalEntry>,
) {
    let joining = node.clone();
    let join = tokio::spawn(async move { joining.join(token, join_params()).await });
    eventually(
        "the join's approve and two opens in the journal",
        Duration::from_secs(20),
        || async { node.store().journal_entries().unwrap().len() >= 3 },
    )
    .await;
    let first = node.store().journal_entries().unwrap();
    for entry in &first {
        assert!(entry.replaces.is_none(), "first offers: {first:?}");
        assert!(
            !entry.fees.legacy,
            "anvil has a base fee: EIP-1559 offers expected, got {:?}",
            entry.fees
        );
    }
    (join, first)
}

/// The journal by nonce.
fn by_nonce(entries: &[JournalEntry]) -> BTreeMap<u64, Vec<JournalEntry>> {
    let mut nonces: BTreeMap<u64, Vec<JournalEntry>> = BTreeMap::new();
    for entry in entries {
        nonces.entry(entry.nonce).or_default().push(entry.clone());
    }
    nonces
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_stuck_below_the_base_fee_completes_through_replacements() {
    let (net, provider) = congested_anvil().await;
    let datadir = tempfile::tempdir().unwrap();
    let node = node(
        &net,
        datadir.path(),
        Duration::from_secs(30),
        1_000 * WEI_PER_GWEI,
    )
    .await;
    let (join, first) = start_join(&node, net.token).await;
    // No block for a while: after --tx-replace-after each first offer is replaced.
    eventually(
        "a replacement of each of the three first offers",
        Duration::from_secs(15),
        || async {
            let entries = node.store().journal_entries().unwrap();
            first
                .iter()
                .all(|f| entries.iter().any(|e| e.replaces == Some(f.hash)))
        },
    )
    .await;
    // Then blocks with a base fee above every first offer (7 %), below the replacements
    // (at least 10 % more): only a replacement can be mined.
    let first_offer = first.iter().map(|e| e.fees.max_fee_per_gas).max().unwrap();
    let base_fee = first_offer * 107 / 100;
    let _pressure = FeePressure::start(provider.clone(), base_fee);

    let result = tokio::time::timeout(Duration::from_secs(60), join)
        .await
        .expect("the join to end within 60 s")
        .unwrap();
    assert_eq!(
        result.map_err(|e| e.to_string()),
        Ok(()),
        "the join completes through replacements; journal: {:#?}",
        node.store().journal_entries().unwrap()
    );

    let entries = node.store().journal_entries().unwrap();
    let nonces = by_nonce(&entries);
    assert_eq!(nonces.len(), 3, "three nonces: {entries:#?}");
    for (nonce, group) in &nonces {
        let confirmed: Vec<&JournalEntry> = group
            .iter()
            .filter(|e| e.outcome.as_deref() == Some("confirmed"))
            .collect();
        assert_eq!(
            confirmed.len(),
            1,
            "nonce {nonce}: one confirmed: {group:#?}"
        );
        let winner = confirmed[0];
        let replaced: Vec<&JournalEntry> = group
            .iter()
            .filter(|e| e.outcome.as_deref() == Some("replaced"))
            .collect();
        assert!(
            !replaced.is_empty() && replaced.len() + 1 == group.len(),
            "nonce {nonce}: the others replaced: {group:#?}"
        );
        assert!(
            first.iter().any(|f| f.hash == replaced[0].hash),
            "nonce {nonce}: the first offer was replaced: {group:#?}"
        );
        // Every replacement names the one it replaces, all of the nonce and purpose.
        for entry in group {
            assert_eq!(entry.purpose, group[0].purpose);
            if let Some(earlier) = entry.replaces {
                let earlier = group.iter().find(|e| e.hash == earlier).unwrap_or_else(|| {
                    panic!("nonce {nonce}: {entry:?} replaces an entry of its nonce")
                });
                assert!(
                    entry.fees.max_fee_per_gas * 100 >= earlier.fees.max_fee_per_gas * 110
                        && entry.fees.max_priority_fee_per_gas * 100
                            >= earlier.fees.max_priority_fee_per_gas * 110,
                    "nonce {nonce}: both fees raised by 10 % at least: {earlier:?} → {entry:?}"
                );
            }
        }
        assert!(winner.replaces.is_some(), "nonce {nonce}: {group:#?}");
        // On chain: the winner, with a fee cap above the base fee.
        let mined = provider
            .get_transaction_by_hash(winner.hash)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("nonce {nonce}: the winner on chain"));
        assert_eq!(mined.nonce(), *nonce);
        assert!(mined.block_number.is_some(), "nonce {nonce}: mined");
        assert!(
            mined.max_fee_per_gas() >= base_fee,
            "nonce {nonce}: {mined:?}"
        );
    }
    let used = provider
        .get_transaction_count(net.signer(OURS).address())
        .await
        .unwrap();
    assert_eq!(used, 3, "three nonces used on chain");
    eprintln!(
        "join through replacements: {} journal entries for 3 nonces",
        entries.len()
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacements_never_offer_more_than_the_cap() {
    let (net, provider) = congested_anvil().await;
    let datadir = tempfile::tempdir().unwrap();
    // No block comes, so the node's first offer is what the latest block asks for now
    // (2 × base fee + tip); the cap leaves room for about four bumps of 15 %.
    let latest = provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap();
    let base_fee = u128::from(latest.header.base_fee_per_gas.unwrap());
    let tip = provider.get_max_priority_fee_per_gas().await.unwrap();
    let cap = (2 * base_fee + tip) * 17 / 10;
    let node = node(&net, datadir.path(), Duration::from_secs(10), cap).await;
    let (join, first) = start_join(&node, net.token).await;
    for entry in &first {
        assert!(
            entry.fees.max_fee_per_gas < cap,
            "the first offer is below the cap: {first:?}"
        );
    }
    // No block at all: each period the node outbids itself by 15 %, up to the cap, and
    // then waits until the tx timeout.

    let result = tokio::time::timeout(Duration::from_secs(60), join)
        .await
        .expect("the join to end within 60 s")
        .unwrap();
    match result {
        Err(NodeError::Chain(ChainError::NotMined { .. })) => {}
        other => panic!("expected not mined (408) at the cap, got {other:?}"),
    }
    let entries = node.store().journal_entries().unwrap();
    for (nonce, group) in by_nonce(&entries) {
        assert!(
            group.iter().all(|e| e.fees.max_fee_per_gas <= cap),
            "nonce {nonce}: nothing above the cap: {group:#?}"
        );
        let last = group.last().unwrap();
        assert!(
            last.replaces.is_some() && last.fees.max_fee_per_gas == cap,
            "nonce {nonce}: replaced up to the cap exactly: {group:#?}"
        );
        assert!(
            group.iter().all(|e| e.outcome.is_none()),
            "nonce {nonce}: nothing mined, nothing resolved: {group:#?}"
        );
    }
    // The mempool holds only offers within the cap, and nothing of ours was mined.
    let content = raw(&provider, "txpool_content", json!([])).await;
    let ours = format!("{}", net.signer(OURS).address());
    let pending = content["pending"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(from, _)| from.eq_ignore_ascii_case(&ours))
        .map(|(_, txs)| txs.as_object().unwrap().clone())
        .unwrap_or_default();
    assert_eq!(pending.len(), 3, "our three transactions wait: {content}");
    for tx in pending.values() {
        let max_fee = u128::from_str_radix(
            tx["maxFeePerGas"]
                .as_str()
                .unwrap()
                .trim_start_matches("0x"),
            16,
        )
        .unwrap();
        assert!(max_fee <= cap, "{tx}");
    }
    assert_eq!(
        provider
            .get_transaction_count(net.signer(OURS).address())
            .await
            .unwrap(),
        0
    );
    node.shutdown().await;
}
