interface ISampling {
    function openChallenge(uint256 job_id, bytes32 seed, bytes32 model_id, address asserter, bytes32 job_key, bytes32 output_hash, bool challenged) external returns (bool);

    function commitValidation(uint256 job_id, bytes32 commitment) external;

    function revealValidation(uint256 job_id, bytes32 output_hash, bytes32 trace_root, bytes32 salt) external;

    function finalizeChallenge(uint256 job_id) external returns (uint8);

    function addClaim(uint256 job_id, address claimant, bytes32 output_hash, bytes32 trace_root) external returns (bool, bytes32, address, bytes32, bytes32);

    function gameEnded(uint256 job_id, address challenger, uint8 outcome) external;

    function challenge(uint256 job_id) external view returns (uint8, address, bytes32, uint64, uint64);

    function jobValidators(uint256 job_id) external view returns (address[] memory, uint8[] memory, bytes32[] memory, bytes32[] memory);

    function params() external view returns (uint32, uint8, uint256, uint256, uint256, uint256, uint32, uint16, uint64, uint64, uint64, uint64, uint64);

    function contracts() external view returns (address, address, address, address);

    function setParams(uint32 challenge_ppm, uint8 validators, uint256 asserter_reward, uint256 validator_reward, uint256 slash_amount, uint256 cheat_cost, uint32 collusion_ppm, uint16 user_discount_bps, uint64 assert_timeout, uint64 commit_timeout, uint64 reveal_timeout, uint64 batch_window, uint64 seed_reveal_grace) external;

    function setDisputeGame(address game) external;

    function owner() external view returns (address);

    function transferOwnership(address new_owner) external;

    function renounceOwnership() external;

    error UnknownJob(uint256);

    error WrongStatus(uint256, uint8);

    error NotValidator(uint256, address);

    error AlreadyCommitted(uint256, address);

    error CommitClosed(uint256, uint64);

    error RevealNotOpen(uint256);

    error RevealClosed(uint256, uint64);

    error CommitmentMismatch(uint256, address);

    error ChallengeStillOpen(uint256, uint64);

    error NotDisputeGame(address);

    error NotJobMarket(address);

    error HonestyConditionViolated(uint256, uint256);

    error InvalidParams();

    error ExternalCallFailed(address);

    error OwnableUnauthorizedAccount(address);

    error OwnableInvalidOwner(address);
}
