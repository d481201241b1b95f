use alloy_primitives::{address, keccak256, Address, B256, U256};
use alloy_sol_types::SolCall;
use assay_contract_kit::testing::{contract_handler, MockHost};
use assay_dispute::DisputeGame;
use assay_sampling::Sampling;
use assay_step::commit::{self, Hash, Keccak};

use crate::{
    external::ARB_SYS, IArbSys, IAssayToken, IModelRegistry, IStaking, JobMarket, ROLE_MINER,
};

pub(super) const OWNER: Address = address!("0x00000000000000000000000000000000000000a1");
pub(super) const TOKEN: Address = address!("0x00000000000000000000000000000000000000a2");
pub(super) const STAKING: Address = address!("0x00000000000000000000000000000000000000a3");
pub(super) const REGISTRY: Address = address!("0x00000000000000000000000000000000000000a4");
pub(super) const MARKET: Address = address!("0x00000000000000000000000000000000000000a5");
pub(super) const GAME: Address = address!("0x00000000000000000000000000000000000000a6");
/// The one-step prover the game is paired with (no game here reaches a proof).
const PROVER: Address = address!("0x00000000000000000000000000000000000000a8");
/// Each side's clock in a dispute game (seconds).
pub(super) const CLOCK: u64 = 600;
pub(super) const SAMPLING: Address = address!("0x00000000000000000000000000000000000000a7");
pub(super) const USER: Address = address!("0x00000000000000000000000000000000000000c1");
pub(super) const COORD: Address = address!("0x00000000000000000000000000000000000000c2");
pub(super) const MODEL: B256 = B256::repeat_byte(0x11);
pub(super) const INPUT: B256 = B256::repeat_byte(0x22);
pub(super) const PRICE: u64 = 1_000;
pub(super) const EPOCH: u64 = 3_600;
pub(super) const T0: u64 = 1_000_000;
pub(super) const SLASH: u64 = 500;
pub(super) const R_A: u64 = 10;
/// The batch window `Env::set_params` sets (seconds).
pub(super) const BATCH_WINDOW: u64 = 600;
pub(super) const R_V: u64 = 6;
/// What a bonded claim costs (wei).
pub(super) const BOND: u64 = 70_000;

/// Every claimed trace in these tests has one leaf under this tree root.
pub(super) const TREE: B256 = B256::repeat_byte(0x99);

struct K;

impl Keccak for K {
    fn keccak(&self, parts: &[&[u8]]) -> Hash {
        keccak256(parts.concat()).0
    }
}

/// The trace root an asserter or a validator claims with `output`: one leaf, tree root `TREE`.
pub(super) fn trace(output: B256) -> B256 {
    trace_of(1, output, TREE)
}

/// The trace root of `n_leaves` leaves under `tree` with `output`.
pub(super) fn trace_of(n_leaves: u32, output: B256, tree: B256) -> B256 {
    B256::from(commit::trace_root(&K, n_leaves, &output.0, &tree.0))
}

/// `node(left, right)` of a trace tree.
pub(super) fn node(left: B256, right: B256) -> B256 {
    B256::from(commit::node(&K, &left.0, &right.0))
}

pub(super) fn miners() -> Vec<Address> {
    (1..=4u8).map(|i| Address::with_last_byte(0xb0 + i)).collect()
}

pub(super) fn u(x: u64) -> U256 {
    U256::from(x)
}

pub(super) fn block_hash(n: u64) -> B256 {
    keccak256(n.to_be_bytes())
}

/// A deployed market, its sampling contract and the dispute game, paired and calling each other
/// (each on its own host and storage), with four eligible miners serving MODEL and a staked
/// coordinator.
pub(super) struct Env {
    /// The market's host.
    pub(super) vm: MockHost,
    /// The sampling contract's host.
    pub(super) svm: MockHost,
    /// The dispute game's host.
    pub(super) gvm: MockHost,
    pub(super) market: JobMarket,
    pub(super) sampling: Sampling,
    pub(super) game: DisputeGame,
    pub(super) block: u64,
    pub(super) now: u64,
}

