//! The synchronous, deterministic state of the simulated chain: accounts, ERC20 tokens,
//! the token network registry and its channels, with the contract rules of SPEC §5.2.
//!
//! It knows nothing of time, latency or faults: those are the async adapter's
//! ([`super::SimChain`]). The growth simulator drives a `Ledger` directly, so that a
//! million simulated nodes cost a million small structs, not a million tasks.

use rustc_hash::FxHashMap as HashMap;

use alloy_primitives::keccak256;

use crate::chain::{ChainEvent, Transaction};
use crate::types::{Address, ChannelId, TokenAmount, U256};

/// What a successful transaction produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Executed {
    /// The events it emitted, in order.
    pub events: Vec<ChainEvent>,
    /// The channel it opened, if any.
    pub channel_id: Option<ChannelId>,
    /// The token network it created, if any.
    pub token_network: Option<Address>,
}

/// A contract rule the transaction broke, in the contract's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Revert(pub String);

fn revert<T>(reason: impl Into<String>) -> Result<T, Revert> {
    Err(Revert(reason.into()))
}

/// An ERC20 token.
#[derive(Clone, Debug, Default)]
struct Token {
    balances: HashMap<Address, U256>,
    allowances: HashMap<(Address, Address), U256>,
    total_supply: U256,
    /// Whether `mintFor` works (the test token); real tokens do not have it.
    mintable: bool,
}

impl Token {
    /// Adds `amount` to `to`, refusing (as an ERC20 with checked arithmetic does) a
    /// total supply past 2^256 − 1.
    fn mint(&mut self, to: Address, amount: U256) -> Result<(), Revert> {
        let Some(total_supply) = self.total_supply.checked_add(amount) else {
            return revert("total supply overflow");
        };
        // No balance exceeds the total supply, so this addition cannot overflow.
        let balance = self.balance(&to).saturating_add(amount);
        self.total_supply = total_supply;
        self.balances.insert(to, balance);
        Ok(())
    }

    fn balance(&self, owner: &Address) -> U256 {
        self.balances.get(owner).copied().unwrap_or_default()
    }

    fn transfer(&mut self, from: Address, to: Address, amount: U256) -> Result<(), Revert> {
        let from_balance = self.balance(&from);
        if from_balance < amount {
            return revert("ERC20: transfer amount exceeds balance");
        }
        self.balances.insert(from, from_balance - amount);
        *self.balances.entry(to).or_default() += amount;
        Ok(())
    }

    fn transfer_from(
        &mut self,
        spender: Address,
        from: Address,
        to: Address,
        amount: U256,
    ) -> Result<(), Revert> {
        let allowance = self
            .allowances
            .get(&(from, spender))
            .copied()
            .unwrap_or_default();
        if allowance < amount {
            return revert("ERC20: insufficient allowance");
        }
        self.transfer(from, to, amount)?;
        self.allowances.insert((from, spender), allowance - amount);
        Ok(())
    }
}

/// One participant's side of a channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParticipantState {
    /// The participant.
    pub address: Address,
    /// Its total deposit.
    pub deposit: U256,
    /// What it has withdrawn (always zero here: withdrawals need payments).
    pub withdrawn: U256,
}

/// Where a channel is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelState {
    /// Open: deposits allowed.
    Opened,
    /// Closed at `closed_at` (block timestamp) by `closer`.
    Closed {
        /// Who closed it.
        closer: Address,
        /// Timestamp of the close block, in seconds.
        closed_at: u64,
    },
}

/// A channel between two participants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Its identifier.
    pub id: ChannelId,
    /// Both sides, in the order the opener gave.
    pub participants: [ParticipantState; 2],
    /// Its state.
    pub state: ChannelState,
}

impl Channel {
    fn side_mut(&mut self, who: &Address) -> Option<&mut ParticipantState> {
        self.participants.iter_mut().find(|p| &p.address == who)
    }

