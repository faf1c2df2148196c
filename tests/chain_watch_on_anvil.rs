//! The chain misbehaving under a running node (hardening issue, item 8): the real
//! `tokennet` binary on a real anvil that is replaced by another chain, frozen with
//! SIGSTOP, or killed.
//!
//! * Another chain behind the same endpoint (same chain id, the same contracts at the
//!   same addresses, another genesis) gets no transaction of ours: a PUT answers 503,
//!   `/status` says `wrong_chain`, an ERROR names both chains; when the original chain is
//!   back, the node resumes by itself.
//! * A frozen endpoint (the kernel still accepts its TCP connections) makes a PUT answer
//!   408 within `--tx-timeout` plus one poll, `/status` say `stalled`, and a WARN; after
//!   SIGCONT the node is ready and a PUT succeeds.
//! * A dead endpoint makes a PUT answer 503, not 500.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::eips::BlockNumberOrTag;
use alloy::network::TransactionResponse as _;
use alloy::providers::{Provider, RootProvider};
use common::anvil::AnvilNet;
use common::eventually;
use common::process::NodeProcess;
use serde_json::{json, Value};
use tokennet::types::{checksummed, Address, U256};

/// Seconds between blocks.
const BLOCK_TIME: f64 = 0.5;
/// Settle timeout of the token network, seconds.
const SETTLE_TIMEOUT: u64 = 3;
/// Our dev account (0 deployed the contracts); it has sent nothing before the node runs.
const OURS: usize = 5;
/// Tokens we hold.
const OUR_TOKENS: u64 = 5_000;
/// The node's poll interval (`ethereum::DEFAULT_POLL_INTERVAL`).
const POLL: Duration = Duration::from_secs(1);
/// Longest wait for the node to notice a change of the chain.
const NOTICE: Duration = Duration::from_secs(30);

/// The node's files: key, deployment, data directory.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new(net: &AnvilNet) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("key"),
            format!("0x{}", alloy::hex::encode(net.signer(OURS).to_bytes())),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("deployment.json"),
            serde_json::to_string(&net.deployment).unwrap(),
        )
        .unwrap();
        Self { dir }
    }

    /// The node's command line on `endpoint`, with `extra` flags.
    fn args(&self, endpoint: &str, extra: &[&str]) -> Vec<OsString> {
        let path = |name: &str| self.dir.path().join(name).into_os_string();
        let mut args: Vec<OsString> = vec![
            "node".into(),
            "--eth-rpc-endpoint".into(),
            endpoint.into(),
            "--private-key-file".into(),
            path("key"),
            "--deployment".into(),
            path("deployment.json"),
            "--datadir".into(),
            path("datadir"),
            "--confirmation-blocks".into(),
            "1".into(),
        ];
        args.extend(extra.iter().map(OsString::from));
        args
    }
}

/// Anvil with the contracts and our tokens.
async fn chain_with_our_tokens() -> AnvilNet {
    let net = AnvilNet::start(BLOCK_TIME, SETTLE_TIMEOUT).await;
    net.give_tokens(OURS, U256::from(OUR_TOKENS)).await;
    net
}

fn join_body() -> Value {
    json!({ "funds": "1000", "initial_channel_target": 1 })
}

fn connection_path(net: &AnvilNet) -> String {
    format!("/api/v1/connections/{}", checksummed(&net.token))
}

/// A PUT of [`join_body`], answered within `limit`.
async fn put(node: &NodeProcess, net: &AnvilNet, limit: Duration, what: &str) -> (u16, Value) {
    let started = Instant::now();
    let answer = tokio::time::timeout(
        limit,
        node.call("PUT", &connection_path(net), Some(join_body())),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "{what}: the PUT was not answered within {limit:?}:\n{}",
            node.output()
        )
    });
    eprintln!(
        "{what}: PUT answered {} after {:?}",
        answer.0,
        started.elapsed()
    );
    answer
}

async fn status(node: &NodeProcess) -> Value {
    node.call("GET", "/api/v1/status", None).await.1
}

