//! The real `EthChain` and a real `Node<EthChain>` against a scripted JSON-RPC endpoint
//! (`common::mock_rpc`, on wiremock), for the faults a real node does not produce on
//! demand. Each test drives the REST API and checks the status of SPEC §2.3/§2.7, that the
//! `{"errors": …}` body names the cause, and that the node still answers its GETs.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::time::{Duration, Instant};

use alloy::signers::local::PrivateKeySigner;
use common::call;
use common::mock_rpc::{Fault, MockChain, START_BLOCK};
use serde_json::json;
use tokennet::chain::ethereum::{EthChain, EthConfig};
use tokennet::node::Node;
use tokennet::types::{checksummed, Address, B256, BOOTSTRAP_ADDRESS, U256};
use warp::http::StatusCode;

/// The tx timeout of the nodes here: short, so that a 408 comes quickly.
const TX_TIMEOUT: Duration = Duration::from_secs(2);

/// One token, in base units.
fn one_token() -> U256 {
    U256::from(10u64).pow(U256::from(18))
}

fn signer() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).unwrap()
}

/// A mock endpoint where we hold 1000 tokens, and a ready node on it.
async fn setup() -> (MockChain, Node<EthChain>) {
    let mock = mock().await;
    let node = node_on(&mock).await;
    (mock, node)
}

/// A mock endpoint where we hold 1000 tokens.
async fn mock() -> MockChain {
    MockChain::start(signer().address(), one_token() * U256::from(1000u64)).await
}

/// A node on `mock`, started and caught up with it.
async fn node_on(mock: &MockChain) -> Node<EthChain> {
    let chain = EthChain::connect(
        EthConfig {
            rpc_url: mock.uri(),
            registry: mock.contracts().registry,
            start_block: START_BLOCK,
            confirmation_blocks: 0,
            poll_interval: Duration::from_millis(100),
        },
        signer(),
    )
    .await
    .unwrap();
    let node = Node::builder(chain).tx_timeout(TX_TIMEOUT).seed(7).start();
    tokio::time::timeout(Duration::from_secs(5), node.wait_ready())
        .await
        .expect("the node follows the mock chain");
    node
}

fn connection_path(mock: &MockChain) -> String {
    format!(
        "/api/v1/connections/{}",
        checksummed(&mock.contracts().token)
    )
}

const JOIN: &str = r#"{"funds": "1000000000000000000", "initial_channel_target": 3}"#;

/// After a failure the node still serves its GETs; returns `GET /connections`.
async fn assert_still_serving(node: &Node<EthChain>) -> serde_json::Value {
    let connections = call(node, "GET", "/api/v1/connections", None).await;
    assert_eq!(connections.status, StatusCode::OK, "{}", connections.text);
    let status = call(node, "GET", "/api/v1/status", None).await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.text);
    assert_eq!(status.body, json!({ "status": "ready" }));
    connections.body
}

/// A receipt that never comes: the join answers 408 naming the transaction, once the tx
/// timeout has passed and not much later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_that_never_comes_answers_408_within_the_tx_timeout() {
    let (mock, node) = setup().await;
    mock.never_mine();

    let started = Instant::now();
    let answer = call(&node, "PUT", &connection_path(&mock), Some(JOIN)).await;
    let elapsed = started.elapsed();

    let sent = mock.sent();
    assert_eq!(sent.len(), 1, "the bootstrap open only: {sent:?}");
    answer.assert_error(StatusCode::REQUEST_TIMEOUT, "openChannel");
    answer.assert_error(StatusCode::REQUEST_TIMEOUT, &sent[0].hash.to_string());
    answer.assert_error(StatusCode::REQUEST_TIMEOUT, "not mined within 2s");
    assert!(
        elapsed >= TX_TIMEOUT && elapsed < TX_TIMEOUT + Duration::from_secs(2),
        "answered after {elapsed:?} with a tx timeout of {TX_TIMEOUT:?}"
    );
    assert!(
        mock.calls("eth_getTransactionReceipt") >= 2,
        "receipt polled"
    );
    assert_eq!(assert_still_serving(&node).await, json!({}));
}

/// The endpoint refuses the transaction for lack of ETH (the gas reserve check passed,
/// since `eth_getBalance` reports 10 ETH): 402 naming the transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_refused_for_insufficient_funds_answers_402() {
    let (mock, node) = setup().await;
    mock.refuse_transactions(Some("insufficient funds for gas * price + value"));

    let answer = call(&node, "PUT", &connection_path(&mock), Some(JOIN)).await;
    answer.assert_error(
        StatusCode::PAYMENT_REQUIRED,
        "insufficient ETH for openChannel",
    );
    assert!(mock.calls("eth_sendRawTransaction") >= 1);
    assert!(mock.sent().is_empty());
    assert_eq!(assert_still_serving(&node).await, json!({}));

    // Once the account can pay again, the same join goes through.
    mock.refuse_transactions(None);
    let answer = call(&node, "PUT", &connection_path(&mock), Some(JOIN)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
}

