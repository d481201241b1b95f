//! Chain access behind a small trait: stake eligibility and selection weights of workers.
//!
//! [`AllowAll`] runs the coordinator without a chain (every signed worker is eligible, all weights
//! equal); [`RpcChain`] reads `IStaking` over JSON-RPC with alloy.

use std::{future::Future, pin::Pin, sync::Arc};

use alloy_primitives::{Address, Bytes, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::SolCall;
use assay_protocol::{bindings::IStaking, deployment::Manifest};

/// The staking role of miners in `IStaking`.
pub const MINER_ROLE: u8 = 1;

/// Errors from the chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The JSON-RPC call failed.
    #[error("rpc: {0}")]
    Rpc(String),
    /// The answer could not be decoded.
    #[error("cannot decode {call}: {source}")]
    Decode {
        /// The call.
        call: &'static str,
        /// Cause.
        source: alloy_sol_types::Error,
    },
    /// The manifest is unusable.
    #[error(transparent)]
    Manifest(#[from] assay_protocol::deployment::ManifestError),
}

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
}

/// `IStaking` over JSON-RPC.
#[derive(Debug, Clone)]
pub struct RpcChain {
    provider: DynProvider,
    chain_id: u64,
    staking: Address,
}

impl RpcChain {
    /// Connects to `rpc_url` and reads the contract addresses from `manifest`.
    ///
    /// # Errors
    /// [`ChainError::Rpc`] for a bad URL or a chain whose id differs from the manifest's;
    /// [`ChainError::Manifest`] when it has no `Staking` contract.
    pub async fn connect(rpc_url: &str, manifest: &Manifest) -> Result<Arc<Self>, ChainError> {
        let url = rpc_url.parse().map_err(|e| ChainError::Rpc(format!("{rpc_url}: {e}")))?;
        let provider = ProviderBuilder::new().connect_http(url).erased();
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| ChainError::Rpc(format!("{rpc_url}: {e}")))?;
        if chain_id != manifest.chain_id {
            return Err(ChainError::Rpc(format!(
                "{rpc_url} is chain {chain_id}, the manifest is for chain {}",
                manifest.chain_id
            )));
        }
        Ok(Arc::new(Self { provider, chain_id, staking: manifest.contract("Staking")? }))
    }

    async fn call<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, ChainError> {
        let tx = TransactionRequest::default().to(to).input(Bytes::from(call.abi_encode()).into());
        let out = self.provider.call(tx).await.map_err(|e| ChainError::Rpc(e.to_string()))?;
        C::abi_decode_returns(&out)
            .map_err(|source| ChainError::Decode { call: C::SIGNATURE, source })
    }
}

impl Chain for RpcChain {
    fn chain_id(&self) -> u64 {
        self.chain_id
    }

    fn is_eligible(&self, worker: Address) -> ChainFuture<'_, bool> {
        Box::pin(async move {
            self.call(self.staking, IStaking::isEligibleCall { operator: worker, role: MINER_ROLE })
                .await
        })
    }

    fn weights(&self, workers: Vec<Address>) -> ChainFuture<'_, Vec<U256>> {
        Box::pin(async move {
            self.call(self.staking, IStaking::weightsCall { operators: workers }).await
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
