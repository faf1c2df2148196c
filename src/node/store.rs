//! The node's state in SQLite: what must survive a restart.
//!
//! * the connection managers' parameters and state (joining, joined, leaving);
//! * the chain events applied so far and the cursor (the last block applied), so that a
//!   restart rebuilds the view without reading the chain from its start, and catches up
//!   from the cursor;
//! * checkpoints (hashes of recently applied blocks), to notice a reorganisation and find
//!   where the chain forked;
//! * a journal of the transactions sent: each is written, with its hash, nonce, purpose
//!   and fees, *before* it is handed to the chain, and marked with its outcome once
//!   known. A replacement (the same nonce and purpose, higher fees) is a row of its own
//!   linked to the one it replaces; once one of them is mined, it is `confirmed` (or
//!   `reverted`) and the others `replaced`.
//!
//! The database is in WAL mode with full synchronisation: a write that returned is on
//! disk, whatever happens to the process next. The schema is versioned (SQLite's
//! `user_version`) and migrated forward on open; a database written by a newer binary is
//! refused rather than misread.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};

use crate::chain::{ChainEvent, EventRecord, Fees, PendingTx, SignedTx, Transaction};
use crate::connection::{ConnectionParams, JoinableFraction};
use crate::types::{Address, ChannelId, B256, U256};

mod decisions;
pub use decisions::{DecisionRecord, DECISIONS_KEPT, DECISIONS_PRUNED_EVERY};

/// The file the state lives in, inside `--datadir`.
pub const STATE_FILE_NAME: &str = "tokennet.sqlite";

/// Checkpoints kept to find a fork point; a reorganisation deeper than this many polls
/// rebuilds the view from the start.
const CHECKPOINTS_KEPT: i64 = 128;

/// Schema migrations, in order; the schema version is the number applied. Never edit a
/// migration that has been released: add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE meta (
         key TEXT PRIMARY KEY,
         value TEXT NOT NULL
     );
     CREATE TABLE cursor (
         id INTEGER PRIMARY KEY CHECK (id = 0),
         block INTEGER NOT NULL
     );
     CREATE TABLE checkpoints (
         block INTEGER PRIMARY KEY,
         hash TEXT NOT NULL
     );
     CREATE TABLE events (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         block INTEGER NOT NULL,
         record TEXT NOT NULL
     );
     CREATE INDEX events_by_block ON events (block);
     CREATE TABLE connections (
         token_network TEXT PRIMARY KEY,
         token TEXT NOT NULL,
         funds TEXT NOT NULL,
         initial_channel_target INTEGER NOT NULL,
         joinable_billionths INTEGER NOT NULL,
         state TEXT NOT NULL CHECK (state IN ('joining', 'joined', 'leaving')),
         reported_funds TEXT NOT NULL
     );
     CREATE TABLE journal (
         hash TEXT PRIMARY KEY,
         nonce INTEGER NOT NULL,
         purpose TEXT NOT NULL,
         name TEXT NOT NULL,
         tx TEXT NOT NULL,
         outcome TEXT,
         detail TEXT
     );
     CREATE INDEX journal_unresolved ON journal (purpose) WHERE outcome IS NULL;",
    // 2: compaction. Each event names its channel, so that the events of channels settled
    // long ago can be forgotten; the participants they taught are kept in a table.
    "ALTER TABLE events ADD COLUMN token_network TEXT;
     ALTER TABLE events ADD COLUMN channel_id INTEGER;
     ALTER TABLE events ADD COLUMN settles INTEGER NOT NULL DEFAULT 0;
     UPDATE events SET
         token_network = COALESCE(
             json_extract(record, '$.event.ChannelOpened.token_network'),
             json_extract(record, '$.event.ChannelNewDeposit.token_network'),
             json_extract(record, '$.event.ChannelClosed.token_network'),
             json_extract(record, '$.event.ChannelSettled.token_network')),
         channel_id = COALESCE(
             json_extract(record, '$.event.ChannelOpened.channel_id'),
             json_extract(record, '$.event.ChannelNewDeposit.channel_id'),
             json_extract(record, '$.event.ChannelClosed.channel_id'),
             json_extract(record, '$.event.ChannelSettled.channel_id')),
         settles = json_type(record, '$.event.ChannelSettled') IS NOT NULL;
     CREATE INDEX events_by_channel ON events (token_network, channel_id);
     CREATE TABLE participants (
         token_network TEXT NOT NULL,
         address TEXT NOT NULL,
         block INTEGER NOT NULL,
         PRIMARY KEY (token_network, address)
     );
     INSERT OR IGNORE INTO participants (token_network, address, block)
         SELECT json_extract(record, '$.event.ChannelOpened.token_network'),
                json_extract(record, '$.event.ChannelOpened.participant' || side.n), block
         FROM events, (SELECT 1 AS n UNION ALL SELECT 2) AS side
         WHERE json_type(record, '$.event.ChannelOpened') IS NOT NULL
         ORDER BY block;",
    // 3: replacements. A transaction signed again with its nonce and higher fees is a row
    // of its own that names the one it replaces; each row keeps the fees it offered, so
    // that the next replacement (after a restart too) bids above the last one.
    "ALTER TABLE journal ADD COLUMN replaces TEXT;
     ALTER TABLE journal ADD COLUMN fees TEXT;
     CREATE INDEX journal_unresolved_by_nonce ON journal (nonce) WHERE outcome IS NULL;",
    // 4: strategies and decisions. A connection keeps the strategy it joined with; every
    // decision of the connection manager is a row, kept per token network up to a bound.
    "ALTER TABLE connections ADD COLUMN partner_selection TEXT NOT NULL DEFAULT 'uniform';
     CREATE TABLE decisions (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         token_network TEXT NOT NULL,
         time TEXT NOT NULL,
         block INTEGER NOT NULL,
         kind TEXT NOT NULL,
         partner TEXT,
         channel_id INTEGER,
         amount TEXT,
         strategy TEXT NOT NULL,
         reason TEXT NOT NULL,
         inputs TEXT NOT NULL
     );
     CREATE INDEX decisions_by_network ON decisions (token_network, id);",
];

