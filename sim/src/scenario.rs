//! The scenario file (TOML): what to simulate. Every field, its unit and its default are
//! documented in `sim/README.md`; this module is the one place that reads and checks
//! them, so that a mistake is reported with the field and the line it is on.

use std::path::Path;
use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::dist::Distribution;
use crate::strategy::StrategyKind;

/// Default `sample_interval`.
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_secs(3600);
/// Default block interval (Ethereum mainnet).
pub const DEFAULT_BLOCK_TIME: Duration = Duration::from_secs(12);
/// Default gas price, in gwei.
pub const DEFAULT_GAS_PRICE_GWEI: f64 = 20.0;
/// Default settle timeout (as on `tokennet deploy`).
pub const DEFAULT_SETTLE_TIMEOUT: Duration = Duration::from_secs(500);
/// Default transaction timeout (as `--tx-timeout`).
pub const DEFAULT_TX_TIMEOUT: Duration = Duration::from_secs(120);
/// Default number of BFS sources for the path-length estimate.
pub const DEFAULT_BFS_SOURCES: usize = 32;
/// Default number of sampled payments for routability.
pub const DEFAULT_ROUTABILITY_SAMPLES: usize = 1000;

/// A whole scenario.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Seed of every random draw. Same seed and scenario, same output.
    pub seed: u64,
    /// Virtual time to simulate. Absent: until every node has arrived and nothing is left
    /// to do (all joins, leaves and settlements done).
    #[serde(default, with = "opt_duration")]
    pub duration: Option<Duration>,
    /// Virtual time between two rows of `timeseries.csv`.
    #[serde(default = "default_sample_interval", with = "positive_duration")]
    pub sample_interval: Duration,
    /// The chain.
    #[serde(default)]
    pub chain: ChainParams,
    /// The final metrics.
    #[serde(default)]
    pub metrics: MetricsParams,
    /// The groups of nodes.
    #[serde(deserialize_with = "non_empty_cohorts")]
    pub cohorts: Vec<Cohort>,
}

/// The simulated chain.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainParams {
    /// Interval between blocks.
    #[serde(with = "positive_duration")]
    pub block_time: Duration,
    /// Gas price in gwei.
    #[serde(deserialize_with = "non_negative")]
    pub gas_price_gwei: f64,
    /// Settle timeout of the token network.
    #[serde(with = "positive_duration")]
    pub settle_timeout: Duration,
    /// A transaction not mined within this time fails its call (the API's 408).
    #[serde(with = "positive_duration")]
    pub tx_timeout: Duration,
    /// Most tokens a participant may deposit in one channel (none if absent).
    #[serde(deserialize_with = "opt_non_negative")]
    pub channel_participant_deposit_limit: Option<f64>,
    /// Most tokens the token network may hold (none if absent).
    #[serde(deserialize_with = "opt_non_negative")]
    pub token_network_deposit_limit: Option<f64>,
}

impl Default for ChainParams {
    fn default() -> Self {
        Self {
            block_time: DEFAULT_BLOCK_TIME,
            gas_price_gwei: DEFAULT_GAS_PRICE_GWEI,
            settle_timeout: DEFAULT_SETTLE_TIMEOUT,
            tx_timeout: DEFAULT_TX_TIMEOUT,
            channel_participant_deposit_limit: None,
            token_network_deposit_limit: None,
        }
    }
}

/// The final metrics' sampling.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsParams {
    /// BFS sources for the shortest-path and diameter estimates.
    pub bfs_sources: usize,
    /// Sampled (sender, receiver, amount) triples for routability.
    pub routability_samples: usize,
    /// Payment amounts tried, in tokens.
    pub routability_amounts: Vec<f64>,
}

impl Default for MetricsParams {
    fn default() -> Self {
        Self {
            bfs_sources: DEFAULT_BFS_SOURCES,
            routability_samples: DEFAULT_ROUTABILITY_SAMPLES,
            routability_amounts: vec![1.0, 10.0],
        }
    }
}

/// A group of nodes that arrive the same way and join with the same kind of parameters.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cohort {
    /// A name for reports.
    pub name: String,
    /// How many nodes.
    #[serde(deserialize_with = "positive_count")]
    pub count: u64,
    /// When they arrive.
    pub arrival: Arrival,
    /// Tokens each commits to the network (`funds` of the join), in whole tokens; each
    /// node also holds exactly this many tokens.
    pub funds: Distribution,
    /// `initial_channel_target` of the join: a number or a distribution, each draw
    /// rounded to a whole number of channels and kept within 0 to 1000.
    #[serde(default = "default_target", deserialize_with = "channel_target")]
    pub initial_channel_target: Distribution,
    /// `joinable_funds_target` of the join: a number or a uniform distribution within
    /// 0.0 to 1.0.
    #[serde(default = "default_joinable", deserialize_with = "fraction")]
    pub joinable_funds_target: Distribution,
    /// ETH of each node. Below the gas reserve, the join fails (402) and is counted.
    #[serde(default = "default_eth")]
    pub eth: Distribution,
    /// Time from sending a transaction to its inclusion, in seconds. Above the chain's
    /// `tx_timeout`, the call fails (408) and is counted; the transaction is still mined.
    #[serde(default = "default_latency")]
    pub tx_latency: Distribution,
    /// Time from arrival to leaving (close and settle everything), in seconds. Absent:
    /// the nodes never leave.
    #[serde(default)]
    pub lifetime: Option<Distribution>,
    /// How new partners are chosen.
    #[serde(default = "default_strategy")]
    pub partner_selection: StrategyKind,
}

