//! The scenario suite, generic over the chain: the same functions run on the simulated
//! chain (virtual time) and on our contracts on anvil (real time). Each test binary calls
//! them with the network it builds.

use std::time::Duration;

use serde_json::Value;
use tokennet::chain::Chain;
use tokennet::connection::strategy::StrategyKind;
use tokennet::connection::ConnectionParams;
use tokennet::node::Node;
use tokennet::types::{checksummed, Address, U256};
use warp::http::StatusCode;

use super::{call, e18, eventually};

/// What a scenario needs of a chain under test.
#[allow(async_fn_in_trait)] // used in this test crate only, with concrete types
pub trait ScenarioNet {
    /// The chain the nodes run on.
    type C: Chain;
    /// The test token (its network registered).
    fn token(&self) -> Address;
    /// Its token network.
    fn token_network(&self) -> Address;
    /// A second registered test token, in a network with no channels yet.
    async fn second_token(&mut self) -> Address;
    /// A new account holding `tokens` of each test token, with enough ETH.
    async fn account(&mut self, tokens: U256) -> Address;
    /// A started node for `account`, caught up with the chain.
    async fn node(&mut self, account: Address) -> Node<Self::C>;
    /// Opens a channel from `a` to `b` in the test token's network, without deposits.
    async fn open_channel(&mut self, a: Address, b: Address);
    /// Stops or resumes including transactions in blocks.
    async fn set_mining_paused(&self, paused: bool);
    /// Transactions sent and not yet mined.
    async fn pending_transactions(&self) -> usize;
    /// Test-token balance of `owner` on chain.
    async fn balance(&self, owner: Address) -> U256;
}

