//! `EthChain`: the [`Chain`] on a real Ethereum JSON-RPC endpoint, through alloy.
//!
//! * Reads go through a plain provider; reads that fail are retried with backoff before
//!   they count as an RPC failure.
//! * Transactions are signed here with the node's key, with nonces kept locally, so that
//!   the transactions of a join are sent at once and mined in one block.
//! * Events come from `eth_getLogs` over the registry and every token network it
//!   created, up to the head minus the confirmation depth.
//! * Closing a channel without payments signs the empty balance proof of SPEC §5.3.

pub mod contracts;
mod deploy;
pub mod signing;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::eips::{BlockNumberOrTag, Encodable2718};
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Bytes, FixedBytes};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::{Filter, Log, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};

pub use deploy::{deploy, DeployOptions, Deployment};
pub use signing::{balance_proof_counter_signature_message, closing_signature};

use self::contracts::{ICustomToken, ITokenNetwork, ITokenNetworkRegistry, IERC20};
use crate::chain::fees::{self, Fees, WEI_PER_GWEI};
use crate::chain::gas::GAS;
use crate::chain::{
    BlockInfo, Chain, ChainError, ChainEvent, EventRecord, PendingTx, Receipt, SignedTx,
    Transaction,
};
use crate::types::{Address, ChannelId, TokenAmount, B256, U256};

/// Default confirmation depth on a real chain.
pub const DEFAULT_CONFIRMATION_BLOCKS: u64 = 5;
/// Default interval between polls for new blocks.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Gas limit of a token registration, enough for Raiden 0.50's registry as well as ours.
const REGISTER_TOKEN_GAS_LIMIT: u64 = 5_000_000;
/// The tip offered when the node does not answer `eth_maxPriorityFeePerGas`: 1 gwei,
/// what geth suggests on a quiet chain.
pub const DEFAULT_PRIORITY_FEE: u128 = WEI_PER_GWEI;
/// Attempts of a read before it is an RPC failure.
const READ_ATTEMPTS: u32 = 4;
/// Longest wait for one JSON-RPC answer. Without it, a frozen endpoint (a process
/// stopped with SIGSTOP, a hung proxy: the kernel still accepts the TCP connection) makes
/// every call wait forever. Ten seconds is far above what a healthy endpoint takes for
/// the largest request the node makes (`eth_getLogs` over 10,000 blocks), and short
/// enough that a hung endpoint is reported within a minute.
pub const RPC_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to reach the chain.
#[derive(Clone, Debug)]
pub struct EthConfig {
    /// The JSON-RPC endpoint.
    pub rpc_url: String,
    /// The TokenNetworkRegistry.
    pub registry: Address,
    /// The block the registry was deployed in: events are read from there on.
    pub start_block: u64,
    /// Blocks before an event or a receipt counts.
    pub confirmation_blocks: u64,
    /// Interval between polls.
    pub poll_interval: Duration,
}

/// The chain on an Ethereum JSON-RPC endpoint, acting for one key. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EthChain {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    provider: RootProvider,
    signer: PrivateKeySigner,
    wallet: EthereumWallet,
    config: EthConfig,
    chain_id: u64,
    /// The next nonce to use; `None` until first asked of the chain.
    next_nonce: tokio::sync::Mutex<Option<u64>>,
    /// Held from signing to sending by [`Chain::submit`].
    submission: tokio::sync::Mutex<()>,
    /// Token networks the registry created, learned from its events.
    networks: Mutex<Vec<Address>>,
    /// The last answer of [`Chain::deployment_identity`]: when it changes, the nonce
    /// cache belongs to another chain.
    last_identity: Mutex<Option<String>>,
}

/// A transport or RPC error as a chain error, without the credentials of the URL that
/// reqwest's messages name.
fn rpc<E: std::fmt::Display>(error: E) -> ChainError {
    ChainError::Rpc(crate::redact::redact_urls_in(&error.to_string()))
}

/// A read's failure: an endpoint that gave no answer at all (the connection refused or
/// cut, no answer within [`RPC_REQUEST_TIMEOUT`]) is unavailable (503: try again); an
/// answer we cannot use (an HTTP error status, a JSON-RPC error, a malformed body) is an
/// RPC failure, as before.
fn read_error(error: alloy::transports::TransportError) -> ChainError {
    use alloy::transports::{RpcError, TransportErrorKind};
    match error {
        RpcError::Transport(TransportErrorKind::Custom(_) | TransportErrorKind::BackendGone) => {
            ChainError::Unavailable(crate::redact::redact_urls_in(&error.to_string()))
        }
        other => rpc(other),
    }
}

