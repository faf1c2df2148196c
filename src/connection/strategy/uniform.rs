//! Raiden's uniform choice.

use rand::RngCore;

use super::PartnerStrategy;
use crate::connection::Participants;
use crate::types::Address;

/// Raiden's rule: uniformly among the eligible participants.
///
/// Exactly [`Participants::sample`], so that for the same rng it chooses what the node's
/// `crate::connection::UniformSampler` chooses. O(wanted) expected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Uniform;

impl PartnerStrategy for Uniform {
    fn name(&self) -> &'static str {
        "uniform"
    }

    fn choose(
        &mut self,
        participants: &Participants,
        wanted: usize,
        rng: &mut dyn RngCore,
        excluded: &dyn Fn(&Address) -> bool,
    ) -> Vec<Address> {
        participants.sample(wanted, rng, excluded)
    }
}
