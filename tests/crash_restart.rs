//! Crash tests on anvil: the real `tokennet` binary, killed with SIGKILL in the middle of a
//! join and in the middle of a leave, at each of the node's crash points
//! (`TOKENNET_CRASH_POINT`, src/node/executor.rs), then started again on the same
//! `--datadir`. After the restart the join completes with exactly the channels and
//! deposits an uninterrupted join gives, the leave settles every channel and gives every
//! token back, and the chain shows no nonce and no purpose twice, and no revert.
//!
//! One more crash point is on the way of a stuck transaction: with blocks stopped, the
//! node replaces its first offers after `--tx-replace-after` and is killed right after a
//! replacement was journaled and sent; restarted while every block's base fee is above
//! the first offers and below the replacement, it completes the join with one transaction
//! per nonce (those of the first offers that anvil evicted are sent anew).
//!
//! The network: four participants with channels among themselves (they run no node), and
//! our account with tokens. A join of 1000 with target 3 and joinable 0.4 gives
//! 1000 × 0.6 / 3 = 200 to each of three partners (SPEC §3); the leave tests check that
//! the uninterrupted join they start with gives exactly that too.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::time::{Duration, Instant};

use alloy::consensus::Transaction as _;
use alloy::eips::BlockNumberOrTag;
use alloy::network::TransactionResponse as _;
use alloy::providers::{Provider, RootProvider};
use alloy::sol_types::SolInterface;
use common::anvil::AnvilNet;
use common::eventually;
use common::process::{http, NodeProcess};
use futures::future::join_all;
use serde_json::{json, Value};
use tokennet::chain::ethereum::contracts::{
    ITokenNetwork::ITokenNetworkCalls, IERC20::IERC20Calls,
};
use tokennet::chain::Chain;
use tokennet::types::{checksummed, Address, B256, U256};

/// Seconds between blocks.
const BLOCK_TIME: f64 = 0.5;
/// Settle timeout of the token network, seconds: the leave waits it out.
const SETTLE_TIMEOUT: u64 = 3;
/// Dev accounts of the other participants (0 deployed the contracts).
const PARTICIPANTS: [usize; 4] = [1, 2, 3, 4];
/// Our dev account: it has sent nothing before the node runs.
const OURS: usize = 5;
/// Tokens we hold before the join.
const OUR_TOKENS: u64 = 5_000;
/// The join: funds, target, joinable.
const FUNDS: u64 = 1_000;
const TARGET: usize = 3;
const JOINABLE: f64 = 0.4;
/// What each partner gets: 1000 × (1 − 0.4) / 3.
const PER_PARTNER: u64 = 200;

/// One test's world: anvil with the contracts, the participants' channels, our key,
/// deployment and data directory on disk.
struct World {
    net: AnvilNet,
    provider: RootProvider,
    us: Address,
    participants: BTreeSet<Address>,
    /// Holds the key file, the deployment file and the data directory.
    _files: tempfile::TempDir,
    /// The node's command line, without `--api-address`.
    args: Vec<OsString>,
}

