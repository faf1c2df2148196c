//! The decision log (SPEC §2.8): `GET /api/v1/connections/<token>/decisions` serves what
//! the node recorded, newest first, in pages; its status codes; and, after a join and a
//! leave on the simulated chain, the log holds every decision they made, each with the
//! numbers that reproduce its amount, and a restart on the same `--datadir` serves the
//! same records.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{call, e18, http_call, serve_http, TestNet};
use serde_json::Value;
use tokennet::chain::sim::SimChain;
use tokennet::connection::strategy::StrategyKind;
use tokennet::connection::{Decision, DecisionInputs, DecisionKind, JoinableFraction};
use tokennet::node::Node;
use tokennet::types::{checksummed, Address, ChannelId, U256};
use warp::http::StatusCode;

fn decisions_path(token: &Address) -> String {
    format!("/api/v1/connections/{}/decisions", checksummed(token))
}

/// 10^15: a thousandth of a token of 18 decimals.
const MILLI: u64 = 1_000_000_000_000_000;

/// Decision `n` of a made-up log: kinds in turn; every third one without partner,
/// channel or amount (as a `retry` has none), the others with all three.
fn made_up(n: u64) -> Decision {
    let kind = DecisionKind::ALL[n as usize % DecisionKind::ALL.len()];
    let mut decision = Decision::new(kind, StrategyKind::PreferentialAttachment);
    if !n.is_multiple_of(3) {
        decision.partner = Some(Address::repeat_byte(0x5a));
        decision.channel_id = Some(ChannelId(n));
        decision.amount = Some(U256::from(n * MILLI));
    }
    decision.inputs = DecisionInputs {
        funds: Some(U256::from(3 * n * MILLI)),
        per_partner: Some(U256::from(n * MILLI)),
        initial_channel_target: Some(3),
        joinable_funds_target: JoinableFraction::from_f64(0.4).ok(),
        eligible: Some(41),
        ..DecisionInputs::default()
    };
    decision
}

/// The decision of `made_up(n)` as the API must answer it (all but `id`, `time`, `block`).
fn expected_json(n: u64) -> Value {
    let decision = made_up(n);
    let mut object = serde_json::json!({
        "kind": decision.kind.as_str(),
        "strategy": "preferential_attachment",
        "reason": decision.reason(),
        "inputs": {
            "funds": 3 * n * MILLI,
            "per_partner": n * MILLI,
            "initial_channel_target": 3,
            "joinable_funds_target": 0.4,
            "eligible": 41,
        },
    });
    if !n.is_multiple_of(3) {
        object["partner_address"] = Value::from(checksummed(&Address::repeat_byte(0x5a)));
        object["channel_identifier"] = Value::from(n);
        object["amount"] = Value::from(n * MILLI);
    }
    object
}

/// `record` without the fields the node sets when it records (`id`, `time`, `block`).
fn without_stamp(record: &Value) -> Value {
    let mut record = record.clone();
    let object = record.as_object_mut().expect("a record is an object");
    for key in ["id", "time", "block"] {
        object.remove(key);
    }
    record
}

fn ids(page: &Value) -> Vec<u64> {
    page.as_array()
        .expect("an array of records")
        .iter()
        .map(|record| record["id"].as_u64().expect("an id"))
        .collect()
}

fn fast_net() -> TestNet {
    TestNet::with(
        SimChain::builder()
            .block_time(Duration::from_millis(50))
            .settle_timeout(1),
    )
}

