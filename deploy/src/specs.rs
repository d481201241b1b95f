//! The contracts `deploy` knows, as a table: adding a contract (the job market's second half) is
//! one more [`ContractSpec`] entry with its constructor and the roles it is granted.

use std::collections::BTreeMap;

use alloy_primitives::Address;
use alloy_sol_types::SolValue;

use crate::params::Params;

/// Manifest name of the token.
pub const TOKEN: &str = "AssayToken";
/// Manifest name of the staking contract.
pub const STAKING: &str = "Staking";
/// Manifest name of the model registry.
pub const REGISTRY: &str = "ModelRegistry";
/// Manifest name of the job market.
pub const JOB_MARKET: &str = "JobMarket";
/// Manifest name of the sampling contract (challenges, validators, disputes, parameters).
pub const SAMPLING: &str = "Sampling";
/// Manifest name of the one-step prover (stateless; the dispute game calls it).
pub const ONE_STEP_PROVER: &str = "OneStepProver";
/// Manifest name of the dispute game.
pub const DISPUTE_GAME: &str = "DisputeGame";

/// What a constructor may read: the deployer and the contracts deployed before it.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The deploying account (owner of every ownable contract).
    pub deployer: Address,
    /// Addresses so far, by manifest name.
    pub contracts: &'a BTreeMap<String, Address>,
    /// Protocol parameters.
    pub params: &'a Params,
}

impl Ctx<'_> {
    /// Address of `name`, which the spec lists in `depends_on`.
    ///
    /// # Panics
    /// When `name` is not deployed yet, which [`ContractSpec::depends_on`] rules out.
    pub fn address(&self, name: &str) -> Address {
        *self
            .contracts
            .get(name)
            .unwrap_or_else(|| panic!("{name} is deployed before its dependents"))
    }
}

/// A privilege the deployment grants a contract in another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The token's minter (`AssayToken.setMinter`): pays epoch rewards.
    TokenMinter,
    /// A staking controller (`Staking.setController`): slashes, rewards, freezes, adjusts
    /// reputation.
    StakingController,
    /// The job market's sampling contract (`JobMarket.setSampling`, once): opens challenges
    /// and settles challenged jobs.
    JobMarketSampling,
    /// Takes the market parameters (`setParams` of `ISampling`, which forwards the job market's
    /// share to it) from the `[market]` table.
    MarketParams,
    /// Sampling's dispute game (`ISampling.setDisputeGame`, once): plays out every dispute and
    /// reports its verdicts.
    SamplingDisputeGame,
}

/// One deployable contract.
#[derive(Debug, Clone, Copy)]
pub struct ContractSpec {
    /// Manifest name.
    pub name: &'static str,
    /// Cargo package in `contracts/`.
    pub package: &'static str,
    /// File name of its release wasm.
    pub wasm: &'static str,
    /// Contracts its constructor needs (earlier entries of the table).
    pub depends_on: &'static [&'static str],
    /// ABI-encoded constructor arguments.
    pub constructor: fn(&Ctx<'_>) -> Vec<u8>,
    /// Privileges granted to it once deployed.
    pub roles: &'static [Role],
    /// Whether `deploy` may leave it out with a warning when its program is too large for the
    /// chain (the job market until it is split); a required contract that does not fit is an
    /// error.
    pub optional: bool,
}

fn token_args(ctx: &Ctx<'_>) -> Vec<u8> {
    ctx.deployer.abi_encode()
}

fn staking_args(ctx: &Ctx<'_>) -> Vec<u8> {
    let s = &ctx.params.staking;
    (
        ctx.deployer,
        ctx.address(TOKEN),
        s.min_miner_stake,
        s.min_coordinator_stake,
        s.unbonding_delay,
    )
        .abi_encode_params()
}

fn registry_args(ctx: &Ctx<'_>) -> Vec<u8> {
    ctx.address(STAKING).abi_encode()
}

fn job_market_args(ctx: &Ctx<'_>) -> Vec<u8> {
    (
        ctx.deployer,
        ctx.address(TOKEN),
        ctx.address(STAKING),
        ctx.address(REGISTRY),
        ctx.params.market.epoch_length,
    )
        .abi_encode_params()
}

fn sampling_args(ctx: &Ctx<'_>) -> Vec<u8> {
    (ctx.deployer, ctx.address(JOB_MARKET), ctx.address(STAKING), ctx.address(REGISTRY))
        .abi_encode_params()
}

fn no_args(_: &Ctx<'_>) -> Vec<u8> {
    Vec::new()
}

