//! `assay-deploy`: deploys the Assay contracts to an Arbitrum chain (the test node, Nitro's dev
//! node, Arbitrum Sepolia/One) the way cargo-stylus does, wires them, sets the protocol parameters,
//! registers models and writes the deployment manifest every other binary reads.
//!
//! - [`run`] / [`run_with_report`]: the whole deployment, idempotent against an existing manifest.
//! - [`fund`]: tops up local accounts with ETH and bootstrap ASSAY (for a local network).
//! - [`specs::SPECS`]: the contract table (constructors, dependencies, roles).
//! - [`wasm`]: building the contracts and processing their wasm into Stylus programs.
//! - [`params`]: the parameter file (`deploy/params.toml`).
//!
//! Order of a run: connect and check the chain id and the deployer's balance; read the manifest;
//! decide which contracts are missing; build or read their wasm and check every size *before*
//! sending anything; deploy (fragments first for a large program, then the StylusDeployer with
//! the constructor, which activates the program with its data fee in the same transaction); grant
//! roles; apply parameters; register models. Every step reads the chain first and only sends a
//! transaction when the state differs, so a second run sends nothing.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use alloy_primitives::{Address, B256, U256};
use alloy_signer_local::PrivateKeySigner;
use assay_protocol::{
    bindings::{IAssayToken, IJobMarket, IModelRegistry, IOwnable, ISampling, IStaking},
    codes::Role as StakingRole,
    deployment::{DeployedModel, Deployment},
};

mod chain;
mod error;
mod funding;
pub mod params;
pub mod specs;
pub mod wasm;

pub use chain::{ARB_OWNER_PUBLIC, ARB_WASM, CONSTRUCTOR_SELECTOR, STYLUS_DEPLOYER, TxRecord};
pub use error::Error;
pub use funding::{Funding, fund};
pub use params::Params;
pub use specs::{ContractSpec, Role, SPECS};

use chain::Chain;
use specs::{Ctx, JOB_MARKET, REGISTRY, SAMPLING, STAKING, TOKEN};

/// Where the contracts' wasm comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WasmSource {
    /// Already built: `<dir>/assay_token.wasm`, ...
    Dir(PathBuf),
    /// Built with `cargo build --release --target wasm32-unknown-unknown` in this contracts
    /// workspace (its pinned toolchain), only when some contract must be deployed.
    Build {
        /// The `contracts/` folder.
        contracts_dir: PathBuf,
    },
}

/// A model to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelArg {
    /// Short name (`minilm`, `smollm2`), used in the manifest and for its price.
    pub name: String,
    /// Engine model directory (`worker convert` output).
    pub dir: PathBuf,
}

impl std::str::FromStr for ModelArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, dir) =
            s.split_once('=').ok_or_else(|| format!("expected NAME=DIR, got {s:?}"))?;
        if name.is_empty() || dir.is_empty() {
            return Err(format!("expected NAME=DIR, got {s:?}"));
        }
        Ok(Self { name: name.to_owned(), dir: dir.into() })
    }
}

/// Everything a deployment needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// JSON-RPC endpoint.
    pub rpc_url: String,
    /// The deploying account (owner of the contracts).
    pub signer: PrivateKeySigner,
    /// Contract wasm.
    pub wasm: WasmSource,
    /// Protocol parameters.
    pub params: Params,
    /// Models to register.
    pub models: Vec<ModelArg>,
    /// Manifest to read (if present) and write; `None` deploys from scratch and writes nothing.
    pub out: Option<PathBuf>,
    /// Contracts not to deploy or configure (manifest names).
    pub skip: Vec<String>,
    /// Refuse any other chain.
    pub expected_chain_id: Option<u64>,
    /// The StylusDeployer.
    pub stylus_deployer: Address,
    /// No progress output.
    pub quiet: bool,
}

