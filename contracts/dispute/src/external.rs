//! The one call out of the dispute game: a verdict to Sampling.

use alloy_primitives::U256;
use assay_contract_kit::calls::call_mut;

use crate::{DisputeGame, IDisputeGame, ISampling, Result};

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
