//! Canaries: known-answer jobs sent to uninvolved workers after a matched job. A canary looks
//! like any validation job: a fresh key, and an id of the same form as a real job's
//! ([`JobRow::new`]), so a lazy validator cannot tell it apart by its name.

use super::*;

impl Scheduler {
    pub(super) fn maybe_canary(&mut self, model: B256, involved: &[Address]) {
        if self.params.canary_ppm == 0 {
            return;
        }
        let seed = self.next_seed(b"canary", model);
        if !draw::is_challenged(seed, self.params.canary_ppm) {
            return;
        }
        let cands = self.candidates(model, involved, false);
        let Some(answers) = self.known.get(&model).filter(|a| !a.is_empty()) else { return };
        if cands.is_empty() {
            return;
        }
        let pick = |s: B256, n: usize| (U256::from_be_bytes(s.0) % U256::from(n)).to::<usize>();
        let (spec, expected) = answers[pick(keccak256(seed), answers.len())].clone();
        let conn = cands[pick(seed, cands.len())].0;
        let job_key = B256::random();
        let id = format!("job_{}", alloy_primitives::hex::encode(&job_key[..12]));
        let address = self.workers[&conn].address;
        debug!(job_id = %id, %address, "canary sent");
        Metrics::inc(&self.metrics().canaries_sent);
        self.send(
            conn,
            CoordinatorMsg::Execute(Assignment {
                job_id: id.clone(),
                job_key,
                model_id: model,
                spec: spec.clone(),
                role: Role::Validator,
            }),
        );
        self.canaries.insert(
            id,
            Canary {
                conn,
                address,
                job_key,
                model_id: model,
                spec,
                expected,
                commitment: None,
                deadline: Instant::now() + self.params.validation_timeout * 2,
            },
        );
    }

    pub(super) fn on_canary_reveal(&mut self, id: &str, salt: B256, receipt: SignedReceipt) {
        let Some(c) = self.canaries.remove(id) else { return };
        let Some(commitment) = c.commitment else { return };
        let (hash, trace) = (receipt.receipt.output_hash, receipt.receipt.trace_root);
        let valid = check_receipt(
            &receipt,
            self.params.chain_id,
            c.address,
            c.job_key,
            c.model_id,
            &c.spec,
        )
        .is_ok()
            && validation_commitment(c.job_key, c.address, hash, trace, salt) == commitment;
        if !valid || hash != c.expected {
            Metrics::inc(&self.metrics().canaries_failed);
            self.flag(c.address, id, format!("canary answered wrongly (valid reveal: {valid})"));
        }
    }
}
