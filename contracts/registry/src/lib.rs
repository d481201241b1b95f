//! The Assay model registry (interface: `contracts/interfaces/IModelRegistry.sol`).
//!
//! A model id is the row-by-row Merkle commitment of the model's engine-format blob, so the id
//! itself pins the exact weights. Each entry carries the hash of the engine WASM module whose integer
//! semantics define the model's results, the price per unit of work, its owner (who may reprice
//! or deactivate it) and the set of miners serving it.
//!
//! Only miners the staking contract calls eligible may start serving; the job market re-checks
//! eligibility through stake weights at every draw, so a miner that later loses its stake or is
//! frozen simply stops being drawn. At most [`MAX_SERVERS`] miners serve one model, which bounds
//! the gas of every on-chain draw. The slots go to stake, so that sybils at the minimum stake
//! cannot lock honest miners out (and become every validator):
//! - with every slot taken, a new server whose selection weight (`Staking.weights`: active stake
//!   times reputation) is higher than the lowest server's takes that server's slot;
//! - anyone evicts a server that is no longer eligible for a reason other than an open dispute
//!   (its own stake fell below the minimum, it left the miner role). A frozen server keeps its
//!   slot until its disputes end, though a heavier newcomer may displace it (its weight is zero
//!   while frozen) when the model is full.
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]

extern crate alloc;

use alloc::vec::Vec;

use alloy_primitives::{aliases::U32, Address, B256, U256};
use alloy_sol_types::sol;
use assay_contract_kit::calls::call_view;
use stylus_sdk::{
    prelude::*,
    storage::{
        StorageAddress, StorageB256, StorageBool, StorageMap, StorageU256, StorageU32, StorageVec,
    },
};

sol!(
    #[sol(all_derives)]
    "../interfaces/IModelRegistry.sol"
);
sol!("../interfaces/IStaking.sol");

/// Most miners that may serve one model.
pub const MAX_SERVERS: usize = 64;
/// The miner role in the staking contract.
pub const ROLE_MINER: u8 = assay_contract_common::codes::Role::Miner as u8;

/// One registered model.
#[storage]
pub struct Model {
    owner: StorageAddress,
    engine_hash: StorageB256,
    price_per_unit: StorageU256,
    active: StorageBool,
    servers: StorageVec<StorageAddress>,
    /// Position in `servers` plus one; zero when not serving.
    server_slot: StorageMap<Address, StorageU32>,
}

/// The registry's storage.
#[storage]
#[entrypoint]
pub struct ModelRegistry {
    staking: StorageAddress,
    models: StorageMap<B256, Model>,
}

/// Every revert of the registry, each a named Solidity error.
#[derive(SolidityError, Debug)]
pub enum RegistryError {
    /// `InvalidModelId`.
    InvalidModelId(IModelRegistry::InvalidModelId),
    /// `ModelExists`.
    ModelExists(IModelRegistry::ModelExists),
    /// `UnknownModel`.
    UnknownModel(IModelRegistry::UnknownModel),
    /// `NotModelOwner`.
    NotModelOwner(IModelRegistry::NotModelOwner),
    /// `ModelInactive`.
    ModelInactive(IModelRegistry::ModelInactive),
    /// `NotEligibleMiner`.
    NotEligibleMiner(IModelRegistry::NotEligibleMiner),
    /// `AlreadyServing`.
    AlreadyServing(IModelRegistry::AlreadyServing),
    /// `NotServing`.
    NotServing(IModelRegistry::NotServing),
    /// `OutWeighed`.
    OutWeighed(IModelRegistry::OutWeighed),
    /// `NotEvictable`.
    NotEvictable(IModelRegistry::NotEvictable),
    /// `StakingCallFailed`.
    StakingCallFailed(IModelRegistry::StakingCallFailed),
}

type Result<T, E = RegistryError> = core::result::Result<T, E>;

#[public]
impl ModelRegistry {
    /// Binds the registry to the staking contract that decides miner eligibility.
    #[constructor]
    pub fn constructor(&mut self, staking: Address) {
        self.staking.set(staking);
    }

    /// The staking contract.
    pub fn staking(&self) -> Address {
        self.staking.get()
    }