/// A journal row as read: hash, nonce, transaction JSON, fees JSON.
type JournalRow = (String, u64, String, Option<String>);

/// Appends between two compactions of the event log.
const APPENDS_PER_COMPACTION: u64 = 64;

/// The schema version this binary writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Why the state database cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("{path}: {source}")]
    Sqlite {
        /// The database file (`:memory:` for an in-memory one).
        path: String,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The data directory cannot be created or locked, or is another node's.
    #[error(transparent)]
    Datadir(#[from] super::datadir::DatadirError),
    /// A newer tokennet wrote this database.
    #[error("{path} has schema version {found}, newer than the {known} this tokennet knows; run the newer tokennet, or start with another --datadir")]
    NewerSchema {
        /// The database file.
        path: String,
        /// Its version.
        found: u32,
        /// Ours.
        known: u32,
    },
    /// The database belongs to another account or chain.
    #[error(
        "{path} holds the state of {}, not {}; start with another --datadir",
        named(what, stored),
        named(what, ours)
    )]
    Mismatch {
        /// The database file.
        path: String,
        /// "account" or "chain".
        what: &'static str,
        /// What the database says.
        stored: String,
        /// What this run has.
        ours: String,
    },
    /// A stored value cannot be read back.
    #[error("{path}: stored {what} is unreadable: {detail}")]
    Corrupt {
        /// The database file.
        path: String,
        /// Which value.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// The store was closed by a shutdown.
    #[error("the state database is closed (the node is shutting down)")]
    Closed,
}

/// `value` named as `what` in a message: "account 0x…"; a chain identity names itself
/// ("chain 1 genesis …", "simulated chain, seed …"), so it is not prefixed again.
fn named(what: &str, value: &str) -> String {
    if value.starts_with(what) || value.contains(&format!(" {what}")) {
        value.to_string()
    } else {
        format!("{what} {value}")
    }
}

/// Where a connection manager is in its life, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// A PUT stored the parameters; its transactions may not all be done.
    Joining,
    /// The last PUT completed.
    Joined,
    /// A DELETE set the manager to leaving.
    Leaving,
}

impl ConnectionState {
    /// How the store and the API write it: `joining`, `joined` or `leaving`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Joining => "joining",
            ConnectionState::Joined => "joined",
            ConnectionState::Leaving => "leaving",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "joining" => Some(ConnectionState::Joining),
            "joined" => Some(ConnectionState::Joined),
            "leaving" => Some(ConnectionState::Leaving),
            _ => None,
        }
    }
}

/// One stored connection manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredConnection {
    /// The token network.
    pub token_network: Address,
    /// Its token.
    pub token: Address,
    /// The parameters of the last PUT.
    pub params: ConnectionParams,
    /// Joining, joined or leaving.
    pub state: ConnectionState,
    /// `funds` as `GET /connections` reports it.
    pub reported_funds: U256,
}

/// How a journaled transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxOutcome {
    /// Mined and confirmed, successful.
    Confirmed,
    /// Mined and confirmed, refused by a contract rule.
    Reverted,
    /// Never mined: dropped, or never accepted by the chain.
    Dropped,
    /// Never mined: another transaction of ours with its nonce (a replacement with
    /// higher fees, or the one it replaced) was mined instead.
    Replaced,
}

impl TxOutcome {
    /// How the journal writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            TxOutcome::Confirmed => "confirmed",
            TxOutcome::Reverted => "reverted",
            TxOutcome::Dropped => "dropped",
            TxOutcome::Replaced => "replaced",
        }
    }
}

/// One row of the transaction journal, as [`Store::journal_entries`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalEntry {
    /// The transaction hash.
    pub hash: B256,
    /// The account nonce it uses.
    pub nonce: u64,
    /// What it is for ([`Transaction::purpose`]).
    pub purpose: String,
    /// How it ended (`confirmed`, `reverted`, `dropped`, `replaced`); `None` while in
    /// flight.
    pub outcome: Option<String>,
    /// The transaction it replaces (same nonce and purpose, lower fees), if it is a
    /// replacement.
    pub replaces: Option<B256>,
    /// The fees it offered (zero for rows written before schema 3).
    pub fees: Fees,
}

/// What a restart finds in the database.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Events applied before, in chain order.
    pub events: Vec<EventRecord>,
    /// The last block applied, if any.
    pub cursor: Option<u64>,
    /// The connection managers.
    pub connections: Vec<StoredConnection>,
    /// Participants of each token network (token network, participant), including those
    /// whose channels' events were compacted away.
    pub participants: Vec<(Address, Address)>,
}

