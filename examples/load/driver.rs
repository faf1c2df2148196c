//! The load driver shared by `examples/load` and `tests/load_smoke.rs`: concurrent HTTP
//! clients against a running node's REST API, per-endpoint statistics, and the
//! consistency checks run once the load stops. It knows the node only by its base URL.

#![allow(dead_code)] // the smoke test uses less of it than the example

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use tokio::sync::Semaphore;

/// 10^18: one token of 18 decimals.
pub const ONE_TOKEN: u128 = 1_000_000_000_000_000_000;

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// `http://host:port`, without the `/api/v1` base path.
    pub base: String,
    /// Concurrent clients.
    pub clients: usize,
    /// How long clients issue requests.
    pub duration: Duration,
    /// Seed of every client's choices.
    pub seed: u64,
    /// Our token balance in each token network, in whole tokens: PUT `funds` are drawn
    /// up to it.
    pub token_balance_units: u64,
    /// PUT `initial_channel_target` is drawn from 1 to this.
    pub max_target: u32,
    /// Writes (PUT or DELETE) in flight per token at most; a client that would write when
    /// they are all taken does a GET instead. Keeps the per-token queue busy without
    /// parking every client in it.
    pub writers_per_token: usize,
    /// Chance that a client's next request is a write (when a writer slot is free).
    pub write_chance: f64,
    /// Share of PUT among writes (the rest are DELETE).
    pub put_share: f64,
    /// Client-side timeout of a GET.
    pub get_timeout: Duration,
    /// Client-side timeout of a PUT or DELETE (longer than the node's `--tx-timeout`, so
    /// that a node timeout is seen as its 408).
    pub write_timeout: Duration,
}

impl LoadConfig {
    /// The defaults of the example, for a node at `base`.
    pub fn new(base: String) -> Self {
        Self {
            base,
            clients: 100,
            duration: Duration::from_secs(60),
            seed: 1,
            token_balance_units: 1_000,
            max_target: 4,
            writers_per_token: 3,
            write_chance: 0.02,
            put_share: 0.6,
            get_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(180),
        }
    }
}

/// The endpoints the clients call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// `GET /connections`.
    Connections,
    /// `GET /channels`.
    Channels,
    /// `GET /channels/<token>`.
    TokenChannels,
    /// `GET /tokens`.
    Tokens,
    /// `GET /tokens/<token>/partners`.
    Partners,
    /// `GET /status`.
    Status,
    /// `GET /address`.
    Address,
    /// `PUT /connections/<token>`.
    Join,
    /// `DELETE /connections/<token>`.
    Leave,
}

/// The GET endpoints, drawn uniformly.
const GETS: [Endpoint; 7] = [
    Endpoint::Connections,
    Endpoint::Channels,
    Endpoint::TokenChannels,
    Endpoint::Tokens,
    Endpoint::Partners,
    Endpoint::Status,
    Endpoint::Address,
];

/// Every endpoint, in report order.
pub const ENDPOINTS: [Endpoint; 9] = [
    Endpoint::Connections,
    Endpoint::Channels,
    Endpoint::TokenChannels,
    Endpoint::Tokens,
    Endpoint::Partners,
    Endpoint::Status,
    Endpoint::Address,
    Endpoint::Join,
    Endpoint::Leave,
];

impl Endpoint {
    /// Method and path pattern.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Connections => "GET /connections",
            Endpoint::Channels => "GET /channels",
            Endpoint::TokenChannels => "GET /channels/<token>",
            Endpoint::Tokens => "GET /tokens",
            Endpoint::Partners => "GET /tokens/<token>/partners",
            Endpoint::Status => "GET /status",
            Endpoint::Address => "GET /address",
            Endpoint::Join => "PUT /connections/<token>",
            Endpoint::Leave => "DELETE /connections/<token>",
        }
    }

    /// Whether SPEC §2.7 allows `status` here (500 never counts as allowed).
    pub fn allows(self, status: u16) -> bool {
        match self {
            Endpoint::Join => matches!(status, 204 | 402 | 408 | 409 | 503),
            Endpoint::Leave => matches!(status, 200 | 402 | 408 | 409 | 503),
            _ => status == 200,
        }
    }

    fn is_write(self) -> bool {
        matches!(self, Endpoint::Join | Endpoint::Leave)
    }
}