impl Env {
    /// Both contracts deployed and paired, nothing else set up.
    pub(super) fn deployed() -> Self {
        let (vm, svm, gvm) = (MockHost::default(), MockHost::default(), MockHost::default());
        vm.set_contract_address(MARKET);
        svm.set_contract_address(SAMPLING);
        gvm.set_contract_address(GAME);
        vm.route(SAMPLING, contract_handler::<Sampling>(&svm, MARKET));
        svm.route(MARKET, contract_handler::<JobMarket>(&vm, SAMPLING));
        svm.route(GAME, contract_handler::<DisputeGame>(&gvm, SAMPLING));
        gvm.route(SAMPLING, contract_handler::<Sampling>(&svm, GAME));
        let (market, sampling, game) =
            (JobMarket::from(&vm), Sampling::from(&svm), DisputeGame::from(&gvm));
        let mut env = Self { vm, svm, gvm, market, sampling, game, block: 100, now: T0 };
        env.both(|vm| vm.set_block_timestamp(T0));
        env.sender(OWNER);
        env.market.constructor(OWNER, TOKEN, STAKING, REGISTRY, EPOCH).unwrap();
        env.sampling.constructor(OWNER, MARKET, STAKING, REGISTRY).unwrap();
        env.game.constructor(SAMPLING, PROVER, CLOCK, 1, u(BOND)).unwrap();
        env.market.set_sampling(SAMPLING).unwrap();
        env
    }

    pub(super) fn new(challenge_ppm: u32) -> Self {
        let mut env = Self::deployed();
        env.set_block(100);
        env.mock_model(true);
        env.set_weights(&[100, 100, 100, 100]);
        env.set_eligible(COORD, 2, true);
        for m in miners() {
            env.mock_staking_writes(m);
        }
        env.sender(OWNER);
        env.set_params(challenge_ppm, 2);
        env.sampling.set_dispute_game(GAME).unwrap();
        env
    }

