//! Helpers shared by the integration tests: a simulated chain with a test token and its
//! token network, funded accounts, nodes, and calls into the REST API.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod anvil;
pub mod mock_rpc;
pub mod plan_scenarios;
pub mod process;
pub mod scenarios;

use std::future::Future;
use std::time::Duration;

use serde_json::Value;
use tokennet::chain::sim::{SimChain, SimChainBuilder};
use tokennet::chain::{Chain, Transaction};
use tokennet::node::Node;
use tokennet::types::{checksummed, Address, TokenAmount, U256};
use warp::http::StatusCode;

/// 10^18: one token of 18 decimals, or one ETH in wei.
pub fn e18() -> U256 {
    U256::from(10u64).pow(U256::from(18))
}

/// A simulated chain with one test token whose token network is registered.
pub struct TestNet {
    /// The chain, acting for its administrator.
    pub chain: SimChain,
    /// The test token.
    pub token: Address,
    /// Its token network.
    pub token_network: Address,
    next_account: std::cell::Cell<u64>,
}

impl TestNet {
    /// A chain with one-second blocks and a 10-second settle timeout.
    pub fn new() -> Self {
        Self::with(SimChain::builder().settle_timeout(10))
    }

    /// A chain from `builder`, with the test token registered.
    pub fn with(builder: SimChainBuilder) -> Self {
        let chain = builder.build();
        let token = chain.deploy_test_token();
        let token_network = chain
            .execute_now(chain.our_address(), &Transaction::RegisterToken { token })
            .expect("registering the test token")
            .token_network
            .expect("registration names the network");
        Self {
            chain,
            token,
            token_network,
            next_account: std::cell::Cell::new(1),
        }
    }

    /// A new account with 10 ETH and `tokens` of the test token.
    pub fn account(&self, tokens: U256) -> Address {
        self.account_with_eth(tokens, U256::from(10u64) * e18())
    }

    /// A new account with `eth` wei and `tokens` of the test token.
    pub fn account_with_eth(&self, tokens: U256, eth: U256) -> Address {
        let index = self.next_account.get();
        self.next_account.set(index + 1);
        let address = self.chain.create_account(index, eth);
        self.chain
            .mint(self.token, address, tokens)
            .expect("minting test tokens");
        address
    }

    /// A started node for `account` with a 120 s tx timeout.
    pub fn node(&self, account: Address) -> Node<SimChain> {
        self.node_with_timeout(account, Duration::from_secs(120))
    }

    /// A started node for `account`.
    pub fn node_with_timeout(&self, account: Address, tx_timeout: Duration) -> Node<SimChain> {
        Node::builder(self.chain.for_account(account))
            .tx_timeout(tx_timeout)
            .seed(7)
            .start()
    }

    /// Token balance of `owner`.
    pub fn balance(&self, owner: Address) -> U256 {
        self.chain
            .with_ledger(|ledger| ledger.token_balance(&self.token, &owner))
    }

    /// Opens a channel from `a` to `b` right away (no node involved) and funds it.
    pub fn open_channel_now(&self, a: Address, b: Address, deposit: U256) {
        self.chain
            .execute_now(
                a,
                &Transaction::Approve {
                    token: self.token,
                    spender: self.token_network,
                    amount: TokenAmount(deposit),
                },
            )
            .expect("approve");
        let transaction = if deposit.is_zero() {
            Transaction::OpenChannel {
                token_network: self.token_network,
                partner: b,
            }
        } else {
            Transaction::OpenChannelWithDeposit {
                token_network: self.token_network,
                partner: b,
                total_deposit: TokenAmount(deposit),
            }
        };
        self.chain.execute_now(a, &transaction).expect("open");
    }

    /// The token's path segment.
    pub fn token_path(&self) -> String {
        checksummed(&self.token)
    }
}

/// A response: status and body parsed as JSON (`Value::Null` for an empty body).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// Asserts the status and that the error body names `needle`.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, needle: &str) {
        assert_eq!(self.status, status, "body: {}", self.text);
        let message = self.body["errors"]
            .as_str()
            .unwrap_or_else(|| panic!("error body without 'errors': {}", self.text));
        assert!(
            message.contains(needle),
            "expected the error to mention {needle:?}, got {message:?}"
        );
    }
}

/// Calls the REST API of `node` through the whole warp stack (in memory).
pub async fn call<C: Chain>(
    node: &Node<C>,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Answer {
    let mut request = warp::test::request().method(method).path(path);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    let response = request.reply(&tokennet::api::routes(node.clone())).await;
    let text = String::from_utf8_lossy(response.body()).into_owned();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    Answer {
        status: response.status(),
        body,
        text,
    }
}

/// Waits until `condition` holds, polling every 100 ms of (virtual) time, at most
/// `limit`; panics naming `what` otherwise.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The REST API of a node served over real HTTP on `127.0.0.1`, on a port of the
/// system's choice. Dropping it shuts the server down.
pub struct HttpServer {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub base: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Serves the API of `node` with `tokennet::api::serve` on a fresh local port. For tests
/// on the wall clock (`#[tokio::test]`, not `start_paused`): real sockets need real time.
pub async fn serve_http(node: &Node<SimChain>) -> HttpServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a local port");
    let address = listener.local_addr().expect("the bound address");
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(tokennet::api::serve(node.clone(), listener, async move {
        let _ = stop.await;
    }));
    HttpServer {
        base: format!("http://{address}"),
        shutdown: Some(shutdown),
    }
}

/// Calls `server` over real HTTP with reqwest; a body is sent as JSON.
pub async fn http_call(
    server: &HttpServer,
    method: &str,
    path: &str,
    body: Option<String>,
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", server.base));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    let response = request.send().await.expect("an HTTP answer");
    let status = StatusCode::from_u16(response.status().as_u16()).expect("a status code");
    let text = response.text().await.expect("the answer's body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    Answer { status, body, text }
}

/// The simulated chain as a [`scenarios::ScenarioNet`].
pub struct SimScenario {
    /// The chain and its test token.
    pub net: TestNet,
    second: Option<Address>,
}

impl SimScenario {
    /// A chain with one-second blocks and the test token registered.
    pub fn new() -> Self {
        Self {
            net: TestNet::new(),
            second: None,
        }
    }
}

impl scenarios::ScenarioNet for SimScenario {
    type C = SimChain;

    fn token(&self) -> Address {
        self.net.token
    }

    fn token_network(&self) -> Address {
        self.net.token_network
    }

    async fn second_token(&mut self) -> Address {
        let token = self.net.chain.deploy_test_token();
        self.net
            .chain
            .execute_now(
                self.net.chain.our_address(),
                &Transaction::RegisterToken { token },
            )
            .expect("registering the second token");
        self.second = Some(token);
        token
    }

    async fn account(&mut self, tokens: U256) -> Address {
        let account = self.net.account(tokens);
        if let Some(second) = self.second {
            self.net
                .chain
                .mint(second, account, tokens)
                .expect("minting");
        }
        account
    }

    async fn node(&mut self, account: Address) -> Node<SimChain> {
        let node = self.net.node(account);
        node.wait_ready().await;
        node
    }

    async fn open_channel(&mut self, a: Address, b: Address) {
        self.net.open_channel_now(a, b, U256::ZERO);
    }

    async fn set_mining_paused(&self, paused: bool) {
        self.net.chain.set_mining_paused(paused);
    }

    async fn pending_transactions(&self) -> usize {
        self.net.chain.pending_transactions()
    }

    async fn balance(&self, owner: Address) -> U256 {
        self.net.balance(owner)
    }
}
