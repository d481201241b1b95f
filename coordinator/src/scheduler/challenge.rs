//! Challenges: the coin, the validator draw, commit-reveal, deadlines and the verdict.

use super::*;

impl Scheduler {
    pub(super) fn challenge_seed(&self, job: &Job) -> B256 {
        let sig = job.row.receipt.as_ref().map(|r| r.signature.as_bytes()).unwrap_or([0; 65]);
        draw::challenge_seed(self.params.seed, keccak256(sig), job.row.job_key)
    }

    pub(super) fn is_challenged(&self, id: &str) -> bool {
        draw::is_challenged(self.challenge_seed(&self.jobs[id]), self.params.p_ppm)
    }

    /// Draws validators and sends them the job; false when no other worker serves the model.
    pub(super) fn start_challenge(&mut self, id: &str) -> bool {
        let job = &self.jobs[id];
        let Some(asserter) = job.row.asserter else { return false };
        let cands = self.candidates(job.row.model_id, &[asserter], false);
        let weights: Vec<U256> = cands.iter().map(|(_, w)| *w).collect();
        let picks = draw::pick_distinct(self.challenge_seed(job), &weights, self.params.validators);
        if picks.is_empty() {
            debug!(job_id = id, "no validator available: not challenged");
            return false;
        }
        let assignment = Assignment {
            job_id: id.into(),
            job_key: job.row.job_key,
            model_id: job.row.model_id,
            spec: job.row.spec.clone(),
            role: Role::Validator,
        };
        let mut validators = Vec::with_capacity(picks.len());
        for i in picks {
            let conn = cands[i].0;
            let address = self.workers[&conn].address;
            self.send(conn, CoordinatorMsg::Execute(assignment.clone()));
            self.writer.send(Write::Validation {
                job_id: id.into(),
                row: validation_row(address, ValidationState::Drawn),
            });
            validators.push(Val { conn, address, vote: Vote::Drawn });
        }
        info!(job_id = id, validators = validators.len(), "challenged");
        Metrics::inc(&self.metrics().challenges);
        self.writer.send(Write::Status {
            id: id.into(),
            status: Status::Challenged,
            asserter: None,
            attempts: job.row.attempts,
        });
        let job = self.jobs.get_mut(id).expect("job exists");
        job.row.status = Status::Challenged;
        job.phase = Phase::Challenged { validators, revealing: false };
        job.deadline = Some(Instant::now() + self.params.validation_timeout);
        true
    }

    pub(super) fn validator_mut(&mut self, id: &str, conn: u64) -> Option<(&mut Val, bool)> {
        match &mut self.jobs.get_mut(id)?.phase {
            Phase::Challenged { validators, revealing } => {
                let r = *revealing;
                validators.iter_mut().find(|v| v.conn == conn).map(|v| (v, r))
            }
            _ => None,
        }
    }

    pub(super) fn on_commit(&mut self, conn: u64, id: &str, commitment: B256) {
        if let Some(c) = self.canaries.get_mut(id) {
            if c.conn == conn && c.commitment.is_none() {
                c.commitment = Some(commitment);
                self.send(conn, CoordinatorMsg::Reveal { job_id: id.into() });
            }
            return;
        }
        let Some((val, false)) = self.validator_mut(id, conn) else { return };
        if val.vote != Vote::Drawn {
            return;
        }
        val.vote = Vote::Committed(commitment);
        let row = ValidationRow {
            commitment: Some(commitment),
            ..validation_row(val.address, ValidationState::Committed)
        };
        self.writer.send(Write::Validation { job_id: id.into(), row });
        self.advance(id);
    }

