//! `sweep`: a grid of parameter values × seeds, run in parallel on every core, summarised
//! as the mean and 95 % interval of each final metric per grid point.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::run::{simulate, RunSummary};
use crate::scenario::Scenario;

/// One swept parameter: a dotted path into the scenario (`cohorts.0.count`,
/// `chain.block_time`) and the values it takes.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Dotted path; numbers index arrays.
    pub path: String,
    /// Values, as written in TOML (`3`, `0.5`, `"2h"`); bare words are strings.
    pub values: Vec<String>,
}

impl std::str::FromStr for Param {
    type Err = String;

    /// Parses `NAME=V1,V2,…`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (path, values) = text
            .split_once('=')
            .ok_or_else(|| format!("'{text}' is not NAME=V1,V2,…"))?;
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_owned()).collect();
        if path.trim().is_empty() || values.iter().any(String::is_empty) {
            return Err(format!("'{text}' is not NAME=V1,V2,…"));
        }
        Ok(Param {
            path: path.trim().to_owned(),
            values,
        })
    }
}

fn toml_value(text: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut table| table.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_owned()))
}

/// Sets the value at a dotted path (`cohorts.0.count`) inside a TOML value.
pub fn set_path(root: &mut toml::Value, path: &str, value: toml::Value) -> Result<(), String> {
    let mut current = root;
    for segment in path.split('.') {
        current = match current {
            toml::Value::Table(t) => t
                .entry(segment.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new())),
            toml::Value::Array(items) => {
                let index: usize = segment
                    .parse()
                    .map_err(|_| format!("'{path}': '{segment}' must be an array index"))?;
                items
                    .get_mut(index)
                    .ok_or_else(|| format!("'{path}': index {index} is out of range"))?
            }
            _ => return Err(format!("'{path}': '{segment}' is inside a plain value")),
        };
    }
    *current = value;
    Ok(())
}

/// One grid point: the value chosen for each parameter.
type Point = Vec<String>;

fn grid(params: &[Param]) -> Vec<Point> {
    let mut points: Vec<Point> = vec![Vec::new()];
    for param in params {
        points = points
            .into_iter()
            .flat_map(|point| {
                param.values.iter().map(move |value| {
                    let mut next = point.clone();
                    next.push(value.clone());
                    next
                })
            })
            .collect();
    }
    points
}

/// The scenario of one grid point and seed offset.
pub fn scenario_for(
    base: &toml::Table,
    params: &[Param],
    point: &[String],
    seed_offset: u64,
) -> Result<Scenario, String> {
    let mut root = toml::Value::Table(base.clone());
    for (param, value) in params.iter().zip(point) {
        set_path(&mut root, &param.path, toml_value(value))?;
    }
    let toml::Value::Table(mut table) = root else {
        return Err("the scenario is not a table".into());
    };
    let base_seed = table
        .get("seed")
        .and_then(toml::Value::as_integer)
        .unwrap_or(0);
    table.insert(
        "seed".into(),
        toml::Value::Integer(base_seed.wrapping_add(seed_offset as i64)),
    );
    Scenario::from_table(table)
}

/// Final metrics of one run, by name, in a fixed order.
fn run_metrics(outcome: &RunSummary) -> Vec<(String, f64)> {
    let m = &outcome.final_metrics;
    let s = &m.sample;
    let c = &outcome.result.counters;
    let mut metrics = vec![
        ("nodes_present".to_owned(), s.nodes_present as f64),
        ("channels_open".to_owned(), s.channels_open as f64),
        ("tokens_locked".to_owned(), s.tokens_locked),
        (
            "largest_component_share".to_owned(),
            s.largest_component_share,
        ),
        ("mean_degree".to_owned(), s.mean_degree),
        ("degree_gini".to_owned(), s.degree_gini),
        ("capacity_gini".to_owned(), s.capacity_gini),
        (
            "mean_shortest_path".to_owned(),
            m.mean_shortest_path.unwrap_or(f64::NAN),
        ),
        (
            "diameter_estimate".to_owned(),
            m.diameter_estimate.map(f64::from).unwrap_or(f64::NAN),
        ),
        (
            "joins_failed_gas_reserve".to_owned(),
            c.joins_failed_gas_reserve as f64,
        ),
        (
            "joins_failed_timeout".to_owned(),
            c.joins_failed_timeout as f64,
        ),
        (
            "joins_failed_insufficient_eth".to_owned(),
            c.joins_failed_insufficient_eth as f64,
        ),
        (
            "gas_spent_eth".to_owned(),
            crate::engine::units_to_tokens(c.gas_spent_wei),
        ),
    ];
    for r in &m.routability {
        metrics.push((format!("routability_{}", r.amount), r.share));
    }
    metrics
}

/// Two-sided 95 % critical value of Student's t with `df` degrees of freedom.
fn t_critical(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df - 1],
        _ => 1.96,
    }
}

