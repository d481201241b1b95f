//! Jobs: the canonical input a job commits to, running it on a model, and the result (output,
//! output hash, trace root). Also the byte encodings the WASM ABI uses.

use alloc::{boxed::Box, string::String, vec::Vec};

use crate::{
    Error, Result,
    bert::{ARCH_BERT, Bert},
    chat::{Message, Role},
    hash::{Hash, keccak, tensor_leaf},
    kernels::Kernels,
    llama::{ARCH_LLAMA, Llama},
    model::ModelFile,
    trace::{Keep, Op, Trace},
};

/// Size of the chunks the input commitment ([`JobInput::input_root`]) is built over.
pub const INPUT_CHUNK_SIZE: usize = 1024;

/// The input of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobInput {
    /// A sentence embedding of `text`.
    Embed {
        /// Text to embed.
        text: String,
    },
    /// The assistant's next message in a conversation (rendered with the model's chat
    /// template), up to `max_tokens` tokens; `seed` 0 means greedy.
    Generate {
        /// The conversation so far.
        messages: Vec<Message>,
        /// Most tokens to generate.
        max_tokens: u32,
        /// Sampling seed (0 = greedy).
        seed: u64,
    },
}

/// Input kinds of [`JobInput::encode`]. Kind 1 (a single prompt string) was replaced by
/// conversations.
const KIND_EMBED: u8 = 0;
const KIND_CONVERSATION: u8 = 2;

impl JobInput {
    /// Canonical encoding: `kind u8 ‖ max_tokens u32 ‖ seed u64 ‖ body`, the body being the
    /// text's UTF-8 for an embedding (kind 0, max_tokens and seed 0) and, for a conversation
    /// (kind 2), each message as `role u8 ‖ len u32 ‖ utf-8` (roles: [`Role::code`]).
    pub fn encode(&self) -> Vec<u8> {
        let (kind, max, seed) = match self {
            Self::Embed { .. } => (KIND_EMBED, 0u32, 0u64),
            Self::Generate { max_tokens, seed, .. } => (KIND_CONVERSATION, *max_tokens, *seed),
        };
        let mut b = alloc::vec![kind];
        b.extend_from_slice(&max.to_le_bytes());
        b.extend_from_slice(&seed.to_le_bytes());
        match self {
            Self::Embed { text } => b.extend_from_slice(text.as_bytes()),
            Self::Generate { messages, .. } => {
                for m in messages {
                    b.push(m.role.code());
                    b.extend_from_slice(&(m.content.len() as u32).to_le_bytes());
                    b.extend_from_slice(m.content.as_bytes());
                }
            }
        }
        b
    }

    /// The input commitment: the Merkle root (the model-chunk tree of [`crate::hash`]) over the
    /// keccak hashes of [`INPUT_CHUNK_SIZE`]-byte chunks of [`JobInput::encode`], so a miner can
    /// prove any part of what it was given.
    pub fn input_root(&self) -> Hash {
        let encoded = self.encode();
        let leaves: Vec<Hash> = encoded.chunks(INPUT_CHUNK_SIZE).map(keccak).collect();
        crate::hash::merkle_root(&leaves)
    }

    /// Decodes [`JobInput::encode`].
    ///
    /// # Errors
    /// [`Error::Input`] for a short or malformed buffer, an unknown kind or role, or text that is
    /// not UTF-8.
    pub fn decode(b: &[u8]) -> Result<Self> {
        let bad = |what: &str| Error::Input(alloc::format!("job input: {what}"));
        if b.len() < 13 {
            return Err(bad("too short"));
        }
        let max_tokens = u32::from_le_bytes(b[1..5].try_into().expect("4 bytes"));
        let seed = u64::from_le_bytes(b[5..13].try_into().expect("8 bytes"));
        let utf8 = |s: &[u8]| String::from_utf8(s.to_vec()).map_err(|_| bad("text is not UTF-8"));
        match b[0] {
            KIND_EMBED => Ok(Self::Embed { text: utf8(&b[13..])? }),
            KIND_CONVERSATION => {
                let mut messages = Vec::new();
                let mut rest = &b[13..];
                while let Some((&code, after)) = rest.split_first() {
                    let role = Role::from_code(code).ok_or_else(|| bad("unknown role"))?;
                    let len = after.get(..4).ok_or_else(|| bad("truncated message"))?;
                    let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
                    let text = after.get(4..4 + len).ok_or_else(|| bad("truncated message"))?;
                    messages.push(Message { role, content: utf8(text)? });
                    rest = &after[4 + len..];
                }
                Ok(Self::Generate { messages, max_tokens, seed })
            }
            k => Err(bad(&alloc::format!("unknown kind {k}"))),
        }
    }
}