/// The node's state database. Cheap to share behind an `Arc`; every method is one short
/// transaction.
#[derive(Debug)]
pub struct Store {
    path: String,
    /// On disk: keeps the applied events and the journal's history, which a restart
    /// needs. In memory nothing restarts from it, so it keeps only what the running node
    /// uses (the cursor, checkpoints, managers, transactions in flight) and its memory
    /// stays flat however long the node runs.
    durable: bool,
    /// Appends since the database was opened, to compact every so often.
    appends: std::sync::atomic::AtomicU64,
    /// `None` once closed.
    connection: Mutex<Option<Connection>>,
    /// The locked data directory of a database on disk, held until the store is closed.
    datadir: Mutex<Option<super::datadir::Datadir>>,
    /// When the decision log deletes its oldest rows next.
    decisions: decisions::Retention,
}

impl Store {
    /// Opens (creating it if needed) the state database in `datadir`, and migrates it.
    /// The directory is created private and locked until the store is closed or dropped
    /// (a second node on it is refused); the database and its WAL files are private (see
    /// [`super::datadir`]).
    pub fn open(datadir: &Path) -> Result<Self, StoreError> {
        let dir = super::datadir::Datadir::acquire(datadir)?;
        // SQLite gives the -wal and -shm files it creates the mode of the database file;
        // those left by an earlier run are set here.
        let file = dir.private_file(STATE_FILE_NAME)?;
        for suffix in ["-wal", "-shm"] {
            dir.tighten_if_present(&format!("{STATE_FILE_NAME}{suffix}"))?;
        }
        let path = file.display().to_string();
        let connection = Connection::open(&file).map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let store = Self::prepare(path, connection, true)?;
        *store.datadir.lock().unwrap_or_else(|p| p.into_inner()) = Some(dir);
        Ok(store)
    }

