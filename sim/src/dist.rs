//! Distributions of non-negative reals, as written in a scenario file.
//!
//! A distribution is a TOML inline table tagged by `dist`, or a bare number for a fixed
//! value:
//!
//! ```toml
//! funds = { dist = "log_normal", median = 100.0, sigma = 1.0 }
//! target = 3            # the same as { dist = "fixed", value = 3 }
//! ```
//!
//! Parameters are checked while the file is read, so that a mistake is reported with the
//! line and column of the offending table:
//!
//! ```
//! use tokennet_sim::dist::Distribution;
//!
//! #[derive(serde::Deserialize)]
//! struct Node {
//!     funds: Distribution,
//! }
//!
//! let node: Node = toml::from_str("funds = { dist = \"pareto\", scale = 10, shape = 2 }")
//!     .expect("valid");
//! assert_eq!(node.funds.mean(), Some(20.0));
//!
//! let error = toml::from_str::<Node>("funds = { dist = \"uniform\", min = 5, max = 2 }")
//!     .err()
//!     .expect("invalid");
//! assert!(error.to_string().contains("min (5) must not exceed max (2)"));
//! ```

use std::fmt;

use rand::Rng;
use rand_distr::{Distribution as _, Exp1, StandardNormal};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// A distribution of non-negative reals.
///
/// Build it from a scenario file (it implements `Deserialize`, which checks the
/// parameters) or by hand, then check it with [`Distribution::validate`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "dist", rename_all = "snake_case")]
pub enum Distribution {
    /// Always `value`.
    Fixed {
        /// The value, at least 0.
        value: f64,
    },
    /// Uniform on `[min, max)` (always `min` when they are equal).
    Uniform {
        /// The lower bound, at least 0.
        min: f64,
        /// The upper bound, at least `min`.
        max: f64,
    },
    /// `ln X ~ N(ln median, sigma²)`.
    LogNormal {
        /// The median, greater than 0.
        median: f64,
        /// The standard deviation of `ln X`, at least 0.
        sigma: f64,
    },
    /// `X ≥ scale`, `P(X > x) = (scale / x)^shape`.
    Pareto {
        /// The minimum, greater than 0.
        scale: f64,
        /// The tail index, greater than 0; the mean is infinite when it is at most 1.
        shape: f64,
    },
    /// Exponential with the given mean.
    Exponential {
        /// The mean, greater than 0.
        mean: f64,
    },
}

/// Why a distribution's parameters are invalid; the message names the distribution, the
/// parameter and the rule, e.g. "uniform: min (5) must not exceed max (2)".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidDistribution(String);