/// The result of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutput {
    /// Token ids: the input tokens for an embedding, the generated ones (without the end-of-turn
    /// token) for generation.
    pub tokens: Vec<u32>,
    /// The normalised embedding in Q15 (empty for generation).
    pub embedding: Vec<i16>,
    /// Hash of the output: `keccak(leaf(tokens) ‖ leaf(embedding))`.
    pub output_hash: Hash,
    /// Root of the execution trace.
    pub trace_root: Hash,
    /// Tokens the engine read: the chat-formatted prompt of a generation, the input of an
    /// embedding. Not hashed (for usage reports).
    pub prompt_tokens: u32,
}

impl JobOutput {
    /// Encoding: `output_hash ‖ trace_root ‖ n u32 ‖ tokens u32* ‖ m u32 ‖ embedding i16* ‖
    /// prompt_tokens u32`.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&self.output_hash);
        b.extend_from_slice(&self.trace_root);
        b.extend_from_slice(&(self.tokens.len() as u32).to_le_bytes());
        self.tokens.iter().for_each(|t| b.extend_from_slice(&t.to_le_bytes()));
        b.extend_from_slice(&(self.embedding.len() as u32).to_le_bytes());
        self.embedding.iter().for_each(|t| b.extend_from_slice(&t.to_le_bytes()));
        b.extend_from_slice(&self.prompt_tokens.to_le_bytes());
        b
    }

    /// Decodes [`JobOutput::encode`].
    ///
    /// # Errors
    /// [`Error::Format`] for a malformed buffer.
    pub fn decode(b: &[u8]) -> Result<Self> {
        let bad = || Error::Format("malformed job output".into());
        let get = |at: usize, n: usize| b.get(at..at + n).ok_or_else(bad);
        let u32_at = |at: usize| -> Result<usize> {
            Ok(u32::from_le_bytes(get(at, 4)?.try_into().expect("4")) as usize)
        };
        let n = u32_at(64)?;
        let tokens = get(68, 4 * n)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4")))
            .collect();
        let m = u32_at(68 + 4 * n)?;
        let embedding = get(72 + 4 * n, 2 * m)?
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes(c.try_into().expect("2")))
            .collect();
        let prompt_tokens = u32_at(72 + 4 * n + 2 * m)? as u32;
        if b.len() != 76 + 4 * n + 2 * m {
            return Err(bad());
        }
        Ok(Self {
            output_hash: get(0, 32)?.try_into().expect("32"),
            trace_root: get(32, 32)?.try_into().expect("32"),
            tokens,
            embedding,
            prompt_tokens,
        })
    }
}

/// The output hash every party computes and signs: `keccak(leaf(tokens) ‖ leaf(embedding))`,
/// the leaves of the trace's `Tokens` and `Normalize` ops. The text is not hashed: the tokens are.
pub fn output_hash(tokens: &[u32], embedding: &[i16]) -> Hash {
    let mut pre = Vec::with_capacity(64);
    pre.extend_from_slice(&tensor_leaf(Op::Tokens as u32, &[tokens.len() as u32], tokens));
    pre.extend_from_slice(&tensor_leaf(Op::Normalize as u32, &[embedding.len() as u32], embedding));
    keccak(&pre)
}

/// A loaded model of any supported architecture.
#[derive(Debug)]
pub enum Model {
    /// A BERT encoder.
    Bert(Box<Bert>),
    /// A llama decoder.
    Llama(Box<Llama>),
}