    /// Runs `f` as one transaction: when it fails, every contract's storage is put back as it
    /// was, as a revert does on chain (the test hosts keep what a failing call wrote).
    pub(super) fn tx<T, E>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, E>) -> Result<T, E> {
        let before: Vec<_> =
            [&self.vm, &self.svm, &self.gvm].iter().map(|vm| vm.snapshot().storage).collect();
        let result = f(self);
        if result.is_err() {
            for (vm, storage) in [&self.vm, &self.svm, &self.gvm].into_iter().zip(before) {
                vm.clear_storage();
                for (key, value) in storage {
                    vm.set_storage(key, value);
                }
            }
        }
        result
    }

    /// Runs `f` on every host (mocks every contract sees, block values).
    pub(super) fn both(&self, f: impl Fn(&MockHost)) {
        f(&self.vm);
        f(&self.svm);
        f(&self.gvm);
    }

    /// The next calls to either contract come from `who`.
    pub(super) fn sender(&self, who: Address) {
        self.both(|vm| vm.set_sender(who));
    }

    pub(super) fn set_params(&mut self, challenge_ppm: u32, validators: u8) {
        self.sender(OWNER);
        self.sampling
            .set_params(
                challenge_ppm,
                validators,
                u(R_A),
                u(R_V),
                u(SLASH),
                U256::ZERO,
                0,
                1_000,
                60,
                60,
                60,
                BATCH_WINDOW,
                600,
            )
            .unwrap();
    }

    /// Moves the L2 chain to block `n`: ArbSys answers its number and the 256 hashes before it.
    pub(super) fn set_block(&mut self, n: u64) {
        self.block = n;
        let number = IArbSys::arbBlockNumberCall {};
        self.vm.mock_static_call(
            ARB_SYS,
            number.abi_encode(),
            Ok(U256::from(n).to_be_bytes::<32>().to_vec()),
        );
        for k in n.saturating_sub(256)..n {
            let call = IArbSys::arbBlockHashCall { arbBlockNum: U256::from(k) };
            self.vm.mock_static_call(ARB_SYS, call.abi_encode(), Ok(block_hash(k).to_vec()));
        }
    }

    pub(super) fn advance(&mut self, blocks: u64, seconds: u64) {
        self.set_block(self.block + blocks);
        self.now += seconds;
        let now = self.now;
        self.both(|vm| vm.set_block_timestamp(now));
    }

    pub(super) fn mock_model(&self, active: bool) {
        let ret = IModelRegistry::modelCall::abi_encode_returns(&IModelRegistry::modelReturn {
            owner: OWNER,
            engineHash: B256::ZERO,
            pricePerUnit: u(PRICE),
            active,
            serverCount: u(4),
        });
        self.vm.mock_static_call(
            REGISTRY,
            IModelRegistry::modelCall { modelId: MODEL }.abi_encode(),
            Ok(ret),
        );
        let servers = IModelRegistry::serversCall::abi_encode_returns(&miners());
        self.both(|vm| {
            vm.mock_static_call(
                REGISTRY,
                IModelRegistry::serversCall { modelId: MODEL }.abi_encode(),
                Ok(servers.clone()),
            )
        });
    }

    pub(super) fn set_weights(&self, weights: &[u64]) {
        let call = IStaking::weightsCall { operators: miners() };
        let ret: Vec<U256> = weights.iter().map(|w| u(*w)).collect();
        self.both(|vm| {
            vm.mock_static_call(
                STAKING,
                call.abi_encode(),
                Ok(IStaking::weightsCall::abi_encode_returns(&ret)),
            )
        });
        for m in miners() {
            let info = IStaking::operatorInfoCall { operator: m };
            let ret =
                IStaking::operatorInfoCall::abi_encode_returns(&IStaking::operatorInfoReturn {
                    role: ROLE_MINER,
                    assets: u(1),
                    totalShares: u(1),
                    unbondingShares: U256::ZERO,
                    reputation: 10_000,
                    openDisputes: 0,
                });
            self.vm.mock_static_call(STAKING, info.abi_encode(), Ok(ret));
        }
    }

    pub(super) fn set_eligible(&self, who: Address, role: u8, eligible: bool) {
        let call = IStaking::isEligibleCall { operator: who, role };
        self.vm.mock_static_call(
            STAKING,
            call.abi_encode(),
            Ok(IStaking::isEligibleCall::abi_encode_returns(&eligible)),
        );
    }

    fn mock_staking_writes(&self, who: Address) {
        self.both(|vm| Self::mock_staking_writes_on(vm, who));
    }

    fn mock_staking_writes_on(vm: &MockHost, who: Address) {
        for delta in [10, -500, -5_000] {
            let call = IStaking::adjustReputationCall { operator: who, delta };
            vm.mock_call(
                STAKING,
                call.abi_encode(),
                U256::ZERO,
                Ok(IStaking::adjustReputationCall::abi_encode_returns(&10_000)),
            );
        }
        vm.mock_call(
            STAKING,
            IStaking::freezeCall { operator: who }.abi_encode(),
            U256::ZERO,
            Ok(Vec::new()),
        );
        vm.mock_call(
            STAKING,
            IStaking::unfreezeCall { operator: who }.abi_encode(),
            U256::ZERO,
            Ok(Vec::new()),
        );
        let slash =
            IStaking::slashCall { operator: who, amount: u(SLASH), recipient: Address::ZERO };
        vm.mock_call(
            STAKING,
            slash.abi_encode(),
            U256::ZERO,
            Ok(IStaking::slashCall::abi_encode_returns(&u(SLASH))),
        );
    }

    /// Lets the market mint `amount` into staking and credit it to `operator`.
    pub(super) fn mock_reward_payment(&self, operator: Address, amount: U256) {
        let mint = IAssayToken::mintCall { to: STAKING, value: amount };
        self.vm.mock_call(TOKEN, mint.abi_encode(), U256::ZERO, Ok(Vec::new()));
        let add = IStaking::addRewardCall { operator, amount };
        self.vm.mock_call(STAKING, add.abi_encode(), U256::ZERO, Ok(Vec::new()));
    }

    pub(super) fn submit(&mut self) -> U256 {
        self.sender(USER);
        self.vm.set_value(u(PRICE));
        let id = self.market.submit_job(MODEL, INPUT, Address::ZERO, self.now + 1_000).unwrap();
        self.vm.set_value(U256::ZERO);
        id
    }

    /// Submits, assigns and asserts `output`; returns `(job id, asserter)`.
    pub(super) fn asserted(&mut self, output: B256) -> (U256, Address) {
        let id = self.submit();
        self.advance(1, 1);
        let asserter = self.market.assign_job(id).unwrap();
        self.sender(asserter);
        self.market.assert_result(id, output, trace(output)).unwrap();
        (id, asserter)
    }

    pub(super) fn status(&self, id: U256) -> u8 {
        self.market.job(id).0
    }
}
