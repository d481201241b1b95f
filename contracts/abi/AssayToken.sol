interface IAssayToken {
    function name() external view returns (string memory);

    function symbol() external view returns (string memory);

    function decimals() external view returns (uint8);

    function totalSupply() external view returns (uint256);

    function totalMinted() external view returns (uint256);

    function balanceOf(address account) external view returns (uint256);

    function allowance(address owner, address spender) external view returns (uint256);

    function transfer(address to, uint256 value) external returns (bool);

    function approve(address spender, uint256 value) external returns (bool);

    function transferFrom(address from, address to, uint256 value) external returns (bool);

    function burn(uint256 value) external;

    function mint(address to, uint256 value) external;

    function minter() external view returns (address);

    function setMinter(address minter) external;

    function owner() external view returns (address);

    function transferOwnership(address new_owner) external;

    function renounceOwnership() external;

    error ERC20InsufficientBalance(address, uint256, uint256);

    error ERC20InvalidSender(address);

    error ERC20InvalidReceiver(address);

    error ERC20InsufficientAllowance(address, uint256, uint256);

    error ERC20InvalidApprover(address);

    error ERC20InvalidSpender(address);

    error UnauthorizedMinter(address);

    error SupplyOverflow();

    error OwnableUnauthorizedAccount(address);

    error OwnableInvalidOwner(address);
}
