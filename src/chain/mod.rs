//! The only door to a blockchain: the [`Chain`] trait, the events it reports, the
//! transactions it sends and the errors it can give.
//!
//! # The contract of a `Chain`
//!
//! * **One account.** A `Chain` value acts for one account, [`Chain::our_address`]: every
//!   transaction it submits is signed by and paid for by that account.
//! * **Confirmed view.** [`Chain::latest_block`] is the newest *confirmed* block (the head
//!   minus the chain's confirmation depth). Reads and events never reach past it, so the
//!   node never acts on something a reorganisation could take back.
//! * **Events.** [`Chain::events`] returns every event of every registered token network
//!   (and of the registry) in the inclusive block range asked for, in chain order: by
//!   block, then by position in the block. Asking twice for the same range gives the same
//!   events. A channel's `ChannelOpened` comes before its deposits, its deposits before its
//!   `ChannelClosed`, that before its `ChannelSettled`. A network created before the first
//!   range asked for is known only once [`Chain::follow_token_networks`] names it.
//! * **Transactions.** [`Chain::submit`] hands a transaction to the chain and returns at
//!   once with its hash: transactions of one account are included in submission order
//!   (the chain keeps the nonces). [`Chain::confirm`] waits until it is mined and
//!   confirmed, and reports its outcome. Submitting several transactions and then
//!   confirming them together is how a join takes one block instead of one per step.
//! * **Replacement.** A transaction that waits too long can be signed again with its
//!   nonce and higher fees ([`Chain::replace`]) and sent with [`Chain::send`]. The
//!   transactions sharing a nonce are alternatives: at most one of them is ever mined,
//!   and [`Chain::confirm`] of each other one ends in [`ChainError::Dropped`] once it is.
//! * **History.** A chain need not keep its whole past. [`ethereum::EthChain`] has what its
//!   RPC endpoint has. [`sim::SimChain`] keeps the events from the oldest block a node
//!   following it (a [`sim::SimChain::for_account`] handle still alive) has not read yet,
//!   besides always the newest few (a bounded window, [`sim::HistoryLimits`]); and the
//!   newest receipts, besides every one not yet confirmed. Asking for what a chain no
//!   longer has ([`Chain::events`] from a pruned block, [`Chain::confirm`] of a transaction
//!   whose receipt was pruned) is a [`ChainError::Rpc`] that says so, never an empty or a
//!   wrong answer: a node must follow the simulated chain from the start (the embedded
//!   network starts all its nodes with the chain).
//! * **Errors.** [`ChainError`] says which failures are the caller's (not enough ETH, a
//!   broken contract rule) and which are the chain's (RPC failure, not mined in time).
//!   A `Chain` never panics on a chain failure.

pub mod ethereum;
pub mod fees;
pub mod gas;
pub mod sim;

use std::future::Future;
use std::time::Duration;

use alloy_primitives::Bytes;
use serde::{Deserialize, Serialize};

pub use crate::chain::fees::Fees;
use crate::types::{Address, ChannelId, TokenAmount, B256, U256};

/// What happened on chain, as the contracts' events report it (SPEC §5.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainEvent {
    /// The registry created a token network for `token`.
    TokenNetworkCreated {
        /// The ERC20 token.
        token: Address,
        /// The new token network contract.
        token_network: Address,
        /// Settle timeout of the new network, in seconds.
        settle_timeout: u64,
    },
    /// A channel was opened between two participants.
    ChannelOpened {
        /// The token network that holds the channel.
        token_network: Address,
        /// The channel's identifier.
        channel_id: ChannelId,
        /// The first participant (the opener's choice of order).
        participant1: Address,
        /// The second participant.
        participant2: Address,
    },
    /// A participant's total deposit in a channel grew.
    ChannelNewDeposit {
        /// The token network that holds the channel.
        token_network: Address,
        /// The channel's identifier.
        channel_id: ChannelId,
        /// Whose deposit grew.
        participant: Address,
        /// The participant's new total deposit.
        total_deposit: TokenAmount,
    },
    /// A channel was closed; it can be settled once the settle timeout has passed after
    /// the close block's timestamp.
    ChannelClosed {
        /// The token network that holds the channel.
        token_network: Address,
        /// The channel's identifier.
        channel_id: ChannelId,
        /// Who closed it.
        closing_participant: Address,
    },
    /// A channel was settled and its deposits paid out.
    ChannelSettled {
        /// The token network that held the channel.
        token_network: Address,
        /// The channel's identifier.
        channel_id: ChannelId,
        /// The first participant and what it was paid.
        participant1: (Address, TokenAmount),
        /// The second participant and what it was paid.
        participant2: (Address, TokenAmount),
    },
}