/// How the nodes of a cohort arrive.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "process", rename_all = "snake_case", deny_unknown_fields)]
pub enum Arrival {
    /// All at time 0.
    AtStart,
    /// A Poisson process: exponential gaps with this mean rate.
    Poisson {
        /// Arrivals per hour.
        #[serde(deserialize_with = "positive")]
        rate_per_hour: f64,
        /// When the first may arrive.
        #[serde(default, with = "opt_duration")]
        start: Option<Duration>,
    },
    /// At these times (as many as `count`; the list repeats its last gap if shorter).
    Explicit {
        /// Arrival times.
        #[serde(with = "duration_list")]
        times: Vec<Duration>,
    },
}

fn default_sample_interval() -> Duration {
    DEFAULT_SAMPLE_INTERVAL
}
fn default_target() -> Distribution {
    Distribution::Fixed {
        value: f64::from(tokennet::connection::DEFAULT_INITIAL_CHANNEL_TARGET),
    }
}
fn default_joinable() -> Distribution {
    Distribution::Fixed {
        value: tokennet::connection::DEFAULT_JOINABLE_FUNDS_TARGET.as_f64(),
    }
}
fn default_eth() -> Distribution {
    Distribution::Fixed { value: 1.0 }
}
fn default_latency() -> Distribution {
    Distribution::Fixed { value: 0.0 }
}
fn default_strategy() -> StrategyKind {
    StrategyKind::Uniform
}

fn non_empty_cohorts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Cohort>, D::Error> {
    let cohorts = Vec::<Cohort>::deserialize(d)?;
    if cohorts.is_empty() {
        return Err(D::Error::custom("at least one [[cohorts]] entry is needed"));
    }
    Ok(cohorts)
}

fn positive_count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let count = u64::deserialize(d)?;
    if count == 0 {
        return Err(D::Error::custom("count must be at least 1"));
    }
    Ok(count)
}

fn channel_target<'de, D: Deserializer<'de>>(d: D) -> Result<Distribution, D::Error> {
    let target = Distribution::deserialize(d)?;
    let max = f64::from(tokennet::connection::MAX_INITIAL_CHANNEL_TARGET);
    let too_large = match target {
        Distribution::Fixed { value } => value > max,
        Distribution::Uniform { max: upper, .. } => upper > max,
        _ => false, // unbounded draws are capped at the maximum
    };
    if too_large {
        return Err(D::Error::custom(format!(
            "initial_channel_target must be from 0 to {max}"
        )));
    }
    Ok(target)
}

fn fraction<'de, D: Deserializer<'de>>(d: D) -> Result<Distribution, D::Error> {
    let fraction = Distribution::deserialize(d)?;
    match fraction {
        Distribution::Fixed { value } if value <= 1.0 => Ok(fraction),
        Distribution::Uniform { max, .. } if max <= 1.0 => Ok(fraction),
        Distribution::Fixed { value } => Err(D::Error::custom(format!(
            "joinable_funds_target must be from 0.0 to 1.0, not {value}"
        ))),
        _ => Err(D::Error::custom(
            "joinable_funds_target must stay within 0.0 to 1.0: give a number or a uniform distribution with max at most 1.0",
        )),
    }
}

fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if !(value.is_finite() && value > 0.0) {
        return Err(D::Error::custom(format!(
            "must be greater than 0, not {value}"
        )));
    }
    Ok(value)
}

fn non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if !(value.is_finite() && value >= 0.0) {
        return Err(D::Error::custom(format!(
            "must not be negative, not {value}"
        )));
    }
    Ok(value)
}

fn opt_non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    non_negative(d).map(Some)
}

fn parse_duration<E: serde::de::Error>(text: &str) -> Result<Duration, E> {
    humantime::parse_duration(text).map_err(|e| {
        E::custom(format!(
            "{e}: write a duration such as \"500ms\", \"15s\" or \"2h\""
        ))
    })
}

fn write_duration<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*value).to_string())
}

mod positive_duration {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let value = parse_duration(&String::deserialize(d)?)?;
        if value.is_zero() {
            return Err(D::Error::custom("must be longer than zero"));
        }
        Ok(value)
    }

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        write_duration(value, s)
    }
}

mod opt_duration {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Some(parse_duration(&String::deserialize(d)?)?))
    }

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => write_duration(value, s),
            None => s.serialize_none(),
        }
    }
}