/// Waits until `/status` says `expected`; returns that status.
async fn wait_status(node: &NodeProcess, expected: &str) -> Value {
    let seen = Arc::new(Mutex::new(Value::Null));
    eventually(&format!("/status to say {expected:?}"), NOTICE, || {
        let seen = Arc::clone(&seen);
        async move {
            let now = status(node).await;
            let matches = now["status"] == expected;
            *seen.lock().unwrap() = now;
            matches
        }
    })
    .await;
    let last = seen.lock().unwrap().clone();
    last
}

/// A TCP forwarder in front of anvil: the node's endpoint, switched from one anvil to
/// another as a replaced endpoint would be. Switching cuts the open connections, as a
/// restart of the endpoint does.
///
/// Why not kill anvil and start another on the same port, then the original again from
/// `anvil --state`? The pinned anvil (1.7.1) does keep its genesis hash and head across a
/// dump and reload (checked by hand: `eth_getBlockByNumber 0` answers the same hash), so
/// that would work; but a port freed by a killed anvil can be taken by another test
/// before ours binds it again, and the reloaded anvil loses its transaction pool. With a
/// forwarder both chains stay alive, the switch is instant (no failed call warns the
/// node: the hardest case) and the original chain comes back exactly as it was.
struct Forwarder {
    port: u16,
    target: Arc<Mutex<u16>>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Forwarder {
    async fn start(target_port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = Arc::new(Mutex::new(target_port));
        let connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let accept = {
            let target = Arc::clone(&target);
            let connections = Arc::clone(&connections);
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let port = *target.lock().unwrap();
                    let address: SocketAddr = ([127, 0, 0, 1], port).into();
                    let handle = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(address).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    connections.lock().unwrap().push(handle);
                }
            })
        };
        Self {
            port,
            target,
            connections,
            accept,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends new connections to `port` and cuts the open ones.
    fn switch_to(&self, port: u16) {
        *self.target.lock().unwrap() = port;
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.accept.abort();
        self.switch_to(0);
    }
}

/// Every transaction of `us` on `net`'s chain: in its blocks and in its pool.
async fn our_transactions(net: &AnvilNet, us: Address) -> Vec<String> {
    let provider: RootProvider = RootProvider::new_http(net.anvil.endpoint().parse().unwrap());
    let mut ours = Vec::new();
    let head = provider.get_block_number().await.unwrap();
    for number in 0..=head {
        let block = provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .full()
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("block {number}"));
        for tx in block.transactions.txns() {
            if tx.from() == us {
                ours.push(format!("block {number}: {}", tx.tx_hash()));
            }
        }
    }
    let pool: Value = provider
        .raw_request("txpool_content".into(), json!([]))
        .await
        .unwrap();
    for kind in ["pending", "queued"] {
        if let Some(senders) = pool[kind].as_object() {
            for (sender, txs) in senders {
                if sender.eq_ignore_ascii_case(&us.to_string()) {
                    ours.push(format!("pool ({kind}): {txs}"));
                }
            }
        }
    }
    ours
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_chain_behind_the_endpoint_gets_no_transaction_and_the_node_resumes() {
    let original = chain_with_our_tokens().await;
    // The same deployer with the same nonces: the same contracts at the same addresses,
    // the same chain id; only the genesis differs (anvil's genesis holds its start time).
    let other = chain_with_our_tokens().await;
    assert_eq!(
        other.deployment.token_network_registry, original.deployment.token_network_registry,
        "the second chain must look like the first"
    );
    assert_eq!(other.token, original.token);
    let us = original.signer(OURS).address();
    let forwarder = Forwarder::start(original.anvil.port()).await;
    let files = Files::new(&original);
    let mut node = NodeProcess::start(
        "node",
        &files.args(&forwarder.endpoint(), &["--tx-timeout", "20s"]),
        &[],
    )
    .await;

    // The endpoint now leads to the other chain; the PUT comes at once, before the
    // node's next poll could notice.
    forwarder.switch_to(other.anvil.port());
    let (code, body) = put(&node, &original, Duration::from_secs(60), "other chain").await;
    assert_eq!(code, 503, "a PUT on another chain: {body}");
    let message = body["errors"].as_str().unwrap_or_default();
    assert!(message.contains("another chain"), "{message}");
    let status = wait_status(&node, "wrong_chain").await;
    let (expected, found) = (
        status["expected"].as_str().unwrap_or_default(),
        status["found"].as_str().unwrap_or_default(),
    );
    assert!(
        expected.contains("genesis") && found.contains("genesis") && expected != found,
        "{status}"
    );
    node.wait_for_output(
        "serves another chain than the one the node started on",
        NOTICE,
    )
    .await;
    assert!(
        node.output()
            .lines()
            .any(|line| line.contains("ERROR") && line.contains("serves another chain")),
        "no ERROR names the other chain:\n{}",
        node.output()
    );
    // A DELETE is refused the same way.
    let (code, body) = node.call("DELETE", &connection_path(&original), None).await;
    assert_eq!(code, 503, "a DELETE on another chain: {body}");
    // A few more polls on the other chain: still nothing of ours there.
    tokio::time::sleep(POLL * 3).await;
    let leaked = our_transactions(&other, us).await;
    assert!(
        leaked.is_empty(),
        "our transactions on the other chain: {leaked:?}"
    );
    // Never taken for a fork: the view was not rewound to the other chain's blocks.
    assert!(
        !node.output().contains("the chain reorganised"),
        "the other chain was taken for a reorganisation:\n{}",
        node.output()
    );

    // The original chain is back: the node resumes by itself and acts again.
    forwarder.switch_to(original.anvil.port());
    wait_status(&node, "ready").await;
    let (code, body) = put(&node, &original, Duration::from_secs(60), "original back").await;
    assert_eq!(code, 204, "a PUT on the original chain: {body}");
    node.wait_for_output("the chain the node started on is back", NOTICE)
        .await;
    let leaked = our_transactions(&other, us).await;
    assert!(
        leaked.is_empty(),
        "our transactions on the other chain: {leaked:?}"
    );
    assert!(
        !our_transactions(&original, us).await.is_empty(),
        "the join sent nothing on the original chain"
    );
}

