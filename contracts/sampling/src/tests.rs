//! Unit tests of what the sampling contract checks on its own; the whole challenge lifecycle is
//! tested with a live `JobMarket` in `assay-jobs` (`src/tests`).

use alloy_primitives::{address, Address, B256, U256};
use assay_contract_kit::testing::MockHost;

use crate::{Sampling, SamplingError};

const OWNER: Address = address!("0x00000000000000000000000000000000000000a1");
const MARKET: Address = address!("0x00000000000000000000000000000000000000a5");

#[test]
fn constructor_needs_a_market_and_open_challenge_only_takes_it() {
    let vm = MockHost::default();
    let mut s = Sampling::from(&vm);
    vm.set_sender(OWNER);
    assert!(matches!(
        s.constructor(OWNER, Address::ZERO, Address::ZERO, Address::ZERO),
        Err(SamplingError::InvalidParams(_))
    ));
    s.constructor(OWNER, MARKET, Address::ZERO, Address::ZERO).unwrap();
    assert_eq!(s.contracts().0, MARKET);
    let open = |s: &mut Sampling| {
        s.open_challenge(
            U256::from(1u8),
            B256::ZERO,
            B256::ZERO,
            OWNER,
            B256::ZERO,
            B256::ZERO,
            true,
        )
    };
    assert!(matches!(open(&mut s), Err(SamplingError::NotJobMarket(_))));
    // Unpaired market (its call reverts): parameters cannot be set.
    assert!(matches!(
        s.set_params(
            1,
            1,
            U256::ZERO,
            U256::ZERO,
            U256::from(1u8),
            U256::ZERO,
            0,
            0,
            1,
            1,
            1,
            1,
            1
        ),
        Err(SamplingError::ExternalCallFailed(_))
    ));
    vm.set_sender(MARKET);
    // The registry is not there: the draw's call fails by name.
    assert!(matches!(open(&mut s), Err(SamplingError::ExternalCallFailed(_))));
}
