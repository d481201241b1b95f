//! The calls out of the dispute game: the one-step proof to the prover, verdicts and the jobs'
//! challenge state to and from Sampling.

use alloc::vec::Vec;

use alloy_primitives::{Address, Bytes, B256, U256};
use assay_contract_kit::calls::{call_mut, call_view};

use crate::{DisputeGame, IDisputeGame, IOneStepProver, ISampling, Result};

impl DisputeGame {
    /// `Sampling.gameEnded(jobId, challenger, outcome)`.
    pub(crate) fn _report(&mut self, game_id: U256, outcome: u8) -> Result<()> {
        let (sampling, job_id, challenger) = {
            let g = self.games.get(game_id);
            (self.sampling.get(), g.job_id.get(), g.challenger.get())
        };
        let call = ISampling::gameEndedCall { jobId: job_id, challenger, outcome };
        call_mut(self, sampling, &call)
            .map(|_| ())
            .ok_or_else(|| IDisputeGame::ExternalCallFailed { target: sampling }.into())
    }
}

impl DisputeGame {
    /// `IOneStepProver.prove` of the game's disputed step with `proof`, `kind` as the prover
    /// reads it (the Step phase's `step_kind`, or 3 to ask whether the token was sampled).
    pub(crate) fn _prove(&self, game_id: U256, kind: u8, proof: &[u8]) -> Result<B256> {
        let g = self.games.get(game_id);
        let call = IOneStepProver::proveCall {
            kind,
            header: g.header.get(),
            leaf: g.leaf.get().to(),
            row: g.row.get().to(),
            col: g.col.get().to(),
            term: g.lo.get().to(),
            agreed: g.agreed.get(),
            claims: [g.defender_value.get(), g.challenger_value.get()],
            trees: [g.defender_tree.get(), g.challenger_tree.get()],
            height: g.height.get().to(),
            modelId: g.model_id.get(),
            proof: Bytes::copy_from_slice(proof),
        };
        drop(g);
        call_view(self, self.prover.get(), &call)
            .ok_or_else(|| IDisputeGame::BadProof { gameId: game_id }.into())
    }

    /// `Sampling.challenge(jobId)`: `(status, asserter, asserted output hash)`.
    pub(crate) fn _challenge(&self, job_id: U256) -> Result<(u8, Address, B256)> {
        let sampling = self.sampling.get();
        call_view(self, sampling, &ISampling::challengeCall { jobId: job_id })
            .map(|c| (c.status, c.asserter, c.outputHash))
            .ok_or_else(|| IDisputeGame::ExternalCallFailed { target: sampling }.into())
    }

    /// `Sampling.jobValidators(jobId)`: every account with a slot (drawn or bonded).
    pub(crate) fn _job_validators(&self, job_id: U256) -> Result<Vec<Address>> {
        let sampling = self.sampling.get();
        call_view(self, sampling, &ISampling::jobValidatorsCall { jobId: job_id })
            .map(|v| v.validators)
            .ok_or_else(|| IDisputeGame::ExternalCallFailed { target: sampling }.into())
    }
}