/// Reads that fail a few times (HTTP 5xx, a body that is not JSON, a response without
/// `result`, a JSON-RPC error) and then succeed are retried: the join succeeds, and its bootstrap channel
/// (learned from the mock's `ChannelOpened` log) shows in `GET /connections`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_read_failures_are_retried_and_the_join_succeeds() {
    let (mock, node) = setup().await;
    // READ_ATTEMPTS is 4: three failures of one read are within the budget.
    mock.fail_next(
        "balanceOf",
        [Fault::Http(503), Fault::Http(503), Fault::Http(503)],
    );
    mock.fail_next(
        "eth_gasPrice",
        [Fault::NotJson, Fault::MissingResult, Fault::Http(502)],
    );
    mock.fail_next(
        "eth_getBalance",
        [Fault::MissingResult, Fault::RpcError, Fault::Http(500)],
    );

    let answer = call(&node, "PUT", &connection_path(&mock), Some(JOIN)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    // The join's first balanceOf took 4 calls, the one of *open channels* 1 (and a
    // retry the bootstrap channel's event may start reads once more).
    assert!(mock.calls("balanceOf") >= 5);
    assert!(mock.calls("eth_gasPrice") >= 4);
    assert!(mock.calls("eth_getBalance") >= 4);

    let sent = mock.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].to, mock.contracts().token_network);
    let connections = assert_still_serving(&node).await;
    let token = checksummed(&mock.contracts().token);
    assert_eq!(connections[&token]["channels"], json!(1), "{connections}");
    let channels = call(&node, "GET", "/api/v1/channels", None).await;
    assert_eq!(
        channels.body[0]["partner_address"],
        json!(checksummed(&BOOTSTRAP_ADDRESS)),
        "{}",
        channels.text
    );
}

/// Reads that fail beyond the retry budget answer 500 naming the read and the RPC
/// failure; the node keeps serving, and joins again once the endpoint recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_failures_beyond_the_retry_budget_answer_500_and_the_node_stays_up() {
    let (mock, node) = setup().await;
    let path = connection_path(&mock);

    mock.fail_next("balanceOf", [Fault::Http(503); 4]);
    let answer = call(&node, "PUT", &path, Some(JOIN)).await;
    answer.assert_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "chain RPC failed: balanceOf failed 4 times: HTTP error 503",
    );
    assert_eq!(
        mock.calls("balanceOf"),
        4,
        "every attempt of the budget used"
    );
    assert_eq!(assert_still_serving(&node).await, json!({}));

    mock.fail_next("eth_getBalance", [Fault::MissingResult; 4]);
    let answer = call(&node, "PUT", &path, Some(JOIN)).await;
    answer.assert_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "eth_getBalance failed 4 times",
    );
    answer.assert_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "missing field `result or error`",
    );
    assert_eq!(assert_still_serving(&node).await, json!({}));

    mock.fail_next("eth_gasPrice", [Fault::NotJson; 4]);
    let answer = call(&node, "PUT", &path, Some(JOIN)).await;
    answer.assert_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "eth_gasPrice failed 4 times",
    );
    answer.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "502 Bad Gateway");
    assert_eq!(assert_still_serving(&node).await, json!({}));
    assert!(mock.sent().is_empty(), "no transaction after a failed read");

    let answer = call(&node, "PUT", &path, Some(JOIN)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
}

/// A receipt with status 0: the join answers 500 naming the reverted transaction and the
/// reason the replay gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverted_transaction_answers_500_naming_the_revert() {
    // Two participants, so that the join approves and opens with deposits.
    let mock = mock().await;
    let (p1, p2) = (Address::repeat_byte(0x51), Address::repeat_byte(0x52));
    mock.open_channel_between(p1, p2);
    let node = node_on(&mock).await;
    mock.revert_everything("allowance exceeded");

    let answer = call(&node, "PUT", &connection_path(&mock), Some(JOIN)).await;
    let sent = mock.sent();
    assert_eq!(sent.len(), 3, "approve and two opens: {sent:?}");
    assert!(sent.iter().all(|tx| tx.reverted));
    answer.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "approve");
    answer.assert_error(StatusCode::INTERNAL_SERVER_ERROR, &sent[0].hash.to_string());
    answer.assert_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "reverted: server returned an error response",
    );
    answer.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "allowance exceeded");
    assert_eq!(assert_still_serving(&node).await, json!({}));
}
