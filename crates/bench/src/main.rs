//! `assay-bench`: measures, in one run, the integer engine's tokens/s (scalar and rayon) against
//! the float32 reference on the same weights, and the WASM replay time (fuel on) against native.
//!
//! Uses all-MiniLM-L6-v2 when `ASSAY_MINILM_DIR` points at the unpacked package's model folder,
//! the seeded tiny BERT otherwise. Run with `cargo run --release -p assay-bench`.

use std::{sync::Arc, time::Instant};

use assay_convert::{bert::BertWeights, random::tiny_bert, read_bert_dir, reference::bert_embed};
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

fn time_native<K: Kernels>(model: &Model, kern: &K, inputs: &[JobInput]) -> eyre::Result<f64> {
    let t = Instant::now();
    for i in inputs {
        model.run(kern, i)?;
    }
    Ok(t.elapsed().as_secs_f64())
}

fn main() -> eyre::Result<()> {
    let (name, weights): (&str, BertWeights) = match std::env::var_os("ASSAY_MINILM_DIR") {
        Some(d) => ("all-MiniLM-L6-v2", read_bert_dir(std::path::Path::new(&d))?),
        None => ("tiny seeded BERT (set ASSAY_MINILM_DIR for the real model)", tiny_bert(1)),
    };
    let blob = weights.to_blob();
    let model = Model::load(&blob)?;
    let inputs: Vec<JobInput> =
        SENTENCES.iter().map(|s| JobInput { task: Task::Embed, prompt: (*s).into() }).collect();
    let Model::Bert(bert) = &model;
    let token_lists: Vec<Vec<u32>> = SENTENCES.iter().map(|s| bert.tokenize(s)).collect();
    let tokens: usize = token_lists.iter().map(Vec::len).sum();

    let scalar = time_native(&model, &Scalar, &inputs)?;
    let parallel = time_native(&model, &Parallel, &inputs)?;
    let t = Instant::now();
    for toks in &token_lists {
        bert_embed(&weights, toks);
    }
    let float = t.elapsed().as_secs_f64();

    let rt = Runtime::new()?;
    let served = Arc::new(ServedModel { chunk_hashes: chunk_hashes(&blob), blob: blob.clone() });
    let mut session = rt.session(Limits::default(), Some(served))?;
    let t = Instant::now();
    session.load_model()?;
    let load = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for i in &inputs {
        session.run_job(&i.encode())?;
    }
    let wasm = t.elapsed().as_secs_f64();

    let tps = |secs: f64| tokens as f64 / secs;
    println!(
        "model: {name}; {} sentences, {tokens} tokens; {} threads",
        SENTENCES.len(),
        rayon_threads()
    );
    println!("engine scalar   : {:>9.1} tokens/s", tps(scalar));
    println!("engine rayon    : {:>9.1} tokens/s", tps(parallel));
    println!("float32 ref     : {:>9.1} tokens/s (naive f32 loops, not candle)", tps(float));
    println!("engine/float32  : {:>9.2}x (goal >= 0.8x)", float / parallel);
    println!(
        "wasm replay     : {:>9.1} tokens/s with fuel on ({} fuel), model load {:.3} s",
        tps(wasm),
        session.fuel_used(),
        load
    );
    println!("wasm/native     : {:>9.2}x of scalar native time (goal <= 2x)", wasm / scalar);
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
