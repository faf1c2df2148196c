//! A real anvil (from `contracts/node_modules`, installed by `npm ci` in `contracts/`),
//! spawned on a free port for one test and killed when dropped, with our contracts
//! deployed and funded accounts.

use std::path::PathBuf;
use std::time::Duration;

use alloy::network::EthereumWallet;
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::providers::{Provider, ProviderBuilder};
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
        let anvil = Anvil::at(anvil_path())
            .block_time_f64(block_time)
            .args(["--accounts", "20"])
            .spawn();
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

    /// Sends an open (no deposit) from dev account `from` to `to`; returns the sender's
    /// chain and the transaction, for the caller to confirm once it is mined.
    pub async fn send_open(
        &self,
        from: usize,
        to: Address,
    ) -> (EthChain, tokennet::chain::PendingTx) {
        let chain = self.chain(from).await;
        let pending = chain
            .submit(tokennet::chain::Transaction::OpenChannel {
                token_network: self.token_network,
                partner: to,
            })
            .await
            .expect("sending the open");
        (chain, pending)
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

/// Our contracts on anvil as a [`super::scenarios::ScenarioNet`]: each account is one of
/// anvil's dev accounts (0 deployed the contracts and holds the test tokens).
pub struct AnvilScenario {
    /// The chain.
    pub net: AnvilNet,
    next_account: usize,
    second: Option<Address>,
}

impl AnvilScenario {
    /// Spawns anvil (half-second blocks, 20 accounts) and deploys the contracts with a
    /// two-second settle timeout.
    pub async fn start() -> Self {
        Self {
            net: AnvilNet::start(0.5, 2).await,
            next_account: 1,
            second: None,
        }
    }

    fn index_of(&self, account: Address) -> usize {
        (0..self.net.anvil.keys().len())
            .find(|i| self.net.signer(*i).address() == account)
            .expect("an anvil account")
    }

    /// A raw JSON-RPC call to anvil (its `anvil_*` and `evm_*` methods).
    pub async fn raw(&self, method: &'static str, params: serde_json::Value) -> serde_json::Value {
        let provider = alloy::providers::RootProvider::<alloy::network::Ethereum>::new_http(
            self.net.anvil.endpoint().parse().expect("anvil's URL"),
        );
        provider
            .raw_request(method.into(), params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }
}

impl super::scenarios::ScenarioNet for AnvilScenario {
    type C = EthChain;

    fn token(&self) -> Address {
        self.net.token
    }

    fn token_network(&self) -> Address {
        self.net.token_network
    }

    async fn second_token(&mut self) -> Address {
        let deployment = deploy(
            &self.net.anvil.endpoint(),
            self.net.signer(0),
            &DeployOptions {
                settle_timeout: 2,
                with_test_token: true,
            },
        )
        .await
        .expect("deploying a second token");
        // A token of its own registry would be unknown to our nodes: register the new
        // token in *our* registry instead.
        let token = deployment.test_token.expect("a test token");
        let chain = self.net.chain(0).await;
        let pending = chain
            .submit(tokennet::chain::Transaction::RegisterToken { token })
            .await
            .expect("registering the second token");
        chain.confirm(&pending).await.expect("registration mined");
        self.second = Some(token);
        token
    }

    async fn account(&mut self, tokens: U256) -> Address {
        let index = self.next_account;
        self.next_account += 1;
        self.net.give_tokens(index, tokens).await;
        if let Some(second) = self.second {
            let provider = ProviderBuilder::new()
                .wallet(EthereumWallet::from(self.net.signer(0)))
                .connect_http(self.net.anvil.endpoint().parse().expect("anvil's URL"));
            IERC20::new(second, &provider)
                .transfer(self.net.signer(index).address(), tokens)
                .send()
                .await
                .expect("transfer")
                .get_receipt()
                .await
                .expect("receipt");
        }
        self.net.signer(index).address()
    }

    async fn node(&mut self, account: Address) -> Node<EthChain> {
        let node = self.net.node(self.index_of(account)).await;
        node.wait_ready().await;
        node
    }

    async fn open_channel(&mut self, a: Address, b: Address) {
        let (chain, pending) = self.net.send_open(self.index_of(a), b).await;
        chain.confirm(&pending).await.expect("the open mined");
    }

    async fn set_mining_paused(&self, paused: bool) {
        let interval = if paused { 0 } else { 1 };
        self.raw("evm_setIntervalMining", serde_json::json!([interval]))
            .await;
    }

    async fn pending_transactions(&self) -> usize {
        let status = self.raw("txpool_status", serde_json::json!([])).await;
        let pending = status["pending"].as_str().unwrap_or("0x0");
        usize::from_str_radix(pending.trim_start_matches("0x"), 16).unwrap_or(0)
    }

    async fn balance(&self, owner: Address) -> U256 {
        let chain = self.net.chain(0).await;
        self.net.balance(&chain, owner).await
    }
}

/// One mined transaction, with its receipt's status.
#[derive(Clone, Debug)]
pub struct MinedTx {
    /// The sender.
    pub from: Address,
    /// The transaction's hash.
    pub hash: B256,
    /// Its block.
    pub block: u64,
    /// Its call data.
    pub input: Vec<u8>,
    /// The receipt's `status`: false when it reverted.
    pub succeeded: bool,
}

impl MinedTx {
    /// Whether it calls the function of `selector`.
    pub fn calls(&self, selector: [u8; 4]) -> bool {
        self.input.len() >= 4 && self.input[..4] == selector
    }

    /// The first argument of its call, when it is a channel identifier (close, settle).
    pub fn channel_argument(&self) -> Option<U256> {
        self.input.get(4..36).map(|word| U256::from_be_slice(word))
    }
}

impl AnvilScenario {
    /// The accounts handed out by [`super::scenarios::ScenarioNet::account`] so far.
    pub fn accounts(&self) -> Vec<Address> {
        (1..self.next_account)
            .map(|i| self.net.signer(i).address())
            .collect()
    }

    /// The newest block's number.
    pub async fn head(&self) -> u64 {
        let number = self.raw("eth_blockNumber", serde_json::json!([])).await;
        hex_u64(&number)
    }

    /// Every mined transaction sent from one of `senders`, read block by block from
    /// anvil (`eth_getBlockByNumber` with full transactions, and each one's receipt).
    pub async fn mined_transactions(&self, senders: &[Address]) -> Vec<MinedTx> {
        let head = self.head().await;
        let mut mined = Vec::new();
        for number in 0..=head {
            let block = self
                .raw(
                    "eth_getBlockByNumber",
                    serde_json::json!([format!("0x{number:x}"), true]),
                )
                .await;
            for tx in block["transactions"].as_array().into_iter().flatten() {
                let from: Address = tx["from"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .expect("a sender");
                if !senders.contains(&from) {
                    continue;
                }
                let hash: B256 = tx["hash"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .expect("a hash");
                let receipt = self
                    .raw("eth_getTransactionReceipt", serde_json::json!([hash]))
                    .await;
                let input = tx["input"].as_str().unwrap_or("0x");
                mined.push(MinedTx {
                    from,
                    hash,
                    block: number,
                    input: alloy::hex::decode(input).expect("hex call data"),
                    succeeded: hex_u64(&receipt["status"]) == 1,
                });
            }
        }
        mined
    }
}

fn hex_u64(value: &serde_json::Value) -> u64 {
    let text = value.as_str().expect("a hex quantity");
    u64::from_str_radix(text.trim_start_matches("0x"), 16).expect("a hex quantity")
}
