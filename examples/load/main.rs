//! A load run against `tokennet node` on its embedded simulated chain: many concurrent
//! clients calling the GET endpoints and PUT/DELETE on several tokens for a bounded time,
//! with per-endpoint statistics, the node's memory over time, and consistency checks.
//!
//! ```sh
//! cargo run --release --example load
//! cargo run --release --example load -- --clients 100 --duration 60s --tokens 4 --seed 1
//! ```
//!
//! It first builds the node binary in the same profile and target directory as itself
//! (`cargo build --release --bin tokennet`, a no-op when it is up to date; `--no-build`
//! skips it, `--node PATH` runs another binary), then spawns it on a free local port with
//! `--sim-tokens N --sim-block-time 200ms --sim-settle-timeout 2s` (and a temporary
//! `--datadir` when the node has that flag), and waits for `GET /status` to say ready.
//!
//! Each of `--clients` clients (its own keep-alive connection, its own seeded random
//! choices) loops until `--duration` is over: mostly a GET drawn uniformly from
//! `/connections`, `/channels`, `/channels/<token>`, `/tokens`, `/tokens/<token>/partners`,
//! `/status`, `/address`; with chance `--write-chance`, a PUT (random `funds` up to our
//! balance, random target 1..4) or DELETE of `/connections/<token>` on a random token, as
//! long as fewer than `--writers-per-token` writes of that token are in flight (PUT and
//! DELETE block until their transactions are mined, DELETE until the channels are
//! settled, and queue per token; the cap keeps every token's queue busy without parking
//! every client in it).
//!
//! Recorded per endpoint: requests, statuses, latency p50/p99/max. An error is any status
//! SPEC §2.7 does not allow there (GET: 200; PUT: 204, 402, 408, 409, 503; DELETE: 200,
//! 402, 408, 409, 503; a 500 never), a request without an answer, or an answer that shows
//! two non-settled channels with one partner. The node's resident memory (`VmRSS` of
//! `/proc/<pid>/status`) is sampled every second.
//!
//! When the time is up, the clients stop and the run waits until no request is in flight;
//! then it checks, per token, on a stable view: one non-settled channel per partner, the
//! same channels in `GET /channels`, `/channels/<token>` and `/tokens/<token>/partners`,
//! `GET /connections` `channels` and `sum_deposits` equal to the open channels' count and
//! deposits, its `funds` one that a PUT was answered 204 for. Then a PUT of every token
//! (half the balance, target 4) and the same checks, with exactly that `funds`; then a
//! DELETE of every token, which must report the partners of exactly the channels listed
//! before it, after which `GET /channels` must be `[]` and `GET /connections` `{}`; and
//! every channel a GET listed during the run must have been reported by a later DELETE of
//! its token (no lost channel). Any error or violation: exit code 1.

mod driver;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use driver::LoadConfig;
use tokio::sync::watch;

struct Options {
    load: LoadConfig,
    tokens: usize,
    peers: usize,
    block_time: String,
    settle_timeout: String,
    node: Option<PathBuf>,
    build: bool,
}

const USAGE: &str = "flags: --clients N --duration 60s --tokens N --peers N --seed N \
--writers-per-token N --write-chance P --block-time 200ms --settle-timeout 2s \
--token-balance UNITS --node PATH --no-build";

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        load: LoadConfig::new(String::new()),
        tokens: 4,
        peers: 8,
        block_time: "200ms".into(),
        settle_timeout: "2s".into(),
        node: None,
        build: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--no-build" {
            options.build = false;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args
            .next()
            .ok_or_else(|| anyhow!("{flag} needs a value; {USAGE}"))?;
        let bad = || format!("{flag} {value}");
        let load = &mut options.load;
        match flag.as_str() {
            "--clients" => load.clients = value.parse().with_context(bad)?,
            "--duration" => load.duration = humantime::parse_duration(&value).with_context(bad)?,
            "--tokens" => options.tokens = value.parse().with_context(bad)?,
            "--peers" => options.peers = value.parse().with_context(bad)?,
            "--seed" => load.seed = value.parse().with_context(bad)?,
            "--writers-per-token" => load.writers_per_token = value.parse().with_context(bad)?,
            "--write-chance" => load.write_chance = value.parse().with_context(bad)?,
            "--token-balance" => load.token_balance_units = value.parse().with_context(bad)?,
            "--block-time" => options.block_time = value,
            "--settle-timeout" => options.settle_timeout = value,
            "--node" => options.node = Some(PathBuf::from(value)),
            _ => bail!("unknown flag {flag}; {USAGE}"),
        }
    }
    if options.tokens == 0 || options.load.clients == 0 {
        bail!("--tokens and --clients must be at least 1");
    }
    if !(0.0..=1.0).contains(&options.load.write_chance) {
        bail!("--write-chance must be between 0 and 1");
    }
    Ok(options)
}

