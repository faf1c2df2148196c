//! Every row of the status-code table (SPEC §2.7), produced through the REST API on the
//! simulated chain: in memory through the whole warp stack on virtual time, and a few over
//! real HTTP on the wall clock. Each test checks the status and that the
//! `{"errors": "…"}` body names the problem.

mod common;

use std::time::Duration;

use common::{call, e18, http_call, serve_http, Answer, TestNet};
use serde_json::json;
use tokennet::chain::gas::{gas_reserve, ReserveInputs, GAS};
use tokennet::chain::sim::{Fault, FaultRule, Latency, SimChain, DEFAULT_GAS_PRICE_WEI};
use tokennet::connection::strategy::StrategyKind;
use tokennet::node::Node;
use tokennet::types::{checksummed, Address, U256};
use warp::http::StatusCode;

// ---------------------------------------------------------------------------------------
// Set-up helpers

/// `n` peer accounts with one token each and a channel chain between them (p1–p2, p2–p3,
/// …), so that every one of them is a participant of the token network.
fn peers(net: &TestNet, n: usize) -> Vec<Address> {
    let peers: Vec<Address> = (0..n).map(|_| net.account(e18())).collect();
    for pair in peers.windows(2) {
        net.open_channel_now(pair[0], pair[1], U256::ZERO);
    }
    peers
}

/// A new account with `tokens` and 10 ETH, and its node, caught up with the chain.
async fn ready_node(net: &TestNet, tokens: U256) -> (Address, Node<SimChain>) {
    let account = net.account(tokens);
    let node = net.node(account);
    node.wait_ready().await;
    (account, node)
}

fn connection_path(net: &TestNet) -> String {
    format!("/api/v1/connections/{}", net.token_path())
}

/// A valid join body: `funds` token units, target `target`, nothing held back.
fn join_body(funds: u64, target: u32) -> String {
    json!({"funds": funds, "initial_channel_target": target, "joinable_funds_target": 0.0})
        .to_string()
}

#[track_caller]
fn assert_status(answer: &Answer, status: StatusCode) {
    assert_eq!(answer.status, status, "body: {}", answer.text);
}

