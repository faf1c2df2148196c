//! The API of a node that holds real funds, over real HTTP: the bearer token of
//! `--api-token-file` (401), the origins of `--rpccorsdomain` (403, preflights), clients
//! that send slowly (cut off, 408), the body limit (413) behind all that, a shutdown that
//! does not wait for long joins (503), and the real binary stopping on SIGTERM.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{e18, TestNet};
use serde_json::{json, Value};
use tokennet::api::auth::ApiToken;
use tokennet::api::cors::CorsPolicy;
use tokennet::api::{serve_with, ApiConfig};
use tokennet::chain::sim::SimChain;
use tokennet::node::Node;
use tokennet::types::{checksummed, U256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "correct horse battery staple";

// ---------------------------------------------------------------------------------------
// Set-up

fn fast_net() -> TestNet {
    TestNet::with(
        SimChain::builder()
            .block_time(Duration::from_millis(50))
            .settle_timeout(1),
    )
}

/// A node with tokens, caught up, and two peers with a channel between them.
async fn node_on(net: &TestNet) -> Node<SimChain> {
    let a = net.account(e18());
    let b = net.account(e18());
    net.open_channel_now(a, b, U256::ZERO);
    let node = net.node(net.account(U256::from(1000)));
    node.wait_ready().await;
    node
}

/// The API of `node` served with `config` on a fresh local port; stops when dropped.
struct Server {
    base: String,
    host: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn serve(node: &Node<SimChain>, config: ApiConfig) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a local port");
    let host = listener
        .local_addr()
        .expect("the bound address")
        .to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(serve_with(node.clone(), listener, config, async move {
        let _ = stopped.await;
    }));
    Server {
        base: format!("http://{host}"),
        host,
        stop: Some(stop),
        done: Some(done),
    }
}

fn with_token() -> ApiConfig {
    ApiConfig {
        token: Some(ApiToken::new(TOKEN).expect("a token")),
        ..ApiConfig::default()
    }
}

/// An answer: status, headers and the body as JSON (`Null` when empty).
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
    text: String,
}

