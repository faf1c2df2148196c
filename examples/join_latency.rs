//! Join latency on anvil with `--block-time 1`: a tokennet join with target 3, from call to
//! answer, next to the Raiden-style sequential flow for 3 channels, in the same run.
//!
//! ```sh
//! (cd contracts && npm ci)                      # once: installs the pinned anvil
//! cargo run --release --example join_latency
//! cargo run --release --example join_latency -- --confirmations 0,1 --poll-interval 250ms
//! ```
//!
//! Spawns anvil with a block every second, deploys our contracts with a test token, gives
//! the token network 4 participants (channels 1-2, 2-3, 3-4 among dev accounts 1 to 4),
//! and for each confirmation depth (0, 1 and 5, the default of Raiden and of `tokennet
//! node` on a real chain, unless `--confirmations` says otherwise), each time with fresh
//! dev accounts that minted 1,000 test tokens:
//!
//! * **tokennet**: `Node<EthChain>::join` with 100 tokens, target 3, joinable 0.4 (three
//!   channels of 20 tokens): one approve and three `openChannelWithDeposit` sent at once,
//!   confirmed together, answered once the node's view has them;
//! * **Raiden-style**: for each of 3 partners, `openChannel`, wait for its receipt,
//!   `approve` 20 tokens, wait, `setTotalDeposit` 20 tokens, wait: nine transactions
//!   through `EthChain::submit`/`confirm`, one at a time.
//!
//! Latency is counted in blocks (the head when the answer comes minus the head when the
//! call was made) and in seconds. The node and the sequential flow poll the chain at the
//! same interval, `tokennet node`'s default (1 s) unless `--poll-interval` says otherwise.

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use alloy::node_bindings::Anvil;
use alloy::providers::Provider;
use anyhow::{anyhow, bail, Context};
use futures::future::try_join_all;
use tokennet::chain::ethereum::{deploy, DeployOptions, EthChain, DEFAULT_POLL_INTERVAL};
use tokennet::chain::{Chain, Transaction};
use tokennet::connection::ConnectionParams;
use tokennet::node::Node;
use tokennet::types::{Address, TokenAmount, U256};

use common::{anvil_path, dev_chain, dev_signer};

/// Dev accounts 1 to 4 are the network's participants; joiners come after them.
const PARTICIPANTS: usize = 4;
const SETTLE_TIMEOUT: u64 = 500;

fn tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(1_000_000_000_000_000_000u64)
}

/// A latency: blocks from call to answer, and seconds.
#[derive(Clone, Copy, Debug)]
struct Latency {
    blocks: u64,
    seconds: f64,
}

impl Latency {
    fn show(&self) -> String {
        let plural = if self.blocks == 1 { "" } else { "s" };
        format!("{} block{plural}, {:.2} s", self.blocks, self.seconds)
    }
}

/// Runs `call`, counting the blocks and the seconds it takes.
async fn timed<F>(provider: &impl Provider, call: F) -> anyhow::Result<Latency>
where
    F: Future<Output = anyhow::Result<()>>,
{
    let before = provider.get_block_number().await?;
    let start = Instant::now();
    call.await?;
    let seconds = start.elapsed().as_secs_f64();
    let after = provider.get_block_number().await?;
    Ok(Latency {
        blocks: after - before,
        seconds,
    })
}

/// Submits `transaction` and waits for it, as Raiden did for each step.
async fn send_and_wait(
    chain: &EthChain,
    transaction: Transaction,
) -> anyhow::Result<tokennet::chain::Receipt> {
    let name = transaction.name();
    let pending = chain
        .submit(transaction)
        .await
        .with_context(|| format!("sending {name}"))?;
    chain
        .confirm(&pending)
        .await
        .with_context(|| format!("confirming {name}"))
}

/// The Raiden-style join: open, approve, deposit per partner, each waited for.
async fn sequential_join(
    chain: &EthChain,
    token: Address,
    token_network: Address,
    partners: &[Address],
    deposit: U256,
) -> anyhow::Result<()> {
    for &partner in partners {
        let opened = send_and_wait(
            chain,
            Transaction::OpenChannel {
                token_network,
                partner,
            },
        )
        .await?;
        let channel_id = opened
            .channel_id
            .ok_or_else(|| anyhow!("openChannel with {partner} reported no channel"))?;
        send_and_wait(
            chain,
            Transaction::Approve {
                token,
                spender: token_network,
                amount: TokenAmount(deposit),
            },
        )
        .await?;
        send_and_wait(
            chain,
            Transaction::SetTotalDeposit {
                token_network,
                channel_id,
                partner,
                total_deposit: TokenAmount(deposit),
            },
        )
        .await?;
    }
    Ok(())
}

