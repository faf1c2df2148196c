//! The API's edge, over real HTTP: the `Host` names of `--api-hosts` (403, DNS
//! rebinding), error answers that echo at most a little of what a client sent, the
//! warning for `--rpccorsdomain '*'`, the connection cap of the real binary under a low
//! descriptor limit, and requests in flight when the binary gets SIGTERM.

mod common;

use std::ffi::OsString;
use std::time::Duration;

use common::process::{http, NodeProcess};
use common::{e18, TestNet};
use serde_json::{json, Value};
use tokennet::api::auth::ApiToken;
use tokennet::api::hosts::HostPolicy;
use tokennet::api::{serve_with, ApiConfig};
use tokennet::chain::sim::SimChain;
use tokennet::node::Node;
use tokennet::types::U256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------------------------------
// Set-up

/// A node on a fast simulated chain, caught up.
async fn node_on(net: &TestNet) -> Node<SimChain> {
    let node = net.node(net.account(e18()));
    node.wait_ready().await;
    node
}

/// The API of `node` served with `config` on a fresh local port, until the test ends;
/// its `127.0.0.1:<port>`.
async fn serve(node: &Node<SimChain>, config: ApiConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a local port");
    let address = listener
        .local_addr()
        .expect("the bound address")
        .to_string();
    tokio::spawn(serve_with(
        node.clone(),
        listener,
        config,
        std::future::pending(),
    ));
    address
}

