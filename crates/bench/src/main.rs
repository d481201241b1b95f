//! `assay-bench`: measures, in one run, the integer engine's tokens/s (scalar and rayon) against
//! a float32 reference on the same weights, and the WASM replay time (fuel on) against native.
//!
//! Models: all-MiniLM-L6-v2 when `ASSAY_MINILM_DIR` points at the unpacked package's model
//! folder, SmolLM2-135M-Instruct when `ASSAY_SMOLLM2_GGUF` points at its `.gguf`; the seeded tiny
//! BERT when neither is set. Run with `cargo run --release -p assay-bench`.
//!
//! The float32 reference is this repository's plain Rust forward pass (`assay_convert::reference`),
//! not candle; for SmolLM2 it runs one teacher-forced pass over the generated sequence, the same
//! work as generating with a KV cache.

use std::{path::Path, sync::Arc, time::Instant};

use assay_convert::{
    gguf::Gguf,
    llama::LlamaWeights,
    random::tiny_bert,
    read_bert_dir,
    reference::{bert_embed, llama_next_tokens},
};
use assay_engine::{
    gemm::{Kernels, Scalar},
    job::{JobInput, Model, Task},
    model::chunk_hashes,
};
use assay_verifier::runtime::{Limits, Runtime, ServedModel};
use assay_worker::kernels::Parallel;

const SENTENCES: &[&str] = &[
    "A man is playing a guitar on the street while people walk past.",
    "The stock market fell sharply after the central bank raised interest rates again.",
    "Quantum computers use qubits, which can represent zero and one at the same time.",
    "She baked a chocolate cake for her daughter's birthday party on Saturday.",
];

fn secs<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64())
}

fn native<K: Kernels>(model: &Model, kern: &K, inputs: &[JobInput]) -> eyre::Result<f64> {
    let t = Instant::now();
    for i in inputs {
        model.run(kern, i)?;
    }
    Ok(t.elapsed().as_secs_f64())
}

fn wasm(blob: &[u8], inputs: &[JobInput]) -> eyre::Result<(f64, u64)> {
    let served = Arc::new(ServedModel { chunk_hashes: chunk_hashes(blob), blob: blob.to_vec() });
    let mut session = Runtime::new()?.session(Limits::default(), Some(served))?;
    session.load_model()?;
    let before = session.fuel_used();
    let t = Instant::now();
    for i in inputs {
        session.run_job(&i.encode())?;
    }
    Ok((t.elapsed().as_secs_f64(), session.fuel_used() - before))
}

fn report(
    name: &str,
    tokens: usize,
    scalar: f64,
    parallel: f64,
    float: f64,
    (wasm, fuel): (f64, u64),
) {
    let tps = |s: f64| tokens as f64 / s;
    println!(
        "== {name}: {tokens} tokens, {} cores",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!("engine scalar   : {:>9.1} tokens/s", tps(scalar));
    println!("engine rayon    : {:>9.1} tokens/s", tps(parallel));
    println!("float32 ref     : {:>9.1} tokens/s (plain Rust f32, not candle)", tps(float));
    println!("engine/float32  : {:>9.2}x (goal >= 0.8x)", float / parallel);
    println!("wasm replay     : {:>9.1} tokens/s with fuel on ({fuel} fuel)", tps(wasm));
    println!("wasm/native     : {:>9.2}x the scalar native time (goal <= 2x)", wasm / scalar);
}

fn bench_bert(name: &str, weights: &assay_convert::bert::BertWeights) -> eyre::Result<()> {
    let blob = weights.to_blob();
    let model = Model::load(&blob)?;
    let inputs: Vec<JobInput> =
        SENTENCES.iter().map(|s| JobInput { task: Task::Embed, prompt: (*s).into() }).collect();
    let runs = inputs
        .iter()
        .map(|i| model.run(&Scalar, i).map(|r| r.0.tokens))
        .collect::<Result<Vec<_>, _>>()?;
    let tokens = runs.iter().map(Vec::len).sum();
    let ((), float) = secs(|| runs.iter().for_each(|t| drop(bert_embed(weights, t))));
    report(
        name,
        tokens,
        native(&model, &Scalar, &inputs)?,
        native(&model, &Parallel, &inputs)?,
        float,
        wasm(&blob, &inputs)?,
    );
    Ok(())
}

fn bench_llama(path: &Path) -> eyre::Result<()> {
    let weights = LlamaWeights::from_gguf(&Gguf::read(path)?)?;
    let blob = weights.to_blob();
    let model = Model::load(&blob)?;
    let Model::Llama(m) = &model else { eyre::bail!("not a llama model") };
    let prompt = "Write a short poem about the sea.";
    let inputs =
        [JobInput { task: Task::Generate { max_tokens: 16, seed: 0 }, prompt: prompt.into() }];
    let (out, _) = model.run(&Scalar, &inputs[0])?;
    let mut seq = m.prompt_tokens(prompt);
    seq.extend(&out.tokens);
    let (_, float) = secs(|| llama_next_tokens(&weights, &seq));
    let scalar = native(&model, &Scalar, &inputs)?;
    let parallel = native(&model, &Parallel, &inputs)?;
    report(
        "SmolLM2-135M-Instruct (prompt + 16 generated)",
        seq.len(),
        scalar,
        parallel,
        float,
        wasm(&blob, &inputs)?,
    );
    Ok(())
}

fn main() -> eyre::Result<()> {
    let minilm = std::env::var_os("ASSAY_MINILM_DIR");
    let smollm = std::env::var_os("ASSAY_SMOLLM2_GGUF");
    if let Some(d) = &minilm {
        bench_bert("all-MiniLM-L6-v2", &read_bert_dir(Path::new(d))?)?;
    }
    if let Some(p) = &smollm {
        bench_llama(Path::new(p))?;
    }
    if minilm.is_none() && smollm.is_none() {
        bench_bert(
            "tiny seeded BERT (set ASSAY_MINILM_DIR / ASSAY_SMOLLM2_GGUF for real models)",
            &tiny_bert(1),
        )?;
    }
    Ok(())
}
