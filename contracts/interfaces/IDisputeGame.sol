// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.23;

/// Disputes settled by bisection, not by a key. `ISampling` opens one game per validator whose
/// revealed output hash contradicts the asserter: the asserter defends the output hash and trace
/// root it asserted, the validator challenges with the ones it revealed. Both sides walk their execution traces
/// (`crates/engine/TRACE.md`) down to the first differing op leaf, then that leaf's first
/// differing cell, then the first differing element. In every phase the defender moves first,
/// then the challenger, who passes the defender's posted data back so that the contract compares
/// both; each side has a chess clock, and anyone may end a game whose side to move ran out of
/// time (`timeout`). Every ending is reported to `ISampling.gameEnded`, which slashes and settles.
/// Phases (`game(id).phase`): 1 Roots, 2 Leaves, 3 Leaf, 4 Cells, 5 Cell, 8 Reduction and
/// 9 Terms (an element reduced over more than a row: Context, Softmax, Pool, the chosen token),
/// 6 Step (waiting for the one-step proof; the defender's clock runs), 7 Ended. Outcomes:
/// 1 DefenderWon, 2 ChallengerWon, 3 BothWrong, 4 NoVerdict (narrowed to a step the prover does
/// not decide: the prompt's tokens, a sampled token, two leaf headers the schedule both allows).
/// Every proof is checked by the one-step prover (`IOneStepProver`).
///
/// **Bonded claims.** Anyone but the asserter (a requester, the coordinator escalating its own
/// sampling, an arbitrator) disputes an assertion by posting `disputeBond()` with its own output
/// hash and trace root: `disputeJob` on a job Sampling holds (challenged: compared at
/// `finalizeChallenge` like a reveal; disputed: its game opens at once), `disputeRecord` before
/// the market hands the job over (an on-chain job before `drawChallenge`, a batch record within
/// its window: the claim then challenges it when it is drawn or opened; open it yourself). The
/// claimant plays the challenger's side; its bond is held by the game and settled when the game
/// ends: back to the claimant when it won or there was no verdict, to the defender when the
/// defender won, burned (kept here for good) when both were wrong. A claim that won is also
/// paid half the asserter's slash (Sampling). Bonds are withdrawn with `withdrawBonds`.
interface IDisputeGame {
    event GameOpened(uint256 indexed gameId, uint256 indexed jobId, address indexed defender, address challenger, bytes32 modelId, uint64 clock);
    event RootOpened(uint256 indexed gameId, address indexed side, uint32 nLeaves, bytes32 treeRoot);
    event Bisected(uint256 indexed gameId, address indexed side, uint8 phase, uint8 level, uint64 index, bytes32[] children);
    event LeafOpened(uint256 indexed gameId, address indexed side, uint64 leaf, bytes preimage);
    event CellOpened(uint256 indexed gameId, address indexed side, uint64 cell, bytes data);
    /// The element both sides disagree on: the op leaf, the cell of its output and the element
    /// within that cell.
    event StepDisputed(uint256 indexed gameId, uint64 leaf, uint32 op, uint64 cell, uint32 element);
    /// Phase Reduction: how many terms the side reduces the disputed element over and its final
    /// accumulator.
    event TermsOpened(uint256 indexed gameId, address indexed side, uint64 terms, bytes32 last);
    /// Phase Terms: the side's accumulators after terms `lo + (hi - lo)·m / parts` for
    /// `m = 1 … parts − 1`, `parts = min(2^arityBits, hi − lo)`.
    event TermsBisected(uint256 indexed gameId, address indexed side, uint64 lo, uint64 hi, bytes32[] accs);
    /// The one-step proof's recomputed value of the disputed element, or of the accumulator after
    /// the disputed term (little endian, zero-padded).
    event StepProven(uint256 indexed gameId, bytes32 value);
    event GameEnded(uint256 indexed gameId, uint8 outcome);
    /// A bonded claim: against job `jobId` (`disputeJob`, `jobKey` zero), or waiting for the
    /// hand-over of job key `jobKey` (`disputeRecord`, `jobId` zero).
    event ClaimFiled(uint256 indexed jobId, bytes32 indexed jobKey, address indexed claimant, bytes32 outputHash, bytes32 traceRoot);
    event ClaimWithdrawn(bytes32 indexed jobKey, address indexed claimant);
    /// A claimant's bond when its game ended: `to` the claimant, the defender, or zero (burned).
    event BondSettled(uint256 indexed gameId, address indexed to, uint256 amount);
    event BondsWithdrawn(address indexed account, uint256 amount);