struct Options {
    confirmations: Vec<u64>,
    poll_interval: Duration,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        confirmations: vec![0, 1, 5],
        poll_interval: DEFAULT_POLL_INTERVAL,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--confirmations" => {
                options.confirmations = value
                    .split(',')
                    .map(|n| n.trim().parse())
                    .collect::<Result<_, _>>()
                    .with_context(|| format!("--confirmations {value}: write e.g. 0,1,5"))?
            }
            "--poll-interval" => {
                options.poll_interval = humantime::parse_duration(&value)
                    .with_context(|| format!("--poll-interval {value}: write e.g. 1s or 250ms"))?
            }
            _ => bail!("unknown flag {flag}; use --confirmations 0,1,5 --poll-interval 1s"),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let joiners = 2 * options.confirmations.len();
    let accounts = 1 + PARTICIPANTS + joiners;
    let anvil = Anvil::at(anvil_path()?)
        .block_time(1)
        .args(["--accounts", &accounts.max(10).to_string()])
        .try_spawn()?;
    let deployment = deploy(
        &anvil.endpoint(),
        dev_signer(&anvil, 0)?,
        &DeployOptions {
            settle_timeout: SETTLE_TIMEOUT,
            with_test_token: true,
        },
    )
    .await
    .context("deploying the contracts")?;
    let token = deployment
        .test_token
        .ok_or_else(|| anyhow!("no test token deployed"))?;
    let token_network = deployment
        .test_token_network
        .ok_or_else(|| anyhow!("no test token network"))?;
    let poll = options.poll_interval;
    let setup_chain = |index| dev_chain(&anvil, &deployment, index, 0, poll);

    // The network's participants, and tokens for every joiner, all at once.
    let mut setup = Vec::new();
    for index in 1..PARTICIPANTS {
        let chain = setup_chain(index).await?;
        let partner = dev_signer(&anvil, index + 1)?.address();
        setup.push((
            chain,
            Transaction::OpenChannel {
                token_network,
                partner,
            },
        ));
    }
    let first_joiner = PARTICIPANTS + 1;
    for index in first_joiner..first_joiner + joiners {
        let chain = setup_chain(index).await?;
        let to = chain.our_address();
        setup.push((
            chain,
            Transaction::MintFor {
                token,
                to,
                amount: TokenAmount(tokens(1000)),
            },
        ));
    }
    try_join_all(
        setup
            .iter()
            .map(|(chain, transaction)| send_and_wait(chain, transaction.clone())),
    )
    .await?;

    let partners: Vec<Address> = (1..=3)
        .map(|index| dev_signer(&anvil, index).map(|s| s.address()))
        .collect::<Result<_, _>>()?;
    let provider = setup[0].0.provider().clone();
    let client = provider.get_client_version().await?;
    let funds = tokens(100);
    let per_partner = tokens(20);

    let mut rows = Vec::new();
    let mut joiner = first_joiner;
    for &depth in &options.confirmations {
        // tokennet: the node's join.
        let chain = dev_chain(&anvil, &deployment, joiner, depth, poll).await?;
        joiner += 1;
        let node = Node::builder(chain)
            .tx_timeout(Duration::from_secs(120))
            .seed(depth)
            .start();
        node.wait_ready().await;
        let params = ConnectionParams {
            partner_selection: Default::default(),
            initial_channel_target: 3,
            ..ConnectionParams::with_funds(funds)
        };
        let ours = timed(&provider, async { Ok(node.join(token, params).await?) })
            .await
            .context("tokennet join")?;
        let joined = node.connections();
        let funded = node
            .channels(Some(token))
            .iter()
            .filter(|c| c.channel.our_deposit == per_partner)
            .count();
        if joined.len() != 1 || funded != 3 {
            bail!("the tokennet join made {funded} funded channels, not 3: {joined:?}");
        }
        drop(node);

        // Raiden-style: one step at a time.
        let chain = dev_chain(&anvil, &deployment, joiner, depth, poll).await?;
        joiner += 1;
        let before = chain.token_balance(token, chain.our_address()).await?.get();
        let raiden = timed(
            &provider,
            sequential_join(&chain, token, token_network, &partners, per_partner),
        )
        .await
        .context("Raiden-style join")?;
        let after = chain.token_balance(token, chain.our_address()).await?.get();
        if before - after != per_partner * U256::from(3) {
            bail!(
                "the Raiden-style join deposited {} wei of tokens, not 60 tokens",
                before - after
            );
        }
        eprintln!(
            "confirmation blocks {depth}: tokennet {}, Raiden-style {}",
            ours.show(),
            raiden.show()
        );
        rows.push((depth, ours, raiden));
    }
    drop(anvil);

    println!(
        "{client}, --block-time 1; poll interval {}; join of 100 tokens, target 3 (3 channels of 20 tokens)",
        humantime::format_duration(poll)
    );
    println!();
    println!("| confirmation blocks | tokennet join (approve + 3 openChannelWithDeposit, sent together) | Raiden-style (open, approve, deposit per partner, each waited for) | ratio, blocks | ratio, seconds |");
    println!("|---:|---:|---:|---:|---:|");
    let within = rows.iter().all(|(depth, ours, _)| ours.blocks <= 1 + depth);
    for (depth, ours, raiden) in rows {
        println!(
            "| {depth} | {} | {} | {:.1} × | {:.1} × |",
            ours.show(),
            raiden.show(),
            raiden.blocks as f64 / ours.blocks.max(1) as f64,
            raiden.seconds / ours.seconds,
        );
    }
    println!();
    println!(
        "tokennet answered within one block plus the confirmation depth: {}",
        if within { "yes, at every depth" } else { "NO" }
    );
    Ok(())
}
