//! The state database of a long-lived node on the simulated chain (virtual time): after a
//! join and a leave, once the settled channels are older than every checkpoint, their
//! events are compacted away while the participants they taught stay, and the view a
//! restart rebuilds from the database still knows every participant.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{e18, TestNet};
use tokennet::chain::ChainEvent;
use tokennet::connection::ConnectionParams;
use tokennet::node::{Node, View};

#[tokio::test(start_paused = true)]
async fn settled_channels_are_compacted_and_their_participants_kept() {
    let net = TestNet::new();
    let peers: Vec<_> = (0..3).map(|_| net.account(e18())).collect();
    net.open_channel_now(
        peers[0],
        peers[1],
        e18() / tokennet::types::U256::from(10u64),
    );
    net.open_channel_now(
        peers[1],
        peers[2],
        e18() / tokennet::types::U256::from(10u64),
    );
    let us = net.account(e18());
    let datadir = tempfile::tempdir().unwrap();
    let node = Node::builder(net.chain.for_account(us))
        .seed(7)
        .datadir(datadir.path())
        .open()
        .await
        .unwrap();
    node.wait_ready().await;

    let params = ConnectionParams {
        partner_selection: Default::default(),
        initial_channel_target: 2,
        ..ConnectionParams::with_funds(e18() / tokennet::types::U256::from(2u64))
    };
    node.join(net.token, params).await.unwrap();
    let partners = node.leave(net.token).await.unwrap();
    assert_eq!(partners.len(), 2);
    let our_channels_in_log = |events: &[tokennet::chain::EventRecord]| {
        events
            .iter()
            .filter(|r| {
                matches!(r.event, ChainEvent::ChannelOpened { participant1, participant2, .. }
                    if participant1 == us || participant2 == us)
            })
            .count()
    };
    assert_eq!(our_channels_in_log(&node.store().load().unwrap().events), 2);

    // Long enough for the settlements to fall behind every kept checkpoint (one per
    // block here) and for a compaction to run.
    tokio::time::sleep(Duration::from_secs(400)).await;
    let loaded = node.store().load().unwrap();
    assert_eq!(
        our_channels_in_log(&loaded.events),
        0,
        "the settled channels' events are gone"
    );
    let opened_among_peers = loaded
        .events
        .iter()
        .filter(|r| matches!(r.event, ChainEvent::ChannelOpened { .. }))
        .count();
    assert_eq!(opened_among_peers, 2, "the peers' open channels stay");

    let restored = View::restore(
        us,
        &loaded.events,
        &loaded.participants,
        &loaded.connections,
    );
    let network = restored.network(&net.token_network).unwrap();
    for participant in peers.iter().chain([&us]) {
        assert!(
            network.participants.contains(participant),
            "{participant} is still a participant after compaction"
        );
    }
    assert!(network.channels.is_empty());
    assert!(network.manager.unwrap().is_leaving());
}