    error UnknownGame(uint256 gameId);
    error NotSampling(address account);
    error NotYourTurn(uint256 gameId, address account);
    error WrongPhase(uint256 gameId, uint8 phase);
    error ClockExpired(uint256 gameId, address side, uint64 deadline);
    error ClockRunning(uint256 gameId, uint64 deadline);
    /// An opening (root, leaf, cell) or the children posted do not hash to the side's node.
    error BadOpening(uint256 gameId, address side);
    /// The one-step proof is malformed, opens leaves the agreed trees do not hold, or does not
    /// open the inputs the disputed op reads.
    error BadProof(uint256 gameId);
    error InvalidParams();
    error ExternalCallFailed(address target);
    /// `msg.value` must be `disputeBond()`.
    error WrongBond(uint256 sent, uint256 bond);
    /// Sampling does not hold the job in a state that takes claims (4 Challenged, 6 Disputed).
    error NotDisputable(uint256 jobId, uint8 status);
    /// The account is the asserter or already has a claim on the job (a drawn validator has its
    /// own).
    error AlreadyClaimed(address account);
    /// The claim names the asserted output hash: nothing to dispute.
    error SameAsAsserted();
    /// A job takes at most 32 claims (drawn validators included).
    error TooManyClaims();
    error NothingToWithdraw(address account);
    error EthTransferFailed(address to, uint256 amount);

    /// Sampling only: opens the game of `challenger` against the asserted job `jobId` of model
    /// `modelId` (the model id one-step proofs open weights and tables against).
    function openGame(uint256 jobId, bytes32 modelId, address defender, bytes32 defenderOutput, bytes32 defenderTraceRoot, address challenger, bytes32 challengerOutput, bytes32 challengerTraceRoot) external returns (uint256 gameId);
    /// Phase Roots: the trace root's opening `keccak(0x12 ‖ nLeaves ‖ outputHash ‖ treeRoot)`.
    function openRoot(uint256 gameId, uint32 nLeaves, bytes32 treeRoot) external;
    /// Phases Leaves and Cells: the nodes `min(arityBits, level)` levels below the disputed
    /// node, left to right (fewer at a tree's right edge); the challenger also passes the
    /// defender's (from its `Bisected` event), the defender an empty list.
    function bisect(uint256 gameId, bytes32[] calldata children, bytes32[] calldata defenderChildren) external;
    /// Phase Leaf: the disputed leaf's preimage (empty when the side's trace has no such leaf:
    /// its node is zero); the challenger also passes the defender's. Equal headers go on to the
    /// leaf's cells; different ones to the Step phase over the header the schedule puts there
    /// (`disputedTerms(id).kind` 4, the claims being the header hashes over a zero cells root,
    /// zero for no leaf).
    function openLeaf(uint256 gameId, bytes calldata preimage, bytes calldata defenderPreimage) external;
    /// Phase Cell: the disputed cell's bytes; the challenger also passes the defender's.
    function openCell(uint256 gameId, bytes calldata data, bytes calldata defenderData) external;
    /// Phase Reduction: the number of terms (at least 1, at most 2^32) the side reduces the
    /// disputed element over and its accumulator after them (`crates/engine/TRACE.md`,
    /// "Narrowing"). Equal accumulators send the game to the Step phase over the element's last
    /// step from the agreed accumulator; different ones to the Terms phase over the larger count.
    function openTerms(uint256 gameId, uint64 terms, bytes32 last) external;
    /// Phase Terms: the side's accumulators at the points that divide the disputed interval of
    /// terms (see `TermsBisected`); the challenger also passes the defender's, the defender an
    /// empty list. Ends in the Step phase over one term.
    function bisectTerms(uint256 gameId, bytes32[] calldata accs, bytes32[] calldata defenderAccs) external;
    /// Phase Step: the one-step proof of the disputed element (`contracts/dispute/src/proof.rs`);
    /// anyone may send it. The side that claimed the recomputed value wins; both lose when
    /// neither did. When both leaf trees are equal the outputs themselves are disputed: the
    /// proof is then the opening of the last leaf (the Output op, every cell), whose hash is
    /// the correct output. After a reduction's phases the proof recomputes the accumulator after
    /// the disputed term from the agreed one (`disputedTerms`), or the element from the agreed
    /// final accumulator. In phase Reduction, a proof that the disputed token was sampled (the
    /// leaf before it is a Softmax) ends the game without a verdict.
    function proveStep(uint256 gameId, bytes calldata proof) external;
    /// Ends the game against the side to move once its clock has run out; anyone may call.
    function timeout(uint256 gameId) external;

