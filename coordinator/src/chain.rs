//! Chain access behind a small trait: stake eligibility, selection weights and served models of
//! workers.
//!
//! [`AllowAll`] runs the coordinator without a chain (every signed worker is eligible, all weights
//! equal, every model it names served); [`RpcChain`] reads `IStaking` and `IModelRegistry` over
//! JSON-RPC with alloy.

use std::{future::Future, pin::Pin, sync::Arc};

use alloy_primitives::{Address, B256, U256};
pub use assay_chain::ChainError;
use assay_chain::Client;
use assay_protocol::{
    bindings::{IModelRegistry, IStaking},
    codes::Role,
    deployment::Deployment,
};

/// A boxed future returned by [`Chain`] methods.
pub type ChainFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ChainError>> + Send + 'a>>;

/// What the coordinator asks of the chain.
pub trait Chain: Send + Sync + 'static {
    /// The chain id worker signatures are bound to.
    fn chain_id(&self) -> u64;

    /// Whether `worker` is a registered miner with enough stake and no freeze.
    fn is_eligible(&self, worker: Address) -> ChainFuture<'_, bool>;

    /// Selection weights (stake × reputation) of `workers`, in the same order.
    fn weights(&self, workers: Vec<Address>) -> ChainFuture<'_, Vec<U256>>;

    /// The models of `models` that `worker` serves in the registry (`isServing`), in order.
    fn served(&self, worker: Address, models: Vec<B256>) -> ChainFuture<'_, Vec<B256>>;
}

/// No chain: every worker is eligible and weighs 1.
#[derive(Debug, Clone, Copy)]
pub struct AllowAll {
    /// Chain id signatures are bound to.
    pub chain_id: u64,
}

impl Chain for AllowAll {
    fn chain_id(&self) -> u64 {
        self.chain_id
    }

    fn is_eligible(&self, _worker: Address) -> ChainFuture<'_, bool> {
        Box::pin(async { Ok(true) })
    }

    fn weights(&self, workers: Vec<Address>) -> ChainFuture<'_, Vec<U256>> {
        Box::pin(async move { Ok(vec![U256::from(1); workers.len()]) })
    }

    fn served(&self, _worker: Address, models: Vec<B256>) -> ChainFuture<'_, Vec<B256>> {
        Box::pin(async move { Ok(models) })
    }
}

/// `IStaking` over JSON-RPC.
#[derive(Debug, Clone)]
pub struct RpcChain {
    chain: Client,
    staking: Address,
    registry: Address,
}

impl RpcChain {
    /// Connects to `rpc_url` and reads the contract addresses from `manifest`.
    ///
    /// # Errors
    /// [`ChainError::Connect`] or [`ChainError::WrongChain`] for a node that is unreachable or
    /// on another chain; [`ChainError::Deployment`] when it has no `Staking` or
    /// `ModelRegistry` contract.
    pub async fn connect(rpc_url: &str, manifest: &Deployment) -> Result<Arc<Self>, ChainError> {
        let chain = Client::connect_to(rpc_url, manifest, None).await?;
        Ok(Arc::new(Self {
            chain,
            staking: manifest.contract("Staking")?,
            registry: manifest.contract("ModelRegistry")?,
        }))
    }
}

impl Chain for RpcChain {
    fn chain_id(&self) -> u64 {
        self.chain.chain_id()
    }

    fn is_eligible(&self, worker: Address) -> ChainFuture<'_, bool> {
        let call = IStaking::isEligibleCall { operator: worker, role: Role::Miner.into() };
        Box::pin(async move { self.chain.view(self.staking, call).await })
    }

    fn weights(&self, workers: Vec<Address>) -> ChainFuture<'_, Vec<U256>> {
        Box::pin(async move {
            self.chain.view(self.staking, IStaking::weightsCall { operators: workers }).await
        })
    }

    fn served(&self, worker: Address, models: Vec<B256>) -> ChainFuture<'_, Vec<B256>> {
        Box::pin(async move {
            let mut served = Vec::with_capacity(models.len());
            for model in models {
                let call = IModelRegistry::isServingCall { modelId: model, miner: worker };
                if self.chain.view(self.registry, call).await? {
                    served.push(model);
                }
            }
            Ok(served)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn allow_all_admits_everyone_with_equal_weights() {
        let chain = AllowAll { chain_id: 7 };
        assert_eq!(chain.chain_id(), 7);
        assert!(chain.is_eligible(Address::ZERO).await.unwrap());
        let w = chain.weights(vec![Address::ZERO, Address::repeat_byte(1)]).await.unwrap();
        assert_eq!(w, vec![U256::from(1), U256::from(1)]);
    }
}
