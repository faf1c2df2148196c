//! The files of `--out DIR`: plain CSV and JSON a notebook can load, and SVG plots.
//!
//! Numbers are written with a fixed number of decimals, so that the same run gives the
//! same bytes.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use serde::Serialize;

use crate::engine::{Counters, RunResult};
use crate::metrics::{capacities, FinalMetrics};
use crate::plots::{self, Series};
use crate::scenario::Scenario;

/// `summary.json`.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    /// Version of tokennet-sim.
    pub version: &'static str,
    /// The seed.
    pub seed: u64,
    /// The scenario as parsed, defaults filled in.
    pub scenario: &'a Scenario,
    /// Virtual time simulated, hours.
    pub simulated_hours: f64,
    /// Final counters.
    pub counters: &'a Counters,
    /// Final metrics.
    pub final_metrics: &'a FinalMetrics,
    /// Wall-clock time of the run, seconds: the one value that differs between two runs
    /// of the same scenario and seed.
    pub wall_time_seconds: f64,
}

fn float(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.6}")
    } else {
        String::new()
    }
}

fn optional(value: Option<f64>) -> String {
    value.map(float).unwrap_or_default()
}

/// The rows of `timeseries.csv`.
pub fn timeseries_csv(result: &RunResult) -> String {
    let mut out = String::from(
        "time_hours,nodes_present,channels_open,tokens_locked,largest_component_share,\
mean_degree,degree_gini,capacity_gini,joins_started,joins_failed_gas_reserve,\
joins_failed_timeout,joins_failed_insufficient_eth,joins_failed_revert,transactions,\
retries,leaves_completed,channels_to_departed,gas_spent_eth\n",
    );
    for sample in &result.samples {
        let m = &sample.metrics;
        let c = &sample.counters;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            float(sample.time_hours),
            m.nodes_present,
            m.channels_open,
            float(m.tokens_locked),
            float(m.largest_component_share),
            float(m.mean_degree),
            float(m.degree_gini),
            float(m.capacity_gini),
            c.joins_started,
            c.joins_failed_gas_reserve,
            c.joins_failed_timeout,
            c.joins_failed_insufficient_eth,
            c.joins_failed_revert,
            c.transactions,
            c.retries,
            c.leaves_completed,
            sample.channels_to_departed,
            float(crate::engine::units_to_tokens(c.gas_spent_wei)),
        );
    }
    out
}

fn snake<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The rows of `nodes.csv`.
pub fn nodes_csv(result: &RunResult) -> String {
    let mut out = String::from(
        "index,address,cohort,state,arrived_hours,left_hours,funds,channels,capacity,join_failure\n",
    );
    for node in &result.nodes {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{}",
            node.index,
            node.address,
            node.cohort.replace(',', ";"),
            snake(&node.state),
            optional(node.arrived_hours),
            optional(node.left_hours),
            float(node.funds),
            node.channels,
            float(node.capacity),
            node.failure.as_ref().map(snake).unwrap_or_default(),
        );
    }
    out
}

/// The rows of `channels.csv`: the open channels at the end, an edge list.
pub fn channels_csv(result: &RunResult) -> String {
    let mut out = String::from("channel_id,a,b,deposit_a,deposit_b\n");
    for channel in &result.channels {
        let _ = writeln!(
            out,
            "{},{},{},{},{}",
            channel.channel_id,
            channel.a,
            channel.b,
            float(channel.deposit_a),
            float(channel.deposit_b)
        );
    }
    out
}

/// Writes every output file into `dir` (created if needed).
pub fn write_all(
    dir: &Path,
    scenario: &Scenario,
    result: &RunResult,
    final_metrics: &FinalMetrics,
    wall_time_seconds: f64,
) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("timeseries.csv"), timeseries_csv(result))?;
    std::fs::write(dir.join("nodes.csv"), nodes_csv(result))?;
    std::fs::write(dir.join("channels.csv"), channels_csv(result))?;
    let summary = Summary {
        version: env!("CARGO_PKG_VERSION"),
        seed: scenario.seed,
        scenario,
        simulated_hours: result.simulated.as_secs_f64() / 3600.0,
        counters: &result.counters,
        final_metrics,
        wall_time_seconds,
    };
    let json = serde_json::to_string_pretty(&summary).map_err(io::Error::other)?;
    std::fs::write(dir.join("summary.json"), json + "\n")?;

    let points = |pick: fn(&crate::engine::Sample) -> f64| -> Vec<(f64, f64)> {
        result
            .samples
            .iter()
            .map(|s| (s.time_hours, pick(s)))
            .collect()
    };
    let present = points(|s| s.metrics.nodes_present as f64);
    let channels = points(|s| s.metrics.channels_open as f64);
    let growth = plots::growth_over_time(
        "Growth of the token network",
        "time (hours)",
        "count",
        &[
            Series {
                name: "nodes present",
                points: &present,
            },
            Series {
                name: "channels open",
                points: &channels,
            },
        ],
    );
    std::fs::write(dir.join("growth.svg"), growth)?;
    std::fs::write(
        dir.join("degree_distribution.svg"),
        plots::degree_distribution("Degree distribution", &final_metrics.degree_distribution),
    )?;
    std::fs::write(
        dir.join("capacity_distribution.svg"),
        plots::capacity_distribution(
            "Capacity distribution (tokens a node deposited)",
            &capacities(&result.snapshot),
        ),
    )?;
    Ok(())
}