    pub(super) fn on_reveal(&mut self, conn: u64, id: &str, salt: B256, receipt: SignedReceipt) {
        if self.canaries.get(id).is_some_and(|c| c.conn == conn) {
            self.on_canary_reveal(id, salt, receipt);
            return;
        }
        let chain_id = self.params.chain_id;
        let Some(job) = self.jobs.get(id) else { return };
        let (key, model, spec) = (job.row.job_key, job.row.model_id, job.row.spec.clone());
        let Some((val, true)) = self.validator_mut(id, conn) else { return };
        let Vote::Committed(commitment) = val.vote else { return };
        let address = val.address;
        let (hash, trace) = (receipt.receipt.output_hash, receipt.receipt.trace_root);
        let check = check_receipt(&receipt, chain_id, address, key, model, &spec)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                if validation_commitment(key, address, hash, trace, salt) == commitment {
                    Ok(())
                } else {
                    Err("reveal does not open its commitment".to_string())
                }
            });
        let row = match check {
            Ok(()) => {
                val.vote = Vote::Revealed(hash);
                ValidationRow {
                    output_hash: Some(hash),
                    salt: Some(salt),
                    receipt: Some(receipt),
                    ..validation_row(address, ValidationState::Revealed)
                }
            }
            Err(e) => {
                val.vote = Vote::Out;
                Metrics::inc(&self.shared.metrics.invalid_receipts);
                self.flag(address, id, format!("invalid validator reveal: {e}"));
                validation_row(address, ValidationState::Invalid)
            }
        };
        self.writer.send(Write::Validation { job_id: id.into(), row });
        self.advance(id);
    }

    /// Moves a challenge on: all committed (or out) → reveal; all revealed (or out) → conclude.
    pub(super) fn advance(&mut self, id: &str) {
        let Some(job) = self.jobs.get_mut(id) else { return };
        let Phase::Challenged { validators, revealing } = &mut job.phase else { return };
        if !*revealing && validators.iter().all(|v| v.vote != Vote::Drawn) {
            *revealing = true;
            job.deadline = Some(Instant::now() + self.params.validation_timeout);
            let conns: Vec<u64> = validators
                .iter()
                .filter(|v| matches!(v.vote, Vote::Committed(_)))
                .map(|v| v.conn)
                .collect();
            for conn in conns {
                self.send(conn, CoordinatorMsg::Reveal { job_id: id.into() });
            }
        }
        let Some(job) = self.jobs.get(id) else { return };
        if let Phase::Challenged { validators, revealing: true } = &job.phase
            && validators.iter().all(|v| !matches!(v.vote, Vote::Committed(_)))
        {
            self.conclude(id);
        }
    }

    /// A validator of `id` failed or left before revealing: it is out of the challenge.
    pub(super) fn drop_validator(&mut self, id: &str, conn: u64, state: ValidationState) {
        let Some((val, _)) = self.validator_mut(id, conn) else { return };
        if matches!(val.vote, Vote::Drawn | Vote::Committed(_)) {
            val.vote = Vote::Out;
            let row = validation_row(val.address, state);
            self.writer.send(Write::Validation { job_id: id.into(), row });
            self.advance(id);
        }
    }

    /// Compares the revealed hashes with the asserter's and records the outcome.
    pub(super) fn conclude(&mut self, id: &str) {
        let Some(job) = self.jobs.remove(id) else { return };
        let Phase::Challenged { validators, .. } = job.phase else { return };
        let asserter = job.row.asserter.expect("challenged jobs are asserted");
        let asserted =
            job.row.receipt.as_ref().expect("challenged jobs have receipts").receipt.output_hash;
        let revealed: Vec<(Address, B256)> = validators
            .iter()
            .filter_map(|v| match v.vote {
                Vote::Revealed(h) => Some((v.address, h)),
                _ => None,
            })
            .collect();
        let _span = info_span!("job", job_id = %id).entered();
        if revealed.is_empty() {
            info!("no validator revealed: the challenge is void");
            self.writer.send(Write::Outcome {
                id: id.into(),
                status: Status::Asserted,
                suspects: vec![],
            });
            return;
        }
        let matched = revealed.iter().all(|(_, h)| *h == asserted);
        let parties: Vec<(Address, B256)> =
            std::iter::once((asserter, asserted)).chain(revealed.iter().copied()).collect();
        let suspects = minority(&parties);
        for (address, hash) in &revealed {
            let state = if *hash == asserted {
                ValidationState::Agreed
            } else {
                ValidationState::Dissented
            };
            self.writer.send(Write::Validation {
                job_id: id.into(),
                row: validation_row(*address, state),
            });
        }
        for s in &suspects {
            self.flag(*s, id, "output hash differs from the majority of the challenge".into());
        }
        let status = if matched { Status::Matched } else { Status::Disputed };
        info!(status = status.as_str(), suspects = suspects.len(), "challenge concluded");
        Metrics::inc(if matched { &self.metrics().matched } else { &self.metrics().disputed });
        self.writer.send(Write::Outcome { id: id.into(), status, suspects });
        if matched {
            let answers = self.known.entry(job.row.model_id).or_default();
            if answers.len() == KNOWN_ANSWERS {
                answers.pop_front();
            }
            answers.push_back((job.row.spec.clone(), asserted));
            let involved: Vec<Address> = parties.iter().map(|(a, _)| *a).collect();
            self.maybe_canary(job.row.model_id, &involved);
        }
    }

    /// A challenge deadline passed: whoever has not committed (or revealed) is out.
    pub(super) fn expire_votes(&mut self, id: &str) {
        let Some(job) = self.jobs.get_mut(id) else { return };
        let Phase::Challenged { validators, revealing } = &mut job.phase else { return };
        let late = ValidationState::TimedOut;
        let mut rows = Vec::new();
        for v in validators.iter_mut() {
            let pending = if *revealing {
                matches!(v.vote, Vote::Committed(_))
            } else {
                v.vote == Vote::Drawn
            };
            if pending {
                v.vote = Vote::Out;
                rows.push(validation_row(v.address, late));
            }
        }
        for row in rows {
            self.writer.send(Write::Validation { job_id: id.into(), row });
        }
        self.advance(id);
    }
}

impl Scheduler {
    /// Sends an opened batch record's job to the validators `Sampling` drew on chain, where
    /// they are connected; each commits and reveals on chain with its own key.
    pub(super) fn chain_validation(
        &mut self,
        job: &JobRow,
        chain_job_id: U256,
        validators: Vec<Address>,
    ) {
        let _span = info_span!("job", job_id = %job.id, %chain_job_id).entered();
        let assignment = Assignment {
            job_id: format!("{}#chain", job.id),
            job_key: job.job_key,
            model_id: job.model_id,
            spec: job.spec.clone(),
            role: Role::ChainValidator { chain_job_id },
        };
        for validator in &validators {
            let conn = self.workers.iter().find(|(_, w)| w.address == *validator).map(|(c, _)| *c);
            match conn {
                Some(conn) => {
                    info!(%validator, "on-chain validation requested");
                    self.send(conn, CoordinatorMsg::Execute(assignment.clone()));
                }
                None => warn!(%validator, "drawn on chain but not connected: asked when it joins"),
            }
        }
        self.chain_open.insert(chain_job_id, ChainOpen { assignment, validators });
    }

    /// Sends a worker that joined the open on-chain challenges it was drawn for (a worker that
    /// already validated one, or is validating it, does not do it twice).
    pub(super) fn ask_chain_validator(&self, conn: u64, address: Address) {
        for open in self.chain_open.values().filter(|open| open.validators.contains(&address)) {
            let _span = info_span!("job", job_id = %open.assignment.job_id).entered();
            info!(validator = %address, "on-chain validation requested of a joining worker");
            self.send(conn, CoordinatorMsg::Execute(open.assignment.clone()));
        }
    }
}