/// Figures of one endpoint.
#[derive(Clone, Debug, Default)]
pub struct EndpointStats {
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests without an answer (connection error, client timeout).
    pub transport_errors: u64,
    /// Latency of every request, microseconds (answered or not).
    pub latencies_us: Vec<u64>,
}

impl EndpointStats {
    /// Requests made.
    pub fn count(&self) -> u64 {
        self.latencies_us.len() as u64
    }

    fn merge(&mut self, other: EndpointStats) {
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.transport_errors += other.transport_errors;
        self.latencies_us.extend(other.latencies_us);
    }
}

/// A channel object, as far as the checks need it.
#[derive(Clone, Debug, Deserialize)]
pub struct Channel {
    /// The token.
    pub token_address: String,
    /// The partner.
    pub partner_address: String,
    /// The identifier in its token network.
    pub channel_identifier: u64,
    /// `opened` or `closed`.
    pub state: String,
    /// Our deposit (exact: amounts go beyond 64 bits).
    pub total_deposit: u128,
}

/// A value of `GET /connections`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Connection {
    /// `funds` of the last successful PUT.
    pub funds: u128,
    /// Sum of our deposits over our open channels.
    pub sum_deposits: u128,
    /// Our open channels.
    pub channels: u64,
}

#[derive(Clone, Debug, Deserialize)]
struct PartnerEntry {
    partner_address: String,
}

/// A DELETE answered 200: when the answer came, and the partners it reported.
#[derive(Clone, Debug)]
struct Leave {
    answered: Instant,
    partners: Vec<String>,
}

/// A channel row of a snapshot: token, partner, identifier, state, our deposit.
type Row = (String, String, u64, String, u128);

/// State shared by the clients.
struct Shared {
    config: LoadConfig,
    tokens: Vec<String>,
    stop: AtomicBool,
    in_flight: AtomicUsize,
    writers: Vec<Arc<Semaphore>>,
    /// Anything outside the spec: wrong statuses, 500, no answer, a duplicated channel.
    errors: Mutex<Vec<String>>,
    error_count: AtomicUsize,
    /// Every channel seen in a GET: (token, identifier) → (partner, latest send time of
    /// a GET that listed it).
    seen: Mutex<HashMap<(usize, u64), (String, Instant)>>,
    /// Per token: each DELETE answered 200, with its answer time and partners.
    leaves: Mutex<Vec<Vec<Leave>>>,
    /// Per token: every `funds` a PUT got 204 for.
    joined_funds: Mutex<Vec<HashSet<u128>>>,
}

impl Shared {
    fn error(&self, message: String) {
        self.error_count.fetch_add(1, Ordering::SeqCst);
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        if errors.len() < 50 {
            errors.push(message);
        }
    }

    fn token_index(&self, token: &str) -> Option<usize> {
        self.tokens.iter().position(|t| t == token)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.config.base)
    }

    /// Records the channels of a GET sent at `sent` and checks that no token has two
    /// non-settled channels with one partner.
    fn observe_channels(&self, channels: &[Channel], sent: Instant, what: &str) {
        let mut by_token: HashMap<&str, HashSet<&str>> = HashMap::new();
        for channel in channels {
            if !by_token
                .entry(&channel.token_address)
                .or_default()
                .insert(&channel.partner_address)
            {
                self.error(format!(
                    "{what}: two non-settled channels of token {} with partner {}",
                    channel.token_address, channel.partner_address
                ));
            }
            let Some(token) = self.token_index(&channel.token_address) else {
                self.error(format!(
                    "{what}: channel of unknown token {}",
                    channel.token_address
                ));
                continue;
            };
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            let entry = seen
                .entry((token, channel.channel_identifier))
                .or_insert_with(|| (channel.partner_address.clone(), sent));
            if entry.0 != channel.partner_address {
                let message = format!(
                    "{what}: channel {} of token {} changed partner from {} to {}",
                    channel.channel_identifier,
                    channel.token_address,
                    entry.0,
                    channel.partner_address
                );
                drop(seen);
                self.error(message);
                continue;
            }
            entry.1 = entry.1.max(sent);
        }
    }
}

