//! Decisions: what the connection manager chose, the numbers its rule used, and a
//! sentence a person understands that says why (SPEC §2.8).
//!
//! A decision keeps numbers, not text: the sentence is rendered from them on demand
//! ([`Decision::reason`]), so that the simulator, which makes millions of decisions and
//! writes them only with `--decisions`, pays nothing for reasons it does not write.

use super::params::JoinableFraction;
use super::strategy::StrategyKind;
use super::Action;
use crate::types::{checksummed, Address, ChannelId, BOOTSTRAP_ADDRESS, U256};

/// What kind of decision it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// Open a channel (with or without a deposit).
    Open,
    /// Raise our deposit in a channel we opened and had not funded.
    Deposit,
    /// Fund a channel a partner opened, matching its deposit.
    Match,
    /// A candidate considered and passed over.
    Skip,
    /// Run *open channels* again after a new channel appeared.
    Retry,
    /// Funds held for partners that do not exist yet.
    Wait,
    /// The join was refused (402, 408, 409).
    Refused,
    /// Close a channel.
    Close,
    /// Settle a closed channel.
    Settle,
}

impl DecisionKind {
    /// Every kind.
    pub const ALL: [DecisionKind; 9] = [
        DecisionKind::Open,
        DecisionKind::Deposit,
        DecisionKind::Match,
        DecisionKind::Skip,
        DecisionKind::Retry,
        DecisionKind::Wait,
        DecisionKind::Refused,
        DecisionKind::Close,
        DecisionKind::Settle,
    ];

    /// The name used by the API, the store and `decisions.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Open => "open",
            DecisionKind::Deposit => "deposit",
            DecisionKind::Match => "match",
            DecisionKind::Skip => "skip",
            DecisionKind::Retry => "retry",
            DecisionKind::Wait => "wait",
            DecisionKind::Refused => "refused",
            DecisionKind::Close => "close",
            DecisionKind::Settle => "settle",
        }
    }
}

impl std::str::FromStr for DecisionKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| format!("unknown decision kind {name:?}"))
    }
}

impl std::fmt::Display for DecisionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The numbers a rule used; `None` for those it did not use. With them, the decision's
/// amount can be computed again by hand.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DecisionInputs {
    /// `funds` of the join.
    pub funds: Option<U256>,
    /// `funds − Σ our deposits`, capped by our token balance, before this decision.
    pub funds_remaining: Option<U256>,
    /// `funds × (1 − joinable) / target`.
    pub per_partner: Option<U256>,
    /// The partner's total deposit in the channel.
    pub partner_deposit: Option<U256>,
    /// Our total deposit in the channel before this decision.
    pub our_deposit: Option<U256>,
    /// `initial_channel_target`.
    pub initial_channel_target: Option<u32>,
    /// `joinable_funds_target`.
    pub joinable_funds_target: Option<JoinableFraction>,
    /// Our funded channels before this decision (bootstrap excluded).
    pub funded_channels: Option<u32>,
    /// Channels still wanted when the decision was made.
    pub wanted: Option<u32>,
    /// Participants that were eligible as new partners (not us, not the bootstrap
    /// address, not a current partner).
    pub eligible: Option<u64>,
    /// The strategy's score of the chosen candidate, where it scores.
    pub score: Option<f64>,
    /// Chain timestamp (seconds) from which the channel may be settled.
    pub settle_from: Option<u64>,
}

impl DecisionInputs {
    /// The inputs that are set, by name, as decimal strings (amounts are token units).
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let mut entries = Vec::new();
        let mut put = |name: &'static str, value: Option<String>| {
            if let Some(value) = value {
                entries.push((name, value));
            }
        };
        put("funds", self.funds.map(|v| v.to_string()));
        put(
            "funds_remaining",
            self.funds_remaining.map(|v| v.to_string()),
        );
        put("per_partner", self.per_partner.map(|v| v.to_string()));
        put(
            "partner_deposit",
            self.partner_deposit.map(|v| v.to_string()),
        );
        put("our_deposit", self.our_deposit.map(|v| v.to_string()));
        put(
            "initial_channel_target",
            self.initial_channel_target.map(|v| v.to_string()),
        );
        put(
            "joinable_funds_target",
            self.joinable_funds_target.map(|v| v.as_f64().to_string()),
        );
        put(
            "funded_channels",
            self.funded_channels.map(|v| v.to_string()),
        );
        put("wanted", self.wanted.map(|v| v.to_string()));
        put("eligible", self.eligible.map(|v| v.to_string()));
        put("score", self.score.map(|v| v.to_string()));
        put("settle_from", self.settle_from.map(|v| v.to_string()));
        entries
    }
}

/// One decision of the connection manager.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// What kind.
    pub kind: DecisionKind,
    /// The partner it concerns, if one.
    pub partner: Option<Address>,
    /// The channel it concerns, once it exists.
    pub channel_id: Option<ChannelId>,
    /// The amount (our new total deposit, the funds held, …), token units.
    pub amount: Option<U256>,
    /// The strategy of the connection when it was made.
    pub strategy: StrategyKind,
    /// The numbers the rule used.
    pub inputs: DecisionInputs,
    /// What the numbers cannot say (a refusal's message, why a candidate was skipped).
    pub detail: Option<String>,
    /// What to do on chain, for the kinds that act (`open`, `deposit`, `match`).
    pub action: Option<Action>,
}