fn dispute_game_args(ctx: &Ctx<'_>) -> Vec<u8> {
    let d = &ctx.params.dispute;
    let (sampling, prover) = (ctx.address(SAMPLING), ctx.address(ONE_STEP_PROVER));
    // A uint8 argument encodes as any small uint: one word (`u8` is bytes to alloy).
    (sampling, prover, d.clock, u16::from(d.arity_bits), d.bond).abi_encode_params()
}

/// The Assay contracts, in deployment order.
pub const SPECS: &[ContractSpec] = &[
    ContractSpec {
        name: TOKEN,
        package: "assay-token",
        wasm: "assay_token.wasm",
        depends_on: &[],
        constructor: token_args,
        roles: &[],
        optional: false,
    },
    ContractSpec {
        name: STAKING,
        package: "assay-staking",
        wasm: "assay_staking.wasm",
        depends_on: &[TOKEN],
        constructor: staking_args,
        roles: &[],
        optional: false,
    },
    ContractSpec {
        name: REGISTRY,
        package: "assay-registry",
        wasm: "assay_registry.wasm",
        depends_on: &[STAKING],
        constructor: registry_args,
        roles: &[],
        optional: false,
    },
    ContractSpec {
        name: JOB_MARKET,
        package: "assay-jobs",
        wasm: "assay_jobs.wasm",
        depends_on: &[TOKEN, STAKING, REGISTRY],
        constructor: job_market_args,
        roles: &[Role::TokenMinter, Role::StakingController],
        optional: true,
    },
    ContractSpec {
        name: SAMPLING,
        package: "assay-sampling",
        wasm: "assay_sampling.wasm",
        depends_on: &[JOB_MARKET, STAKING, REGISTRY],
        constructor: sampling_args,
        roles: &[Role::StakingController, Role::JobMarketSampling, Role::MarketParams],
        optional: true,
    },
    ContractSpec {
        name: ONE_STEP_PROVER,
        package: "assay-prover",
        wasm: "assay_prover.wasm",
        depends_on: &[],
        constructor: no_args,
        roles: &[],
        optional: true,
    },
    ContractSpec {
        name: DISPUTE_GAME,
        package: "assay-dispute",
        wasm: "assay_dispute.wasm",
        depends_on: &[SAMPLING, ONE_STEP_PROVER],
        constructor: dispute_game_args,
        roles: &[Role::SamplingDisputeGame],
        optional: true,
    },
];

/// How many contracts hold `role`.
#[cfg(test)]
fn holders(role: Role) -> usize {
    SPECS.iter().filter(|s| s.roles.contains(&role)).count()
}

#[cfg(test)]
mod tests {
    use alloy_primitives::U256;

    use super::*;

    #[test]
    fn table_is_ordered_and_roles_unique() {
        for (i, spec) in SPECS.iter().enumerate() {
            for dep in spec.depends_on {
                assert!(
                    SPECS[..i].iter().any(|s| s.name == *dep),
                    "{} depends on {dep}, which must come earlier",
                    spec.name
                );
            }
            assert_eq!(SPECS.iter().filter(|s| s.name == spec.name).count(), 1);
        }
        assert!(holders(Role::TokenMinter) <= 1, "the token has one minter");
        assert!(holders(Role::MarketParams) <= 1, "one contract takes the market parameters");
        for name in [TOKEN, STAKING, REGISTRY] {
            assert!(!SPECS.iter().find(|s| s.name == name).unwrap().optional);
        }
    }

    #[test]
    fn constructors_encode_their_dependencies() {
        let params = Params::default_params();
        let contracts: BTreeMap<String, Address> = [TOKEN, STAKING, REGISTRY]
            .iter()
            .enumerate()
            .map(|(i, n)| ((*n).to_owned(), Address::repeat_byte(i as u8 + 1)))
            .collect();
        let ctx = Ctx { deployer: Address::repeat_byte(9), contracts: &contracts, params: &params };
        let staking = (SPECS[1].constructor)(&ctx);
        let decoded =
            <(Address, Address, U256, U256, u64)>::abi_decode_params(&staking).expect("decodes");
        assert_eq!(decoded.1, Address::repeat_byte(1));
        assert_eq!(decoded.4, params.staking.unbonding_delay);
        assert_eq!((SPECS[2].constructor)(&ctx), Address::repeat_byte(2).abi_encode());
        assert_eq!((SPECS[3].constructor)(&ctx).len(), 5 * 32);
    }
}