/// An event with the block it was mined in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Block number.
    pub block: u64,
    /// Block timestamp, in seconds.
    pub timestamp: u64,
    /// What happened.
    pub event: ChainEvent,
}

/// A transaction the node can send. Signing, nonces and gas are the chain's business.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transaction {
    /// Create the token network of `token` in the registry, with no deposit limits.
    RegisterToken {
        /// The ERC20 token.
        token: Address,
    },
    /// ERC20 `approve(spender, amount)`: lets a token network pull our deposits.
    Approve {
        /// The ERC20 token.
        token: Address,
        /// Who may spend (the token network).
        spender: Address,
        /// The allowance, replacing any earlier one.
        amount: TokenAmount,
    },
    /// `openChannel(us, partner)`.
    OpenChannel {
        /// The token network.
        token_network: Address,
        /// The other participant.
        partner: Address,
    },
    /// `openChannelWithDeposit(us, partner, total_deposit)`.
    OpenChannelWithDeposit {
        /// The token network.
        token_network: Address,
        /// The other participant.
        partner: Address,
        /// Our deposit in the new channel.
        total_deposit: TokenAmount,
    },
    /// `setTotalDeposit(channel, us, total_deposit, partner)`.
    SetTotalDeposit {
        /// The token network.
        token_network: Address,
        /// The channel.
        channel_id: ChannelId,
        /// The other participant.
        partner: Address,
        /// Our new total deposit (strictly more than the old one).
        total_deposit: TokenAmount,
    },
    /// `closeChannel` with an empty balance proof and our counter-signature.
    CloseChannel {
        /// The token network.
        token_network: Address,
        /// The channel.
        channel_id: ChannelId,
        /// The other participant.
        partner: Address,
    },
    /// `settleChannel` with zero transferred and locked amounts on both sides.
    SettleChannel {
        /// The token network.
        token_network: Address,
        /// The channel.
        channel_id: ChannelId,
        /// The other participant.
        partner: Address,
    },
    /// The test token's `mintFor(amount, to)`.
    MintFor {
        /// The test token.
        token: Address,
        /// Who receives the new tokens.
        to: Address,
        /// How many.
        amount: TokenAmount,
    },
}

impl Transaction {
    /// A short name for logs and error messages, such as `openChannelWithDeposit`.
    pub fn name(&self) -> &'static str {
        match self {
            Transaction::RegisterToken { .. } => "createERC20TokenNetwork",
            Transaction::Approve { .. } => "approve",
            Transaction::OpenChannel { .. } => "openChannel",
            Transaction::OpenChannelWithDeposit { .. } => "openChannelWithDeposit",
            Transaction::SetTotalDeposit { .. } => "setTotalDeposit",
            Transaction::CloseChannel { .. } => "closeChannel",
            Transaction::SettleChannel { .. } => "settleChannel",
            Transaction::MintFor { .. } => "mintFor",
        }
    }
}

/// A transaction signed with its nonce and not handed to the chain yet: its hash is
/// known before it is sent, so that the node can journal it first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTx {
    /// The transaction hash.
    pub hash: B256,
    /// The account nonce it uses.
    pub nonce: u64,
    /// What it does.
    pub transaction: Transaction,
    /// The signed envelope as the chain takes it (empty for the simulated chain).
    pub raw: Bytes,
    /// The fees it offers.
    pub fees: Fees,
}

/// A transaction handed to the chain and not yet confirmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingTx {
    /// The transaction hash.
    pub hash: B256,
    /// The account nonce it uses.
    pub nonce: u64,
    /// What was sent.
    pub transaction: Transaction,
    /// The fees it offers (zero when unknown: journaled by a tokennet that did not
    /// record them).
    pub fees: Fees,
}

