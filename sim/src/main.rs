//! `tokennet-sim`: run a scenario, or sweep a grid of them.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokennet_sim::scenario::Scenario;
use tokennet_sim::sweep::{self, Param};

/// Growth simulator for token networks, running tokennet's connection manager.
#[derive(Debug, Parser)]
#[command(name = "tokennet-sim", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one scenario and write its outputs.
    Run {
        /// The scenario file (TOML; see sim/README.md).
        scenario: PathBuf,
        /// Directory for timeseries.csv, nodes.csv, channels.csv, summary.json and plots.
        #[arg(long)]
        out: PathBuf,
        /// Also write decisions.csv: every decision of every node's connection manager,
        /// with its reason and inputs (large: several rows per node).
        #[arg(long)]
        decisions: bool,
    },
    /// Run a grid of parameter values × seeds in parallel; write sweep.csv and runs.csv.
    Sweep {
        /// The base scenario file.
        scenario: PathBuf,
        /// A swept parameter: a dotted path and its values, such as
        /// `cohorts.0.initial_channel_target=2,3,4`. Repeat for a grid.
        #[arg(long = "param", value_name = "NAME=V1,V2,…", required = true)]
        params: Vec<Param>,
        /// Seeds per grid point (the scenario's seed, +1, +2, …).
        #[arg(long, default_value_t = 5)]
        seeds: u64,
        /// Directory for sweep.csv and runs.csv.
        #[arg(long)]
        out: PathBuf,
    },
}

fn progress_bar(length: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run {
            scenario,
            out,
            decisions,
        } => {
            let parsed = Scenario::from_file(&scenario)?;
            let bar = progress_bar(1000, "{elapsed_precise} [{bar:40}] {percent}% {msg}");
            bar.set_message(format!("{} nodes", parsed.node_count()));
            let outcome =
                tokennet_sim::run::run_to_dir_with_decisions(&parsed, &out, decisions, |done| {
                    bar.set_position((done * 1000.0) as u64);
                })?;
            bar.finish_and_clear();
            let last = &outcome.final_metrics.sample;
            println!(
                "{}: {} nodes present, {} channels, largest component {:.1} %, mean degree {:.2}, {:.1} simulated hours in {:.1} s → {}",
                scenario.display(),
                last.nodes_present,
                last.channels_open,
                last.largest_component_share * 100.0,
                last.mean_degree,
                outcome.result.simulated.as_secs_f64() / 3600.0,
                outcome.wall_time_seconds,
                out.display()
            );
        }
        Command::Sweep {
            scenario,
            params,
            seeds,
            out,
        } => {
            let text = std::fs::read_to_string(&scenario)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", scenario.display()))?;
            let points: u64 = params.iter().map(|p| p.values.len() as u64).product();
            let bar = progress_bar(
                points * seeds,
                "{elapsed_precise} [{bar:40}] {pos}/{len} runs",
            );
            let started = std::time::Instant::now();
            let runs = sweep::sweep(&text, &params, seeds, &out, || bar.inc(1))?;
            bar.finish_and_clear();
            println!(
                "{}: {runs} runs ({points} grid points × {seeds} seeds) in {:.1} s → {}",
                scenario.display(),
                started.elapsed().as_secs_f64(),
                out.join("sweep.csv").display()
            );
        }
    }
    Ok(())
}
