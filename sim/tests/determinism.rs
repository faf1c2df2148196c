//! Same seed and scenario → byte-identical output files; another seed → other output.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::Path;

use tokennet_sim::run::run_to_dir;
use tokennet_sim::scenario::Scenario;

fn scenario(seed: u64) -> Scenario {
    Scenario::from_toml(&format!(
        r#"
seed = {seed}
duration = "12h"
sample_interval = "30m"
[[cohorts]]
name = "steady"
count = 300
arrival = {{ process = "poisson", rate_per_hour = 60.0 }}
funds = {{ dist = "log_normal", median = 100.0, sigma = 1.0 }}
tx_latency = {{ dist = "uniform", min = 0.5, max = 15.0 }}
lifetime = {{ dist = "exponential", mean = 14400.0 }}
[[cohorts]]
name = "hubs"
count = 20
arrival = {{ process = "at_start" }}
funds = 1000.0
initial_channel_target = 5
partner_selection = "preferential_attachment"
"#
    ))
    .unwrap()
}

const FILES: [&str; 7] = [
    "timeseries.csv",
    "nodes.csv",
    "channels.csv",
    "summary.json",
    "growth.svg",
    "degree_distribution.svg",
    "capacity_distribution.svg",
];

/// A file's bytes; in summary.json, without the wall-clock time (the one value that
/// depends on the machine).
fn read(dir: &Path, name: &str) -> Vec<u8> {
    let bytes = std::fs::read(dir.join(name)).unwrap();
    if name != "summary.json" {
        return bytes;
    }
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .filter(|line| !line.contains("\"wall_time_seconds\""))
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes()
}

#[test]
fn same_seed_same_bytes_other_seed_other_output() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second, other) = (
        dir.path().join("first"),
        dir.path().join("second"),
        dir.path().join("other"),
    );
    run_to_dir(&scenario(7), &first, |_| {}).unwrap();
    run_to_dir(&scenario(7), &second, |_| {}).unwrap();
    run_to_dir(&scenario(8), &other, |_| {}).unwrap();
    for name in FILES {
        assert!(
            read(&first, name) == read(&second, name),
            "{name} differs between two runs of the same seed"
        );
    }
    assert_ne!(
        read(&first, "timeseries.csv"),
        read(&other, "timeseries.csv")
    );
    assert_ne!(read(&first, "channels.csv"), read(&other, "channels.csv"));
    let timeseries = String::from_utf8(read(&first, "timeseries.csv")).unwrap();
    assert!(timeseries.lines().count() > 20, "{timeseries}");
}
