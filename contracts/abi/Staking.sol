interface IStaking {
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

    function operatorInfo(address operator) external view returns (uint8, uint256, uint256, uint256, uint32, uint32);

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

    function owner() external view returns (address);

    function transferOwnership(address new_owner) external;

    function renounceOwnership() external;

    error UnknownRole(uint8);

    error AlreadyRegistered(address);

    error NotRegistered(address);

    error ZeroAmount();

    error BelowMinimumStake(uint256, uint256);

    error InsufficientShares(uint256, uint256);

    error NothingUnbonding(address, address);

    error StillUnbonding(uint64, uint64);

    error StakeFrozen(address);

    error NotFrozen(address);

    error NotController(address);

    error UnbackedReward(uint256, uint256);

    error TokenCallFailed(address);

    error ArithmeticOverflow();

    error OwnableUnauthorizedAccount(address);

    error OwnableInvalidOwner(address);
}