impl Transaction {
    /// What the transaction is for, as one line: two transactions with the same purpose
    /// would do the same thing, so the node never has two of them in flight.
    pub fn purpose(&self) -> String {
        match self {
            Transaction::RegisterToken { token } => format!("register token {token}"),
            Transaction::Approve {
                token,
                spender,
                amount,
            } => format!("approve {token} for {spender}: {amount}"),
            Transaction::OpenChannel {
                token_network,
                partner,
            }
            | Transaction::OpenChannelWithDeposit {
                token_network,
                partner,
                ..
            } => format!("open channel in {token_network} with {partner}"),
            Transaction::SetTotalDeposit {
                token_network,
                channel_id,
                total_deposit,
                ..
            } => format!("deposit in {token_network} channel {channel_id}: total {total_deposit}"),
            Transaction::CloseChannel {
                token_network,
                channel_id,
                ..
            } => format!("close {token_network} channel {channel_id}"),
            Transaction::SettleChannel {
                token_network,
                channel_id,
                ..
            } => format!("settle {token_network} channel {channel_id}"),
            Transaction::MintFor { token, to, amount } => {
                format!("mint {amount} of {token} for {to}")
            }
        }
    }
}

/// A mined and confirmed, successful transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The transaction hash.
    pub hash: B256,
    /// The block it was mined in.
    pub block: u64,
    /// Gas it used.
    pub gas_used: u64,
    /// The channel it opened, for the two open transactions.
    pub channel_id: Option<ChannelId>,
    /// The token network it created, for `RegisterToken`.
    pub token_network: Option<Address>,
}

/// Latest confirmed block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// Block number.
    pub number: u64,
    /// Block timestamp, in seconds.
    pub timestamp: u64,
}

/// Why a chain call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The account has not enough ETH to pay for the transaction's gas.
    #[error("insufficient ETH for {transaction}: {needed} wei needed, {available} wei available")]
    InsufficientEth {
        /// The transaction's name.
        transaction: &'static str,
        /// Wei it would cost.
        needed: U256,
        /// Wei the account has.
        available: U256,
    },
    /// The transaction was not mined within the allowed time.
    #[error("transaction {transaction} {hash} was not mined within {timeout:?}")]
    NotMined {
        /// The transaction's name.
        transaction: &'static str,
        /// Its hash.
        hash: B256,
        /// How long we waited.
        timeout: Duration,
    },
    /// The transaction was mined but a contract rule refused it.
    #[error("transaction {transaction} {hash} reverted: {reason}")]
    Reverted {
        /// The transaction's name.
        transaction: &'static str,
        /// Its hash.
        hash: B256,
        /// The rule it broke, as the contract says it.
        reason: String,
    },
    /// The transaction will never be mined: dropped from the mempool, replaced by
    /// another with its nonce, or never accepted. Sending it anew is safe.
    #[error("transaction {transaction} {hash} was dropped or replaced before it was mined; call again to send it anew")]
    Dropped {
        /// The transaction's name.
        transaction: &'static str,
        /// Its hash.
        hash: B256,
    },
    /// The chain's node gave an answer we cannot use.
    #[error("chain RPC failed: {0}")]
    Rpc(String),
    /// The chain's node could not be reached or did not answer in time (refused
    /// connections, a request timeout, an HTTP error of the endpoint): nothing is wrong
    /// with the request, so the caller may try again once the chain is back.
    #[error("the chain is unavailable: {0}")]
    Unavailable(String),
}