    /// The side of `who`, if it is a participant.
    pub fn side(&self, who: &Address) -> Option<&ParticipantState> {
        self.participants.iter().find(|p| &p.address == who)
    }
}

/// A token network: the channels of one token.
#[derive(Clone, Debug)]
pub struct TokenNetwork {
    /// The ERC20 token.
    pub token: Address,
    /// Settle timeout in seconds.
    pub settle_timeout: u64,
    /// Highest channel identifier given out.
    pub channel_counter: u64,
    /// Most a participant may deposit in one channel.
    pub channel_participant_deposit_limit: U256,
    /// Most the whole network may hold.
    pub token_network_deposit_limit: U256,
    channels: HashMap<ChannelId, Channel>,
    /// The non-settled channel of each unordered pair.
    open_pairs: HashMap<(Address, Address), ChannelId>,
    total_deposits: U256,
}

fn pair_key(a: Address, b: Address) -> (Address, Address) {
    if a < b {
        (a, b)
    } else {
        (b, a)
    }
}

impl TokenNetwork {
    /// The channel with this identifier.
    pub fn channel(&self, id: ChannelId) -> Option<&Channel> {
        self.channels.get(&id)
    }

    /// The non-settled channel between two participants (`getChannelIdentifier`).
    pub fn channel_between(&self, a: Address, b: Address) -> Option<&Channel> {
        self.open_pairs
            .get(&pair_key(a, b))
            .and_then(|id| self.channels.get(id))
    }

    /// Every channel, in no particular order.
    pub fn channels(&self) -> impl Iterator<Item = &Channel> {
        self.channels.values()
    }

    /// Tokens the network holds: deposits of channels not yet settled.
    pub fn total_deposits(&self) -> U256 {
        self.total_deposits
    }
}

/// The whole simulated chain state.
#[derive(Clone, Debug)]
pub struct Ledger {
    seed: u64,
    eth: HashMap<Address, U256>,
    tokens: HashMap<Address, Token>,
    networks: HashMap<Address, TokenNetwork>,
    token_to_network: HashMap<Address, Address>,
    /// The registry's settle timeout for new networks, seconds.
    settle_timeout: u64,
    created_contracts: u64,
}

impl Ledger {
    /// An empty chain whose registry creates networks with `settle_timeout` seconds.
    /// `seed` makes the addresses of created contracts differ between simulations.
    pub fn new(seed: u64, settle_timeout: u64) -> Self {
        Self {
            seed,
            eth: HashMap::default(),
            tokens: HashMap::default(),
            networks: HashMap::default(),
            token_to_network: HashMap::default(),
            settle_timeout,
            created_contracts: 0,
        }
    }

    /// A deterministic address for `kind` number `index` in this simulation.
    pub fn derive_address(&self, kind: &str, index: u64) -> Address {
        let hash = keccak256(format!("tokennet-sim/{}/{kind}/{index}", self.seed));
        Address::from_slice(&hash[12..])
    }

    fn next_contract_address(&mut self) -> Address {
        self.created_contracts += 1;
        self.derive_address("contract", self.created_contracts)
    }

    /// ETH balance in wei.
    pub fn eth_balance(&self, owner: &Address) -> U256 {
        self.eth.get(owner).copied().unwrap_or_default()
    }

    /// Sets an ETH balance (genesis allocation, or a test's faucet).
    pub fn set_eth_balance(&mut self, owner: Address, wei: U256) {
        self.eth.insert(owner, wei);
    }

    /// Takes `wei` for gas. Fails when the balance is short.
    pub fn charge_gas(&mut self, payer: &Address, wei: U256) -> Result<(), U256> {
        let balance = self.eth_balance(payer);
        if balance < wei {
            return Err(balance);
        }
        self.eth.insert(*payer, balance - wei);
        Ok(())
    }