/// Text that is not a checksummed address: the EIP-55 form with every letter's case
/// flipped (for an address with at least one letter, its checksum fails).
fn flip_case(checksummed: &str) -> String {
    let digits: String = checksummed[2..]
        .chars()
        .map(|c| {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect();
    format!("0x{digits}")
}

/// The routes that take an address in the path, for an address text `addr`: PUT and
/// DELETE on `/connections/<addr>` and GET on `/channels/<addr>` (and a few more).
fn address_routes(addr: &str) -> Vec<(&'static str, String, Option<&'static str>)> {
    vec![
        (
            "PUT",
            format!("/api/v1/connections/{addr}"),
            Some(r#"{"funds": 1}"#),
        ),
        ("DELETE", format!("/api/v1/connections/{addr}"), None),
        ("GET", format!("/api/v1/connections/{addr}"), None),
        (
            "POST",
            format!("/api/v1/connections/{addr}/plan"),
            Some(r#"{"funds": 1}"#),
        ),
        ("GET", format!("/api/v1/channels/{addr}"), None),
        ("GET", format!("/api/v1/tokens/{addr}"), None),
        ("GET", format!("/api/v1/tokens/{addr}/partners"), None),
        ("PUT", format!("/api/v1/tokens/{addr}"), None),
    ]
}

/// Checks that every address route answers 404 naming `reason` for the address text
/// `addr`, and that nothing was sent to the chain.
async fn assert_invalid_address(addr: &str, reason: &str) {
    let net = TestNet::new();
    let (_, node) = ready_node(&net, e18()).await;
    let head = net.chain.head().number;
    for (method, path, body) in address_routes(addr) {
        let answer = call(&node, method, &path, body).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            answer.text
        );
        answer.assert_error(StatusCode::NOT_FOUND, reason);
    }
    assert_eq!(
        net.chain.head().number,
        head,
        "an invalid address sends nothing"
    );
    assert_eq!(
        call(&node, "GET", "/api/v1/channels", None).await.body,
        json!([])
    );
}

// ---------------------------------------------------------------------------------------
// 200, 201, 204

#[tokio::test(start_paused = true)]
async fn join_answers_204_with_an_empty_body() {
    let net = TestNet::new();
    let partners = peers(&net, 2);
    let (account, node) = ready_node(&net, U256::from(1000)).await;

    let answer = call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(&join_body(100, 2)),
    )
    .await;
    assert_status(&answer, StatusCode::NO_CONTENT);
    assert!(answer.text.is_empty(), "204 has no body: {:?}", answer.text);
    // Every transaction of the join is mined when the answer comes.
    assert_eq!(net.balance(account), U256::from(900));
    let channels = call(&node, "GET", "/api/v1/channels", None).await;
    let mut seen: Vec<&str> = channels
        .body
        .as_array()
        .expect("an array")
        .iter()
        .map(|c| c["partner_address"].as_str().expect("a partner"))
        .collect();
    seen.sort_unstable();
    let mut expected: Vec<String> = partners.iter().map(checksummed).collect();
    expected.sort();
    assert_eq!(seen, expected);
}

#[tokio::test(start_paused = true)]
async fn every_get_endpoint_answers_200() {
    let net = TestNet::new();
    let partners = peers(&net, 2);
    let (account, node) = ready_node(&net, U256::from(1000)).await;
    let token = net.token_path();
    let answer = call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(&join_body(100, 2)),
    )
    .await;
    assert_status(&answer, StatusCode::NO_CONTENT);

    let connections = call(&node, "GET", "/api/v1/connections", None).await;
    assert_status(&connections, StatusCode::OK);
    assert_eq!(
        connections.body,
        json!({ token.clone(): {"funds": 100, "sum_deposits": 100, "channels": 2} })
    );

    let address = call(&node, "GET", "/api/v1/address", None).await;
    assert_status(&address, StatusCode::OK);
    assert_eq!(address.body, json!({"our_address": checksummed(&account)}));

    let version = call(&node, "GET", "/api/v1/version", None).await;
    assert_status(&version, StatusCode::OK);
    assert_eq!(version.body, json!({"version": env!("CARGO_PKG_VERSION")}));

    let status = call(&node, "GET", "/api/v1/status", None).await;
    assert_status(&status, StatusCode::OK);
    assert_eq!(status.body, json!({"status": "ready"}));

    let tokens = call(&node, "GET", "/api/v1/tokens", None).await;
    assert_status(&tokens, StatusCode::OK);
    assert_eq!(tokens.body, json!([token.clone()]));

    let network = call(&node, "GET", &format!("/api/v1/tokens/{token}"), None).await;
    assert_status(&network, StatusCode::OK);
    assert_eq!(network.body, json!(checksummed(&net.token_network)));

    let listed = call(
        &node,
        "GET",
        &format!("/api/v1/tokens/{token}/partners"),
        None,
    )
    .await;
    assert_status(&listed, StatusCode::OK);
    let mut listed: Vec<(String, String)> = listed
        .body
        .as_array()
        .expect("an array")
        .iter()
        .map(|p| {
            (
                p["partner_address"]
                    .as_str()
                    .expect("partner_address")
                    .to_owned(),
                p["channel"].as_str().expect("channel").to_owned(),
            )
        })
        .collect();
    listed.sort();
    let mut expected: Vec<(String, String)> = partners
        .iter()
        .map(|p| {
            (
                checksummed(p),
                format!("/api/v1/channels/{token}/{}", checksummed(p)),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(listed, expected);

    let all = call(&node, "GET", "/api/v1/channels", None).await;
    assert_status(&all, StatusCode::OK);
    assert_eq!(all.body.as_array().expect("an array").len(), 2);

    let of_token = call(&node, "GET", &format!("/api/v1/channels/{token}"), None).await;
    assert_status(&of_token, StatusCode::OK);
    assert_eq!(of_token.body, all.body);

    let partner = checksummed(&partners[0]);
    let one = call(
        &node,
        "GET",
        &format!("/api/v1/channels/{token}/{partner}"),
        None,
    )
    .await;
    assert_status(&one, StatusCode::OK);
    assert_eq!(one.body["partner_address"], json!(partner));
    assert_eq!(one.body["token_address"], json!(token));
    assert_eq!(
        one.body["token_network_address"],
        json!(checksummed(&net.token_network))
    );
    assert_eq!(one.body["state"], json!("opened"));
    assert_eq!(one.body["total_deposit"], json!(50));
    assert_eq!(one.body["balance"], json!(50));
    assert_eq!(one.body["settle_timeout"], json!(10));
}

#[tokio::test(start_paused = true)]
async fn get_endpoints_answer_200_before_any_join() {
    let net = TestNet::new();
    let (_, node) = ready_node(&net, e18()).await;
    let token = net.token_path();
    for (path, expected) in [
        ("/api/v1/connections".to_owned(), json!({})),
        ("/api/v1/channels".to_owned(), json!([])),
        (format!("/api/v1/channels/{token}"), json!([])),
        (format!("/api/v1/tokens/{token}/partners"), json!([])),
    ] {
        let answer = call(&node, "GET", &path, None).await;
        assert_status(&answer, StatusCode::OK);
        assert_eq!(answer.body, expected, "GET {path}");
    }
}

#[tokio::test(start_paused = true)]
async fn registering_a_new_token_answers_201() {
    let net = TestNet::new();
    let (_, node) = ready_node(&net, e18()).await;
    let new_token = net.chain.deploy_test_token();
    let path = format!("/api/v1/tokens/{}", checksummed(&new_token));

    let answer = call(&node, "PUT", &path, None).await;
    assert_status(&answer, StatusCode::CREATED);
    let network = net
        .chain
        .with_ledger(|ledger| ledger.token_network_of(&new_token))
        .expect("the registry has the new network");
    assert_eq!(
        answer.body,
        json!({"token_network_address": checksummed(&network)})
    );

    // The node knows it at once: the answer came after the view caught up.
    let lookup = call(&node, "GET", &path, None).await;
    assert_status(&lookup, StatusCode::OK);
    assert_eq!(lookup.body, json!(checksummed(&network)));
    let tokens = call(&node, "GET", "/api/v1/tokens", None).await;
    assert_eq!(
        tokens.body,
        json!([net.token_path(), checksummed(&new_token)])
    );
}

#[tokio::test(start_paused = true)]
async fn leave_answers_200_with_the_closed_partners() {
    let net = TestNet::new();
    let partners = peers(&net, 2);
    let (account, node) = ready_node(&net, U256::from(1000)).await;
    let answer = call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(&join_body(100, 2)),
    )
    .await;
    assert_status(&answer, StatusCode::NO_CONTENT);

    let answer = call(&node, "DELETE", &connection_path(&net), None).await;
    assert_status(&answer, StatusCode::OK);
    let mut closed: Vec<String> =
        serde_json::from_value(answer.body).expect("an array of addresses");
    closed.sort();
    let mut expected: Vec<String> = partners.iter().map(checksummed).collect();
    expected.sort();
    assert_eq!(closed, expected);
    assert_eq!(
        net.balance(account),
        U256::from(1000),
        "every deposit is back"
    );
    assert_eq!(
        call(&node, "GET", "/api/v1/connections", None).await.body,
        json!({})
    );
}

#[tokio::test(start_paused = true)]
async fn leave_without_channels_answers_200_with_an_empty_array() {
    let net = TestNet::new();
    let (_, node) = ready_node(&net, e18()).await;
    let answer = call(&node, "DELETE", &connection_path(&net), None).await;
    assert_status(&answer, StatusCode::OK);
    assert_eq!(answer.body, json!([]));
}

// ---------------------------------------------------------------------------------------
// 402

#[tokio::test(start_paused = true)]
async fn join_below_the_gas_reserve_answers_402_naming_the_reserve() {
    let net = TestNet::new();
    peers(&net, 3);
    let account = net.account_with_eth(U256::from(1000), U256::from(1000));
    let node = net.node(account);
    node.wait_ready().await;

    let required = gas_reserve(
        &GAS,
        U256::from(DEFAULT_GAS_PRICE_WEI),
        ReserveInputs {
            channels_to_open: 3,
            open_channels: 0,
            closed_channels: 0,
        },
    );
    let body = r#"{"funds": 300, "initial_channel_target": 3}"#;
    let answer = call(&node, "PUT", &connection_path(&net), Some(body)).await;
    answer.assert_error(
        StatusCode::PAYMENT_REQUIRED,
        &format!("at least {required} wei is required"),
    );
    answer.assert_error(
        StatusCode::PAYMENT_REQUIRED,
        "estimated amount necessary to finish the lifecycles",
    );
    assert_eq!(
        call(&node, "GET", "/api/v1/channels", None).await.body,
        json!([]),
        "nothing was opened"
    );
    assert_eq!(net.balance(account), U256::from(1000));

    // One wei short of the reserve is still refused; exactly the reserve is enough.
    net.chain.set_eth_balance(account, required - U256::from(1));
    let answer = call(&node, "PUT", &connection_path(&net), Some(body)).await;
    answer.assert_error(
        StatusCode::PAYMENT_REQUIRED,
        &format!("at least {required} wei"),
    );
    net.chain.set_eth_balance(account, required);
    let answer = call(&node, "PUT", &connection_path(&net), Some(body)).await;
    assert_status(&answer, StatusCode::NO_CONTENT);
}

#[tokio::test(start_paused = true)]
async fn leave_without_eth_for_the_close_answers_402_and_can_be_resumed() {
    let net = TestNet::new();
    let partner = net.account(e18());
    let account = net.account(U256::from(1000));
    net.open_channel_now(account, partner, U256::from(10));
    let node = net.node(account);
    node.wait_ready().await;
    net.chain.set_eth_balance(account, U256::ZERO);

    let answer = call(&node, "DELETE", &connection_path(&net), None).await;
    answer.assert_error(
        StatusCode::PAYMENT_REQUIRED,
        "insufficient ETH for closeChannel",
    );
    assert_status(
        &call(&node, "GET", "/api/v1/connections", None).await,
        StatusCode::OK,
    );

    net.chain.set_eth_balance(account, e18());
    let answer = call(&node, "DELETE", &connection_path(&net), None).await;
    assert_status(&answer, StatusCode::OK);
    assert_eq!(answer.body, json!([checksummed(&partner)]));
    assert_eq!(net.balance(account), U256::from(1000));
}

#[tokio::test(start_paused = true)]
async fn registering_a_token_without_eth_for_the_transaction_answers_402() {
    let net = TestNet::new();
    let account = net.account_with_eth(U256::ZERO, U256::from(1000));
    let node = net.node(account);
    node.wait_ready().await;
    let new_token = net.chain.deploy_test_token();

    let answer = call(
        &node,
        "PUT",
        &format!("/api/v1/tokens/{}", checksummed(&new_token)),
        None,
    )
    .await;
    answer.assert_error(
        StatusCode::PAYMENT_REQUIRED,
        "insufficient ETH for createERC20TokenNetwork",
    );
    assert!(net
        .chain
        .with_ledger(|l| l.token_network_of(&new_token))
        .is_none());
}

// ---------------------------------------------------------------------------------------
// 408

#[tokio::test(start_paused = true)]
async fn join_slower_than_the_tx_timeout_answers_408_naming_the_transaction() {
    let net = TestNet::new();
    peers(&net, 2);
    let account = net.account(U256::from(1000));
    let node = net.node_with_timeout(account, Duration::from_secs(5));
    node.wait_ready().await;
    net.chain
        .set_latency(Some(account), Latency::Fixed(Duration::from_secs(60)));

    let started = tokio::time::Instant::now();
    let answer = call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(&join_body(100, 2)),
    )
    .await;
    let waited = started.elapsed();
    answer.assert_error(StatusCode::REQUEST_TIMEOUT, "transaction approve 0x");
    answer.assert_error(StatusCode::REQUEST_TIMEOUT, "was not mined within 5s");
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_secs(60),
        "answered after {waited:?}, expected the 5 s tx timeout"
    );

    // The node still answers.
    let status = call(&node, "GET", "/api/v1/status", None).await;
    assert_status(&status, StatusCode::OK);
    assert_eq!(status.body, json!({"status": "ready"}));
    assert_status(
        &call(&node, "GET", "/api/v1/connections", None).await,
        StatusCode::OK,
    );

    // Once the slow transactions are mined, the same join goes through.
    net.chain
        .set_latency(Some(account), Latency::Fixed(Duration::ZERO));
    tokio::time::sleep(Duration::from_secs(60)).await;
    let answer = call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(&join_body(100, 2)),
    )
    .await;
    assert_status(&answer, StatusCode::NO_CONTENT);
    let connections = call(&node, "GET", "/api/v1/connections", None).await;
    assert_eq!(connections.body[net.token_path()]["channels"], json!(2));
}