    /// Registers a model; the caller becomes its owner.
    ///
    /// # Errors
    /// `InvalidModelId` for a zero id, `ModelExists`.
    ///
    /// # Events
    /// `ModelRegistered`.
    pub fn register_model(
        &mut self,
        model_id: B256,
        engine_hash: B256,
        price_per_unit: U256,
    ) -> Result<()> {
        if model_id.is_zero() {
            return Err(IModelRegistry::InvalidModelId {}.into());
        }
        if !self.models.get(model_id).owner.get().is_zero() {
            return Err(IModelRegistry::ModelExists { modelId: model_id }.into());
        }
        let owner = self.vm().msg_sender();
        let mut model = self.models.setter(model_id);
        model.owner.set(owner);
        model.engine_hash.set(engine_hash);
        model.price_per_unit.set(price_per_unit);
        model.active.set(true);
        assay_contract_kit::emit(
            self.vm(),
            IModelRegistry::ModelRegistered {
                modelId: model_id,
                owner,
                engineHash: engine_hash,
                pricePerUnit: price_per_unit,
            },
        );
        Ok(())
    }

    /// Reprices or (de)activates a model; its owner only. Inactive models take no new jobs.
    ///
    /// # Errors
    /// `UnknownModel`, `NotModelOwner`.
    ///
    /// # Events
    /// `ModelUpdated`.
    pub fn update_model(
        &mut self,
        model_id: B256,
        price_per_unit: U256,
        active: bool,
    ) -> Result<()> {
        let caller = self.vm().msg_sender();
        let owner = self.known(model_id)?;
        if caller != owner {
            return Err(IModelRegistry::NotModelOwner { modelId: model_id, account: caller }.into());
        }
        let mut model = self.models.setter(model_id);
        model.price_per_unit.set(price_per_unit);
        model.active.set(active);
        assay_contract_kit::emit(
            self.vm(),
            IModelRegistry::ModelUpdated {
                modelId: model_id,
                pricePerUnit: price_per_unit,
                active,
            },
        );
        Ok(())
    }

    /// Starts serving an active model; eligible miners only.
    ///
    /// # Errors
    /// `UnknownModel`, `ModelInactive`, `NotEligibleMiner`, `AlreadyServing`, `OutWeighed` (every
    /// slot taken by a server at least as heavy), `StakingCallFailed`.
    ///
    /// # Events
    /// `ServingStarted`; `ServingStopped` of the server it displaced.
    pub fn serve(&mut self, model_id: B256) -> Result<()> {
        let miner = self.vm().msg_sender();
        self.known(model_id)?;
        if !self.models.get(model_id).active.get() {
            return Err(IModelRegistry::ModelInactive { modelId: model_id }.into());
        }
        let staking = self.staking.get();
        let eligible = call_view(
            self,
            staking,
            &IStaking::isEligibleCall { operator: miner, role: ROLE_MINER },
        )
        .ok_or(IModelRegistry::StakingCallFailed { staking })?;
        if !eligible {
            return Err(IModelRegistry::NotEligibleMiner { miner }.into());
        }
        if self.is_serving(model_id, miner) {
            return Err(IModelRegistry::AlreadyServing { modelId: model_id, miner }.into());
        }
        if self.models.get(model_id).servers.len() >= MAX_SERVERS {
            let displaced = self.outweighed_by(model_id, miner)?;
            self.remove(model_id, displaced);
        }
        let mut model = self.models.setter(model_id);
        model.servers.push(miner);
        // At most MAX_SERVERS entries, so the slot fits in 32 bits.
        let slot = U32::from(model.servers.len());
        model.server_slot.insert(miner, slot);
        assay_contract_kit::emit(
            self.vm(),
            IModelRegistry::ServingStarted { modelId: model_id, miner },
        );
        Ok(())
    }

    /// Stops serving a model (swap-and-pop: the last server takes the leaving one's place).
    ///
    /// # Errors
    /// `NotServing`.
    ///
    /// # Events
    /// `ServingStopped`.
    pub fn unserve(&mut self, model_id: B256) -> Result<()> {
        let miner = self.vm().msg_sender();
        if !self.is_serving(model_id, miner) {
            return Err(IModelRegistry::NotServing { modelId: model_id, miner }.into());
        }
        self.remove(model_id, miner);
        Ok(())
    }

