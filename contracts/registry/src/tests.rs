#![allow(clippy::arithmetic_side_effects)] // tests compute expectations freely
use alloy_primitives::{address, b256, Address, B256, U256};
use alloy_sol_types::SolCall;
use proptest::prelude::*;
use stylus_sdk::testing::*;

use super::*;

const STAKING: Address = address!("0x00000000000000000000000000000000000000a3");
const OWNER: Address = address!("0x00000000000000000000000000000000000000a1");
const MODEL: B256 = b256!("0x1111111111111111111111111111111111111111111111111111111111111111");
const ENGINE: B256 = b256!("0x2222222222222222222222222222222222222222222222222222222222222222");

fn miner(i: u8) -> Address {
    Address::with_last_byte(0xb0 + i)
}

fn set_eligible(vm: &TestVM, who: Address, eligible: bool) {
    let call = IStaking::isEligibleCall { operator: who, role: ROLE_MINER };
    vm.mock_static_call(
        STAKING,
        call.abi_encode(),
        Ok(IStaking::isEligibleCall::abi_encode_returns(&eligible)),
    );
}

fn deploy() -> (TestVM, ModelRegistry) {
    let vm = TestVM::default();
    let mut registry = ModelRegistry::from(&vm);
    registry.constructor(STAKING);
    vm.set_sender(OWNER);
    registry.register_model(MODEL, ENGINE, U256::from(5u64)).unwrap();
    (vm, registry)
}

#[test]
fn registration_validates_and_records_the_entry() {
    let (_, mut registry) = deploy();
    assert_eq!(registry.model(MODEL), (OWNER, ENGINE, U256::from(5u64), true, U256::ZERO));
    assert!(matches!(
        registry.register_model(MODEL, ENGINE, U256::ZERO),
        Err(RegistryError::ModelExists(_))
    ));
    assert!(matches!(
        registry.register_model(B256::ZERO, ENGINE, U256::ZERO),
        Err(RegistryError::InvalidModelId(_))
    ));
    assert_eq!(registry.staking(), STAKING);
}

#[test]
fn only_the_owner_updates_and_inactive_models_take_no_servers() {
    let (vm, mut registry) = deploy();
    vm.set_sender(miner(1));
    assert!(matches!(
        registry.update_model(MODEL, U256::ZERO, false),
        Err(RegistryError::NotModelOwner(_))
    ));
    assert!(matches!(
        registry.update_model(ENGINE, U256::ZERO, false),
        Err(RegistryError::UnknownModel(_))
    ));
    vm.set_sender(OWNER);
    registry.update_model(MODEL, U256::from(9u64), false).unwrap();
    vm.set_sender(miner(1));
    set_eligible(&vm, miner(1), true);
    assert!(matches!(registry.serve(MODEL), Err(RegistryError::ModelInactive(_))));
}

#[test]
fn serving_requires_eligibility_and_is_unique() {
    let (vm, mut registry) = deploy();
    vm.set_sender(miner(1));
    assert!(matches!(registry.serve(MODEL), Err(RegistryError::StakingCallFailed(_))));
    set_eligible(&vm, miner(1), false);
    assert!(matches!(registry.serve(MODEL), Err(RegistryError::NotEligibleMiner(_))));
    set_eligible(&vm, miner(1), true);
    registry.serve(MODEL).unwrap();
    assert!(matches!(registry.serve(MODEL), Err(RegistryError::AlreadyServing(_))));
    assert!(matches!(registry.serve(ENGINE), Err(RegistryError::UnknownModel(_))));
    assert!(registry.is_serving(MODEL, miner(1)));
    registry.unserve(MODEL).unwrap();
    assert!(matches!(registry.unserve(MODEL), Err(RegistryError::NotServing(_))));
}

#[test]
fn server_count_is_bounded() {
    let (vm, mut registry) = deploy();
    for i in 0..=MAX_SERVERS {
        let who = Address::from_word(B256::from(U256::from(1000 + i)));
        vm.set_sender(who);
        set_eligible(&vm, who, true);
        let result = registry.serve(MODEL);
        if i < MAX_SERVERS {
            result.unwrap();
        } else {
            assert!(matches!(result, Err(RegistryError::TooManyServers(_))));
        }
    }
}

proptest! {
    /// The server list and membership map agree after any serve/unserve sequence.
    #[test]
    fn server_set_stays_consistent(ops in proptest::collection::vec((0u8..6, any::<bool>()), 1..60)) {
        let (vm, mut registry) = deploy();
        let mut expected = std::collections::BTreeSet::new();
        for (i, join) in ops {
            vm.set_sender(miner(i));
            set_eligible(&vm, miner(i), true);
            let ok = if join { registry.serve(MODEL).is_ok() } else { registry.unserve(MODEL).is_ok() };
            prop_assert_eq!(ok, if join { expected.insert(i) } else { expected.remove(&i) });
            let listed: std::collections::BTreeSet<u8> =
                registry.servers(MODEL).iter().map(|a| a.0[19] - 0xb0).collect();
            prop_assert_eq!(&listed, &expected);
            for m in 0..6u8 {
                prop_assert_eq!(registry.is_serving(MODEL, miner(m)), expected.contains(&m));
            }
        }
    }
}