impl World {
    async fn start() -> Self {
        let net = AnvilNet::start(BLOCK_TIME, SETTLE_TIMEOUT).await;
        let provider = RootProvider::new_http(net.anvil.endpoint().parse().unwrap());
        let us = net.signer(OURS).address();
        let participants: BTreeSet<Address> = PARTICIPANTS
            .iter()
            .map(|i| net.signer(*i).address())
            .collect();
        // A ring of channels among the participants (each opened by a different account,
        // so all at once), and our tokens.
        let opens = PARTICIPANTS.iter().enumerate().map(|(k, &from)| {
            let to = net
                .signer(PARTICIPANTS[(k + 1) % PARTICIPANTS.len()])
                .address();
            open_channel(&net, from, to)
        });
        let (_, ()) = futures::join!(
            join_all(opens),
            net.give_tokens(OURS, U256::from(OUR_TOKENS))
        );
        // The node counts a block once another is on top of it (`--confirmation-blocks
        // 1`): without that block, a join right after the start would see no participant
        // and open a channel with the bootstrap address instead.
        let setup_head = provider.get_block_number().await.unwrap();
        eventually(
            "a block on top of the participants' channels",
            Duration::from_secs(10),
            || async { provider.get_block_number().await.unwrap() > setup_head },
        )
        .await;

        let files = tempfile::tempdir().unwrap();
        let key_file = files.path().join("key");
        std::fs::write(
            &key_file,
            format!("0x{}", alloy::hex::encode(net.signer(OURS).to_bytes())),
        )
        .unwrap();
        let deployment_file = files.path().join("deployment.json");
        std::fs::write(
            &deployment_file,
            serde_json::to_string(&net.deployment).unwrap(),
        )
        .unwrap();
        let datadir = files.path().join("datadir");
        let args = [
            "node".into(),
            "--eth-rpc-endpoint".into(),
            net.anvil.endpoint().into(),
            "--private-key-file".into(),
            key_file.into_os_string(),
            "--deployment".into(),
            deployment_file.into_os_string(),
            "--datadir".into(),
            datadir.into_os_string(),
            "--confirmation-blocks".into(),
            "1".into(),
            "--tx-timeout".into(),
            "60s".into(),
        ]
        .into();
        Self {
            net,
            provider,
            us,
            participants,
            _files: files,
            args,
        }
    }

    /// Starts the node and waits until it is ready; with `crash_point`, armed to stop
    /// there.
    async fn node(&self, label: &str, crash_point: Option<&str>) -> NodeProcess {
        let envs: Vec<(&str, &str)> = crash_point
            .map(|point| ("TOKENNET_CRASH_POINT", point))
            .into_iter()
            .collect();
        NodeProcess::start(label, &self.args, &envs).await
    }

    fn token(&self) -> String {
        checksummed(&self.net.token)
    }

    fn connection_path(&self) -> String {
        format!("/api/v1/connections/{}", self.token())
    }

    async fn our_balance(&self) -> U256 {
        let chain = self.net.chain(0).await;
        self.net.balance(&chain, self.us).await
    }

