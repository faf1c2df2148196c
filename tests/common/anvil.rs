//! A real anvil (from `contracts/node_modules`, installed by `npm ci` in `contracts/`),
//! spawned on a free port for one test and killed when dropped, with our contracts
//! deployed and funded accounts.

use std::path::PathBuf;
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::providers::ProviderBuilder;
use alloy::signers::local::PrivateKeySigner;
use tokennet::chain::ethereum::contracts::IERC20;
use tokennet::chain::ethereum::{deploy, DeployOptions, Deployment, EthChain, EthConfig};
use tokennet::chain::Chain;
use tokennet::node::Node;
use tokennet::types::{Address, B256, U256};

/// Path of the anvil binary the npm package installs. The platform package's binary, not
/// the `.bin/anvil` node wrapper: killing the wrapper would leave anvil running.
pub fn anvil_path() -> PathBuf {
    let packages =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contracts/node_modules/@foundry-rs");
    let binary = std::fs::read_dir(&packages)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin/anvil"))
        .find(|path| path.is_file());
    binary.unwrap_or_else(|| {
        panic!(
            "anvil not found under {}: run `npm ci` in contracts/ (scripts/test.sh does)",
            packages.display()
        )
    })
}

/// A running anvil with the contracts deployed (a test token included).
pub struct AnvilNet {
    /// The anvil process (killed on drop).
    pub anvil: AnvilInstance,
    /// What was deployed.
    pub deployment: Deployment,
    /// The test token.
    pub token: Address,
    /// Its token network.
    pub token_network: Address,
}

fn signer(anvil: &AnvilInstance, index: usize) -> PrivateKeySigner {
    let key = &anvil.keys()[index];
    PrivateKeySigner::from_bytes(&B256::from_slice(&key.to_bytes()))
        .expect("anvil's keys are valid")
}

impl AnvilNet {
    /// Spawns anvil with `block_time` seconds between blocks and deploys the contracts
    /// with a settle timeout of `settle_timeout` seconds.
    pub async fn start(block_time: f64, settle_timeout: u64) -> Self {
        let anvil = Anvil::at(anvil_path()).block_time_f64(block_time).spawn();
        let deployment = deploy(
            &anvil.endpoint(),
            signer(&anvil, 0),
            &DeployOptions {
                settle_timeout,
                with_test_token: true,
            },
        )
        .await
        .expect("deploying the contracts on anvil");
        let token = deployment.test_token.expect("a test token was deployed");
        let token_network = deployment
            .test_token_network
            .expect("its network was registered");
        Self {
            anvil,
            deployment,
            token,
            token_network,
        }
    }

    /// The key of anvil's dev account `index` (account 0 deployed the contracts and holds
    /// the test tokens).
    pub fn signer(&self, index: usize) -> PrivateKeySigner {
        signer(&self.anvil, index)
    }

    /// A chain handle for dev account `index`.
    pub async fn chain(&self, index: usize) -> EthChain {
        EthChain::connect(
            EthConfig {
                rpc_url: self.anvil.endpoint(),
                registry: self.deployment.token_network_registry,
                start_block: self.deployment.start_block,
                confirmation_blocks: 0,
                poll_interval: Duration::from_millis(200),
            },
            self.signer(index),
        )
        .await
        .expect("connecting to anvil")
    }

    /// A started node for dev account `index`.
    pub async fn node(&self, index: usize) -> Node<EthChain> {
        Node::builder(self.chain(index).await)
            .tx_timeout(Duration::from_secs(30))
            .seed(7)
            .start()
    }

    /// Sends `amount` test tokens from the deployer to dev account `index`.
    pub async fn give_tokens(&self, index: usize, amount: U256) {
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(self.signer(0)))
            .connect_http(self.anvil.endpoint().parse().expect("anvil's URL"));
        let to = self.signer(index).address();
        IERC20::new(self.token, &provider)
            .transfer(to, amount)
            .send()
            .await
            .expect("sending the transfer")
            .get_receipt()
            .await
            .expect("the transfer's receipt");
    }

    /// Token balance of `owner`, on chain.
    pub async fn balance(&self, chain: &EthChain, owner: Address) -> U256 {
        chain
            .token_balance(self.token, owner)
            .await
            .expect("balanceOf")
            .get()
    }
}
