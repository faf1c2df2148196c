//! One simulation from scenario to output files.

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::engine::{DecisionLog, Engine, RunResult};
use crate::metrics::{final_metrics, FinalMetrics, FinalMetricsConfig};
use crate::scenario::Scenario;

/// The name of the decision log in the output directory.
pub const DECISIONS_FILE: &str = "decisions.csv";

/// What a run gives back besides its files.
pub struct RunSummary {
    /// Everything the engine produced.
    pub result: RunResult,
    /// The final metrics.
    pub final_metrics: FinalMetrics,
    /// Wall-clock time, seconds.
    pub wall_time_seconds: f64,
    /// Rows written to the decision log, if one was asked for.
    pub decisions: Option<u64>,
}

/// Runs a scenario in memory. `progress` is told the fraction done now and then;
/// `check_conservation` verifies at every sample that no token is created or lost.
pub fn simulate(
    scenario: &Scenario,
    check_conservation: bool,
    progress: impl FnMut(f64),
) -> anyhow::Result<RunSummary> {
    simulate_logging(scenario, check_conservation, None, progress)
}

/// [`simulate`], writing every decision of every node's connection manager to `decisions`.
pub fn simulate_logging(
    scenario: &Scenario,
    check_conservation: bool,
    decisions: Option<DecisionLog>,
    progress: impl FnMut(f64),
) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let mut engine = Engine::new(scenario)
        .map_err(|revert| anyhow::anyhow!("setting up the chain failed: {revert}"))?;
    engine.check_conservation(check_conservation);
    if let Some(log) = decisions {
        engine.log_decisions(log);
    }
    let mut result = engine.run(progress);
    let decisions = result
        .decision_log
        .take()
        .map(|log| log.finish().context("cannot write the decision log"))
        .transpose()?;
    let config = FinalMetricsConfig {
        bfs_sources: scenario.metrics.bfs_sources,
        routability_samples: scenario.metrics.routability_samples,
        routability_amounts: scenario.metrics.routability_amounts.clone(),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(scenario.seed ^ 0xF1A1_3E7A);
    let final_metrics = final_metrics(&result.snapshot, &config, &mut rng);
    Ok(RunSummary {
        result,
        final_metrics,
        wall_time_seconds: started.elapsed().as_secs_f64(),
        decisions,
    })
}

/// Runs a scenario and writes its files into `out`.
pub fn run_to_dir(
    scenario: &Scenario,
    out: &Path,
    progress: impl FnMut(f64),
) -> anyhow::Result<RunSummary> {
    run_to_dir_with_decisions(scenario, out, false, progress)
}

/// [`run_to_dir`]; with `decisions`, also `decisions.csv` (`--decisions`).
pub fn run_to_dir_with_decisions(
    scenario: &Scenario,
    out: &Path,
    decisions: bool,
    progress: impl FnMut(f64),
) -> anyhow::Result<RunSummary> {
    let log = if decisions {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let path = out.join(DECISIONS_FILE);
        Some(
            DecisionLog::create(&path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )
    } else {
        None
    };
    let summary = simulate_logging(scenario, false, log, progress)?;
    crate::output::write_all(
        out,
        scenario,
        &summary.result,
        &summary.final_metrics,
        summary.wall_time_seconds,
    )?;
    Ok(summary)
}
