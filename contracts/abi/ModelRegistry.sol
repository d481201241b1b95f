interface IModelRegistry {
    function staking() external view returns (address);

    function registerModel(bytes32 model_id, bytes32 engine_hash, uint256 price_per_unit) external;

    function updateModel(bytes32 model_id, uint256 price_per_unit, bool active) external;

    function serve(bytes32 model_id) external;

    function unserve(bytes32 model_id) external;

    function evict(bytes32 model_id, address miner) external;

    function model(bytes32 model_id) external view returns (address, bytes32, uint256, bool, uint256);

    function servers(bytes32 model_id) external view returns (address[] memory);

    function isServing(bytes32 model_id, address miner) external view returns (bool);

    error InvalidModelId();

    error ModelExists(bytes32);

    error UnknownModel(bytes32);

    error NotModelOwner(bytes32, address);

    error ModelInactive(bytes32);

    error NotEligibleMiner(address);

    error AlreadyServing(bytes32, address);

    error NotServing(bytes32, address);

    error OutWeighed(bytes32, uint256, uint256);

    error NotEvictable(bytes32, address);

    error StakingCallFailed(address);
}
