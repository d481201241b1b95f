//! The miner on-chain: [`check_ready`] (before `worker run` connects: is the key an eligible
//! miner in `Staking`, and does it serve each model in `ModelRegistry`?) and [`register`]
//! (`worker register`: approve and stake as a miner, then serve each model; idempotent), and
//! [`ChainValidator`] (commit and reveal as a validator `Sampling` drew).

use alloy_primitives::{Address, B256, U256, keccak256};
use assay_chain::{ChainError, Client, Key};
use assay_protocol::{
    bindings::{IAssayToken, IJobMarket, IModelRegistry, ISampling, IStaking},
    codes::{Role, ValidatorState},
    deployment::Deployment,
    math::records::validation_commitment,
    wire::Receipt,
};

use crate::error::{Error, Result};

/// Domain tag of the on-chain validation salts.
const SALT_DOMAIN: &[u8] = b"assay.validation-salt.v1";

/// What to tell an operator who is not set up.
const REGISTER_HINT: &str = "run `worker register --rpc-url <url> --deployment <file> \
                             --key-file <key> --model <dir>...` first";

/// The worker as a validator on `Sampling`: one signer and one nonce sequence shared by all of
/// its on-chain validations, which may run at once.
///
/// The salt of each commitment is derived from the worker's key, the chain and the job
/// (`keccak256(abi.encodePacked("assay.validation-salt.v1", bytes32 key, uint64 chainId,
/// address sampling, uint256 jobId))`), so a worker restarted between its commit and its reveal
/// can still reveal; the salt is secret (others cannot test a commitment against the asserter's
/// hash) and never logged.
#[derive(Clone)]
pub struct ChainValidator {
    chain: Client,
    me: Address,
    market: Address,
    sampling: Address,
    salt_secret: B256,
    /// `Sampling` jobs this worker has started validating: a coordinator that restarted may ask
    /// again, and a second commitment would only revert.
    started: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<U256>>>,
}

impl std::fmt::Debug for ChainValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainValidator")
            .field("me", &self.me)
            .field("sampling", &self.sampling)
            .finish_non_exhaustive()
    }
}

impl ChainValidator {
    /// A validator signing with `key` on the chain at `rpc_url`.
    ///
    /// # Errors
    /// [`Error::Chain`] for a bad URL; [`Error::Deployment`] without `Sampling` or `JobMarket`.
    pub fn connect(rpc_url: &str, manifest: &Deployment, key: &Key) -> Result<Self> {
        let chain = Client::new(rpc_url, manifest.chain_id, Some(key))?;
        let sampling = manifest.contract("Sampling")?;
        let market = manifest.contract("JobMarket")?;
        let mut pre = Vec::with_capacity(SALT_DOMAIN.len() + 32 + 8 + 20);
        pre.extend_from_slice(SALT_DOMAIN);
        pre.extend_from_slice(key.signer().to_bytes().as_slice());
        pre.extend_from_slice(&manifest.chain_id.to_be_bytes());
        pre.extend_from_slice(sampling.as_slice());
        Ok(Self {
            chain,
            me: key.address(),
            market,
            sampling,
            salt_secret: keccak256(&pre),
            started: Default::default(),
        })
    }

    /// The client it signs with (one nonce sequence for everything the worker sends).
    pub fn client(&self) -> Client {
        self.chain.clone()
    }

    /// The salt of this worker's commitment for `Sampling` job `job_id`.
    fn salt(&self, job_id: U256) -> B256 {
        keccak256([self.salt_secret.as_slice(), &job_id.to_be_bytes::<32>()].concat())
    }

    /// This worker's state among `job_id`'s drawn validators (`None` when not drawn).
    async fn my_state(&self, job_id: U256) -> Result<Option<ValidatorState>> {
        let call = ISampling::jobValidatorsCall { jobId: job_id };
        let drawn = self.chain.view(self.sampling, call).await?;
        let Some(i) = drawn.validators.iter().position(|v| *v == self.me) else { return Ok(None) };
        Ok(Some(ValidatorState::try_from(drawn.states[i]).map_err(ChainError::from)?))
    }