    /// Sends `method` to the connection endpoint from a task of its own, waits until the
    /// node prints that it reached `point`, and kills it with SIGKILL there.
    async fn crash_during(&self, node: &mut NodeProcess, method: &str, point: &str) {
        let body = (method == "PUT").then(join_body);
        let (base, path, verb) = (
            node.base().to_string(),
            self.connection_path(),
            method.to_string(),
        );
        let mut request = tokio::spawn(async move { http(&base, &verb, &path, body).await });
        let needle = format!("crash point reached: {point}");
        let early = tokio::select! {
            answer = &mut request => Some(answer),
            () = node.wait_for_output(&needle, Duration::from_secs(60)) => None,
        };
        if let Some(answer) = early {
            panic!(
                "{method} answered {answer:?} before the crash point {point:?}:\n{}",
                node.output()
            );
        }
        let status = node.kill();
        request.abort();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "the node died of SIGKILL: {status}"
        );
    }

    /// Waits until `node` reports the join done: `GET /connections` with the requested
    /// funds and three channels, each of them (`GET /channels/<token>`) opened with 200 of
    /// ours and none of the partner's, with three different participants. Returns the
    /// partners.
    async fn wait_joined(&self, node: &NodeProcess, what: &str) -> BTreeSet<Address> {
        let expected = json!({
            "funds": FUNDS,
            "sum_deposits": PER_PARTNER * TARGET as u64,
            "channels": TARGET,
        });
        let token = self.token();
        eventually(
            &format!("{what}: GET /connections to show {token}: {expected}"),
            Duration::from_secs(60),
            || async {
                let (status, body) = node.call("GET", "/api/v1/connections", None).await;
                status == 200 && body[&token] == expected
            },
        )
        .await;
        let (status, channels) = node
            .call("GET", &format!("/api/v1/channels/{token}"), None)
            .await;
        assert_eq!(status, 200, "{channels}");
        let channels = channels.as_array().unwrap();
        assert_eq!(channels.len(), TARGET, "{what}: {channels:?}");
        let mut partners = BTreeSet::new();
        for channel in channels {
            assert_eq!(channel["state"], "opened", "{what}: {channel}");
            assert_eq!(channel["total_deposit"], PER_PARTNER, "{what}: {channel}");
            assert_eq!(channel["partner_total_deposit"], 0, "{what}: {channel}");
            let partner: Address = channel["partner_address"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                self.participants.contains(&partner),
                "{what}: a channel with {partner}, not a participant: {channel}"
            );
            partners.insert(partner);
        }
        assert_eq!(partners.len(), TARGET, "{what}: three different partners");
        partners
    }

    /// Every transaction our account sent, from the deployment's block to the head, in
    /// chain order, with whether it succeeded.
    async fn our_transactions(&self) -> Vec<OurTx> {
        let head = self.provider.get_block_number().await.unwrap();
        let mut ours = Vec::new();
        for number in self.net.deployment.start_block..=head {
            let block = self
                .provider
                .get_block_by_number(BlockNumberOrTag::Number(number))
                .full()
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("block {number}"));
            for tx in block.transactions.txns() {
                if tx.from() != self.us {
                    continue;
                }
                let receipt = self
                    .provider
                    .get_transaction_receipt(tx.tx_hash())
                    .await
                    .unwrap()
                    .unwrap();
                ours.push(OurTx {
                    hash: tx.tx_hash(),
                    block: number,
                    nonce: tx.nonce(),
                    call: self.decode(tx.to(), tx.input()),
                    succeeded: receipt.status(),
                });
            }
        }
        ours
    }

    fn decode(&self, to: Option<Address>, input: &[u8]) -> Call {
        let unknown = || Call::Unknown {
            to,
            selector: input.iter().take(4).copied().collect(),
        };
        if to == Some(self.net.token) {
            return match IERC20Calls::abi_decode(input) {
                Ok(IERC20Calls::approve(call)) => Call::Approve {
                    spender: call.spender,
                    amount: call.value,
                },
                _ => unknown(),
            };
        }
        if to == Some(self.net.token_network) {
            return match ITokenNetworkCalls::abi_decode(input) {
                Ok(ITokenNetworkCalls::openChannel(call)) if call.participant1 == self.us => {
                    Call::Open {
                        partner: call.participant2,
                        deposit: U256::ZERO,
                    }
                }
                Ok(ITokenNetworkCalls::openChannelWithDeposit(call))
                    if call.participant1 == self.us =>
                {
                    Call::Open {
                        partner: call.participant2,
                        deposit: call.participant1_total_deposit,
                    }
                }
                Ok(ITokenNetworkCalls::setTotalDeposit(call)) => Call::Deposit {
                    channel: call.channel_identifier,
                    total: call.total_deposit,
                },
                Ok(ITokenNetworkCalls::closeChannel(call)) => Call::Close {
                    channel: call.channel_identifier,
                },
                Ok(ITokenNetworkCalls::settleChannel(call)) => Call::Settle {
                    channel: call.channel_identifier,
                },
                _ => unknown(),
            };
        }
        unknown()
    }

    /// The chain's record of our account: nonces 0..n in order without gaps or repeats,
    /// no purpose twice, nothing reverted. Returns our transactions' calls.
    async fn check_chain(&self, what: &str) -> Vec<Call> {
        let ours = self.our_transactions().await;
        let listing = ours
            .iter()
            .map(|tx| {
                format!(
                    "  block {} nonce {} {:?} ok={} {}",
                    tx.block, tx.nonce, tx.call, tx.succeeded, tx.hash
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        let nonces: Vec<u64> = ours.iter().map(|tx| tx.nonce).collect();
        let expected: Vec<u64> = (0..ours.len() as u64).collect();
        assert_eq!(nonces, expected, "{what}: our nonces on chain:\n{listing}");
        let mut purposes = BTreeMap::new();
        for tx in &ours {
            if let Some(earlier) = purposes.insert(tx.call.purpose(), tx.hash) {
                panic!(
                    "{what}: purpose {:?} twice on chain ({earlier} and {}):\n{listing}",
                    tx.call.purpose(),
                    tx.hash
                );
            }
        }
        // Nothing of ours may revert: the journal and the checks before sending exist so
        // that a restart sends nothing a transaction before the crash already did.
        assert!(
            ours.iter().all(|tx| tx.succeeded),
            "{what}: a transaction of ours reverted:\n{listing}"
        );
        ours.into_iter().map(|tx| tx.call).collect()
    }

    /// What a join leaves on chain: one approve of the three deposits for the token
    /// network, and one open with 200 to each partner; nothing else.
    fn assert_join_calls(&self, calls: &[Call], partners: &BTreeSet<Address>, what: &str) {
        let expected: BTreeSet<Call> = std::iter::once(Call::Approve {
            spender: self.net.token_network,
            amount: U256::from(PER_PARTNER * TARGET as u64),
        })
        .chain(partners.iter().map(|partner| Call::Open {
            partner: *partner,
            deposit: U256::from(PER_PARTNER),
        }))
        .collect();
        let found: BTreeSet<Call> = calls.iter().cloned().collect();
        assert_eq!(found, expected, "{what}: the join's transactions on chain");
        assert_eq!(calls.len(), expected.len(), "{what}: {calls:?}");
    }
}

/// Opens a channel from dev account `from` to `to` without deposit, and waits for it.
async fn open_channel(net: &AnvilNet, from: usize, to: Address) {
    let (chain, pending) = net.send_open(from, to).await;
    chain.confirm(&pending).await.unwrap();
}

fn join_body() -> Value {
    json!({
        "funds": FUNDS,
        "initial_channel_target": TARGET,
        "joinable_funds_target": JOINABLE,
    })
}

/// One transaction of ours found on chain.
#[derive(Debug)]
struct OurTx {
    hash: B256,
    block: u64,
    nonce: u64,
    call: Call,
    succeeded: bool,
}

/// What a transaction of ours asked for, decoded from its calldata.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Call {
    Approve {
        spender: Address,
        amount: U256,
    },
    Open {
        partner: Address,
        deposit: U256,
    },
    Deposit {
        channel: U256,
        total: U256,
    },
    Close {
        channel: U256,
    },
    Settle {
        channel: U256,
    },
    Unknown {
        to: Option<Address>,
        selector: Vec<u8>,
    },
}

impl Call {
    /// What it is for: two transactions with one purpose are one too many.
    fn purpose(&self) -> String {
        match self {
            Call::Approve { spender, amount } => format!("approve {spender} {amount}"),
            Call::Open { partner, .. } => format!("open {partner}"),
            Call::Deposit { channel, total } => format!("deposit {channel} {total}"),
            Call::Close { channel } => format!("close {channel}"),
            Call::Settle { channel } => format!("settle {channel}"),
            Call::Unknown { to, selector } => format!("unknown {to:?} {selector:?}"),
        }
    }
}

async fn raw(provider: &RootProvider, method: &'static str, params: Value) -> Value {
    provider
        .raw_request(method.into(), params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// A join whose transactions are stuck (no blocks), killed right after the first
/// replacement was journaled and sent; restarted while every block's base fee is above
/// the first offers and below the replacement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_killed_after_a_replacement_was_sent() {
    let point = "replacement journaled and sent, old one not yet marked";
    let started = Instant::now();
    let mut world = World::start().await;
    world
        .args
        .extend(["--tx-replace-after".into(), "1s".into()]);
    raw(&world.provider, "evm_setIntervalMining", json!([0])).await;
    raw(&world.provider, "evm_setAutomine", json!([false])).await;
    let mut first = world.node("first run", Some(point)).await;
    world.crash_during(&mut first, "PUT", point).await;
    let killed = started.elapsed();

    // Blocks again, each with a base fee 7 % above the first offers (anvil evicts them)
    // and below the replacement (at least 10 % above).
    let datadir = world._files.path().join("datadir");
    let store = tokennet::node::store::Store::open(&datadir).unwrap();
    let before = store.journal_entries().unwrap();
    store.close().unwrap();
    assert!(
        before.iter().any(|e| e.replaces.is_some()),
        "a replacement journaled before the crash: {before:#?}"
    );
    let first_offer = before
        .iter()
        .filter(|e| e.replaces.is_none())
        .map(|e| e.fees.max_fee_per_gas)
        .max()
        .unwrap();
    let base_fee = first_offer * 107 / 100;
    let provider = world.provider.clone();
    let pressure = tokio::spawn(async move {
        loop {
            raw(
                &provider,
                "anvil_setNextBlockBaseFeePerGas",
                json!([format!("{base_fee:#x}")]),
            )
            .await;
            raw(&provider, "evm_mine", json!([])).await;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let second = world.node("after the restart", None).await;
    let partners = world
        .wait_joined(&second, "join killed at the replacement, after the restart")
        .await;
    pressure.abort();
    let calls = world.check_chain(point).await;
    world.assert_join_calls(&calls, &partners, point);

    // The journal: the replaced transaction and the one that won, of one nonce. Read once
    // the node is gone: it holds the datadir's lock while it runs.
    let mut second = second;
    second.kill();
    let store = tokennet::node::store::Store::open(&datadir).unwrap();
    let entries = store.journal_entries().unwrap();
    let replacement = entries
        .iter()
        .find(|e| e.replaces.is_some())
        .unwrap_or_else(|| panic!("a replacement in the journal: {entries:#?}"));
    let nonce: Vec<_> = entries
        .iter()
        .filter(|e| e.nonce == replacement.nonce)
        .collect();
    assert_eq!(
        nonce
            .iter()
            .filter(|e| e.outcome.as_deref() == Some("confirmed"))
            .count(),
        1,
        "one of nonce {} confirmed: {nonce:#?}",
        replacement.nonce
    );
    assert!(
        nonce
            .iter()
            .filter(|e| e.outcome.as_deref() != Some("confirmed"))
            .all(|e| e.outcome.as_deref() == Some("replaced")),
        "the others of nonce {} replaced: {nonce:#?}",
        replacement.nonce
    );
    assert!(
        entries.iter().all(|e| e.outcome.is_some()),
        "every entry resolved: {entries:#?}"
    );
    eprintln!(
        "join killed at {point:?}: killed after {killed:?}, done after {:?}",
        started.elapsed()
    );
    drop((first, second));
}

/// A join killed at `point`, then restarted.
async fn crash_a_join_at(point: &str) {
    let started = Instant::now();
    let world = World::start().await;
    let mut first = world.node("first run", Some(point)).await;
    world.crash_during(&mut first, "PUT", point).await;
    let killed = started.elapsed();

    let second = world.node("after the restart", None).await;
    let partners = world
        .wait_joined(
            &second,
            &format!("join killed at {point:?}, after the restart"),
        )
        .await;
    let calls = world.check_chain(point).await;
    world.assert_join_calls(&calls, &partners, point);
    assert_eq!(
        world.our_balance().await,
        U256::from(OUR_TOKENS - PER_PARTNER * TARGET as u64),
        "our tokens less the three deposits"
    );
    eprintln!(
        "join killed at {point:?}: killed after {killed:?}, done after {:?}",
        started.elapsed()
    );
    drop((first, second));
}

/// A join that completes uninterrupted, then a leave killed at `point`, then restarted.
async fn crash_a_leave_at(point: &str) {
    let started = Instant::now();
    let world = World::start().await;
    let before = world.our_balance().await;
    assert_eq!(before, U256::from(OUR_TOKENS));
    let mut first = world.node("first run", Some(point)).await;
    let (status, body) = first
        .call("PUT", &world.connection_path(), Some(join_body()))
        .await;
    assert_eq!(status, 204, "the uninterrupted join: {body}");
    let partners = world.wait_joined(&first, "the uninterrupted join").await;
    let calls = world.check_chain("the uninterrupted join").await;
    world.assert_join_calls(&calls, &partners, "the uninterrupted join");

    world.crash_during(&mut first, "DELETE", point).await;
    let killed = started.elapsed();

    let second = world.node("after the restart", None).await;
    eventually(
        &format!("the leave killed at {point:?} to settle every channel after the restart"),
        Duration::from_secs(90),
        || async {
            let (status, body) = second.call("GET", "/api/v1/channels", None).await;
            status == 200 && body == json!([])
        },
    )
    .await;
    let (status, connections) = second.call("GET", "/api/v1/connections", None).await;
    assert_eq!((status, connections), (200, json!({})));
    assert_eq!(
        world.our_balance().await,
        before,
        "every token back after the leave"
    );

    let calls = world.check_chain(point).await;
    let join_calls = &calls[..TARGET + 1];
    world.assert_join_calls(join_calls, &partners, point);
    // Then one close and one settle of each of the three channels, nothing else.
    let closed: BTreeSet<U256> = calls[TARGET + 1..]
        .iter()
        .filter_map(|call| match call {
            Call::Close { channel } => Some(*channel),
            _ => None,
        })
        .collect();
    let settled: BTreeSet<U256> = calls[TARGET + 1..]
        .iter()
        .filter_map(|call| match call {
            Call::Settle { channel } => Some(*channel),
            _ => None,
        })
        .collect();
    assert_eq!(closed.len(), TARGET, "{point}: closes {calls:?}");
    assert_eq!(settled, closed, "{point}: settles {calls:?}");
    assert_eq!(calls.len(), 3 * TARGET + 1, "{point}: {calls:?}");
    eprintln!(
        "leave killed at {point:?}: killed after {killed:?}, done after {:?}",
        started.elapsed()
    );
    drop((first, second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_killed_after_the_approve_was_sent() {
    crash_a_join_at("join: approve sent, channels not yet").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_killed_with_every_transaction_sent_and_none_confirmed() {
    crash_a_join_at("join: every transaction sent, none confirmed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_killed_with_every_transaction_confirmed() {
    crash_a_join_at("join: every transaction confirmed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_killed_with_the_closes_sent() {
    crash_a_leave_at("leave: closes sent, none confirmed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_killed_waiting_for_the_settle_timeout() {
    crash_a_leave_at("leave: closes confirmed, waiting for the settle timeout").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_killed_with_a_settle_sent() {
    crash_a_leave_at("leave: settle sent, not confirmed").await;
}

/// A join stopped by SIGTERM (not killed): with no grace period the PUT answers 503 at
/// once, the node exits cleanly, and after a restart the join completes exactly as an
/// uninterrupted one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_stopped_by_sigterm_resumes_after_a_restart() {
    let world = World::start().await;
    let mut args = world.args.clone();
    args.extend(["--shutdown-grace".into(), "0s".into()]);
    let mut first = NodeProcess::start("first run", &args, &[]).await;
    let (base, path) = (first.base().to_string(), world.connection_path());
    let request = tokio::spawn(async move { http(&base, "PUT", &path, Some(join_body())).await });
    first
        .wait_for_output("joining token network", Duration::from_secs(30))
        .await;
    first.terminate();
    let (status, body) = tokio::time::timeout(Duration::from_secs(30), request)
        .await
        .expect("the join answers within 30 s of SIGTERM")
        .unwrap()
        .unwrap_or_else(|e| panic!("the join got no answer: {e}\n{}", first.output()));
    assert_eq!(status, 503, "{body}\n{}", first.output());
    assert!(
        body["errors"]
            .as_str()
            .unwrap_or_default()
            .contains("shutting down"),
        "{body}"
    );
    let exit = first
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("the node exits within 30 s of SIGTERM");
    assert_eq!(exit.code(), Some(0), "{}", first.output());

    let second = world.node("after the restart", None).await;
    let partners = world
        .wait_joined(&second, "join stopped by SIGTERM, after the restart")
        .await;
    let calls = world.check_chain("sigterm").await;
    world.assert_join_calls(&calls, &partners, "sigterm");
    assert_eq!(
        world.our_balance().await,
        U256::from(OUR_TOKENS - PER_PARTNER * TARGET as u64),
        "our tokens less the three deposits"
    );
    drop((first, second));
}
