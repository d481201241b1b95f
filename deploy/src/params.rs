//! Protocol parameters `deploy` sets, read from a TOML file (`deploy/params.toml` is the
//! documented default, compiled into the binary).

use std::{collections::BTreeMap, path::Path};

use alloy_primitives::U256;
use assay_protocol::{bindings::ISampling, math::honesty};
use serde::Deserialize;

use crate::error::Error;

/// The default parameter file.
pub const DEFAULT_PARAMS: &str = include_str!("../params.toml");

/// All parameters.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Staking parameters.
    pub staking: StakingParams,
    /// Job market parameters.
    pub market: MarketParams,
    /// Dispute game parameters.
    pub dispute: DisputeParams,
    /// Model prices.
    #[serde(default)]
    pub models: ModelParams,
}

/// Staking parameters (constructor arguments, re-applied when they change).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StakingParams {
    /// Minimum own stake of a miner, in ASSAY wei.
    #[serde(deserialize_with = "amount")]
    pub min_miner_stake: U256,
    /// Minimum own stake of a coordinator, in ASSAY wei.
    #[serde(deserialize_with = "amount")]
    pub min_coordinator_stake: U256,
    /// Seconds between an unstake request and the withdrawal.
    pub unbonding_delay: u64,
}

/// Job market parameters (`JobMarket.setParams`, plus the epoch length fixed at construction).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketParams {
    /// Epoch length in seconds (constructor argument; cannot change later).
    pub epoch_length: u64,
    /// Challenge probability `p`, parts per million.
    pub challenge_ppm: u32,
    /// Validators drawn per challenge `n` (1..=8).
    pub validators: u8,
    /// Asserter reward `R_A`, ASSAY wei.
    #[serde(deserialize_with = "amount")]
    pub asserter_reward: U256,
    /// Validator reward `R_V`, ASSAY wei.
    #[serde(deserialize_with = "amount")]
    pub validator_reward: U256,
    /// Slash `S`, ASSAY wei.
    #[serde(deserialize_with = "amount")]
    pub slash_amount: U256,
    /// Cheat cost `C`, ASSAY wei.
    #[serde(deserialize_with = "amount")]
    pub cheat_cost: U256,
    /// Colluding stake fraction tolerated `r`, parts per million.
    pub collusion_ppm: u32,
    /// Discount a user gets on a verified job, basis points.
    pub user_discount_bps: u16,
    /// Seconds an asserter has to assert after assignment.
    pub assert_timeout: u64,
    /// Seconds validators have to commit.
    pub commit_timeout: u64,
    /// Seconds validators have to reveal.
    pub reveal_timeout: u64,
    /// Seconds a batch stays open to challenges.
    pub batch_window: u64,
    /// Seconds after an epoch a coordinator has to reveal its seed.
    pub seed_reveal_grace: u64,
}

/// Dispute game parameters (constructor arguments of `DisputeGame`, fixed once deployed).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisputeParams {
    /// Seconds each side of a game has for all its moves.
    pub clock: u64,
    /// Levels a bisection move descends: it posts `2^arity_bits` nodes (1..=6).
    pub arity_bits: u8,
    /// What a bonded claim against an assertion costs (wei, non-zero): the claimant's stake in
    /// its game, paid to the defender when the claim loses.
    #[serde(deserialize_with = "amount")]
    pub bond: U256,
}

/// Prices of registered models, wei per unit of work.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelParams {
    /// Price of a model without its own entry.
    #[serde(default, deserialize_with = "amount")]
    pub default_price: U256,
    /// Per-model prices by the name given to `--model name=dir`.
    #[serde(default, deserialize_with = "amounts")]
    pub prices: BTreeMap<String, U256>,
}

