//! One simulation from scenario to output files.

use std::path::Path;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::engine::{Engine, RunResult};
use crate::metrics::{final_metrics, FinalMetrics, FinalMetricsConfig};
use crate::scenario::Scenario;

/// What a run gives back besides its files.
pub struct Outcome {
    /// Everything the engine produced.
    pub result: RunResult,
    /// The final metrics.
    pub final_metrics: FinalMetrics,
    /// Wall-clock time, seconds.
    pub wall_time_seconds: f64,
}

/// Runs a scenario in memory. `progress` is told the fraction done now and then;
/// `check_conservation` verifies at every sample that no token is created or lost.
pub fn simulate(
    scenario: &Scenario,
    check_conservation: bool,
    progress: impl FnMut(f64),
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let mut engine = Engine::new(scenario)
        .map_err(|revert| anyhow::anyhow!("setting up the chain failed: {revert}"))?;
    engine.check_conservation(check_conservation);
    let result = engine.run(progress);
    let config = FinalMetricsConfig {
        bfs_sources: scenario.metrics.bfs_sources,
        routability_samples: scenario.metrics.routability_samples,
        routability_amounts: scenario.metrics.routability_amounts.clone(),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(scenario.seed ^ 0xF1A1_3E7A);
    let final_metrics = final_metrics(&result.snapshot, &config, &mut rng);
    Ok(Outcome {
        result,
        final_metrics,
        wall_time_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Runs a scenario and writes its files into `out`.
pub fn run_to_dir(
    scenario: &Scenario,
    out: &Path,
    progress: impl FnMut(f64),
) -> anyhow::Result<Outcome> {
    let outcome = simulate(scenario, false, progress)?;
    crate::output::write_all(
        out,
        scenario,
        &outcome.result,
        &outcome.final_metrics,
        outcome.wall_time_seconds,
    )?;
    Ok(outcome)
}
