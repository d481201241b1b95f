// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.23;

/// Proof-of-Sampling for the Assay job market: the paired `IJobMarket` opens a challenge for every
/// job its challenge coin selects; `n` validators drawn by stake (never the asserter) commit
/// `keccak256(jobKey, validator, outputHash, traceRoot, salt)` and reveal; the comparison accepts the job or
/// disputes it: stakes frozen, one `IDisputeGame` game per dissenting validator, settled by
/// `gameEnded` once every game has ended; every outcome is settled back on the market
/// (`IJobMarket.settleJob`). Bonded claims that anyone files with the dispute game
/// (`IDisputeGame.disputeJob`, `disputeRecord`) join a job as extra dissenters: taken over at
/// `openChallenge` (a waiting claim challenges a job the coin did not) or added by `addClaim`;
/// their bond stands in for a stake (never frozen or slashed here). Also holds the protocol
/// parameters and checks the honesty condition. Challenge states use the job status codes:
/// 4 Challenged, 5 Accepted, 6 Disputed, 7 Rejected.
interface ISampling {
    event ChallengeDrawn(uint256 indexed jobId, address[] validators, uint64 commitDeadline, uint64 revealDeadline);
    event ValidationCommitted(uint256 indexed jobId, address indexed validator);
    event ValidationRevealed(uint256 indexed jobId, address indexed validator, bytes32 outputHash, bytes32 traceRoot);
    event ValidatorAbsent(uint256 indexed jobId, address indexed validator);
    event JobDisputed(uint256 indexed jobId, address indexed asserter, address[] dissenters);
    /// Every game of a disputed job has ended: the job's final status, and who was slashed.
    event DisputeSettled(uint256 indexed jobId, uint8 status, address[] losers);
    event ParamsUpdated(uint32 challengePpm, uint8 validators, uint256 asserterReward, uint256 validatorReward, uint256 slashAmount);
    event DisputeGameSet(address indexed game);

    error UnknownJob(uint256 jobId);
    error WrongStatus(uint256 jobId, uint8 status);
    error NotValidator(uint256 jobId, address account);
    error AlreadyCommitted(uint256 jobId, address validator);
    error CommitClosed(uint256 jobId, uint64 deadline);
    error RevealNotOpen(uint256 jobId);
    error RevealClosed(uint256 jobId, uint64 deadline);
    error CommitmentMismatch(uint256 jobId, address validator);
    error ChallengeStillOpen(uint256 jobId, uint64 revealDeadline);
    error NotDisputeGame(address account);
    error NotJobMarket(address account);
    error HonestyConditionViolated(uint256 expectedLossScaled, uint256 cheatCostScaled);
    error InvalidParams();
    error ExternalCallFailed(address target);

    /// Job market only: takes over an asserted job. A job the coin `challenged` gets validators
    /// drawn from `seed`; the bonded claims waiting for it with the dispute game
    /// (`IDisputeGame.takeClaims`) join it, and challenge it even when the coin did not. Returns
    /// false (and stores nothing) when neither a validator nor a claim challenges it.
    function openChallenge(uint256 jobId, bytes32 seed, bytes32 modelId, address asserter, bytes32 jobKey, bytes32 outputHash, bool challenged) external returns (bool);
    /// The dispute game only: adds `claimant`'s bonded claim to a challenged or disputed job
    /// (the game has checked it). On a disputed job the claim's game starts now: returns
    /// `openNow` and the defender's side, and the game opens it itself.
    function addClaim(uint256 jobId, address claimant, bytes32 outputHash, bytes32 traceRoot) external returns (bool openNow, bytes32 modelId, address asserter, bytes32 assertedOutput, bytes32 assertedTraceRoot);
    function commitValidation(uint256 jobId, bytes32 commitment) external;
    function revealValidation(uint256 jobId, bytes32 outputHash, bytes32 traceRoot, bytes32 salt) external;
    function finalizeChallenge(uint256 jobId) external returns (uint8);
    /// The dispute game only: `challenger`'s game against the job ended with `outcome`
    /// (`IDisputeGame`'s codes). After the last game of the job: every party shown wrong is
    /// slashed, frozen stakes are released and the job settles.
    function gameEnded(uint256 jobId, address challenger, uint8 outcome) external;

    /// `(status, asserter, outputHash, commitDeadline, revealDeadline)`.
    function challenge(uint256 jobId) external view returns (uint8 status, address asserter, bytes32 outputHash, uint64 commitDeadline, uint64 revealDeadline);
    /// Drawn validators, then bonded claimants (state 2 Revealed from the start).
    function jobValidators(uint256 jobId) external view returns (address[] memory validators, uint8[] memory states, bytes32[] memory revealedHashes, bytes32[] memory revealedTraceRoots);
    function params() external view returns (uint32 challengePpm, uint8 validators, uint256 asserterReward, uint256 validatorReward, uint256 slashAmount, uint256 cheatCost, uint32 collusionPpm, uint16 userDiscountBps, uint64 assertTimeout, uint64 commitTimeout, uint64 revealTimeout, uint64 batchWindow, uint64 seedRevealGrace);
    /// `(jobMarket, staking, registry, disputeGame)`.
    function contracts() external view returns (address jobMarket, address staking, address registry, address disputeGame);

    function setParams(uint32 challengePpm, uint8 validators, uint256 asserterReward, uint256 validatorReward, uint256 slashAmount, uint256 cheatCost, uint32 collusionPpm, uint16 userDiscountBps, uint64 assertTimeout, uint64 commitTimeout, uint64 revealTimeout, uint64 batchWindow, uint64 seedRevealGrace) external;
    /// Owner, once: pairs the dispute game (whose `config().sampling` must be this contract).
    function setDisputeGame(address game) external;
}
