// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.23;

/// Implemented by dApp contracts that submit on-chain jobs with a callback. The job market calls
/// it once, when the job's result is final (accepted unchallenged, matched by validators, or
/// upheld in a dispute), with a bounded gas stipend; a failing callback never blocks the job.
interface IAssayJobConsumer {
    function onJobResult(uint256 jobId, bytes32 outputHash, bytes32 traceRoot) external;
}
