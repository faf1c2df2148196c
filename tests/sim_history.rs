//! The simulated chain's memory stays flat: it keeps the events its nodes still need and a
//! bounded window besides, and the newest receipts; asking for what it forgot is a clear
//! error, never a wrong answer (virtual time).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{e18, TestNet};
use tokennet::chain::sim::{HistoryLimits, SimChain};
use tokennet::chain::{Chain, ChainError, ChainEvent, EventRecord, PendingTx, Transaction};
use tokennet::connection::ConnectionParams;
use tokennet::types::{Address, TokenAmount, U256};

/// Small limits, so that a short test goes far past them.
const SMALL: HistoryLimits = HistoryLimits {
    events: 16,
    receipts: 16,
    max_events: 1024,
};

#[tokio::test(start_paused = true)]
async fn history_stays_bounded_over_many_join_leave_cycles() {
    let net = TestNet::with(SimChain::builder().settle_timeout(10).history(SMALL));
    let peers: Vec<Address> = (0..3).map(|_| net.account(e18())).collect();
    let tenth = e18() / U256::from(10u64);
    net.open_channel_now(peers[0], peers[1], tenth);
    net.open_channel_now(peers[1], peers[2], tenth);
    let us = net.account(e18());
    let node = net.node(us);
    // A second node that only follows the chain: it must not miss our channels either.
    let observer = net.node(peers[0]);
    node.wait_ready().await;
    observer.wait_ready().await;

    let params = ConnectionParams {
        partner_selection: Default::default(),
        initial_channel_target: 2,
        ..ConnectionParams::with_funds(e18() / U256::from(2u64))
    };
    let cycles = 30;
    let (mut most_events, mut most_receipts) = (0, 0);
    for cycle in 0..cycles {
        node.join(net.token, params).await.unwrap();
        if node
            .channels(Some(net.token))
            .iter()
            .any(|c| c.channel.partner == peers[0])
        {
            common::eventually(
                "the observer to see our new channel with it",
                Duration::from_secs(60),
                || async {
                    observer
                        .channels(Some(net.token))
                        .iter()
                        .any(|c| c.channel.partner == us)
                },
            )
            .await;
        }
        // Leaving waits until the node has read the settlements from the chain: a node
        // that missed an event would hang here.
        let partners = tokio::time::timeout(Duration::from_secs(300), node.leave(net.token))
            .await
            .unwrap_or_else(|_| panic!("cycle {cycle}: the leave did not settle in 300 s"))
            .unwrap();
        assert_eq!(partners.len(), 2, "cycle {cycle}");
        let kept = net.chain.history_len();
        most_events = most_events.max(kept.events);
        most_receipts = most_receipts.max(kept.receipts);
    }

    // About 8 events and 7 receipts per cycle: 240 and 210 without pruning.
    let kept = net.chain.history_len();
    assert!(
        kept.first_block > 0,
        "history was pruned after {cycles} cycles: {kept:?}"
    );
    assert!(
        most_events <= 3 * SMALL.events,
        "at most {} events kept at any cycle's end, whatever the number of cycles; saw {most_events} ({kept:?})",
        3 * SMALL.events
    );
    assert!(
        most_receipts <= 2 * SMALL.receipts,
        "at most {} receipts kept; saw {most_receipts} ({kept:?})",
        2 * SMALL.receipts
    );

    // The observer followed every settlement too: no channel with us is left in its view
    // (settled channels leave it).
    common::eventually(
        "the observer to see every channel with us settled",
        Duration::from_secs(60),
        || async {
            !observer
                .channels(Some(net.token))
                .iter()
                .any(|c| c.channel.partner == us)
        },
    )
    .await;
}

/// A simulated chain with a token network, two funded accounts that approved it, and the
/// events its set-up emitted.
struct Setup {
    chain: SimChain,
    network: Address,
    token: Address,
    a: Address,
    b: Address,
    emitted: Vec<ChainEvent>,
}

fn setup(limits: HistoryLimits) -> Setup {
    let chain = SimChain::builder()
        .settle_timeout(1)
        .history(limits)
        .build();
    let token = chain.deploy_test_token();
    let registered = chain
        .execute_now(chain.our_address(), &Transaction::RegisterToken { token })
        .unwrap();
    let network = registered.token_network.unwrap();
    let mut emitted = registered.events;
    let a = chain.create_account(1, U256::from(10u64) * e18());
    let b = chain.create_account(2, U256::from(10u64) * e18());
    for who in [a, b] {
        chain.mint(token, who, e18()).unwrap();
        let approve = Transaction::Approve {
            token,
            spender: network,
            amount: TokenAmount(e18()),
        };
        emitted.extend(chain.execute_now(who, &approve).unwrap().events);
    }
    Setup {
        chain,
        network,
        token,
        a,
        b,
        emitted,
    }
}

impl Setup {
    /// One channel life between `a` and `b`: open with a deposit, close, settle (four
    /// events), with blocks mined in between.
    async fn channel_cycle(&mut self) {
        let opened = self
            .chain
            .execute_now(
                self.a,
                &Transaction::OpenChannelWithDeposit {
                    token_network: self.network,
                    partner: self.b,
                    total_deposit: TokenAmount::from(10),
                },
            )
            .unwrap();
        let channel_id = opened.channel_id.unwrap();
        self.emitted.extend(opened.events);
        let close = Transaction::CloseChannel {
            token_network: self.network,
            channel_id,
            partner: self.b,
        };
        self.emitted
            .extend(self.chain.execute_now(self.a, &close).unwrap().events);
        // Past the settle timeout, a few blocks later.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let settle = Transaction::SettleChannel {
            token_network: self.network,
            channel_id,
            partner: self.a,
        };
        self.emitted
            .extend(self.chain.execute_now(self.b, &settle).unwrap().events);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Reads the chain as a node does: from the block after the last one read to the head.
struct Follower {
    chain: SimChain,
    next: u64,
    seen: Vec<EventRecord>,
}

impl Follower {
    async fn poll(&mut self) {
        let head = self.chain.latest_block().await.unwrap().number;
        let events = self.chain.events(self.next, head).await.unwrap();
        self.seen.extend(events);
        self.next = head + 1;
    }

