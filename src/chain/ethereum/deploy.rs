//! `tokennet deploy`: the registry stack (SecretRegistry, TokenNetworkRegistry) and,
//! optionally, a test token with its token network, from the committed artifacts.

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::Bytes;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use serde::{Deserialize, Serialize};

use super::contracts::ITokenNetworkRegistry;
use crate::chain::ChainError;
use crate::types::{Address, U256};

const SECRET_REGISTRY: &str = include_str!("../../../contracts/artifacts/SecretRegistry.json");
const TOKEN_NETWORK_REGISTRY: &str =
    include_str!("../../../contracts/artifacts/TokenNetworkRegistry.json");
const CUSTOM_TOKEN: &str = include_str!("../../../contracts/artifacts/CustomToken.json");

/// How many token networks a new registry allows.
pub const DEFAULT_MAX_TOKEN_NETWORKS: u64 = 1000;
/// Test tokens minted to the deployer with `--with-test-token`.
pub const TEST_TOKEN_SUPPLY: u128 = 1_000_000 * 1_000_000_000_000_000_000;

/// What to deploy.
#[derive(Clone, Debug)]
pub struct DeployOptions {
    /// Settle timeout of the token networks the registry creates, in seconds.
    pub settle_timeout: u64,
    /// Also deploy a test token and register its token network.
    pub with_test_token: bool,
}

/// What was deployed: the file `tokennet node --deployment` reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// Chain id.
    pub chain_id: u64,
    /// The block the registry was deployed in: event scans start there.
    pub start_block: u64,
    /// The SecretRegistry.
    pub secret_registry: Address,
    /// The TokenNetworkRegistry.
    pub token_network_registry: Address,
    /// Settle timeout of its token networks, seconds.
    pub settle_timeout: u64,
    /// The test token, with `--with-test-token`.
    pub test_token: Option<Address>,
    /// Its token network.
    pub test_token_network: Option<Address>,
}

fn bytecode(artifact: &str) -> Result<Vec<u8>, ChainError> {
    #[derive(Deserialize)]
    struct Artifact {
        bytecode: String,
    }
    let artifact: Artifact = serde_json::from_str(artifact)
        .map_err(|e| ChainError::Rpc(format!("contract artifact unreadable: {e}")))?;
    alloy::hex::decode(artifact.bytecode.trim_start_matches("0x"))
        .map_err(|e| ChainError::Rpc(format!("contract artifact bytecode: {e}")))
}

/// A transport or RPC error as a chain error, without the credentials of the URL that
/// reqwest's messages name.
fn rpc<E: std::fmt::Display>(error: E) -> ChainError {
    ChainError::Rpc(crate::redact::redact_urls_in(&error.to_string()))
}

/// Deploys the contracts with `signer` through `rpc_url`.
pub async fn deploy(
    rpc_url: &str,
    signer: PrivateKeySigner,
    options: &DeployOptions,
) -> Result<Deployment, ChainError> {
    let url = rpc_url
        .parse::<alloy::transports::http::reqwest::Url>()
        .map_err(|e| {
            ChainError::Rpc(format!(
                "invalid RPC URL {}: {}",
                crate::redact::redact_url(rpc_url),
                crate::redact::redact_urls_in(&e.to_string())
            ))
        })?;
    let deployer = signer.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url);
    let chain_id = provider.get_chain_id().await.map_err(rpc)?;

    // Sends one transaction and waits for its receipt; a revert is a failure.
    let send = |request: TransactionRequest, what: &'static str| {
        let provider = &provider;
        async move {
            let receipt = provider
                .send_transaction(request.with_from(deployer))
                .await
                .map_err(rpc)?
                .get_receipt()
                .await
                .map_err(rpc)?;
            if !receipt.status() {
                return Err(ChainError::Rpc(format!("{what} reverted")));
            }
            Ok(receipt)
        }
    };
    let create = |code: Vec<u8>| TransactionRequest::default().with_deploy_code(Bytes::from(code));
    let receipt = send(
        create(bytecode(SECRET_REGISTRY)?),
        "deploying SecretRegistry",
    )
    .await?;
    let secret_registry = receipt
        .contract_address
        .ok_or_else(|| ChainError::Rpc("SecretRegistry was not created".into()))?;

    let mut code = bytecode(TOKEN_NETWORK_REGISTRY)?;
    code.extend(
        (
            secret_registry,
            U256::from(options.settle_timeout),
            U256::from(DEFAULT_MAX_TOKEN_NETWORKS),
        )
            .abi_encode_params(),
    );
    let receipt = send(create(code), "deploying TokenNetworkRegistry").await?;
    let registry = receipt
        .contract_address
        .ok_or_else(|| ChainError::Rpc("TokenNetworkRegistry was not created".into()))?;
    let start_block = receipt.block_number.unwrap_or_default();

    let (mut test_token, mut test_token_network) = (None, None);
    if options.with_test_token {
        let mut code = bytecode(CUSTOM_TOKEN)?;
        code.extend(
            (
                U256::from(TEST_TOKEN_SUPPLY),
                // uint8 decimals: ABI-encoded as one word, like a uint256.
                U256::from(18u8),
                "tokennet test token".to_string(),
                "TTT".to_string(),
            )
                .abi_encode_params(),
        );
        let receipt = send(create(code), "deploying CustomToken").await?;
        let token = receipt
            .contract_address
            .ok_or_else(|| ChainError::Rpc("CustomToken was not created".into()))?;
        let register = ITokenNetworkRegistry::createERC20TokenNetworkCall {
            _token_address: token,
            _channel_participant_deposit_limit: U256::MAX,
            _token_network_deposit_limit: U256::MAX,
        };
        send(
            TransactionRequest::default()
                .with_to(registry)
                .with_input(register.abi_encode()),
            "registering the test token",
        )
        .await?;
        let network = ITokenNetworkRegistry::new(registry, &provider)
            .token_to_token_networks(token)
            .call()
            .await
            .map_err(rpc)?;
        test_token = Some(token);
        test_token_network = Some(network);
    }
    Ok(Deployment {
        chain_id,
        start_block,
        secret_registry,
        token_network_registry: registry,
        settle_timeout: options.settle_timeout,
        test_token,
        test_token_network,
    })
}
