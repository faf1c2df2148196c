//! Sanity checks against known results.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::HashMap;

use tokennet_sim::run::simulate;
use tokennet_sim::scenario::Scenario;

fn growth(strategy: &str, count: u64, seed: u64, extra: &str) -> Scenario {
    Scenario::from_toml(&format!(
        r#"
seed = {seed}
sample_interval = "1h"
[chain]
block_time = "12s"
[[cohorts]]
name = "joiners"
count = {count}
arrival = {{ process = "poisson", rate_per_hour = 600.0 }}
funds = 100.0
initial_channel_target = 3
joinable_funds_target = 0.4
eth = 1.0
tx_latency = {{ dist = "uniform", min = 0.5, max = 10.0 }}
partner_selection = "{strategy}"
{extra}
"#
    ))
    .unwrap()
}

#[test]
fn preferential_attachment_has_a_heavier_degree_tail_than_uniform() {
    let tail = |strategy: &str| {
        let outcome = simulate(&growth(strategy, 3000, 5, ""), false, |_| {}).unwrap();
        let histogram = &outcome.final_metrics.degree_distribution;
        let max_degree = histogram.iter().map(|(d, _)| *d).max().unwrap();
        let heavy: u64 = histogram
            .iter()
            .filter(|(d, _)| *d >= 15)
            .map(|(_, c)| c)
            .sum();
        (max_degree, heavy, outcome.final_metrics.sample.degree_gini)
    };
    let (uniform_max, uniform_heavy, uniform_gini) = tail("uniform");
    let (pa_max, pa_heavy, pa_gini) = tail("preferential_attachment");
    assert!(
        pa_max > 2 * uniform_max,
        "max degree: PA {pa_max}, uniform {uniform_max}"
    );
    assert!(
        pa_heavy > uniform_heavy,
        "nodes of degree ≥ 15: PA {pa_heavy}, uniform {uniform_heavy}"
    );
    assert!(
        pa_gini > uniform_gini,
        "degree Gini: PA {pa_gini}, uniform {uniform_gini}"
    );
}

#[test]
fn every_node_after_the_first_k_plus_one_has_k_funded_channels() {
    let k = 3usize;
    let outcome = simulate(&growth("uniform", 1500, 9, ""), false, |_| {}).unwrap();
    // per_partner = 100 × 0.6 / 3 = 20 tokens
    let per_partner = 20.0 - 1e-9;
    let mut funded: HashMap<u32, usize> = HashMap::new();
    for c in &outcome.result.channels {
        if c.deposit_a >= per_partner {
            *funded.entry(c.a).or_default() += 1;
        }
        if c.deposit_b >= per_partner {
            *funded.entry(c.b).or_default() += 1;
        }
    }
    let mut arrivals: Vec<(f64, u32)> = outcome
        .result
        .nodes
        .iter()
        .map(|n| (n.arrived_hours.unwrap(), n.index))
        .collect();
    arrivals.sort_by(|a, b| a.partial_cmp(b).unwrap());
    for (_, index) in arrivals.iter().skip(k + 1) {
        let count = funded.get(index).copied().unwrap_or(0);
        assert!(
            count >= k,
            "node {index} has {count} funded channels, fewer than {k}"
        );
    }
}

#[test]
fn tokens_are_conserved_at_every_sample_with_churn() {
    let scenario = growth(
        "uniform",
        800,
        3,
        "lifetime = { dist = \"exponential\", mean = 3600.0 }",
    );
    // `true`: the engine checks, at every sample, that balances plus locked deposits
    // equal what was minted, and panics otherwise.
    let outcome = simulate(&scenario, true, |_| {}).unwrap();
    assert!(outcome.result.counters.leaves_completed > 100);
    assert!(outcome.result.samples.len() > 3);
}
