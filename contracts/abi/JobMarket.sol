interface IJobMarket {
    function submitJob(bytes32 model_id, bytes32 input_root, address callback, uint64 deadline) external payable returns (uint256);

    function assignJob(uint256 job_id) external returns (address);

    function assertResult(uint256 job_id, bytes32 output_hash, bytes32 trace_root) external;

    function drawChallenge(uint256 job_id) external returns (bool);

    function timeoutJob(uint256 job_id) external returns (uint8);

    function commitBatch(bytes32 jobs_root, uint32 job_count) external payable returns (uint256);

    function sealBatch(uint256 batch_id) external returns (bytes32);

    function openBatchJob(uint256 batch_id, bytes32[] memory claim) external returns (uint256);

    function claimBatchJobs(uint256 batch_id, bytes32[][] memory claims) external;

    function reclaimBatchEscrow(uint256 batch_id) external returns (uint256);

    function commitEpochSeed(uint64 epoch, bytes32 commitment) external;

    function revealEpochSeed(uint64 epoch, bytes32 seed) external;

    function forfeitEpochSeed(uint64 epoch) external returns (uint256);

    function claimRewards(uint64 epoch, address operator) external returns (uint256);

    function withdrawFees() external returns (uint256);

    function job(uint256 job_id) external view returns (uint8, address, bytes32, bytes32, uint256, address, bytes32, bytes32, uint64);

    function batch(uint256 batch_id) external view returns (address, bytes32, uint32, uint256, uint256, bytes32, bool);

    function epochSeed(uint64 epoch) external view returns (address, bytes32, bytes32, uint8);

    function currentEpoch() external view returns (uint64);

    function epochTiming() external view returns (uint64, uint64);

    function accruedReward(uint64 epoch, address operator) external view returns (uint256);

    function feeBalance(address account) external view returns (uint256);

    function contracts() external view returns (address, address, address, address);

    function setSampling(address sampling) external;

    function setMarketParams(uint32 challenge_ppm, uint256 asserter_reward, uint256 slash_amount, uint16 user_discount_bps, uint64 assert_timeout, uint64 batch_window, uint64 seed_reveal_grace) external;

    function settleJob(uint256 job_id, uint8 outcome, address[] memory accounts, uint256[] memory amounts) external;

    function owner() external view returns (address);

    function transferOwnership(address new_owner) external;

    function renounceOwnership() external;

    error UnknownJob(uint256);

    error WrongStatus(uint256, uint8);

    error UnknownModel(bytes32);

    error ModelInactive(bytes32);

    error FeeTooLow(uint256, uint256);

    error DeadlinePassed(uint64, uint64);

    error TooEarly(uint64, uint64);

    error NoEligibleMiner(bytes32);

    error NotAsserter(uint256, address);

    error NotTimedOut(uint256);

    error NotCoordinator(address);

    error InvalidBatch();

    error UnknownBatch(uint256);

    error BatchNotSealed(uint256);

    error BatchAlreadySealed(uint256);

    error BatchWindowClosed(uint256);

    error BatchWindowOpen(uint256, uint64);

    error InvalidProof(uint256, bytes32);

    error AsserterNotMiner(address);

    error RecordAlreadyUsed(uint256, bytes32);

    error NotChallenged(uint256, bytes32);

    error ChallengedNotOpened(uint256, bytes32);

    error EscrowExceeded(uint256, uint256, uint256);

    error ClaimPeriodOpen(uint256, uint64);

    error ClaimPeriodOver(uint256);

    error EpochNotFuture(uint64, uint64);

    error EpochNotStarted(uint64);

    error EpochNotOver(uint64, uint64);

    error SeedAlreadyCommitted(uint64);

    error SeedNotCommitted(uint64);

    error SeedNotRevealed(uint64);

    error SeedMismatch(uint64);

    error SeedAlreadySettled(uint64);

    error RevealGraceOpen(uint64, uint64);

    error NothingToClaim(address);

    error InvalidParams();

    error ExternalCallFailed(address);

    error EthTransferFailed(address, uint256);

    error ArithmeticOverflow();

    error NotSampling(address);

    error SamplingAlreadySet(address);

    error OwnableUnauthorizedAccount(address);

    error OwnableInvalidOwner(address);
}