/// A contract call's failure, classified like [`read_error`].
fn call_error(error: alloy::contract::Error) -> ChainError {
    match error {
        alloy::contract::Error::TransportError(error) => read_error(error),
        other => rpc(other),
    }
}

impl EthChain {
    /// Connects to `config.rpc_url` and signs with `signer`.
    pub async fn connect(config: EthConfig, signer: PrivateKeySigner) -> Result<Self, ChainError> {
        let url = config
            .rpc_url
            .parse::<alloy::transports::http::reqwest::Url>()
            .map_err(|e| {
                ChainError::Rpc(format!(
                    "invalid RPC URL {}: {}",
                    crate::redact::redact_url(&config.rpc_url),
                    crate::redact::redact_urls_in(&e.to_string())
                ))
            })?;
        let http = alloy::transports::http::reqwest::Client::builder()
            .timeout(RPC_REQUEST_TIMEOUT)
            .build()
            .map_err(|e| ChainError::Rpc(format!("building the HTTP client: {e}")))?;
        let transport = alloy::transports::http::Http::with_client(http, url);
        let is_local = transport.guess_local();
        let provider = RootProvider::new(alloy::rpc::client::RpcClient::new(transport, is_local));
        let chain_id = provider.get_chain_id().await.map_err(read_error)?;
        let wallet = EthereumWallet::from(signer.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                provider,
                signer,
                wallet,
                config,
                chain_id,
                next_nonce: tokio::sync::Mutex::new(None),
                submission: tokio::sync::Mutex::new(()),
                networks: Mutex::new(Vec::new()),
                last_identity: Mutex::new(None),
            }),
        })
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.inner.chain_id
    }

    /// The provider, for tools and tests.
    pub fn provider(&self) -> &RootProvider {
        &self.inner.provider
    }

    /// Retries a read a few times with backoff: a lagging or briefly unreachable endpoint
    /// must not fail a call at once.
    async fn read<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, ChainError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ChainError>>,
    {
        let mut delay = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(error) if attempt >= READ_ATTEMPTS => {
                    // `error` is normally a `ChainError::Rpc` already: keep its message
                    // without its "chain RPC failed: " prefix, which the returned error
                    // adds again (the answer read "chain RPC failed: balanceOf: chain RPC
                    // failed: …"), and say that the read was retried. An endpoint that
                    // could not be reached stays unavailable (503), not a failure (500).
                    return Err(match error {
                        ChainError::Unavailable(cause) => ChainError::Unavailable(format!(
                            "{what} failed {READ_ATTEMPTS} times: {cause}"
                        )),
                        ChainError::Rpc(cause) => {
                            ChainError::Rpc(format!("{what} failed {READ_ATTEMPTS} times: {cause}"))
                        }
                        other => {
                            ChainError::Rpc(format!("{what} failed {READ_ATTEMPTS} times: {other}"))
                        }
                    });
                }
                Err(error) => {
                    tracing::debug!(%error, attempt, "read failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
            }
        }
    }

    async fn head(&self) -> Result<u64, ChainError> {
        self.read("eth_blockNumber", || async {
            self.inner
                .provider
                .get_block_number()
                .await
                .map_err(read_error)
        })
        .await
    }

    async fn block_timestamp(&self, number: u64) -> Result<u64, ChainError> {
        self.read("eth_getBlockByNumber", || async {
            let block = self
                .inner
                .provider
                .get_block_by_number(BlockNumberOrTag::Number(number))
                .await
                .map_err(read_error)?
                .ok_or_else(|| ChainError::Rpc(format!("block {number} not found")))?;
            Ok(block.header.timestamp)
        })
        .await
    }

    fn known_networks(&self) -> Vec<Address> {
        self.inner
            .networks
            .lock()
            .map(|n| n.clone())
            .unwrap_or_default()
    }

    async fn logs(
        &self,
        addresses: Vec<Address>,
        from: u64,
        to: u64,
    ) -> Result<Vec<Log>, ChainError> {
        if addresses.is_empty() {
            return Ok(Vec::new());
        }
        let filter = Filter::new()
            .address(addresses)
            .from_block(from)
            .to_block(to);
        self.read("eth_getLogs", || async {
            self.inner
                .provider
                .get_logs(&filter)
                .await
                .map_err(read_error)
        })
        .await
    }

    /// Calldata and destination of a transaction.
    fn encode(&self, transaction: &Transaction) -> Result<(Address, Bytes), ChainError> {
        let us = self.our_address();
        Ok(match transaction {
            Transaction::RegisterToken { token } => (
                self.inner.config.registry,
                ITokenNetworkRegistry::createERC20TokenNetworkCall {
                    _token_address: *token,
                    _channel_participant_deposit_limit: U256::MAX,
                    _token_network_deposit_limit: U256::MAX,
                }
                .abi_encode()
                .into(),
            ),
            Transaction::Approve {
                token,
                spender,
                amount,
            } => (
                *token,
                IERC20::approveCall {
                    spender: *spender,
                    value: amount.get(),
                }
                .abi_encode()
                .into(),
            ),
            Transaction::OpenChannel {
                token_network,
                partner,
            } => (
                *token_network,
                ITokenNetwork::openChannelCall {
                    participant1: us,
                    participant2: *partner,
                }
                .abi_encode()
                .into(),
            ),
            Transaction::OpenChannelWithDeposit {
                token_network,
                partner,
                total_deposit,
            } => (
                *token_network,
                ITokenNetwork::openChannelWithDepositCall {
                    participant1: us,
                    participant2: *partner,
                    participant1_total_deposit: total_deposit.get(),
                }
                .abi_encode()
                .into(),
            ),
            Transaction::SetTotalDeposit {
                token_network,
                channel_id,
                partner,
                total_deposit,
            } => (
                *token_network,
                ITokenNetwork::setTotalDepositCall {
                    channel_identifier: U256::from(channel_id.0),
                    participant: us,
                    total_deposit: total_deposit.get(),
                    partner: *partner,
                }
                .abi_encode()
                .into(),
            ),
            Transaction::CloseChannel {
                token_network,
                channel_id,
                partner,
            } => {
                let signature = closing_signature(
                    &self.inner.signer,
                    *token_network,
                    self.inner.chain_id,
                    *channel_id,
                )?;
                (
                    *token_network,
                    ITokenNetwork::closeChannelCall {
                        channel_identifier: U256::from(channel_id.0),
                        non_closing_participant: *partner,
                        closing_participant: us,
                        balance_hash: FixedBytes::ZERO,
                        nonce: U256::ZERO,
                        additional_hash: FixedBytes::ZERO,
                        non_closing_signature: Bytes::from(vec![0u8; 65]),
                        closing_signature: signature,
                    }
                    .abi_encode()
                    .into(),
                )
            }
            Transaction::SettleChannel {
                token_network,
                channel_id,
                partner,
            } => (
                *token_network,
                ITokenNetwork::settleChannelCall {
                    channel_identifier: U256::from(channel_id.0),
                    participant1: us,
                    participant1_transferred_amount: U256::ZERO,
                    participant1_locked_amount: U256::ZERO,
                    participant1_locksroot: FixedBytes::ZERO,
                    participant2: *partner,
                    participant2_transferred_amount: U256::ZERO,
                    participant2_locked_amount: U256::ZERO,
                    participant2_locksroot: FixedBytes::ZERO,
                }
                .abi_encode()
                .into(),
            ),
            Transaction::MintFor { token, to, amount } => (
                *token,
                ICustomToken::mintForCall {
                    num: amount.get(),
                    target: *to,
                }
                .abi_encode()
                .into(),
            ),
        })
    }

    /// Why a mined transaction reverted: the call replayed on the state before its block.
    async fn revert_reason(&self, to: Address, input: Bytes, block: u64) -> String {
        let call = TransactionRequest::default()
            .with_from(self.our_address())
            .with_to(to)
            .with_input(input);
        match self
            .inner
            .provider
            .call(call)
            .block(BlockNumberOrTag::Number(block.saturating_sub(1)).into())
            .await
        {
            Ok(_) => "reverted (the replay did not)".into(),
            Err(error) => crate::redact::redact_urls_in(&error.to_string()),
        }
    }
}