impl Model {
    /// Loads a model blob.
    ///
    /// # Errors
    /// [`Error::Format`] for a malformed blob or an unsupported architecture.
    pub fn load(blob: &[u8]) -> Result<Self> {
        let f = ModelFile::parse(blob)?;
        match f.cfg("arch")? {
            ARCH_BERT => Ok(Self::Bert(Box::new(Bert::load(&f)?))),
            ARCH_LLAMA => Ok(Self::Llama(Box::new(Llama::load(&f)?))),
            a => Err(Error::Format(alloc::format!("unsupported architecture {a}"))),
        }
    }

    /// Decodes generated token ids to text (empty for encoders).
    pub fn decode(&self, tokens: &[u32]) -> String {
        match self {
            Self::Bert(_) => String::new(),
            Self::Llama(m) => m.tokenizer.decode(tokens),
        }
    }

    /// The bytes generated token ids stand for, before UTF-8 decoding (empty for encoders):
    /// [`Model::decode`] is their lossy UTF-8 reading.
    pub fn decode_bytes(&self, tokens: &[u32]) -> Vec<u8> {
        match self {
            Self::Bert(_) => Vec::new(),
            Self::Llama(m) => m.tokenizer.decode_bytes(tokens),
        }
    }

    /// Whether the model is an encoder (embeddings only, no generation).
    pub fn is_encoder(&self) -> bool {
        matches!(self, Self::Bert(_))
    }

    /// Runs a job, returning its output and trace.
    ///
    /// # Errors
    /// [`Error::Input`] when the task does not fit the model or the input is invalid.
    pub fn run<K: Kernels + ?Sized>(
        &self,
        kern: &K,
        input: &JobInput,
    ) -> Result<(JobOutput, Trace)> {
        self.run_with(kern, input, &mut |_| {})
    }

    /// [`Model::run`], calling `on_token` with each generated token as it is chosen (never for
    /// an embedding). The output and trace are those of [`Model::run`].
    ///
    /// # Errors
    /// As [`Model::run`].
    pub fn run_with<K: Kernels + ?Sized>(
        &self,
        kern: &K,
        input: &JobInput,
        on_token: &mut dyn FnMut(u32),
    ) -> Result<(JobOutput, Trace)> {
        self.run_traced(kern, input, Keep::Nothing, on_token)
    }

    /// [`Model::run`], keeping the op outputs `keep` names in the trace ([`Trace::data`]): what
    /// a party to a dispute opens for a one-step proof.
    ///
    /// # Errors
    /// As [`Model::run`].
    pub fn run_keeping<K: Kernels + ?Sized>(
        &self,
        kern: &K,
        input: &JobInput,
        keep: Keep,
    ) -> Result<(JobOutput, Trace)> {
        self.run_traced(kern, input, keep, &mut |_| {})
    }