impl Decision {
    /// A decision of `kind` with nothing else set.
    pub fn new(kind: DecisionKind, strategy: StrategyKind) -> Self {
        Self {
            kind,
            partner: None,
            channel_id: None,
            amount: None,
            strategy,
            inputs: DecisionInputs::default(),
            detail: None,
            action: None,
        }
    }

    /// One sentence that says why, from the numbers.
    pub fn reason(&self) -> String {
        let i = &self.inputs;
        let partner = self
            .partner
            .map(|p| checksummed(&p))
            .unwrap_or_else(|| "the partner".to_owned());
        let n = |v: Option<U256>| v.map(|v| v.to_string()).unwrap_or_else(|| "?".into());
        let share = || {
            format!(
                "funds {} × (1 − {}) / {}",
                n(i.funds),
                i.joinable_funds_target
                    .map(|j| j.as_f64().to_string())
                    .unwrap_or_else(|| "?".into()),
                i.initial_channel_target
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "?".into())
            )
        };
        let with_detail = |sentence: String| match &self.detail {
            Some(detail) => format!("{sentence}: {detail}"),
            None => sentence,
        };
        match self.kind {
            DecisionKind::Open if self.partner == Some(BOOTSTRAP_ADDRESS) => {
                "opened a channel with the bootstrap address, without deposit: the token \
                 network has no other participant yet, and this makes us visible"
                    .to_owned()
            }
            DecisionKind::Open => {
                let chosen = match (i.eligible, i.score) {
                    (Some(eligible), Some(score)) => format!(
                        "chose {partner} by {} sampling among {eligible} eligible participants (score {score})",
                        self.strategy
                    ),
                    (Some(eligible), None) => format!(
                        "chose {partner} by {} sampling among {eligible} eligible participants",
                        self.strategy
                    ),
                    _ => format!("chose {partner} by {}", self.strategy),
                };
                match self.amount {
                    Some(amount) if !amount.is_zero() => {
                        format!("{chosen}; deposit {amount} = {}", share())
                    }
                    _ if i.per_partner.is_some_and(|p| p.is_zero()) => {
                        format!("{chosen}; no deposit: the per-partner share {} is 0", share())
                    }
                    _ => format!(
                        "{chosen}; no deposit now: funds remaining {} are less than the per-partner share {}",
                        n(i.funds_remaining),
                        n(i.per_partner)
                    ),
                }
            }
            DecisionKind::Deposit => format!(
                "our channel with {partner} had {} of the per-partner share; deposit up to {} = {}",
                n(i.our_deposit),
                n(self.amount),
                share()
            ),
            DecisionKind::Match if i.partner_deposit.is_none() => format!(
                "{partner} opened a channel with us and it counts toward our {} partners; deposit up to {} = {}",
                i.initial_channel_target
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "?".into()),
                n(self.amount),
                share()
            ),
            DecisionKind::Match => format!(
                "{partner} deposited {} in its channel with us; deposit up to {} = min(partner deposit {}, our deposit {} + funds remaining {}, share {})",
                n(i.partner_deposit),
                n(self.amount),
                n(i.partner_deposit),
                n(i.our_deposit),
                n(i.funds_remaining),
                n(i.per_partner)
            ),
            DecisionKind::Skip => with_detail(format!("passed over {partner}")),
            DecisionKind::Retry => format!(
                "a new channel appeared in the token network while we have {} of {} funded channels and {} funds remaining: choosing partners again",
                i.funded_channels.map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
                i.initial_channel_target.map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
                n(i.funds_remaining)
            ),
            DecisionKind::Wait => format!(
                "holding {} for partners that do not exist yet: {} channels wanted, {} eligible participants",
                n(self.amount),
                i.wanted.map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
                i.eligible.map(|v| v.to_string()).unwrap_or_else(|| "?".into())
            ),
            DecisionKind::Refused => with_detail("the join was refused".to_owned()),
            DecisionKind::Close => with_detail(format!(
                "closing the channel with {partner} (our deposit {})",
                n(i.our_deposit)
            )),
            DecisionKind::Settle => with_detail(format!(
                "settling the channel with {partner}: its settle window is over (from {})",
                i.settle_from
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "?".into())
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_reason_and_a_name_that_parses_back() {
        for kind in DecisionKind::ALL {
            let decision = Decision::new(kind, StrategyKind::Uniform);
            assert!(!decision.reason().is_empty(), "{kind}");
            assert_eq!(kind.as_str().parse::<DecisionKind>(), Ok(kind));
        }
    }

    #[test]
    fn an_open_says_how_the_deposit_was_computed() {
        let mut decision = Decision::new(DecisionKind::Open, StrategyKind::Uniform);
        decision.partner = Some(Address::repeat_byte(0x11));
        decision.amount = Some(U256::from(20));
        decision.inputs = DecisionInputs {
            funds: Some(U256::from(100)),
            per_partner: Some(U256::from(20)),
            initial_channel_target: Some(3),
            joinable_funds_target: JoinableFraction::from_f64(0.4).ok(),
            eligible: Some(41),
            ..DecisionInputs::default()
        };
        let reason = decision.reason();
        assert!(
            reason.contains("uniform sampling among 41 eligible participants"),
            "{reason}"
        );
        assert!(
            reason.contains("deposit 20 = funds 100 × (1 − 0.4) / 3"),
            "{reason}"
        );
        let names: Vec<_> = decision
            .inputs
            .entries()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert!(names.contains(&"per_partner") && names.contains(&"eligible"));
    }
}
