interface IOneStepProver {
    function prove(uint8 kind, bytes32 header, uint64 leaf, uint64 row, uint64 col, uint64 term, bytes32 agreed, bytes32[2] calldata claims, bytes32[2] calldata trees, uint8 height, bytes32 model_id, bytes calldata proof) external view returns (bytes32);

    error BadProof();
}