mod duration_list {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        if texts.is_empty() {
            return Err(D::Error::custom(
                "times must list at least one arrival time",
            ));
        }
        let times: Vec<Duration> = texts
            .iter()
            .map(|t| parse_duration(t))
            .collect::<Result<_, _>>()?;
        if times.windows(2).any(|w| w[1] < w[0]) {
            return Err(D::Error::custom("times must be in increasing order"));
        }
        Ok(times)
    }

    pub fn serialize<S: Serializer>(value: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        let texts: Vec<String> = value
            .iter()
            .map(|d| humantime::format_duration(*d).to_string())
            .collect();
        texts.serialize(s)
    }
}

/// Why a scenario could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not a valid scenario; the message names the field and the line.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, and where.
        message: String,
    },
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ScenarioError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    /// Reads and checks a scenario from TOML text; the error names the field and line.
    pub fn from_toml(text: &str) -> Result<Scenario, String> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        scenario.check()?;
        Ok(scenario)
    }

    /// Reads a scenario from a TOML table (as `sweep` edits one).
    pub fn from_table(table: toml::Table) -> Result<Scenario, String> {
        let scenario: Scenario = table
            .try_into()
            .map_err(|e: toml::de::Error| e.to_string())?;
        scenario.check()?;
        Ok(scenario)
    }

    /// Checks that span several fields.
    fn check(&self) -> Result<(), String> {
        for cohort in &self.cohorts {
            if let Arrival::Explicit { times } = &cohort.arrival {
                if times.len() as u64 > cohort.count {
                    return Err(format!(
                        "cohort '{}': arrival.times lists {} times for a count of {}",
                        cohort.name,
                        times.len(),
                        cohort.count
                    ));
                }
            }
        }
        Ok(())
    }

    /// Total number of nodes.
    pub fn node_count(&self) -> u64 {
        self.cohorts.iter().map(|c| c.count).sum()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn strategy_kinds_parse_from_toml() {
        #[derive(serde::Deserialize)]
        struct Scenario {
            strategy: crate::strategy::StrategyKind,
        }
        for kind in crate::strategy::StrategyKind::ALL {
            let text = format!("strategy = \"{kind}\"");
            let scenario: Scenario = toml::from_str(&text).expect("parses");
            assert_eq!(scenario.strategy, kind);
        }
        assert!(toml::from_str::<Scenario>("strategy = \"random\"").is_err());
    }

    use super::*;

    const MINIMAL: &str = r#"
seed = 1
[[cohorts]]
name = "all"
count = 10
arrival = { process = "at_start" }
funds = 100
"#;

    #[test]
    fn a_minimal_scenario_takes_the_defaults() {
        let scenario = Scenario::from_toml(MINIMAL).unwrap();
        assert_eq!(scenario.chain.block_time, DEFAULT_BLOCK_TIME);
        assert_eq!(
            scenario.cohorts[0].initial_channel_target,
            Distribution::Fixed { value: 3.0 }
        );
        assert_eq!(
            scenario.cohorts[0].joinable_funds_target,
            Distribution::Fixed { value: 0.4 }
        );
        assert_eq!(scenario.cohorts[0].partner_selection, StrategyKind::Uniform);
        assert_eq!(scenario.node_count(), 10);
    }

    #[test]
    fn errors_name_the_field_and_the_line() {
        let bad = MINIMAL.replace("count = 10", "count = 0");
        let error = Scenario::from_toml(&bad).unwrap_err();
        assert!(error.contains("count must be at least 1"), "{error}");
        assert!(error.contains("line 5"), "{error}");

        let bad = format!("{MINIMAL}joinable_funds_target = 1.5\n");
        let error = Scenario::from_toml(&bad).unwrap_err();
        assert!(error.contains("joinable_funds_target"), "{error}");
        assert!(error.contains("line 8"), "{error}");

        let bad = format!(
            "{MINIMAL}joinable_funds_target = {{ dist = \"pareto\", scale = 0.1, shape = 2 }}\n"
        );
        let error = Scenario::from_toml(&bad).unwrap_err();
        assert!(error.contains("uniform distribution"), "{error}");

        let bad = format!("{MINIMAL}initial_channel_target = 1001\n");
        let error = Scenario::from_toml(&bad).unwrap_err();
        assert!(
            error.contains("initial_channel_target must be from 0 to 1000"),
            "{error}"
        );

        let bad = MINIMAL.replace("seed = 1", "seed = 1\nsample_interval = \"soon\"");
        let error = Scenario::from_toml(&bad).unwrap_err();
        assert!(
            error.contains("sample_interval") || error.contains("line 3"),
            "{error}"
        );

        let bad = MINIMAL.replace("funds = 100", "funds = 100\nfundz = 1");
        let error = Scenario::from_toml(&bad).unwrap_err();
        assert!(error.contains("fundz"), "{error}");
    }
}