    /// Deploys a new ERC20 token; `mintable` gives it the test token's `mintFor`.
    pub fn deploy_token(&mut self, mintable: bool) -> Address {
        let address = self.next_contract_address();
        self.tokens.insert(
            address,
            Token {
                mintable,
                ..Token::default()
            },
        );
        address
    }

    /// Creates tokens out of thin air (genesis allocation; `mintFor` goes through
    /// [`Ledger::execute`]).
    pub fn mint(&mut self, token: Address, to: Address, amount: U256) -> Result<(), Revert> {
        let Some(state) = self.tokens.get_mut(&token) else {
            return revert("no token at this address");
        };
        state.mint(to, amount)
    }

    /// Token balance, zero for an unknown token.
    pub fn token_balance(&self, token: &Address, owner: &Address) -> U256 {
        self.tokens
            .get(token)
            .map(|t| t.balance(owner))
            .unwrap_or_default()
    }

    /// What `spender` may still pull from `owner`'s `token` (zero for an unknown token).
    pub fn allowance(&self, token: &Address, owner: &Address, spender: &Address) -> U256 {
        self.tokens
            .get(token)
            .and_then(|t| t.allowances.get(&(*owner, *spender)).copied())
            .unwrap_or_default()
    }

    /// Total supply of `token` (zero for an unknown token).
    pub fn total_supply(&self, token: &Address) -> U256 {
        self.tokens
            .get(token)
            .map(|t| t.total_supply)
            .unwrap_or_default()
    }

    /// Whether a token contract exists at this address.
    pub fn is_token(&self, token: &Address) -> bool {
        self.tokens.contains_key(token)
    }

    /// The token network of a token.
    pub fn token_network_of(&self, token: &Address) -> Option<Address> {
        self.token_to_network.get(token).copied()
    }

    /// A token network by its address.
    pub fn token_network(&self, address: &Address) -> Option<&TokenNetwork> {
        self.networks.get(address)
    }

    /// Sets the deposit limits of a token network (the registry's arguments to
    /// `createERC20TokenNetwork`).
    pub fn set_deposit_limits(
        &mut self,
        network: &Address,
        per_participant: U256,
        per_network: U256,
    ) -> Result<(), Revert> {
        let network = self.network_mut(*network)?;
        network.channel_participant_deposit_limit = per_participant;
        network.token_network_deposit_limit = per_network;
        Ok(())
    }

    /// Runs `transaction` as sent by `sender` in a block with timestamp `now` (seconds).
    /// On a revert nothing changes.
    pub fn execute(
        &mut self,
        sender: Address,
        transaction: &Transaction,
        now: u64,
    ) -> Result<Executed, Revert> {
        match transaction {
            Transaction::RegisterToken { token } => self.create_token_network(*token),
            Transaction::Approve {
                token,
                spender,
                amount,
            } => {
                let Some(state) = self.tokens.get_mut(token) else {
                    return revert("no token at this address");
                };
                state.allowances.insert((sender, *spender), amount.get());
                Ok(Executed::default())
            }
            Transaction::OpenChannel {
                token_network,
                partner,
            } => self.open_channel(*token_network, sender, *partner),
            Transaction::OpenChannelWithDeposit {
                token_network,
                partner,
                total_deposit,
            } => self.open_channel_with_deposit(*token_network, sender, *partner, *total_deposit),
            Transaction::SetTotalDeposit {
                token_network,
                channel_id,
                partner,
                total_deposit,
            } => self.set_total_deposit(
                *token_network,
                sender,
                *channel_id,
                sender,
                *total_deposit,
                *partner,
            ),
            Transaction::CloseChannel {
                token_network,
                channel_id,
                partner,
            } => self.close_channel(*token_network, *channel_id, sender, *partner, now),
            Transaction::SettleChannel {
                token_network,
                channel_id,
                partner,
            } => self.settle_channel(*token_network, *channel_id, sender, *partner, now),
            Transaction::MintFor { token, to, amount } => {
                let Some(state) = self.tokens.get_mut(token) else {
                    return revert("no token at this address");
                };
                if !state.mintable {
                    return revert("token has no mintFor");
                }
                state.mint(*to, amount.get())?;
                Ok(Executed::default())
            }
        }
    }