/// Sends `request` as it is over a fresh TCP connection and reads the answer until the
/// server closes it: `(status, body)`.
async fn raw(address: &str, request: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connecting to the API");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("sending the request");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .unwrap_or_else(|_| panic!("no complete answer within 10 s to {request:?}"))
        .expect("reading the answer");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn get_with_host(host: &str) -> String {
    format!("GET /api/v1/address HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
}

// ---------------------------------------------------------------------------------------
// --api-hosts: 403

#[tokio::test]
async fn a_host_name_that_is_not_allowed_answers_403_naming_the_flag() {
    let net = TestNet::with(SimChain::builder().block_time(Duration::from_millis(50)));
    let node = node_on(&net).await;
    let address = serve(&node, ApiConfig::default()).await;
    let port = address.rsplit(':').next().expect("a port");

    for host in [
        "evil.example".to_string(),
        format!("evil.example:{port}"),
        format!("localhost.evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
    ] {
        let (status, body) = raw(&address, &get_with_host(&host)).await;
        assert_eq!(status, 403, "Host {host}: {body}");
        let body: Value = serde_json::from_str(&body).expect("a JSON error body");
        let message = body["errors"].as_str().expect("an 'errors' message");
        assert!(message.contains("--api-hosts"), "{message}");
    }
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        // Only the name counts, not the port.
        "localhost:1".to_string(),
    ] {
        let (status, body) = raw(&address, &get_with_host(&host)).await;
        assert_eq!(status, 200, "Host {host}: {body}");
    }
    // No Host at all (HTTP/1.0 tools): not a browser, so not DNS rebinding; it passes.
    let (status, body) = raw(&address, "GET /api/v1/address HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 200, "{body}");
    // An absolute URI names the host too.
    let absolute = format!(
        "GET http://evil.example:{port}/api/v1/address HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw(&address, &absolute).await.0, 403);
    // A rebinding page's preflight is refused before CORS looks at it.
    let preflight = format!(
        "OPTIONS /api/v1/connections HTTP/1.1\r\nHost: evil.example:{port}\r\nOrigin: http://localhost:3000\r\nAccess-Control-Request-Method: PUT\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw(&address, &preflight).await.0, 403);

    // With a token, the host is refused first: 403, not 401.
    let guarded = serve(
        &node,
        ApiConfig {
            token: Some(ApiToken::new("secret").expect("a token")),
            ..ApiConfig::default()
        },
    )
    .await;
    assert_eq!(raw(&guarded, &get_with_host("evil.example")).await.0, 403);
    assert_eq!(raw(&guarded, &get_with_host("localhost")).await.0, 401);

    // A named host and `*`.
    let named = serve(
        &node,
        ApiConfig {
            hosts: HostPolicy::parse("node.example.com").expect("a host list"),
            ..ApiConfig::default()
        },
    )
    .await;
    assert_eq!(
        raw(&named, &get_with_host("NODE.example.com:443")).await.0,
        200
    );
    assert_eq!(raw(&named, &get_with_host("localhost")).await.0, 403);
    let any = serve(
        &node,
        ApiConfig {
            hosts: HostPolicy::parse("*").expect("a host list"),
            ..ApiConfig::default()
        },
    )
    .await;
    assert_eq!(raw(&any, &get_with_host("evil.example")).await.0, 200);
}

// ---------------------------------------------------------------------------------------
// Echoes

#[tokio::test]
async fn a_403_echoes_at_most_64_characters_of_a_100_kb_origin() {
    let net = TestNet::with(SimChain::builder().block_time(Duration::from_millis(50)));
    let node = node_on(&net).await;
    let address = serve(&node, ApiConfig::default()).await;
    let origin = format!("http://{}.example", "a".repeat(100 * 1024));
    let response = reqwest::Client::new()
        .get(format!("http://{address}/api/v1/address"))
        .header("Origin", &origin)
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 403);
    let text = response.text().await.expect("the body");
    assert!(
        text.len() < 300,
        "{} bytes back: {}",
        text.len(),
        &text[..300]
    );
    let body: Value = serde_json::from_str(&text).expect("a JSON error body");
    let message = body["errors"].as_str().expect("an 'errors' message");
    assert!(
        message.contains(&format!("http://{}…", "a".repeat(57))),
        "{message}"
    );
    assert!(message.contains("--rpccorsdomain"), "{message}");

    // A long Host is clipped the same way.
    let host = format!("{}.example", "b".repeat(100 * 1024));
    let (status, body) = raw(&address, &get_with_host(&host)).await;
    assert_eq!(status, 403);
    assert!(body.len() < 300, "{} bytes back", body.len());
}

// ---------------------------------------------------------------------------------------
// The real binary

fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

#[tokio::test]
async fn rpccorsdomain_star_warns_at_start() {
    let mut node = NodeProcess::start(
        "cors *",
        &args(&["node", "--sim-block-time", "200ms", "--rpccorsdomain", "*"]),
        &[],
    )
    .await;
    node.wait_for_output("WARNING: --rpccorsdomain '*'", Duration::from_secs(10))
        .await;
    let output = node.output();
    assert!(
        output
            .lines()
            .any(|line| line.contains("WARN") && line.contains("--rpccorsdomain '*'")),
        "the warning is also logged:\n{output}"
    );
}

/// The first demo token of the embedded network, from `GET /tokens`.
async fn demo_token(node: &NodeProcess) -> String {
    let (status, tokens) = node.call("GET", "/api/v1/tokens", None).await;
    assert_eq!(status, 200, "{tokens}");
    tokens[0].as_str().expect("a token address").to_string()
}

fn hundred_tokens() -> Value {
    json!({ "funds": (U256::from(100u64) * e18()).to_string() })
}

#[tokio::test]
async fn idle_sockets_beyond_the_descriptor_limit_do_not_starve_requests_or_the_database() {
    const DESCRIPTORS: u64 = 256;
    let datadir = tempfile::tempdir().expect("a temporary directory");
    let mut list = args(&["node", "--sim-block-time", "200ms", "--datadir"]);
    list.push(datadir.path().into());
    let mut node = NodeProcess::start_limited("flooded", &list, &[], Some(DESCRIPTORS)).await;
    node.wait_for_output("API connection cap ", Duration::from_secs(10))
        .await;
    let output = node.output();
    let cap: u64 = output
        .lines()
        .find_map(|line| {
            let rest = line.split("API connection cap ").nth(1)?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("the cap in use is logged:\n{output}"));
    assert!(
        cap < DESCRIPTORS,
        "cap {cap} under a limit of {DESCRIPTORS}"
    );
    let address = node.base().trim_start_matches("http://").to_string();
    let token = demo_token(&node).await;

    // More idle sockets than the node has descriptors; they send nothing.
    let mut idle = Vec::new();
    for _ in 0..400 {
        idle.push(
            tokio::net::TcpStream::connect(&address)
                .await
                .expect("connecting an idle socket"),
        );
    }
    // A join, which needs the database, while a second wave comes in.
    let base = node.base().to_string();
    let join_path = format!("/api/v1/connections/{token}");
    let join = tokio::spawn(async move {
        tokio::time::timeout(
            Duration::from_secs(120),
            http(&base, "PUT", &join_path, Some(hundred_tokens())),
        )
        .await
    });
    for _ in 0..200 {
        idle.push(
            tokio::net::TcpStream::connect(&address)
                .await
                .expect("connecting an idle socket"),
        );
    }
    // A few dozen normal requests, each answered.
    for round in 0..40 {
        let path = ["/api/v1/address", "/api/v1/status", "/api/v1/connections"][round % 3];
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            http(node.base(), "GET", path, None),
        )
        .await
        .unwrap_or_else(|_| panic!("request {round} (GET {path}) not answered within 10 s"))
        .unwrap_or_else(|e| panic!("request {round} (GET {path}) failed: {e}"));
        assert_eq!(answer.0, 200, "request {round} (GET {path}): {}", answer.1);
    }
    let joined = join
        .await
        .expect("the join task")
        .expect("the join answers within 120 s")
        .expect("the join gets an answer");
    assert_eq!(joined.0, 204, "the join: {}", joined.1);
    // The cap held: the node closed all but at most `cap` of the idle sockets (long
    // before the header read timeout would have).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let closed = idle
        .iter()
        .filter(|socket| {
            let mut byte = [0u8; 1];
            // Open and silent: WouldBlock; closed by the node: end of stream or reset.
            !matches!(socket.try_read(&mut byte), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    let floor = idle.len() - usize::try_from(cap).expect("a small cap");
    assert!(
        closed >= floor,
        "only {closed} of {} idle sockets closed by the node; expected at least {floor}",
        idle.len()
    );
    drop(idle);

    let output = node.output();
    assert!(
        !output.contains("Too many open files"),
        "the node ran out of descriptors:\n{output}"
    );
    assert!(
        !output.contains("cannot accept"),
        "the node failed to accept:\n{output}"
    );
}

/// Starts the node with `extra` flags and slow blocks, sends a join, SIGTERMs the node
/// half a second later, and returns the join's answer (which must be a whole HTTP
/// answer) and the node's output once it has exited.
async fn join_then_sigterm(label: &str, extra: &[&str]) -> ((u16, Value), String) {
    let mut list = args(&["node", "--sim-block-time", "3s"]);
    list.extend(args(extra));
    let mut node = NodeProcess::start(label, &list, &[]).await;
    let token = demo_token(&node).await;
    let base = node.base().to_string();
    let join = tokio::spawn(async move {
        let path = format!("/api/v1/connections/{token}");
        http(&base, "PUT", &path, Some(hundred_tokens())).await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    node.terminate();
    let answer = tokio::time::timeout(Duration::from_secs(90), join)
        .await
        .unwrap_or_else(|_| panic!("{label}: the join got no answer within 90 s of SIGTERM"))
        .expect("the join task")
        .unwrap_or_else(|e| {
            panic!(
                "{label}: the join's connection ended without an answer: {e}\n{}",
                node.output()
            )
        });
    let status = node
        .wait_exit(Duration::from_secs(30))
        .await
        .unwrap_or_else(|| panic!("{label}: no exit within 30 s of SIGTERM"));
    assert_eq!(
        status.code(),
        Some(0),
        "{label}: {status}\n{}",
        node.output()
    );
    (answer, node.output())
}

#[tokio::test]
async fn a_join_in_flight_at_sigterm_gets_a_whole_answer_204_or_503() {
    let ((status, body), output) = join_then_sigterm("default grace", &[]).await;
    match status {
        204 => {}
        503 => {
            let message = body["errors"].as_str().unwrap_or_default();
            assert!(message.contains("shutting down"), "{body}");
        }
        other => panic!("the join answered {other} {body}\n{output}"),
    }
    assert!(
        !output.contains("state database is closed"),
        "the database closed under a request:\n{output}"
    );
}

#[tokio::test]
async fn a_join_in_flight_at_sigterm_finishes_within_a_long_grace_period() {
    let ((status, body), output) =
        join_then_sigterm("long grace", &["--shutdown-grace", "60s"]).await;
    assert_eq!(status, 204, "{body}\n{output}");
}

#[test]
fn bad_host_lists_and_caps_name_their_flag() {
    use clap::Parser;
    use tokennet::cli::Cli;
    for (flag, bad) in [
        ("--api-hosts", "http://node.example"),
        ("--api-hosts", "node.example:5001"),
        ("--api-hosts", ""),
        ("--api-max-connections", "0"),
        ("--api-max-connections", "many"),
        ("--shutdown-grace", "soon"),
    ] {
        let error = Cli::try_parse_from(["tokennet", flag, bad]).expect_err(bad);
        assert!(error.to_string().contains(flag), "{flag} {bad}: {error}");
    }
    let parsed = Cli::try_parse_from(["tokennet", "--api-address", "10.0.0.5:5001"])
        .expect("the defaults parse");
    let config = parsed.node.api_config();
    assert!(config.hosts.allows("10.0.0.5:5001"));
    assert!(config.hosts.allows("localhost:5001"));
    assert!(!config.hosts.allows("evil.example"));
    assert_eq!(
        config.max_connections,
        tokennet::api::DEFAULT_MAX_CONNECTIONS
    );
}