impl EthChain {
    /// What a transaction should offer now. Where the latest block has a base fee
    /// (EIP-1559): a tip of `eth_maxPriorityFeePerGas` ([`DEFAULT_PRIORITY_FEE`] if the
    /// node does not answer it) and a fee cap of twice the base fee plus the tip, which
    /// stays includable through six full blocks in a row. Without a base fee: a legacy
    /// transaction at `eth_gasPrice`.
    async fn market_fees(&self) -> Result<Fees, ChainError> {
        let base_fee = self
            .read("eth_getBlockByNumber", || async {
                let block = self
                    .inner
                    .provider
                    .get_block_by_number(BlockNumberOrTag::Latest)
                    .await
                    .map_err(rpc)?
                    .ok_or_else(|| ChainError::Rpc("no latest block".into()))?;
                Ok(block.header.base_fee_per_gas)
            })
            .await?;
        match base_fee {
            Some(base_fee) => {
                // Asked once, not retried: a node without the method answers the same
                // every time, and the default tip is a fine answer.
                let tip = match self.inner.provider.get_max_priority_fee_per_gas().await {
                    Ok(tip) => tip,
                    Err(error) => {
                        tracing::debug!(%error, "eth_maxPriorityFeePerGas failed; using the default tip");
                        DEFAULT_PRIORITY_FEE
                    }
                };
                Ok(Fees::eip1559(u128::from(base_fee), tip))
            }
            None => Ok(Fees::legacy(self.gas_price().await?.saturating_to())),
        }
    }

