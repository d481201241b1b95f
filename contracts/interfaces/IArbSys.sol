// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.23;

/// The part of Arbitrum's ArbSys precompile (address 0x64) the contracts use. Stylus programs
/// have no BLOCKHASH opcode and `block.number` is an L1 estimate, so L2 block numbers and hashes
/// come from here. `arbBlockHash` answers only for the 256 blocks before the current one.
interface IArbSys {
    function arbBlockNumber() external view returns (uint256);
    function arbBlockHash(uint256 arbBlockNum) external view returns (bytes32);
}