/// What a load run produced.
pub struct LoadOutcome {
    /// The tokens, as `GET /tokens` listed them.
    pub tokens: Vec<String>,
    /// Figures per endpoint.
    pub stats: BTreeMap<Endpoint, EndpointStats>,
    /// Errors counted.
    pub error_count: usize,
    /// The first errors, described.
    pub errors: Vec<String>,
    /// From the first request to the stop signal.
    pub load_time: Duration,
    /// From the stop signal until no request was in flight.
    pub drain_time: Duration,
    /// Requests in flight once every client had returned (must be 0).
    pub in_flight_after: usize,
    shared: Arc<Shared>,
}

/// Runs `config.clients` clients for `config.duration`, then stops them and waits until
/// no request is in flight.
pub async fn run_load(config: &LoadConfig) -> anyhow::Result<LoadOutcome> {
    let http = client()?;
    let tokens: Vec<String> = get_json(&http, &format!("{}/api/v1/tokens", config.base))
        .await
        .context("listing the tokens")?;
    if tokens.is_empty() {
        bail!("the node has no registered token");
    }
    let shared = Arc::new(Shared {
        config: config.clone(),
        writers: tokens
            .iter()
            .map(|_| Arc::new(Semaphore::new(config.writers_per_token)))
            .collect(),
        leaves: Mutex::new(vec![Vec::new(); tokens.len()]),
        joined_funds: Mutex::new(vec![HashSet::new(); tokens.len()]),
        tokens,
        stop: AtomicBool::new(false),
        in_flight: AtomicUsize::new(0),
        errors: Mutex::new(Vec::new()),
        error_count: AtomicUsize::new(0),
        seen: Mutex::new(HashMap::new()),
    });
    let started = Instant::now();
    let mut clients = Vec::with_capacity(config.clients);
    for index in 0..config.clients {
        let shared = Arc::clone(&shared);
        clients.push(tokio::spawn(async move {
            run_client(&shared, index as u64).await
        }));
    }
    tokio::time::sleep(config.duration).await;
    shared.stop.store(true, Ordering::SeqCst);
    let stopped = Instant::now();
    let mut stats: BTreeMap<Endpoint, EndpointStats> = BTreeMap::new();
    for client in clients {
        let client_stats = client.await.context("a client task panicked")??;
        for (endpoint, figures) in client_stats {
            stats.entry(endpoint).or_default().merge(figures);
        }
    }
    let drain_time = stopped.elapsed();
    let errors = shared
        .errors
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Ok(LoadOutcome {
        tokens: shared.tokens.clone(),
        stats,
        error_count: shared.error_count.load(Ordering::SeqCst),
        errors,
        load_time: stopped - started,
        drain_time,
        in_flight_after: shared.in_flight.load(Ordering::SeqCst),
        shared,
    })
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .build()?)
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> anyhow::Result<T> {
    let response = http
        .get(url)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let body = response.bytes().await?;
    if status != reqwest::StatusCode::OK {
        bail!(
            "GET {url}: {status}: {}",
            String::from_utf8_lossy(&body).trim()
        );
    }
    serde_json::from_slice(&body)
        .with_context(|| format!("GET {url}: {}", String::from_utf8_lossy(&body)))
}

/// The request a client chose.
struct Request {
    endpoint: Endpoint,
    token: usize,
    path: String,
    body: Option<(String, u128)>,
}