    /// Signs `transaction` with `nonce` and `fees` (an EIP-1559 transaction unless the
    /// fees are legacy ones).
    async fn sign_with(
        &self,
        transaction: Transaction,
        nonce: u64,
        fees: Fees,
    ) -> Result<SignedTx, ChainError> {
        let (to, input) = self.encode(&transaction)?;
        // Not estimated: a deposit sent right after its approve would fail estimation
        // before the approve is mined. The table's figure with a margin is enough.
        let mut gas = GAS.gas_of(&transaction) * 3 / 2 + 50_000;
        if matches!(transaction, Transaction::RegisterToken { .. }) {
            // Our registry is cheap; Raiden 0.50's needs 3.53 M. Leave room for either.
            gas = gas.max(REGISTER_TOKEN_GAS_LIMIT);
        }
        let request = TransactionRequest::default()
            .with_from(self.our_address())
            .with_to(to)
            .with_input(input)
            .with_nonce(nonce)
            .with_chain_id(self.inner.chain_id)
            .with_gas_limit(gas);
        let request = if fees.legacy {
            request.with_gas_price(fees.max_fee_per_gas)
        } else {
            request
                .with_max_fee_per_gas(fees.max_fee_per_gas)
                .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas)
        };
        let envelope = request
            .build(&self.inner.wallet)
            .await
            .map_err(|e| ChainError::Rpc(format!("signing {}: {e}", transaction.name())))?;
        Ok(SignedTx {
            hash: *envelope.tx_hash(),
            nonce,
            transaction,
            raw: envelope.encoded_2718().into(),
            fees,
        })
    }

    /// Whether the node no longer knows a transaction it has no receipt for. An RPC
    /// failure here says nothing: only a definite "unknown" counts.
    async fn was_dropped(&self, pending: &PendingTx) -> bool {
        matches!(
            self.inner
                .provider
                .get_transaction_by_hash(pending.hash)
                .await,
            Ok(None)
        )
    }
}

