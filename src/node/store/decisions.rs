//! The decision log in the state database (SPEC §2.8): every decision of a connection
//! manager is a row of the `decisions` table (schema 4), with its reason and the numbers
//! it used, kept per token network up to a bound.
//!
//! Retention: at least the newest [`DECISIONS_KEPT`] decisions of each token network are
//! kept. Older ones are deleted every [`DECISIONS_PRUNED_EVERY`] recorded decisions (and
//! at the first record after the database is opened), in the transaction of that record,
//! so that recording a decision stays one insert and the table holds at most about
//! `DECISIONS_KEPT + DECISIONS_PRUNED_EVERY` rows per token network. A database on disk
//! keeps them across restarts; an in-memory one for as long as the process runs.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use rusqlite::params;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Store, StoreError};
use crate::connection::strategy::StrategyKind;
use crate::connection::{Decision, DecisionKind};
use crate::types::{checksummed, Address, ChannelId, U256};

/// Decisions kept per token network at least (SPEC §2.8: "at least the last 10,000").
pub const DECISIONS_KEPT: u64 = 10_000;

/// Decisions recorded between two deletions of old ones: the slack above
/// [`DECISIONS_KEPT`] that lets a record be one insert instead of an insert and a delete.
pub const DECISIONS_PRUNED_EVERY: u64 = 1_000;

/// One stored decision, as the log serves it.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionRecord {
    /// Its position in the log: larger is newer, unique across token networks.
    pub id: u64,
    /// The token network of the connection manager that made it.
    pub token_network: Address,
    /// When it was recorded, RFC 3339 in UTC with milliseconds.
    pub time: String,
    /// The last block the node had processed then.
    pub block: u64,
    /// What kind of decision.
    pub kind: DecisionKind,
    /// The partner it concerns, if one.
    pub partner: Option<Address>,
    /// The channel it concerns, if it existed.
    pub channel_id: Option<ChannelId>,
    /// The amount (our new total deposit, the funds held, …), token units.
    pub amount: Option<U256>,
    /// The partner-selection strategy of the connection then.
    pub strategy: StrategyKind,
    /// The sentence that says why ([`Decision::reason`]).
    pub reason: String,
    /// The numbers the rule used, by name, as decimal strings
    /// ([`crate::connection::DecisionInputs::entries`]), in that order.
    pub inputs: Vec<(String, String)>,
}

/// When old decisions are deleted next: a count of records since the last deletion, kept
/// by the [`Store`].
#[derive(Debug)]
pub(super) struct Retention {
    since_pruned: AtomicU64,
}

impl Default for Retention {
    fn default() -> Self {
        // Due at once: a node restarted often, recording fewer than
        // DECISIONS_PRUNED_EVERY decisions per run, would otherwise never delete any.
        Self {
            since_pruned: AtomicU64::new(DECISIONS_PRUNED_EVERY),
        }
    }
}

/// Named numbers serialized as one JSON object of strings, in their order.
struct Entries<'a>(&'a [(&'static str, String)]);

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// A JSON object of strings read back in the order it was written.
struct StoredEntries(Vec<(String, String)>);

impl<'de> Deserialize<'de> for StoredEntries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Ordered;
        impl<'de> Visitor<'de> for Ordered {
            type Value = StoredEntries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry::<String, String>()? {
                    entries.push(entry);
                }
                Ok(StoredEntries(entries))
            }
        }
        deserializer.deserialize_map(Ordered)
    }
}

/// A decisions row as read, before its values are parsed.
type DecisionRow = (
    u64,
    String,
    String,
    u64,
    String,
    Option<String>,
    Option<u64>,
    Option<String>,
    String,
    String,
    String,
);