/// One client: its own connection, its own seeded choices, until the stop signal.
async fn run_client(
    shared: &Shared,
    index: u64,
) -> anyhow::Result<BTreeMap<Endpoint, EndpointStats>> {
    let config = &shared.config;
    let http = client()?;
    let mut rng = ChaCha8Rng::seed_from_u64(
        config
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(index),
    );
    let mut stats: BTreeMap<Endpoint, EndpointStats> = BTreeMap::new();
    while !shared.stop.load(Ordering::SeqCst) {
        let token = rng.random_range(0..shared.tokens.len());
        let mut permit = None;
        if rng.random_bool(config.write_chance) {
            permit = Arc::clone(&shared.writers[token]).try_acquire_owned().ok();
        }
        let request = if permit.is_some() {
            write_request(&mut rng, config, &shared.tokens[token], token)
        } else {
            get_request(&mut rng, &shared.tokens[token], token)
        };
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let figures = stats.entry(request.endpoint).or_default();
        call(shared, &http, &request, figures).await;
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        drop(permit);
    }
    Ok(stats)
}

fn get_request(rng: &mut ChaCha8Rng, token_text: &str, token: usize) -> Request {
    let endpoint = GETS[rng.random_range(0..GETS.len())];
    let path = match endpoint {
        Endpoint::Connections => "/connections".to_string(),
        Endpoint::Channels => "/channels".to_string(),
        Endpoint::TokenChannels => format!("/channels/{token_text}"),
        Endpoint::Tokens => "/tokens".to_string(),
        Endpoint::Partners => format!("/tokens/{token_text}/partners"),
        Endpoint::Status => "/status".to_string(),
        _ => "/address".to_string(),
    };
    Request {
        endpoint,
        token,
        path,
        body: None,
    }
}

fn write_request(
    rng: &mut ChaCha8Rng,
    config: &LoadConfig,
    token_text: &str,
    token: usize,
) -> Request {
    let path = format!("/connections/{token_text}");
    if !rng.random_bool(config.put_share) {
        return Request {
            endpoint: Endpoint::Leave,
            token,
            path,
            body: None,
        };
    }
    let balance = u128::from(config.token_balance_units) * ONE_TOKEN;
    let funds = rng.random_range(1..=balance);
    // Amounts as a JSON integer or as a decimal string, both valid (SPEC §2.1).
    let funds_json = if rng.random_bool(0.5) {
        funds.to_string()
    } else {
        format!("\"{funds}\"")
    };
    let target = rng.random_range(1..=config.max_target);
    let joinable = match rng.random_range(0..3) {
        0 => String::new(),
        1 => ", \"joinable_funds_target\": 0.0".to_string(),
        _ => ", \"joinable_funds_target\": 0.4".to_string(),
    };
    let body =
        format!("{{\"funds\": {funds_json}, \"initial_channel_target\": {target}{joinable}}}");
    Request {
        endpoint: Endpoint::Join,
        token,
        path,
        body: Some((body, funds)),
    }
}

/// Sends one request, records its figures, and checks its answer.
async fn call(
    shared: &Shared,
    http: &reqwest::Client,
    request: &Request,
    figures: &mut EndpointStats,
) {
    let config = &shared.config;
    let url = shared.url(&request.path);
    let mut builder = match request.endpoint {
        Endpoint::Join => http.put(&url),
        Endpoint::Leave => http.delete(&url),
        _ => http.get(&url),
    };
    builder = builder.timeout(if request.endpoint.is_write() {
        config.write_timeout
    } else {
        config.get_timeout
    });
    if let Some((body, _)) = &request.body {
        builder = builder
            .header("content-type", "application/json")
            .body(body.clone());
    }
    let sent = Instant::now();
    let answer = match builder.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            response.bytes().await.map(|body| (status, body))
        }
        Err(error) => Err(error),
    };
    figures.latencies_us.push(sent.elapsed().as_micros() as u64);
    let (status, body) = match answer {
        Ok(answer) => answer,
        Err(error) => {
            figures.transport_errors += 1;
            shared.error(format!(
                "{} {}: no answer: {error}",
                request.endpoint.name(),
                request.path
            ));
            return;
        }
    };
    *figures.statuses.entry(status).or_default() += 1;
    if !request.endpoint.allows(status) {
        shared.error(format!(
            "{} {}: status {status} is not allowed here: {}",
            request.endpoint.name(),
            request.path,
            String::from_utf8_lossy(&body).trim()
        ));
        return;
    }
    if let Err(problem) = check_answer(shared, request, status, &body, sent) {
        shared.error(format!(
            "{} {}: {problem:#}",
            request.endpoint.name(),
            request.path
        ));
    }
}

