//! `tokennet`: parse the command line, start what it asks for, map failures to exit codes.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tokennet::cli::{Cli, NodeArgs};
use tokennet::embedded::{self, EmbeddedConfig};
use tokennet::types::checksummed;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Cli::parse().node_args();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,warp=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run_node(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_node(args: NodeArgs) -> anyhow::Result<()> {
    // Bind first: a busy port is a message, not a panic, and nothing else has started.
    let listener = tokio::net::TcpListener::bind(args.api_address)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; choose another address with --api-address",
                args.api_address
            )
        })?;
    let config = EmbeddedConfig {
        peers: args.sim_peers,
        seed: args.sim_seed,
        block_time: args.sim_block_time,
        tx_latency: args.sim_tx_latency,
        eth_balance: args.sim_eth_balance,
        token_balance_units: args.sim_token_balance,
        settle_timeout: args.sim_settle_timeout,
        confirmation_blocks: args.confirmation_blocks,
        tx_timeout: args.tx_timeout,
    };
    let network = embedded::start(&config)
        .await
        .context("starting the embedded simulated chain")?;
    print_banner(&args, &network);
    tokennet::api::serve(network.node.clone(), listener, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

fn print_banner(args: &NodeArgs, network: &embedded::EmbeddedNetwork) {
    let base = format!("http://{}/api/v1", args.api_address);
    let token = checksummed(&network.token);
    let funds = embedded::one_token() * tokennet::types::U256::from(100u64);
    println!(
        "tokennet node on an embedded simulated chain ({} peers, a block every {:?})

  our address    {}
  demo token     {} (18 decimals; we hold {} tokens)
  token network  {}
  REST API       {base}

Join the demo token network with 100 tokens, look, then leave:

  curl -i -X PUT {base}/connections/{token} -H 'Content-Type: application/json' -d '{{\"funds\": \"{funds}\"}}'
  curl {base}/connections
  curl -X DELETE {base}/connections/{token}
",
        network.peers.len(),
        args.sim_block_time,
        checksummed(&network.node.address()),
        token,
        args.sim_token_balance,
        checksummed(&network.token_network),
    );
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