    /// Validates `Sampling`'s job `job_id` as one of its drawn validators with the result of
    /// this worker's run, `receipt`: checks that the run's model and input are the job's on
    /// chain (a coordinator could send another input: the worker would then commit to a result
    /// it cannot defend in a dispute game), commits `validation_commitment(jobKey, worker,
    /// outputHash, traceRoot, salt)`, waits until reveals open (every drawn validator
    /// committed, or the commit deadline passed), then reveals. A job asked for again while its
    /// validation runs or after it succeeded is not validated twice.
    ///
    /// # Errors
    /// [`Error::Refused`] when the run is not of the job's model and input; [`Error::Chain`]
    /// for RPC failures and reverts (named), e.g. `NotValidator`, `CommitClosed`,
    /// `RevealClosed`.
    pub async fn validate(&self, job_id: U256, receipt: &Receipt) -> Result<()> {
        if !self.started.lock().expect("not poisoned").insert(job_id) {
            tracing::info!(%job_id, "already validating this job on chain");
            return Ok(());
        }
        let validated = self.commit_and_reveal(job_id, receipt).await;
        if validated.is_err() {
            // Not committed, or not revealed: a later request may try again.
            self.started.lock().expect("not poisoned").remove(&job_id);
        }
        validated
    }

    /// Refuses a run whose model or input is not job `job_id`'s on chain.
    async fn check_input(&self, job_id: U256, receipt: &Receipt) -> Result<()> {
        let job = self.chain.view(self.market, IJobMarket::jobCall { jobId: job_id }).await?;
        if (job.modelId, job.inputRoot) != (receipt.model_id, receipt.input_root) {
            return Err(Error::Refused(format!(
                "job {job_id} on chain is model {} with input root {}; the run asked for is \
                 model {} with input root {}: not validating it",
                job.modelId, job.inputRoot, receipt.model_id, receipt.input_root
            )));
        }
        Ok(())
    }