impl InvalidDistribution {
    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl Distribution {
    /// The name used in scenario files (`dist = "..."`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Fixed { .. } => "fixed",
            Self::Uniform { .. } => "uniform",
            Self::LogNormal { .. } => "log_normal",
            Self::Pareto { .. } => "pareto",
            Self::Exponential { .. } => "exponential",
        }
    }

    /// Checks the parameters: all finite; fixed value ≥ 0; uniform 0 ≤ min ≤ max;
    /// log-normal median > 0 and sigma ≥ 0; Pareto scale > 0 and shape > 0; exponential
    /// mean > 0.
    pub fn validate(&self) -> Result<(), InvalidDistribution> {
        let kind = self.kind();
        let finite = |name: &str, value: f64| {
            if value.is_finite() {
                Ok(())
            } else {
                Err(InvalidDistribution(format!(
                    "{kind}: {name} ({value}) must be finite"
                )))
            }
        };
        let at_least_zero = |name: &str, value: f64| {
            finite(name, value)?;
            if value >= 0.0 {
                Ok(())
            } else {
                Err(InvalidDistribution(format!(
                    "{kind}: {name} ({value}) must be at least 0"
                )))
            }
        };
        let positive = |name: &str, value: f64| {
            finite(name, value)?;
            if value > 0.0 {
                Ok(())
            } else {
                Err(InvalidDistribution(format!(
                    "{kind}: {name} ({value}) must be greater than 0"
                )))
            }
        };
        match *self {
            Self::Fixed { value } => at_least_zero("value", value),
            Self::Uniform { min, max } => {
                at_least_zero("min", min)?;
                finite("max", max)?;
                if min <= max {
                    Ok(())
                } else {
                    Err(InvalidDistribution(format!(
                        "{kind}: min ({min}) must not exceed max ({max})"
                    )))
                }
            }
            Self::LogNormal { median, sigma } => {
                positive("median", median)?;
                at_least_zero("sigma", sigma)
            }
            Self::Pareto { scale, shape } => {
                positive("scale", scale)?;
                positive("shape", shape)
            }
            Self::Exponential { mean } => positive("mean", mean),
        }
    }

    /// One draw. Never negative for valid parameters; a Pareto draw that would overflow
    /// is capped at `f64::MAX`.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Self::Fixed { value } => value,
            Self::Uniform { min, max } => {
                if min >= max {
                    min
                } else {
                    (min + (max - min) * rng.random::<f64>()).min(max)
                }
            }
            Self::LogNormal { median, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                median * (sigma * z).exp()
            }
            Self::Pareto { scale, shape } => {
                // 1 − U is uniform on (0, 1], so the power is finite.
                let u = 1.0 - rng.random::<f64>();
                (scale * u.powf(-1.0 / shape)).min(f64::MAX)
            }
            Self::Exponential { mean } => {
                let e: f64 = Exp1.sample(rng);
                mean * e
            }
        }
    }

    /// The mean; `None` where it is infinite (Pareto with shape ≤ 1, or too large to
    /// represent).
    pub fn mean(&self) -> Option<f64> {
        let mean = match *self {
            Self::Fixed { value } => value,
            Self::Uniform { min, max } => min + (max - min) / 2.0,
            Self::LogNormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
            Self::Pareto { scale, shape } => {
                if shape <= 1.0 {
                    return None;
                }
                scale * shape / (shape - 1.0)
            }
            Self::Exponential { mean } => mean,
        };
        mean.is_finite().then_some(mean)
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Fixed { value } => write!(f, "{value}"),
            Self::Uniform { min, max } => write!(f, "uniform(min {min}, max {max})"),
            Self::LogNormal { median, sigma } => {
                write!(f, "log_normal(median {median}, sigma {sigma})")
            }
            Self::Pareto { scale, shape } => write!(f, "pareto(scale {scale}, shape {shape})"),
            Self::Exponential { mean } => write!(f, "exponential(mean {mean})"),
        }
    }
}

/// The table form as written, before validation.
#[derive(Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
enum Raw {
    Fixed { value: f64 },
    Uniform { min: f64, max: f64 },
    LogNormal { median: f64, sigma: f64 },
    Pareto { scale: f64, shape: f64 },
    Exponential { mean: f64 },
}

impl From<Raw> for Distribution {
    fn from(raw: Raw) -> Self {
        match raw {
            Raw::Fixed { value } => Self::Fixed { value },
            Raw::Uniform { min, max } => Self::Uniform { min, max },
            Raw::LogNormal { median, sigma } => Self::LogNormal { median, sigma },
            Raw::Pareto { scale, shape } => Self::Pareto { scale, shape },
            Raw::Exponential { mean } => Self::Exponential { mean },
        }
    }
}

/// Accepts a number (a fixed value) or a tagged table.
struct DistributionVisitor;

impl DistributionVisitor {
    fn fixed<E: de::Error>(value: f64) -> Result<Distribution, E> {
        let dist = Distribution::Fixed { value };
        dist.validate().map_err(E::custom)?;
        Ok(dist)
    }
}