    /// A database in memory: state that lives as long as the process, for nodes whose
    /// chain does not outlive the process either (the embedded simulated chain, tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        let path = ":memory:".to_string();
        let connection = Connection::open_in_memory().map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        Self::prepare(path, connection, false)
    }

    fn prepare(
        path: String,
        mut connection: Connection,
        on_disk: bool,
    ) -> Result<Self, StoreError> {
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        if on_disk {
            // WAL: readers never block the writer; FULL: a committed write survives a
            // power cut, not only a crash of the process.
            connection
                .pragma_update(None, "journal_mode", "WAL")
                .map_err(sql)?;
            connection
                .pragma_update(None, "synchronous", "FULL")
                .map_err(sql)?;
        }
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        let found: u32 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(sql)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path,
                found,
                known: SCHEMA_VERSION,
            });
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let version = index as u32 + 1;
            let transaction = connection.transaction().map_err(sql)?;
            transaction.execute_batch(migration).map_err(sql)?;
            transaction
                .pragma_update(None, "user_version", version)
                .map_err(sql)?;
            transaction.commit().map_err(sql)?;
            tracing::info!(database = %path, version, "state database migrated");
        }
        Ok(Self {
            path,
            durable: on_disk,
            appends: std::sync::atomic::AtomicU64::new(0),
            connection: Mutex::new(Some(connection)),
            datadir: Mutex::new(None),
            decisions: decisions::Retention::default(),
        })
    }

    /// Whether the applied events are kept, so that a reorganisation can rebuild the
    /// view from them (else it is rebuilt from the chain).
    pub fn keeps_events(&self) -> bool {
        self.durable
    }

    /// Where the database is (`:memory:` for an in-memory one).
    pub fn path(&self) -> &str {
        &self.path
    }

    fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, what: &'static str, detail: impl ToString) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            what,
            detail: detail.to_string(),
        }
    }

    fn with<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard: MutexGuard<'_, Option<Connection>> = self
            .connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match guard.as_mut() {
            Some(connection) => work(connection),
            None => Err(StoreError::Closed),
        }
    }

    /// The rows `sql` selects, each turned into a `T` by `map`.
    fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        self.with(|c| {
            let mut statement = c.prepare_cached(sql).map_err(|e| self.sql(e))?;
            let rows = statement
                .query_map(params, map)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(|e| self.sql(e));
            rows
        })
    }

    /// A journal row (hash, nonce, transaction JSON, fees JSON) as the transaction in
    /// flight.
    fn pending(&self, (hash, nonce, tx, fees): JournalRow) -> Result<PendingTx, StoreError> {
        Ok(PendingTx {
            hash: hash.parse().map_err(|e| self.corrupt("hash", e))?,
            nonce,
            transaction: serde_json::from_str::<Transaction>(&tx)
                .map_err(|e| self.corrupt("transaction", e))?,
            fees: self.fees(fees)?,
        })
    }

    fn fees(&self, fees: Option<String>) -> Result<Fees, StoreError> {
        fees.map(|text| serde_json::from_str(&text).map_err(|e| self.corrupt("fees", e)))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// The journal rows `sql` selects as (hash, nonce, tx, fees), as transactions.
    fn journal_rows(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<PendingTx>, StoreError> {
        self.rows(sql, params, |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?
        .into_iter()
        .map(|row| self.pending(row))
        .collect()
    }

    /// Binds the database to one account and one chain on first use; afterwards refuses
    /// any other, so that one account's channels are never taken for another's.
    pub fn bind(&self, account: Address, chain: &str) -> Result<(), StoreError> {
        let account = account.to_checksum(None);
        for (key, what, ours) in [
            ("account", "account", account.as_str()),
            ("chain", "chain", chain),
        ] {
            let stored: Option<String> = self.with(|c| {
                c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(|e| self.sql(e))
            })?;
            match stored {
                Some(stored) if stored != ours => {
                    return Err(StoreError::Mismatch {
                        path: self.path.clone(),
                        what,
                        stored,
                        ours: ours.to_string(),
                    })
                }
                Some(_) => {}
                None => self.with(|c| {
                    c.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", [key, ours])
                        .map(|_| ())
                        .map_err(|e| self.sql(e))
                })?,
            }
        }
        Ok(())
    }

    /// Everything a restart needs: the applied events, the cursor, the managers.
    pub fn load(&self) -> Result<Loaded, StoreError> {
        let raw_events: Vec<String> =
            self.rows("SELECT record FROM events ORDER BY seq", [], |row| {
                row.get(0)
            })?;
        let cursor: Option<u64> = self.with(|c| {
            c.query_row("SELECT block FROM cursor WHERE id = 0", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(|e| self.sql(e))
        })?;
        let raw_participants: Vec<(String, String)> = self.rows(
            "SELECT token_network, address FROM participants ORDER BY block, rowid",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let participants = raw_participants
            .iter()
            .map(|(network, address)| Ok((self.address(network)?, self.address(address)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let events = raw_events
            .iter()
            .map(|text| serde_json::from_str(text).map_err(|e| self.corrupt("event", e)))
            .collect::<Result<Vec<EventRecord>, _>>()?;
        let connections = self.load_connections(None)?;
        Ok(Loaded {
            events,
            cursor,
            connections,
            participants,
        })
    }

    /// The stored connection managers, of every token network or of one (checksummed).
    fn load_connections(&self, network: Option<&str>) -> Result<Vec<StoredConnection>, StoreError> {
        let raw_connections = self.rows(
            "SELECT token_network, token, funds, initial_channel_target,
                    joinable_billionths, state, reported_funds, partner_selection
             FROM connections WHERE ?1 IS NULL OR token_network = ?1 ORDER BY rowid",
            [network],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, u32>(3)?,
                    row.get::<_, u32>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, String>(7)?,
                ))
            },
        )?;
        let mut connections = Vec::with_capacity(raw_connections.len());
        for (network, token, funds, target, joinable, state, reported, strategy) in raw_connections
        {
            connections.push(StoredConnection {
                token_network: self.address(&network)?,
                token: self.address(&token)?,
                params: ConnectionParams {
                    partner_selection: strategy
                        .parse()
                        .map_err(|e| self.corrupt("partner_selection", e))?,
                    funds: self.amount(&funds)?,
                    initial_channel_target: target,
                    joinable_funds_target: JoinableFraction::from_billionths(joinable),
                },
                state: ConnectionState::parse(&state)
                    .ok_or_else(|| self.corrupt("connection state", &state))?,
                reported_funds: self.amount(&reported)?,
            });
        }
        Ok(connections)
    }

    fn address(&self, text: &str) -> Result<Address, StoreError> {
        text.parse().map_err(|e| self.corrupt("address", e))
    }

    fn amount(&self, text: &str) -> Result<U256, StoreError> {
        U256::from_str_radix(text, 10).map_err(|e| self.corrupt("amount", e))
    }

    /// Records the events of blocks up to `block` and moves the cursor there, in one
    /// transaction: after a crash, either both are stored or neither.
    pub fn append_events(
        &self,
        events: &[EventRecord],
        block: u64,
        block_hash: Option<B256>,
    ) -> Result<(), StoreError> {
        let encoded = events
            .iter()
            .filter(|_| self.durable)
            .map(|record| serde_json::to_string(record).map_err(|e| self.corrupt("event", e)))
            .collect::<Result<Vec<_>, _>>()?;
        self.with(|c| {
            let transaction = c.transaction().map_err(|e| self.sql(e))?;
            if self.durable {
                let mut insert = transaction
                    .prepare_cached(
                        "INSERT INTO events (block, record, token_network, channel_id, settles)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .map_err(|e| self.sql(e))?;
                let mut participant = transaction
                    .prepare_cached(
                        "INSERT OR IGNORE INTO participants (token_network, address, block)
                         VALUES (?1, ?2, ?3)",
                    )
                    .map_err(|e| self.sql(e))?;
                for (record, text) in events.iter().zip(&encoded) {
                    let channel = channel_of(&record.event);
                    insert
                        .execute(params![
                            record.block,
                            text,
                            channel.map(|(network, _)| format!("{network:#x}")),
                            channel.map(|(_, id)| id.0),
                            matches!(record.event, ChainEvent::ChannelSettled { .. }),
                        ])
                        .map_err(|e| self.sql(e))?;
                    if let ChainEvent::ChannelOpened {
                        token_network,
                        participant1,
                        participant2,
                        ..
                    } = record.event
                    {
                        for address in [participant1, participant2] {
                            participant
                                .execute(params![
                                    format!("{token_network:#x}"),
                                    format!("{address:#x}"),
                                    record.block
                                ])
                                .map_err(|e| self.sql(e))?;
                        }
                    }
                }
            }
            transaction
                .execute(
                    "INSERT INTO cursor (id, block) VALUES (0, ?1)
                     ON CONFLICT (id) DO UPDATE SET block = excluded.block",
                    [block],
                )
                .map_err(|e| self.sql(e))?;
            if let Some(hash) = block_hash {
                transaction
                    .execute(
                        "INSERT OR REPLACE INTO checkpoints (block, hash) VALUES (?1, ?2)",
                        params![block, hash.to_string()],
                    )
                    .map_err(|e| self.sql(e))?;
                transaction
                    .execute(
                        "DELETE FROM checkpoints WHERE block NOT IN
                         (SELECT block FROM checkpoints ORDER BY block DESC LIMIT ?1)",
                        [CHECKPOINTS_KEPT],
                    )
                    .map_err(|e| self.sql(e))?;
            }
            transaction.commit().map_err(|e| self.sql(e))
        })?;
        let appends = self
            .appends
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.durable && appends % APPENDS_PER_COMPACTION == APPENDS_PER_COMPACTION - 1 {
            self.compact()?;
        }
        Ok(())
    }

    /// Forgets the events of channels settled at or before the oldest checkpoint: no
    /// reorganisation the node can follow reaches back there (a deeper one rebuilds from
    /// the chain), the view drops settled channels anyway, and the participants those
    /// events taught stay in their table. Keeps the log as long as the open channels and
    /// recent history, not as long as the network's whole past.
    pub fn compact(&self) -> Result<usize, StoreError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM events
                 WHERE channel_id IS NOT NULL
                   AND block <= (SELECT MIN(block) FROM checkpoints)
                   AND EXISTS (
                       SELECT 1 FROM events AS settled
                       WHERE settled.settles = 1
                         AND settled.token_network = events.token_network
                         AND settled.channel_id = events.channel_id
                         AND settled.block <= (SELECT MIN(block) FROM checkpoints))",
                [],
            )
            .map_err(|e| self.sql(e))
        })
    }

    /// Recent checkpoints, newest first: blocks applied and their hashes at the time.
    pub fn checkpoints(&self) -> Result<Vec<(u64, B256)>, StoreError> {
        let rows: Vec<(u64, String)> = self.rows(
            "SELECT block, hash FROM checkpoints ORDER BY block DESC",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        rows.into_iter()
            .map(|(block, hash)| {
                hash.parse()
                    .map(|hash| (block, hash))
                    .map_err(|e| self.corrupt("checkpoint", e))
            })
            .collect()
    }

    /// Forgets everything applied after `block` (all of it for `None`): the chain forked
    /// there.
    pub fn rewind_to(&self, block: Option<u64>) -> Result<(), StoreError> {
        self.with(|c| {
            let transaction = c.transaction().map_err(|e| self.sql(e))?;
            match block {
                Some(block) => {
                    transaction
                        .execute("DELETE FROM events WHERE block > ?1", [block])
                        .map_err(|e| self.sql(e))?;
                    transaction
                        .execute("DELETE FROM checkpoints WHERE block > ?1", [block])
                        .map_err(|e| self.sql(e))?;
                    transaction
                        .execute("DELETE FROM participants WHERE block > ?1", [block])
                        .map_err(|e| self.sql(e))?;
                    transaction
                        .execute("UPDATE cursor SET block = ?1 WHERE id = 0", [block])
                        .map_err(|e| self.sql(e))?;
                }
                None => {
                    transaction
                        .execute_batch(
                            "DELETE FROM events; DELETE FROM checkpoints; DELETE FROM cursor;
                             DELETE FROM participants;",
                        )
                        .map_err(|e| self.sql(e))?;
                }
            }
            transaction.commit().map_err(|e| self.sql(e))
        })
    }

    /// Stores a connection manager's parameters and state.
    pub fn save_connection(&self, connection: &StoredConnection) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO connections (token_network, token, funds, initial_channel_target,
                                          joinable_billionths, state, reported_funds,
                                          partner_selection)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (token_network) DO UPDATE SET
                     funds = excluded.funds,
                     partner_selection = excluded.partner_selection,
                     initial_channel_target = excluded.initial_channel_target,
                     joinable_billionths = excluded.joinable_billionths,
                     state = excluded.state,
                     reported_funds = excluded.reported_funds",
                params![
                    connection.token_network.to_checksum(None),
                    connection.token.to_checksum(None),
                    connection.params.funds.to_string(),
                    connection.params.initial_channel_target,
                    connection.params.joinable_funds_target.billionths(),
                    connection.state.as_str(),
                    connection.reported_funds.to_string(),
                    connection.params.partner_selection.name(),
                ],
            )
            .map(|_| ())
            .map_err(|e| self.sql(e))
        })
    }

    /// The stored connection manager of `token_network`, if it was ever joined (what
    /// `GET /connections/<token>` reports).
    pub fn connection(
        &self,
        token_network: Address,
    ) -> Result<Option<StoredConnection>, StoreError> {
        let network = token_network.to_checksum(None);
        Ok(self.load_connections(Some(&network))?.into_iter().next())
    }

    /// Journals a transaction before it is handed to the chain.
    pub fn journal_signed(&self, signed: &SignedTx) -> Result<(), StoreError> {
        self.journal_insert(signed, None)
    }

    /// Journals a replacement of `replaces` (the same nonce and purpose, higher fees)
    /// before it is handed to the chain.
    pub fn journal_replacement(&self, signed: &SignedTx, replaces: B256) -> Result<(), StoreError> {
        self.journal_insert(signed, Some(replaces))
    }

    fn journal_insert(&self, signed: &SignedTx, replaces: Option<B256>) -> Result<(), StoreError> {
        let tx = serde_json::to_string(&signed.transaction)
            .map_err(|e| self.corrupt("transaction", e))?;
        let fees = serde_json::to_string(&signed.fees).map_err(|e| self.corrupt("fees", e))?;
        self.with(|c| {
            c.execute(
                // The same transaction signed again after it was dropped has the same
                // hash: it is in flight once more.
                "INSERT INTO journal (hash, nonce, purpose, name, tx, replaces, fees)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (hash) DO UPDATE SET outcome = NULL, detail = NULL",
                params![
                    signed.hash.to_string(),
                    signed.nonce,
                    signed.transaction.purpose(),
                    signed.transaction.name(),
                    tx,
                    replaces.map(|hash| hash.to_string()),
                    fees
                ],
            )
            .map(|_| ())
            .map_err(|e| self.sql(e))
        })
    }

    /// Records how a journaled transaction ended (in memory: forgets it, as nothing will
    /// read its history).
    pub fn journal_resolve(
        &self,
        hash: B256,
        outcome: TxOutcome,
        detail: &str,
    ) -> Result<(), StoreError> {
        let hash = hash.to_string();
        self.with(|c| {
            let changed = if self.durable {
                c.execute(
                    "UPDATE journal SET outcome = ?2, detail = ?3 WHERE hash = ?1 AND outcome IS NULL",
                    params![hash, outcome.as_str(), detail],
                )
            } else {
                c.execute("DELETE FROM journal WHERE hash = ?1", [hash])
            };
            changed.map(|_| ()).map_err(|e| self.sql(e))
        })
    }

    /// Journaled transactions whose outcome is not known yet, in nonce order (the
    /// replacements of one nonce in the order they were signed).
    pub fn journal_unresolved(&self) -> Result<Vec<PendingTx>, StoreError> {
        self.journal_rows(
            "SELECT hash, nonce, tx, fees FROM journal WHERE outcome IS NULL
             ORDER BY nonce, rowid",
            [],
        )
    }

    /// The unresolved journaled transaction with this purpose, if any: of several sharing
    /// a nonce, the last one signed (the highest fees).
    pub fn journal_in_flight(&self, purpose: &str) -> Result<Option<PendingTx>, StoreError> {
        Ok(self
            .journal_rows(
                "SELECT hash, nonce, tx, fees FROM journal WHERE purpose = ?1 AND outcome IS NULL
                 ORDER BY nonce DESC, rowid DESC LIMIT 1",
                [purpose],
            )?
            .into_iter()
            .next())
    }

    /// The unresolved transactions that are alternatives of `pending` (itself included):
    /// those with its nonce and purpose, the ones replacing each other, oldest first.
    pub fn journal_alternatives(&self, pending: &PendingTx) -> Result<Vec<PendingTx>, StoreError> {
        self.journal_rows(
            "SELECT hash, nonce, tx, fees FROM journal
             WHERE nonce = ?1 AND purpose = ?2 AND outcome IS NULL ORDER BY rowid",
            params![pending.nonce, pending.transaction.purpose()],
        )
    }

    /// Every journal entry, oldest first: for tests and operators.
    pub fn journal_entries(&self) -> Result<Vec<JournalEntry>, StoreError> {
        type Row = (
            String,
            u64,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = self.rows(
            "SELECT hash, nonce, purpose, outcome, replaces, fees FROM journal ORDER BY rowid",
            [],
            |row| row.try_into(),
        )?;
        rows.into_iter()
            .map(|(hash, nonce, purpose, outcome, replaces, fees)| {
                Ok(JournalEntry {
                    hash: hash.parse().map_err(|e| self.corrupt("hash", e))?,
                    nonce,
                    purpose,
                    outcome,
                    replaces: replaces
                        .map(|h| h.parse().map_err(|e| self.corrupt("hash", e)))
                        .transpose()?,
                    fees: self.fees(fees)?,
                })
            })
            .collect()
    }

    /// Checkpoints the write-ahead log into the database file and closes it. Later calls
    /// answer [`StoreError::Closed`].
    pub fn close(&self) -> Result<(), StoreError> {
        let mut guard = self
            .connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(connection) = guard.take() {
            if self.path != ":memory:" {
                connection
                    .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                    .map_err(|e| self.sql(e))?;
            }
            connection.close().map_err(|(_, e)| self.sql(e))?;
        }
        // The database is closed: another node may take the data directory now.
        drop(
            self.datadir
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take(),
        );
        Ok(())
    }
}

