//! `tokennet-sim run --decisions` writes `decisions.csv`: the decisions of every node's
//! connection manager, one row each, with a reason and the inputs of its amount.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use tokennet::types::{checksummed, BOOTSTRAP_ADDRESS};
use tokennet_sim::engine::{tokens_to_units, DECISIONS_HEADER};

/// Seven nodes a minute apart (every reaction of a join is done before the next node
/// comes, so no two opens race); with `lifetime`, the last two leave after it.
fn scenario(lifetime: &str) -> String {
    format!(
        r#"
seed = 11
sample_interval = "10m"
[chain]
block_time = "1s"
gas_price_gwei = 1.0
settle_timeout = "10s"
[[cohorts]]
name = "stayers"
count = 5
arrival = {{ process = "explicit", times = ["500ms", "60500ms"] }}
funds = 100.0
initial_channel_target = 2
joinable_funds_target = 0.4
eth = 10.0
[[cohorts]]
name = "visitors"
count = 2
arrival = {{ process = "explicit", times = ["300500ms", "360500ms"] }}
funds = 100.0
initial_channel_target = 2
joinable_funds_target = 0.4
eth = 10.0
{lifetime}
"#
    )
}

/// A row of `decisions.csv`, by column name.
type Row = BTreeMap<String, String>;

/// Splits CSV text into records of fields (RFC 4180: quoted fields, doubled quotes).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(!quoted && field.is_empty(), "the file ends inside a record");
    records
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Row>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut records = parse_csv(&text).into_iter();
    let header = records.next().unwrap();
    let rows = records
        .map(|record| {
            assert_eq!(record.len(), header.len(), "{record:?}");
            header.iter().cloned().zip(record).collect()
        })
        .collect();
    (header, rows)
}

/// Runs the simulator binary on `scenario` with `--decisions`; returns the output dir.
fn run(scenario: &str, dir: &Path) -> std::path::PathBuf {
    let file = dir.join("scenario.toml");
    std::fs::write(&file, scenario).unwrap();
    let out = dir.join("out");
    let status = Command::new(env!("CARGO_BIN_EXE_tokennet-sim"))
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .arg("--decisions")
        .status()
        .unwrap();
    assert!(status.success(), "tokennet-sim run --decisions: {status}");
    out
}

/// The addresses of `nodes.csv`, by index.
fn addresses(out: &Path) -> Vec<String> {
    let (_, nodes) = read_csv(&out.join("nodes.csv"));
    nodes.into_iter().map(|n| n["address"].clone()).collect()
}

fn of_kind<'r>(rows: &'r [Row], kind: &str) -> Vec<&'r Row> {
    rows.iter().filter(|r| r["kind"] == kind).collect()
}

#[test]
fn every_channel_has_one_open_and_every_funded_partner_channel_a_match() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&scenario(""), dir.path());
    let (header, rows) = read_csv(&out.join("decisions.csv"));
    assert_eq!(header.join(","), DECISIONS_HEADER);
    let addresses = addresses(&out);
    for row in &rows {
        assert!(
            !row["reason"].is_empty(),
            "a decision without a reason: {row:?}"
        );
        assert_eq!(row["strategy"], "uniform", "{row:?}");
        let node: usize = row["node"].parse().unwrap();
        assert_eq!(row["address"], addresses[node], "{row:?}");
    }

    let bootstrap = checksummed(&BOOTSTRAP_ADDRESS);
    let opens = of_kind(&rows, "open");
    assert_eq!(
        opens.iter().filter(|r| r["partner"] == bootstrap).count(),
        1,
        "the first node opens the bootstrap channel, and nobody else: {opens:?}"
    );
    // Channels between nodes, as unordered pairs of addresses, with their deposits.
    let (_, channels) = read_csv(&out.join("channels.csv"));
    let mut pairs = BTreeSet::new();
    for channel in &channels {
        let a = addresses[channel["a"].parse::<usize>().unwrap()].clone();
        let b = addresses[channel["b"].parse::<usize>().unwrap()].clone();
        pairs.insert(BTreeSet::from([a, b]));
    }
    let opened: Vec<BTreeSet<String>> = opens
        .iter()
        .filter(|r| r["partner"] != bootstrap)
        .map(|r| BTreeSet::from([r["address"].clone(), r["partner"].clone()]))
        .collect();
    assert_eq!(
        opened.len(),
        channels.len(),
        "one open per channel: {opened:?}"
    );
    assert_eq!(opened.iter().cloned().collect::<BTreeSet<_>>(), pairs);
    for open in &opens {
        assert!(
            open["inputs"].contains("per_partner=") && open["inputs"].contains("funds="),
            "an open without the inputs of its deposit: {open:?}"
        );
    }

    // Every channel the partner of the opener funded has one decision of the partner
    // that funded it, whose amount is its deposit: a `match` of the opener's deposit, or
    // a `deposit` when the partner's own retry topped the channel up first.
    assert!(!of_kind(&rows, "match").is_empty(), "no match in {rows:?}");
    let fundings: Vec<&Row> = rows
        .iter()
        .filter(|r| r["kind"] == "match" || r["kind"] == "deposit")
        .collect();
    for channel in &channels {
        let id = &channel["channel_id"];
        let (a, b) = (
            channel["a"].parse::<usize>().unwrap(),
            channel["b"].parse::<usize>().unwrap(),
        );
        let opener = opens
            .iter()
            .find(|o| {
                BTreeSet::from([o["address"].clone(), o["partner"].clone()])
                    == BTreeSet::from([addresses[a].clone(), addresses[b].clone()])
            })
            .unwrap();
        let (other, deposit) = if opener["address"] == addresses[a] {
            (b, &channel["deposit_b"])
        } else {
            (a, &channel["deposit_a"])
        };
        let deposit = tokens_to_units(deposit.parse().unwrap());
        if deposit.is_zero() {
            continue;
        }
        let funded: Vec<_> = fundings
            .iter()
            .filter(|m| &m["channel_id"] == id && m["node"] == other.to_string())
            .collect();
        assert_eq!(
            funded.len(),
            1,
            "channel {id}: node {other} deposited {deposit}, by one decision: {fundings:?}"
        );
        assert_eq!(funded[0]["amount"], deposit.to_string(), "{funded:?}");
        assert!(funded[0]["inputs"].contains("our_deposit="), "{funded:?}");
    }
}

#[test]
fn a_leave_closes_each_channel_once_and_each_closed_channel_is_settled_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&scenario("lifetime = 600.0"), dir.path());
    let (_, rows) = read_csv(&out.join("decisions.csv"));
    let closes = of_kind(&rows, "close");
    assert!(
        closes.len() >= 2,
        "the visitors close their channels: {rows:?}"
    );
    let mut closed = BTreeSet::new();
    for close in &closes {
        assert!(
            closed.insert(close["channel_id"].clone()),
            "closed twice: {close:?}"
        );
        assert!(!close["reason"].is_empty());
    }
    let settles = of_kind(&rows, "settle");
    let settled: Vec<String> = settles.iter().map(|s| s["channel_id"].clone()).collect();
    assert_eq!(
        settled.iter().cloned().collect::<BTreeSet<_>>(),
        closed,
        "each closed channel settled: {settles:?}"
    );
    assert_eq!(
        settled.len(),
        closed.len(),
        "none settled twice: {settles:?}"
    );
    let (_, nodes) = read_csv(&out.join("nodes.csv"));
    let left = nodes.iter().filter(|n| n["state"] == "left").count();
    assert_eq!(left, 2, "both visitors left: {nodes:?}");
}