/// Checks and records what a successful answer says.
fn check_answer(
    shared: &Shared,
    request: &Request,
    status: u16,
    body: &[u8],
    sent: Instant,
) -> anyhow::Result<()> {
    let what = request.endpoint.name();
    match request.endpoint {
        Endpoint::Channels | Endpoint::TokenChannels => {
            let channels: Vec<Channel> = serde_json::from_slice(body)?;
            if request.endpoint == Endpoint::TokenChannels {
                let token = &shared.tokens[request.token];
                if let Some(other) = channels.iter().find(|c| &c.token_address != token) {
                    bail!("lists a channel of token {}", other.token_address);
                }
            }
            shared.observe_channels(&channels, sent, what);
        }
        Endpoint::Partners => {
            let partners: Vec<PartnerEntry> = serde_json::from_slice(body)?;
            let mut unique = HashSet::new();
            for partner in &partners {
                if !unique.insert(&partner.partner_address) {
                    bail!(
                        "partner {} listed twice: two non-settled channels with one partner",
                        partner.partner_address
                    );
                }
            }
        }
        Endpoint::Connections => {
            let connections: HashMap<String, Connection> = serde_json::from_slice(body)?;
            for (token, connection) in &connections {
                if shared.token_index(token).is_none() {
                    bail!("names unknown token {token}");
                }
                if connection.channels == 0 {
                    bail!("lists token {token} with no open channel");
                }
            }
        }
        Endpoint::Join if status == 204 => {
            if let Some((_, funds)) = &request.body {
                shared
                    .joined_funds
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())[request.token]
                    .insert(*funds);
            }
        }
        Endpoint::Leave if status == 200 => {
            let partners: Vec<String> = serde_json::from_slice(body)?;
            let unique: HashSet<&String> = partners.iter().collect();
            if unique.len() != partners.len() {
                bail!("closed one partner's channel twice: {partners:?}");
            }
            shared.leaves.lock().unwrap_or_else(|e| e.into_inner())[request.token].push(Leave {
                answered: Instant::now(),
                partners,
            });
        }
        _ => {
            serde_json::from_slice::<serde_json::Value>(body)?;
        }
    }
    Ok(())
}

/// What the API shows at one moment, for the checks.
#[derive(Clone, Debug, PartialEq)]
struct Snapshot {
    channels: Vec<Row>,
    connections: BTreeMap<String, (u128, u128, u64)>,
    per_token: Vec<(Vec<Row>, Vec<String>)>,
}

fn rows(channels: &[Channel]) -> Vec<Row> {
    let mut rows: Vec<_> = channels
        .iter()
        .map(|c| {
            (
                c.token_address.clone(),
                c.partner_address.clone(),
                c.channel_identifier,
                c.state.clone(),
                c.total_deposit,
            )
        })
        .collect();
    rows.sort();
    rows
}

async fn snapshot(
    http: &reqwest::Client,
    base: &str,
    tokens: &[String],
) -> anyhow::Result<Snapshot> {
    let channels: Vec<Channel> = get_json(http, &format!("{base}/api/v1/channels")).await?;
    let connections: BTreeMap<String, Connection> =
        get_json(http, &format!("{base}/api/v1/connections")).await?;
    let mut per_token = Vec::with_capacity(tokens.len());
    for token in tokens {
        let of_token: Vec<Channel> =
            get_json(http, &format!("{base}/api/v1/channels/{token}")).await?;
        let partners: Vec<PartnerEntry> =
            get_json(http, &format!("{base}/api/v1/tokens/{token}/partners")).await?;
        let mut partners: Vec<String> = partners.into_iter().map(|p| p.partner_address).collect();
        partners.sort();
        per_token.push((rows(&of_token), partners));
    }
    Ok(Snapshot {
        channels: rows(&channels),
        connections: connections
            .into_iter()
            .map(|(token, c)| (token, (c.funds, c.sum_deposits, c.channels)))
            .collect(),
        per_token,
    })
}

/// The result of the consistency checks.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// What was checked and found, one line each.
    pub lines: Vec<String>,
    /// Every violation.
    pub violations: Vec<String>,
}