/// The channel an event is about, if it is about one.
fn channel_of(event: &ChainEvent) -> Option<(Address, ChannelId)> {
    match *event {
        ChainEvent::ChannelOpened {
            token_network,
            channel_id,
            ..
        }
        | ChainEvent::ChannelNewDeposit {
            token_network,
            channel_id,
            ..
        }
        | ChainEvent::ChannelClosed {
            token_network,
            channel_id,
            ..
        }
        | ChainEvent::ChannelSettled {
            token_network,
            channel_id,
            ..
        } => Some((token_network, channel_id)),
        ChainEvent::TokenNetworkCreated { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::ChainEvent;
    use crate::types::{ChannelId, TokenAmount};

    fn address(byte: u8) -> Address {
        Address::repeat_byte(byte)
    }

    fn opened(block: u64, id: u64) -> EventRecord {
        EventRecord {
            block,
            timestamp: 1000 + block,
            event: ChainEvent::ChannelOpened {
                token_network: address(1),
                channel_id: ChannelId(id),
                participant1: address(2),
                participant2: address(3),
            },
        }
    }

    #[test]
    fn state_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.bind(address(9), "chain A").unwrap();
        store
            .append_events(&[opened(3, 1), opened(4, 2)], 5, Some(B256::repeat_byte(5)))
            .unwrap();
        let connection = StoredConnection {
            token_network: address(1),
            token: address(7),
            params: ConnectionParams::with_funds(U256::from(10u64).pow(U256::from(30u64))),
            state: ConnectionState::Leaving,
            reported_funds: U256::from(100u64),
        };
        store.save_connection(&connection).unwrap();
        let signed = SignedTx {
            hash: B256::repeat_byte(0xaa),
            nonce: 4,
            transaction: Transaction::SetTotalDeposit {
                token_network: address(1),
                channel_id: ChannelId(2),
                partner: address(3),
                total_deposit: TokenAmount(U256::from(20u64)),
            },
            raw: Default::default(),
            fees: Fees::legacy(1),
        };
        store.journal_signed(&signed).unwrap();
        store.close().unwrap();
        assert!(matches!(store.load(), Err(StoreError::Closed)));

        let store = Store::open(dir.path()).unwrap();
        store.bind(address(9), "chain A").unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.events, vec![opened(3, 1), opened(4, 2)]);
        assert_eq!(loaded.cursor, Some(5));
        assert_eq!(loaded.connections, vec![connection]);
        let unresolved = store.journal_unresolved().unwrap();
        assert_eq!(unresolved.len(), 1);
        assert_eq!(unresolved[0].transaction, signed.transaction);
        assert_eq!(
            store
                .journal_in_flight(&signed.transaction.purpose())
                .unwrap()
                .map(|p| p.hash),
            Some(signed.hash)
        );
        store
            .journal_resolve(signed.hash, TxOutcome::Confirmed, "block 6")
            .unwrap();
        assert!(store.journal_unresolved().unwrap().is_empty());
        assert_eq!(
            store.checkpoints().unwrap(),
            vec![(5, B256::repeat_byte(5))]
        );
    }

    fn settled(block: u64, id: u64) -> EventRecord {
        EventRecord {
            block,
            timestamp: 1000 + block,
            event: ChainEvent::ChannelSettled {
                token_network: address(1),
                channel_id: ChannelId(id),
                participant1: (address(2), TokenAmount(U256::from(5u64))),
                participant2: (address(3), TokenAmount(U256::ZERO)),
            },
        }
    }

    fn opened_between(block: u64, id: u64, a: u8, b: u8) -> EventRecord {
        EventRecord {
            block,
            timestamp: 1000 + block,
            event: ChainEvent::ChannelOpened {
                token_network: address(1),
                channel_id: ChannelId(id),
                participant1: address(a),
                participant2: address(b),
            },
        }
    }

    #[test]
    fn a_version_1_database_is_migrated_and_compacts_its_settled_channels() {
        let dir = tempfile::tempdir().unwrap();
        {
            let connection = Connection::open(dir.path().join(STATE_FILE_NAME)).unwrap();
            connection.execute_batch(MIGRATIONS[0]).unwrap();
            connection.pragma_update(None, "user_version", 1).unwrap();
            for record in [opened(3, 1), settled(5, 1), opened_between(6, 2, 4, 5)] {
                connection
                    .execute(
                        "INSERT INTO events (block, record) VALUES (?1, ?2)",
                        params![record.block, serde_json::to_string(&record).unwrap()],
                    )
                    .unwrap();
            }
            connection
                .execute(
                    "INSERT INTO checkpoints (block, hash) VALUES (8, ?1)",
                    [B256::repeat_byte(8).to_string()],
                )
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.compact().unwrap(), 2, "channel 1's open and settle");
        let loaded = store.load().unwrap();
        assert_eq!(loaded.events, vec![opened_between(6, 2, 4, 5)]);
        let mut participants: Vec<Address> = loaded.participants.iter().map(|p| p.1).collect();
        participants.sort();
        assert_eq!(
            participants,
            vec![address(2), address(3), address(4), address(5)],
            "channel 1's participants outlive its events"
        );
        assert!(loaded.participants.iter().all(|p| p.0 == address(1)));
    }

    fn deposit_tx(total: u64) -> Transaction {
        Transaction::SetTotalDeposit {
            token_network: address(1),
            channel_id: ChannelId(2),
            partner: address(3),
            total_deposit: TokenAmount(U256::from(total)),
        }
    }

    #[test]
    fn a_version_2_database_is_migrated_and_its_journal_takes_replacements() {
        let dir = tempfile::tempdir().unwrap();
        let in_flight = B256::repeat_byte(0xaa);
        {
            let connection = Connection::open(dir.path().join(STATE_FILE_NAME)).unwrap();
            connection.execute_batch(MIGRATIONS[0]).unwrap();
            connection.execute_batch(MIGRATIONS[1]).unwrap();
            connection.pragma_update(None, "user_version", 2).unwrap();
            connection
                .execute(
                    "INSERT INTO journal (hash, nonce, purpose, name, tx) VALUES (?1, 7, ?2, ?3, ?4)",
                    params![
                        in_flight.to_string(),
                        deposit_tx(20).purpose(),
                        deposit_tx(20).name(),
                        serde_json::to_string(&deposit_tx(20)).unwrap()
                    ],
                )
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let version: u32 = store
            .with(|c| {
                c.pragma_query_value(None, "user_version", |row| row.get(0))
                    .map_err(|e| store.sql(e))
            })
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        // The row written before the migration: in flight, fees unknown (zero).
        let old = store
            .journal_in_flight(&deposit_tx(20).purpose())
            .unwrap()
            .unwrap();
        assert_eq!((old.hash, old.nonce), (in_flight, 7));
        assert_eq!(old.fees, Fees::default());

        let fees = Fees::eip1559(3_000_000_000, 1_000_000_000);
        let replacement = SignedTx {
            hash: B256::repeat_byte(0xbb),
            nonce: 7,
            transaction: deposit_tx(20),
            raw: Default::default(),
            fees,
        };
        store.journal_replacement(&replacement, in_flight).unwrap();
        let latest = store
            .journal_in_flight(&deposit_tx(20).purpose())
            .unwrap()
            .unwrap();
        assert_eq!(
            (latest.hash, latest.fees),
            (replacement.hash, fees),
            "the last one signed"
        );
        let alternatives: Vec<B256> = store
            .journal_alternatives(&old)
            .unwrap()
            .iter()
            .map(|p| p.hash)
            .collect();
        assert_eq!(alternatives, vec![in_flight, replacement.hash]);

        store
            .journal_resolve(replacement.hash, TxOutcome::Confirmed, "block 9")
            .unwrap();
        store
            .journal_resolve(in_flight, TxOutcome::Replaced, "replaced")
            .unwrap();
        store.close().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.journal_unresolved().unwrap().is_empty());
        let entries = store.journal_entries().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].outcome.as_deref(), Some("replaced"));
        assert_eq!(entries[0].replaces, None);
        assert_eq!(entries[1].outcome.as_deref(), Some("confirmed"));
        assert_eq!(entries[1].replaces, Some(in_flight));
        assert_eq!((entries[1].nonce, entries[1].fees), (7, fees));
    }

    #[test]
    fn compaction_keeps_what_a_reorganisation_could_still_take_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .append_events(&[opened(3, 1)], 3, Some(B256::repeat_byte(3)))
            .unwrap();
        store
            .append_events(&[settled(5, 1)], 5, Some(B256::repeat_byte(5)))
            .unwrap();
        assert_eq!(
            store.compact().unwrap(),
            0,
            "settled after the oldest checkpoint"
        );
        assert_eq!(store.load().unwrap().events.len(), 2);
        store.rewind_to(Some(4)).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.events, vec![opened(3, 1)]);
        assert_eq!(loaded.participants.len(), 2);
        store.rewind_to(Some(2)).unwrap();
        assert!(store.load().unwrap().participants.is_empty());
    }

    #[test]
    fn in_memory_the_store_keeps_no_history() {
        let store = Store::in_memory().unwrap();
        store
            .append_events(&[opened(3, 1)], 3, Some(B256::repeat_byte(3)))
            .unwrap();
        let signed = SignedTx {
            hash: B256::repeat_byte(0xaa),
            nonce: 0,
            transaction: Transaction::RegisterToken { token: address(7) },
            raw: Default::default(),
            fees: Fees::default(),
        };
        store.journal_signed(&signed).unwrap();
        assert_eq!(store.journal_unresolved().unwrap().len(), 1);
        store
            .journal_resolve(signed.hash, TxOutcome::Confirmed, "block 4")
            .unwrap();
        let loaded = store.load().unwrap();
        assert!(loaded.events.is_empty());
        assert_eq!(loaded.cursor, Some(3));
        assert!(store.journal_entries().unwrap().is_empty());
        assert!(!store.keeps_events());
    }

    #[test]
    fn another_account_or_chain_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.bind(address(9), "chain A").unwrap();
        let error = store.bind(address(8), "chain A").unwrap_err();
        assert!(error.to_string().contains("account"), "{error}");
        let error = store.bind(address(9), "chain B").unwrap_err();
        assert!(error.to_string().contains("chain A"), "{error}");
    }

    #[test]
    fn a_newer_schema_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let file = dir.path().join(STATE_FILE_NAME);
        let connection = Connection::open(&file).unwrap();
        connection
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(connection);
        let error = Store::open(dir.path()).unwrap_err();
        assert!(matches!(error, StoreError::NewerSchema { .. }));
        assert!(
            error.to_string().contains(&format!(
                "newer than the {SCHEMA_VERSION} this tokennet knows"
            )),
            "{error}"
        );
    }

    #[test]
    fn rewinding_forgets_what_follows_the_fork() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .append_events(&[opened(3, 1)], 3, Some(B256::repeat_byte(3)))
            .unwrap();
        store
            .append_events(&[opened(6, 2)], 6, Some(B256::repeat_byte(6)))
            .unwrap();
        store.rewind_to(Some(4)).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.events, vec![opened(3, 1)]);
        assert_eq!(loaded.cursor, Some(4));
        assert_eq!(
            store.checkpoints().unwrap(),
            vec![(3, B256::repeat_byte(3))]
        );
        store.rewind_to(None).unwrap();
        assert_eq!(store.load().unwrap().cursor, None);
    }
}
