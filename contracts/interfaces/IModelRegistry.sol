// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.23;

/// Models and the miners that serve them. A model id is the Merkle root of the engine-format
/// weights; its entry carries the hash of the engine WASM that defines its results and the price
/// per unit of work. Only eligible (staked, unfrozen) miners may start serving a model. At most 64
/// serve one model: when all slots are taken, a miner with a higher selection weight
/// (`IStaking.weights`) takes the slot of the lowest, and anyone may evict a server that is no
/// longer eligible for a reason other than a dispute, so no one can hold slots without stake.
interface IModelRegistry {
    event ModelRegistered(bytes32 indexed modelId, address indexed owner, bytes32 engineHash, uint256 pricePerUnit);
    event ModelUpdated(bytes32 indexed modelId, uint256 pricePerUnit, bool active);
    event ServingStarted(bytes32 indexed modelId, address indexed miner);
    event ServingStopped(bytes32 indexed modelId, address indexed miner);

    error InvalidModelId();
    error ModelExists(bytes32 modelId);
    error UnknownModel(bytes32 modelId);
    error NotModelOwner(bytes32 modelId, address account);
    error ModelInactive(bytes32 modelId);
    error NotEligibleMiner(address miner);
    error AlreadyServing(bytes32 modelId, address miner);
    error NotServing(bytes32 modelId, address miner);
    error OutWeighed(bytes32 modelId, uint256 weight, uint256 lowestWeight);
    error NotEvictable(bytes32 modelId, address miner);
    error StakingCallFailed(address staking);

    function staking() external view returns (address);
    function registerModel(bytes32 modelId, bytes32 engineHash, uint256 pricePerUnit) external;
    function updateModel(bytes32 modelId, uint256 pricePerUnit, bool active) external;
    /// Starts serving; with every slot taken, displaces the server of lowest weight (emitting its
    /// `ServingStopped`) when the caller's weight is higher, else reverts `OutWeighed`.
    function serve(bytes32 modelId) external;
    function unserve(bytes32 modelId) external;
    /// Removes `miner` from the model's servers when it is not eligible (own stake below the
    /// minimum, or no longer a miner) and has no open dispute; callable by anyone.
    function evict(bytes32 modelId, address miner) external;
    function model(bytes32 modelId) external view returns (address owner, bytes32 engineHash, uint256 pricePerUnit, bool active, uint256 serverCount);
    function servers(bytes32 modelId) external view returns (address[] memory);
    function isServing(bytes32 modelId, address miner) external view returns (bool);
}
