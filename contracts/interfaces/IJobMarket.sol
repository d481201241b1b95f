// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.23;

/// The Assay job market: on-chain jobs with escrowed fees, batched off-chain jobs committed as
/// Merkle roots, the challenge coin, coordinators' epoch seeds, epoch rewards and fee payouts.
/// Challenged jobs are handed to the paired `ISampling` contract (validators, commit-reveal,
/// disputes), which settles them back through `settleJob`. Job status codes: 1 Submitted,
/// 2 Assigned, 3 Asserted, 4 Challenged, 5 Accepted, 6 Disputed, 7 Rejected, 8 Refunded.
interface IJobMarket {
    event JobSubmitted(uint256 indexed jobId, address indexed requester, bytes32 indexed modelId, bytes32 inputRoot, uint256 fee, uint64 deadline);
    event JobAssigned(uint256 indexed jobId, address indexed asserter);
    event ResultAsserted(uint256 indexed jobId, address indexed asserter, bytes32 outputHash, bytes32 traceRoot);
    event JobAccepted(uint256 indexed jobId, address indexed asserter, bytes32 outputHash, bool challenged);
    event JobRefunded(uint256 indexed jobId, address indexed to, uint256 amount);
    event AssignmentTimedOut(uint256 indexed jobId, address indexed asserter);
    event CallbackFailed(uint256 indexed jobId, address indexed callback);
    event BatchCommitted(uint256 indexed batchId, address indexed coordinator, bytes32 jobsRoot, uint32 jobCount, uint256 escrow);
    event BatchSealed(uint256 indexed batchId, bytes32 drawHash, bool late);
    event BatchJobOpened(uint256 indexed batchId, bytes32 indexed jobKey, uint256 jobId);
    event BatchJobClaimed(uint256 indexed batchId, bytes32 indexed jobKey, address indexed asserter, uint256 fee);
    event BatchEscrowReclaimed(uint256 indexed batchId, address indexed coordinator, uint256 amount);
    event EpochSeedCommitted(uint64 indexed epoch, address indexed coordinator, bytes32 commitment);
    event EpochSeedRevealed(uint64 indexed epoch, bytes32 seed);
    event EpochSeedForfeited(uint64 indexed epoch, address indexed coordinator, uint256 slashed);
    event RewardAccrued(uint64 indexed epoch, address indexed operator, uint256 amount);
    event RewardClaimed(uint64 indexed epoch, address indexed operator, uint256 amount);
    event FeesWithdrawn(address indexed account, uint256 amount);
    event SamplingSet(address indexed sampling);

    error UnknownJob(uint256 jobId);
    error WrongStatus(uint256 jobId, uint8 status);
    error UnknownModel(bytes32 modelId);
    error ModelInactive(bytes32 modelId);
    error FeeTooLow(uint256 fee, uint256 price);
    error DeadlinePassed(uint64 deadline, uint64 timestamp);
    error TooEarly(uint64 notBefore, uint64 current);
    error NoEligibleMiner(bytes32 modelId);
    error NotAsserter(uint256 jobId, address account);
    error NotTimedOut(uint256 jobId);
    error NotCoordinator(address account);
    error InvalidBatch();
    error UnknownBatch(uint256 batchId);
    error BatchNotSealed(uint256 batchId);
    error BatchAlreadySealed(uint256 batchId);
    error BatchWindowClosed(uint256 batchId);
    error BatchWindowOpen(uint256 batchId, uint64 closesAt);
    error InvalidProof(uint256 batchId, bytes32 jobKey);
    error AsserterNotMiner(address asserter);
    error RecordAlreadyUsed(uint256 batchId, bytes32 jobKey);
    error NotChallenged(uint256 batchId, bytes32 jobKey);
    error ChallengedNotOpened(uint256 batchId, bytes32 jobKey);
    error EscrowExceeded(uint256 batchId, uint256 escrow, uint256 needed);
    error ClaimPeriodOpen(uint256 batchId, uint64 closesAt);
    error ClaimPeriodOver(uint256 batchId);
    error EpochNotFuture(uint64 epoch, uint64 current);
    error EpochNotStarted(uint64 epoch);
    error EpochNotOver(uint64 epoch, uint64 current);
    error SeedAlreadyCommitted(uint64 epoch);
    error SeedNotCommitted(uint64 epoch);
    error SeedNotRevealed(uint64 epoch);
    error SeedMismatch(uint64 epoch);
    error SeedAlreadySettled(uint64 epoch);
    error RevealGraceOpen(uint64 epoch, uint64 closesAt);
    error NothingToClaim(address account);
    error InvalidParams();
    error ExternalCallFailed(address target);
    error EthTransferFailed(address to, uint256 amount);
    error ArithmeticOverflow();
    error NotSampling(address account);
    error SamplingAlreadySet(address sampling);