/// The node binary next to this example (`<target>/<profile>/examples/load` →
/// `<target>/<profile>/tokennet`), built first in the same profile and target directory.
fn node_binary(options: &Options) -> anyhow::Result<PathBuf> {
    if let Some(path) = &options.node {
        return Ok(path.clone());
    }
    let exe = std::env::current_exe().context("finding this example's path")?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow!("{} is not in <target>/<profile>/examples", exe.display()))?;
    let binary = profile_dir.join(format!("tokennet{}", std::env::consts::EXE_SUFFIX));
    if options.build {
        let target_dir = profile_dir
            .parent()
            .ok_or_else(|| anyhow!("no target directory above {}", profile_dir.display()))?;
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev",
            Some(name) => name,
            None => "release",
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        eprintln!("building the node: cargo build --profile {profile} --bin tokennet");
        let status = Command::new(&cargo)
            .arg("build")
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("--target-dir")
            .arg(target_dir)
            .args(["--profile", profile, "--bin", "tokennet"])
            .status()
            .with_context(|| format!("running {cargo}"))?;
        if !status.success() {
            bail!("building the node failed ({status})");
        }
    }
    if !binary.is_file() {
        bail!(
            "{} not found: run `cargo build --release --bin tokennet` first, or give --node PATH",
            binary.display()
        );
    }
    Ok(binary)
}

/// The spawned node: killed on drop.
struct NodeProcess {
    child: Child,
    base: String,
    log: PathBuf,
}