#[tokio::test]
async fn recorded_decisions_are_served_over_http_newest_first_in_pages() {
    let net = fast_net();
    let node = net.node(net.account(e18()));
    node.wait_ready().await;
    let server = serve_http(&node).await;
    let path = decisions_path(&net.token);

    let empty = http_call(&server, "GET", &path, None).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
    assert_eq!(empty.body, serde_json::json!([]));

    // 150 decisions in batches, as the runtime records them: 1..=150, oldest first.
    let total = 150;
    for batch in (1..=total).collect::<Vec<u64>>().chunks(7) {
        let decisions: Vec<Decision> = batch.iter().copied().map(made_up).collect();
        node.record_decisions(net.token_network, &decisions);
    }

    // Default page: the newest 100, newest first, each as recorded.
    let page = http_call(&server, "GET", &path, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let records = page.body.as_array().expect("an array");
    assert_eq!(records.len(), 100, "the default limit");
    for (record, n) in records.iter().zip((1..=total).rev()) {
        assert_eq!(without_stamp(record), expected_json(n), "decision {n}");
        let time = record["time"].as_str().expect("a time");
        assert!(
            humantime::parse_rfc3339(time).is_ok() && time.ends_with('Z'),
            "RFC 3339 UTC: {time}"
        );
        assert!(record["block"].is_u64(), "{record}");
    }
    let all_ids = ids(&page.body);
    assert!(
        all_ids.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first: {all_ids:?}"
    );

    // Pages of 40 with `before`: every record once, in order, then an empty page.
    let mut seen = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let query = match before {
            Some(id) => format!("{path}?limit=40&before={id}"),
            None => format!("{path}?limit=40"),
        };
        let page = http_call(&server, "GET", &query, None).await;
        assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.text);
        let page_ids = ids(&page.body);
        assert!(page_ids.len() <= 40);
        if page_ids.is_empty() {
            break;
        }
        for record in page.body.as_array().expect("an array") {
            seen.push(without_stamp(record));
        }
        before = page_ids.last().copied();
    }
    let expected: Vec<Value> = (1..=total).rev().map(expected_json).collect();
    assert_eq!(seen.len(), expected.len());
    assert_eq!(seen, expected);

    let everything = http_call(&server, "GET", &format!("{path}?limit=1000"), None).await;
    assert_eq!(ids(&everything.body).len(), total as usize);
    // Amounts past 2^64 are integers written exactly, as everywhere in the API.
    let mut big = made_up(1);
    big.amount = Some(U256::from(10u64).pow(U256::from(30)) + U256::from(7));
    node.record_decisions(net.token_network, &[big]);
    let newest = http_call(&server, "GET", &format!("{path}?limit=1"), None).await;
    assert!(
        newest
            .text
            .contains(r#""amount":1000000000000000000000000000007"#),
        "{}",
        newest.text
    );
}

