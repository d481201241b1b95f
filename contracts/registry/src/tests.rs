#![allow(clippy::arithmetic_side_effects)] // tests compute expectations freely
use alloy_primitives::{address, b256, Address, B256, U256};
use alloy_sol_types::{SolCall, SolEvent};
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

fn server(i: usize) -> Address {
    Address::from_word(B256::from(U256::from(1000 + i)))
}

/// Mocks `Staking.weights(servers ++ [newcomer])`: server `i` weighs `10 + i`, except the
/// `light` one, which weighs 3.
fn set_weights(
    vm: &TestVM,
    registry: &ModelRegistry,
    newcomer: Address,
    weight: u64,
    light: usize,
) {
    let mut operators = registry.servers(MODEL);
    operators.push(newcomer);
    let weights: Vec<U256> = operators
        .iter()
        .map(|a| {
            let i = (0..MAX_SERVERS).find(|&i| server(i) == *a);
            U256::from(match i {
                Some(i) if i == light => 3,
                Some(i) => 10 + i as u64,
                None => weight,
            })
        })
        .collect();
    let call = IStaking::weightsCall { operators };
    vm.mock_static_call(
        STAKING,
        call.abi_encode(),
        Ok(IStaking::weightsCall::abi_encode_returns(&weights)),
    );
}

fn fill(vm: &TestVM, registry: &mut ModelRegistry) {
    for i in 0..MAX_SERVERS {
        vm.set_sender(server(i));
        set_eligible(vm, server(i), true);
        registry.serve(MODEL).unwrap();
    }
}

#[test]
fn a_full_model_takes_a_heavier_server_in_place_of_the_lightest() {
    let (vm, mut registry) = deploy();
    fill(&vm, &mut registry);
    let newcomer = miner(9);
    vm.set_sender(newcomer);
    set_eligible(&vm, newcomer, true);
    // Server 5 is the lightest (weight 3): a newcomer must weigh more than that.
    for weight in [0u64, 3] {
        set_weights(&vm, &registry, newcomer, weight, 5);
        match registry.serve(MODEL) {
            Err(RegistryError::OutWeighed(e)) => {
                assert_eq!((e.weight, e.lowestWeight), (U256::from(weight), U256::from(3u8)));
            }
            other => panic!("weight {weight}: {other:?}"),
        }
    }
    set_weights(&vm, &registry, newcomer, 4, 5);
    registry.serve(MODEL).unwrap();
    assert!(registry.is_serving(MODEL, newcomer));
    assert!(!registry.is_serving(MODEL, server(5)), "the lightest left");
    assert_eq!(registry.servers(MODEL).len(), MAX_SERVERS);
    for i in (0..MAX_SERVERS).filter(|&i| i != 5) {
        assert!(registry.is_serving(MODEL, server(i)), "server {i} stays");
    }
    // Its `ServingStopped` is logged.
    assert!(vm.get_emitted_logs().iter().any(|(topics, _)| {
        topics.first() == Some(&IModelRegistry::ServingStopped::SIGNATURE_HASH)
            && topics.get(2) == Some(&server(5).into_word())
    }));
}

/// Mocks `Staking.operatorInfo`. The test VM answers every static call's return data with the
/// last mocked one, so `isEligible` reads this too: its first word, the role, as the bool (a
/// miner reads as eligible, role 0 as not).
fn set_info(vm: &TestVM, who: Address, role: u8, open_disputes: u32) {
    let call = IStaking::operatorInfoCall { operator: who };
    let info = IStaking::operatorInfoReturn {
        role,
        assets: U256::from(1u8),
        totalShares: U256::from(1u8),
        unbondingShares: U256::ZERO,
        reputation: 10_000,
        openDisputes: open_disputes,
    };
    vm.mock_static_call(
        STAKING,
        call.abi_encode(),
        Ok(IStaking::operatorInfoCall::abi_encode_returns(&info)),
    );
}

#[test]
fn anyone_evicts_a_server_that_lost_its_eligibility_but_not_one_in_a_dispute() {
    let (vm, mut registry) = deploy();
    vm.set_sender(miner(1));
    set_eligible(&vm, miner(1), true);
    registry.serve(MODEL).unwrap();
    vm.set_sender(miner(7)); // anyone
    assert!(matches!(registry.evict(MODEL, miner(2)), Err(RegistryError::NotServing(_))));
    set_eligible(&vm, miner(1), true);
    set_info(&vm, miner(1), ROLE_MINER, 0);
    assert!(matches!(registry.evict(MODEL, miner(1)), Err(RegistryError::NotEvictable(_))));
    // Not eligible, but frozen by a dispute: it keeps its slot.
    set_eligible(&vm, miner(1), false);
    set_info(&vm, miner(1), 0, 1);
    assert!(matches!(registry.evict(MODEL, miner(1)), Err(RegistryError::NotEvictable(_))));
    set_info(&vm, miner(1), 0, 0);
    registry.evict(MODEL, miner(1)).unwrap();
    assert!(!registry.is_serving(MODEL, miner(1)));
    assert!(registry.servers(MODEL).is_empty());
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
