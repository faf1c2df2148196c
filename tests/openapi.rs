//! `docs/openapi.json` is the API: the served document is the committed file; the
//! document lists exactly the server's routes ([`tokennet::api::ROUTES`]) and the server
//! routes each of them; and real requests against a node on the simulated chain, success
//! and every error that can be provoked, answer status codes the document lists with
//! bodies that validate against its schemas.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{e18, TestNet};
use serde_json::{json, Value};
use tokennet::api::auth::ApiToken;
use tokennet::api::{app, ApiConfig, OPENAPI_JSON, ROUTES};
use tokennet::chain::sim::{Fault, FaultRule, SimChain};
use tokennet::connection::strategy::StrategyKind;
use tokennet::connection::{Decision, DecisionInputs, DecisionKind, JoinableFraction};
use tokennet::node::Node;
use tokennet::types::{checksummed, Address, ChannelId, U256};

const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "PATCH"];

fn document() -> Value {
    serde_json::from_str(OPENAPI_JSON).expect("docs/openapi.json is JSON")
}

/// The `(METHOD, path template)` pairs of the document.
fn documented_routes(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("paths");
    let mut routes = BTreeSet::new();
    for (path, item) in paths {
        for (key, _) in item.as_object().expect("a path item") {
            if METHODS.iter().any(|m| m.eq_ignore_ascii_case(key)) {
                routes.insert((key.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    routes
}

/// Follows a local `$ref` (`#/a/b`) until the value is no reference.
fn resolve<'a>(document: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references: {reference}"));
        value = document
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling reference {reference}"));
    }
    value
}

/// A validator for `schema`, a schema of the document whose `$ref`s point into it.
fn validator(document: &Value, schema: &Value) -> jsonschema::Validator {
    let rooted = json!({ "components": document["components"], "allOf": [schema] });
    jsonschema::validator_for(&rooted)
        .unwrap_or_else(|e| panic!("a schema of the document does not compile: {e}"))
}

/// A response as the checks see it.
struct Answer {
    status: u16,
    content_type: Option<String>,
    text: String,
    headers: warp::http::HeaderMap,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

/// Sends requests through the whole served stack ([`app`]) and checks each answer
/// against the document; remembers which operations answered which codes.
struct Checker {
    document: Value,
    node: Node<SimChain>,
    config: ApiConfig,
    seen: BTreeMap<(String, String), BTreeSet<u16>>,
}

impl Checker {
    fn new(node: &Node<SimChain>, config: ApiConfig) -> Self {
        Self {
            document: document(),
            node: node.clone(),
            config,
            seen: BTreeMap::new(),
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Answer {
        let mut request = warp::test::request().method(method).path(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.reply(&app(self.node.clone(), &self.config)).await;
        Answer {
            status: response.status().as_u16(),
            content_type: response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            text: String::from_utf8_lossy(response.body()).into_owned(),
            headers: response.headers().clone(),
        }
    }

    /// `method template` with the path parameters of `params`, checked against the
    /// document; panics naming the operation when the answer is not documented.
    #[track_caller]
    fn check(&mut self, method: &str, template: &str, answer: &Answer, body: Option<&str>) {
        let operation = &self.document["paths"][template][method.to_ascii_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {template} is not in the document"
        );
        let responses = &operation["responses"];
        let status = answer.status.to_string();
        let documented = responses.get(&status).unwrap_or_else(|| {
            panic!(
                "{method} {template} answered {status}, which the document does not list; body: {}",
                answer.text
            )
        });
        let documented = resolve(&self.document, documented);
        match documented.get("content") {
            None => assert!(
                answer.text.is_empty(),
                "{method} {template} {status}: the document says no body, got {}",
                answer.text
            ),
            Some(content) => {
                let content_type = answer.content_type.as_deref().unwrap_or_default();
                assert!(
                    content_type.starts_with("application/json"),
                    "{method} {template} {status}: content type {content_type:?}"
                );
                let schema = &content["application/json"]["schema"];
                let validator = validator(&self.document, schema);
                let value = answer.json();
                let errors: Vec<String> = validator
                    .iter_errors(&value)
                    .map(|e| format!("{e} at {}", e.instance_path()))
                    .collect();
                assert!(
                    errors.is_empty(),
                    "{method} {template} {status}: the body does not match the document: {errors:?}\nbody: {}",
                    answer.text
                );
            }
        }
        for (name, header) in documented
            .get("headers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if header["required"] == json!(true) {
                assert!(answer.headers.contains_key(name.as_str()), "{name}");
            }
        }
        // A request the server accepted is one the document accepts too.
        if let (Some(body), true) = (body, answer.status < 300) {
            let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
            assert!(
                !schema.is_null(),
                "{method} {template} takes a body the document does not describe"
            );
            let value: Value = serde_json::from_str(body).expect("a JSON request body");
            assert!(
                validator(&self.document, schema).is_valid(&value),
                "{method} {template}: the server accepted {body}, the document refuses it"
            );
        }
        self.seen
            .entry((method.to_owned(), template.to_owned()))
            .or_default()
            .insert(answer.status);
    }

    /// Sends `method path` and checks the answer against `template`; returns it.
    async fn call(
        &mut self,
        method: &str,
        template: &str,
        path: &str,
        body: Option<&str>,
    ) -> Answer {
        let answer = self.send(method, path, &[], body).await;
        self.check(method, template, &answer, body);
        answer
    }
}

// ---------------------------------------------------------------------------------------
// (a) the served document is the committed file

#[tokio::test(start_paused = true)]
async fn the_served_document_is_the_committed_file() {
    let file = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json"))
        .expect("reading docs/openapi.json");
    assert_eq!(OPENAPI_JSON, file);
    let net = TestNet::new();
    let node = net.node(net.account(e18()));
    node.wait_ready().await;
    let mut checker = Checker::new(&node, ApiConfig::default());
    let answer = checker
        .call("GET", "/api/v1/openapi.json", "/api/v1/openapi.json", None)
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    assert_eq!(answer.text, file);
    let document = document();
    assert!(document["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.")));
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
}

// ---------------------------------------------------------------------------------------
// (b) the document and the server have the same routes

#[test]
fn the_document_lists_exactly_the_server_routes() {
    let documented = documented_routes(&document());
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from docs/openapi.json: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "documented routes missing from api::ROUTES: {unserved:?}"
    );
    assert_eq!(served.len(), ROUTES.len(), "ROUTES has duplicates");
}

/// `template` with its path parameters replaced.
fn fill(template: &str, token: &Address, partner: &Address) -> String {
    template
        .replace("{token_address}", &checksummed(token))
        .replace("{partner_address}", &checksummed(partner))
}

#[tokio::test(start_paused = true)]
async fn the_server_routes_every_route_and_nothing_else_on_those_paths() {
    let net = TestNet::new();
    let partner = net.account(e18());
    let account = net.account(U256::from(1000));
    net.open_channel_now(account, partner, U256::ZERO);
    let node = net.node(account);
    node.wait_ready().await;
    let checker = Checker::new(&node, ApiConfig::default());
    // An address that is valid EIP-55 but no registered token: routed requests that change
    // something are refused before they do (409), which is enough to see the route.
    let unregistered = Address::repeat_byte(0x11);

    for (method, template) in ROUTES {
        let token = match (*method, *template) {
            ("PUT" | "DELETE" | "POST", _) => unregistered,
            _ => net.token,
        };
        let path = fill(template, &token, &partner);
        let answer = checker.send(method, &path, &[], None).await;
        assert_ne!(
            answer.status, 405,
            "{method} {path} is not routed: {}",
            answer.text
        );
        assert!(
            !(answer.status == 404 && answer.text.contains("No such resource")),
            "{method} {path} is not routed: {}",
            answer.text
        );
    }
    let paths: BTreeSet<&str> = ROUTES.iter().map(|(_, path)| *path).collect();
    for template in paths {
        let path = fill(template, &net.token, &partner);
        for method in METHODS {
            if ROUTES.contains(&(method, template)) {
                continue;
            }
            let answer = checker.send(method, &path, &[], None).await;
            assert_eq!(
                answer.status, 405,
                "{method} {path} is routed but not documented: {}",
                answer.text
            );
            let allowed: Vec<&str> = ROUTES
                .iter()
                .filter(|(_, t)| *t == template)
                .map(|(m, _)| *m)
                .collect();
            assert_eq!(
                answer.headers.get("allow").and_then(|v| v.to_str().ok()),
                Some(allowed.join(", ").as_str()),
                "{method} {path}: the 405's Allow header"
            );
        }
    }
    let unknown = checker.send("GET", "/api/v1/nothing", &[], None).await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.text.contains("No such resource"));
}

// ---------------------------------------------------------------------------------------
// (c) real answers match the document

/// `n` peers with one token each and a chain of channels between them.
fn peers(net: &TestNet, n: usize) -> Vec<Address> {
    let peers: Vec<Address> = (0..n).map(|_| net.account(e18())).collect();
    for pair in peers.windows(2) {
        net.open_channel_now(pair[0], pair[1], U256::ZERO);
    }
    peers
}

const CONNECTION: &str = "/api/v1/connections/{token_address}";
const PLAN: &str = "/api/v1/connections/{token_address}/plan";
const TOKEN: &str = "/api/v1/tokens/{token_address}";
const PARTNERS: &str = "/api/v1/tokens/{token_address}/partners";
const CHANNELS_OF: &str = "/api/v1/channels/{token_address}";
const CHANNEL: &str = "/api/v1/channels/{token_address}/{partner_address}";
const MINT: &str = "/api/v1/_testing/tokens/{token_address}/mint";
const DECISIONS: &str = "/api/v1/connections/{token_address}/decisions";

/// What a scenario saw: the codes each operation answered.
type Seen = BTreeMap<(String, String), BTreeSet<u16>>;

async fn join_and_leave() -> Seen {
    let net = TestNet::new();
    peers(&net, 3);
    // More tokens than 2^64, so that amounts in answers are past 64 bits.
    let account = net.account(U256::from(10u64).pow(U256::from(30)));
    let node = net.node(account);
    node.wait_ready().await;
    let mut c = Checker::new(&node, ApiConfig::default());
    let token = checksummed(&net.token);
    let join = format!("/api/v1/connections/{token}");
    let unregistered = checksummed(&Address::repeat_byte(0x11));
    let lowercase = token.to_lowercase();

    for (method, template) in [
        ("GET", "/api/v1/connections"),
        ("GET", "/api/v1/address"),
        ("GET", "/api/v1/version"),
        ("GET", "/api/v1/status"),
        ("GET", "/api/v1/tokens"),
        ("GET", "/api/v1/channels"),
    ] {
        let answer = c.call(method, template, template, None).await;
        assert_eq!(answer.status, 200, "{template}");
    }

    // PUT /connections: every refusal before the join, then the join.
    for (path, body, status) in [
        (
            format!("/api/v1/connections/{lowercase}"),
            Some(r#"{"funds": 1}"#),
            404,
        ),
        (join.clone(), None, 409),
        (join.clone(), Some("{"), 409),
        (join.clone(), Some(r#"{"funds": 0}"#), 409),
        (join.clone(), Some(r#"{"funds": 1, "fund": 2}"#), 409),
        (join.clone(), Some(r#"{"funds": "1e3"}"#), 409),
        (
            join.clone(),
            Some(r#"{"funds": 1, "joinable_funds_target": 2}"#),
            409,
        ),
        (
            format!("/api/v1/connections/{unregistered}"),
            Some(r#"{"funds": 1}"#),
            409,
        ),
        (
            join.clone(),
            Some(r#"{"funds": "1000000000000000000000000000001"}"#),
            409,
        ),
    ] {
        let answer = c.call("PUT", CONNECTION, &path, body).await;
        assert_eq!(answer.status, status, "{path} {body:?}: {}", answer.text);
    }
    let big = format!(r#"{{"funds": 1, "pad": "{}"}}"#, "x".repeat(20 * 1024));
    let answer = c.call("PUT", CONNECTION, &join, Some(&big)).await;
    assert_eq!(answer.status, 413);

    // GET /connections/<token> before any join, and plans: refused as PUT is, then one
    // with numbers as strings and a strategy named.
    let plan = format!("{join}/plan");
    for (path, status) in [
        (join.clone(), 404),
        (format!("/api/v1/connections/{lowercase}"), 404),
    ] {
        let answer = c.call("GET", CONNECTION, &path, None).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.text);
    }
    for (path, body, status) in [
        (
            format!("/api/v1/connections/{lowercase}/plan"),
            Some(r#"{"funds": 1}"#),
            404,
        ),
        (
            plan.clone(),
            Some(r#"{"funds": 1, "partner_selection": "random"}"#),
            409,
        ),
        (
            format!("/api/v1/connections/{unregistered}/plan"),
            Some(r#"{"funds": 1}"#),
            409,
        ),
        (plan.clone(), Some(&big), 413),
        (
            plan.clone(),
            Some(
                r#"{"funds": "123456789012345678901234567890", "initial_channel_target": "2", "joinable_funds_target": "0.25", "partner_selection": "uniform"}"#,
            ),
            200,
        ),
    ] {
        let answer = c.call("POST", PLAN, &path, body).await;
        assert_eq!(answer.status, status, "{path} {body:?}: {}", answer.text);
    }

    let body = r#"{"funds": "123456789012345678901234567890", "initial_channel_target": 2, "joinable_funds_target": 0.25}"#;
    let answer = c.call("PUT", CONNECTION, &join, Some(body)).await;
    assert_eq!(answer.status, 204, "{}", answer.text);

    // The reads, with channels and amounts past 64 bits.
    let connections = c
        .call("GET", "/api/v1/connections", "/api/v1/connections", None)
        .await;
    assert!(connections.text.contains("123456789012345678901234567890"));
    let connection = c.call("GET", CONNECTION, &join, None).await;
    assert_eq!(connection.status, 200, "{}", connection.text);
    assert!(connection.text.contains("123456789012345678901234567890"));
    for (template, path, status) in [
        ("/api/v1/channels", "/api/v1/channels".to_owned(), 200),
        (CHANNELS_OF, format!("/api/v1/channels/{token}"), 200),
        (CHANNELS_OF, format!("/api/v1/channels/{lowercase}"), 404),
        (PARTNERS, format!("/api/v1/tokens/{token}/partners"), 200),
        (
            PARTNERS,
            format!("/api/v1/tokens/{unregistered}/partners"),
            200,
        ),
        (PARTNERS, "/api/v1/tokens/0x12/partners".to_owned(), 404),
        (TOKEN, format!("/api/v1/tokens/{token}"), 200),
        (TOKEN, format!("/api/v1/tokens/{unregistered}"), 404),
        (TOKEN, format!("/api/v1/tokens/{lowercase}"), 404),
    ] {
        let answer = c.call("GET", template, &path, None).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.text);
    }
    let channels = c
        .call("GET", "/api/v1/channels", "/api/v1/channels", None)
        .await;
    let partner = channels.json()[0]["partner_address"]
        .as_str()
        .expect("a channel")
        .to_owned();
    for (path, status) in [
        (format!("/api/v1/channels/{token}/{partner}"), 200),
        (format!("/api/v1/channels/{token}/{unregistered}"), 404),
        (format!("/api/v1/channels/{token}/nope"), 404),
        (format!("/api/v1/channels/{lowercase}/{partner}"), 404),
    ] {
        let answer = c.call("GET", CHANNEL, &path, None).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.text);
    }

    // DELETE /connections: refusals, then the leave (it waits for the settle timeout).
    for (path, status) in [
        (format!("/api/v1/connections/{lowercase}"), 404),
        (format!("/api/v1/connections/{unregistered}"), 409),
    ] {
        let answer = c.call("DELETE", CONNECTION, &path, None).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.text);
    }
    let left = c.call("DELETE", CONNECTION, &join, None).await;
    assert_eq!(left.status, 200, "{}", left.text);
    assert_eq!(left.json().as_array().map(Vec::len), Some(2));
    let again = c.call("DELETE", CONNECTION, &join, None).await;
    assert_eq!(again.json(), json!([]));

    // The decision log of the join and the leave, and one decision of every kind with
    // every field, so that each shape of record is checked against the document.
    let every_kind: Vec<Decision> = DecisionKind::ALL
        .into_iter()
        .map(|kind| {
            let mut decision = Decision::new(kind, StrategyKind::default());
            decision.partner = Some(Address::repeat_byte(0x5a));
            decision.channel_id = Some(ChannelId(1));
            decision.amount = Some(U256::from(10u64).pow(U256::from(30)));
            decision.inputs = DecisionInputs {
                funds: decision.amount,
                joinable_funds_target: JoinableFraction::from_f64(0.4).ok(),
                score: Some(0.25),
                ..DecisionInputs::default()
            };
            decision
        })
        .collect();
    node.record_decisions(net.token_network, &every_kind);
    for (path, status) in [
        (format!("{join}/decisions?limit=1000"), 200),
        (format!("{join}/decisions?limit=2&before=1000000"), 200),
        (format!("{join}/decisions?limit=0"), 409),
        (format!("{join}/decisions?before=x"), 409),
        (format!("/api/v1/connections/{unregistered}/decisions"), 404),
        (format!("/api/v1/connections/{lowercase}/decisions"), 404),
    ] {
        let answer = c.call("GET", DECISIONS, &path, None).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.text);
    }

    // 503 once the node shuts down.
    node.shutdown().await;
    let answer = c
        .call("PUT", CONNECTION, &join, Some(r#"{"funds": 1}"#))
        .await;
    assert_eq!(answer.status, 503);
    let answer = c.call("DELETE", CONNECTION, &join, None).await;
    assert_eq!(answer.status, 503);
    c.seen
}

async fn failed_joins() -> Seen {
    let mut seen = Seen::new();
    let net = TestNet::new();
    peers(&net, 3);
    let token = checksummed(&net.token);
    let join = format!("/api/v1/connections/{token}");
    let body = r#"{"funds": 300, "initial_channel_target": 3}"#;

    // 402: ETH below the gas reserve.
    let poor = net.account_with_eth(U256::from(1000), U256::from(1000));
    let node = net.node(poor);
    node.wait_ready().await;
    let mut c = Checker::new(&node, ApiConfig::default());
    let plan = c
        .call("POST", PLAN, &format!("{join}/plan"), Some(body))
        .await;
    assert_eq!(plan.status, 200, "{}", plan.text);
    assert!(plan.text.contains(r#""would_answer":402"#), "{}", plan.text);
    let answer = c.call("PUT", CONNECTION, &join, Some(body)).await;
    assert_eq!(answer.status, 402, "{}", answer.text);
    merge(&mut seen, c.seen);

    // 408: a transaction never mined.
    let slow = net.account(U256::from(1000));
    let node = net.node_with_timeout(slow, Duration::from_secs(5));
    node.wait_ready().await;
    net.chain
        .inject(FaultRule::once(Fault::NeverMine).for_account(slow));
    let mut c = Checker::new(&node, ApiConfig::default());
    let answer = c.call("PUT", CONNECTION, &join, Some(body)).await;
    assert_eq!(answer.status, 408, "{}", answer.text);
    merge(&mut seen, c.seen);

    // 500: the chain fails.
    let unlucky = net.account(U256::from(1000));
    let node = net.node(unlucky);
    node.wait_ready().await;
    net.chain.inject(
        FaultRule::once(Fault::RpcFailure("boom".into()))
            .for_account(unlucky)
            .for_transaction("approve"),
    );
    let mut c = Checker::new(&node, ApiConfig::default());
    let answer = c.call("PUT", CONNECTION, &join, Some(body)).await;
    assert_eq!(answer.status, 500, "{}", answer.text);
    merge(&mut seen, c.seen);
    seen
}

async fn registrations_and_mints() -> Seen {
    let net = TestNet::new();
    let account = net.account(U256::from(1000));
    let node = net.node(account);
    node.wait_ready().await;
    let mut c = Checker::new(&node, ApiConfig::default());
    let fresh = checksummed(&net.chain.deploy_test_token());
    let registered = checksummed(&net.token);
    let not_a_token = checksummed(&Address::repeat_byte(0x22));

    for (path, status) in [
        (format!("/api/v1/tokens/{fresh}"), 201),
        (format!("/api/v1/tokens/{fresh}"), 409),
        (format!("/api/v1/tokens/{registered}"), 409),
        (format!("/api/v1/tokens/{not_a_token}"), 409),
        (format!("/api/v1/tokens/{}", fresh.to_lowercase()), 404),
    ] {
        let answer = c.call("PUT", TOKEN, &path, None).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.text);
    }
    let tokens = c
        .call("GET", "/api/v1/tokens", "/api/v1/tokens", None)
        .await;
    assert_eq!(tokens.json().as_array().map(Vec::len), Some(2));

    let to = checksummed(&account);
    let mint = format!("/api/v1/_testing/tokens/{registered}/mint");
    let big = format!(r#"{{"to": "{to}", "pad": "{}"}}"#, "x".repeat(20 * 1024));
    let good = format!(r#"{{"to": "{to}", "value": "340282366920938463463374607431768211456"}}"#);
    let small = format!(r#"{{"to": "{to}", "value": 5}}"#);
    let lower_to = format!(r#"{{"to": "{}", "value": 5}}"#, to.to_lowercase());
    for (path, body, status) in [
        (mint.clone(), Some(good.as_str()), 200),
        (mint.clone(), Some(small.as_str()), 200),
        (mint.clone(), None, 409),
        (mint.clone(), Some(r#"{"to": "0x12", "value": 1}"#), 409),
        (mint.clone(), Some(lower_to.as_str()), 409),
        (mint.clone(), Some(r#"{"value": 1}"#), 409),
        (mint.clone(), Some(big.as_str()), 413),
        (
            format!("/api/v1/_testing/tokens/{not_a_token}/mint"),
            Some(small.as_str()),
            409,
        ),
        (
            format!("/api/v1/_testing/tokens/{}/mint", registered.to_lowercase()),
            Some(small.as_str()),
            404,
        ),
    ] {
        let answer = c.call("POST", MINT, &path, body).await;
        assert_eq!(answer.status, status, "{path} {body:?}: {}", answer.text);
    }
    assert_eq!(
        net.balance(account),
        U256::from(1005) + U256::from(2u64).pow(U256::from(128))
    );
    c.seen
}

async fn refusals_of_the_token_and_the_origin() -> Seen {
    let net = TestNet::new();
    let partner = net.account(e18());
    let account = net.account(U256::from(1000));
    net.open_channel_now(account, partner, U256::ZERO);
    let node = net.node(account);
    node.wait_ready().await;
    let config = ApiConfig {
        token: Some(ApiToken::new("secret").expect("a token")),
        ..ApiConfig::default()
    };
    let mut c = Checker::new(&node, config);
    let body = r#"{"funds": 1}"#;
    for (method, template) in ROUTES {
        let path = fill(template, &net.token, &partner);
        let body = matches!(*method, "PUT" | "POST").then_some(body);
        for (headers, status) in [
            (vec![], 401),
            (vec![("authorization", "Bearer wrong")], 401),
            (vec![("origin", "http://evil.example")], 403),
            (vec![("host", "evil.example")], 403),
            (
                vec![
                    ("origin", "http://evil.example"),
                    ("authorization", "Bearer secret"),
                ],
                403,
            ),
        ] {
            let answer = c.send(method, &path, &headers, body).await;
            assert_eq!(answer.status, status, "{method} {path} {headers:?}");
            c.check(method, template, &answer, None);
        }
    }
    assert!(node
        .channels(None)
        .iter()
        .all(|channel| channel.channel.partner == partner));
    c.seen
}

fn merge(into: &mut Seen, from: Seen) {
    for (operation, codes) in from {
        into.entry(operation).or_default().extend(codes);
    }
}

#[tokio::test(start_paused = true)]
async fn real_answers_match_the_document() {
    let mut seen = Seen::new();
    merge(&mut seen, join_and_leave().await);
    merge(&mut seen, failed_joins().await);
    merge(&mut seen, registrations_and_mints().await);
    merge(&mut seen, refusals_of_the_token_and_the_origin().await);
    // The openapi route: its success is checked in the test of (a); check it here too so
    // that the coverage below is complete.
    let net = TestNet::new();
    let node = net.node(net.account(e18()));
    node.wait_ready().await;
    let mut c = Checker::new(&node, ApiConfig::default());
    c.call("GET", "/api/v1/openapi.json", "/api/v1/openapi.json", None)
        .await;
    merge(&mut seen, c.seen);

    // Every operation was exercised with at least one success, so that a route cannot be
    // added to the document and the server without its answers being checked here.
    for (method, template) in ROUTES {
        let codes = seen
            .get(&(method.to_string(), template.to_string()))
            .unwrap_or_else(|| panic!("{method} {template} was never called"));
        assert!(
            codes.iter().any(|code| (200..300).contains(code)),
            "{method} {template} never succeeded: {codes:?}"
        );
    }
    let summary: Vec<String> = seen
        .iter()
        .map(|((method, template), codes)| format!("{method} {template}: {codes:?}"))
        .collect();
    println!("checked against docs/openapi.json:\n{}", summary.join("\n"));
}

// ---------------------------------------------------------------------------------------
// The checks themselves catch what they should

fn fabricated(status: u16, text: &str) -> Answer {
    Answer {
        status,
        content_type: Some("application/json".into()),
        text: text.into(),
        headers: warp::http::HeaderMap::new(),
    }
}

#[tokio::test(start_paused = true)]
async fn the_checker_refuses_what_the_document_does_not_say() {
    let net = TestNet::new();
    let node = net.node(net.account(e18()));
    let mut c = Checker::new(&node, ApiConfig::default());
    let connections = "/api/v1/connections";
    let entry = |funds: &str| {
        format!(
            r#"{{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed": {{"funds": {funds}, "sum_deposits": 0, "channels": 1}}}}"#
        )
    };
    // Amounts past 2^64 are integers; fractions, strings and negatives are not.
    c.check(
        "GET",
        connections,
        &fabricated(200, &entry("123456789012345678901234567890")),
        None,
    );
    for wrong in ["1.5", "\"7\"", "-1"] {
        let text = entry(wrong);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.check("GET", connections, &fabricated(200, &text), None)
        }));
        assert!(outcome.is_err(), "{text} passed");
    }
    for (status, text) in [
        (418, r#"{"errors": "teapot"}"#),
        (404, r#"{"errors": "no such route"}"#),
        (500, r#"{"errors": 5}"#),
        (500, r#"{"error": "typo"}"#),
        (200, r#"{"0xnot": {"funds": 1}}"#),
    ] {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.check("GET", connections, &fabricated(status, text), None)
        }));
        assert!(outcome.is_err(), "{status} {text} passed");
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        c.check(
            "PUT",
            CONNECTION,
            &fabricated(204, ""),
            Some(r#"{"funds": 1, "extra": 2}"#),
        )
    }));
    assert!(outcome.is_err(), "a body the document refuses passed");
}

/// Every strategy the node offers is one the document names, so that a client that reads
/// the document may send it.
#[test]
fn the_document_names_every_strategy() {
    let document = document();
    let names = &document["components"]["schemas"]["JoinRequest"]["properties"]
        ["partner_selection"]["enum"];
    for kind in tokennet::connection::strategy::StrategyKind::ALL {
        assert!(
            names
                .as_array()
                .is_some_and(|names| names.contains(&json!(kind.name()))),
            "{} is not in the document's partner_selection: {names}",
            kind.name()
        );
    }
}