    fn run_traced<K: Kernels + ?Sized>(
        &self,
        kern: &K,
        input: &JobInput,
        keep: Keep,
        on_token: &mut dyn FnMut(u32),
    ) -> Result<(JobOutput, Trace)> {
        let mut trace = Trace::with_batch_hasher(kern.batch_hasher()).keeping(keep);
        let (tokens, embedding, prompt_tokens) = match (self, input) {
            (Self::Bert(m), JobInput::Embed { text }) => {
                let tokens = m.tokenize(text);
                let emb = m.embed(kern, &tokens, &mut trace)?;
                trace.end_step();
                let read = tokens.len();
                (tokens, emb, read)
            }
            (Self::Bert(_), JobInput::Generate { .. }) => {
                return Err(Error::Input("an encoder model cannot generate text".into()));
            }
            (Self::Llama(m), JobInput::Generate { messages, max_tokens, seed }) => {
                let prompt = m.prompt_tokens(messages)?;
                let tokens = m.generate(kern, &prompt, *max_tokens, *seed, &mut trace, on_token)?;
                (tokens, Vec::new(), prompt.len())
            }
            (Self::Llama(_), JobInput::Embed { .. }) => {
                return Err(Error::Input("a decoder model does not produce embeddings".into()));
            }
        };
        if embedding.is_empty() {
            trace.op(Op::Output, &[1, tokens.len() as u32], &tokens);
        } else {
            trace.op(Op::Output, &[1, embedding.len() as u32], &embedding);
        }
        trace.end_step();
        let output_hash = output_hash(&tokens, &embedding);
        let trace_root = trace.root(&output_hash);
        let prompt_tokens = u32::try_from(prompt_tokens).expect("prompts fit the rotary tables");
        Ok((JobOutput { tokens, embedding, output_hash, trace_root, prompt_tokens }, trace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dispute contract recomputes the output hash from the Output leaf's bytes with
    /// `assay_step::commit::output_hash`: the same hash as the engine's, for both kinds of job.
    #[test]
    fn the_step_crate_computes_the_engines_output_hash() {
        use assay_step::{commit, op};
        let k = crate::hash::SoftKeccak;
        let tokens = [1u32, 70_000, 3];
        let embedding = [-3i16, 7, i16::MAX, i16::MIN];
        let token_bytes: Vec<u8> = tokens.iter().flat_map(|t| t.to_le_bytes()).collect();
        let embedding_bytes: Vec<u8> = embedding.iter().flat_map(|e| e.to_le_bytes()).collect();
        assert_eq!(
            commit::output_hash(&k, op::DTYPE_U32, &token_bytes),
            Some(output_hash(&tokens, &[]))
        );
        assert_eq!(
            commit::output_hash(&k, op::DTYPE_I16, &embedding_bytes),
            Some(output_hash(&[], &embedding))
        );
        assert_eq!(commit::output_hash(&k, op::DTYPE_U32, &[]), Some(output_hash(&[], &[])));
        assert_eq!(commit::output_hash(&k, op::DTYPE_I32, &token_bytes), None);
        assert_eq!(commit::output_hash(&k, op::DTYPE_U32, &token_bytes[1..]), None, "partial");
    }

    #[test]
    fn input_round_trips() {
        let messages = alloc::vec![
            Message::new(Role::System, "be brief"),
            Message::user("héllo"),
            Message::new(Role::Assistant, ""),
        ];
        let i = JobInput::Generate { messages, max_tokens: 9, seed: 3 };
        assert_eq!(JobInput::decode(&i.encode()).expect("decode"), i);
        assert_eq!(&i.encode()[..13], &[2, 9, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&i.encode()[13..18], &[0, 8, 0, 0, 0]);
        assert!(JobInput::decode(&[7; 13]).is_err());
        assert!(JobInput::decode(&[1; 20]).is_err(), "kind 1 is retired");
        for cut in 14..i.encode().len() {
            let short = &i.encode()[..cut];
            if JobInput::decode(short).is_ok() {
                // Only cuts at message boundaries decode, to a prefix of the conversation.
                assert!(matches!(cut, 26 | 37), "{cut}");
            }
        }
        let mut bad_role = i.encode();
        bad_role[13] = 3;
        assert!(JobInput::decode(&bad_role).is_err());
        // The commitment covers every byte, across chunk boundaries.
        let long = JobInput::Embed { text: "x".repeat(3000) };
        let mut other = long.clone();
        let JobInput::Embed { text } = &mut other else { unreachable!() };
        text.replace_range(2500..2501, "y");
        assert_ne!(long.input_root(), other.input_root());
        let same = JobInput::Embed { text: "x".repeat(3000) };
        assert_eq!(long.input_root(), same.input_root());
        assert_ne!(i.input_root(), long.input_root());
        let o = JobOutput {
            tokens: alloc::vec![1, 2],
            embedding: alloc::vec![-3],
            output_hash: [1; 32],
            trace_root: [2; 32],
            prompt_tokens: 7,
        };
        assert_eq!(o.encode().len(), 64 + 4 + 8 + 4 + 2 + 4);
        assert_eq!(JobOutput::decode(&o.encode()).expect("decode"), o);
        for cut in 0..o.encode().len() {
            assert!(JobOutput::decode(&o.encode()[..cut]).is_err(), "{cut}");
        }
        assert!(JobOutput::decode(&[o.encode(), alloc::vec![0]].concat()).is_err());
    }
}