fn channels_of(body: &Value) -> Vec<(String, u64)> {
    let mut rows: Vec<(String, u64)> = body
        .as_array()
        .expect("an array of channels")
        .iter()
        .map(|c| {
            (
                c["partner_address"].as_str().expect("partner").to_owned(),
                c["total_deposit"].as_u64().expect("deposit"),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Raiden's join-and-leave golden case: two peers with a channel; A joins with 10^18,
/// target 3, joinable 0.4 → two channels of 0.2·10^18; B joins → three channels of
/// 0.2·10^18 and A deposits as much into the one B opened to it; A leaves → 200 with the
/// partners, every channel settled, every token back where it belongs.
pub async fn golden_join_and_leave<N: ScenarioNet>(net: &mut N) {
    let one = e18();
    let share = one / U256::from(5);
    let share_u64 = 200_000_000_000_000_000u64;
    let p1 = net.account(one).await;
    let p2 = net.account(one).await;
    net.open_channel(p1, p2).await;
    // The peers run nodes without a connection manager: they react as real peers do
    // (settle what a partner closes) but fund nothing themselves.
    let _p1_node = net.node(p1).await;
    let _p2_node = net.node(p2).await;
    let a = net.account(one).await;
    let b = net.account(one).await;
    let node_a = net.node(a).await;
    let node_b = net.node(b).await;
    let token = checksummed(&net.token());
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
    let mut expected = vec![(checksummed(&p1), share_u64), (checksummed(&p2), share_u64)];
    expected.sort();
    assert_eq!(channels_of(&channels.body), expected);

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
        .map(|p| (checksummed(p), share_u64))
        .collect();
    expected_b.sort();
    assert_eq!(channels_of(&channels.body), expected_b);

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
    assert_eq!(net.balance(a).await, one - share * U256::from(3));

    let answer = call(
        &node_a,
        "DELETE",
        &format!("/api/v1/connections/{token}"),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let mut partners: Vec<String> = serde_json::from_value(answer.body).expect("partners");
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
    // On chain: A has every token back; only B's two shares in the peers' channels are
    // still held by the token network; the peers have what they had.
    assert_eq!(net.balance(a).await, one, "A has all its tokens back");
    assert_eq!(net.balance(b).await, one - share * U256::from(2));
    assert_eq!(
        net.balance(net.token_network()).await,
        share * U256::from(2)
    );
    assert_eq!(
        net.balance(p1).await + net.balance(p2).await,
        one * U256::from(2)
    );
}

/// `count` peers with channels between pairs of them, so that they are participants.
async fn peers<N: ScenarioNet>(net: &mut N, count: usize) -> Vec<Address> {
    let mut peers = Vec::with_capacity(count);
    for _ in 0..count {
        peers.push(net.account(e18()).await);
    }
    for pair in peers.chunks(2) {
        if let [a, b] = pair {
            net.open_channel(*a, *b).await;
        }
    }
    peers
}

/// GETs and calls for another token do not wait for a join in progress: while a join's
/// transactions wait to be mined, a GET answers at once and a join of another token
/// sends its own transactions without waiting for the first join.
pub async fn other_tokens_do_not_wait<N: ScenarioNet>(net: &mut N) {
    let other_token = net.second_token().await;
    peers(net, 4).await;
    let us = net.account(e18()).await;
    let node = net.node(us).await;

    net.set_mining_paused(true).await;
    let slow_node = node.clone();
    let slow_path = format!("/api/v1/connections/{}", checksummed(&net.token()));
    let slow = tokio::spawn(async move {
        call(&slow_node, "PUT", &slow_path, Some(r#"{"funds": 1000}"#)).await
    });
    // Its approve and three opens are sent, and wait.
    eventually(
        "the first join's transactions",
        Duration::from_secs(20),
        || async { net.pending_transactions().await >= 4 },
    )
    .await;

    let started = tokio::time::Instant::now();
    let answer = call(&node, "GET", "/api/v1/connections", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "GET waited {:?} for the join",
        started.elapsed()
    );

    let other_node = node.clone();
    let other_path = format!("/api/v1/connections/{}", checksummed(&other_token));
    let other = tokio::spawn(async move {
        call(&other_node, "PUT", &other_path, Some(r#"{"funds": 1000}"#)).await
    });
    // The other token's join (an empty network: one bootstrap channel) sends its
    // transaction while the first join is still waiting.
    eventually(
        "the other token's transaction",
        Duration::from_secs(20),
        || async { net.pending_transactions().await >= 5 },
    )
    .await;
    assert!(
        !slow.is_finished(),
        "the first join should still be waiting"
    );

    net.set_mining_paused(false).await;
    let first = slow.await.expect("first join");
    assert_eq!(first.status, StatusCode::NO_CONTENT, "{}", first.text);
    let second = other.await.expect("other join");
    assert_eq!(second.status, StatusCode::NO_CONTENT, "{}", second.text);
}

/// Two joins of one token run one after the other: the second sends nothing until the
/// first is done, and then tops up the first one's channels instead of choosing three
/// more partners.
pub async fn joins_of_one_token_queue<N: ScenarioNet>(net: &mut N) {
    peers(net, 8).await;
    let us = net.account(U256::from(10_000)).await;
    let node = net.node(us).await;
    let path = format!("/api/v1/connections/{}", checksummed(&net.token()));

    net.set_mining_paused(true).await;
    let first_node = node.clone();
    let first_path = path.clone();
    let first = tokio::spawn(async move {
        call(&first_node, "PUT", &first_path, Some(r#"{"funds": 500}"#)).await
    });
    eventually(
        "the first join's transactions",
        Duration::from_secs(20),
        || async { net.pending_transactions().await >= 4 },
    )
    .await;
    let second_node = node.clone();
    let second_path = path.clone();
    let second = tokio::spawn(async move {
        call(
            &second_node,
            "PUT",
            &second_path,
            Some(r#"{"funds": 1000}"#),
        )
        .await
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        net.pending_transactions().await,
        4,
        "the second join sent transactions before the first was done"
    );
    assert!(!first.is_finished() && !second.is_finished());

    net.set_mining_paused(false).await;
    let first = first.await.expect("first join");
    assert_eq!(first.status, StatusCode::NO_CONTENT, "{}", first.text);
    let second = second.await.expect("second join");
    assert_eq!(second.status, StatusCode::NO_CONTENT, "{}", second.text);

    let channels = call(
        &node,
        "GET",
        &format!("/api/v1/channels/{}", checksummed(&net.token())),
        None,
    )
    .await;
    let deposits: Vec<u64> = channels_of(&channels.body)
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    assert_eq!(deposits, vec![200, 200, 200], "{}", channels.text);
    let connections = call(&node, "GET", "/api/v1/connections", None).await;
    assert_eq!(
        connections.body[checksummed(&net.token())],
        serde_json::json!({"funds": 1000, "sum_deposits": 600, "channels": 3})
    );
}

/// A join with each partner-selection strategy (SPEC §3.1, set through the connection's
/// `partner_selection`) opens its channels only to eligible partners: participants of the
/// network, each once, never the node itself, the bootstrap address or a partner it
/// already has. `highest_capacity` joins first, while every participant's capacity is 0:
/// it must then take the eligible participants with the smallest addresses, which a node
/// choosing uniformly (whatever its connection says) would not.
pub async fn each_strategy_joins_eligible_partners<N: ScenarioNet>(net: &mut N) {
    let token = net.token();
    let mut participants: Vec<Address> = peers(net, 6).await;
    let mut kinds = vec![StrategyKind::HighestCapacity];
    kinds.extend(
        StrategyKind::ALL
            .into_iter()
            .filter(|k| *k != StrategyKind::HighestCapacity),
    );
    for kind in kinds {
        let us = net.account(e18()).await;
        // A channel to the first peer already: the join must not open a second one.
        let existing = participants[0];
        net.open_channel(us, existing).await;
        let node = net.node(us).await;
        let params = ConnectionParams {
            partner_selection: kind,
            ..ConnectionParams::with_funds(e18())
        };
        node.join(token, params).await.expect("join");
        let channels = call(
            &node,
            "GET",
            &format!("/api/v1/channels/{}", checksummed(&token)),
            None,
        )
        .await;
        let partners: Vec<String> = channels_of(&channels.body)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        let mut new: Vec<Address> = partners
            .iter()
            .map(|p| p.parse().expect("an address"))
            .filter(|p| *p != existing)
            .collect();
        assert_eq!(
            partners.len(),
            3,
            "{kind}: three channels: {}",
            channels.text
        );
        assert_eq!(
            new.len(),
            2,
            "{kind}: the existing partner once, two new: {}",
            channels.text
        );
        for partner in &new {
            assert!(
                participants.contains(partner),
                "{kind}: {partner} is no participant"
            );
            assert!(
                *partner != us && *partner != tokennet::types::BOOTSTRAP_ADDRESS,
                "{kind}"
            );
        }
        if kind == StrategyKind::HighestCapacity {
            let mut smallest: Vec<Address> = participants[1..].to_vec();
            smallest.sort();
            smallest.truncate(2);
            new.sort();
            assert_eq!(
                new, smallest,
                "{kind}: every capacity is 0, so the smallest addresses"
            );
        }
        participants.push(us);
    }
}