    fn create_token_network(&mut self, token: Address) -> Result<Executed, Revert> {
        if !self.tokens.contains_key(&token) {
            return revert("Invalid token address");
        }
        if self.token_to_network.contains_key(&token) {
            return revert("Token already registered");
        }
        let address = self.next_contract_address();
        self.networks.insert(
            address,
            TokenNetwork {
                token,
                settle_timeout: self.settle_timeout,
                channel_counter: 0,
                channel_participant_deposit_limit: U256::MAX,
                token_network_deposit_limit: U256::MAX,
                channels: HashMap::default(),
                open_pairs: HashMap::default(),
                total_deposits: U256::ZERO,
            },
        );
        self.token_to_network.insert(token, address);
        Ok(Executed {
            events: vec![ChainEvent::TokenNetworkCreated {
                token,
                token_network: address,
                settle_timeout: self.settle_timeout,
            }],
            channel_id: None,
            token_network: Some(address),
        })
    }

    fn network_mut(&mut self, address: Address) -> Result<&mut TokenNetwork, Revert> {
        match self.networks.get_mut(&address) {
            Some(network) => Ok(network),
            None => revert("no token network at this address"),
        }
    }

    fn open_channel(
        &mut self,
        network_address: Address,
        participant1: Address,
        participant2: Address,
    ) -> Result<Executed, Revert> {
        let network = self.network_mut(network_address)?;
        if participant1 == Address::ZERO || participant2 == Address::ZERO {
            return revert("TN: participant address zero");
        }
        if participant1 == participant2 {
            return revert("TN: identical participants");
        }
        let key = pair_key(participant1, participant2);
        if network.open_pairs.contains_key(&key) {
            return revert("TN/open: channel exists for participants");
        }
        network.channel_counter += 1;
        let id = ChannelId(network.channel_counter);
        network.open_pairs.insert(key, id);
        network.channels.insert(
            id,
            Channel {
                id,
                participants: [
                    ParticipantState {
                        address: participant1,
                        ..Default::default()
                    },
                    ParticipantState {
                        address: participant2,
                        ..Default::default()
                    },
                ],
                state: ChannelState::Opened,
            },
        );
        Ok(Executed {
            events: vec![ChainEvent::ChannelOpened {
                token_network: network_address,
                channel_id: id,
                participant1,
                participant2,
            }],
            channel_id: Some(id),
            token_network: None,
        })
    }

    fn open_channel_with_deposit(
        &mut self,
        network_address: Address,
        participant1: Address,
        participant2: Address,
        total_deposit: TokenAmount,
    ) -> Result<Executed, Revert> {
        let mut outcome = self.open_channel(network_address, participant1, participant2)?;
        let id = outcome
            .channel_id
            .ok_or_else(|| Revert("open gave no channel".into()))?;
        match self.set_total_deposit(
            network_address,
            participant1,
            id,
            participant1,
            total_deposit,
            participant2,
        ) {
            Ok(deposit) => {
                outcome.events.extend(deposit.events);
                Ok(outcome)
            }
            Err(reason) => {
                // All or nothing: a failed deposit must not leave the channel opened.
                let network = self.network_mut(network_address)?;
                network.channels.remove(&id);
                network
                    .open_pairs
                    .remove(&pair_key(participant1, participant2));
                network.channel_counter -= 1;
                Err(reason)
            }
        }
    }

