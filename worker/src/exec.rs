//! Job execution: the loaded engine models, one job run into an output and a signed receipt, the
//! validator's commitment, and the start-up capability benchmark.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use alloy_primitives::{Address, B256};
use assay_engine::{
    chat::Message,
    hash::Hash,
    job::{JobInput, JobOutput, Model},
    trace::{Keep, Op, Trace},
};
use assay_protocol::{
    job::{JobSpec, Output},
    math::records::validation_commitment,
    model_dir::ModelDir,
    wire::{Receipt, SignedReceipt},
};

use assay_chain::Key;

use crate::{delta::TextDeltas, kernels::Parallel};

/// A model loaded once at start.
#[derive(Debug)]
pub struct LoadedModel {
    /// Its id (the row-by-row commitment of its blob, `ModelFile::id`).
    pub id: B256,
    /// Where it was read from.
    pub dir: PathBuf,
    /// The engine model.
    pub model: Model,
}

/// The models a worker serves, by id.
#[derive(Debug, Clone, Default)]
pub struct Models(BTreeMap<B256, Arc<LoadedModel>>);

impl Models {
    /// Reads and loads each model directory (checking every chunk against its manifest).
    ///
    /// # Errors
    /// A [`crate::error::Error`] naming the directory that failed.
    pub fn load(dirs: &[PathBuf]) -> Result<Self, crate::error::Error> {
        let mut models = BTreeMap::new();
        for dir in dirs {
            let loaded = load_one(dir)?;
            models.insert(loaded.id, Arc::new(loaded));
        }
        Ok(Self(models))
    }

    /// The model with id `id`.
    pub fn get(&self, id: &B256) -> Option<Arc<LoadedModel>> {
        self.0.get(id).cloned()
    }

    /// The ids, in order.
    pub fn ids(&self) -> Vec<B256> {
        self.0.keys().copied().collect()
    }

    /// Whether no model is loaded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over the loaded models.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<LoadedModel>> {
        self.0.values()
    }
}

fn load_one(dir: &Path) -> Result<LoadedModel, crate::error::Error> {
    let d = ModelDir::open(dir)?;
    let model = Model::load(&d.blob)?;
    Ok(LoadedModel { id: d.model_id, dir: dir.to_path_buf(), model })
}

/// What one engine run produced.
#[derive(Debug, Clone)]
pub struct Executed {
    /// The output as sent to the coordinator.
    pub output: Output,
    /// The engine's output hash (the wrong output's when the worker is dishonest).
    pub output_hash: B256,
    /// The engine's trace root.
    pub trace_root: B256,
}

/// Runs `spec` on `model` with the parallel integer kernels. A `dishonest` worker returns
/// [`wrong_output`] and claims [`cheat`]'s output hash and trace root instead of the engine's (a
/// test double for a cheating miner: a plausible wrong answer under a valid receipt). The output carries the prompt's token count: the chat-formatted prompt of a
/// generation, the input tokens of an embedding.
///
/// # Errors
/// The engine's error, as text, when the task does not fit the model or the input is invalid.
pub fn execute(model: &Model, spec: &JobSpec, dishonest: bool) -> Result<Executed, String> {
    let (out, _) = model.run(&Parallel, &spec.to_input()).map_err(|e| e.to_string())?;
    executed(model, spec, out, dishonest)
}

/// [`execute`], calling `on_text` with the text of a generation as it is produced: non-empty
/// deltas of complete characters, whose concatenation is a prefix of the output's text (the
/// rest, at most one unfinished character read as U+FFFD, is only in the output).
///
/// # Errors
/// As [`execute`].
pub fn execute_streaming(
    model: &Model,
    spec: &JobSpec,
    dishonest: bool,
    on_text: &mut dyn FnMut(String),
) -> Result<Executed, String> {
    let mut deltas = TextDeltas::default();
    let mut on_token = |token| {
        let delta = deltas.push(&model.decode_bytes(&[token]));
        if !delta.is_empty() {
            on_text(delta);
        }
    };
    let (out, _) =
        model.run_with(&Parallel, &spec.to_input(), &mut on_token).map_err(|e| e.to_string())?;
    executed(model, spec, out, dishonest)
}

