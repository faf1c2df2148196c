//! Settling after a close (SPEC §3.1) on the simulated chain, in virtual time: the
//! participant that did not close a channel settles it only if it is still unsettled a
//! grace period after its settle window opened, so that it never races the closer.

mod common;

use std::time::Duration;

use common::{e18, eventually, TestNet};
use tokennet::chain::{Chain, Transaction};
use tokennet::connection::SETTLE_GRACE_SECONDS;
use tokennet::node::ChannelPhase;
use tokennet::types::U256;

#[tokio::test(start_paused = true)]
async fn a_channel_the_partner_closed_and_left_is_settled_by_us_only_after_the_grace_period() {
    let net = TestNet::new(); // settle timeout 10 s
    let partner = net.account(e18());
    let us = net.account(e18());
    net.open_channel_now(partner, us, U256::from(100));
    let node = net.node(us);
    node.wait_ready().await;
    let channel = node.channels(None)[0].channel;

    // The partner closes and then never settles (it went away).
    net.chain
        .execute_now(
            partner,
            &Transaction::CloseChannel {
                token_network: net.token_network,
                channel_id: channel.id,
                partner: us,
            },
        )
        .expect("the partner's close");
    let mut closed_at = 0;
    eventually("our node to see the close", Duration::from_secs(30), || {
        let phase = node.channels(None).first().map(|c| c.channel.phase);
        if let Some(ChannelPhase::Closed { closed_at: at, .. }) = phase {
            closed_at = at;
        }
        async move { closed_at > 0 }
    })
    .await;

    // Halfway through the grace period, past the window: the closer's turn, not ours.
    let window_opens = closed_at + 10 + 1;
    let halfway = window_opens + SETTLE_GRACE_SECONDS / 2;
    eventually(
        &format!("the chain's time to reach {halfway}"),
        Duration::from_secs(300),
        || async { net.chain.latest_block().await.expect("head").timestamp >= halfway },
    )
    .await;
    let channels = node.channels(None);
    assert!(
        matches!(
            channels.first().map(|c| c.channel.phase),
            Some(ChannelPhase::Closed { .. })
        ),
        "the channel is still closed, not settled, {} s after its window opened: {channels:?}",
        SETTLE_GRACE_SECONDS / 2
    );

    // After the grace period, nobody else has settled it: we do.
    eventually(
        "our node to settle the channel the partner left",
        Duration::from_secs(300),
        || async { node.channels(None).is_empty() },
    )
    .await;
    assert_eq!(
        net.balance(partner),
        e18(),
        "the partner's deposit went back"
    );
}