impl Answer {
    #[track_caller]
    fn assert_error(&self, status: u16, needle: &str) {
        assert_eq!(self.status, status, "body: {}", self.text);
        let message = self.body["errors"]
            .as_str()
            .unwrap_or_else(|| panic!("error body without 'errors': {}", self.text));
        assert!(
            message.contains(needle),
            "expected {needle:?} in {message:?}"
        );
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn request(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut builder = reqwest::Client::new().request(method, format!("{}{path}", server.base));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    if let Some(body) = body {
        builder = builder
            .header("content-type", "application/json")
            .body(body);
    }
    let response = builder.send().await.expect("an HTTP answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("the body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    Answer {
        status,
        headers,
        body,
        text,
    }
}

fn join_path(net: &TestNet) -> String {
    format!("/api/v1/connections/{}", checksummed(&net.token))
}

fn join_body() -> String {
    json!({"funds": 100, "initial_channel_target": 2, "joinable_funds_target": 0}).to_string()
}

// ---------------------------------------------------------------------------------------
// --api-token-file: 401

#[tokio::test]
async fn without_the_token_every_route_answers_401_and_nothing_happens() {
    let net = fast_net();
    let node = node_on(&net).await;
    let server = serve(&node, with_token()).await;

    let missing = request(&server, "GET", "/api/v1/status", &[], None).await;
    missing.assert_error(401, "Authorization: Bearer");
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    request(
        &server,
        "GET",
        "/api/v1/status",
        &[("authorization", "Bearer not the token")],
        None,
    )
    .await
    .assert_error(401, "Invalid API token");
    request(
        &server,
        "GET",
        "/api/v1/status",
        &[("authorization", TOKEN)],
        None,
    )
    .await
    .assert_error(401, "Bearer <token>");
    // Unknown routes and wrong methods too: nothing is told without the token.
    request(&server, "GET", "/api/v1/nothing", &[], None)
        .await
        .assert_error(401, "API token");
    // A join with a wrong token sends nothing.
    let join = request(
        &server,
        "PUT",
        &join_path(&net),
        &[("authorization", "Bearer wrong")],
        Some(join_body()),
    )
    .await;
    join.assert_error(401, "Invalid API token");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        node.channels(None).is_empty(),
        "a refused join opens nothing"
    );
}

#[tokio::test]
async fn with_the_token_requests_pass() {
    let net = fast_net();
    let node = node_on(&net).await;
    let server = serve(&node, with_token()).await;
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("authorization", bearer.as_str())];

    let status = request(&server, "GET", "/api/v1/status", &auth, None).await;
    assert_eq!(status.status, 200, "{}", status.text);
    assert_eq!(status.body, json!({"status": "ready"}));
    let join = request(&server, "PUT", &join_path(&net), &auth, Some(join_body())).await;
    assert_eq!(join.status, 204, "{}", join.text);
    let connections = request(&server, "GET", "/api/v1/connections", &auth, None).await;
    assert_eq!(connections.status, 200);
    assert_eq!(
        connections.body[checksummed(&net.token)]["funds"],
        json!(100)
    );
    // The scheme is case-insensitive; the token is not.
    let lower = format!("bearer {TOKEN}");
    let answer = request(
        &server,
        "GET",
        "/api/v1/version",
        &[("authorization", lower.as_str())],
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let upper = format!("Bearer {}", TOKEN.to_uppercase());
    request(
        &server,
        "GET",
        "/api/v1/version",
        &[("authorization", upper.as_str())],
        None,
    )
    .await
    .assert_error(401, "Invalid API token");
}

// ---------------------------------------------------------------------------------------
// --rpccorsdomain: 403 and preflights

#[tokio::test]
async fn an_allowed_origin_gets_its_origin_back_even_on_errors() {
    let net = fast_net();
    let node = node_on(&net).await;
    let server = serve(&node, ApiConfig::default()).await;
    let origin = [("origin", "http://localhost:3000")];

    let answer = request(&server, "GET", "/api/v1/address", &origin, None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(answer.header("vary"), Some("Origin"));
    let missing = request(&server, "GET", "/api/v1/nothing", &origin, None).await;
    missing.assert_error(404, "No such resource");
    assert_eq!(
        missing.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    // No Origin (curl, scripts): no CORS headers, and the request passes.
    let plain = request(&server, "GET", "/api/v1/address", &[], None).await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_disallowed_origin_answers_403_naming_it_and_nothing_happens() {
    let net = fast_net();
    let node = node_on(&net).await;
    let server = serve(&node, ApiConfig::default()).await;

    for origin in [
        "http://evil.example",
        "http://localhost:3000.evil.example",
        "https://localhost:3000",
        "null",
    ] {
        let answer = request(
            &server,
            "GET",
            "/api/v1/address",
            &[("origin", origin)],
            None,
        )
        .await;
        answer.assert_error(403, &format!("Origin {origin} is not allowed"));
        assert_eq!(answer.header("access-control-allow-origin"), None);
    }
    let join = request(
        &server,
        "PUT",
        &join_path(&net),
        &[("origin", "http://evil.example")],
        Some(join_body()),
    )
    .await;
    join.assert_error(403, "--rpccorsdomain");
    let preflight = request(
        &server,
        "OPTIONS",
        &join_path(&net),
        &[
            ("origin", "http://evil.example"),
            ("access-control-request-method", "PUT"),
        ],
        None,
    )
    .await;
    preflight.assert_error(403, "http://evil.example");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        node.channels(None).is_empty(),
        "a refused join opens nothing"
    );
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_needs_no_token() {
    let net = fast_net();
    let node = node_on(&net).await;
    let config = ApiConfig {
        cors: CorsPolicy::parse("https://wallet.example.com, http://127.0.0.1:*")
            .expect("a policy"),
        ..with_token()
    };
    let server = serve(&node, config).await;

    let preflight = request(
        &server,
        "OPTIONS",
        &join_path(&net),
        &[
            ("origin", "https://wallet.example.com"),
            ("access-control-request-method", "PUT"),
            (
                "access-control-request-headers",
                "content-type, authorization",
            ),
        ],
        None,
    )
    .await;
    assert!(
        preflight.status == 204 || preflight.status == 200,
        "{} {}",
        preflight.status,
        preflight.text
    );
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://wallet.example.com")
    );
    let methods = preflight
        .header("access-control-allow-methods")
        .expect("allowed methods");
    for method in ["GET", "PUT", "DELETE", "POST"] {
        assert!(methods.contains(method), "{methods}");
    }
    let headers = preflight
        .header("access-control-allow-headers")
        .expect("allowed headers")
        .to_ascii_lowercase();
    assert!(
        headers.contains("content-type") && headers.contains("authorization"),
        "{headers}"
    );

    // The request itself still needs the token, and its refusal carries the CORS headers
    // so that the page can read it.
    let refused = request(
        &server,
        "GET",
        "/api/v1/address",
        &[("origin", "http://127.0.0.1:8080")],
        None,
    )
    .await;
    refused.assert_error(401, "API token");
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some("http://127.0.0.1:8080")
    );
    // The default localhost entry is replaced by the list.
    request(
        &server,
        "GET",
        "/api/v1/address",
        &[("origin", "http://localhost:3000")],
        None,
    )
    .await
    .assert_error(403, "http://localhost:3000");
    // OPTIONS without a preflight's headers is an ordinary request: 405 once authorized.
    let bearer = format!("Bearer {TOKEN}");
    request(
        &server,
        "OPTIONS",
        "/api/v1/address",
        &[("authorization", bearer.as_str())],
        None,
    )
    .await
    .assert_error(405, "Method not allowed");
}

// ---------------------------------------------------------------------------------------
// Slow clients and big bodies

/// Everything the server sends on `stream` until it closes it, at most `limit` later.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, limit: Duration) -> String {
    let mut received = Vec::new();
    let outcome = tokio::time::timeout(limit, stream.read_to_end(&mut received)).await;
    assert!(
        outcome.is_ok(),
        "the server did not close the connection within {limit:?}; got {:?}",
        String::from_utf8_lossy(&received)
    );
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn a_client_sending_its_headers_slowly_is_cut_off() {
    let net = fast_net();
    let node = node_on(&net).await;
    let config = ApiConfig {
        header_read_timeout: Duration::from_millis(300),
        ..ApiConfig::default()
    };
    let server = serve(&node, config).await;
    let mut stream = tokio::net::TcpStream::connect(&server.host)
        .await
        .expect("connecting");
    let started = Instant::now();
    stream
        .write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("writing half a head");
    let received = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "cut off too early"
    );
    assert!(
        !received.contains("200 OK"),
        "the request must not be served: {received}"
    );
    // The server still serves others.
    let status = request(&server, "GET", "/api/v1/status", &[], None).await;
    assert_eq!(status.status, 200);
}

#[tokio::test]
async fn a_client_sending_its_body_slowly_gets_408() {
    let net = fast_net();
    let node = node_on(&net).await;
    let config = ApiConfig {
        body_read_timeout: Duration::from_millis(300),
        ..ApiConfig::default()
    };
    let server = serve(&node, config).await;
    let mut stream = tokio::net::TcpStream::connect(&server.host)
        .await
        .expect("connecting");
    let head = format!(
        "PUT {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 60\r\nConnection: close\r\n\r\n{{\"funds\": ",
        join_path(&net),
        server.host
    );
    stream.write_all(head.as_bytes()).await.expect("writing");
    let received = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(received.starts_with("HTTP/1.1 408"), "{received}");
    assert!(
        received.contains(r#"{"errors":"The request body was not received within 300ms"}"#),
        "{received}"
    );
    assert!(node.channels(None).is_empty());
}

#[tokio::test]
async fn a_body_over_16_kib_still_answers_413_behind_the_token_and_cors() {
    let net = fast_net();
    let node = node_on(&net).await;
    let server = serve(&node, with_token()).await;
    let bearer = format!("Bearer {TOKEN}");
    let big = format!(r#"{{"funds": 1, "pad": "{}"}}"#, "x".repeat(20 * 1024));
    let answer = request(
        &server,
        "PUT",
        &join_path(&net),
        &[
            ("authorization", bearer.as_str()),
            ("origin", "http://localhost:5173"),
        ],
        Some(big.clone()),
    )
    .await;
    answer.assert_error(413, "larger than 16384 bytes");
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    let mint = format!("/api/v1/_testing/tokens/{}/mint", checksummed(&net.token));
    request(
        &server,
        "POST",
        &mint,
        &[("authorization", bearer.as_str())],
        Some(big),
    )
    .await
    .assert_error(413, "larger than 16384 bytes");
}

// ---------------------------------------------------------------------------------------
// Shutdown

#[tokio::test]
async fn shutdown_does_not_wait_for_a_long_join() {
    let net = fast_net();
    let node = node_on(&net).await;
    let config = ApiConfig {
        shutdown_grace: Duration::from_millis(200),
        ..ApiConfig::default()
    };
    let mut server = serve(&node, config).await;
    // A join whose transactions are never mined: it would wait for the tx timeout (120 s).
    net.chain.set_mining_paused(true);
    let url = format!("{}{}", server.base, join_path(&net));
    let join = tokio::spawn(async move {
        reqwest::Client::new()
            .put(url)
            .header("content-type", "application/json")
            .body(join_body())
            .send()
            .await
    });
    common::eventually(
        "the join to send a transaction",
        Duration::from_secs(10),
        || async { net.chain.pending_transactions() > 0 },
    )
    .await;

    let started = Instant::now();
    node.shutdown().await;
    // While shutting down, a new join is refused with 503.
    let refused = request(&server, "PUT", &join_path(&net), &[], Some(join_body())).await;
    refused.assert_error(503, "shutting down");
    if let Some(stop) = server.stop.take() {
        let _ = stop.send(());
    }
    let done = server.done.take().expect("the server task");
    tokio::time::timeout(Duration::from_secs(5), done)
        .await
        .expect("the server stops without waiting for the join")
        .expect("the server task ends cleanly");
    assert!(started.elapsed() < Duration::from_secs(5));
    let cut = tokio::time::timeout(Duration::from_secs(5), join)
        .await
        .expect("the client gets an answer")
        .expect("the client task")
        .expect("the long join is answered, not cut");
    assert_eq!(cut.status().as_u16(), 503);
    let body: Value = cut.json().await.expect("a JSON error body");
    let message = body["errors"].as_str().unwrap_or_default();
    assert!(message.contains("shutting down"), "{body}");
}

// ---------------------------------------------------------------------------------------
// The real binary

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free local port")
        .port()
}

/// Polls `GET /api/v1/status` until it answers `ready`, at most `limit`.
async fn wait_ready(base: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(response) = reqwest::get(format!("{base}/api/v1/status")).await {
            if let Ok(body) = response.json::<Value>().await {
                if body["status"] == "ready" {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "the node did not answer ready within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_binary_stops_on_sigterm_promptly_with_exit_code_0() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokennet"))
        .args([
            "node",
            "--api-address",
            &format!("127.0.0.1:{port}"),
            "--sim-block-time",
            "100ms",
        ])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting tokennet");
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base, Duration::from_secs(30)).await;

    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(kill.success());
    let deadline = signalled + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for tokennet") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tokennet did not exit within 10 s of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(
        &mut child.stderr.take().expect("the child's stderr"),
        &mut stderr,
    )
    .expect("reading stderr");
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status}; stderr:\n{stderr}"
    );
    assert!(stderr.contains("stopped"), "stderr:\n{stderr}");
    assert!(
        !stderr.contains("WARN"),
        "a loopback API warns about nothing:\n{stderr}"
    );
}

#[test]
fn the_binary_refuses_a_missing_or_empty_token_file_naming_the_flag() {
    let dir = std::env::temp_dir().join(format!("tokennet-hardening-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let empty = dir.join("empty-token");
    std::fs::write(&empty, "  \n").expect("writing the empty token file");
    for file in [dir.join("no-such-file"), empty] {
        let output = Command::new(env!("CARGO_BIN_EXE_tokennet"))
            .args([
                "node",
                "--api-address",
                &format!("127.0.0.1:{}", free_port()),
            ])
            .arg("--api-token-file")
            .arg(&file)
            .output()
            .expect("running tokennet");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--api-token-file"), "{stderr}");
        assert!(stderr.contains(&file.display().to_string()), "{stderr}");
        assert!(output.stdout.is_empty(), "nothing started");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_tokennet"))
        .args(["node", "--rpccorsdomain", "localhost:3000"])
        .output()
        .expect("running tokennet");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--rpccorsdomain"), "{stderr}");
    std::fs::remove_dir_all(&dir).expect("removing the temporary directory");
}