    fn seen_events(&self) -> Vec<ChainEvent> {
        self.seen.iter().map(|r| r.event.clone()).collect()
    }
}

fn pruned_error(result: Result<impl std::fmt::Debug, ChainError>, what: &str) -> String {
    match result {
        Err(ChainError::Rpc(message)) if message.contains("history pruned") => message,
        other => panic!("{what}: expected a history-pruned RPC error, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_follower_sees_every_event_and_pruned_history_is_a_clear_error() {
    let limits = HistoryLimits {
        events: 8,
        receipts: 4,
        max_events: 64,
    };
    let mut s = setup(limits);
    let mut follower = Follower {
        chain: s.chain.for_account(s.a),
        next: 0,
        seen: Vec::new(),
    };
    let first = follower
        .chain
        .submit(Transaction::Approve {
            token: s.token,
            spender: s.network,
            amount: TokenAmount(e18()),
        })
        .await
        .unwrap();
    follower.chain.confirm(&first).await.unwrap();

    // A node that starts while the chain is young reads it from block 0.
    s.channel_cycle().await;
    follower.poll().await;
    let head = s.chain.head().number;
    let late = s.chain.for_account(Address::repeat_byte(0x1a));
    let all = late.events(0, head).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.event.clone()).collect::<Vec<_>>(),
        s.emitted,
        "a late starter reads every event while they are kept"
    );
    drop(late);

    for _ in 0..20 {
        s.channel_cycle().await;
        follower.poll().await;
        let approve = follower
            .chain
            .submit(Transaction::Approve {
                token: s.token,
                spender: s.network,
                amount: TokenAmount(e18()),
            })
            .await
            .unwrap();
        follower.chain.confirm(&approve).await.unwrap();
    }
    follower.poll().await;
    assert_eq!(
        follower.seen_events(),
        s.emitted,
        "the follower saw every event once, in chain order"
    );
    assert_eq!(
        s.emitted.len(),
        1 + 21 * 4,
        "the registration and 21 channel lives"
    );

    let kept = s.chain.history_len();
    assert!(kept.first_block > 0, "pruned: {kept:?}");
    assert!(
        kept.events <= 2 * limits.events,
        "events kept bounded by the window: {kept:?}"
    );
    assert!(
        kept.receipts <= limits.receipts,
        "receipts bounded: {kept:?}"
    );

    // Asking for what was forgotten: an error that says so, never a short answer.
    let newcomer = s.chain.for_account(Address::repeat_byte(0x2b));
    let message = pruned_error(newcomer.events(0, head).await, "a new node from block 0");
    assert!(
        message.contains(&format!("from block {}", kept.first_block)),
        "{message}"
    );
    pruned_error(
        follower.chain.events(0, 1).await,
        "an old range asked again",
    );
    // The first receipt is gone: not `Dropped`, which would invite sending it again.
    pruned_error(
        follower.chain.confirm(&first).await,
        "the confirmation of a pruned receipt",
    );
    // A transaction signed and never sent is still reported dropped.
    let unsent = follower
        .chain
        .sign(Transaction::Approve {
            token: s.token,
            spender: s.network,
            amount: TokenAmount(e18()),
        })
        .await
        .unwrap();
    let unsent = PendingTx {
        hash: unsent.hash,
        nonce: unsent.nonce,
        transaction: unsent.transaction,
        fees: unsent.fees,
    };
    assert!(
        matches!(
            follower.chain.confirm(&unsent).await,
            Err(ChainError::Dropped { .. })
        ),
        "a transaction never sent is dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lagging_follower_holds_history_until_the_cap_or_until_it_is_dropped() {
    let limits = HistoryLimits {
        events: 8,
        receipts: 16,
        max_events: 40,
    };
    let mut s = setup(limits);
    let slow = s.chain.for_account(Address::repeat_byte(0x3c));
    slow.events(0, s.chain.head().number).await.unwrap();
    // 1 + 7 × 4 = 29 events: within the cap, all kept for the slow follower.
    for _ in 0..7 {
        s.channel_cycle().await;
    }
    let head = s.chain.head().number;
    let all = slow.events(0, head).await.unwrap();
    assert_eq!(
        all.len(),
        s.emitted.len(),
        "the lagging follower reads it all"
    );
    assert!(s.chain.history_len().events >= s.emitted.len());

    // Past the cap, even a lagging follower loses the oldest events.
    for _ in 0..5 {
        s.channel_cycle().await;
    }
    let kept = s.chain.history_len();
    assert!(kept.events <= limits.max_events, "{kept:?}");
    pruned_error(slow.events(0, head).await, "a follower behind the cap");

    // A follower that goes away stops holding anything.
    let head = s.chain.head().number;
    let leaving = s.chain.for_account(Address::repeat_byte(0x4d));
    leaving.events(head, head).await.unwrap();
    drop(slow);
    for _ in 0..8 {
        s.channel_cycle().await;
    }
    assert!(
        s.chain.history_len().events > limits.events,
        "the departing follower still holds its events"
    );
    drop(leaving);
    s.channel_cycle().await;
    let kept = s.chain.history_len();
    assert!(
        kept.events <= 2 * limits.events,
        "with no follower behind, only the window is kept: {kept:?}"
    );
}