impl Config {
    /// A configuration with the defaults: build the wasm from this repository's `contracts/`,
    /// default parameters, no models, no manifest file.
    pub fn new(rpc_url: impl Into<String>, signer: PrivateKeySigner) -> Self {
        Self {
            rpc_url: rpc_url.into(),
            signer,
            wasm: WasmSource::Build { contracts_dir: default_contracts_dir() },
            params: Params::default_params(),
            models: Vec::new(),
            out: None,
            skip: Vec::new(),
            expected_chain_id: None,
            stylus_deployer: STYLUS_DEPLOYER,
            quiet: false,
        }
    }
}

/// A contract's size at each step to the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramSize {
    /// Manifest name.
    pub contract: &'static str,
    /// The release wasm as cargo built it.
    pub built: usize,
    /// The wasm the chain decompresses (after the pinned wasm-opt recipe and the section
    /// changes); at most [`wasm::MAX_WASM_SIZE`] to deploy.
    pub wasm: usize,
    /// Code bytes on chain: prefix plus brotli-compressed wasm, over fragments when needed.
    pub code: usize,
    /// Fragments it deploys as (0: one classic contract).
    pub fragments: usize,
}

impl ProgramSize {
    /// Whether the chain can take it (fragments allowed).
    pub fn deployable(&self) -> bool {
        self.wasm <= wasm::MAX_WASM_SIZE
    }

    /// A Markdown table of `sizes`.
    pub fn table(sizes: &[Self]) -> String {
        let mut out = format!(
            "| contract | built wasm | wasm on chain (limit {}) | code, brotli (limit {} per contract) | deploys as |\n|---|---|---|---|---|\n",
            wasm::MAX_WASM_SIZE,
            wasm::MAX_CODE_SIZE
        );
        for s in sizes {
            let shape = match (s.deployable(), s.fragments) {
                (false, _) => "**too large**".to_owned(),
                (true, 0) => "one contract".to_owned(),
                (true, n) => format!("root program + {n} fragments"),
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {shape} |\n",
                s.contract, s.built, s.wasm, s.code
            ));
        }
        out
    }
}

/// The on-chain size of every contract in [`SPECS`], from `source` (built first when it says
/// so), processed exactly as [`run`] deploys it. Needs no chain.
///
/// # Errors
/// A build, a missing or invalid wasm file, or wasm-opt failing.
pub fn sizes(source: &WasmSource) -> Result<Vec<ProgramSize>, Error> {
    let dir = match source {
        WasmSource::Dir(dir) => dir.clone(),
        WasmSource::Build { contracts_dir } => {
            let packages: Vec<&str> = SPECS.iter().map(|s| s.package).collect();
            wasm::build(contracts_dir, &packages)?
        }
    };
    let optimizer = wasm::WasmOpt::pinned();
    SPECS
        .iter()
        .map(|spec| {
            let raw = read_wasm(&dir, spec)?;
            let processed = wasm::process(spec.name, &raw, Some(&optimizer))?;
            let compressed = wasm::compress(&processed).len();
            let classic = compressed + wasm::CLASSIC_PREFIX.len();
            let (code, fragments) = if classic <= wasm::MAX_CODE_SIZE {
                (classic, 0)
            } else {
                let count = compressed.div_ceil(wasm::FRAGMENT_PAYLOAD);
                (compressed + count * wasm::FRAGMENT_PREFIX.len(), count)
            };
            Ok(ProgramSize {
                contract: spec.name,
                built: raw.len(),
                wasm: processed.len(),
                code,
                fragments,
            })
        })
        .collect()
}

fn read_wasm(dir: &Path, spec: &ContractSpec) -> Result<Vec<u8>, Error> {
    let path = dir.join(spec.wasm);
    std::fs::read(&path).map_err(|_| Error::MissingWasm {
        contract: spec.name.into(),
        path: path.clone(),
        hint: format!(
            "build it with `cd contracts && cargo build --release --target wasm32-unknown-unknown --lib -p {}` (it lands in <target dir>/wasm32-unknown-unknown/release), or leave out --wasm-dir to let deploy build it",
            spec.package
        ),
    })
}