/// Checks one stable view of the API, per token: the same channels in `GET /channels`,
/// `/channels/<token>` and `/tokens/<token>/partners`, one non-settled channel per
/// partner, `GET /connections` `channels` and `sum_deposits` equal to the open channels'
/// count and deposits, and its `funds` one of `expected_funds`.
async fn check_view(
    http: &reqwest::Client,
    config: &LoadConfig,
    tokens: &[String],
    expected_funds: &[HashSet<u128>],
    label: &str,
    report: &mut CheckReport,
) -> anyhow::Result<Snapshot> {
    report.lines.push(format!("{label}:"));
    // A stable view: two snapshots a second apart that agree (the node's own reactions,
    // such as a partner's deposit, may still be landing).
    let mut previous = snapshot(http, &config.base, tokens).await?;
    let mut stable = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let next = snapshot(http, &config.base, tokens).await?;
        let same = next == previous;
        previous = next;
        if same {
            stable = true;
            break;
        }
    }
    if !stable {
        report.violations.push(format!(
            "{label}: the API's view did not settle within 20 s"
        ));
    }
    let view = previous;
    for (index, token) in tokens.iter().enumerate() {
        let (of_token, partners) = &view.per_token[index];
        let from_all: Vec<_> = view
            .channels
            .iter()
            .filter(|row| &row.0 == token)
            .cloned()
            .collect();
        if &from_all != of_token {
            report.violations.push(format!(
                "{label}: {token}: GET /channels/<token> {of_token:?} differs from its part of GET /channels {from_all:?}"
            ));
        }
        let mut channel_partners: Vec<String> = of_token.iter().map(|r| r.1.clone()).collect();
        channel_partners.sort();
        let unique: HashSet<&String> = channel_partners.iter().collect();
        if unique.len() != channel_partners.len() {
            report.violations.push(format!(
                "{label}: {token}: duplicated partner among non-settled channels: {channel_partners:?}"
            ));
        }
        if &channel_partners != partners {
            report.violations.push(format!(
                "{label}: {token}: GET /tokens/<token>/partners {partners:?} differs from the channels' partners {channel_partners:?}"
            ));
        }
        let opened: Vec<_> = of_token.iter().filter(|r| r.3 == "opened").collect();
        let closed = of_token.len() - opened.len();
        let sum: u128 = opened.iter().map(|r| r.4).sum();
        let joined = &expected_funds[index];
        match view.connections.get(token) {
            None if opened.is_empty() => report.lines.push(format!(
                "  {token}: no open channel ({closed} closed), absent from GET /connections"
            )),
            None => report.violations.push(format!(
                "{label}: {token}: {} open channels but absent from GET /connections",
                opened.len()
            )),
            Some(&(funds, sum_deposits, channels)) => {
                if channels != opened.len() as u64 {
                    report.violations.push(format!(
                        "{label}: {token}: GET /connections says {channels} channels, GET /channels lists {} open",
                        opened.len()
                    ));
                }
                if sum_deposits != sum {
                    report.violations.push(format!(
                        "{label}: {token}: GET /connections sum_deposits {sum_deposits} ≠ Σ total_deposit of open channels {sum}"
                    ));
                }
                if !joined.contains(&funds) {
                    report.violations.push(format!(
                        "{label}: {token}: GET /connections funds {funds} is no PUT's funds"
                    ));
                }
                report.lines.push(format!(
                    "  {token}: {} open ({closed} closed), partners unique, sum_deposits {:.3} tokens = Σ deposits, funds of a PUT",
                    channels_text(opened.len()),
                    sum_deposits as f64 / ONE_TOKEN as f64
                ));
            }
        }
    }
    for token in view.connections.keys() {
        if !tokens.contains(token) {
            report.violations.push(format!(
                "{label}: GET /connections names unknown token {token}"
            ));
        }
    }

    Ok(view)
}