#[tokio::test(start_paused = true)]
async fn join_with_a_never_mined_transaction_answers_408() {
    // Nobody else in the network: the join opens the bootstrap channel, one openChannel.
    let net = TestNet::new();
    let account = net.account(U256::from(1000));
    let node = net.node_with_timeout(account, Duration::from_secs(5));
    node.wait_ready().await;
    net.chain
        .inject(FaultRule::once(Fault::NeverMine).for_account(account));

    let answer = call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(&join_body(100, 3)),
    )
    .await;
    answer.assert_error(StatusCode::REQUEST_TIMEOUT, "transaction openChannel 0x");
    answer.assert_error(StatusCode::REQUEST_TIMEOUT, "not mined within 5s");

    let status = call(&node, "GET", "/api/v1/status", None).await;
    assert_status(&status, StatusCode::OK);
    let connections = call(&node, "GET", "/api/v1/connections", None).await;
    assert_status(&connections, StatusCode::OK);
    assert_eq!(
        connections.body,
        json!({}),
        "the bootstrap channel was never opened"
    );
}

// ---------------------------------------------------------------------------------------
// 409: invalid input (SPEC §2.3, check 2)

/// PUT `body` (or no body) for the registered token: 409 naming `needle`, nothing sent.
/// A plan of the same body is refused alike (SPEC §2.8: invalid input as PUT).
async fn assert_join_refused(body: Option<&str>, needle: &str) {
    let net = TestNet::new();
    peers(&net, 2);
    let (account, node) = ready_node(&net, U256::from(1000)).await;
    let head = net.chain.head().number;
    let plan = call(
        &node,
        "POST",
        &format!("{}/plan", connection_path(&net)),
        body,
    )
    .await;
    plan.assert_error(StatusCode::CONFLICT, needle);
    let answer = call(&node, "PUT", &connection_path(&net), body).await;
    answer.assert_error(StatusCode::CONFLICT, needle);
    assert_eq!(plan.text, answer.text, "the plan refuses as the PUT does");
    assert_eq!(
        net.chain.head().number,
        head,
        "a refused join sends nothing"
    );
    assert_eq!(net.balance(account), U256::from(1000));
    assert!(
        node.connection_manager(&net.token).is_none(),
        "no manager was created"
    );
}