#[tokio::test(start_paused = true)]
async fn the_decision_log_answers_the_status_codes_of_the_spec() {
    let net = TestNet::new();
    let node = net.node(net.account(e18()));
    node.wait_ready().await;
    node.record_decisions(net.token_network, &[made_up(1), made_up(2)]);
    let path = decisions_path(&net.token);
    let token = checksummed(&net.token);

    let answer = call(&node, "GET", &path, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(ids(&answer.body).len(), 2);
    // Parameters it does not know are ignored (clients add cache busters).
    let answer = call(&node, "GET", &format!("{path}?limit=1&_=1234"), None).await;
    assert_eq!(ids(&answer.body).len(), 1, "{}", answer.text);

    // 404: the address in the path, or a token without a token network.
    let unregistered = checksummed(&Address::repeat_byte(0x11));
    for (address, needle) in [
        (token.to_lowercase(), "Not a valid EIP55 encoded address"),
        (token[2..].to_owned(), "0x prefix missing"),
        ("0x12".to_owned(), "Could not decode hex"),
        (
            unregistered.clone(),
            &*format!("No token network for token {unregistered}"),
        ),
    ] {
        let answer = call(
            &node,
            "GET",
            &format!("/api/v1/connections/{address}/decisions"),
            None,
        )
        .await;
        answer.assert_error(StatusCode::NOT_FOUND, needle);
    }

    // 409: a limit or a `before` that is no valid number, naming the parameter.
    for (query, named) in [
        ("limit=0", "'limit'"),
        ("limit=1001", "'limit'"),
        ("limit=abc", "'limit'"),
        ("limit=1.5", "'limit'"),
        ("limit=", "'limit'"),
        ("limit=5&limit=6", "'limit'"),
        ("before=0", "'before'"),
        ("before=-1", "'before'"),
        ("before=ten", "'before'"),
        ("before=99999999999999999999", "'before'"),
    ] {
        let answer = call(&node, "GET", &format!("{path}?{query}"), None).await;
        answer.assert_error(StatusCode::CONFLICT, named);
    }
    // The limit bounds hold: 1000 is allowed.
    let answer = call(&node, "GET", &format!("{path}?limit=1000"), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);

    // 405: the log is read-only.
    for method in ["PUT", "POST", "DELETE", "PATCH"] {
        let answer = call(&node, method, &path, None).await;
        answer.assert_error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    }
}

// ---------------------------------------------------------------------------------------
// The decisions of a join and a leave, and a restart

/// `value` (a JSON integer) as a token amount.
#[track_caller]
fn amount(value: &Value) -> U256 {
    let digits = value
        .as_u64()
        .map(|v| v.to_string())
        .unwrap_or_else(|| panic!("not an integer amount: {value}"));
    U256::from_str_radix(&digits, 10).expect("digits")
}

/// Input `name` of `record` as an amount.
#[track_caller]
fn input(record: &Value, name: &str) -> U256 {
    let value = &record["inputs"][name];
    assert!(!value.is_null(), "input {name} missing from {record}");
    amount(value)
}

/// `funds × (1 − joinable) / target`, computed from the inputs of `record` alone, as the
/// SPEC states it (joinable in billionths, rounded, as the API reads it).
#[track_caller]
fn share_from_inputs(record: &Value) -> U256 {
    let funds = input(record, "funds");
    let target = input(record, "initial_channel_target");
    let joinable = record["inputs"]["joinable_funds_target"]
        .as_f64()
        .unwrap_or_else(|| panic!("joinable_funds_target missing from {record}"));
    let billion = U256::from(1_000_000_000u64);
    let kept = billion - U256::from((joinable * 1e9).round() as u64);
    funds * kept / billion / target
}

/// A node for `account` whose state lives in `datadir`, caught up with the chain.
async fn node_with_datadir(
    net: &TestNet,
    account: Address,
    datadir: &std::path::Path,
) -> Node<SimChain> {
    let node = Node::builder(net.chain.for_account(account))
        .tx_timeout(Duration::from_secs(120))
        .seed(7)
        .datadir(datadir)
        .open()
        .await
        .expect("the node opens its datadir");
    node.wait_ready().await;
    node
}

async fn log(node: &Node<SimChain>, token: &Address) -> Vec<Value> {
    let answer = call(
        node,
        "GET",
        &format!("{}?limit=1000", decisions_path(token)),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body.as_array().expect("an array").clone()
}

#[tokio::test(start_paused = true)]
async fn a_join_and_a_leave_leave_their_decisions_in_the_log_and_a_restart_keeps_them() {
    let net = TestNet::new();
    let one = e18();
    let share = one / U256::from(5);
    // Two peers with a channel, running nodes without a connection manager.
    let p1 = net.account(one);
    let p2 = net.account(one);
    net.open_channel_now(p1, p2, U256::ZERO);
    let _p1_node = net.node(p1);
    let _p2_node = net.node(p2);
    let a = net.account(one);
    let b = net.account(one);
    let datadir = tempfile::tempdir().expect("a temporary directory");
    std::fs::set_permissions(
        datadir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("a private datadir");
    let node_a = node_with_datadir(&net, a, datadir.path()).await;
    let node_b = net.node(b);
    node_b.wait_ready().await;
    let token = checksummed(&net.token);
    let join = r#"{"funds": "1000000000000000000", "initial_channel_target": 3, "joinable_funds_target": 0.4}"#;

    // A opens two channels (to the peers); B opens three, one to A, which A funds.
    let answer = call(
        &node_a,
        "PUT",
        &format!("/api/v1/connections/{token}"),
        Some(join),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let answer = call(
        &node_b,
        "PUT",
        &format!("/api/v1/connections/{token}"),
        Some(join),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    common::eventually(
        "A to fund the channel B opened",
        Duration::from_secs(30),
        || async {
            node_a
                .channel(net.token, b)
                .is_ok_and(|c| c.channel.our_deposit == share)
        },
    )
    .await;
    let channels: BTreeMap<Address, u64> = node_a
        .channels(Some(net.token))
        .iter()
        .map(|c| (c.channel.partner, c.channel.id.0))
        .collect();
    assert_eq!(channels.len(), 3, "A's channels: {channels:?}");

    let answer = call(
        &node_a,
        "DELETE",
        &format!("/api/v1/connections/{token}"),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(
        node_a.channels(Some(net.token)).is_empty(),
        "every channel settled"
    );

    let records = log(&node_a, &net.token).await;
    let summary: Vec<String> = records
        .iter()
        .map(|r| format!("{} {} {}", r["id"], r["kind"], r["reason"]))
        .collect();
    let summary = summary.join("\n");
    let all_ids: Vec<u64> = ids(&Value::Array(records.clone()));
    assert!(
        all_ids.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first:\n{summary}"
    );
    let of_kind =
        |kind: &str| -> Vec<&Value> { records.iter().filter(|r| r["kind"] == kind).collect() };
    let partner_of = |record: &Value| -> Address {
        record["partner_address"]
            .as_str()
            .unwrap_or_else(|| panic!("no partner in {record}"))
            .parse()
            .expect("an address")
    };
    let channel_of = |record: &Value| -> u64 {
        record["channel_identifier"]
            .as_u64()
            .unwrap_or_else(|| panic!("no channel in {record}"))
    };

    for record in &records {
        assert!(
            record["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "a reason: {record}"
        );
        assert!(
            record["inputs"].as_object().is_some_and(|i| !i.is_empty()),
            "inputs: {record}"
        );
        assert_eq!(record["strategy"], "uniform", "{record}");
    }

    // One `open` per channel A opened, its deposit the share computed from its inputs.
    let opens = of_kind("open");
    let opened: BTreeSet<Address> = opens.iter().map(|r| partner_of(r)).collect();
    assert_eq!(
        opened,
        BTreeSet::from([p1, p2]),
        "one open per channel A opened:\n{summary}"
    );
    assert_eq!(opens.len(), 2, "one open per channel A opened:\n{summary}");
    for open in &opens {
        let per_partner = input(open, "per_partner");
        assert_eq!(per_partner, share_from_inputs(open), "{open}");
        assert_eq!(per_partner, share, "{open}");
        assert_eq!(amount(&open["amount"]), per_partner, "{open}");
    }

    // One `match` for the channel B opened and A funded. Its amount comes from one of two
    // rules, and its inputs say which: joining a partner's deposit gives
    // min(partner deposit, our deposit + funds remaining, share); a retry that counts
    // B's channel toward A's target tops it up to the share.
    let matches = of_kind("match");
    assert_eq!(matches.len(), 1, "one match:\n{summary}");
    let matched = matches[0];
    assert_eq!(partner_of(matched), b);
    assert_eq!(channel_of(matched), channels[&b]);
    let reproduced = if matched["inputs"].get("partner_deposit").is_some() {
        input(matched, "partner_deposit")
            .min(input(matched, "our_deposit") + input(matched, "funds_remaining"))
            .min(input(matched, "per_partner"))
    } else {
        share_from_inputs(matched)
    };
    assert_eq!(amount(&matched["amount"]), reproduced, "{matched}");
    assert_eq!(reproduced, share);
    assert_eq!(input(matched, "per_partner"), share_from_inputs(matched));

    // A `close` and a `settle` per channel, the close first; an amount they carry is
    // one of their inputs (our deposit).
    for kind in ["close", "settle"] {
        let per_channel: BTreeMap<u64, Address> = of_kind(kind)
            .iter()
            .map(|r| (channel_of(r), partner_of(r)))
            .collect();
        let expected: BTreeMap<u64, Address> = channels
            .iter()
            .map(|(partner, id)| (*id, *partner))
            .collect();
        assert_eq!(per_channel, expected, "one {kind} per channel:\n{summary}");
        assert_eq!(of_kind(kind).len(), 3, "one {kind} per channel:\n{summary}");
        for record in of_kind(kind) {
            if let Some(value) = record.get("amount") {
                let inputs = record["inputs"].as_object().expect("inputs");
                assert!(
                    inputs.values().any(|input| input == value),
                    "the amount of {record} is none of its inputs"
                );
            }
        }
    }
    for id in channels.values() {
        let id_of = |kind: &str| {
            of_kind(kind)
                .iter()
                .find(|r| channel_of(r) == *id)
                .and_then(|r| r["id"].as_u64())
                .expect("a record")
        };
        assert!(id_of("close") < id_of("settle"), "channel {id}:\n{summary}");
    }
    let newest_open = opens.iter().filter_map(|r| r["id"].as_u64()).max();
    let oldest_close = of_kind("close")
        .iter()
        .filter_map(|r| r["id"].as_u64())
        .min();
    assert!(
        newest_open < oldest_close,
        "opens before closes:\n{summary}"
    );

    // A restart on the same datadir serves the same records.
    node_a.shutdown().await;
    drop(node_a);
    let restarted = node_with_datadir(&net, a, datadir.path()).await;
    assert_eq!(
        log(&restarted, &net.token).await,
        records,
        "the log after the restart"
    );
    restarted.shutdown().await;
}