/// Stops a process with SIGSTOP; SIGCONT when dropped.
struct Frozen(u32);

impl Frozen {
    fn stop(pid: u32) -> Self {
        signal("-STOP", pid);
        Self(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal("-CONT", self.0);
    }
}

fn signal(which: &str, pid: u32) {
    let status = std::process::Command::new("kill")
        .arg(which)
        .arg(pid.to_string())
        .status()
        .expect("running kill");
    assert!(status.success(), "kill {which} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_endpoint_answers_408_in_time_shows_stalled_and_recovers() {
    let net = chain_with_our_tokens().await;
    let files = Files::new(&net);
    let tx_timeout = Duration::from_secs(5);
    let mut node = NodeProcess::start(
        "node",
        &files.args(
            &net.anvil.endpoint(),
            &["--tx-timeout", "5s", "--chain-stall-timeout", "3s"],
        ),
        &[],
    )
    .await;

    let frozen = Frozen::stop(net.anvil.child().id());
    // --tx-timeout plus one poll, and a margin for two busy cores.
    let limit = tx_timeout + POLL + Duration::from_secs(4);
    let (code, body) = put(&node, &net, limit, "frozen").await;
    assert_eq!(code, 408, "a PUT on a frozen chain: {body}");
    let status = wait_status(&node, "stalled").await;
    assert!(
        status["head_age_seconds"].as_u64().unwrap_or_default() >= 3,
        "{status}"
    );
    node.wait_for_output("the chain has stalled", NOTICE).await;
    assert!(
        node.output()
            .lines()
            .any(|line| line.contains("WARN") && line.contains("the chain has stalled")),
        "no WARN about the stall:\n{}",
        node.output()
    );

    drop(frozen);
    wait_status(&node, "ready").await;
    node.wait_for_output("the chain produces blocks again", NOTICE)
        .await;
    let (code, body) = put(&node, &net, Duration::from_secs(60), "thawed").await;
    assert_eq!(code, 204, "a PUT after SIGCONT: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_answers_503() {
    let mut net = chain_with_our_tokens().await;
    let files = Files::new(&net);
    let node = NodeProcess::start("node", &files.args(&net.anvil.endpoint(), &[]), &[]).await;

    net.anvil.child_mut().kill().unwrap();
    net.anvil.child_mut().wait().unwrap();
    let (code, body) = put(&node, &net, Duration::from_secs(60), "dead").await;
    assert_eq!(code, 503, "a PUT with the chain gone: {body}");
    let message = body["errors"].as_str().unwrap_or_default();
    assert!(message.contains("unavailable"), "{message}");
}