impl NodeProcess {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks the node to stop (SIGTERM, as Ctrl-C would), then kills it if it lingers.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Spawns the node on a free port and waits until `GET /status` says ready.
async fn spawn_node(binary: &Path, options: &Options, work: &Path) -> anyhow::Result<NodeProcess> {
    let help = Command::new(binary)
        .args(["node", "--help"])
        .output()
        .with_context(|| format!("running {} --help", binary.display()))?;
    let has_datadir = String::from_utf8_lossy(&help.stdout).contains("--datadir");
    let http = reqwest::Client::builder().no_proxy().build()?;
    // The port is free when chosen; another process could take it before the node binds
    // it, so try a few.
    for attempt in 1..=3 {
        let port = free_port()?;
        let log = work.join(format!("node-{attempt}.log"));
        let mut command = Command::new(binary);
        command.args([
            "node",
            "--api-address",
            &format!("127.0.0.1:{port}"),
            "--sim-tokens",
            &options.tokens.to_string(),
            "--sim-peers",
            &options.peers.to_string(),
            "--sim-block-time",
            &options.block_time,
            "--sim-settle-timeout",
            &options.settle_timeout,
            "--sim-token-balance",
            &options.load.token_balance_units.to_string(),
        ]);
        if has_datadir {
            command
                .arg("--datadir")
                .arg(work.join(format!("data-{attempt}")));
        }
        let file = std::fs::File::create(&log)?;
        command
            .stdout(Stdio::from(file.try_clone()?))
            .stderr(Stdio::from(file))
            .stdin(Stdio::null());
        let child = command
            .spawn()
            .with_context(|| format!("spawning {}", binary.display()))?;
        let mut node = NodeProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = node.child.try_wait()? {
                eprintln!(
                    "the node exited ({status}) before it was ready:\n{}",
                    tail(&node.log, 10)
                );
                break;
            }
            let url = format!("{}/api/v1/status", node.base);
            if let Ok(response) = http.get(&url).send().await {
                if let Ok(body) = response.json::<serde_json::Value>().await {
                    if body["status"] == "ready" {
                        return Ok(node);
                    }
                }
            }
            if Instant::now() > deadline {
                node.stop();
                bail!(
                    "the node was not ready within 60 s:\n{}",
                    tail(&node.log, 10)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    bail!(
        "the node could not be started; see the logs in {}",
        work.display()
    )
}

/// `VmRSS` of `pid`, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Samples the node's RSS every second until `stop` changes; (seconds, KiB) pairs.
async fn sample_rss(pid: u32, mut stop: watch::Receiver<bool>) -> Vec<(f64, u64)> {
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Some(kib) = rss_kib(pid) {
                    samples.push((started.elapsed().as_secs_f64(), kib));
                }
            }
            _ = stop.changed() => return samples,
        }
    }
}

/// Least-squares slope, KiB per second.
fn slope(samples: &[(f64, u64)]) -> f64 {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return 0.0;
    }
    let mean_t = samples.iter().map(|s| s.0).sum::<f64>() / n;
    let mean_m = samples.iter().map(|s| s.1 as f64).sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for &(t, m) in samples {
        num += (t - mean_t) * (m as f64 - mean_m);
        den += (t - mean_t) * (t - mean_t);
    }
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn rss_line(samples: &[(f64, u64)]) -> String {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return "node RSS: not available (no /proc/<pid>/status)".into();
    };
    let min = samples.iter().map(|s| s.1).min().unwrap_or(0);
    let max = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let second_half = &samples[samples.len() / 2..];
    let series: Vec<String> = samples
        .iter()
        .step_by(10)
        .map(|s| format!("{:.1}", s.1 as f64 / 1024.0))
        .collect();
    format!(
        "node RSS (VmRSS, {} samples 1 s apart, during the load and the drain): first {}, min {}, max {}, last {}; \
slope of the second half {:+.2} MiB/min\n  every 10 s, MiB: {}",
        samples.len(),
        mib(first.1),
        mib(min),
        mib(max),
        mib(last.1),
        slope(second_half) * 60.0 / 1024.0,
        series.join(" ")
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut options = options()?;
    let binary = node_binary(&options)?;
    let work = std::env::temp_dir().join(format!("tokennet-load-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let mut node = spawn_node(&binary, &options, &work).await?;
    options.load.base = node.base.clone();
    let config = options.load.clone();
    println!(
        "tokennet load: {} clients for {:?} on {} tokens; node {} (pid {}) with {} peers, blocks every {}, settle timeout {}, seed {}; writes: chance {} per request, at most {} in flight per token; log {}",
        config.clients,
        config.duration,
        options.tokens,
        binary.display(),
        node.pid(),
        options.peers,
        options.block_time,
        options.settle_timeout,
        config.seed,
        config.write_chance,
        config.writers_per_token,
        node.log.display(),
    );

    let (stop_sampling, stopped) = watch::channel(false);
    let sampler = tokio::spawn(sample_rss(node.pid(), stopped));
    let outcome = driver::run_load(&config).await;
    let _ = stop_sampling.send(true);
    let samples = sampler.await.unwrap_or_default();
    let outcome = outcome?;
    let report = driver::check(&config, &outcome).await;

    println!(
        "\n{} s of load, then {:.1} s until no request was in flight\n",
        outcome.load_time.as_secs(),
        outcome.drain_time.as_secs_f64()
    );
    println!("{}", driver::table(&outcome));
    println!("{}", rss_line(&samples));
    println!("errors: {}", outcome.error_count);
    for error in &outcome.errors {
        println!("  {error}");
    }
    let report = match report {
        Ok(report) => report,
        Err(error) => {
            node.stop();
            return Err(error.context("the consistency checks could not run"));
        }
    };
    println!("consistency:");
    for line in &report.lines {
        println!("  {line}");
    }
    for violation in &report.violations {
        println!("  VIOLATION: {violation}");
    }
    node.stop();
    match driver::verdict(&outcome, &report) {
        Ok(()) => {
            println!("result: OK (0 errors, no violation)");
            let _ = std::fs::remove_dir_all(&work);
            Ok(())
        }
        Err(error) => {
            println!("result: FAILED; the node's log is {}", node.log.display());
            Err(error)
        }
    }
}
