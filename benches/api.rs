//! Throughput of `GET /api/v1/connections` next to a trivial warp route, over real HTTP.
//!
//! What is measured: requests per second of `GET /api/v1/connections` answered by
//! [`tokennet::api::serve`] for a node that has joined 10 token networks (each with open
//! channels), through the full warp stack (routing, handler, JSON body, the recovery and
//! tracing filters) on a real `tokio::net::TcpListener` bound to `127.0.0.1:0`; and,
//! served the same way in the same run, a trivial warp route (`GET /ping` answering
//! `pong`). Both are requested one at a time by a single keep-alive `reqwest::Client`, so
//! each figure is the round-trip rate of one connection, and the ratio of the two says
//! how much the API's own work costs on top of warp, hyper and the loopback network.
//!
//! The set-up is a simulated chain (10 ms blocks, wall clock) with 10 registered test
//! tokens, three peer accounts forming a channel ring in each token network, and our
//! funded account, whose node joins all 10 networks through `Node::join` (which really
//! opens and funds channels). The benchmark asserts once that `GET /connections` reports
//! 10 entries with channels before measuring.
//!
//! Output: the criterion group `get_connections_vs_trivial` reports both routes in
//! elem/s (one element per request), and afterwards a side-by-side measurement that
//! interleaves requests to both routes in several rounds prints
//! `ratio connections/trivial = R (connections X req/s, trivial Y req/s)`.
//!
//! Run it with:
//!
//! ```text
//! cargo bench --bench api
//! cargo bench --bench api -- --warm-up-time 1 --measurement-time 3   # quicker
//! ```

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use serde_json::Value;
use tokennet::chain::sim::SimChain;
use tokennet::chain::{Chain, Transaction};
use tokennet::connection::ConnectionParams;
use tokennet::node::Node;
use tokennet::types::{Address, U256};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use warp::Filter;

/// Number of token networks our node joins.
const NETWORKS: usize = 10;
/// Peer accounts in each token network.
const PEERS: u64 = 3;
/// Requests per route in one round of the side-by-side measurement.
const SIDE_BY_SIDE_REQUESTS: usize = 2000;
/// Rounds of the side-by-side measurement.
const SIDE_BY_SIDE_ROUNDS: usize = 5;

/// 10^18: one token of 18 decimals, or one ETH in wei.
fn e18() -> U256 {
    U256::from(10u64).pow(U256::from(18))
}

/// The running servers and what keeps them alive.
struct Servers {
    /// Our node (kept so that it outlives the measurement).
    _node: Node<SimChain>,
    /// The chain (kept so that its blocks go on).
    _chain: SimChain,
    /// URL of `GET /api/v1/connections`.
    connections_url: String,
    /// URL of the trivial route.
    trivial_url: String,
    /// Stops both servers when sent or dropped.
    _shutdown: Vec<oneshot::Sender<()>>,
}

/// Builds the chain and the node, joins the 10 token networks, and starts both servers.
async fn start() -> Servers {
    let chain = SimChain::builder()
        .seed(1)
        .block_time(Duration::from_millis(10))
        .settle_timeout(30)
        .build();
    let admin = chain.our_address();
    let us = chain.create_account(0, U256::from(1_000u64) * e18());
    let peers: Vec<Address> = (1..=PEERS)
        .map(|index| chain.create_account(index, U256::from(10u64) * e18()))
        .collect();

    let mut tokens = Vec::with_capacity(NETWORKS);
    for _ in 0..NETWORKS {
        let token = chain.deploy_test_token();
        let token_network = chain
            .execute_now(admin, &Transaction::RegisterToken { token })
            .expect("registering a test token")
            .token_network
            .expect("registration names the token network");
        chain
            .mint(token, us, U256::from(1_000u64) * e18())
            .expect("minting our tokens");
        for peer in &peers {
            chain
                .mint(token, *peer, U256::from(1_000u64) * e18())
                .expect("minting a peer's tokens");
        }
        // A ring of channels among the peers, so that the network has participants.
        for (i, a) in peers.iter().enumerate() {
            let b = peers[(i + 1) % peers.len()];
            chain
                .execute_now(
                    *a,
                    &Transaction::OpenChannel {
                        token_network,
                        partner: b,
                    },
                )
                .expect("opening a peer channel");
        }
        tokens.push(token);
    }

    let node = Node::builder(chain.for_account(us))
        .seed(1)
        .tx_timeout(Duration::from_secs(60))
        .start();
    node.wait_ready().await;
    let joins = tokens.iter().map(|token| {
        let node = node.clone();
        let token = *token;
        async move {
            node.join(
                token,
                ConnectionParams::with_funds(U256::from(100u64) * e18()),
            )
            .await
            .expect("joining a token network");
        }
    });
    futures::future::join_all(joins).await;

    let mut shutdown = Vec::new();

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding the API listener");
    let api_address = listener.local_addr().expect("the API listener's address");
    let (stop, stopped) = oneshot::channel::<()>();
    shutdown.push(stop);
    tokio::spawn(tokennet::api::serve(node.clone(), listener, async move {
        let _ = stopped.await;
    }));

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding the trivial listener");
    let trivial_address = listener
        .local_addr()
        .expect("the trivial listener's address");
    let (stop, stopped) = oneshot::channel::<()>();
    shutdown.push(stop);
    let ping = warp::path!("ping").and(warp::get()).map(|| "pong");
    tokio::spawn(
        warp::serve(ping)
            .incoming(listener)
            .graceful(async move {
                let _ = stopped.await;
            })
            .run(),
    );

    Servers {
        _node: node,
        _chain: chain,
        connections_url: url(api_address, "/api/v1/connections"),
        trivial_url: url(trivial_address, "/ping"),
        _shutdown: shutdown,
    }
}

