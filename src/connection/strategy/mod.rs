//! Partner-selection strategies: how a joining node chooses new partners among the
//! participants of a token network.
//!
//! The connection manager's policy (`crate::connection`) decides *how many* new
//! partners a node wants and which addresses are not eligible (itself, the bootstrap
//! address, its current partners); a [`PartnerStrategy`] decides *which* ones. The engine
//! reports every change of the channel graph to every strategy ([`GraphChange`]), so a
//! strategy can keep the index it needs to choose quickly.
//!
//! To add a strategy: implement [`PartnerStrategy`] (in one file), add a variant to
//! [`StrategyKind`] and a line to [`StrategyKind::build`].
//!
//! Costs matter: a simulation runs up to a million nodes, so `choose` must not look at
//! every participant, and `observe` must be O(1) or O(log n).

mod betweenness;
mod closeness;
mod graph;
mod highest_capacity;
mod preferential_attachment;
mod set;
mod uniform;

pub use betweenness::{Betweenness, BETWEENNESS_BALL, BETWEENNESS_SOURCES};
pub use closeness::{Closeness, CLOSENESS_BALL, CLOSENESS_CANDIDATES};
pub use highest_capacity::HighestCapacity;
pub use preferential_attachment::PreferentialAttachment;
pub use set::{NetworkIndex, StrategySet};
pub use uniform::Uniform;

use rand::RngCore;

use crate::connection::{Participants, PartnerSampler};
use crate::types::{Address, U256};

/// What the strategies may keep an index of; the engine reports every change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphChange {
    /// A channel between `a` and `b` was opened.
    ChannelOpened {
        /// One end.
        a: Address,
        /// The other end.
        b: Address,
    },
    /// A channel between `a` and `b` was closed (it no longer counts in the graph).
    ChannelClosed {
        /// One end.
        a: Address,
        /// The other end.
        b: Address,
    },
    /// The capacity of `node` (the sum of its deposits in its open channels) changed.
    CapacityChanged {
        /// The node.
        node: Address,
        /// Its new capacity.
        capacity: U256,
    },
    /// `node` left the network: it has no channels any more (its channel closes are
    /// reported as well). Whether it may still be chosen is for the engine's `excluded`
    /// to say; the strategies only forget its channels.
    NodeLeft {
        /// The node.
        node: Address,
    },
}

/// A way of choosing new partners.
pub trait PartnerStrategy: Send {
    /// The name used in scenario files.
    fn name(&self) -> &'static str;

    /// Keeps the strategy's index up to date (default: nothing).
    fn observe(&mut self, _change: &GraphChange) {}

    /// Up to `wanted` distinct participants for which `excluded` is false.
    ///
    /// Returns fewer only when fewer are eligible.
    fn choose(
        &mut self,
        participants: &Participants,
        wanted: usize,
        rng: &mut dyn RngCore,
        excluded: &dyn Fn(&Address) -> bool,
    ) -> Vec<Address>;
}

/// Names accepted in scenario files.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// [`Uniform`], Raiden's rule and the default.
    #[default]
    Uniform,
    /// [`PreferentialAttachment`].
    PreferentialAttachment,
    /// [`HighestCapacity`].
    HighestCapacity,
    /// [`Closeness`].
    Closeness,
    /// [`Betweenness`].
    Betweenness,
}

impl StrategyKind {
    /// Every strategy.
    pub const ALL: [StrategyKind; 5] = [
        StrategyKind::Uniform,
        StrategyKind::PreferentialAttachment,
        StrategyKind::HighestCapacity,
        StrategyKind::Closeness,
        StrategyKind::Betweenness,
    ];

    /// A fresh strategy of this kind, with an empty index.
    pub fn build(self) -> Box<dyn PartnerStrategy> {
        match self {
            StrategyKind::Uniform => Box::new(Uniform),
            StrategyKind::PreferentialAttachment => Box::new(PreferentialAttachment::new()),
            StrategyKind::HighestCapacity => Box::new(HighestCapacity::new()),
            StrategyKind::Closeness => Box::new(Closeness::new()),
            StrategyKind::Betweenness => Box::new(Betweenness::new()),
        }
    }

    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Uniform => "uniform",
            StrategyKind::PreferentialAttachment => "preferential_attachment",
            StrategyKind::HighestCapacity => "highest_capacity",
            StrategyKind::Closeness => "closeness",
            StrategyKind::Betweenness => "betweenness",
        }
    }
}

/// A `partner_selection` that names no strategy; the message lists the valid names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown partner_selection {given:?}: valid strategies are {}",
    StrategyKind::names()
)]
pub struct UnknownStrategy {
    /// What was given.
    pub given: String,
}

impl StrategyKind {
    /// The valid names, comma-separated, for messages.
    pub fn names() -> String {
        Self::ALL.map(StrategyKind::name).join(", ")
    }
}

impl std::str::FromStr for StrategyKind {
    type Err = UnknownStrategy;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| UnknownStrategy {
                given: name.to_owned(),
            })
    }
}

impl std::fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Adapts a strategy and a node's rng to the policy's
/// `crate::connection::PartnerSampler`, for
/// `crate::connection::ConnectionManager::open_channels_with`.
pub struct StrategySampler<'a> {
    /// The strategy.
    pub strategy: &'a mut dyn PartnerStrategy,
    /// The node's rng.
    pub rng: &'a mut dyn RngCore,
}

impl PartnerSampler for StrategySampler<'_> {
    fn sample(
        &mut self,
        participants: &Participants,
        wanted: usize,
        excluded: &dyn Fn(&Address) -> bool,
    ) -> Vec<Address> {
        self.strategy
            .choose(participants, wanted, &mut *self.rng, excluded)
    }
}

#[cfg(test)]
mod tests;
