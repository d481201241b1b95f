//! SmolLM2's tokenizer: the engine's byte-level BPE ([`assay_engine::bpe::Bpe`]) against
//! llama.cpp's, both built from the same GGUF (`ASSAY_SMOLLM2_GGUF`). llama.cpp loads only the
//! vocabulary (`vocab_only`, no weights) and tokenizes with `add_special = false`; the chat
//! template (GGUF metadata `tokenizer.chat_template`) is rendered with `minijinja` the way Hugging
//! Face renders it, then tokenized by llama.cpp with special tokens parsed.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use assay_convert::gguf::Gguf;
use assay_engine::{
    bpe::{Bpe, byte_chars, encode_strings},
    chat,
};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;

/// The environment variable naming SmolLM2-135M-Instruct's GGUF.
pub const GGUF_ENV: &str = "ASSAY_SMOLLM2_GGUF";

/// One chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// `system`, `user` or `assistant`.
    pub role: &'a str,
    /// The text.
    pub content: &'a str,
}

impl<'a> Message<'a> {
    /// A message with `role` and `content`.
    #[must_use]
    pub const fn new(role: &'a str, content: &'a str) -> Self {
        Self { role, content }
    }
}

/// The engine's tokenizer and llama.cpp's, loaded from one GGUF.
pub struct Smollm2 {
    model: LlamaModel,
    engine: Bpe,
    template: String,
    /// Whether each byte's character (GPT-2 byte-to-unicode) is in the vocabulary: SmolLM2's
    /// lacks 21 of them (0x04, 0x06, 0x13, 0x14, 0x16, 0x1d, 0xc0, 0xc1, 0xf1, 0xf2, 0xf5..=0xff).
    byte_is_token: [bool; 256],
}

impl fmt::Debug for Smollm2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Smollm2").finish_non_exhaustive()
    }
}

/// llama.cpp's backend may be initialised once per process.
fn backend() -> &'static LlamaBackend {
    static BACKEND: OnceLock<LlamaBackend> = OnceLock::new();
    BACKEND.get_or_init(|| {
        let mut b = LlamaBackend::init().expect("llama.cpp backend");
        b.void_logs();
        b
    })
}

impl Smollm2 {
    /// Loads both tokenizers and the chat template from the GGUF at `path`.
    ///
    /// # Errors
    /// A message when the file cannot be read or is not SmolLM2's GGUF.
    pub fn load(path: &Path) -> Result<Self, String> {
        let g = Gguf::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
        let strings = |k: &str| g.strings(k).map_err(|e| format!("{k}: {e}"));
        let tokens = strings("tokenizer.ggml.tokens")?;
        let vocab: HashSet<&str> = tokens.iter().map(String::as_str).collect();
        let byte_is_token = byte_chars().map(|c| vocab.contains(c.to_string().as_str()));
        let merges = encode_strings(&strings("tokenizer.ggml.merges")?);
        let engine = Bpe::from_bytes(&encode_strings(&tokens), &merges)
            .map_err(|e| format!("engine bpe: {e}"))?;
        let params = LlamaModelParams::default().with_vocab_only(true);
        let model = LlamaModel::load_from_file(backend(), path, &params)
            .map_err(|e| format!("llama.cpp load {}: {e}", path.display()))?;
        let template = model
            .meta_val_str("tokenizer.chat_template")
            .map_err(|e| format!("tokenizer.chat_template: {e}"))?;
        Ok(Self { model, engine, template, byte_is_token })
    }

