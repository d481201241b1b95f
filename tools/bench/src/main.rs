//! `assay-bench`: measures, in one run, the integer engine's tokens/s (scalar and rayon) against
//! a float32 reference on the same weights, and the WASM replay time (fuel on) against native.
//!
//! Models: all-MiniLM-L6-v2 when `ASSAY_MINILM_DIR` points at the unpacked package's model
//! folder, SmolLM2-135M-Instruct when `ASSAY_SMOLLM2_GGUF` points at its `.gguf`; the seeded tiny
//! BERT when neither is set. Run with `cargo run --release -p assay-bench`.
//!
//! The float32 reference is this repository's plain Rust forward pass (`assay_convert::reference`);
//! for SmolLM2 it runs one teacher-forced pass over the generated sequence, the same work as
//! generating with a KV cache. With `--features candle` a second float32 column runs
//! candle-transformers on candle's CPU device (its `BertModel`; its quantized llama on the GGUF
//! dequantized to f32, fed the sequence one token at a time through its KV cache). It and the
//! engine's rayon kernels both use all cores unless `RAYON_NUM_THREADS` says otherwise.
//!
//! Every column is the fastest of `ASSAY_BENCH_REPS` runs (default 3) over the same inputs, so a
//! busy shared machine disturbs the ratios less; `ASSAY_KERNELS` caps the engine's x86-64 kernel
//! level (`sse2`, `avx2`, `avx512vnni`; see `assay_worker::kernels`).

use std::{path::Path, sync::Arc, time::Instant};