/// Checks what the API shows once the load has stopped: one channel per pair, deposits
/// consistent with `GET /connections`, then a final DELETE of every token after which
/// nothing of ours is left unsettled, and no channel seen during the run vanished without
/// a DELETE reporting it.
pub async fn check(config: &LoadConfig, outcome: &LoadOutcome) -> anyhow::Result<CheckReport> {
    let mut report = CheckReport::default();
    let shared = &outcome.shared;
    let tokens = &outcome.tokens;
    let http = client()?;
    if outcome.in_flight_after != 0 {
        report.violations.push(format!(
            "{} requests still in flight after every client returned",
            outcome.in_flight_after
        ));
    }
    report.lines.push(format!(
        "writes stopped; no request in flight {:.1} s after the stop",
        outcome.drain_time.as_secs_f64()
    ));

    let joined = shared
        .joined_funds
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    check_view(
        &http,
        config,
        tokens,
        &joined,
        "after the load",
        &mut report,
    )
    .await?;

    // A PUT of every token with known parameters, so that the next check sees open
    // channels and an exact `funds` whatever the last write of the load was.
    let funds = u128::from(config.token_balance_units) * ONE_TOKEN / 2;
    let joins = tokens.iter().map(|token| {
        let http = http.clone();
        let url = format!("{}/api/v1/connections/{token}", config.base);
        let body = format!(
            "{{\"funds\": \"{funds}\", \"initial_channel_target\": {}}}",
            config.max_target
        );
        let timeout = config.write_timeout;
        async move {
            let response = http
                .put(&url)
                .header("content-type", "application/json")
                .body(body)
                .timeout(timeout)
                .send()
                .await?;
            let status = response.status().as_u16();
            let body = response.bytes().await?;
            anyhow::Ok((status, body))
        }
    });
    for (token, answer) in tokens.iter().zip(futures::future::join_all(joins).await) {
        match answer {
            Ok((204, _)) => {}
            Ok((status, body)) => report.violations.push(format!(
                "{token}: PUT after the load answered {status}: {}",
                String::from_utf8_lossy(&body).trim()
            )),
            Err(error) => report.violations.push(format!(
                "{token}: PUT after the load got no answer: {error:#}"
            )),
        }
    }
    let exact = vec![HashSet::from([funds]); tokens.len()];
    let label = format!(
        "after a PUT of every token (funds {} tokens, target {})",
        funds / ONE_TOKEN,
        config.max_target
    );
    let before_leaving = check_view(&http, config, tokens, &exact, &label, &mut report).await?;

    // The final DELETE of every token, all at once.
    let leaves = tokens.iter().map(|token| {
        let http = http.clone();
        let url = format!("{}/api/v1/connections/{token}", config.base);
        let timeout = config.write_timeout;
        async move {
            let sent = Instant::now();
            let response = http.delete(&url).timeout(timeout).send().await?;
            let status = response.status().as_u16();
            let body = response.bytes().await?;
            anyhow::Ok((status, body, sent.elapsed()))
        }
    });
    let answers = futures::future::join_all(leaves).await;
    let mut closed_total = 0;
    report.lines.push("a DELETE of every token:".into());
    for (index, (token, answer)) in tokens.iter().zip(answers).enumerate() {
        match answer {
            Ok((200, body, took)) => {
                let partners: Vec<String> = serde_json::from_slice(&body)?;
                let unique: HashSet<&String> = partners.iter().collect();
                if unique.len() != partners.len() {
                    report.violations.push(format!(
                        "{token}: final DELETE closed one partner's channel twice: {partners:?}"
                    ));
                }
                closed_total += partners.len();
                let mut reported = partners.clone();
                reported.sort();
                let mut expected: Vec<String> = before_leaving.per_token[index]
                    .0
                    .iter()
                    .map(|row| row.1.clone())
                    .collect();
                expected.sort();
                if reported != expected {
                    report.violations.push(format!(
                        "{token}: final DELETE reported partners {reported:?}, the channels before it were with {expected:?}"
                    ));
                }
                report.lines.push(format!(
                    "  {token}: 200 in {:.1} s, {} closed and settled (the partners of every channel listed before it)",
                    took.as_secs_f64(),
                    channels_text(partners.len())
                ));
                shared.leaves.lock().unwrap_or_else(|e| e.into_inner())[index].push(Leave {
                    answered: Instant::now(),
                    partners,
                });
            }
            Ok((status, body, _)) => report.violations.push(format!(
                "{token}: final DELETE answered {status}: {}",
                String::from_utf8_lossy(&body).trim()
            )),
            Err(error) => report
                .violations
                .push(format!("{token}: final DELETE got no answer: {error:#}")),
        }
    }
    let left: Vec<Channel> = get_json(&http, &format!("{}/api/v1/channels", config.base)).await?;
    let connections: BTreeMap<String, Connection> =
        get_json(&http, &format!("{}/api/v1/connections", config.base)).await?;
    if left.is_empty() && connections.is_empty() {
        report.lines.push(format!(
            "after the final DELETEs ({closed_total} channels): GET /channels [] and GET /connections {{}}"
        ));
    } else {
        report.violations.push(format!(
            "after the final DELETEs: GET /channels lists {} channels {:?}, GET /connections {connections:?}",
            left.len(),
            rows(&left)
        ));
    }

    // No lost channel: every channel a GET listed was reported by a DELETE of its token
    // that answered after that GET was sent.
    let seen = shared
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let leaves = shared
        .leaves
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut lost = Vec::new();
    for ((token, id), (partner, last_sent)) in &seen {
        let reported = leaves[*token]
            .iter()
            .any(|leave| leave.answered >= *last_sent && leave.partners.contains(partner));
        if !reported {
            lost.push(format!("{} channel {id} with {partner}", tokens[*token]));
        }
    }
    lost.sort();
    let deletes: usize = leaves.iter().map(Vec::len).sum();
    let reported: usize = leaves.iter().flatten().map(|l| l.partners.len()).sum();
    if lost.is_empty() {
        report.lines.push(format!(
            "{} distinct channels seen in GETs during the run, each reported closed by a later DELETE ({deletes} DELETEs answered 200, {reported} partners reported)",
            seen.len()
        ));
    } else {
        report.violations.push(format!(
            "{} channels seen in GETs were never reported by a later DELETE: {}",
            lost.len(),
            lost.join("; ")
        ));
    }
    Ok(report)
}