    /// The GGUF named by `ASSAY_SMOLLM2_GGUF`, loaded once per process; `None` when unset.
    ///
    /// # Panics
    /// When the variable is set but the file does not load.
    pub fn from_env() -> Option<&'static Self> {
        static LOADED: OnceLock<Option<Smollm2>> = OnceLock::new();
        LOADED
            .get_or_init(|| {
                let path = std::env::var_os(GGUF_ENV)?;
                Some(Self::load(Path::new(&path)).unwrap_or_else(|e| panic!("{e}")))
            })
            .as_ref()
    }

    /// llama.cpp's ids for `text` (`llama_tokenize` with `add_special = false`; special tokens
    /// such as `<|im_start|>` recognised only with `parse_special`).
    #[must_use]
    pub fn reference_ids(&self, text: &str, parse_special: bool) -> Vec<u32> {
        self.reference_ids_bytes(text.as_bytes(), parse_special)
    }

    /// [`Self::reference_ids`] on raw bytes (llama.cpp takes any bytes).
    #[must_use]
    pub fn reference_ids_bytes(&self, text: &[u8], parse_special: bool) -> Vec<u32> {
        self.model
            .vocab()
            .tokenize(text, false, parse_special)
            .into_iter()
            .map(|t| u32::try_from(t.0).expect("llama.cpp returned a negative token id"))
            .collect()
    }

    /// The engine's tokenizer.
    #[must_use]
    pub const fn engine(&self) -> &Bpe {
        &self.engine
    }

    /// The engine's ids for `text` (plain text, no special tokens).
    #[must_use]
    pub fn engine_ids(&self, text: &str) -> Vec<u32> {
        self.engine.encode(text)
    }

    /// The engine's ids for a conversation ([`assay_engine::chat::chat_tokens`]).
    ///
    /// # Panics
    /// For a role other than `system`, `user` or `assistant`, or an empty conversation.
    #[must_use]
    pub fn engine_chat_ids(&self, messages: &[Message<'_>]) -> Vec<u32> {
        let messages: Vec<chat::Message> = messages
            .iter()
            .map(|m| chat::Message::new(chat::Role::from_name(m.role).expect("role"), m.content))
            .collect();
        chat::chat_tokens(&self.engine, &messages).expect("engine chat tokens")
    }

    /// The bytes of `text` that byte-level BPE can represent: those whose character is a token.
    /// llama.cpp silently drops the others (a symbol that is not a token falls back to its
    /// single bytes, and these have no token either), so decoding gives back exactly these.
    #[must_use]
    pub fn representable_bytes(&self, text: &str) -> Vec<u8> {
        text.bytes().filter(|&b| self.byte_is_token[usize::from(b)]).collect()
    }

    /// The GGUF's chat template (Jinja, as Hugging Face renders it).
    #[must_use]
    pub fn chat_template(&self) -> &str {
        &self.template
    }

    /// The chat template rendered for `messages` with `add_generation_prompt = true`.
    ///
    /// # Panics
    /// When the template does not render.
    #[must_use]
    pub fn render_chat(&self, messages: &[Message<'_>]) -> String {
        render_template(&self.template, messages, true)
    }

    /// llama.cpp's ids of [`Self::render_chat`] (special tokens parsed).
    #[must_use]
    pub fn reference_chat_ids(&self, messages: &[Message<'_>]) -> Vec<u32> {
        self.reference_ids(&self.render_chat(messages), true)
    }

    /// llama.cpp's ids of the conversation with only the template's own special tokens parsed:
    /// each message's content is plain text even when it spells `<|im_start|>` (what a chat
    /// server must do with user input).
    #[must_use]
    pub fn reference_chat_ids_literal(&self, messages: &[Message<'_>]) -> Vec<u32> {
        const SPECIALS: [&str; 2] = ["<|im_start|>", "<|im_end|>"];
        let marks: Vec<String> =
            (0..messages.len()).map(|i| format!("\u{e000}{i}\u{e001}")).collect();
        let masked: Vec<Message<'_>> =
            messages.iter().zip(&marks).map(|(m, k)| Message::new(m.role, k)).collect();
        let rendered = self.render_chat(&masked);
        let (mut ids, mut rest) = (Vec::new(), rendered.as_str());
        loop {
            let next = SPECIALS.iter().filter_map(|s| rest.find(s).map(|i| (i, *s))).min();
            let end = next.map_or(rest.len(), |(i, _)| i);
            let mut text = rest[..end].to_owned();
            for (k, m) in marks.iter().zip(messages) {
                text = text.replace(k.as_str(), m.content);
            }
            ids.extend(self.reference_ids(&text, false));
            let Some((i, special)) = next else { break };
            ids.extend(self.reference_ids(special, true));
            rest = &rest[i + special.len()..];
        }
        ids
    }

    /// `None` when the engine and llama.cpp agree on `text`, else both id lists.
    #[must_use]
    pub fn compare(&self, text: &str) -> Option<Mismatch> {
        let engine = self.engine_ids(text);
        let reference = self.reference_ids(text, false);
        (engine != reference).then(|| Mismatch { text: text.to_owned(), engine, reference })
    }

    /// The text of each id (byte-level pieces decoded lossily), for reports.
    #[must_use]
    pub fn pieces(&self, ids: &[u32]) -> Vec<String> {
        ids.iter()
            .map(|&id| String::from_utf8_lossy(&self.engine.decode_bytes(&[id])).into_owned())
            .collect()
    }
}

/// Renders a Hugging Face chat template with `minijinja` the way `transformers` does
/// (`trim_blocks`, `lstrip_blocks`, `raise_exception`).
///
/// # Panics
/// When the template does not parse or render.
#[must_use]
pub fn render_template(
    template: &str,
    messages: &[Message<'_>],
    add_generation_prompt: bool,
) -> String {
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_function("raise_exception", |msg: String| -> Result<String, minijinja::Error> {
        Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg))
    });
    let messages: Vec<minijinja::Value> = messages
        .iter()
        .map(|m| minijinja::context! { role => m.role, content => m.content })
        .collect();
    env.render_str(
        template,
        minijinja::context! { messages, add_generation_prompt, bos_token => "<|im_start|>", eos_token => "<|im_end|>" },
    )
    .unwrap_or_else(|e| panic!("chat template: {e:#}"))
}

/// The engine and llama.cpp disagree on a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The text.
    pub text: String,
    /// The engine's ids.
    pub engine: Vec<u32>,
    /// llama.cpp's ids.
    pub reference: Vec<u32>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.engine.iter().zip(&self.reference).take_while(|(a, b)| a == b).count();
        write!(
            f,
            "text {:?} ({} bytes)\n  engine    {:?}\n  llama.cpp {:?}\n  first difference at id {at}",
            self.text,
            self.text.len(),
            self.engine,
            self.reference
        )
    }
}
