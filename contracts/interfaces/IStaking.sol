// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.23;

/// Stake pools for miners (role 1) and coordinators (role 2). Each operator's pool holds its own
/// stake and its delegators' stake as shares: rewards and slashes move every share's value pro
/// rata. Unstaking waits an unbonding delay, during which the shares stay slashable, and never
/// completes while the operator is frozen by an open dispute.
interface IStaking {
    event OperatorRegistered(address indexed operator, uint8 role);
    event Staked(address indexed staker, address indexed operator, uint256 assets, uint256 shares);
    event UnstakeRequested(address indexed staker, address indexed operator, uint256 shares, uint64 releaseAt);
    event Withdrawn(address indexed staker, address indexed operator, uint256 shares, uint256 assets);
    event Slashed(address indexed operator, uint256 amount, address indexed recipient);
    event RewardAdded(address indexed operator, uint256 amount);
    event FreezeChanged(address indexed operator, uint32 openDisputes);
    event ReputationChanged(address indexed operator, uint32 reputation);
    event ControllerSet(address indexed controller, bool allowed);
    event MinStakeSet(uint8 role, uint256 amount);
    event UnbondingDelaySet(uint64 delay);

    error UnknownRole(uint8 role);
    error AlreadyRegistered(address operator);
    error NotRegistered(address operator);
    error ZeroAmount();
    error BelowMinimumStake(uint256 stake, uint256 minimum);
    error InsufficientShares(uint256 have, uint256 want);
    error NothingUnbonding(address staker, address operator);
    error StillUnbonding(uint64 releaseAt, uint64 timestamp);
    error StakeFrozen(address operator);
    error NotFrozen(address operator);
    error NotController(address account);
    error UnbackedReward(uint256 balance, uint256 needed);
    error TokenCallFailed(address token);
    error ArithmeticOverflow();

    function token() external view returns (address);
    function registerOperator(uint8 role, uint256 amount) external returns (uint256);
    function stake(address operator, uint256 amount) external returns (uint256);
    function requestUnstake(address operator, uint256 shares) external returns (uint64);
    function withdraw(address operator) external returns (uint256);

    function slash(address operator, uint256 amount, address recipient) external returns (uint256);
    function addReward(address operator, uint256 amount) external;
    function freeze(address operator) external;
    function unfreeze(address operator) external;
    function adjustReputation(address operator, int32 delta) external returns (uint32);

    function operatorInfo(address operator) external view returns (uint8 role, uint256 assets, uint256 totalShares, uint256 unbondingShares, uint32 reputation, uint32 openDisputes);
    function sharesOf(address operator, address staker) external view returns (uint256);
    function stakeOf(address operator, address staker) external view returns (uint256);
    function unbondingOf(address operator, address staker) external view returns (uint256, uint64);
    function totalAccounted() external view returns (uint256);
    function isEligible(address operator, uint8 role) external view returns (bool);
    function weights(address[] memory operators) external view returns (uint256[] memory);
    function minStake(uint8 role) external view returns (uint256);
    function unbondingDelay() external view returns (uint64);
    function isController(address account) external view returns (bool);

    function setMinStake(uint8 role, uint256 amount) external;
    function setUnbondingDelay(uint64 delay) external;
    function setController(address controller, bool allowed) external;
}