/// What the node needs from a blockchain. See the module docs for the contract.
///
/// Every method's future is `Send`, so that the node can run them on any worker thread.
pub trait Chain: Clone + Send + Sync + 'static {
    /// The account this chain value signs and pays for.
    fn our_address(&self) -> Address;

    /// The newest confirmed block.
    fn latest_block(&self) -> impl Future<Output = Result<BlockInfo, ChainError>> + Send;

    /// The current gas price, in wei per gas.
    fn gas_price(&self) -> impl Future<Output = Result<U256, ChainError>> + Send;

    /// ETH balance of `owner`, in wei.
    fn eth_balance(&self, owner: Address) -> impl Future<Output = Result<U256, ChainError>> + Send;

    /// Token balance of `owner`.
    fn token_balance(
        &self,
        token: Address,
        owner: Address,
    ) -> impl Future<Output = Result<TokenAmount, ChainError>> + Send;

    /// The token network of `token`, if the registry has one.
    fn token_network(
        &self,
        token: Address,
    ) -> impl Future<Output = Result<Option<Address>, ChainError>> + Send;

    /// The settle timeout of a token network, in seconds.
    fn settle_timeout(
        &self,
        token_network: Address,
    ) -> impl Future<Output = Result<u64, ChainError>> + Send;

    /// Every event in blocks `from..=to`, in chain order.
    fn events(
        &self,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<EventRecord>, ChainError>> + Send;

    /// Signs `transaction` with the account's next nonce, without sending it. Signed
    /// transactions must be sent in signing order (the node holds one lock over both).
    fn sign(
        &self,
        transaction: Transaction,
    ) -> impl Future<Output = Result<SignedTx, ChainError>> + Send;

    /// Sends a signed transaction (a new one, or a replacement from [`Chain::replace`]);
    /// returns once the chain has accepted it. On failure the nonce of a new transaction
    /// is given back, so that the next transaction does not wait behind a gap.
    fn send(&self, signed: SignedTx) -> impl Future<Output = Result<PendingTx, ChainError>> + Send;

    /// Signs and sends `transaction`; returns once the chain has accepted it.
    fn submit(
        &self,
        transaction: Transaction,
    ) -> impl Future<Output = Result<PendingTx, ChainError>> + Send {
        async move {
            let signed = self.sign(transaction).await?;
            self.send(signed).await
        }
    }

    /// The hash of block `number` as the chain has it now; `None` past the head. A
    /// different answer than before means the chain reorganised.
    fn block_hash(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Option<B256>, ChainError>> + Send;

    /// What `spender` may still pull from `owner`'s `token`.
    fn allowance(
        &self,
        token: Address,
        owner: Address,
        spender: Address,
    ) -> impl Future<Output = Result<U256, ChainError>> + Send;

    /// A line that names this chain and deployment (chain id, genesis, registry), so that
    /// a state database is never used with another chain than the one it was written for.
    fn identity(&self) -> impl Future<Output = Result<String, ChainError>> + Send;

    /// [`Chain::identity`] and whatever else tells that the contracts the node follows
    /// are still the ones it started with (on a real chain, a digest of the registry's
    /// code). The node compares it, while it runs, with what it read at its start: a
    /// different answer means the endpoint now serves another chain or deployment.
    fn deployment_identity(&self) -> impl Future<Output = Result<String, ChainError>> + Send {
        self.identity()
    }

    /// Waits until `pending` is mined and confirmed. Returns its receipt, or
    /// [`ChainError::Reverted`] if a contract rule refused it. Waits as long as it takes:
    /// callers bound it with their own timeout.
    fn confirm(
        &self,
        pending: &PendingTx,
    ) -> impl Future<Output = Result<Receipt, ChainError>> + Send;

    /// Signs `stuck` again with its nonce and both fees raised enough for the chain to
    /// take it in place of `stuck` (at least 10 %: see [`fees::bump`]), or to the
    /// chain's current price if that is higher, without a fee cap above `max_fee_per_gas`
    /// (wei). `None` when the cap leaves no room for such a raise. Does not send it:
    /// the caller journals it first, then hands it to [`Chain::send`]; whichever of the
    /// transactions sharing the nonce is mined wins, and the others are dropped.
    fn replace(
        &self,
        stuck: &PendingTx,
        max_fee_per_gas: u128,
    ) -> impl Future<Output = Result<Option<SignedTx>, ChainError>> + Send;

    /// How often it is worth asking for new blocks.
    fn poll_interval(&self) -> Duration;

    /// Makes [`Chain::events`] report the events of `token_networks` too, though their
    /// creation lies before the blocks it will be asked for: a node restarting from its
    /// stored state knows networks whose `TokenNetworkCreated` it will not read again. A
    /// chain that reports every network's events anyway ignores it (the default); one that
    /// learns the networks from the registry's events ([`ethereum::EthChain`]) needs it.
    fn follow_token_networks(&self, token_networks: &[Address]) {
        let _ = token_networks;
    }
}