    fn set_total_deposit(
        &mut self,
        network_address: Address,
        payer: Address,
        channel_id: ChannelId,
        participant: Address,
        total_deposit: TokenAmount,
        partner: Address,
    ) -> Result<Executed, Revert> {
        let total_deposit = total_deposit.get();
        if total_deposit.is_zero() {
            return revert("TN/deposit: total_deposit must be greater than 0");
        }
        let network = self.network_mut(network_address)?;
        let token_address = network.token;
        let participant_limit = network.channel_participant_deposit_limit;
        let network_limit = network.token_network_deposit_limit;
        let network_total = network.total_deposits;
        let Some(channel) = network.channels.get_mut(&channel_id) else {
            return revert("TN/deposit: channel does not exist");
        };
        if channel.state != ChannelState::Opened {
            return revert("TN/deposit: channel must be open");
        }
        if channel.side(&partner).is_none() || partner == participant {
            return revert("TN/deposit: partner is not a participant");
        }
        let Some(side) = channel.side_mut(&participant) else {
            return revert("TN/deposit: participant is not in the channel");
        };
        if total_deposit <= side.deposit {
            return revert("TN/deposit: deposit must be strictly increasing");
        }
        if total_deposit > participant_limit {
            return revert("TN/deposit: participant deposit limit reached");
        }
        let added = total_deposit - side.deposit;
        if network_total.saturating_add(added) > network_limit {
            return revert("TN/deposit: network deposit limit reached");
        }
        let Some(token) = self.tokens.get_mut(&token_address) else {
            return revert("token of the network does not exist");
        };
        token.transfer_from(network_address, payer, network_address, added)?;
        let network = self.network_mut(network_address)?;
        network.total_deposits += added;
        if let Some(side) = network
            .channels
            .get_mut(&channel_id)
            .and_then(|c| c.side_mut(&participant))
        {
            side.deposit = total_deposit;
        }
        Ok(Executed {
            events: vec![ChainEvent::ChannelNewDeposit {
                token_network: network_address,
                channel_id,
                participant,
                total_deposit: TokenAmount(total_deposit),
            }],
            ..Executed::default()
        })
    }

    fn close_channel(
        &mut self,
        network_address: Address,
        channel_id: ChannelId,
        closer: Address,
        partner: Address,
        now: u64,
    ) -> Result<Executed, Revert> {
        let network = self.network_mut(network_address)?;
        let Some(channel) = network.channels.get_mut(&channel_id) else {
            return revert("TN/close: channel does not exist");
        };
        if channel.state != ChannelState::Opened {
            return revert("TN/close: channel must be open");
        }
        if channel.side(&closer).is_none() || channel.side(&partner).is_none() || closer == partner
        {
            return revert("TN/close: closer and partner must be the participants");
        }
        channel.state = ChannelState::Closed {
            closer,
            closed_at: now,
        };
        Ok(Executed {
            events: vec![ChainEvent::ChannelClosed {
                token_network: network_address,
                channel_id,
                closing_participant: closer,
            }],
            ..Executed::default()
        })
    }