/// Mean and 95 % confidence interval of the finite values.
pub fn mean_and_interval(values: &[f64]) -> (f64, f64, f64, usize) {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let n = finite.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN, 0);
    }
    let mean = finite.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, mean, mean, 1);
    }
    let variance = finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = t_critical(n - 1) * (variance / n as f64).sqrt();
    (mean, mean - half, mean + half, n)
}

fn cell(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.6}")
    } else {
        String::new()
    }
}

/// Runs the grid × seeds in parallel and writes `sweep.csv` (aggregated) and `runs.csv`
/// (one row per run) into `out`. `on_run_done` is called after each run.
pub fn sweep(
    base_text: &str,
    params: &[Param],
    seeds: u64,
    out: &Path,
    on_run_done: impl Fn() + Sync,
) -> anyhow::Result<usize> {
    let base: toml::Table = toml::from_str(base_text)?;
    let points = grid(params);
    let jobs: Vec<(usize, u64)> = (0..points.len())
        .flat_map(|p| (0..seeds).map(move |s| (p, s)))
        .collect();
    // Check every scenario first: a typo in a value fails before hours of runs.
    let scenarios: Vec<Scenario> = jobs
        .iter()
        .map(|(p, s)| {
            scenario_for(&base, params, &points[*p], *s)
                .map_err(|e| anyhow::anyhow!("grid point {:?}: {e}", points[*p]))
        })
        .collect::<Result<_, _>>()?;
    let done = AtomicU64::new(0);
    let outcomes: Vec<anyhow::Result<Vec<(String, f64)>>> = scenarios
        .par_iter()
        .map(|scenario| {
            let outcome = simulate(scenario, false, |_| {})?;
            done.fetch_add(1, Ordering::Relaxed);
            on_run_done();
            Ok(run_metrics(&outcome))
        })
        .collect();
    let mut per_run = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        per_run.push(outcome?);
    }

    std::fs::create_dir_all(out)?;
    let names: Vec<&str> = params.iter().map(|p| p.path.as_str()).collect();
    let metric_names: Vec<String> = per_run
        .first()
        .map(|m| m.iter().map(|(name, _)| name.clone()).collect())
        .unwrap_or_default();

    let mut runs_csv = format!("{},seed,{}\n", names.join(","), metric_names.join(","));
    for ((p, _), (scenario, metrics)) in jobs.iter().zip(scenarios.iter().zip(&per_run)) {
        let values: Vec<String> = metrics.iter().map(|(_, v)| cell(*v)).collect();
        let _ = writeln!(
            runs_csv,
            "{},{},{}",
            points[*p].join(","),
            scenario.seed,
            values.join(",")
        );
    }
    std::fs::write(out.join("runs.csv"), runs_csv)?;

    let mut sweep_csv = format!("{},metric,mean,ci95_low,ci95_high,runs\n", names.join(","));
    for (p, point) in points.iter().enumerate() {
        for (m, metric) in metric_names.iter().enumerate() {
            let values: Vec<f64> = jobs
                .iter()
                .zip(&per_run)
                .filter(|((jp, _), _)| *jp == p)
                .map(|(_, metrics)| metrics[m].1)
                .collect();
            let (mean, low, high, n) = mean_and_interval(&values);
            let _ = writeln!(
                sweep_csv,
                "{},{metric},{},{},{},{n}",
                point.join(","),
                cell(mean),
                cell(low),
                cell(high)
            );
        }
    }
    std::fs::write(out.join("sweep.csv"), sweep_csv)?;
    Ok(jobs.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_parse_and_make_a_grid() {
        let a: Param = "cohorts.0.initial_channel_target=2,3".parse().unwrap();
        let b: Param = "cohorts.0.partner_selection=uniform,preferential_attachment"
            .parse()
            .unwrap();
        assert_eq!(grid(&[a, b]).len(), 4);
        assert!("novalue".parse::<Param>().is_err());
        assert!("x=1,,2".parse::<Param>().is_err());
    }

    #[test]
    fn interval_of_identical_values_is_a_point() {
        let (mean, low, high, n) = mean_and_interval(&[2.0, 2.0, 2.0]);
        assert_eq!((mean, low, high, n), (2.0, 2.0, 2.0, 3));
        let (mean, low, high, _) = mean_and_interval(&[1.0, 3.0]);
        assert_eq!(mean, 2.0);
        assert!(low < 1.0 && high > 3.0);
    }

    #[test]
    fn values_land_at_their_path() {
        let base: toml::Table = toml::from_str(
            "seed = 5\n[[cohorts]]\nname = \"a\"\ncount = 3\narrival = { process = \"at_start\" }\nfunds = 10\n",
        )
        .unwrap();
        let params = vec![
            "cohorts.0.count=7".parse().unwrap(),
            "chain.block_time=2s".parse().unwrap(),
        ];
        let scenario = scenario_for(&base, &params, &["7".into(), "2s".into()], 2).unwrap();
        assert_eq!(scenario.cohorts[0].count, 7);
        assert_eq!(scenario.chain.block_time, std::time::Duration::from_secs(2));
        assert_eq!(scenario.seed, 7);
    }
}
