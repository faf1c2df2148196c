//! `GET /api/v1/connections/<token>` and `partner_selection` through the real binary
//! (SPEC §2.3, §2.8, §7): the node's default from `--partner-selection`, a PUT that names
//! another replacing it, and the connection as it was after a restart on `--datadir`.
//! On our contracts on anvil, the node a real `tokennet` process.

mod common;

use std::ffi::OsString;
use std::process::Command;
use std::time::Duration;

use alloy::providers::{Provider, RootProvider};
use common::anvil::AnvilNet;
use common::eventually;
use common::process::NodeProcess;
use serde_json::json;
use tokennet::chain::Chain;
use tokennet::connection::strategy::StrategyKind;
use tokennet::types::{checksummed, U256};

/// Dev accounts of the other participants (0 deployed the contracts).
const PARTICIPANTS: [usize; 2] = [1, 2];
/// Our dev account.
const OURS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_selection_is_the_flags_default_is_replaced_by_a_put_and_survives_a_restart() {
    let net = AnvilNet::start(0.5, 3).await;
    let provider =
        RootProvider::<alloy::network::Ethereum>::new_http(net.anvil.endpoint().parse().unwrap());
    let (chain, pending) = net
        .send_open(PARTICIPANTS[0], net.signer(PARTICIPANTS[1]).address())
        .await;
    chain.confirm(&pending).await.unwrap();
    net.give_tokens(OURS, U256::from(1000)).await;
    // With `--confirmation-blocks 1` the node counts a block once another is on top.
    let setup_head = provider.get_block_number().await.unwrap();
    eventually(
        "a block on top of the participants' channel",
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
    let args: Vec<OsString> = vec![
        "node".into(),
        "--eth-rpc-endpoint".into(),
        net.anvil.endpoint().into(),
        "--private-key-file".into(),
        key_file.into_os_string(),
        "--deployment".into(),
        deployment_file.into_os_string(),
        "--datadir".into(),
        files.path().join("datadir").into_os_string(),
        "--confirmation-blocks".into(),
        "1".into(),
    ];
    let path = format!("/api/v1/connections/{}", checksummed(&net.token));

    let mut with_flag = args.clone();
    with_flag.extend(["--partner-selection".into(), "highest_capacity".into()]);
    let mut first = NodeProcess::start("first run", &with_flag, &[]).await;
    let (status, body) = first.call("GET", &path, None).await;
    assert_eq!(status, 404, "not joined yet: {body}");

    // No strategy in the body: the flag's.
    let (status, body) = first
        .call(
            "PUT",
            &path,
            Some(json!({"funds": "600", "initial_channel_target": "2"})),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = first.call("GET", &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "funds": 600, "initial_channel_target": 2, "joinable_funds_target": 0.4,
            "partner_selection": "highest_capacity", "state": "joined",
            "sum_deposits": 360, "channels": 2,
        })
    );

    // A second PUT replaces it, like the other parameters.
    let (status, body) = first
        .call(
            "PUT",
            &path,
            Some(json!({"funds": 700, "initial_channel_target": 2, "joinable_funds_target": "0.5", "partner_selection": "preferential_attachment"})),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (_, before) = first.call("GET", &path, None).await;
    assert_eq!(before["partner_selection"], "preferential_attachment");
    assert_eq!(before["funds"], 700);
    assert_eq!(before["joinable_funds_target"], 0.5);

    // After a restart without the flag (its default is uniform), the same connection.
    first.terminate();
    assert!(
        first.wait_exit(Duration::from_secs(30)).await.is_some(),
        "the first run stops on SIGTERM"
    );
    let second = NodeProcess::start("after the restart", &args, &[]).await;
    let (status, after) = second.call("GET", &path, None).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(
        after, before,
        "the connection is as it was before the restart"
    );
    assert_eq!(
        StrategyKind::default().name(),
        "uniform",
        "the restart's default differs from what was stored"
    );

    // An address that is not EIP-55: 404, as everywhere.
    let (status, body) = second.call("GET", &path.to_lowercase(), None).await;
    assert_eq!(status, 404, "{body}");
}

/// A name that is no strategy: exit code 2, nothing started, a message naming the flag
/// and every valid name (SPEC §7).
#[test]
fn an_unknown_partner_selection_stops_the_node_naming_the_valid_ones() {
    let output = Command::new(env!("CARGO_BIN_EXE_tokennet"))
        .args(["node", "--partner-selection", "random"])
        .output()
        .expect("running tokennet");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--partner-selection"), "{stderr}");
    assert!(stderr.contains(&StrategyKind::names()), "{stderr}");
    let help = Command::new(env!("CARGO_BIN_EXE_tokennet"))
        .args(["node", "--help"])
        .output()
        .expect("running tokennet --help");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--partner-selection <NAME>"), "{help}");
    assert!(help.contains("[default: uniform]"), "{help}");
}