impl<'de> Visitor<'de> for DistributionVisitor {
    type Value = Distribution;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a number or a table such as { dist = \"log_normal\", median = 100.0, sigma = 1.0 }",
        )
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Distribution, E> {
        Self::fixed(value as f64)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Distribution, E> {
        Self::fixed(value as f64)
    }

    fn visit_i128<E: de::Error>(self, value: i128) -> Result<Distribution, E> {
        Self::fixed(value as f64)
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<Distribution, E> {
        Self::fixed(value as f64)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Distribution, E> {
        Self::fixed(value)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Distribution, A::Error> {
        let raw = Raw::deserialize(de::value::MapAccessDeserializer::new(map))?;
        let dist = Distribution::from(raw);
        dist.validate().map_err(de::Error::custom)?;
        Ok(dist)
    }
}

impl<'de> Deserialize<'de> for Distribution {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DistributionVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[derive(Debug, Deserialize, serde::Serialize)]
    struct Holder {
        funds: Distribution,
    }

    fn parse(text: &str) -> Result<Distribution, String> {
        toml::from_str::<Holder>(text)
            .map(|h| h.funds)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn parses_every_kind() {
        let cases = [
            (
                "funds = { dist = \"fixed\", value = 100 }",
                Distribution::Fixed { value: 100.0 },
            ),
            (
                "funds = { dist = \"uniform\", min = 1, max = 2.5 }",
                Distribution::Uniform { min: 1.0, max: 2.5 },
            ),
            (
                "funds = { dist = \"log_normal\", median = 100.0, sigma = 1.0 }",
                Distribution::LogNormal {
                    median: 100.0,
                    sigma: 1.0,
                },
            ),
            (
                "funds = { dist = \"pareto\", scale = 10, shape = 1.5 }",
                Distribution::Pareto {
                    scale: 10.0,
                    shape: 1.5,
                },
            ),
            (
                "funds = { dist = \"exponential\", mean = 3 }",
                Distribution::Exponential { mean: 3.0 },
            ),
            ("funds = 100", Distribution::Fixed { value: 100.0 }),
            ("funds = 2.5", Distribution::Fixed { value: 2.5 }),
            ("funds = 0", Distribution::Fixed { value: 0.0 }),
            (
                "[funds]\ndist = \"uniform\"\nmin = 0\nmax = 0\n",
                Distribution::Uniform { min: 0.0, max: 0.0 },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn serializes_back_to_the_same_table() {
        for dist in [
            Distribution::Fixed { value: 1.5 },
            Distribution::Uniform { min: 1.0, max: 2.0 },
            Distribution::LogNormal {
                median: 100.0,
                sigma: 0.5,
            },
            Distribution::Pareto {
                scale: 1.0,
                shape: 2.0,
            },
            Distribution::Exponential { mean: 4.0 },
        ] {
            let text = toml::to_string(&Holder {
                funds: dist.clone(),
            })
            .expect("serializes");
            assert!(
                text.contains(&format!("dist = \"{}\"", dist.kind())),
                "{text}"
            );
            assert_eq!(parse(&text), Ok(dist));
        }
    }

    #[test]
    fn invalid_parameters_are_reported_with_line_and_parameter() {
        let cases = [
            (
                "funds = { dist = \"fixed\", value = -1 }",
                "value (-1) must be at least 0",
            ),
            ("funds = -3", "fixed: value (-3) must be at least 0"),
            ("funds = nan", "fixed: value (NaN) must be finite"),
            (
                "funds = { dist = \"uniform\", min = 5, max = 2 }",
                "uniform: min (5) must not exceed max (2)",
            ),
            (
                "funds = { dist = \"uniform\", min = -1, max = 2 }",
                "uniform: min (-1) must be at least 0",
            ),
            (
                "funds = { dist = \"uniform\", min = 1, max = inf }",
                "uniform: max (inf) must be finite",
            ),
            (
                "funds = { dist = \"log_normal\", median = 0, sigma = 1 }",
                "log_normal: median (0) must be greater than 0",
            ),
            (
                "funds = { dist = \"log_normal\", median = 1, sigma = -0.5 }",
                "log_normal: sigma (-0.5) must be at least 0",
            ),
            (
                "funds = { dist = \"pareto\", scale = 0, shape = 1 }",
                "pareto: scale (0) must be greater than 0",
            ),
            (
                "funds = { dist = \"pareto\", scale = 1, shape = -2 }",
                "pareto: shape (-2) must be greater than 0",
            ),
            (
                "funds = { dist = \"exponential\", mean = 0 }",
                "exponential: mean (0) must be greater than 0",
            ),
            (
                "funds = { dist = \"exponential\", mean = 1, sigma = 2 }",
                "unknown field `sigma`",
            ),
            (
                "funds = { dist = \"pareto\", scale = 1 }",
                "missing field `shape`",
            ),
            (
                "funds = { dist = \"gauss\", mean = 1 }",
                "unknown variant `gauss`",
            ),
            ("funds = { mean = 1 }", "missing field `dist`"),
            ("funds = \"lots\"", "a number or a table"),
        ];
        for (text, message) in cases {
            // Put the mistake on line 3, to see that the line is the right one.
            let text = format!("# a scenario\n\n{text}\n");
            let error = parse(&text).expect_err(&text);
            assert!(error.contains(message), "{text} gave {error}");
            assert!(error.contains("line 3"), "{text} gave {error}");
        }
    }

    #[test]
    fn validate_catches_hand_built_mistakes() {
        let error = Distribution::Uniform { min: 5.0, max: 2.0 }
            .validate()
            .expect_err("invalid");
        assert_eq!(error.message(), "uniform: min (5) must not exceed max (2)");
        assert!(Distribution::Fixed { value: 0.0 }.validate().is_ok());
    }

    #[test]
    fn means() {
        assert_eq!(Distribution::Fixed { value: 2.0 }.mean(), Some(2.0));
        assert_eq!(
            Distribution::Uniform { min: 1.0, max: 3.0 }.mean(),
            Some(2.0)
        );
        assert_eq!(
            Distribution::Pareto {
                scale: 2.0,
                shape: 3.0
            }
            .mean(),
            Some(3.0)
        );
        for shape in [0.5, 1.0] {
            assert_eq!(Distribution::Pareto { scale: 2.0, shape }.mean(), None);
        }
        assert_eq!(
            Distribution::LogNormal {
                median: 1.0,
                sigma: 100.0
            }
            .mean(),
            None
        );
    }

    #[test]
    fn sample_means_match() {
        let dists = [
            Distribution::Fixed { value: 7.0 },
            Distribution::Uniform {
                min: 10.0,
                max: 30.0,
            },
            Distribution::Uniform { min: 4.0, max: 4.0 },
            Distribution::LogNormal {
                median: 100.0,
                sigma: 1.0,
            },
            Distribution::LogNormal {
                median: 5.0,
                sigma: 0.0,
            },
            Distribution::Pareto {
                scale: 1.0,
                shape: 3.0,
            },
            Distribution::Exponential { mean: 50.0 },
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        for dist in dists {
            let n = 100_000;
            let mut sum = 0.0;
            for _ in 0..n {
                let x = dist.sample(&mut rng);
                assert!(x >= 0.0 && x.is_finite(), "{dist}: {x}");
                sum += x;
            }
            let mean = dist.mean().expect("finite");
            let observed = sum / n as f64;
            assert!(
                (observed - mean).abs() <= 0.02 * mean,
                "{dist}: observed {observed}, expected {mean}"
            );
        }
    }

    #[test]
    fn samples_stay_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let uniform = Distribution::Uniform { min: 2.0, max: 3.0 };
        let pareto = Distribution::Pareto {
            scale: 5.0,
            shape: 0.01,
        };
        for _ in 0..10_000 {
            let x = uniform.sample(&mut rng);
            assert!((2.0..=3.0).contains(&x));
            let y = pareto.sample(&mut rng);
            assert!((5.0..=f64::MAX).contains(&y));
        }
    }

    #[test]
    fn pareto_tail() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for shape in [0.8, 1.5, 2.0] {
            let scale = 3.0;
            let dist = Distribution::Pareto { scale, shape };
            let n = 100_000;
            let above = (0..n)
                .filter(|_| dist.sample(&mut rng) > 10.0 * scale)
                .count();
            let observed = above as f64 / n as f64;
            let expected = 10f64.powf(-shape);
            assert!(
                (observed - expected).abs() <= 0.1 * expected,
                "shape {shape}: observed {observed}, expected {expected}"
            );
        }
    }
}