    /// Removes `miner` from the model's servers when it is not eligible for a reason other than
    /// an open dispute (its own stake is below the minimum, or it is not a miner). Anyone may
    /// call it.
    ///
    /// # Errors
    /// `NotServing`, `NotEvictable` (eligible, or frozen by an open dispute),
    /// `StakingCallFailed`.
    ///
    /// # Events
    /// `ServingStopped`.
    pub fn evict(&mut self, model_id: B256, miner: Address) -> Result<()> {
        if !self.is_serving(model_id, miner) {
            return Err(IModelRegistry::NotServing { modelId: model_id, miner }.into());
        }
        let staking = self.staking.get();
        let failed = IModelRegistry::StakingCallFailed { staking };
        let eligible = call_view(
            self,
            staking,
            &IStaking::isEligibleCall { operator: miner, role: ROLE_MINER },
        )
        .ok_or(failed.clone())?;
        let info = call_view(self, staking, &IStaking::operatorInfoCall { operator: miner })
            .ok_or(failed)?;
        if eligible || info.openDisputes != 0 {
            return Err(IModelRegistry::NotEvictable { modelId: model_id, miner }.into());
        }
        self.remove(model_id, miner);
        Ok(())
    }

    /// `(owner, engineHash, pricePerUnit, active, serverCount)`; the owner is zero for an unknown model.
    pub fn model(&self, model_id: B256) -> (Address, B256, U256, bool, U256) {
        let model = self.models.get(model_id);
        (
            model.owner.get(),
            model.engine_hash.get(),
            model.price_per_unit.get(),
            model.active.get(),
            U256::from(model.servers.len()),
        )
    }

    /// The miners serving a model, in registry order.
    pub fn servers(&self, model_id: B256) -> Vec<Address> {
        let model = self.models.get(model_id);
        (0..model.servers.len()).filter_map(|i| model.servers.get(i)).collect()
    }

    /// Whether `miner` serves the model.
    pub fn is_serving(&self, model_id: B256, miner: Address) -> bool {
        self.models.get(model_id).server_slot.get(miner) != U32::ZERO
    }
}

impl ModelRegistry {
    /// The server of a full model that `newcomer` displaces: the first of lowest selection
    /// weight, when the newcomer's weight is higher.
    fn outweighed_by(&self, model_id: B256, newcomer: Address) -> Result<Address> {
        let mut operators = self.servers(model_id);
        operators.push(newcomer);
        let staking = self.staking.get();
        let weights =
            call_view(self, staking, &IStaking::weightsCall { operators: operators.clone() })
                .ok_or(IModelRegistry::StakingCallFailed { staking })?;
        let (&weight, servers) = weights.split_last().unwrap_or((&U256::ZERO, &[]));
        let lowest = (0..servers.len()).min_by_key(|&i| (servers[i], i));
        match lowest {
            Some(i) if weight > servers[i] => Ok(operators[i]),
            _ => Err(IModelRegistry::OutWeighed {
                modelId: model_id,
                weight,
                lowestWeight: lowest.map(|i| servers[i]).unwrap_or_default(),
            }
            .into()),
        }
    }

    /// Takes `miner` out of the model's servers (swap-and-pop: the last server takes its place)
    /// and logs `ServingStopped`. The caller checked that it serves.
    fn remove(&mut self, model_id: B256, miner: Address) {
        let mut model = self.models.setter(model_id);
        let slot = model.server_slot.get(miner).to::<usize>();
        // slot >= 1 and the miner is listed, so the list is not empty: neither subtraction wraps.
        let (index, last_index) = (slot.saturating_sub(1), model.servers.len().saturating_sub(1));
        if index != last_index {
            let last = model.servers.get(last_index).unwrap_or_default();
            if let Some(mut moved) = model.servers.setter(index) {
                moved.set(last);
            }
            model.server_slot.insert(last, U32::from(slot));
        }
        model.servers.erase_last();
        model.server_slot.insert(miner, U32::ZERO);
        assay_contract_kit::emit(
            self.vm(),
            IModelRegistry::ServingStopped { modelId: model_id, miner },
        );
    }

    fn known(&self, model_id: B256) -> Result<Address> {
        let owner = self.models.get(model_id).owner.get();
        if owner.is_zero() {
            return Err(IModelRegistry::UnknownModel { modelId: model_id }.into());
        }
        Ok(owner)
    }
}

#[cfg(test)]
mod tests;