    async fn commit_and_reveal(&self, job_id: U256, receipt: &Receipt) -> Result<()> {
        let (job_key, output_hash, trace_root) =
            (receipt.job_key, receipt.output_hash, receipt.trace_root);
        let (me, sampling) = (self.me, self.sampling);
        let salt = self.salt(job_id);
        match self.my_state(job_id).await? {
            Some(ValidatorState::Revealed) => {
                tracing::info!(%job_id, "already revealed on chain");
                return Ok(());
            }
            Some(ValidatorState::Committed) => {
                tracing::info!(%job_id, "already committed on chain (before a restart): revealing");
            }
            _ => {
                self.check_input(job_id, receipt).await?;
                let commitment = validation_commitment(job_key, me, output_hash, trace_root, salt);
                let commit = ISampling::commitValidationCall { jobId: job_id, commitment };
                let tx = self.chain.send(sampling, commit, U256::ZERO).await?.transaction_hash;
                tracing::info!(%job_id, %tx, "committed on chain");
            }
        }
        let reveal = ISampling::revealValidationCall {
            jobId: job_id,
            outputHash: output_hash,
            traceRoot: trace_root,
            salt,
        };
        loop {
            match self.chain.send(sampling, reveal.clone(), U256::ZERO).await {
                Ok(receipt) => {
                    tracing::info!(%job_id, tx = %receipt.transaction_hash, "revealed on chain");
                    return Ok(());
                }
                Err(e) if e.is_revert::<ISampling::RevealNotOpen>() => {
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Why an operator is not an eligible miner, from `operatorInfo`.
async fn why_not_eligible(chain: &Client, staking: Address, worker: Address) -> Result<String> {
    let info = chain.view(staking, IStaking::operatorInfoCall { operator: worker }).await?;
    let min = chain.view(staking, IStaking::minStakeCall { role: Role::Miner.into() }).await?;
    Ok(match Role::try_from(info.role) {
        Ok(Role::None) => "it is not registered as a miner".to_string(),
        Ok(Role::Miner) if info.openDisputes > 0 => {
            format!("its stake is frozen by {} open dispute(s)", info.openDisputes)
        }
        Ok(Role::Miner) => format!("its own active stake is below the minimum of {min}"),
        _ => format!("it is registered with role {}, not as a miner", info.role),
    })
}

/// Checks that `worker` is an eligible miner and serves every model in `models`.
///
/// # Errors
/// [`Error::NotReady`] naming what is missing and telling the operator to run `worker register`;
/// [`Error::Chain`] when the RPC is unreachable or on another chain, or the deployment file
/// lacks `Staking` or `ModelRegistry`.
pub async fn check_ready(
    rpc_url: &str,
    manifest: &Deployment,
    worker: Address,
    models: &[B256],
) -> Result<()> {
    let chain = Client::connect_to(rpc_url, manifest, None).await?;
    let staking = manifest.contract("Staking")?;
    let registry = manifest.contract("ModelRegistry")?;
    let eligible = IStaking::isEligibleCall { operator: worker, role: Role::Miner.into() };
    if !chain.view(staking, eligible).await? {
        let why = why_not_eligible(&chain, staking, worker).await?;
        return Err(Error::NotReady(format!(
            "{worker} is not an eligible miner in Staking {staking}: {why}; {REGISTER_HINT}"
        )));
    }
    let mut missing = Vec::new();
    for &model in models {
        let call = IModelRegistry::isServingCall { modelId: model, miner: worker };
        if !chain.view(registry, call).await? {
            missing.push(model.to_string());
        }
    }
    if !missing.is_empty() {
        return Err(Error::NotReady(format!(
            "{worker} does not serve model(s) {} in ModelRegistry {registry}; {REGISTER_HINT}",
            missing.join(", ")
        )));
    }
    // A job's result is defined by the engine its model is registered with: a worker running
    // another engine would assert results that validators and the dispute game do not share.
    let engine = B256::from(assay_engine_module::engine_hash());
    for &model in models {
        let registered = chain.view(registry, IModelRegistry::modelCall { modelId: model }).await?;
        if registered.engineHash != engine {
            return Err(Error::NotReady(format!(
                "model {model} is registered for engine {}, and this worker runs engine {engine}: \
                 its results would not be the ones the network checks; run a worker built for \
                 that engine (`verifier engine-hash` prints a build's)",
                registered.engineHash
            )));
        }
    }
    Ok(())
}

/// What `worker register` does.
#[derive(Debug, Clone)]
pub struct Registration {
    /// JSON-RPC endpoint.
    pub rpc_url: String,
    /// The deployment.
    pub manifest: Deployment,
    /// The miner's key (pays gas, owns the stake).
    pub key: Key,
    /// Models to serve.
    pub models: Vec<B256>,
    /// First stake, in the token's base units (default: the miner minimum).
    pub stake: Option<U256>,
}

/// Registers the key as a miner (approve, then `registerOperator(miner, amount)`; a registered
/// miner below the minimum tops up with `stake`) and serves each model. Skips what is done.
/// `progress` receives one line per step.
///
/// # Errors
/// [`Error::Chain`] for RPC failures and reverts (named), an unfunded key, or a model the
/// registry does not know; [`Error::Deployment`] for missing contracts.
pub async fn register(reg: &Registration, mut progress: impl FnMut(&str)) -> Result<()> {
    let me = reg.key.address();
    let chain = Client::connect_to(&reg.rpc_url, &reg.manifest, Some(&reg.key)).await?;
    let staking = reg.manifest.contract("Staking")?;
    let registry = reg.manifest.contract("ModelRegistry")?;
    let token = chain.view(staking, IStaking::tokenCall {}).await?;
    progress(&format!("miner {me} on chain {}", reg.manifest.chain_id));

    let miner = Role::Miner.into();
    let min = chain.view(staking, IStaking::minStakeCall { role: miner }).await?;
    let info = chain.view(staking, IStaking::operatorInfoCall { operator: me }).await?;
    let own = chain.view(staking, IStaking::stakeOfCall { operator: me, staker: me }).await?;
    let amount = match Role::try_from(info.role) {
        Ok(Role::None) => reg.stake.unwrap_or(min).max(min),
        Ok(Role::Miner) if own < min => min - own,
        Ok(Role::Miner) => {
            progress(&format!("skip: already registered as a miner, own stake {own}"));
            U256::ZERO
        }
        _ => {
            return Err(Error::Refused(format!(
                "{me} is registered in Staking with role {}; use another key for the miner",
                info.role
            )));
        }
    };
    if !amount.is_zero() {
        let balance = chain.view(token, IAssayToken::balanceOfCall { account: me }).await?;
        if balance < amount {
            return Err(Error::Refused(format!(
                "{me} holds {balance} ASSAY base units, staking needs {amount}: fund the key first"
            )));
        }
        let allowance =
            chain.view(token, IAssayToken::allowanceCall { owner: me, spender: staking }).await?;
        if allowance < amount {
            let approve = IAssayToken::approveCall { spender: staking, value: amount };
            let tx = chain.send(token, approve, U256::ZERO).await?.transaction_hash;
            progress(&format!("approved {amount} for Staking {staking} (tx {tx})"));
        }
        let receipt = if info.role == u8::from(Role::None) {
            let call = IStaking::registerOperatorCall { role: miner, amount };
            chain.send(staking, call, U256::ZERO).await?
        } else {
            chain.send(staking, IStaking::stakeCall { operator: me, amount }, U256::ZERO).await?
        };
        progress(&format!("staked {amount} as a miner (tx {})", receipt.transaction_hash));
    }
    if !chain.view(staking, IStaking::isEligibleCall { operator: me, role: miner }).await? {
        let why = why_not_eligible(&chain, staking, me).await?;
        return Err(Error::Refused(format!("{me} is still not an eligible miner: {why}")));
    }

    for &model in &reg.models {
        let serving = IModelRegistry::isServingCall { modelId: model, miner: me };
        if chain.view(registry, serving).await? {
            progress(&format!("skip: already serving model {model}"));
            continue;
        }
        let info = chain.view(registry, IModelRegistry::modelCall { modelId: model }).await?;
        if info.owner == Address::ZERO {
            return Err(Error::Refused(format!(
                "model {model} is not registered in ModelRegistry {registry} (`deploy` registers \
                 the bundled models)"
            )));
        }
        let serve = IModelRegistry::serveCall { modelId: model };
        let tx = chain.send(registry, serve, U256::ZERO).await?.transaction_hash;
        progress(&format!("serving model {model} (tx {tx})"));
    }
    progress("registered");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeMap, time::Duration};

    use super::*;

    fn receipt() -> Receipt {
        Receipt {
            job_key: B256::ZERO,
            model_id: B256::ZERO,
            input_root: B256::ZERO,
            output_hash: B256::ZERO,
            trace_root: B256::ZERO,
            worker: Address::ZERO,
        }
    }

    fn validator(rpc_url: &str) -> ChainValidator {
        validator_with_key(rpc_url, "11")
    }

    /// A validator whose key is the byte `key_byte` (two hex digits) 32 times.
    fn validator_with_key(rpc_url: &str, key_byte: &str) -> ChainValidator {
        let manifest = Deployment {
            chain_id: 412_346,
            deploy_block: 0,
            contracts: BTreeMap::from([
                ("Sampling".to_string(), Address::repeat_byte(7)),
                ("JobMarket".to_string(), Address::repeat_byte(8)),
            ]),
            models: Vec::new(),
        };
        let key = Key::from_hex(&format!("0x{}", key_byte.repeat(32)), "test").expect("key");
        ChainValidator::connect(rpc_url, &manifest, &key).expect("connects")
    }

    #[test]
    fn salts_are_the_same_after_a_restart_and_differ_per_job_and_key() {
        let (a, restarted) = (validator("http://127.0.0.1:1"), validator("http://127.0.0.1:1"));
        let (one, two) = (U256::from(1u8), U256::from(2u8));
        assert_eq!(a.salt(one), restarted.salt(one), "a restarted worker can reveal");
        assert_ne!(a.salt(one), a.salt(two));
        let other = validator_with_key("http://127.0.0.1:1", "22");
        assert_ne!(a.salt(one), other.salt(one));
        let shown = format!("{a:?}");
        assert!(!shown.contains(&hex::encode(a.salt_secret)), "{shown}");
    }

    #[tokio::test]
    async fn a_job_asked_for_again_while_it_is_validated_is_not_validated_twice() {
        // A node that accepts connections and never answers: the first validation hangs.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let v = validator(&format!("http://{}", silent.local_addr().expect("addr")));
        let first = tokio::spawn({
            let v = v.clone();
            async move { v.validate(U256::from(1u8), &receipt()).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = receipt();
        let again = v.validate(U256::from(1u8), &r);
        let again = tokio::time::timeout(Duration::from_secs(5), again).await;
        assert!(matches!(again, Ok(Ok(()))), "{again:?}");
        first.abort();
    }

    #[tokio::test]
    async fn a_failed_validation_can_be_asked_for_again() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", closed.local_addr().expect("addr"));
        drop(closed);
        let v = validator(&url);
        for _ in 0..2 {
            let r = v.validate(U256::from(2u8), &receipt()).await;
            assert!(matches!(r, Err(Error::Chain(_))), "{r:?}");
        }
    }
}
