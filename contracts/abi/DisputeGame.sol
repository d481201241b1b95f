interface IDisputeGame {
    function openGame(uint256 job_id, bytes32 model_id, address defender, bytes32 defender_output, bytes32 defender_trace_root, address challenger, bytes32 challenger_output, bytes32 challenger_trace_root) external returns (uint256);

    function openRoot(uint256 game_id, uint32 n_leaves, bytes32 tree_root) external;

    function bisect(uint256 game_id, bytes32[] memory children, bytes32[] memory defender_children) external;

    function openLeaf(uint256 game_id, bytes calldata preimage, bytes calldata defender_preimage) external;

    function openCell(uint256 game_id, bytes calldata data, bytes calldata defender_data) external;

    function openTerms(uint256 game_id, uint64 terms, bytes32 last) external;

    function bisectTerms(uint256 game_id, bytes32[] memory accs, bytes32[] memory defender_accs) external;

    function proveStep(uint256 game_id, bytes calldata proof) external;

    function timeout(uint256 game_id) external;

    function disputeJob(uint256 job_id, bytes32 output_hash, bytes32 trace_root) external payable;

    function disputeRecord(bytes32 job_key, address asserter, bytes32 asserted_output, bytes32 output_hash, bytes32 trace_root) external payable;

    function withdrawDispute(bytes32 job_key, address asserter, bytes32 asserted_output) external;

    function withdrawBonds() external returns (uint256);

    function takeClaims(bytes32 key, uint256 job_id, address[] memory drawn) external returns (address[] memory, bytes32[] memory, bytes32[] memory);

    function pendingDisputes(bytes32 job_key, address asserter, bytes32 asserted_output) external view returns (address[] memory, bytes32[] memory, bytes32[] memory);

    function bonds(address account) external view returns (uint256);

    function disputeBond() external view returns (uint256);

    function game(uint256 game_id) external view returns (uint256, address, address, uint8, uint8, address, uint64);

    function disputedNode(uint256 game_id) external view returns (uint8, uint64, bytes32, bytes32, uint64);

    function disputedElement(uint256 game_id) external view returns (uint64, uint64, uint64, bytes32, bytes32, uint8);

    function disputedTerms(uint256 game_id) external view returns (uint8, uint64, uint64, uint64, bytes32);

    function gameOf(uint256 job_id, address challenger) external view returns (uint256);

    function config() external view returns (address, uint64, uint8, address);

    error UnknownGame(uint256);

    error NotSampling(address);

    error NotYourTurn(uint256, address);

    error WrongPhase(uint256, uint8);

    error ClockExpired(uint256, address, uint64);

    error ClockRunning(uint256, uint64);

    error BadOpening(uint256, address);

    error BadProof(uint256);

    error InvalidParams();

    error ExternalCallFailed(address);

    error WrongBond(uint256, uint256);

    error NotDisputable(uint256, uint8);

    error AlreadyClaimed(address);

    error SameAsAsserted();

    error TooManyClaims();

    error NothingToWithdraw(address);

    error EthTransferFailed(address, uint256);
}
