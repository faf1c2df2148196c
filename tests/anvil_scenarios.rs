//! The scenario suite of `scenario_join_leave.rs`, unchanged, on a real chain: our
//! contracts on anvil (spawned from contracts/node_modules), each node in-process with
//! its own key, the REST API driven through the whole warp stack, balances read on chain.

mod common;

use common::anvil::AnvilScenario;
use common::scenarios;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raiden_golden_join_and_leave_on_anvil() {
    scenarios::golden_join_and_leave(&mut AnvilScenario::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_other_tokens_do_not_wait_for_a_join_on_anvil() {
    scenarios::other_tokens_do_not_wait(&mut AnvilScenario::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_joins_of_one_token_run_one_after_the_other_on_anvil() {
    scenarios::joins_of_one_token_queue(&mut AnvilScenario::start().await).await;
}

/// What real chains do: a transaction dropped from the mempool. The join answers with an
/// error that says so (instead of waiting for its timeout), the node stays up, and the
/// next join goes through: the local nonce does not stay stuck behind the gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_transaction_fails_the_call_and_the_next_call_succeeds() {
    use common::scenarios::ScenarioNet;
    use std::time::Duration;
    use tokennet::types::checksummed;
    use warp::http::StatusCode;

    let mut net = AnvilScenario::start().await;
    let us = net.account(common::e18()).await;
    let node = net.node(us).await;
    let path = format!("/api/v1/connections/{}", checksummed(&net.token()));

    net.set_mining_paused(true).await;
    let joining = node.clone();
    let join_path = path.clone();
    let join = tokio::spawn(async move {
        common::call(&joining, "PUT", &join_path, Some(r#"{"funds": 1000}"#)).await
    });
    common::eventually(
        "the join's transaction",
        Duration::from_secs(20),
        || async { net.pending_transactions().await >= 1 },
    )
    .await;
    net.raw("anvil_dropAllTransactions", serde_json::json!([]))
        .await;
    let answer = tokio::time::timeout(Duration::from_secs(20), join)
        .await
        .expect("the call answers well before its 30 s tx timeout")
        .expect("join task");
    answer.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "dropped or replaced");

    net.set_mining_paused(false).await;
    let answer = common::call(&node, "PUT", &path, Some(r#"{"funds": 1000}"#)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let status = common::call(&node, "GET", "/api/v1/status", None).await;
    assert_eq!(status.body["status"], "ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_with_each_strategy_opens_channels_only_to_eligible_partners_on_anvil() {
    scenarios::each_strategy_joins_eligible_partners(&mut AnvilScenario::start().await).await;
}
