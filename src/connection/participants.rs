//! The participants of a token network, with uniform sampling that costs O(wanted), not
//! O(participants).

use rustc_hash::FxHashMap as HashMap;

use rand::seq::IteratorRandom;
use rand::Rng;

use crate::types::Address;

/// The participants of one token network, in the order they were first seen.
///
/// Insertion and membership are O(1); [`Participants::sample`] draws uniformly without
/// building or shuffling the whole list, which is what keeps a join on a network of a
/// million participants as cheap as on one of ten.
#[derive(Clone, Debug, Default)]
pub struct Participants {
    list: Vec<Address>,
    index: HashMap<Address, usize>,
}

impl Participants {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a participant; returns whether it was new.
    pub fn insert(&mut self, address: Address) -> bool {
        if self.index.contains_key(&address) {
            return false;
        }
        self.index.insert(address, self.list.len());
        self.list.push(address);
        true
    }

    /// Whether `address` is a participant.
    pub fn contains(&self, address: &Address) -> bool {
        self.index.contains_key(address)
    }

    /// How many participants there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Every participant, in the order first seen.
    pub fn iter(&self) -> impl Iterator<Item = &Address> {
        self.list.iter()
    }

    /// Up to `wanted` distinct participants for which `excluded` is false, drawn uniformly.
    ///
    /// Rejection sampling: each draw is O(1), and while the excluded participants are a
    /// small share of the network, O(wanted) draws suffice. When they are not (a small
    /// network, or one where we are already partners with most), it falls back to one
    /// pass over the list, which is then short or unavoidable.
    pub fn sample<R: Rng + ?Sized>(
        &self,
        wanted: usize,
        rng: &mut R,
        excluded: impl Fn(&Address) -> bool,
    ) -> Vec<Address> {
        let mut chosen: Vec<Address> = Vec::with_capacity(wanted);
        if wanted == 0 || self.list.is_empty() {
            return chosen;
        }
        let max_draws = 8 * wanted + 64;
        for _ in 0..max_draws {
            if chosen.len() == wanted {
                return chosen;
            }
            let candidate = self.list[rng.random_range(0..self.list.len())];
            if !excluded(&candidate) && !chosen.contains(&candidate) {
                chosen.push(candidate);
            }
        }
        if chosen.len() < wanted {
            let missing = wanted - chosen.len();
            let rest = self
                .list
                .iter()
                .filter(|address| !excluded(address) && !chosen.contains(address))
                .copied()
                .choose_multiple(rng, missing);
            chosen.extend(rest);
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn address(i: u64) -> Address {
        let mut bytes = [0u8; 20];
        bytes[12..].copy_from_slice(&i.to_be_bytes());
        Address::from(bytes)
    }

    #[test]
    fn samples_are_distinct_and_respect_exclusions() {
        let mut participants = Participants::new();
        for i in 1..=10 {
            assert!(participants.insert(address(i)));
        }
        assert!(!participants.insert(address(3)));
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let excluded = |a: &Address| *a == address(1) || *a == address(2);
        for _ in 0..100 {
            let sample = participants.sample(8, &mut rng, excluded);
            assert_eq!(sample.len(), 8);
            assert!(!sample.contains(&address(1)) && !sample.contains(&address(2)));
            let mut unique = sample.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), 8);
        }
        // More wanted than eligible: all eligible, no more.
        assert_eq!(participants.sample(20, &mut rng, excluded).len(), 8);
    }

    #[test]
    fn sampling_is_roughly_uniform() {
        let mut participants = Participants::new();
        for i in 0..10 {
            participants.insert(address(i));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut counts = [0u32; 10];
        for _ in 0..10_000 {
            for a in participants.sample(2, &mut rng, |_| false) {
                counts[a.as_slice()[19] as usize] += 1;
            }
        }
        for count in counts {
            assert!((1800..2200).contains(&count), "{counts:?}");
        }
    }
}