    function submitJob(bytes32 modelId, bytes32 inputRoot, address callback, uint64 deadline) external payable returns (uint256);
    function assignJob(uint256 jobId) external returns (address);
    function assertResult(uint256 jobId, bytes32 outputHash, bytes32 traceRoot) external;
    /// Flips the challenge coin and hands the job to `ISampling.openChallenge`: challenged by the
    /// coin or by a bonded claim waiting for it (`ISampling.disputeRecord`), it is sampled;
    /// otherwise accepted at once. Bonded claims against an on-chain job must be filed before.
    function drawChallenge(uint256 jobId) external returns (bool);
    function timeoutJob(uint256 jobId) external returns (uint8);

    function commitBatch(bytes32 jobsRoot, uint32 jobCount) external payable returns (uint256);
    function sealBatch(uint256 batchId) external returns (bytes32);
    /// Opens a record of a batch for sampling within the batch window: one the batch's draw
    /// challenged, or one a bonded claim waits for (`ISampling.disputeRecord`), else
    /// `NotChallenged`. `claim` is encoded as in `claimBatchJobs`.
    function openBatchJob(uint256 batchId, bytes32[] memory claim) external returns (uint256);
    /// Claims unchallenged records of a batch in one transaction: `claims[i]` is a record's seven
    /// words `jobKey, modelId, inputRoot, asserter, outputHash, traceRoot, fee` (address and fee
    /// as 32-byte words) followed by its Merkle proof. A record earns R_A only when its model is
    /// registered and active and its fee is at least the model's price; claims close 30 days
    /// after the batch window.
    function claimBatchJobs(uint256 batchId, bytes32[][] memory claims) external;
    /// After the claim period, credits what the batch's records did not take (never-claimed and
    /// challenged-but-unopened records, over-escrow) to its coordinator's fee balance, once.
    function reclaimBatchEscrow(uint256 batchId) external returns (uint256);

    function commitEpochSeed(uint64 epoch, bytes32 commitment) external;
    function revealEpochSeed(uint64 epoch, bytes32 seed) external;
    function forfeitEpochSeed(uint64 epoch) external returns (uint256);
    function claimRewards(uint64 epoch, address operator) external returns (uint256);
    function withdrawFees() external returns (uint256);

    function job(uint256 jobId) external view returns (uint8 status, address requester, bytes32 modelId, bytes32 inputRoot, uint256 fee, address asserter, bytes32 outputHash, bytes32 traceRoot, uint64 deadline);
    function batch(uint256 batchId) external view returns (address coordinator, bytes32 jobsRoot, uint32 jobCount, uint256 escrow, uint256 paid, bytes32 drawHash, bool sealed);
    function epochSeed(uint64 epoch) external view returns (address coordinator, bytes32 commitment, bytes32 seed, uint8 state);
    function currentEpoch() external view returns (uint64);
    function epochTiming() external view returns (uint64 genesisTime, uint64 epochLength);
    function accruedReward(uint64 epoch, address operator) external view returns (uint256);
    function feeBalance(address account) external view returns (uint256);
    /// `(token, staking, registry, sampling)`.
    function contracts() external view returns (address token, address staking, address registry, address sampling);

    /// Owner only, once: the paired sampling contract.
    function setSampling(address sampling) external;
    /// Sampling only: the parameters the market applies itself (set by `ISampling.setParams`).
    function setMarketParams(uint32 challengePpm, uint256 asserterReward, uint256 slashAmount, uint16 userDiscountBps, uint64 assertTimeout, uint64 batchWindow, uint64 seedRevealGrace) external;
    /// Sampling only: settles a challenged job. `outcome` 5 accepts it (fee to the asserter less
    /// the user's discount, R_A), 6 marks it disputed, 7 rejects it (fee refunded); `accounts`
    /// accrue `amounts` as epoch rewards first.
    function settleJob(uint256 jobId, uint8 outcome, address[] memory accounts, uint256[] memory amounts) external;
}
