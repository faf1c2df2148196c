//! `tokennet`: parse the command line, start what it asks for, map failures to exit codes.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tokennet::chain::ethereum::{self, Deployment, EthChain, EthConfig};
use tokennet::cli::{Cli, DeployArgs, NodeArgs, Run};
use tokennet::embedded::{self, EmbeddedConfig};
use tokennet::redact::redact_url;
use tokennet::types::checksummed;

#[tokio::main]
async fn main() -> ExitCode {
    let run = Cli::parse().into_run();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,warp=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match run {
        Run::Node(args) if args.eth_rpc_endpoint.is_some() => run_eth_node(args).await,
        Run::Node(args) => run_node(args).await,
        Run::Deploy(args) => run_deploy(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Binds the API's listener first: a busy port is a message, not a panic, and nothing
/// else has started yet. Warns about an exposed address and open policies.
async fn bind_api(args: &NodeArgs) -> anyhow::Result<tokio::net::TcpListener> {
    let address = args.api_address;
    tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| {
            format!("cannot listen on {address}; choose another address with --api-address")
        })
        .inspect(|_| {
            tokennet::api::warn_if_exposed(address);
            tokennet::api::warn_if_open(address, &args.api_config());
        })
}

async fn run_node(args: NodeArgs) -> anyhow::Result<()> {
    let listener = bind_api(&args).await?;
    let config = EmbeddedConfig {
        peers: args.sim_peers,
        tokens: args.sim_tokens,
        seed: args.sim_seed,
        block_time: args.sim_block_time,
        tx_latency: args.sim_tx_latency,
        eth_balance: args.sim_eth_balance,
        token_balance_units: args.sim_token_balance,
        settle_timeout: args.sim_settle_timeout,
        confirmation_blocks: args.confirmation_blocks.unwrap_or(0),
        tx_timeout: args.tx_timeout,
        datadir: args.datadir.clone(),
        partner_selection: args.partner_selection,
    };
    let network = embedded::start(&config)
        .await
        .context("starting the embedded simulated chain")?;
    // Ten block times unless told otherwise (the embedded chain polls once a block).
    network.node.set_chain_stall_timeout(
        args.chain_stall_timeout.unwrap_or(
            args.sim_block_time
                .saturating_mul(tokennet::node::DEFAULT_SIM_STALL_BLOCKS),
        ),
    );
    print_banner(&args, &network);
    let stop = stop_node_on_signal(network.node.clone());
    tokennet::api::serve_with(network.node.clone(), listener, args.api_config(), stop).await;
    network.node.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// `tokennet node --eth-rpc-endpoint …`: the node on a real chain.
async fn run_eth_node(args: NodeArgs) -> anyhow::Result<()> {
    let listener = bind_api(&args).await?;
    let signer = match (&args.private_key_file, &args.keystore_path) {
        (Some(file), _) => tokennet::keys::from_private_key_file(file)?,
        (None, Some(dir)) => tokennet::keys::from_keystore(
            dir,
            args.address.as_deref().unwrap_or_default(),
            args.password_file.as_deref().unwrap_or(std::path::Path::new("")),
        )?,
        (None, None) => anyhow::bail!(
            "--eth-rpc-endpoint needs a key: --private-key-file FILE, or --keystore-path DIR --address 0x… --password-file FILE"
        ),
    };
    let (registry, start_block) = match (&args.deployment, &args.tokennetwork_registry_contract_address) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let deployment: Deployment = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a deployment file", file.display()))?;
            (deployment.token_network_registry, deployment.start_block)
        }
        (None, Some(address)) => (
            tokennet::types::parse_checksummed_address(address)
                .with_context(|| format!("--tokennetwork-registry-contract-address {address}"))?,
            0,
        ),
        (None, None) => anyhow::bail!(
            "--eth-rpc-endpoint needs the contracts: --deployment FILE or --tokennetwork-registry-contract-address 0x…"
        ),
    };
    let endpoint = args.eth_rpc_endpoint.clone().unwrap_or_default();
    // What messages show: the endpoint without its credentials.
    let shown = redact_url(&endpoint);
    let config = EthConfig {
        rpc_url: endpoint,
        registry,
        start_block,
        confirmation_blocks: args
            .confirmation_blocks
            .unwrap_or(ethereum::DEFAULT_CONFIRMATION_BLOCKS),
        poll_interval: ethereum::DEFAULT_POLL_INTERVAL,
    };
    let chain = EthChain::connect(config, signer)
        .await
        .with_context(|| format!("cannot reach {shown}"))?;
    let datadir = args.datadir.clone().unwrap_or_else(default_datadir);
    let node = tokennet::node::Node::builder(chain)
        .tx_timeout(args.tx_timeout)
        .tx_replace_after(args.tx_replace_after)
        .max_fee_per_gas(u128::from(args.max_fee_gwei) * tokennet::chain::fees::WEI_PER_GWEI)
        .chain_stall_timeout(
            args.chain_stall_timeout
                .unwrap_or(tokennet::node::DEFAULT_CHAIN_STALL_TIMEOUT),
        )
        .seed(rand_seed())
        .partner_selection(args.partner_selection)
        .datadir(&datadir)
        .open()
        .await
        .with_context(|| format!("opening the state in {}", datadir.display()))?;
    println!(
        "tokennet node on {shown}\n\n  our address    {}\n  registry       {}\n  state          {}\n  REST API       http://{}/api/v1\n",
        checksummed(&node.address()),
        checksummed(&registry),
        node.store().path(),
        args.api_address
    );
    let stop = stop_node_on_signal(node.clone());
    tokennet::api::serve_with(node.clone(), listener, args.api_config(), stop).await;
    node.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// `~/.tokennet`, the default `--datadir` on a real chain (`.tokennet` here without a
/// home directory).
fn default_datadir() -> std::path::PathBuf {
    std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_default()
        .join(".tokennet")
}

/// A seed for partner choices on a real chain, where runs need not repeat.
fn rand_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

/// `tokennet deploy`.
async fn run_deploy(args: DeployArgs) -> anyhow::Result<()> {
    let signer = tokennet::keys::from_private_key_file(&args.private_key_file)?;
    let options = ethereum::DeployOptions {
        settle_timeout: args.settle_timeout,
        with_test_token: args.with_test_token,
    };
    let deployment = ethereum::deploy(&args.eth_rpc_endpoint, signer, &options)
        .await
        .with_context(|| format!("deploying through {}", redact_url(&args.eth_rpc_endpoint)))?;
    let json = serde_json::to_string_pretty(&deployment)?;
    std::fs::write(&args.out, json + "\n")
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "deployed on chain {}: registry {}{} → {}",
        deployment.chain_id,
        checksummed(&deployment.token_network_registry),
        deployment
            .test_token
            .map(|t| format!(", test token {}", checksummed(&t)))
            .unwrap_or_default(),
        args.out.display()
    );
    Ok(())
}

fn print_banner(args: &NodeArgs, network: &embedded::EmbeddedNetwork) {
    let base = format!("http://{}/api/v1", args.api_address);
    let token = checksummed(&network.token);
    let funds = embedded::one_token() * tokennet::types::U256::from(100u64);
    let tokens = if network.tokens.len() > 1 {
        let mut lines = format!(
            "  demo tokens    {} (18 decimals; we hold {} of each), with their token networks:",
            network.tokens.len(),
            args.sim_token_balance
        );
        for demo in &network.tokens {
            lines += &format!(
                "\n    {}  network {}",
                checksummed(&demo.token),
                checksummed(&demo.token_network)
            );
        }
        lines
    } else {
        format!(
            "  demo token     {token} (18 decimals; we hold {} tokens)\n  token network  {}",
            args.sim_token_balance,
            checksummed(&network.token_network)
        )
    };
    let which = if network.tokens.len() > 1 {
        "first demo token's network"
    } else {
        "demo token network"
    };
    println!(
        "tokennet node on an embedded simulated chain ({} peers, a block every {:?})

  our address    {}
{tokens}
  REST API       {base}

Join the {which} with 100 tokens, look, then leave:

  curl -i -X PUT {base}/connections/{token} -H 'Content-Type: application/json' -d '{{\"funds\": \"{funds}\"}}'
  curl {base}/connections
  curl -X DELETE {base}/connections/{token}
",
        network.peers.len(),
        args.sim_block_time,
        checksummed(&network.node.address()),
    );
}

/// Waits for SIGINT or SIGTERM, then tells the node to start no new join or leave; the
/// API then gives requests in flight the grace period and answers the rest 503. Only
/// after that does the caller stop the node ([`tokennet::node::Node::shutdown`]: no
/// transaction submission is cut in half, and the state database closes once no request
/// needs it). The node resumes cut joins and leaves after a restart.
async fn stop_node_on_signal<C: tokennet::chain::Chain>(node: tokennet::node::Node<C>) {
    shutdown_signal().await;
    node.begin_shutdown();
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down");
}
