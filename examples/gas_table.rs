//! The gas table of our contracts, measured on a real anvil, next to Raiden 0.50's.
//!
//! ```sh
//! (cd contracts && npm ci)                      # once: installs the pinned anvil
//! cargo run --release --example gas_table
//! ```
//!
//! Spawns anvil (automine) from `contracts/node_modules`, deploys our contracts with
//! `tokennet::chain::ethereum::deploy` (no test token), deploys a test token and registers
//! it, then runs one channel lifecycle through `EthChain` (submit, then confirm, one
//! transaction at a time), reads each receipt's `gasUsed` and prints a Markdown table next
//! to SPEC §5.4's right-hand column (raiden-contracts 0.50.2 on anvil 1.7.1). These are the
//! figures `src/chain/gas.rs` holds.
//!
//! The lifecycle is the one of `contracts/test/smoke.js`, with the token network the node
//! registers (no deposit limits): A opens a channel without deposit with C, then one with
//! a deposit with B (the network's first deposit), B makes its first deposit, A tops up,
//! A closes with an empty balance proof and settles after the settle timeout.

mod common;

use std::time::Duration;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::node_bindings::Anvil;
use alloy::primitives::Bytes;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolValue;
use anyhow::{anyhow, bail, Context};
use tokennet::chain::ethereum::{deploy, DeployOptions, EthChain};
use tokennet::chain::{Chain, Transaction};
use tokennet::types::{Address, TokenAmount, U256};

use common::{anvil_path, dev_chain, dev_signer as signer};

const CUSTOM_TOKEN: &str = include_str!("../contracts/artifacts/CustomToken.json");
const REGISTRY: &str = include_str!("../contracts/artifacts/TokenNetworkRegistry.json");
const SETTLE_TIMEOUT: u64 = 10;

/// SPEC §5.4, right-hand column: raiden-contracts 0.50.2 on anvil 1.7.1.
const RAIDEN_ON_ANVIL: &[(&str, Option<u64>)] = &[
    ("createERC20TokenNetwork", Some(3_531_532)),
    ("ERC20 approve (test token)", Some(46_190)),
    ("openChannel", Some(86_430)),
    ("openChannelWithDeposit", Some(135_276)),
    ("setTotalDeposit, partner's first deposit", Some(86_054)),
    ("setTotalDeposit, top-up", Some(68_966)),
    ("closeChannel, empty balance proof", Some(87_536)),
    ("settleChannel, no balance proofs", Some(83_205)),
    ("mintFor (test token, to an account without tokens)", None),
];

fn compiler_version() -> String {
    serde_json::from_str::<serde_json::Value>(REGISTRY)
        .ok()
        .and_then(|artifact| {
            let version = artifact["compiler"]["version"].as_str()?.to_owned();
            let settings = &artifact["settings"];
            Some(format!(
                "solc {version}, evmVersion {}, viaIR {}, optimizer runs {}",
                settings["evmVersion"].as_str()?,
                settings["viaIR"],
                settings["optimizer"]["runs"]
            ))
        })
        .unwrap_or_else(|| "solc (unknown)".into())
}

/// Deploys a CustomToken with no initial supply; returns its address.
async fn deploy_token(endpoint: &str, signer: PrivateKeySigner) -> anyhow::Result<Address> {
    let artifact: serde_json::Value = serde_json::from_str(CUSTOM_TOKEN)?;
    let bytecode = artifact["bytecode"]
        .as_str()
        .ok_or_else(|| anyhow!("CustomToken artifact has no bytecode"))?;
    let mut code = alloy::hex::decode(bytecode.trim_start_matches("0x"))?;
    code.extend(
        (
            U256::ZERO,
            U256::from(18u8),
            "gas table token".to_string(),
            "GTT".to_string(),
        )
            .abi_encode_params(),
    );
    let deployer = signer.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(endpoint.parse()?);
    let receipt = provider
        .send_transaction(
            TransactionRequest::default()
                .with_from(deployer)
                .with_deploy_code(Bytes::from(code)),
        )
        .await?
        .get_receipt()
        .await?;
    receipt
        .contract_address
        .ok_or_else(|| anyhow!("CustomToken was not created"))
}

/// Submits and confirms one transaction; returns its gas used.
async fn measure(chain: &EthChain, transaction: Transaction) -> anyhow::Result<(u64, Option<u64>)> {
    let name = transaction.name();
    let pending = chain
        .submit(transaction)
        .await
        .with_context(|| format!("sending {name}"))?;
    let receipt = chain
        .confirm(&pending)
        .await
        .with_context(|| format!("confirming {name}"))?;
    Ok((receipt.gas_used, receipt.channel_id.map(|id| id.0)))
}

fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let anvil = Anvil::at(anvil_path()?).try_spawn()?;
    let endpoint = anvil.endpoint();
    let deployment = deploy(
        &endpoint,
        signer(&anvil, 0)?,
        &DeployOptions {
            settle_timeout: SETTLE_TIMEOUT,
            with_test_token: false,
        },
    )
    .await
    .context("deploying the contracts")?;
    let poll = Duration::from_millis(50);
    let chain = |index| dev_chain(&anvil, &deployment, index, 0, poll);
    let (deployer, a, b) = (chain(0).await?, chain(1).await?, chain(2).await?);
    let c = signer(&anvil, 3)?.address();
    let client = deployer.provider().get_client_version().await?;

    let token = deploy_token(&endpoint, signer(&anvil, 0)?).await?;
    let mut gas: Vec<u64> = Vec::new();
    let (register, _) = measure(&deployer, Transaction::RegisterToken { token }).await?;
    gas.push(register);
    let token_network = deployer
        .token_network(token)
        .await?
        .ok_or_else(|| anyhow!("the token network was not created"))?;

    let e18 = U256::from(1_000_000_000_000_000_000u64);
    let tokens = |n: u64| TokenAmount(U256::from(n) * e18);
    // The first mint also creates the total supply; the second is the usual case: tokens
    // for an account that had none, of a token that has a supply.
    measure(
        &a,
        Transaction::MintFor {
            token,
            to: a.our_address(),
            amount: tokens(1000),
        },
    )
    .await?;
    let (mint, _) = measure(
        &b,
        Transaction::MintFor {
            token,
            to: b.our_address(),
            amount: tokens(1000),
        },
    )
    .await?;
    let approve = |amount| Transaction::Approve {
        token,
        spender: token_network,
        amount,
    };
    gas.push(measure(&a, approve(tokens(1000))).await?.0);
    measure(&b, approve(tokens(1000))).await?;

    let open = Transaction::OpenChannel {
        token_network,
        partner: c,
    };
    gas.push(measure(&a, open).await?.0);
    let open_with_deposit = Transaction::OpenChannelWithDeposit {
        token_network,
        partner: b.our_address(),
        total_deposit: tokens(100),
    };
    let (open_deposit, id) = measure(&a, open_with_deposit).await?;
    gas.push(open_deposit);
    let channel_id = tokennet::types::ChannelId(
        id.ok_or_else(|| anyhow!("openChannelWithDeposit reported no channel"))?,
    );
    let first_deposit = Transaction::SetTotalDeposit {
        token_network,
        channel_id,
        partner: a.our_address(),
        total_deposit: tokens(50),
    };
    gas.push(measure(&b, first_deposit).await?.0);
    let top_up = Transaction::SetTotalDeposit {
        token_network,
        channel_id,
        partner: b.our_address(),
        total_deposit: tokens(150),
    };
    gas.push(measure(&a, top_up).await?.0);
    let close = Transaction::CloseChannel {
        token_network,
        channel_id,
        partner: b.our_address(),
    };
    gas.push(measure(&a, close).await?.0);
    let provider = a.provider();
    provider
        .raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (SETTLE_TIMEOUT + 1,))
        .await?;
    provider
        .raw_request::<_, serde_json::Value>("evm_mine".into(), ())
        .await?;
    let settle = Transaction::SettleChannel {
        token_network,
        channel_id,
        partner: b.our_address(),
    };
    gas.push(measure(&a, settle).await?.0);
    gas.push(mint);

    let back = a.token_balance(token, a.our_address()).await?.get();
    if back != tokens(1000).get() {
        bail!("A got {back} tokens back after the settlement, not 1000e18");
    }

    println!("Receipt gasUsed on {client} (default hardfork), our contracts compiled by");
    println!("{}.", compiler_version());
    println!();
    println!("| operation | ours | Raiden 0.50 on anvil 1.7.1 | ratio |");
    println!("|---|---:|---:|---:|");
    for ((name, raiden), ours) in RAIDEN_ON_ANVIL.iter().zip(&gas) {
        let (raiden, ratio) = match raiden {
            Some(r) => (
                thousands(*r),
                format!("{:.1} %", *ours as f64 * 100.0 / *r as f64),
            ),
            None => ("-".into(), "-".into()),
        };
        println!("| {name} | {} | {raiden} | {ratio} |", thousands(*ours));
    }
    let lifecycle = gas[3] + gas[6] + gas[7];
    let raiden_lifecycle = 135_276 + 87_536 + 83_205;
    println!(
        "| channel lifecycle (openChannelWithDeposit + close + settle) | {} | {} | {:.1} % |",
        thousands(lifecycle),
        thousands(raiden_lifecycle),
        lifecycle as f64 * 100.0 / raiden_lifecycle as f64
    );
    drop(anvil);
    Ok(())
}