fn executed(
    model: &Model,
    spec: &JobSpec,
    out: JobOutput,
    dishonest: bool,
) -> Result<Executed, String> {
    if !dishonest {
        return Ok(Executed {
            output: Output { text: model.decode(&out.tokens), ..Output::from_engine(&out) },
            output_hash: B256::from(out.output_hash),
            trace_root: B256::from(out.trace_root),
        });
    }
    let (hash, trace) = cheat(model, &spec.to_input(), Keep::Nothing)?;
    let (tokens, embedding) = wrong_output(&out.tokens, &out.embedding);
    let output = Output {
        text: model.decode(&tokens),
        tokens,
        embedding,
        prompt_tokens: Some(out.prompt_tokens),
    };
    debug_assert_eq!(output.hash(), B256::from(hash), "the cheat's output is its claim");
    Ok(Executed {
        output,
        output_hash: B256::from(hash),
        trace_root: B256::from(trace.root(&hash)),
    })
}

/// The dishonest double's answer: the engine's output with one value changed, the first
/// embedding element of an embedding, the lowest bit of the last generated token id of a
/// generation (a token 0 when it generated none). Its hash is a valid receipt's, so only a
/// re-execution tells it wrong.
pub fn wrong_output(tokens: &[u32], embedding: &[i16]) -> (Vec<u32>, Vec<i16>) {
    let (mut tokens, mut embedding) = (tokens.to_vec(), embedding.to_vec());
    if let Some(first) = embedding.first_mut() {
        *first = first.wrapping_add(1);
    } else if let Some(last) = tokens.last_mut() {
        *last ^= 1;
    } else {
        tokens.push(0);
    }
    (tokens, embedding)
}

/// The dishonest test double's claim: the hash of [`wrong_output`], and the trace with element
/// 0 of the first step's last `Context` output corrupted (its outputs `keep` names kept). The
/// claim is self-consistent, so the cheat can play it out in a dispute game, down to that
/// element (a reduction over the KV cache, so through the game's phases over accumulators),
/// where a one-step proof shows it wrong.
///
/// # Errors
/// The engine's error, as text; a model without an attention context op.
pub fn cheat(model: &Model, input: &JobInput, keep: Keep) -> Result<(Hash, Trace), String> {
    let (_, probe) = model.run(&Parallel, input).map_err(|e| e.to_string())?;
    let target = probe
        .info()
        .iter()
        .rposition(|i| i.step == 0 && i.op == Op::Context as u32)
        .ok_or("the model has no attention context op to corrupt")?;
    let keep = match keep {
        Keep::All => Keep::All,
        Keep::Nothing => Keep::Leaves([target].into()),
        Keep::Leaves(mut leaves) => {
            leaves.insert(target);
            Keep::Leaves(leaves)
        }
    };
    let (out, mut trace) = model.run_keeping(&Parallel, input, keep).map_err(|e| e.to_string())?;
    trace.corrupt(target, 0);
    let (tokens, embedding) = wrong_output(&out.tokens, &out.embedding);
    Ok((assay_engine::job::output_hash(&tokens, &embedding), trace))
}

/// A job replayed for a dispute game (`assay_player::Replay`): the model it ran, its input, and
/// whether this worker is the dishonest test double (it then plays [`cheat`]'s trace).
#[derive(Debug)]
pub struct JobReplay {
    /// The model.
    pub model: Arc<LoadedModel>,
    /// The job's input.
    pub spec: JobSpec,
    /// Play the cheat's claim.
    pub dishonest: bool,
}

impl assay_player::Replay for JobReplay {
    fn run(&self, keep: Keep) -> Result<(Hash, Trace), String> {
        let input = self.spec.to_input();
        if self.dishonest {
            return cheat(&self.model.model, &input, keep);
        }
        let (out, trace) =
            self.model.model.run_keeping(&Parallel, &input, keep).map_err(|e| e.to_string())?;
        Ok((out.output_hash, trace))
    }