    fn settle_channel(
        &mut self,
        network_address: Address,
        channel_id: ChannelId,
        participant: Address,
        partner: Address,
        now: u64,
    ) -> Result<Executed, Revert> {
        let network = self.network_mut(network_address)?;
        let settle_timeout = network.settle_timeout;
        let token_address = network.token;
        let Some(channel) = network.channels.get_mut(&channel_id) else {
            return revert("TN/settle: channel does not exist");
        };
        let ChannelState::Closed { closed_at, .. } = channel.state else {
            return revert("TN/settle: channel must be closed");
        };
        if now <= closed_at + settle_timeout {
            return revert("TN/settle: settlement timeout has not expired");
        }
        if channel.side(&participant).is_none() || channel.side(&partner).is_none() {
            return revert("TN/settle: wrong participants");
        }
        // No balance proofs without payments: every participant gets back its deposit
        // minus its withdrawals.
        let payouts = channel
            .participants
            .map(|side| (side.address, side.deposit - side.withdrawn));
        // Like the contract, forget the channel once settled: a long simulation with churn
        // must not accumulate dead channels.
        network.channels.remove(&channel_id);
        let key = pair_key(payouts[0].0, payouts[1].0);
        network.open_pairs.remove(&key);
        let paid = payouts[0].1 + payouts[1].1;
        network.total_deposits -= paid;
        let Some(token) = self.tokens.get_mut(&token_address) else {
            return revert("token of the network does not exist");
        };
        for (owner, amount) in payouts {
            token.transfer(network_address, owner, amount)?;
        }
        Ok(Executed {
            events: vec![ChainEvent::ChannelSettled {
                token_network: network_address,
                channel_id,
                participant1: (payouts[0].0, TokenAmount(payouts[0].1)),
                participant2: (payouts[1].0, TokenAmount(payouts[1].1)),
            }],
            ..Executed::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Setup {
        ledger: Ledger,
        token: Address,
        network: Address,
        a: Address,
        b: Address,
    }

    fn setup() -> Setup {
        let mut ledger = Ledger::new(1, 10);
        let token = ledger.deploy_token(true);
        let a = ledger.derive_address("account", 1);
        let b = ledger.derive_address("account", 2);
        ledger.mint(token, a, U256::from(1000)).unwrap();
        ledger.mint(token, b, U256::from(1000)).unwrap();
        let network = ledger
            .execute(a, &Transaction::RegisterToken { token }, 0)
            .unwrap()
            .token_network
            .unwrap();
        for who in [a, b] {
            let approve = Transaction::Approve {
                token,
                spender: network,
                amount: TokenAmount::from(1000),
            };
            ledger.execute(who, &approve, 0).unwrap();
        }
        Setup {
            ledger,
            token,
            network,
            a,
            b,
        }
    }

    fn open_with(s: &mut Setup, deposit: u64) -> Result<ChannelId, Revert> {
        let tx = Transaction::OpenChannelWithDeposit {
            token_network: s.network,
            partner: s.b,
            total_deposit: TokenAmount::from(deposit),
        };
        s.ledger.execute(s.a, &tx, 0).map(|o| o.channel_id.unwrap())
    }

    #[test]
    fn one_channel_per_pair_until_settled_then_a_new_identifier() {
        let mut s = setup();
        let first = open_with(&mut s, 10).unwrap();
        assert_eq!(first, ChannelId(1));
        let again = Transaction::OpenChannel {
            token_network: s.network,
            partner: s.a,
        };
        assert!(s.ledger.execute(s.b, &again, 0).is_err());
        let close = Transaction::CloseChannel {
            token_network: s.network,
            channel_id: first,
            partner: s.b,
        };
        s.ledger.execute(s.a, &close, 100).unwrap();
        let settle = Transaction::SettleChannel {
            token_network: s.network,
            channel_id: first,
            partner: s.a,
        };
        let early = s.ledger.execute(s.b, &settle, 110).unwrap_err();
        assert!(early.0.contains("timeout"), "{early}");
        s.ledger.execute(s.b, &settle, 111).unwrap();
        assert_eq!(s.ledger.token_balance(&s.token, &s.a), U256::from(1000));
        assert_eq!(open_with(&mut s, 5).unwrap(), ChannelId(2));
    }

    #[test]
    fn deposits_are_monotonic_and_all_or_nothing() {
        let mut s = setup();
        assert!(open_with(&mut s, 2000).is_err(), "more than the balance");
        assert!(s
            .ledger
            .token_network(&s.network)
            .unwrap()
            .channel_between(s.a, s.b)
            .is_none());
        let id = open_with(&mut s, 10).unwrap();
        for (total, ok) in [(10, false), (9, false), (0, false), (11, true)] {
            let tx = Transaction::SetTotalDeposit {
                token_network: s.network,
                channel_id: id,
                partner: s.b,
                total_deposit: TokenAmount::from(total),
            };
            assert_eq!(s.ledger.execute(s.a, &tx, 0).is_ok(), ok, "total {total}");
        }
        assert_eq!(s.ledger.token_balance(&s.token, &s.a), U256::from(989));
    }
}
