//! Revert data decoded into the named Solidity error of the contract that raised it.

use std::fmt;

use alloy_primitives::Bytes;
use alloy_sol_types::{SolError, SolInterface};
use assay_protocol::bindings::{
    ArbWasm::ArbWasmErrors, IAssayToken::IAssayTokenErrors, IDisputeGame::IDisputeGameErrors,
    IJobMarket::IJobMarketErrors, IModelRegistry::IModelRegistryErrors, IOwnable::IOwnableErrors,
    ISampling::ISamplingErrors, IStaking::IStakingErrors, StylusDeployer,
    StylusDeployer::StylusDeployerErrors,
};

/// Why a call reverted: the named error of an Assay contract, an Arbitrum precompile or the
/// Stylus deployer, or the raw data when none of them declares it. Errors with the same
/// signature in several interfaces decode as the first listed here; [`Revert::is`] compares
/// selectors and so does not depend on which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revert {
    /// `AssayToken`.
    Token(IAssayTokenErrors),
    /// `Staking`.
    Staking(IStakingErrors),
    /// `ModelRegistry`.
    Registry(IModelRegistryErrors),
    /// `JobMarket`.
    Market(IJobMarketErrors),
    /// `Sampling`.
    Sampling(ISamplingErrors),
    /// `DisputeGame`.
    DisputeGame(IDisputeGameErrors),
    /// The ownership errors every owned contract shares.
    Ownable(IOwnableErrors),
    /// The ArbWasm precompile (activation).
    ArbWasm(ArbWasmErrors),
    /// The Stylus deployer; a constructor's own revert is decoded into [`Revert::Constructor`].
    Deployer(StylusDeployerErrors),
    /// A contract's constructor reverted under the Stylus deployer.
    Constructor(Box<Self>),
    /// Data no known interface declares (empty for a bare `revert()`).
    Unknown(Bytes),
}

impl Revert {
    /// Decodes revert data.
    pub fn decode(data: &[u8]) -> Self {
        if let Ok(inner) = StylusDeployer::ContractInitializationError::abi_decode(data) {
            return Self::Constructor(Box::new(Self::decode(&inner.data)));
        }
        macro_rules! first_match {
            ($($variant:ident($errors:ty)),*) => {
                $(if let Ok(e) = <$errors>::abi_decode(data) { return Self::$variant(e); })*
            };
        }
        first_match!(
            Token(IAssayTokenErrors),
            Staking(IStakingErrors),
            Registry(IModelRegistryErrors),
            Market(IJobMarketErrors),
            Sampling(ISamplingErrors),
            DisputeGame(IDisputeGameErrors),
            Ownable(IOwnableErrors),
            ArbWasm(ArbWasmErrors),
            Deployer(StylusDeployerErrors)
        );
        Self::Unknown(Bytes::copy_from_slice(data))
    }

    /// The 4-byte selector of the error (`None` for data shorter than a selector).
    pub fn selector(&self) -> Option<[u8; 4]> {
        Some(match self {
            Self::Token(e) => e.selector(),
            Self::Staking(e) => e.selector(),
            Self::Registry(e) => e.selector(),
            Self::Market(e) => e.selector(),
            Self::Sampling(e) => e.selector(),
            Self::DisputeGame(e) => e.selector(),
            Self::Ownable(e) => e.selector(),
            Self::ArbWasm(e) => e.selector(),
            Self::Deployer(e) => e.selector(),
            Self::Constructor(_) => StylusDeployer::ContractInitializationError::SELECTOR,
            Self::Unknown(data) => data.get(..4)?.try_into().expect("4 bytes"),
        })
    }

    /// Whether this is error `E` (e.g. `revert.is::<ISampling::RevealNotOpen>()`).
    pub fn is<E: SolError>(&self) -> bool {
        self.selector() == Some(E::SELECTOR)
    }
}

impl fmt::Display for Revert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(e) => write!(f, "AssayToken: {e:?}"),
            Self::Staking(e) => write!(f, "Staking: {e:?}"),
            Self::Registry(e) => write!(f, "ModelRegistry: {e:?}"),
            Self::Market(e) => write!(f, "JobMarket: {e:?}"),
            Self::Sampling(e) => write!(f, "Sampling: {e:?}"),
            Self::DisputeGame(e) => write!(f, "DisputeGame: {e:?}"),
            Self::Ownable(e) => write!(f, "{e:?}"),
            Self::ArbWasm(e) => write!(f, "ArbWasm: {e:?}"),
            Self::Deployer(e) => write!(f, "StylusDeployer: {e:?}"),
            Self::Constructor(inner) => write!(f, "constructor reverted: {inner}"),
            Self::Unknown(data) if data.is_empty() => f.write_str("reverted without data"),
            Self::Unknown(data) => write!(f, "revert data {data}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Address, U256};
    use assay_protocol::bindings::{IJobMarket, ISampling};

    use super::*;

    #[test]
    fn named_errors_decode_by_contract_and_match_by_selector() {
        let data = ISampling::RevealNotOpen { jobId: U256::from(7) }.abi_encode();
        let revert = Revert::decode(&data);
        assert!(
            matches!(&revert, Revert::Sampling(ISamplingErrors::RevealNotOpen(e)) if e.jobId == U256::from(7))
        );
        assert!(revert.is::<ISampling::RevealNotOpen>());
        assert!(!revert.is::<ISampling::ChallengeStillOpen>());
        assert_eq!(revert.to_string(), "Sampling: RevealNotOpen(RevealNotOpen { jobId: 7 })");
    }

    #[test]
    fn constructor_reverts_unwrap_and_unknown_data_stays_raw() {
        let inner = IJobMarket::UnknownJob { jobId: U256::from(3) }.abi_encode();
        let wrapped = StylusDeployer::ContractInitializationError {
            newContract: Address::ZERO,
            data: inner.into(),
        }
        .abi_encode();
        let revert = Revert::decode(&wrapped);
        assert!(
            matches!(&revert, Revert::Constructor(inner) if inner.is::<IJobMarket::UnknownJob>())
        );
        assert_eq!(
            revert.to_string(),
            "constructor reverted: JobMarket: UnknownJob(UnknownJob { jobId: 3 })"
        );
        assert_eq!(Revert::decode(&[]).to_string(), "reverted without data");
        assert_eq!(Revert::decode(&[]).selector(), None);
        let odd = Revert::decode(&[1, 2, 3, 4, 5]);
        assert_eq!(odd, Revert::Unknown(Bytes::from(vec![1, 2, 3, 4, 5])));
        assert_eq!(odd.selector(), Some([1, 2, 3, 4]));
        assert_eq!(odd.to_string(), "revert data 0x0102030405");
    }
}