/// Turns a log into an event, if it is one the node follows.
fn decode_log(log: &Log, timestamp: u64) -> Option<EventRecord> {
    let block = log.block_number?;
    let address = log.address();
    let topic = *log.topic0()?;
    let data = &log.inner;
    let event = if topic == ITokenNetworkRegistry::TokenNetworkCreated::SIGNATURE_HASH {
        let e = ITokenNetworkRegistry::TokenNetworkCreated::decode_log(data).ok()?;
        ChainEvent::TokenNetworkCreated {
            token: e.token_address,
            token_network: e.token_network_address,
            settle_timeout: e.settle_timeout.saturating_to(),
        }
    } else if topic == ITokenNetwork::ChannelOpened::SIGNATURE_HASH {
        let e = ITokenNetwork::ChannelOpened::decode_log(data).ok()?;
        ChainEvent::ChannelOpened {
            token_network: address,
            channel_id: ChannelId(e.channel_identifier.saturating_to()),
            participant1: e.participant1,
            participant2: e.participant2,
        }
    } else if topic == ITokenNetwork::ChannelNewDeposit::SIGNATURE_HASH {
        let e = ITokenNetwork::ChannelNewDeposit::decode_log(data).ok()?;
        ChainEvent::ChannelNewDeposit {
            token_network: address,
            channel_id: ChannelId(e.channel_identifier.saturating_to()),
            participant: e.participant,
            total_deposit: TokenAmount(e.total_deposit),
        }
    } else if topic == ITokenNetwork::ChannelClosed::SIGNATURE_HASH {
        let e = ITokenNetwork::ChannelClosed::decode_log(data).ok()?;
        ChainEvent::ChannelClosed {
            token_network: address,
            channel_id: ChannelId(e.channel_identifier.saturating_to()),
            closing_participant: e.closing_participant,
        }
    } else if topic == ITokenNetwork::ChannelSettled::SIGNATURE_HASH {
        let e = ITokenNetwork::ChannelSettled::decode_log(data).ok()?;
        ChainEvent::ChannelSettled {
            token_network: address,
            channel_id: ChannelId(e.channel_identifier.saturating_to()),
            participant1: (e.participant1, TokenAmount(e.participant1_amount)),
            participant2: (e.participant2, TokenAmount(e.participant2_amount)),
        }
    } else {
        return None;
    };
    Some(EventRecord {
        block,
        timestamp,
        event,
    })
}

impl Chain for EthChain {
    fn our_address(&self) -> Address {
        self.inner.signer.address()
    }

    async fn latest_block(&self) -> Result<BlockInfo, ChainError> {
        let head = self.head().await?;
        let number = head.saturating_sub(self.inner.config.confirmation_blocks);
        let timestamp = self.block_timestamp(number).await?;
        Ok(BlockInfo { number, timestamp })
    }

    async fn gas_price(&self) -> Result<U256, ChainError> {
        self.read("eth_gasPrice", || async {
            self.inner
                .provider
                .get_gas_price()
                .await
                .map(U256::from)
                .map_err(read_error)
        })
        .await
    }

    async fn eth_balance(&self, owner: Address) -> Result<U256, ChainError> {
        self.read("eth_getBalance", || async {
            self.inner
                .provider
                .get_balance(owner)
                .await
                .map_err(read_error)
        })
        .await
    }

    async fn token_balance(
        &self,
        token: Address,
        owner: Address,
    ) -> Result<TokenAmount, ChainError> {
        let erc20 = IERC20::new(token, &self.inner.provider);
        self.read("balanceOf", || async {
            erc20
                .balanceOf(owner)
                .call()
                .await
                .map(TokenAmount)
                .map_err(call_error)
        })
        .await
    }

    async fn token_network(&self, token: Address) -> Result<Option<Address>, ChainError> {
        let registry = ITokenNetworkRegistry::new(self.inner.config.registry, &self.inner.provider);
        let network = self
            .read("token_to_token_networks", || async {
                registry
                    .token_to_token_networks(token)
                    .call()
                    .await
                    .map_err(call_error)
            })
            .await?;
        Ok((network != Address::ZERO).then_some(network))
    }

    async fn settle_timeout(&self, token_network: Address) -> Result<u64, ChainError> {
        let network = ITokenNetwork::new(token_network, &self.inner.provider);
        let timeout = self
            .read("settle_timeout", || async {
                network.settle_timeout().call().await.map_err(call_error)
            })
            .await?;
        Ok(timeout.saturating_to())
    }