/// An amount written as an integer (wei) or a string: wei, or a decimal with a unit (`ASSAY`,
/// `ether`, `gwei`, `wei`).
///
/// # Errors
/// A message naming the text when it is not an amount.
pub fn parse_amount(text: &str) -> Result<U256, String> {
    let text = text.trim().replace('_', "");
    let (number, unit) = match text.split_once(' ') {
        Some((n, u)) => (n.trim(), u.trim()),
        None => (text.as_str(), "wei"),
    };
    let decimals = match unit.to_ascii_lowercase().as_str() {
        "assay" | "ether" | "eth" => 18u8,
        "gwei" => 9,
        "wei" => 0,
        other => return Err(format!("unknown unit {other:?} in amount {text:?}")),
    };
    match alloy_primitives::utils::parse_units(number, decimals) {
        Ok(alloy_primitives::utils::ParseUnits::U256(value)) => Ok(value),
        Ok(_) => Err(format!("amount {text:?} is negative")),
        Err(e) => Err(format!("amount {text:?}: {e}")),
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawAmount {
    Int(u64),
    Text(String),
}

impl RawAmount {
    fn value(self) -> Result<U256, String> {
        match self {
            Self::Int(v) => Ok(U256::from(v)),
            Self::Text(t) => parse_amount(&t),
        }
    }
}

fn amount<'de, D: serde::Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
    RawAmount::deserialize(d)?.value().map_err(serde::de::Error::custom)
}

fn amounts<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, U256>, D::Error> {
    BTreeMap::<String, RawAmount>::deserialize(d)?
        .into_iter()
        .map(|(k, v)| v.value().map(|v| (k, v)))
        .collect::<Result<_, _>>()
        .map_err(serde::de::Error::custom)
}

impl MarketParams {
    /// The `Sampling.setParams` call that applies these parameters (all but the epoch length).
    pub fn set_params_call(&self) -> ISampling::setParamsCall {
        ISampling::setParamsCall {
            challengePpm: self.challenge_ppm,
            validators: self.validators,
            asserterReward: self.asserter_reward,
            validatorReward: self.validator_reward,
            slashAmount: self.slash_amount,
            cheatCost: self.cheat_cost,
            collusionPpm: self.collusion_ppm,
            userDiscountBps: self.user_discount_bps,
            assertTimeout: self.assert_timeout,
            commitTimeout: self.commit_timeout,
            revealTimeout: self.reveal_timeout,
            batchWindow: self.batch_window,
            seedRevealGrace: self.seed_reveal_grace,
        }
    }
}

impl ModelParams {
    /// The price of model `name`.
    pub fn price(&self, name: &str) -> U256 {
        self.prices.get(name).copied().unwrap_or(self.default_price)
    }
}

impl Params {
    /// The built-in defaults (`deploy/params.toml`).
    pub fn default_params() -> Self {
        Self::parse(DEFAULT_PARAMS, "built-in params.toml").expect("the default params are valid")
    }

    /// Reads and checks a parameter file.
    ///
    /// # Errors
    /// [`Error::Params`] when the file is unreadable, malformed or breaks a rule.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Params(format!("{}: {e}", path.display())))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks parameters; `origin` names the source in errors.
    ///
    /// # Errors
    /// [`Error::Params`].
    pub fn parse(text: &str, origin: &str) -> Result<Self, Error> {
        let params: Self =
            toml::from_str(text).map_err(|e| Error::Params(format!("{origin}: {e}")))?;
        params.check().map_err(|e| Error::Params(format!("{origin}: {e}")))?;
        Ok(params)
    }

    /// The rules the contracts enforce, checked before any transaction is sent.
    fn check(&self) -> Result<(), String> {
        let m = &self.market;
        if m.epoch_length == 0 {
            return Err("market.epoch_length must be positive".into());
        }
        if m.validators == 0 || m.validators > 8 {
            return Err(format!("market.validators must be 1..=8, not {}", m.validators));
        }
        if m.user_discount_bps > 10_000 {
            return Err("market.user_discount_bps is above 10 000".into());
        }
        let timeouts = [
            ("assert_timeout", m.assert_timeout),
            ("commit_timeout", m.commit_timeout),
            ("reveal_timeout", m.reveal_timeout),
            ("batch_window", m.batch_window),
        ];
        if let Some((name, _)) = timeouts.iter().find(|(_, v)| *v == 0) {
            return Err(format!("market.{name} must be positive"));
        }
        let d = &self.dispute;
        if d.clock == 0 {
            return Err("dispute.clock must be positive".into());
        }
        if d.arity_bits == 0 || d.arity_bits > 6 {
            return Err(format!("dispute.arity_bits must be 1..=6, not {}", d.arity_bits));
        }
        if d.bond.is_zero() {
            return Err("dispute.bond must be positive".into());
        }
        if m.slash_amount > self.staking.min_miner_stake {
            return Err(format!(
                "market.slash_amount {} exceeds staking.min_miner_stake {}: a slash must be backed by stake",
                m.slash_amount, self.staking.min_miner_stake
            ));
        }
        honesty::check(
            m.challenge_ppm,
            m.validators,
            m.collusion_ppm,
            m.asserter_reward,
            m.slash_amount,
            m.cheat_cost,
        )
        .map_err(|e| match e {
            honesty::HonestyError::Unprofitable { expected_loss_scaled, cheat_cost_scaled } => {
                format!(
                    "honesty condition p*(1-r^n)*(R_A+S) > C fails: {expected_loss_scaled} <= {cheat_cost_scaled} (both scaled by 1e12); raise p, S or R_A, or lower C"
                )
            }
            other => format!("honesty condition: {other:?}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_unsafe_sets_are_refused() {
        let p = Params::default_params();
        assert_eq!(p.market.validators, 3);
        assert!(p.models.default_price > U256::ZERO);

        let cheap_cheating = DEFAULT_PARAMS.replace("challenge_ppm = 20_000", "challenge_ppm = 1");
        assert_ne!(cheap_cheating, DEFAULT_PARAMS, "the default file sets challenge_ppm");
        let err = Params::parse(&cheap_cheating, "test").unwrap_err().to_string();
        assert!(err.contains("honesty condition"), "{err}");

        assert_eq!(p.market.slash_amount, U256::from(10u64).pow(U256::from(20u64)));
        assert_eq!(parse_amount("0.5 ASSAY").unwrap(), U256::from(500_000_000_000_000_000u64));
        assert_eq!(parse_amount("1_000").unwrap(), U256::from(1000));
        assert_eq!(parse_amount("2 gwei").unwrap(), U256::from(2_000_000_000u64));
        assert!(parse_amount("1 dogecoin").is_err());

        let typo = format!("{DEFAULT_PARAMS}\n[extra]\nx = 1\n");
        assert!(Params::parse(&typo, "test").is_err());
    }
}