use assay_convert::{
    gguf::Gguf,
    llama::LlamaWeights,
    random::tiny_bert,
    read_bert_dir,
    reference::{bert_embed, llama_next_tokens},
};
use assay_engine::{
    chat::Message,
    job::{JobInput, Model},
    kernels::{Kernels, Scalar},
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

/// Runs per column (`ASSAY_BENCH_REPS`, default 3).
fn reps() -> usize {
    std::env::var("ASSAY_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3)
}

/// The fastest of [`reps`] timings.
fn best(mut f: impl FnMut() -> eyre::Result<f64>) -> eyre::Result<f64> {
    (0..reps()).try_fold(f64::INFINITY, |b, _| Ok(b.min(f()?)))
}

fn secs(mut f: impl FnMut()) -> f64 {
    best(|| {
        let t = Instant::now();
        f();
        Ok(t.elapsed().as_secs_f64())
    })
    .unwrap_or(f64::NAN)
}

fn native<K: Kernels>(model: &Model, kern: &K, inputs: &[JobInput]) -> eyre::Result<f64> {
    best(|| {
        let t = Instant::now();
        for i in inputs {
            model.run(kern, i)?;
        }
        Ok(t.elapsed().as_secs_f64())
    })
}

fn wasm(blob: &[u8], inputs: &[JobInput]) -> eyre::Result<(f64, u64)> {
    let served = Arc::new(ServedModel { chunk_hashes: chunk_hashes(blob), blob: blob.to_vec() });
    let mut session = Runtime::new()?.session(Limits::default(), Some(served))?;
    session.load_model()?;
    let mut fuel = 0;
    let time = best(|| {
        let before = session.fuel_used();
        let t = Instant::now();
        for i in inputs {
            session.run_job(&i.encode())?;
        }
        fuel = session.fuel_used() - before;
        Ok(t.elapsed().as_secs_f64())
    })?;
    Ok((time, fuel))
}

/// Timings of one model, in seconds over the same tokens.
struct Timings {
    scalar: f64,
    parallel: f64,
    float: f64,
    /// candle-transformers f32, when built with the `candle` feature and the model is a real one.
    candle: Option<f64>,
    wasm: (f64, u64),
}

fn report(name: &str, tokens: usize, t: &Timings) {
    let tps = |s: f64| tokens as f64 / s;
    println!(
        "== {name}: {tokens} tokens, {} cores",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!("engine scalar   : {:>9.1} tokens/s", tps(t.scalar));
    println!("engine rayon    : {:>9.1} tokens/s", tps(t.parallel));
    println!("float32 ref     : {:>9.1} tokens/s (plain Rust f32)", tps(t.float));
    println!("engine/float32  : {:>9.2}x", t.float / t.parallel);
    if let Some(candle) = t.candle {
        println!("candle f32      : {:>9.1} tokens/s (candle-transformers, CPU)", tps(candle));
        println!("engine/candle   : {:>9.2}x (goal >= 0.8x)", candle / t.parallel);
    }
    let (wasm, fuel) = t.wasm;
    println!("wasm replay     : {:>9.1} tokens/s with fuel on ({fuel} fuel)", tps(wasm));
    println!("wasm/native     : {:>9.2}x the scalar native time (goal <= 2x)", wasm / t.scalar);
}

/// Seconds candle-transformers' `BertModel` takes to embed the tokenized sentences `runs`, given
/// the safetensors folder `dir` (`None` for the seeded model, which has none).
#[cfg(feature = "candle")]
fn candle_bert(dir: Option<&Path>, runs: &[Vec<u32>]) -> eyre::Result<Option<f64>> {
    let Some(dir) = dir else { return Ok(None) };
    let bert = assay_convert::candle_reference::CandleBert::load(dir)?;
    Ok(Some(best(|| {
        let t = Instant::now();
        for r in runs {
            bert.embed(r)?;
        }
        Ok(t.elapsed().as_secs_f64())
    })?))
}

/// Without the `candle` feature there is no candle column.
#[cfg(not(feature = "candle"))]
fn candle_bert(_dir: Option<&Path>, _runs: &[Vec<u32>]) -> eyre::Result<Option<f64>> {
    Ok(None)
}

/// Seconds candle-transformers' llama (f32 weights) takes over `seq`, one token at a time.
#[cfg(feature = "candle")]
fn candle_llama(path: &Path, seq: &[u32]) -> eyre::Result<Option<f64>> {
    let mut llama = assay_convert::candle_reference::CandleLlama::from_gguf(path)?;
    Ok(Some(best(|| {
        // `next_tokens` clears the KV cache first.
        let t = Instant::now();
        llama.next_tokens(seq)?;
        Ok(t.elapsed().as_secs_f64())
    })?))
}

/// Without the `candle` feature there is no candle column.
#[cfg(not(feature = "candle"))]
fn candle_llama(_path: &Path, _seq: &[u32]) -> eyre::Result<Option<f64>> {
    Ok(None)
}

/// `dir`: the safetensors folder the weights came from, for the candle column.
fn bench_bert(
    name: &str,
    weights: &assay_convert::bert::BertWeights,
    dir: Option<&Path>,
) -> eyre::Result<()> {
    let blob = weights.to_blob();
    let model = Model::load(&blob)?;
    let inputs: Vec<JobInput> =
        SENTENCES.iter().map(|s| JobInput::Embed { text: (*s).into() }).collect();
    let runs = inputs
        .iter()
        .map(|i| model.run(&Scalar, i).map(|r| r.0.tokens))
        .collect::<Result<Vec<_>, _>>()?;
    let tokens = runs.iter().map(Vec::len).sum();
    let float = secs(|| runs.iter().for_each(|t| drop(bert_embed(weights, t))));
    let candle = candle_bert(dir, &runs)?;
    let t = Timings {
        scalar: native(&model, &Scalar, &inputs)?,
        parallel: native(&model, &Parallel, &inputs)?,
        float,
        candle,
        wasm: wasm(&blob, &inputs)?,
    };
    report(name, tokens, &t);
    Ok(())
}

fn bench_llama(path: &Path) -> eyre::Result<()> {
    let weights = LlamaWeights::from_gguf(&Gguf::read(path)?)?;
    let blob = weights.to_blob();
    let model = Model::load(&blob)?;
    let Model::Llama(m) = &model else { eyre::bail!("not a llama model") };
    let prompt = "Write a short poem about the sea.";
    let messages = vec![Message::user(prompt)];
    let mut seq = m.prompt_tokens(&messages)?;
    let inputs = [JobInput::Generate { messages, max_tokens: 16, seed: 0 }];
    let (out, _) = model.run(&Scalar, &inputs[0])?;
    seq.extend(&out.tokens);
    let float = secs(|| drop(llama_next_tokens(&weights, &seq)));
    let candle = candle_llama(path, &seq)?;
    let t = Timings {
        scalar: native(&model, &Scalar, &inputs)?,
        parallel: native(&model, &Parallel, &inputs)?,
        float,
        candle,
        wasm: wasm(&blob, &inputs)?,
    };
    report("SmolLM2-135M-Instruct (prompt + 16 generated)", seq.len(), &t);
    Ok(())
}

fn main() -> eyre::Result<()> {
    let minilm = std::env::var_os("ASSAY_MINILM_DIR");
    let smollm = std::env::var_os("ASSAY_SMOLLM2_GGUF");
    if let Some(d) = &minilm {
        bench_bert("all-MiniLM-L6-v2", &read_bert_dir(Path::new(d))?, Some(Path::new(d)))?;
    }
    if let Some(p) = &smollm {
        bench_llama(Path::new(p))?;
    }
    if minilm.is_none() && smollm.is_none() {
        bench_bert(
            "tiny seeded BERT (set ASSAY_MINILM_DIR / ASSAY_SMOLLM2_GGUF for real models)",
            &tiny_bert(1),
            None,
        )?;
    }
    Ok(())
}