    async fn events(&self, from: u64, to: u64) -> Result<Vec<EventRecord>, ChainError> {
        let from = from.max(self.inner.config.start_block);
        if from > to {
            return Ok(Vec::new());
        }
        // The registry first: a network created in this range has its channels in it too.
        let mut logs = self
            .logs(vec![self.inner.config.registry], from, to)
            .await?;
        for log in &logs {
            if let Some(record) = decode_log(log, 0) {
                if let ChainEvent::TokenNetworkCreated { token_network, .. } = record.event {
                    if let Ok(mut networks) = self.inner.networks.lock() {
                        if !networks.contains(&token_network) {
                            networks.push(token_network);
                        }
                    }
                }
            }
        }
        logs.extend(self.logs(self.known_networks(), from, to).await?);
        logs.sort_by_key(|log| (log.block_number, log.log_index));
        let mut records = Vec::with_capacity(logs.len());
        let mut timestamps: Vec<(u64, u64)> = Vec::new();
        for log in &logs {
            let Some(block) = log.block_number else {
                continue;
            };
            // Only closes need the block time (settlement is timed from it).
            let is_close = log.topic0() == Some(&ITokenNetwork::ChannelClosed::SIGNATURE_HASH);
            let timestamp = if is_close {
                match timestamps.iter().find(|(b, _)| *b == block) {
                    Some((_, t)) => *t,
                    None => {
                        let t = self.block_timestamp(block).await?;
                        timestamps.push((block, t));
                        t
                    }
                }
            } else {
                0
            };
            if let Some(record) = decode_log(log, timestamp) {
                records.push(record);
            }
        }
        Ok(records)
    }

    async fn sign(&self, transaction: Transaction) -> Result<SignedTx, ChainError> {
        let fees = self.market_fees().await?;
        let mut nonce_slot = self.inner.next_nonce.lock().await;
        let nonce = match *nonce_slot {
            Some(nonce) => nonce,
            None => {
                self.read("eth_getTransactionCount", || async {
                    self.inner
                        .provider
                        .get_transaction_count(self.our_address())
                        .pending()
                        .await
                        .map_err(rpc)
                })
                .await?
            }
        };
        let signed = self.sign_with(transaction, nonce, fees).await?;
        // The nonce counts as used only once `send` succeeds: a transaction signed and
        // never sent leaves no gap.
        *nonce_slot = Some(nonce);
        Ok(signed)
    }

    async fn send(&self, signed: SignedTx) -> Result<PendingTx, ChainError> {
        let mut nonce_slot = self.inner.next_nonce.lock().await;
        match self.inner.provider.send_raw_transaction(&signed.raw).await {
            Ok(_) => {
                // A replacement reuses an older nonce: it must not set the next one back.
                if *nonce_slot == Some(signed.nonce) {
                    *nonce_slot = Some(signed.nonce + 1);
                }
                Ok(PendingTx {
                    hash: signed.hash,
                    nonce: signed.nonce,
                    transaction: signed.transaction,
                    fees: signed.fees,
                })
            }
            Err(error) => {
                // Ask the chain again next time: the nonce may or may not have been used.
                // (A refused replacement says nothing about the next nonce.)
                if *nonce_slot == Some(signed.nonce) {
                    *nonce_slot = None;
                }
                drop(nonce_slot);
                let message = crate::redact::redact_urls_in(&error.to_string());
                if message.contains("insufficient funds") {
                    let available = self
                        .eth_balance(self.our_address())
                        .await
                        .unwrap_or_default();
                    Err(ChainError::InsufficientEth {
                        transaction: signed.transaction.name(),
                        needed: U256::from(GAS.gas_of(&signed.transaction))
                            * self.gas_price().await.unwrap_or_default(),
                        available,
                    })
                } else {
                    Err(ChainError::Rpc(format!(
                        "sending {}: {message}",
                        signed.transaction.name()
                    )))
                }
            }
        }
    }

    async fn submit(&self, transaction: Transaction) -> Result<PendingTx, ChainError> {
        // Signing and sending under one lock, so that callers that submit from several
        // tasks at once (the node holds its own lock) never sign two with one nonce.
        let _one_at_a_time = self.inner.submission.lock().await;
        let signed = self.sign(transaction).await?;
        self.send(signed).await
    }

    async fn block_hash(&self, number: u64) -> Result<Option<B256>, ChainError> {
        self.read("eth_getBlockByNumber", || async {
            Ok(self
                .inner
                .provider
                .get_block_by_number(BlockNumberOrTag::Number(number))
                .await
                .map_err(read_error)?
                .map(|block| block.header.hash))
        })
        .await
    }

    async fn allowance(
        &self,
        token: Address,
        owner: Address,
        spender: Address,
    ) -> Result<U256, ChainError> {
        let erc20 = IERC20::new(token, &self.inner.provider);
        self.read("allowance", || async {
            erc20
                .allowance(owner, spender)
                .call()
                .await
                .map_err(call_error)
        })
        .await
    }

