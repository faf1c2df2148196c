//! What the examples share: the pinned anvil from `contracts/node_modules`, its dev keys,
//! and an `EthChain` on it. (Examples cannot use `tests/common`; this is the same lookup.)

use std::path::PathBuf;
use std::time::Duration;

use alloy::node_bindings::AnvilInstance;
use alloy::signers::local::PrivateKeySigner;
use anyhow::anyhow;
use tokennet::chain::ethereum::{Deployment, EthChain, EthConfig};
use tokennet::types::B256;

/// The platform binary of the npm package `@foundry-rs/anvil` (not the `.bin/anvil` node
/// wrapper: killing the wrapper would leave anvil running).
pub fn anvil_path() -> anyhow::Result<PathBuf> {
    let packages =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contracts/node_modules/@foundry-rs");
    std::fs::read_dir(&packages)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin/anvil"))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            anyhow!(
                "anvil not found under {}: run `npm ci` in contracts/",
                packages.display()
            )
        })
}

/// The key of anvil's dev account `index`.
pub fn dev_signer(anvil: &AnvilInstance, index: usize) -> anyhow::Result<PrivateKeySigner> {
    let key = anvil
        .keys()
        .get(index)
        .ok_or_else(|| anyhow!("anvil has no dev account {index}"))?;
    Ok(PrivateKeySigner::from_bytes(&B256::from_slice(
        &key.to_bytes(),
    ))?)
}

/// An `EthChain` for dev account `index` on `anvil`, with the contracts of `deployment`.
pub async fn dev_chain(
    anvil: &AnvilInstance,
    deployment: &Deployment,
    index: usize,
    confirmation_blocks: u64,
    poll_interval: Duration,
) -> anyhow::Result<EthChain> {
    let config = EthConfig {
        rpc_url: anvil.endpoint(),
        registry: deployment.token_network_registry,
        start_block: deployment.start_block,
        confirmation_blocks,
        poll_interval,
    };
    Ok(EthChain::connect(config, dev_signer(anvil, index)?).await?)
}