fn url(address: SocketAddr, path: &str) -> String {
    format!("http://{address}{path}")
}

/// One GET, reading the whole body so that the connection goes back to the pool.
async fn get(client: &reqwest::Client, url: &str) -> usize {
    let response = client.get(url).send().await.expect("sending a request");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.bytes().await.expect("reading a body").len()
}

/// Checks once that `GET /connections` reports the 10 joined networks with channels.
async fn check_connections(client: &reqwest::Client, url: &str) {
    let response = client.get(url).send().await.expect("GET /connections");
    assert!(response.status().is_success(), "{}", response.status());
    let body: Value = response.json().await.expect("a JSON body");
    let entries = body.as_object().expect("a JSON object of connections");
    assert_eq!(entries.len(), NETWORKS, "connections: {body}");
    for (token, entry) in entries {
        let channels = entry["channels"].as_u64().unwrap_or(0);
        assert!(channels > 0, "no channels in {token}: {entry}");
    }
}

/// Requests both routes alternately, timing each request; returns (connections rps,
/// trivial rps).
async fn side_by_side(
    client: &reqwest::Client,
    servers: &Servers,
    per_round: usize,
    rounds: usize,
) -> (f64, f64) {
    let (mut connections_time, mut trivial_time) = (Duration::ZERO, Duration::ZERO);
    for round in 0..rounds {
        // Alternate which route goes first in each pair from round to round.
        let connections_first = round % 2 == 0;
        for _ in 0..per_round {
            for connections in [connections_first, !connections_first] {
                let (target, total) = if connections {
                    (&servers.connections_url, &mut connections_time)
                } else {
                    (&servers.trivial_url, &mut trivial_time)
                };
                let started = Instant::now();
                std::hint::black_box(get(client, target).await);
                *total += started.elapsed();
            }
        }
    }
    let requests = (per_round * rounds) as f64;
    (
        requests / connections_time.as_secs_f64(),
        requests / trivial_time.as_secs_f64(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let listing = args.iter().any(|a| a == "--list");
    // Like criterion: without `--bench` (e.g. under `cargo test`), run everything once.
    let test_mode = !args.iter().any(|a| a == "--bench");

    let mut criterion = Criterion::default().configure_from_args();
    if listing {
        criterion.final_summary();
        return;
    }

    let runtime = Runtime::new().expect("a tokio runtime");
    let servers = runtime.block_on(start());
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_idle_timeout(None)
        .tcp_nodelay(true)
        .build()
        .expect("an HTTP client");
    runtime.block_on(async {
        check_connections(&client, &servers.connections_url).await;
        // Open the keep-alive connections before measuring.
        get(&client, &servers.connections_url).await;
        get(&client, &servers.trivial_url).await;
    });

    {
        let mut group = criterion.benchmark_group("get_connections_vs_trivial");
        group.throughput(Throughput::Elements(1));
        group.bench_function("connections_10_networks", |b| {
            b.to_async(&runtime)
                .iter(|| get(&client, &servers.connections_url));
        });
        group.bench_function("trivial_ping", |b| {
            b.to_async(&runtime)
                .iter(|| get(&client, &servers.trivial_url));
        });
        group.finish();
    }
    criterion.final_summary();

    let (per_round, rounds) = if test_mode {
        (20, 1)
    } else {
        (SIDE_BY_SIDE_REQUESTS, SIDE_BY_SIDE_ROUNDS)
    };
    let (connections_rps, trivial_rps) =
        runtime.block_on(side_by_side(&client, &servers, per_round, rounds));
    println!(
        "ratio connections/trivial = {:.2} (connections {:.0} req/s, trivial {:.0} req/s)",
        connections_rps / trivial_rps,
        connections_rps,
        trivial_rps
    );
    println!(
        "  ({rounds} rounds of {per_round} requests to each route, interleaved, one keep-alive client{})",
        if test_mode { "; test mode, not a measurement" } else { "" }
    );

    drop(servers);
}