/// `./contracts` when it exists, else this repository's (from the build).
pub fn default_contracts_dir() -> PathBuf {
    let here = PathBuf::from("contracts");
    if here.join("rust-toolchain.toml").exists() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts")
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The resulting manifest (also written to `out`).
    pub manifest: Deployment,
    /// Every transaction sent, in order (empty when nothing was missing).
    pub txs: Vec<TxRecord>,
    /// Contracts deployed in this run.
    pub deployed: Vec<String>,
    /// Contracts left out, with the reason.
    pub skipped: Vec<(String, String)>,
}

/// Deploys (what is missing), configures and returns the manifest.
///
/// # Errors
/// See [`Error`].
pub async fn run(config: &Config) -> Result<Deployment, Error> {
    Ok(run_with_report(config).await?.manifest)
}

/// A contract's program as it will be deployed.
struct Planned {
    spec: &'static ContractSpec,
    program: wasm::Program,
}

/// Like [`run`], with what was sent.
///
/// # Errors
/// See [`Error`].
pub async fn run_with_report(config: &Config) -> Result<Report, Error> {
    let mut chain = Chain::connect(&config.rpc_url, config.signer.clone(), config.quiet).await?;
    chain.say(format!("chain id {} at {}", chain.chain_id, config.rpc_url));
    if let Some(expected) = config.expected_chain_id.filter(|e| *e != chain.chain_id) {
        return Err(Error::WrongChain {
            expected_from: "--chain-id".into(),
            expected,
            actual: chain.chain_id,
        });
    }
    for name in &config.skip {
        match SPECS.iter().find(|s| s.name == name) {
            None => {
                return Err(Error::Config(format!(
                    "--skip {name}: no such contract (known: {})",
                    SPECS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                )));
            }
            Some(spec) if !spec.optional => {
                return Err(Error::Config(format!(
                    "--skip {name}: the other contracts need it; only optional contracts ({}) can be left out",
                    SPECS
                        .iter()
                        .filter(|s| s.optional)
                        .map(|s| s.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            Some(_) => {}
        }
    }

    // The existing manifest, if any, must be for this chain.
    let existing = match &config.out {
        Some(path) if path.exists() => Some(Deployment::load(path)?),
        _ => None,
    };
    if let Some(m) = existing.as_ref().filter(|m| m.chain_id != chain.chain_id) {
        return Err(Error::WrongChain {
            expected_from: config.out.as_ref().expect("loaded from out").display().to_string(),
            expected: m.chain_id,
            actual: chain.chain_id,
        });
    }

    let balance = chain.balance(chain.from).await?;
    if balance.is_zero() {
        return Err(Error::Unfunded { account: chain.from, chain_id: chain.chain_id });
    }
    chain.say(format!("deployer {} ({} wei)", chain.from, balance));

    // Models are read before anything is sent, so a bad directory costs nothing.
    let engine_hash = B256::from(assay_engine_module::engine_hash());
    let mut models = Vec::new();
    for m in &config.models {
        let dir = assay_protocol::model_dir::ModelDir::open(&m.dir)
            .map_err(|e| Error::Model { name: m.name.clone(), detail: e.to_string() })?;
        models.push(DeployedModel {
            name: m.name.clone(),
            model_id: dir.model_id,
            price: config.params.models.price(&m.name),
        });
    }

    // Which contracts exist (with code) and which must be deployed.
    let mut manifest = existing.clone().unwrap_or(Deployment {
        chain_id: chain.chain_id,
        deploy_block: 0,
        contracts: BTreeMap::new(),
        models: Vec::new(),
    });
    let mut live: BTreeMap<String, Address> = BTreeMap::new();
    for (name, address) in &manifest.contracts {
        if chain.code(*address).await?.is_empty() {
            chain.say(format!(
                "warning: the manifest lists {name} at {address}, which has no code on chain {} (chain reset?); it will be deployed again",
                chain.chain_id
            ));
        } else {
            live.insert(name.clone(), *address);
        }
    }
    if live.is_empty() {
        manifest.deploy_block = 0;
        manifest.models.clear();
    }
    let mut skipped: Vec<(String, String)> = Vec::new();
    let mut to_deploy: Vec<&'static ContractSpec> = Vec::new();
    for spec in SPECS {
        if config.skip.iter().any(|s| s == spec.name) {
            skipped.push((spec.name.into(), "--skip".into()));
            continue;
        }
        if let Some((dep, _)) = skipped
            .iter()
            .find(|(s, _)| spec.depends_on.iter().any(|d| d == s) && !live.contains_key(s))
        {
            skipped.push((spec.name.into(), format!("depends on {dep}, which is left out")));
            continue;
        }
        let redeployed_dep =
            spec.depends_on.iter().find(|d| to_deploy.iter().any(|s| s.name == **d));
        match (live.get(spec.name), redeployed_dep) {
            (Some(address), None) => {
                chain.say(format!("{}: {address} (deployed)", spec.name));
            }
            (Some(address), Some(dep)) => {
                chain.say(format!(
                    "{}: {address} points at the old {dep}, which is deployed again; deploying {} again too",
                    spec.name, spec.name
                ));
                to_deploy.push(spec);
            }
            (None, _) => to_deploy.push(spec),
        }
    }
    for spec in &to_deploy {
        live.remove(spec.name);
    }

    // Wasm for what is missing, every size checked before any transaction.
    let mut planned = Vec::new();
    if !to_deploy.is_empty() {
        let dir = match &config.wasm {
            WasmSource::Dir(dir) => dir.clone(),
            WasmSource::Build { contracts_dir } => {
                let packages: Vec<&str> = to_deploy.iter().map(|s| s.package).collect();
                chain.say(format!(
                    "building {} in {}",
                    packages.join(", "),
                    contracts_dir.display()
                ));
                wasm::build(contracts_dir, &packages)?
            }
        };
        let optimizer = wasm::WasmOpt::pinned();
        let mut max_fragments = None;
        for spec in to_deploy {
            if let Some((dep, _)) =
                skipped.iter().find(|(s, _)| spec.depends_on.iter().any(|d| d == s))
            {
                skipped.push((spec.name.into(), format!("depends on {dep}, which is left out")));
                continue;
            }
            let raw = read_wasm(&dir, spec)?;
            let program = wasm::program(spec.name, &raw, Some(&optimizer))?;
            if program.fragment_count() > 0 {
                if max_fragments.is_none() {
                    max_fragments = Some(chain.max_fragments().await.unwrap_or(0));
                }
                let allowed = usize::from(max_fragments.unwrap_or(0));
                if program.fragment_count() > allowed {
                    return Err(Error::TooManyFragments {
                        contract: spec.name.into(),
                        needed: program.fragment_count(),
                        allowed,
                    });
                }
            }
            planned.push(Planned { spec, program });
        }
    }
    if !planned.is_empty() && chain.code(config.stylus_deployer).await?.is_empty() {
        return Err(Error::NoDeployer(config.stylus_deployer));
    }

    // Deploy.
    let mut deployed = Vec::new();
    for Planned { spec, program } in planned {
        chain.say(format!("{}: deploying", spec.name));
        let code = match program {
            wasm::Program::Classic(code) => code,
            wasm::Program::Fragmented { fragments, wasm_len } => {
                let mut addresses = Vec::new();
                let count = fragments.len();
                for (i, fragment) in fragments.iter().enumerate() {
                    let step = format!("{} fragment {}/{count}", spec.name, i + 1);
                    addresses.push(chain.create(&step, fragment).await?);
                }
                wasm::root_code(wasm_len, &addresses)
            }
        };
        let fee = chain.data_fee(&code).await?;
        let ctx = Ctx { deployer: chain.from, contracts: &live, params: &config.params };
        let args = (spec.constructor)(&ctx);
        let step = format!("{} deploy + activate + construct", spec.name);
        let (address, block) =
            chain.deploy_with_constructor(&step, config.stylus_deployer, &code, args, fee).await?;
        chain.say(format!("{}: {address}", spec.name));
        if manifest.deploy_block == 0 || live.is_empty() {
            manifest.deploy_block = block;
        }
        live.insert(spec.name.into(), address);
        deployed.push(spec.name.to_owned());
        if spec.name == REGISTRY {
            manifest.models.clear();
        }
        manifest.contracts.insert(spec.name.into(), address);
        if let Some(out) = &config.out {
            manifest.save(out)?;
        }
    }
    // Contracts without code that were not deployed again (left out) leave the manifest.
    manifest.contracts.retain(|name, _| live.contains_key(name));

    configure(&mut chain, config, &live, &skipped).await?;

    // Models.
    if !models.is_empty() {
        let registry = required(&live, REGISTRY)?;
        for model in models {
            register_model(&mut chain, registry, &model, engine_hash).await?;
            manifest.models.retain(|m| m.name != model.name && m.model_id != model.model_id);
            manifest.models.push(model);
        }
    }

    if let Some(out) = &config.out {
        manifest.save(out)?;
        chain.say(format!("manifest written to {}", out.display()));
    }
    if chain.txs.is_empty() {
        chain.say("nothing to do: everything is deployed and configured");
    }
    Ok(Report { manifest, txs: chain.txs, deployed, skipped })
}

/// The address of a contract the rest of the deployment cannot do without.
fn required(live: &BTreeMap<String, Address>, name: &str) -> Result<Address, Error> {
    live.get(name).copied().ok_or_else(|| {
        Error::Config(format!("{name} is left out, but the other contracts need it deployed"))
    })
}

/// Checks that the deployer owns `contract` before configuring it.
pub(crate) async fn ensure_owner(chain: &Chain, name: &str, address: Address) -> Result<(), Error> {
    let owner = chain.call(address, IOwnable::ownerCall {}).await?;
    if owner != chain.from {
        return Err(Error::NotOwner {
            contract: name.into(),
            address,
            owner,
            deployer: chain.from,
        });
    }
    Ok(())
}

/// Grants roles and applies parameters, each only when the chain differs.
async fn configure(
    chain: &mut Chain,
    config: &Config,
    live: &BTreeMap<String, Address>,
    skipped: &[(String, String)],
) -> Result<(), Error> {
    let token = required(live, TOKEN)?;
    let staking = required(live, STAKING)?;
    let s = &config.params.staking;
    let current = (
        chain.call(staking, IStaking::minStakeCall { role: StakingRole::Miner.into() }).await?,
        chain
            .call(staking, IStaking::minStakeCall { role: StakingRole::Coordinator.into() })
            .await?,
        chain.call(staking, IStaking::unbondingDelayCall {}).await?,
    );
    if current != (s.min_miner_stake, s.min_coordinator_stake, s.unbonding_delay) {
        ensure_owner(chain, STAKING, staking).await?;
        chain.say("Staking: applying [staking] parameters");
        if current.0 != s.min_miner_stake {
            let call = IStaking::setMinStakeCall {
                role: StakingRole::Miner.into(),
                amount: s.min_miner_stake,
            };
            chain.send("Staking.setMinStake(miner)", staking, call, U256::ZERO).await?;
        }
        if current.1 != s.min_coordinator_stake {
            let call = IStaking::setMinStakeCall {
                role: StakingRole::Coordinator.into(),
                amount: s.min_coordinator_stake,
            };
            chain.send("Staking.setMinStake(coordinator)", staking, call, U256::ZERO).await?;
        }
        if current.2 != s.unbonding_delay {
            let call = IStaking::setUnbondingDelayCall { delay: s.unbonding_delay };
            chain.send("Staking.setUnbondingDelay", staking, call, U256::ZERO).await?;
        }
    }

    for spec in SPECS {
        if skipped.iter().any(|(s, _)| s == spec.name) {
            continue;
        }
        let Some(&address) = live.get(spec.name) else { continue };
        for role in spec.roles {
            match role {
                Role::TokenMinter => {
                    if chain.call(token, IAssayToken::minterCall {}).await? != address {
                        ensure_owner(chain, TOKEN, token).await?;
                        let step = format!("AssayToken.setMinter({})", spec.name);
                        let call = IAssayToken::setMinterCall { minter: address };
                        chain.send(&step, token, call, U256::ZERO).await?;
                    }
                }
                Role::StakingController => {
                    let call = IStaking::isControllerCall { account: address };
                    if !chain.call(staking, call).await? {
                        ensure_owner(chain, STAKING, staking).await?;
                        let step = format!("Staking.setController({})", spec.name);
                        let call =
                            IStaking::setControllerCall { controller: address, allowed: true };
                        chain.send(&step, staking, call, U256::ZERO).await?;
                    }
                }
                Role::JobMarketSampling => {
                    let market = required(live, JOB_MARKET)?;
                    let sampling = chain.call(market, IJobMarket::contractsCall {}).await?.sampling;
                    if sampling != address {
                        ensure_owner(chain, JOB_MARKET, market).await?;
                        let step = format!("JobMarket.setSampling({})", spec.name);
                        let call = IJobMarket::setSamplingCall { sampling: address };
                        chain.send(&step, market, call, U256::ZERO).await?;
                    }
                }
                Role::MarketParams => set_market_params(chain, config, spec.name, address).await?,
                Role::SamplingDisputeGame => {
                    let sampling = required(live, SAMPLING)?;
                    let game = chain.call(sampling, ISampling::contractsCall {}).await?.disputeGame;
                    if game != address {
                        ensure_owner(chain, SAMPLING, sampling).await?;
                        let step = format!("Sampling.setDisputeGame({})", spec.name);
                        let call = ISampling::setDisputeGameCall { game: address };
                        chain.send(&step, sampling, call, U256::ZERO).await?;
                    }
                }
            }
        }
    }
    Ok(())
}

async fn set_market_params(
    chain: &mut Chain,
    config: &Config,
    name: &str,
    address: Address,
) -> Result<(), Error> {
    let want = config.params.market.set_params_call();
    let have = chain.call(address, ISampling::paramsCall {}).await?;
    let same = have.challengePpm == want.challengePpm
        && have.validators == want.validators
        && have.asserterReward == want.asserterReward
        && have.validatorReward == want.validatorReward
        && have.slashAmount == want.slashAmount
        && have.cheatCost == want.cheatCost
        && have.collusionPpm == want.collusionPpm
        && have.userDiscountBps == want.userDiscountBps
        && have.assertTimeout == want.assertTimeout
        && have.commitTimeout == want.commitTimeout
        && have.revealTimeout == want.revealTimeout
        && have.batchWindow == want.batchWindow
        && have.seedRevealGrace == want.seedRevealGrace;
    if !same {
        ensure_owner(chain, name, address).await?;
        chain.send(&format!("{name}.setParams"), address, want, U256::ZERO).await?;
    }
    Ok(())
}

async fn register_model(
    chain: &mut Chain,
    registry: Address,
    model: &DeployedModel,
    engine_hash: B256,
) -> Result<(), Error> {
    let info = chain.call(registry, IModelRegistry::modelCall { modelId: model.model_id }).await?;
    let (owner, registered_engine, price, active) =
        (info.owner, info.engineHash, info.pricePerUnit, info.active);
    if owner.is_zero() {
        let call = IModelRegistry::registerModelCall {
            modelId: model.model_id,
            engineHash: engine_hash,
            pricePerUnit: model.price,
        };
        let step = format!("ModelRegistry.registerModel({} {})", model.name, model.model_id);
        chain.send(&step, registry, call, U256::ZERO).await?;
        return Ok(());
    }
    if registered_engine != engine_hash {
        chain.say(format!(
            "warning: model {} is registered with engine hash {registered_engine}, this build's engine is {engine_hash}",
            model.name
        ));
    }
    if price != model.price || !active {
        if owner != chain.from {
            return Err(Error::Model {
                name: model.name.clone(),
                detail: format!("registered by {owner}, so the deployer cannot update its price"),
            });
        }
        let call = IModelRegistry::updateModelCall {
            modelId: model.model_id,
            pricePerUnit: model.price,
            active: true,
        };
        chain
            .send(&format!("ModelRegistry.updateModel({})", model.name), registry, call, U256::ZERO)
            .await?;
    }
    Ok(())
}