fn channels_text(n: usize) -> String {
    format!("{n} channel{}", if n == 1 { "" } else { "s" })
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(us: u64) -> String {
    let ms = us as f64 / 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The per-endpoint table, in Markdown.
pub fn table(outcome: &LoadOutcome) -> String {
    let seconds = outcome.load_time.as_secs_f64().max(1e-9);
    let mut out = String::from(
        "| endpoint | requests | req/s | statuses | p50 ms | p99 ms | max ms |\n|---|---:|---:|---|---:|---:|---:|\n",
    );
    let mut total = 0;
    for endpoint in ENDPOINTS {
        let Some(figures) = outcome.stats.get(&endpoint) else {
            continue;
        };
        let mut sorted = figures.latencies_us.clone();
        sorted.sort_unstable();
        let mut statuses: Vec<String> = figures
            .statuses
            .iter()
            .map(|(status, n)| format!("{status}: {}", thousands(*n)))
            .collect();
        if figures.transport_errors > 0 {
            statuses.push(format!("no answer: {}", figures.transport_errors));
        }
        total += figures.count();
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {} | {} | {} | {} |",
            endpoint.name(),
            thousands(figures.count()),
            figures.count() as f64 / seconds,
            statuses.join(", "),
            ms(percentile(&sorted, 50.0)),
            ms(percentile(&sorted, 99.0)),
            ms(sorted.last().copied().unwrap_or(0)),
        );
    }
    let _ = writeln!(
        out,
        "| all | {} | {:.0} | | | | |",
        thousands(total),
        total as f64 / seconds
    );
    out
}

/// An error if `outcome` or `report` found anything outside the spec.
pub fn verdict(outcome: &LoadOutcome, report: &CheckReport) -> anyhow::Result<()> {
    if outcome.error_count == 0 && report.violations.is_empty() {
        return Ok(());
    }
    Err(anyhow!(
        "{} errors during the load, {} consistency violations",
        outcome.error_count,
        report.violations.len()
    ))
}
