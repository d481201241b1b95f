// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.23;

/// Single-owner access control shared by the Assay contracts (OpenZeppelin `Ownable` names).
interface IOwnable {
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error OwnableUnauthorizedAccount(address account);
    error OwnableInvalidOwner(address owner);

    function owner() external view returns (address);
    function transferOwnership(address newOwner) external;
    function renounceOwnership() external;
}