impl Store {
    /// Records `decisions` of the connection manager of `token_network`, made at `time`
    /// when the node had processed `block`, in one transaction; deletes the token
    /// networks' oldest decisions beyond the bound when that is due (see the module).
    pub fn record_decisions(
        &self,
        token_network: Address,
        time: SystemTime,
        block: u64,
        decisions: &[Decision],
    ) -> Result<(), StoreError> {
        if decisions.is_empty() {
            return Ok(());
        }
        let network = checksummed(&token_network);
        let time = humantime::format_rfc3339_millis(time).to_string();
        let rows = decisions
            .iter()
            .map(|decision| {
                serde_json::to_string(&Entries(&decision.inputs.entries()))
                    .map(|inputs| (decision, inputs))
                    .map_err(|e| self.corrupt("decision inputs", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let recorded = decisions.len() as u64;
        let since = self
            .decisions
            .since_pruned
            .fetch_add(recorded, Ordering::Relaxed)
            + recorded;
        let prune = since >= DECISIONS_PRUNED_EVERY;
        self.with(|c| {
            let transaction = c.transaction().map_err(|e| self.sql(e))?;
            {
                let mut insert = transaction
                    .prepare_cached(
                        "INSERT INTO decisions (token_network, time, block, kind, partner,
                                                channel_id, amount, strategy, reason, inputs)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    )
                    .map_err(|e| self.sql(e))?;
                for (decision, inputs) in &rows {
                    insert
                        .execute(params![
                            network,
                            time,
                            block,
                            decision.kind.as_str(),
                            decision.partner.as_ref().map(checksummed),
                            decision.channel_id.map(|id| id.0),
                            decision.amount.map(|amount| amount.to_string()),
                            decision.strategy.name(),
                            decision.reason(),
                            inputs,
                        ])
                        .map_err(|e| self.sql(e))?;
                }
            }
            if prune {
                prune_decisions(&transaction).map_err(|e| self.sql(e))?;
            }
            transaction.commit().map_err(|e| self.sql(e))
        })?;
        if prune {
            self.decisions.since_pruned.store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The decisions of `token_network`, newest first: at most `limit`, and only those
    /// older than the decision `before` (its id) when given.
    pub fn decisions(
        &self,
        token_network: Address,
        limit: u64,
        before: Option<u64>,
    ) -> Result<Vec<DecisionRecord>, StoreError> {
        // SQLite's integers are signed: ids and limits beyond i64 mean "no bound".
        let before = before.map_or(i64::MAX, |id| i64::try_from(id).unwrap_or(i64::MAX));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<DecisionRow> = self.rows(
            "SELECT id, token_network, time, block, kind, partner, channel_id, amount,
                    strategy, reason, inputs
             FROM decisions WHERE token_network = ?1 AND id < ?2
             ORDER BY id DESC LIMIT ?3",
            params![checksummed(&token_network), before, limit],
            |row| row.try_into(),
        )?;
        rows.into_iter().map(|row| self.decision(row)).collect()
    }

    /// How many decisions of `token_network` are stored.
    pub fn decision_count(&self, token_network: Address) -> Result<u64, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM decisions WHERE token_network = ?1",
                [checksummed(&token_network)],
                |row| row.get(0),
            )
            .map_err(|e| self.sql(e))
        })
    }

    fn decision(&self, row: DecisionRow) -> Result<DecisionRecord, StoreError> {
        let (id, network, time, block, kind, partner, channel, amount, strategy, reason, inputs) =
            row;
        Ok(DecisionRecord {
            id,
            token_network: self.address(&network)?,
            time,
            block,
            kind: kind
                .parse()
                .map_err(|e: String| self.corrupt("decision kind", e))?,
            partner: partner.map(|p| self.address(&p)).transpose()?,
            channel_id: channel.map(ChannelId),
            amount: amount.map(|a| self.amount(&a)).transpose()?,
            strategy: strategy
                .parse()
                .map_err(|e| self.corrupt("decision strategy", e))?,
            reason,
            inputs: serde_json::from_str::<StoredEntries>(&inputs)
                .map_err(|e| self.corrupt("decision inputs", e))?
                .0,
        })
    }
}

/// Deletes, in every token network, the decisions older than its newest
/// [`DECISIONS_KEPT`]. Each step walks the `(token_network, id)` index.
fn prune_decisions(transaction: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let networks: Vec<String> = {
        let mut select =
            transaction.prepare_cached("SELECT DISTINCT token_network FROM decisions")?;
        let networks = select
            .query_map([], |row| row.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        networks
    };
    let mut delete = transaction.prepare_cached(
        "DELETE FROM decisions WHERE token_network = ?1 AND id <
             (SELECT id FROM decisions WHERE token_network = ?1
              ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    )?;
    for network in networks {
        let deleted = delete.execute(params![network, DECISIONS_KEPT - 1])?;
        if deleted > 0 {
            tracing::debug!(token_network = %network, deleted, "old decisions deleted");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{DecisionInputs, JoinableFraction};

    fn network(byte: u8) -> Address {
        Address::repeat_byte(byte)
    }

    /// An `open` decision whose amount and per-partner share are `n`.
    fn open(n: u64) -> Decision {
        let mut decision = Decision::new(DecisionKind::Open, StrategyKind::Uniform);
        decision.partner = Some(Address::repeat_byte(0x5a));
        decision.channel_id = Some(ChannelId(n));
        decision.amount = Some(U256::from(n));
        decision.inputs = DecisionInputs {
            funds: Some(U256::from(3 * n)),
            per_partner: Some(U256::from(n)),
            initial_channel_target: Some(3),
            joinable_funds_target: JoinableFraction::from_f64(0.0).ok(),
            eligible: Some(41),
            ..DecisionInputs::default()
        };
        decision
    }

    fn record(store: &Store, token_network: Address, decisions: &[Decision]) {
        store
            .record_decisions(token_network, SystemTime::now(), 7, decisions)
            .expect("recording decisions");
    }

    #[test]
    fn a_decision_reads_back_as_it_was_recorded() {
        let store = Store::in_memory().unwrap();
        let mut settle = Decision::new(DecisionKind::Settle, StrategyKind::HighestCapacity);
        settle.inputs.settle_from = Some(1234);
        let amount = U256::from(10u64).pow(U256::from(30)) + U256::from(1);
        let mut big = open(1);
        big.amount = Some(amount);
        record(&store, network(1), &[big.clone(), settle.clone()]);
        let read = store.decisions(network(1), 10, None).unwrap();
        assert_eq!(read.len(), 2);
        let (newest, oldest) = (&read[0], &read[1]);
        assert!(newest.id > oldest.id);
        assert_eq!(newest.kind, DecisionKind::Settle);
        assert_eq!(newest.strategy, StrategyKind::HighestCapacity);
        assert_eq!(
            (newest.partner, newest.channel_id, newest.amount),
            (None, None, None)
        );
        assert_eq!(newest.reason, settle.reason());
        assert_eq!(newest.inputs, vec![("settle_from".into(), "1234".into())]);
        assert_eq!(oldest.token_network, network(1));
        assert_eq!(oldest.block, 7);
        assert_eq!(oldest.kind, DecisionKind::Open);
        assert_eq!(oldest.partner, big.partner);
        assert_eq!(oldest.channel_id, Some(ChannelId(1)));
        assert_eq!(oldest.amount, Some(amount));
        assert_eq!(oldest.reason, big.reason());
        let expected: Vec<(String, String)> = big
            .inputs
            .entries()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        assert_eq!(oldest.inputs, expected, "the inputs, in their order");
        // RFC 3339 in UTC: 2026-11-30T17:29:45.123Z.
        assert!(
            humantime::parse_rfc3339(&oldest.time).is_ok() && oldest.time.ends_with('Z'),
            "{}",
            oldest.time
        );
        assert!(store.decisions(network(2), 10, None).unwrap().is_empty());
    }

    #[test]
    fn newest_first_and_paged_with_before() {
        let store = Store::in_memory().unwrap();
        for n in 1..=5 {
            record(&store, network(1), &[open(n)]);
            record(&store, network(2), &[open(100 + n)]);
        }
        let amounts = |records: &[DecisionRecord]| -> Vec<u64> {
            records
                .iter()
                .map(|r| r.amount.unwrap().to::<u64>())
                .collect()
        };
        let first = store.decisions(network(1), 2, None).unwrap();
        assert_eq!(amounts(&first), [5, 4]);
        let second = store.decisions(network(1), 2, Some(first[1].id)).unwrap();
        assert_eq!(amounts(&second), [3, 2]);
        let third = store.decisions(network(1), 2, Some(second[1].id)).unwrap();
        assert_eq!(amounts(&third), [1]);
        assert!(store
            .decisions(network(1), 2, Some(third[0].id))
            .unwrap()
            .is_empty());
        // Ids are shared by the networks; `before` an id of another network still pages.
        let other = store.decisions(network(2), 100, None).unwrap();
        assert_eq!(amounts(&other), [105, 104, 103, 102, 101]);
        let before_other = store.decisions(network(1), 100, Some(other[1].id)).unwrap();
        assert_eq!(amounts(&before_other), [4, 3, 2, 1]);
        assert_eq!(
            amounts(&store.decisions(network(1), 100, Some(u64::MAX)).unwrap()),
            [5, 4, 3, 2, 1]
        );
    }

    #[test]
    fn at_least_the_newest_ten_thousand_are_kept_and_at_most_a_batch_more() {
        let store = Store::in_memory().unwrap();
        record(&store, network(2), &[open(1)]);
        let batch = 500;
        let total = DECISIONS_KEPT + 5 * DECISIONS_PRUNED_EVERY / 2;
        let mut recorded = 0;
        let mut most = 0;
        while recorded < total {
            let decisions: Vec<Decision> = (recorded..recorded + batch).map(open).collect();
            record(&store, network(1), &decisions);
            recorded += batch;
            let count = store.decision_count(network(1)).unwrap();
            assert!(
                count >= recorded.min(DECISIONS_KEPT),
                "{count} kept of {recorded}"
            );
            most = most.max(count);
        }
        assert!(
            most <= DECISIONS_KEPT + DECISIONS_PRUNED_EVERY,
            "at most {most} kept, more than {DECISIONS_KEPT} + {DECISIONS_PRUNED_EVERY}"
        );
        assert!(most > DECISIONS_KEPT, "never above the bound: not batched");
        // The kept ones are the newest, in order.
        let kept = store.decisions(network(1), u64::MAX, None).unwrap();
        let amounts: Vec<u64> = kept.iter().map(|r| r.amount.unwrap().to::<u64>()).collect();
        let newest: Vec<u64> = (0..recorded).rev().take(kept.len()).collect();
        assert_eq!(amounts, newest);
        // Another token network's decisions are its own.
        assert_eq!(store.decision_count(network(2)).unwrap(), 1);
    }

    #[test]
    fn a_reopened_database_keeps_its_decisions_and_prunes_at_once() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            // The first record after opening is due (nothing to delete yet), and so is
            // a batch past the slack; 900 more stay below it.
            record(&store, network(1), &[open(1), open(2)]);
            let many: Vec<Decision> = (3..=DECISIONS_KEPT).map(open).collect();
            record(&store, network(1), &many);
            let few: Vec<Decision> = (DECISIONS_KEPT + 1..=DECISIONS_KEPT + 900)
                .map(open)
                .collect();
            record(&store, network(1), &few);
            assert_eq!(
                store.decision_count(network(1)).unwrap(),
                DECISIONS_KEPT + 900
            );
            store.close().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let newest = store.decisions(network(1), 1, None).unwrap();
        assert_eq!(newest[0].amount, Some(U256::from(DECISIONS_KEPT + 900)));
        assert_eq!(newest[0].reason, open(DECISIONS_KEPT + 900).reason());
        // The first record of this run deletes what is beyond the bound.
        record(&store, network(1), &[open(DECISIONS_KEPT + 901)]);
        assert_eq!(store.decision_count(network(1)).unwrap(), DECISIONS_KEPT);
        let kept = store.decisions(network(1), DECISIONS_KEPT, None).unwrap();
        assert_eq!(kept.last().and_then(|r| r.amount), Some(U256::from(902)));
    }
}