    fn model_blob(&self) -> Result<Vec<u8>, String> {
        ModelDir::open(&self.model.dir).map(|d| d.blob).map_err(|e| e.to_string())
    }
}

/// The receipt of an executed job, signed for `chain_id`.
pub fn sign_receipt(
    key: &Key,
    chain_id: u64,
    job_key: B256,
    model_id: B256,
    spec: &JobSpec,
    done: &Executed,
) -> SignedReceipt {
    let receipt = Receipt {
        job_key,
        model_id,
        input_root: spec.input_root(),
        output_hash: done.output_hash,
        trace_root: done.trace_root,
        worker: key.address(),
    };
    SignedReceipt { signature: key.sign_digest(receipt.digest(chain_id)), receipt }
}

/// A validator's commitment to its output hash and trace root with a fresh random salt:
/// `(commitment, salt)`.
pub fn commit(job_key: B256, worker: Address, output_hash: B256, trace_root: B256) -> (B256, B256) {
    let salt = B256::random();
    (validation_commitment(job_key, worker, output_hash, trace_root, salt), salt)
}

/// Capability benchmark: a short embedding (encoders) or an 8-token greedy generation (decoders)
/// on each model; returns engine tokens per second over all of them (0 with no model).
pub fn benchmark(models: &Models) -> f64 {
    const PROMPT: &str = "The quick brown fox jumps over the lazy dog near the river bank.";
    let (mut tokens, mut secs) = (0usize, 0f64);
    for m in models.iter() {
        let input = if m.model.is_encoder() {
            JobInput::Embed { text: PROMPT.into() }
        } else {
            JobInput::Generate { messages: vec![Message::user(PROMPT)], max_tokens: 8, seed: 0 }
        };
        let start = Instant::now();
        if let Ok((out, _)) = m.model.run(&Parallel, &input) {
            secs += start.elapsed().as_secs_f64();
            tokens += out.tokens.len();
        }
    }
    if secs > 0.0 { tokens as f64 / secs } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executed() -> Executed {
        Executed {
            output: Output {
                tokens: vec![1, 2],
                embedding: Vec::new(),
                text: "hi".into(),
                prompt_tokens: Some(3),
            },
            output_hash: B256::repeat_byte(4),
            trace_root: B256::repeat_byte(5),
        }
    }

    #[test]
    fn receipts_verify_for_their_chain_and_fields() {
        let key = Key::random();
        let spec = JobSpec::Embed { prompt: "a sentence".into() };
        let (job_key, model_id) = (B256::repeat_byte(1), B256::repeat_byte(2));
        let signed = sign_receipt(&key, 412346, job_key, model_id, &spec, &executed());
        assert!(signed.verify(412346));
        assert!(!signed.verify(1));
        let r = signed.receipt;
        assert_eq!((r.job_key, r.model_id, r.worker), (job_key, model_id, key.address()));
        assert_eq!((r.input_root, r.output_hash), (spec.input_root(), B256::repeat_byte(4)));
        let mut forged = signed.clone();
        forged.receipt.output_hash = B256::repeat_byte(6);
        assert!(!forged.verify(412346), "a changed hash breaks the signature");
        let json = serde_json::to_string(&signed).expect("json");
        let back: SignedReceipt = serde_json::from_str(&json).expect("parse");
        assert!(back.verify(412346));
    }

    /// The seeded tiny llama samples byte tokens, so its generations split multi-byte
    /// characters across tokens and hold invalid bytes: the deltas stay a prefix of the text.
    #[test]
    fn streamed_deltas_add_up_to_the_output_text() {
        let model = Model::load(&assay_convert::random::tiny_llama(5).to_blob()).expect("load");
        let mut split_characters = 0;
        for seed in 0..24 {
            let spec = JobSpec::user("the weather is", 32, seed);
            let mut deltas = Vec::new();
            let done = execute_streaming(&model, &spec, false, &mut |d| deltas.push(d))
                .expect("generates");
            let plain = execute(&model, &spec, false).expect("generates");
            assert_eq!(done.output, plain.output, "streaming changes no output");
            assert_eq!((done.output_hash, done.trace_root), (plain.output_hash, plain.trace_root));
            assert!(deltas.iter().all(|d| !d.is_empty()), "no empty delta");
            let streamed = deltas.concat();
            let rest = done.output.text.strip_prefix(&streamed).expect("deltas are a prefix");
            assert!(matches!(rest, "" | "\u{fffd}"), "at most one unfinished character: {rest:?}");
            split_characters += done
                .output
                .tokens
                .iter()
                .filter(|&&t| std::str::from_utf8(&model.decode_bytes(&[t])).is_err())
                .count();
        }
        assert!(split_characters > 0, "some token holds part of a character");
    }

    #[test]
    fn commitments_use_the_contracts_formula_with_fresh_salts() {
        let worker = Address::repeat_byte(7);
        let (job_key, hash, trace) =
            (B256::repeat_byte(1), B256::repeat_byte(4), B256::repeat_byte(5));
        let (c1, s1) = commit(job_key, worker, hash, trace);
        let (c2, s2) = commit(job_key, worker, hash, trace);
        assert_eq!(c1, validation_commitment(job_key, worker, hash, trace, s1));
        assert_eq!(c2, validation_commitment(job_key, worker, hash, trace, s2));
        assert_ne!(s1, s2);
        assert_ne!(c1, c2);
    }

    /// The cheat's claim is self-consistent (so it can be played) and differs from the honest
    /// run in exactly one element: element 0 of the first step's last attention context.
    #[test]
    fn the_cheat_corrupts_one_context_element_and_answers_a_wrong_output() {
        let model = Model::load(&assay_convert::random::tiny_llama(5).to_blob()).expect("load");
        let input = JobSpec::user("the weather is", 4, 0).to_input();
        let (out, honest) = model.run_keeping(&Parallel, &input, Keep::All).expect("runs");
        let (hash, lie) = cheat(&model, &input, Keep::All).expect("cheats");
        assert!(!out.tokens.is_empty());
        let mut wrong = out.tokens.clone();
        *wrong.last_mut().unwrap() ^= 1;
        assert_eq!(hash, assay_engine::job::output_hash(&wrong, &[]));
        assert_ne!(hash, out.output_hash);
        assert_eq!(wrong_output(&[5], &[7, 9]), (vec![5], vec![8, 9]), "embedding: element 0");
        assert_eq!(wrong_output(&[], &[]), (vec![0], vec![]), "nothing generated: a token");

        let differing: Vec<usize> =
            (0..honest.leaves().len()).filter(|&i| honest.leaves()[i] != lie.leaves()[i]).collect();
        let last_context = honest
            .info()
            .iter()
            .rposition(|i| i.step == 0 && i.op == Op::Context as u32)
            .expect("a context");
        assert_eq!(differing, vec![last_context]);
        let (h, l) = (honest.data(last_context).unwrap(), lie.data(last_context).unwrap());
        assert_eq!(l[0], h[0].wrapping_add(1));
        assert_eq!(&l[1..], &h[1..]);

        // Keeping nothing else gives the same claim: what the worker asserted is what it plays.
        let (again, leaves_only) = cheat(&model, &input, Keep::Nothing).expect("cheats");
        assert_eq!((again, leaves_only.root(&again)), (hash, lie.root(&hash)));
        let executed = execute(&model, &JobSpec::user("the weather is", 4, 0), true).unwrap();
        assert_eq!(
            (executed.output_hash, executed.trace_root),
            (B256::from(hash), B256::from(lie.root(&hash)))
        );
        // The answer sent is the wrong output itself, so the receipt checks out against it.
        assert_eq!(executed.output.tokens, wrong);
        assert_eq!(executed.output.hash(), executed.output_hash);
    }
}