macro_rules! refused_join_bodies {
    ($($name:ident: $body:expr => $needle:expr;)*) => {$(
        #[tokio::test(start_paused = true)]
        async fn $name() {
            assert_join_refused($body, $needle).await;
        }
    )*};
}

refused_join_bodies! {
    join_with_negative_funds_answers_409: Some(r#"{"funds": -1}"#) => "'funds' must not be negative";
    join_with_negative_funds_as_string_answers_409: Some(r#"{"funds": "-5"}"#) => "'funds' must not be negative";
    join_with_zero_funds_answers_409: Some(r#"{"funds": 0}"#) => "'funds' must be greater than zero";
    join_with_zero_funds_as_string_answers_409: Some(r#"{"funds": "0"}"#) => "'funds' must be greater than zero";
    join_with_non_numeric_funds_answers_409: Some(r#"{"funds": "ten"}"#) => "'funds' must be an integer or a string of decimal digits";
    join_with_boolean_funds_answers_409: Some(r#"{"funds": true}"#) => "'funds'";
    join_with_fractional_funds_answers_409: Some(r#"{"funds": 1.5}"#) => "'funds' must be a whole number";
    join_with_funds_beyond_256_bits_answers_409: Some(r#"{"funds": "1000000000000000000000000000000000000000000000000000000000000000000000000000000"}"#) => "'funds' is larger than 2^256 - 1";
    join_without_body_answers_409: None => "Request body is missing";
    join_with_blank_body_answers_409: Some("  \n") => "Request body is missing";
    join_with_non_json_body_answers_409: Some("funds=100") => "Request body is not valid JSON";
    join_with_truncated_json_answers_409: Some(r#"{"funds": 100"#) => "Request body is not valid JSON";
    join_with_non_object_body_answers_409: Some("[100]") => "must be a JSON object";
    join_without_funds_answers_409: Some(r#"{"initial_channel_target": 3}"#) => "Missing field 'funds'";
    join_with_unknown_field_answers_409: Some(r#"{"funds": 100, "fund": 2}"#) => "Unknown field 'fund'";
    join_with_joinable_above_one_answers_409: Some(r#"{"funds": 100, "joinable_funds_target": 1.5}"#) => "'joinable_funds_target' must be a number from 0.0 to 1.0";
    join_with_negative_joinable_answers_409: Some(r#"{"funds": 100, "joinable_funds_target": -0.1}"#) => "'joinable_funds_target' must be a number from 0.0 to 1.0";
    join_with_non_numeric_joinable_answers_409: Some(r#"{"funds": 100, "joinable_funds_target": "half"}"#) => "'joinable_funds_target'";
    join_with_target_above_1000_answers_409: Some(r#"{"funds": 100, "initial_channel_target": 1001}"#) => "'initial_channel_target' must be an integer from 0 to 1000";
    join_with_negative_target_answers_409: Some(r#"{"funds": 100, "initial_channel_target": -1}"#) => "'initial_channel_target' must be an integer from 0 to 1000";
    join_with_fractional_target_answers_409: Some(r#"{"funds": 100, "initial_channel_target": 2.5}"#) => "'initial_channel_target'";
    join_with_funds_above_balance_answers_409: Some(r#"{"funds": 1001}"#) => "Insufficient balance for token";
    join_with_fractional_target_as_string_answers_409: Some(r#"{"funds": 100, "initial_channel_target": "3.5"}"#) => "'initial_channel_target' must be an integer from 0 to 1000";
    join_with_non_numeric_target_string_answers_409: Some(r#"{"funds": 100, "initial_channel_target": "abc"}"#) => "'initial_channel_target'";
    join_with_empty_target_string_answers_409: Some(r#"{"funds": 100, "initial_channel_target": ""}"#) => "'initial_channel_target'";
    join_with_spaced_target_string_answers_409: Some(r#"{"funds": 100, "initial_channel_target": " 3"}"#) => "'initial_channel_target'";
    join_with_target_string_above_1000_answers_409: Some(r#"{"funds": 100, "initial_channel_target": "1001"}"#) => "'initial_channel_target'";
    join_with_joinable_string_above_one_answers_409: Some(r#"{"funds": 100, "joinable_funds_target": "1.5"}"#) => "'joinable_funds_target' must be a number from 0.0 to 1.0";
    join_with_spaced_joinable_string_answers_409: Some(r#"{"funds": 100, "joinable_funds_target": " 0.4"}"#) => "'joinable_funds_target'";
    join_with_empty_joinable_string_answers_409: Some(r#"{"funds": 100, "joinable_funds_target": ""}"#) => "'joinable_funds_target'";
    join_with_unknown_strategy_answers_409_naming_the_valid_ones: Some(r#"{"funds": 100, "partner_selection": "random"}"#) => &format!("valid strategies are {}", StrategyKind::names());
    join_with_non_string_strategy_answers_409: Some(r#"{"funds": 100, "partner_selection": 1}"#) => "'partner_selection' must be a string";
}

/// What Raiden's clients send (raiden-client's CLI sends every value as a string) joins
/// as the same numbers would, and `GET /connections/<token>` shows the values read.
#[tokio::test(start_paused = true)]
async fn join_with_numbers_as_strings_answers_204_with_the_same_values() {
    let net = TestNet::new();
    peers(&net, 3);
    let (_, node) = ready_node(&net, U256::from(1000)).await;
    let body =
        r#"{"funds": "1000", "initial_channel_target": "3", "joinable_funds_target": "0.4"}"#;
    let answer = call(&node, "PUT", &connection_path(&net), Some(body)).await;
    assert_status(&answer, StatusCode::NO_CONTENT);
    let connection = call(&node, "GET", &connection_path(&net), None).await;
    assert_status(&connection, StatusCode::OK);
    assert_eq!(
        connection.body,
        json!({
            "funds": 1000, "initial_channel_target": 3, "joinable_funds_target": 0.4,
            "partner_selection": "uniform", "state": "joined",
            "sum_deposits": 600, "channels": 3,
        })
    );
}

#[tokio::test(start_paused = true)]
async fn connection_of_a_token_never_joined_answers_404() {
    let net = TestNet::new();
    let (_, node) = ready_node(&net, e18()).await;
    let answer = call(&node, "GET", &connection_path(&net), None).await;
    answer.assert_error(
        StatusCode::NOT_FOUND,
        &format!("Token {} is not joined", net.token_path()),
    );
    let unregistered = checksummed(&net.chain.deploy_test_token());
    let answer = call(
        &node,
        "GET",
        &format!("/api/v1/connections/{unregistered}"),
        None,
    )
    .await;
    answer.assert_error(StatusCode::NOT_FOUND, "is not joined");
}

/// A plan below the gas reserve answers 200 saying the PUT would answer 402, with the
/// reserve and the balance; it sends nothing, and the PUT then answers 402 indeed.
#[tokio::test(start_paused = true)]
async fn plan_below_the_gas_reserve_says_402_with_the_numbers() {
    let net = TestNet::new();
    peers(&net, 3);
    let account = net.account_with_eth(U256::from(1000), U256::from(1000));
    let node = net.node(account);
    node.wait_ready().await;
    let required = gas_reserve(
        &GAS,
        U256::from(DEFAULT_GAS_PRICE_WEI),
        ReserveInputs {
            channels_to_open: 3,
            ..ReserveInputs::default()
        },
    );
    let body = r#"{"funds": 300, "initial_channel_target": 3}"#;
    let head = net.chain.head().number;
    let plan = call(
        &node,
        "POST",
        &format!("{}/plan", connection_path(&net)),
        Some(body),
    )
    .await;
    assert_status(&plan, StatusCode::OK);
    assert_eq!(plan.body["would_answer"], 402, "{}", plan.text);
    assert_eq!(
        plan.body["gas_reserve"]["required"],
        json!(required.to::<u128>())
    );
    assert_eq!(plan.body["gas_reserve"]["balance"], 1000);
    assert_eq!(plan.body["actions"], json!([]));
    assert_eq!(plan.body["transactions"], 0);
    let reason = plan.body["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("at least {required} wei is required")),
        "{reason}"
    );
    assert!(reason.contains("balance is 1000 wei"), "{reason}");
    assert_eq!(net.chain.head().number, head, "a plan sends nothing");
    let answer = call(&node, "PUT", &connection_path(&net), Some(body)).await;
    answer.assert_error(
        StatusCode::PAYMENT_REQUIRED,
        &format!("at least {required} wei is required"),
    );
}

#[tokio::test(start_paused = true)]
async fn plan_of_an_unregistered_token_answers_409() {
    let net = TestNet::new();
    let (_, node) = ready_node(&net, e18()).await;
    let unregistered = checksummed(&net.chain.deploy_test_token());
    let answer = call(
        &node,
        "POST",
        &format!("/api/v1/connections/{unregistered}/plan"),
        Some(r#"{"funds": 1}"#),
    )
    .await;
    answer.assert_error(
        StatusCode::CONFLICT,
        &format!("Token {unregistered} is not registered"),
    );
}

#[tokio::test(start_paused = true)]
async fn join_at_the_edges_of_the_valid_ranges_is_accepted() {
    let net = TestNet::new();
    peers(&net, 2);
    let (_, node) = ready_node(&net, U256::from(1000)).await;
    for body in [
        r#"{"funds": 1000, "initial_channel_target": 0, "joinable_funds_target": 1.0}"#,
        r#"{"funds": "1000", "initial_channel_target": 1000, "joinable_funds_target": 0}"#,
    ] {
        let answer = call(&node, "PUT", &connection_path(&net), Some(body)).await;
        assert_status(&answer, StatusCode::NO_CONTENT);
    }
}

#[tokio::test(start_paused = true)]
async fn join_with_funds_above_balance_names_the_token() {
    let net = TestNet::new();
    peers(&net, 2);
    let (_, node) = ready_node(&net, U256::from(1000)).await;
    let answer = call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(r#"{"funds": "1001"}"#),
    )
    .await;
    answer.assert_error(
        StatusCode::CONFLICT,
        &format!("Insufficient balance for token {}", net.token_path()),
    );
    // All of the balance is fine.
    let answer = call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(r#"{"funds": 1000}"#),
    )
    .await;
    assert_status(&answer, StatusCode::NO_CONTENT);
}

#[tokio::test(start_paused = true)]
async fn join_and_leave_of_an_unregistered_token_answer_409() {
    let net = TestNet::new();
    let (_, node) = ready_node(&net, e18()).await;
    let unregistered = checksummed(&net.chain.deploy_test_token());
    let path = format!("/api/v1/connections/{unregistered}");

    let answer = call(&node, "PUT", &path, Some(r#"{"funds": 1}"#)).await;
    answer.assert_error(
        StatusCode::CONFLICT,
        &format!("Token {unregistered} is not registered"),
    );
    answer.assert_error(
        StatusCode::CONFLICT,
        &format!("PUT /api/v1/tokens/{unregistered}"),
    );

    let answer = call(&node, "DELETE", &path, None).await;
    answer.assert_error(StatusCode::CONFLICT, "is not registered");
    answer.assert_error(
        StatusCode::CONFLICT,
        &format!("PUT /api/v1/tokens/{unregistered}"),
    );
}

#[tokio::test(start_paused = true)]
async fn registering_a_token_twice_answers_409() {
    let net = TestNet::new();
    let (_, node) = ready_node(&net, e18()).await;
    let answer = call(
        &node,
        "PUT",
        &format!("/api/v1/tokens/{}", net.token_path()),
        None,
    )
    .await;
    answer.assert_error(
        StatusCode::CONFLICT,
        &format!("Token {} is already registered", net.token_path()),
    );

    let new_token = checksummed(&net.chain.deploy_test_token());
    let path = format!("/api/v1/tokens/{new_token}");
    assert_status(&call(&node, "PUT", &path, None).await, StatusCode::CREATED);
    call(&node, "PUT", &path, None)
        .await
        .assert_error(StatusCode::CONFLICT, "already registered");
}

// ---------------------------------------------------------------------------------------
// 404

#[tokio::test(start_paused = true)]
async fn address_without_0x_prefix_answers_404() {
    let net = TestNet::new();
    let without = net.token_path()[2..].to_owned();
    assert_invalid_address(&without, "Not a valid hex address, 0x prefix missing.").await;
}

#[tokio::test(start_paused = true)]
async fn address_of_wrong_length_answers_404() {
    let net = TestNet::new();
    let token = net.token_path();
    assert_invalid_address(&token[..41], "Could not decode hex.").await;
    assert_invalid_address(&format!("{token}0"), "Could not decode hex.").await;
    assert_invalid_address("0x", "Could not decode hex.").await;
}

#[tokio::test(start_paused = true)]
async fn address_with_non_hex_digits_answers_404() {
    let net = TestNet::new();
    let bad = format!("0xZZ{}", &net.token_path()[4..]);
    assert_eq!(bad.len(), 42);
    assert_invalid_address(&bad, "Could not decode hex.").await;
    assert_invalid_address(&format!("0x{}", "g".repeat(40)), "Could not decode hex.").await;
}

#[tokio::test(start_paused = true)]
async fn all_lowercase_address_answers_404() {
    let net = TestNet::new();
    let lower = net.token_path().to_lowercase();
    assert_ne!(lower, net.token_path(), "the token address has letters");
    assert_invalid_address(&lower, "Not a valid EIP55 encoded address.").await;
}

#[tokio::test(start_paused = true)]
async fn all_uppercase_address_answers_404() {
    let net = TestNet::new();
    let upper = format!("0x{}", net.token_path()[2..].to_uppercase());
    assert_ne!(upper, net.token_path());
    assert_invalid_address(&upper, "Not a valid EIP55 encoded address.").await;
}

#[tokio::test(start_paused = true)]
async fn address_with_a_bad_checksum_answers_404() {
    let net = TestNet::new();
    let token = net.token_path();
    let flipped = flip_case(&token);
    assert_ne!(flipped.to_lowercase(), flipped, "mixed case");
    assert_invalid_address(&flipped, "Not a valid EIP55 encoded address.").await;
    // One letter's case changed.
    let position = token[2..]
        .find(|c: char| c.is_ascii_alphabetic())
        .expect("a letter")
        + 2;
    let mut one = token.clone().into_bytes();
    one[position] ^= 0x20;
    let one = String::from_utf8(one).expect("ASCII");
    assert_invalid_address(&one, "Not a valid EIP55 encoded address.").await;
}

#[tokio::test(start_paused = true)]
async fn invalid_partner_address_answers_404() {
    let net = TestNet::new();
    let (account, node) = ready_node(&net, e18()).await;
    let lower = checksummed(&account).to_lowercase();
    let path = format!("/api/v1/channels/{}/{lower}", net.token_path());
    call(&node, "GET", &path, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "Not a valid EIP55 encoded address.");
}

#[tokio::test(start_paused = true)]
async fn unknown_routes_answer_404_with_an_error_body() {
    let net = TestNet::new();
    let (_, node) = ready_node(&net, e18()).await;
    let token = net.token_path();
    for (method, path) in [
        ("GET", "/".to_owned()),
        ("GET", "/api".to_owned()),
        ("GET", "/api/v1".to_owned()),
        ("GET", "/api/v1/nothing".to_owned()),
        ("GET", "/api/v2/connections".to_owned()),
        ("PUT", format!("/api/v1/connections/{token}/extra")),
        ("GET", format!("/api/v1/channels/{token}/{token}/extra")),
        ("POST", "/api/v1/nothing".to_owned()),
    ] {
        let answer = call(&node, method, &path, None).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            answer.text
        );
        answer.assert_error(StatusCode::NOT_FOUND, "No such resource");
    }
}

#[tokio::test(start_paused = true)]
async fn unknown_channel_answers_404() {
    let net = TestNet::new();
    let (_, node) = ready_node(&net, e18()).await;
    let stranger = checksummed(&net.account(e18()));
    let path = format!("/api/v1/channels/{}/{stranger}", net.token_path());
    let answer = call(&node, "GET", &path, None).await;
    answer.assert_error(
        StatusCode::NOT_FOUND,
        &format!(
            "Channel with partner {stranger} for token {} not found",
            net.token_path()
        ),
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_token_network_answers_404() {
    let net = TestNet::new();
    let (_, node) = ready_node(&net, e18()).await;
    let unregistered = checksummed(&net.chain.deploy_test_token());
    let answer = call(
        &node,
        "GET",
        &format!("/api/v1/tokens/{unregistered}"),
        None,
    )
    .await;
    answer.assert_error(
        StatusCode::NOT_FOUND,
        &format!("No token network for token {unregistered}"),
    );
}

// ---------------------------------------------------------------------------------------
// 405

#[tokio::test(start_paused = true)]
async fn wrong_method_on_a_known_route_answers_405_with_an_error_body() {
    let net = TestNet::new();
    let (_, node) = ready_node(&net, e18()).await;
    let token = net.token_path();
    for (method, path) in [
        ("POST", "/api/v1/connections".to_owned()),
        ("PUT", "/api/v1/connections".to_owned()),
        ("PATCH", format!("/api/v1/connections/{token}")),
        // GET is `GET /connections/<token>` (SPEC §2.8); a plan is only POSTed.
        ("POST", format!("/api/v1/connections/{token}")),
        ("GET", format!("/api/v1/connections/{token}/plan")),
        ("PUT", format!("/api/v1/connections/{token}/plan")),
        ("DELETE", "/api/v1/channels".to_owned()),
        ("POST", "/api/v1/address".to_owned()),
        ("DELETE", format!("/api/v1/tokens/{token}")),
        ("GET", format!("/api/v1/_testing/tokens/{token}/mint")),
    ] {
        let answer = call(&node, method, &path, Some(r#"{"funds": 1}"#)).await;
        assert_eq!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {}",
            answer.text
        );
        answer.assert_error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    }
    assert_eq!(
        call(&node, "GET", "/api/v1/channels", None).await.body,
        json!([])
    );
}

// ---------------------------------------------------------------------------------------
// 413

/// A JSON object of exactly `len` bytes: `{"funds": 0}` padded with whitespace.
fn padded_body(len: usize) -> String {
    let mut body = r#"{"funds": 0}"#.to_owned();
    body.push_str(&" ".repeat(len - body.len()));
    body
}

#[tokio::test(start_paused = true)]
async fn body_larger_than_16_kib_answers_413() {
    let net = TestNet::new();
    let (_, node) = ready_node(&net, e18()).await;
    let body = format!(r#"{{"funds": 1, "pad": "{}"}}"#, "x".repeat(20 * 1024));
    let answer = call(&node, "PUT", &connection_path(&net), Some(&body)).await;
    answer.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "larger than 16384 bytes");

    // The limit is 16 KiB exactly: one byte more is refused, 16 KiB itself is read
    // (and then refused for its content).
    let answer = call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(&padded_body(16 * 1024 + 1)),
    )
    .await;
    answer.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "larger than 16384 bytes");
    let answer = call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(&padded_body(16 * 1024)),
    )
    .await;
    answer.assert_error(StatusCode::CONFLICT, "'funds' must be greater than zero");

    // The mint endpoint has the same limit.
    let mint = format!("/api/v1/_testing/tokens/{}/mint", net.token_path());
    call(&node, "POST", &mint, Some(&body))
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "larger than 16384 bytes");
}

// ---------------------------------------------------------------------------------------
// 500

#[tokio::test(start_paused = true)]
async fn rpc_failure_during_a_join_answers_500_and_the_node_stays_up() {
    let net = TestNet::new();
    peers(&net, 2);
    let (account, node) = ready_node(&net, U256::from(1000)).await;
    net.chain
        .inject(FaultRule::once(Fault::RpcFailure("boom".into())).for_account(account));

    let answer = call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(&join_body(100, 2)),
    )
    .await;
    answer.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "chain RPC failed: boom");

    let connections = call(&node, "GET", "/api/v1/connections", None).await;
    assert_status(&connections, StatusCode::OK);
    assert_eq!(connections.body, json!({}));
    let answer = call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(&join_body(100, 2)),
    )
    .await;
    assert_status(&answer, StatusCode::NO_CONTENT);
    let connections = call(&node, "GET", "/api/v1/connections", None).await;
    assert_eq!(
        connections.body,
        json!({ net.token_path(): {"funds": 100, "sum_deposits": 100, "channels": 2} })
    );
}

#[tokio::test(start_paused = true)]
async fn rpc_failure_when_sending_a_transaction_answers_500() {
    let net = TestNet::new();
    peers(&net, 2);
    let (account, node) = ready_node(&net, U256::from(1000)).await;
    net.chain.inject(
        FaultRule::once(Fault::RpcFailure("connection reset".into()))
            .for_account(account)
            .for_transaction("approve"),
    );
    let answer = call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(&join_body(100, 2)),
    )
    .await;
    answer.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "connection reset");
    assert_status(
        &call(&node, "GET", "/api/v1/status", None).await,
        StatusCode::OK,
    );
}

#[tokio::test(start_paused = true)]
async fn reverted_transaction_in_a_join_answers_500_naming_the_rule() {
    // SPEC §2.3 step 6: a failure other than a timeout or lack of ETH is a 500 with the
    // cause. A reverted approve is neither invalid input nor the user's fault.
    let net = TestNet::new();
    peers(&net, 2);
    let (account, node) = ready_node(&net, U256::from(1000)).await;
    net.chain.inject(
        FaultRule::once(Fault::Revert("token paused".into()))
            .for_account(account)
            .for_transaction("approve"),
    );
    let answer = call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(&join_body(100, 2)),
    )
    .await;
    answer.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "approve");
    answer.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "reverted: token paused");
    assert_status(
        &call(&node, "GET", "/api/v1/connections", None).await,
        StatusCode::OK,
    );
}

// ---------------------------------------------------------------------------------------
// 503

#[tokio::test(start_paused = true)]
async fn join_and_leave_while_syncing_answer_503() {
    let net = TestNet::new();
    peers(&net, 2);
    let account = net.account(U256::from(1000));
    // The node's first look at the chain fails, so its first catch-up waits for a retry.
    net.chain
        .inject(FaultRule::once(Fault::RpcFailure("not yet".into())).for_account(account));
    let node = net.node(account);
    tokio::time::sleep(Duration::from_millis(10)).await;

    let status = call(&node, "GET", "/api/v1/status", None).await;
    assert_status(&status, StatusCode::OK);
    assert_eq!(status.body["status"], json!("syncing"), "{}", status.text);
    let answer = call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(&join_body(100, 2)),
    )
    .await;
    answer.assert_error(StatusCode::SERVICE_UNAVAILABLE, "still syncing");
    let answer = call(&node, "DELETE", &connection_path(&net), None).await;
    answer.assert_error(StatusCode::SERVICE_UNAVAILABLE, "still syncing");

    node.wait_ready().await;
    assert_eq!(
        call(&node, "GET", "/api/v1/status", None).await.body,
        json!({"status": "ready"})
    );
    let answer = call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(&join_body(100, 2)),
    )
    .await;
    assert_status(&answer, StatusCode::NO_CONTENT);
}

// ---------------------------------------------------------------------------------------
// Amounts are exact JSON integers

#[tokio::test(start_paused = true)]
async fn amounts_beyond_64_bits_are_exact_json_integers() {
    let net = TestNet::new();
    peers(&net, 2);
    let huge_balance = U256::from(10u64).pow(U256::from(30));
    let (account, node) = ready_node(&net, huge_balance).await;
    let funds = "123456789012345678901234567890";
    let half = "61728394506172839450617283945";
    assert!(funds.parse::<U256>().expect("digits") > U256::from(u64::MAX));

    let body = format!(
        r#"{{"funds": "{funds}", "initial_channel_target": 2, "joinable_funds_target": 0}}"#
    );
    let answer = call(&node, "PUT", &connection_path(&net), Some(&body)).await;
    assert_status(&answer, StatusCode::NO_CONTENT);

    let connections = call(&node, "GET", "/api/v1/connections", None).await;
    assert_status(&connections, StatusCode::OK);
    let text = &connections.text;
    assert!(text.contains(&format!(r#""funds":{funds},"#)), "{text}");
    assert!(
        text.contains(&format!(r#""sum_deposits":{funds},"#)),
        "{text}"
    );
    assert!(
        !text.contains("e+") && !text.contains('.'),
        "no float notation: {text}"
    );
    let channels = call(&node, "GET", "/api/v1/channels", None).await;
    assert_eq!(
        channels
            .text
            .matches(&format!(r#""total_deposit":{half},"#))
            .count(),
        2,
        "{}",
        channels.text
    );
    assert_eq!(
        channels
            .text
            .matches(&format!(r#""balance":{half},"#))
            .count(),
        2,
        "{}",
        channels.text
    );
    assert_eq!(
        net.balance(account),
        huge_balance - funds.parse::<U256>().expect("digits")
    );
}

#[tokio::test(start_paused = true)]
async fn funds_beyond_64_bits_are_accepted_as_a_json_integer() {
    let net = TestNet::new();
    peers(&net, 2);
    let (_, node) = ready_node(&net, U256::from(10u64).pow(U256::from(30))).await;
    let funds = "98765432109876543210987654321";
    let body = format!(r#"{{"funds": {funds}, "initial_channel_target": 2}}"#);
    let answer = call(&node, "PUT", &connection_path(&net), Some(&body)).await;
    assert_status(&answer, StatusCode::NO_CONTENT);
    let connections = call(&node, "GET", "/api/v1/connections", None).await;
    assert!(
        connections.text.contains(&format!(r#""funds":{funds},"#)),
        "{}",
        connections.text
    );
}

// ---------------------------------------------------------------------------------------
// Over real HTTP, on the wall clock

fn fast_net() -> TestNet {
    TestNet::with(
        SimChain::builder()
            .block_time(Duration::from_millis(50))
            .settle_timeout(1),
    )
}

#[tokio::test]
async fn http_join_answers_204_and_leave_answers_200() {
    let net = fast_net();
    let partners = peers(&net, 2);
    let (account, node) = ready_node(&net, U256::from(1000)).await;
    let server = serve_http(&node).await;
    let path = connection_path(&net);

    let answer = http_call(&server, "PUT", &path, Some(join_body(100, 2))).await;
    assert_status(&answer, StatusCode::NO_CONTENT);
    assert!(answer.text.is_empty());
    let connections = http_call(&server, "GET", "/api/v1/connections", None).await;
    assert_status(&connections, StatusCode::OK);
    assert_eq!(
        connections.body,
        json!({ net.token_path(): {"funds": 100, "sum_deposits": 100, "channels": 2} })
    );

    let answer = http_call(&server, "DELETE", &path, None).await;
    assert_status(&answer, StatusCode::OK);
    let mut closed: Vec<String> =
        serde_json::from_value(answer.body).expect("an array of addresses");
    closed.sort();
    let mut expected: Vec<String> = partners.iter().map(checksummed).collect();
    expected.sort();
    assert_eq!(closed, expected);
    assert_eq!(net.balance(account), U256::from(1000));
}

#[tokio::test]
async fn http_error_statuses_survive_the_real_server() {
    let net = fast_net();
    let (_, node) = ready_node(&net, U256::from(1000)).await;
    let server = serve_http(&node).await;
    let path = connection_path(&net);

    http_call(&server, "GET", "/api/v1/nothing", None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "No such resource");
    http_call(&server, "POST", "/api/v1/connections", None)
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    http_call(&server, "PATCH", &path, Some(r#"{"funds": 1}"#.to_owned()))
        .await
        .assert_error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    let big = format!(r#"{{"funds": 1, "pad": "{}"}}"#, "x".repeat(20 * 1024));
    http_call(&server, "PUT", &path, Some(big))
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "larger than 16384 bytes");
    http_call(&server, "PUT", &path, Some("{not json".to_owned()))
        .await
        .assert_error(StatusCode::CONFLICT, "Request body is not valid JSON");
    http_call(&server, "PUT", &path, None)
        .await
        .assert_error(StatusCode::CONFLICT, "Request body is missing");
    let lower = format!("/api/v1/connections/{}", net.token_path().to_lowercase());
    http_call(&server, "PUT", &lower, Some(r#"{"funds": 1}"#.to_owned()))
        .await
        .assert_error(StatusCode::NOT_FOUND, "Not a valid EIP55 encoded address.");

    // The server is still there after every refusal.
    let status = http_call(&server, "GET", "/api/v1/status", None).await;
    assert_status(&status, StatusCode::OK);
    assert_eq!(status.body, json!({"status": "ready"}));
}

#[tokio::test]
async fn http_chunked_body_larger_than_16_kib_answers_413() {
    // No Content-Length: the limit must hold while the body streams in.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let net = fast_net();
    let (_, node) = ready_node(&net, U256::from(1000)).await;
    let server = serve_http(&node).await;
    let host = server.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connecting");
    let head = format!(
        "PUT {} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        connection_path(&net)
    );
    stream
        .write_all(head.as_bytes())
        .await
        .expect("writing the head");
    let chunk = "x".repeat(4096);
    for _ in 0..5 {
        let framed = format!("{:x}\r\n{chunk}\r\n", chunk.len());
        if stream.write_all(framed.as_bytes()).await.is_err() {
            break; // the server may stop reading once the limit is passed
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response.contains(r#"{"errors":"Request body is larger than 16384 bytes"}"#),
        "{response}"
    );
}

#[tokio::test]
async fn http_amounts_beyond_64_bits_are_exact() {
    let net = fast_net();
    peers(&net, 2);
    let (_, node) = ready_node(&net, U256::from(10u64).pow(U256::from(30))).await;
    let server = serve_http(&node).await;
    let funds = "123456789012345678901234567890";
    let body = format!(
        r#"{{"funds": "{funds}", "initial_channel_target": 2, "joinable_funds_target": 0}}"#
    );
    let answer = http_call(&server, "PUT", &connection_path(&net), Some(body)).await;
    assert_status(&answer, StatusCode::NO_CONTENT);
    let connections = http_call(&server, "GET", "/api/v1/connections", None).await;
    assert!(
        connections.text.contains(&format!(r#""funds":{funds},"#)),
        "{}",
        connections.text
    );
    assert!(
        connections
            .text
            .contains(&format!(r#""sum_deposits":{funds}"#)),
        "{}",
        connections.text
    );
}

// ---------------------------------------------------------------------------------------
// The order of the checks (SPEC §2.3): address, body, registration, balance, gas reserve

#[tokio::test(start_paused = true)]
async fn join_checks_run_in_the_documented_order() {
    let net = TestNet::new();
    peers(&net, 3);
    // Tiny ETH: the gas reserve would refuse, but every earlier check comes first.
    let account = net.account_with_eth(U256::from(1000), U256::from(1000));
    let node = net.node(account);
    node.wait_ready().await;
    let unregistered = checksummed(&net.chain.deploy_test_token());
    let lower = net.token_path().to_lowercase();

    // 1. the path address, even with a broken body
    call(
        &node,
        "PUT",
        &format!("/api/v1/connections/{lower}"),
        Some("{"),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "Not a valid EIP55 encoded address.");
    // 2. the body, even for an unregistered token
    call(
        &node,
        "PUT",
        &format!("/api/v1/connections/{unregistered}"),
        Some(r#"{"funds": 0}"#),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "'funds' must be greater than zero");
    // 3. the registration, even with funds above the balance
    call(
        &node,
        "PUT",
        &format!("/api/v1/connections/{unregistered}"),
        Some(r#"{"funds": 5000}"#),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "is not registered");
    // 4. the token balance, before the gas reserve
    call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(r#"{"funds": 5000}"#),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "Insufficient balance for token");
    // 5. the gas reserve
    call(
        &node,
        "PUT",
        &connection_path(&net),
        Some(r#"{"funds": 500}"#),
    )
    .await
    .assert_error(StatusCode::PAYMENT_REQUIRED, "A balance of at least");
}