    /// A bonded claim (`msg.value == disputeBond()`) of `outputHash` and `traceRoot` against a
    /// job Sampling holds, challenged or disputed.
    function disputeJob(uint256 jobId, bytes32 outputHash, bytes32 traceRoot) external payable;
    /// A bonded claim against `asserter`'s assertion of `assertedOutput` for job key `jobKey`
    /// (an on-chain job's key is its id as bytes32; a batch record's is in the record), waiting
    /// until the market hands over a job with that key, asserter and output (`drawChallenge`,
    /// `openBatchJob`), which it then challenges. At most 32 wait per job.
    function disputeRecord(bytes32 jobKey, address asserter, bytes32 assertedOutput, bytes32 outputHash, bytes32 traceRoot) external payable;
    /// The claimant takes back a waiting claim and its bond.
    function withdrawDispute(bytes32 jobKey, address asserter, bytes32 assertedOutput) external;
    /// Pays out the bonds credited to the caller.
    function withdrawBonds() external returns (uint256);
    /// Sampling only, at a job's hand-over: the claims waiting for it (`pendingClaimsKey`), in
    /// filing order; those of `drawn` validators are refunded instead. Their bonds stay held
    /// until their games end.
    function takeClaims(bytes32 key, uint256 jobId, address[] calldata drawn) external returns (address[] memory claimants, bytes32[] memory outputHashes, bytes32[] memory traceRoots);

    /// `(jobId, defender, challenger, phase, outcome, sideToMove, deadline)`: the side to move
    /// loses on time after `deadline`.
    function game(uint256 gameId) external view returns (uint256 jobId, address defender, address challenger, uint8 phase, uint8 outcome, address sideToMove, uint64 deadline);
    /// `(level, index, defenderNode, challengerNode, width)` of the node in dispute: the tree
    /// being bisected has `width` base nodes (leaves, or the disputed leaf's cells).
    function disputedNode(uint256 gameId) external view returns (uint8 level, uint64 index, bytes32 defenderNode, bytes32 challengerNode, uint64 width);
    /// In phase Step: `(leaf, row, col, defenderValue, challengerValue, height)`, the element in
    /// dispute, each side's claim (little endian, zero-padded) and the levels of the trees that
    /// a one-step proof's paths climb.
    function disputedElement(uint256 gameId) external view returns (uint64 leaf, uint64 row, uint64 col, bytes32 defenderValue, bytes32 challengerValue, uint8 height);
    /// `(kind, terms, lo, hi, agreed)` of a reduction in dispute: `kind` 0 before or without one,
    /// 1 when the Step phase recomputes the element from the agreed final accumulator, 2 when the
    /// game bisects (phase Terms) or proves (phase Step) the terms `lo..hi`, 4 when the Step phase
    /// proves the disputed leaf's header (no reduction); `agreed` is the accumulator after `lo`
    /// terms both sides posted.
    function disputedTerms(uint256 gameId) external view returns (uint8 kind, uint64 terms, uint64 lo, uint64 hi, bytes32 agreed);
    /// The game of a challenger against a job, 0 when none.
    function gameOf(uint256 jobId, address challenger) external view returns (uint256 gameId);
    /// The claims waiting for the hand-over of `jobKey` as `asserter` asserted it with
    /// `assertedOutput`: claimants, output hashes and trace roots.
    function pendingDisputes(bytes32 jobKey, address asserter, bytes32 assertedOutput) external view returns (address[] memory claimants, bytes32[] memory outputHashes, bytes32[] memory traceRoots);
    /// Bonds credited to `account`, waiting for `withdrawBonds`.
    function bonds(address account) external view returns (uint256);
    /// What a bonded claim costs (wei), fixed at construction.
    function disputeBond() external view returns (uint256);
    /// `(sampling, clock, arityBits, prover)`: each side's time in seconds, each bisection move
    /// posts `2^arityBits` nodes, and the one-step prover the game calls.
    function config() external view returns (address sampling, uint64 clock, uint8 arityBits, address prover);
}