    async fn identity(&self) -> Result<String, ChainError> {
        // Asked of the endpoint each time, not the id read at `connect`: the node checks
        // while it runs that the endpoint still serves the chain it started on.
        let chain_id = self
            .read("eth_chainId", || async {
                self.inner.provider.get_chain_id().await.map_err(read_error)
            })
            .await?;
        let genesis = self.block_hash(0).await?.unwrap_or_default();
        Ok(format!(
            "chain {chain_id} genesis {genesis} registry {}",
            self.inner.config.registry
        ))
    }

    async fn deployment_identity(&self) -> Result<String, ChainError> {
        let identity = self.identity().await?;
        let registry = self.inner.config.registry;
        let code = self
            .read("eth_getCode", || async {
                self.inner
                    .provider
                    .get_code_at(registry)
                    .await
                    .map_err(read_error)
            })
            .await?;
        let code = if code.is_empty() {
            "no contract at the registry".to_string()
        } else {
            format!("registry code {}", alloy::primitives::keccak256(&code))
        };
        let found = format!("{identity}, {code}");
        // Another chain behind the endpoint, or the right one back after another: the
        // nonce kept locally is not this chain's, so the next transaction asks for it.
        let changed = match self.inner.last_identity.lock() {
            Ok(mut last) => {
                let changed = last.as_ref().is_some_and(|last| *last != found);
                *last = Some(found.clone());
                changed
            }
            Err(_) => true,
        };
        if changed {
            *self.inner.next_nonce.lock().await = None;
        }
        Ok(found)
    }

    async fn confirm(&self, pending: &PendingTx) -> Result<Receipt, ChainError> {
        let poll = self
            .inner
            .config
            .poll_interval
            .min(Duration::from_millis(500));
        loop {
            let receipt = self
                .inner
                .provider
                .get_transaction_receipt(pending.hash)
                .await
                .map_err(rpc);
            if let Ok(Some(receipt)) = &receipt {
                let block = receipt.block_number.unwrap_or_default();
                let head = self.head().await?;
                if head >= block + self.inner.config.confirmation_blocks {
                    if !receipt.status() {
                        let (to, input) = self.encode(&pending.transaction)?;
                        let reason = self.revert_reason(to, input, block).await;
                        return Err(ChainError::Reverted {
                            transaction: pending.transaction.name(),
                            hash: pending.hash,
                            reason,
                        });
                    }
                    let mut channel_id = None;
                    let mut token_network = None;
                    for log in receipt.inner.logs() {
                        if let Some(record) = decode_log(log, 0) {
                            match record.event {
                                ChainEvent::ChannelOpened { channel_id: id, .. } => {
                                    channel_id = Some(id)
                                }
                                ChainEvent::TokenNetworkCreated {
                                    token_network: network,
                                    ..
                                } => token_network = Some(network),
                                _ => {}
                            }
                        }
                    }
                    return Ok(Receipt {
                        hash: pending.hash,
                        block,
                        gas_used: receipt.gas_used,
                        channel_id,
                        token_network,
                    });
                }
            }
            if matches!(receipt, Ok(None)) && self.was_dropped(pending).await {
                // Dropped from the mempool, or replaced by another transaction with its
                // nonce: no receipt will ever come. Ask the chain for the nonce again, so
                // that the next transaction does not wait behind a gap.
                *self.inner.next_nonce.lock().await = None;
                return Err(ChainError::Dropped {
                    transaction: pending.transaction.name(),
                    hash: pending.hash,
                });
            }
            tokio::time::sleep(poll).await;
        }
    }

    async fn replace(
        &self,
        stuck: &PendingTx,
        max_fee_per_gas: u128,
    ) -> Result<Option<SignedTx>, ChainError> {
        let market = self.market_fees().await?;
        match fees::bump(stuck.fees, market, max_fee_per_gas) {
            Some(fees) => Ok(Some(
                self.sign_with(stuck.transaction.clone(), stuck.nonce, fees)
                    .await?,
            )),
            None => Ok(None),
        }
    }

    fn poll_interval(&self) -> Duration {
        self.inner.config.poll_interval
    }

    fn follow_token_networks(&self, token_networks: &[Address]) {
        if let Ok(mut networks) = self.inner.networks.lock() {
            for network in token_networks {
                if !networks.contains(network) {
                    networks.push(*network);
                }
            }
        }
    }
}
