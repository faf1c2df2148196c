//! No close or settle race (issue 9, SPEC §3.1) on a real chain: our contracts on anvil,
//! the nodes in-process with their own keys, every transaction of every node's account
//! read back from anvil with its receipt.
//!
//! Before the fix, both participants of a closed channel sent `settleChannel` as soon as
//! the window opened and the second reverted; and of two partners leaving at once, the
//! one whose `closeChannel` of their shared channel came second answered 500.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use alloy::sol_types::SolCall;
use common::anvil::{AnvilScenario, MinedTx};
use common::scenarios::{self, ScenarioNet};
use common::{call, e18, eventually};
use tokennet::chain::ethereum::contracts::ITokenNetwork;
use tokennet::types::{checksummed, Address, U256};
use warp::http::StatusCode;

/// Waits until anvil has mined `blocks` more blocks: time for every node to send what it
/// would send about the channels just closed and settled.
async fn let_blocks_pass(net: &AnvilScenario, blocks: u64) {
    let from = net.head().await;
    eventually(
        &format!("{blocks} more blocks after block {from}"),
        Duration::from_secs(60),
        || async { net.head().await >= from + blocks },
    )
    .await;
}

fn describe(txs: &[&MinedTx]) -> String {
    txs.iter()
        .map(|t| {
            format!(
                "{} from {} in block {} (selector {})",
                t.hash,
                checksummed(&t.from),
                t.block,
                alloy::hex::encode(t.input.get(..4).unwrap_or_default())
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The settles mined for each channel, by channel identifier.
fn settles_by_channel(mined: &[MinedTx]) -> HashMap<U256, Vec<&MinedTx>> {
    let mut settles: HashMap<U256, Vec<&MinedTx>> = HashMap::new();
    for tx in mined
        .iter()
        .filter(|t| t.calls(ITokenNetwork::settleChannelCall::SELECTOR))
    {
        if let Some(channel) = tx.channel_argument() {
            settles.entry(channel).or_default().push(tx);
        }
    }
    settles
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_four_node_join_then_leave_sends_no_transaction_that_reverts() {
    let mut net = AnvilScenario::start().await;
    scenarios::golden_join_and_leave(&mut net).await;
    // The partners' nodes saw A's closes; the window opened 3 s after them. Ten more
    // half-second blocks leave them the time to send a settle of their own.
    let_blocks_pass(&net, 10).await;

    let mined = net.mined_transactions(&net.accounts()).await;
    let reverted: Vec<&MinedTx> = mined.iter().filter(|t| !t.succeeded).collect();
    assert!(
        reverted.is_empty(),
        "{} of {} transactions reverted: {}",
        reverted.len(),
        mined.len(),
        describe(&reverted)
    );
    let settles = settles_by_channel(&mined);
    assert_eq!(settles.len(), 3, "A's three channels are settled");
    for (channel, txs) in &settles {
        assert_eq!(txs.len(), 1, "channel {channel}: {}", describe(txs));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_partners_leaving_at_once_both_answer_200_and_each_channel_is_settled_once() {
    let mut net = AnvilScenario::start().await;
    let one = e18();
    let share = 200_000_000_000_000_000u64;
    let p1 = net.account(one).await;
    let p2 = net.account(one).await;
    net.open_channel(p1, p2).await;
    // Running nodes for the other partners too: they see the closes and must not settle
    // what the closers settle.
    let _p1_node = net.node(p1).await;
    let _p2_node = net.node(p2).await;
    let a = net.account(one).await;
    let b = net.account(one).await;
    let node_a = net.node(a).await;
    let node_b = net.node(b).await;
    let token = checksummed(&net.token());
    let path = format!("/api/v1/connections/{token}");
    let join = r#"{"funds": "1000000000000000000", "initial_channel_target": 3, "joinable_funds_target": 0.4}"#;
    for node in [&node_a, &node_b] {
        let answer = call(node, "PUT", &path, Some(join)).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    }
    // The channel A–B funded by both (whichever of them opened it: B's join, or A's
    // retry on seeing B), and no deposit of either still in flight when mining pauses.
    let path_ab = format!("/api/v1/channels/{token}/{}", checksummed(&b));
    let path_ba = format!("/api/v1/channels/{token}/{}", checksummed(&a));
    eventually(
        "A and B each to have their share in the channel A–B",
        Duration::from_secs(30),
        || async {
            let ab = call(&node_a, "GET", &path_ab, None).await;
            let ba = call(&node_b, "GET", &path_ba, None).await;
            ab.body["total_deposit"].as_u64() == Some(share)
                && ba.body["total_deposit"].as_u64() == Some(share)
                && net.pending_transactions().await == 0
        },
    )
    .await;

    // Both leaves' closes in one block: each closes the channel A–B, and one of the two
    // closes reverts.
    net.set_mining_paused(true).await;
    let leaves: Vec<_> = [node_a.clone(), node_b.clone()]
        .into_iter()
        .map(|node| {
            let path = path.clone();
            tokio::spawn(async move { call(&node, "DELETE", &path, None).await })
        })
        .collect();
    eventually(
        "the six closes of both leaves",
        Duration::from_secs(20),
        || async { net.pending_transactions().await >= 6 },
    )
    .await;
    net.set_mining_paused(false).await;

    let mut answers = Vec::new();
    for leave in leaves {
        let answer = tokio::time::timeout(Duration::from_secs(90), leave)
            .await
            .expect("each leave answers once its channels are settled")
            .expect("leave task");
        answers.push(answer);
    }
    let sorted = |partners: &[Address]| {
        let mut partners: Vec<String> = partners.iter().map(checksummed).collect();
        partners.sort();
        partners
    };
    for (answer, expected) in answers
        .iter()
        .zip([sorted(&[p1, p2, b]), sorted(&[a, p1, p2])])
    {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let mut partners: Vec<String> =
            serde_json::from_value(answer.body.clone()).expect("partners");
        partners.sort();
        assert_eq!(partners, expected, "the partners of the closed channels");
    }
    for node in [&node_a, &node_b] {
        let channels = call(node, "GET", "/api/v1/channels", None).await;
        assert_eq!(channels.body, serde_json::json!([]), "no channel left");
    }
    assert_eq!(net.balance(a).await, one, "A has all its tokens back");
    assert_eq!(net.balance(b).await, one, "B has all its tokens back");

    let_blocks_pass(&net, 10).await;
    let mined = net.mined_transactions(&net.accounts()).await;
    let settles = settles_by_channel(&mined);
    assert_eq!(
        settles.len(),
        5,
        "A–p1, A–p2, A–B, B–p1 and B–p2 are settled"
    );
    for (channel, txs) in &settles {
        assert_eq!(
            txs.len(),
            1,
            "channel {channel} settled more than once: {}",
            describe(txs)
        );
        assert!(txs[0].succeeded, "{}", describe(txs));
    }
    // The race did happen: both closed A–B in one block, and the second close reverted;
    // no settle reverted. (The joins may race too, each opening A–B; that is the join's
    // own lost-race handling, not the leave's.)
    let reverted = |selector: [u8; 4]| -> Vec<&MinedTx> {
        mined
            .iter()
            .filter(|t| !t.succeeded && t.calls(selector))
            .collect()
    };
    let closes = reverted(ITokenNetwork::closeChannelCall::SELECTOR);
    assert_eq!(
        closes.len(),
        1,
        "the losing close of A–B: {}",
        describe(&closes)
    );
    let settles = reverted(ITokenNetwork::settleChannelCall::SELECTOR);
    assert!(
        settles.is_empty(),
        "reverted settles: {}",
        describe(&settles)
    );
}
