use assay_convert::quant::{act_lut, exp_lut, gelu, silu};
use assay_engine::{
    fixed::Multiplier,
    hash::keccak,
    ops::{self, OpBuilder},
    prng::Prng,
};
use assay_verifier::{
    Error,
    replay::{leaf_data, replay_output},
    runtime::Limits,
};

use assay_convert::{LLAMA_CONFIG_KEYS, random::tiny_llama};
use assay_protocol::{job::JobSpec, model_dir::ModelDir};

use crate::support::{native_job, native_record, runtime, tiny_model_dir, tmp};

fn i32s(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i8s(v: &[i8]) -> Vec<u8> {
    v.iter().map(|&x| x as u8).collect()
}

/// Random op encodings, with adversarial values mixed in: extremes, rounding ties, K = 1040/1041.
fn ops_corpus() -> Vec<Vec<u8>> {
    let mut rng = Prng::new(42);
    let mut pick = |xs: &[i32]| xs[rng.below(xs.len() as u64) as usize];
    let extremes =
        [i32::MIN, i32::MIN + 1, -1, 0, 1, 2047, 2048, -2048, 6144, i32::MAX, 32767, 32768, -32769];
    let mut rng2 = Prng::new(7);
    let mut rand_i32 = |n: usize, spread: u64| -> Vec<i32> {
        (0..n)
            .map(|_| {
                if rng2.below(8) == 0 {
                    pick(&extremes)
                } else {
                    rng2.below(2 * spread) as i32 - spread as i32
                }
            })
            .collect()
    };
    let mut rng3 = Prng::new(9);
    let mut rand_i8 = |n: usize| -> Vec<i8> {
        (0..n)
            .map(|_| {
                if rng3.below(6) == 0 {
                    [-128i8, 127, -127][rng3.below(3) as usize]
                } else {
                    rng3.next_u64() as i8
                }
            })
            .collect()
    };
    let (exp, gl, sl) = (exp_lut(), act_lut(gelu), act_lut(silu));
    let mut corpus = Vec::new();
    for k in [1usize, 7, 32, 64, 1024, 1040, 1041, 1056] {
        let (m, n) = (3, 5);
        let (a, w) = (rand_i8(m * k), rand_i8(n * k));
        corpus.push(
            OpBuilder::new(ops::GEMM_I8, 4)
                .tensor(&[m as u32, k as u32], &i8s(&a))
                .tensor(&[n as u32, k as u32], &i8s(&w))
                .finish(),
        );
        if k % 32 != 0 {
            continue;
        }
        let x = rand_i32(m * k, 1 << 20);
        let mults: Vec<u8> = (0..n)
            .flat_map(|j| {
                Multiplier { m0: (1 << 30) + j as i32 * 99_991, shift: [-12i8, -3, 0, 5, 31][j] }
                    .to_le_bytes()
            })
            .collect();
        corpus.push(
            OpBuilder::new(ops::LINEAR, 4)
                .tensor(&[m as u32, k as u32], &i32s(&x))
                .tensor(&[n as u32, k as u32], &i8s(&w))
                .tensor(&[n as u32], &mults)
                .tensor(
                    &[n as u32, (k / 32) as u32],
                    &i32s(
                        &rand_i32(n * k / 32, 1 << 16)
                            .iter()
                            .map(|v| v.unsigned_abs().min(1 << 16) as i32)
                            .collect::<Vec<_>>(),
                    ),
                )
                .tensor(&[n as u32], &i32s(&rand_i32(n, 1 << 16)))
                .finish(),
        );
    }
    for h in [1usize, 32, 384] {
        let x = rand_i32(4 * h, 1 << 18);
        let (g, b) = (rand_i32(h, 8192), rand_i32(h, 4096));
        corpus.push(
            OpBuilder::new(ops::LAYER_NORM, 2)
                .tensor(&[4, h as u32], &i32s(&x))
                .tensor(&[h as u32], &i32s(&g))
                .tensor(&[h as u32], &i32s(&b))
                .u64(1)
                .finish(),
        );
        corpus.push(
            OpBuilder::new(ops::RMS_NORM, 3)
                .tensor(&[4, h as u32], &i32s(&x))
                .tensor(&[h as u32], &i32s(&g))
                .u64(17)
                .finish(),
        );
        corpus.push(
            OpBuilder::new(ops::SOFTMAX, 9)
                .tensor(&[4, h as u32], &i32s(&x))
                .tensor(&[65536], &i32s(&exp))
                .finish(),
        );
        corpus.push(
            OpBuilder::new(ops::LUT, 14)
                .tensor(&[4, h as u32], &i32s(&x))
                .tensor(&[65536], &i32s(&gl))
                .finish(),
        );
        corpus.push(
            OpBuilder::new(ops::LUT, 14)
                .tensor(&[4, h as u32], &i32s(&x))
                .tensor(&[65536], &i32s(&sl))
                .finish(),
        );
        corpus.push(
            OpBuilder::new(ops::RESIDUAL, 12)
                .tensor(&[4, h as u32], &i32s(&x))
                .tensor(&[4, h as u32], &i32s(&rand_i32(4 * h, 1 << 30)))
                .finish(),
        );
    }
    corpus
}

#[test]
fn ops_agree_natively_and_in_wasm() {
    let rt = runtime();
    let mut all = Vec::new();
    for (i, op) in ops_corpus().iter().enumerate() {
        let native = ops::run(op).expect("native op");
        let mut s = rt.session(Limits::default(), None).expect("session");
        let wasm = s.run_op(op).expect("wasm op");
        assert_eq!(native, wasm, "op {i} differs between native and wasm");
        all.extend_from_slice(&native[..32]);
    }
    // Golden: the leaves of the whole corpus, produced by this engine; changes only with its
    // semantics.
    assert_eq!(hex::encode(keccak(&all)), GOLDEN_OPS);
}

const GOLDEN_OPS: &str = "f01e160ab68b8257c4e10444977b5fb9b9fde868870a036a3c538ee581a4d37d";

#[test]
fn tiny_bert_jobs_agree_natively_and_in_wasm() {
    let dir = tmp("tiny-jobs");
    tiny_model_dir(&dir);
    let rt = runtime();
    for prompt in ["the cat sat on the mat", "hello, world!", "", "zzzz proof of sampling!!"] {
        let (rec, native) = native_record(&dir, prompt);
        let (wasm, fuel) = replay_output(&rt, &rec, &dir, Limits::default()).expect("replay");
        assert_eq!(native, wasm, "job {prompt:?} differs");
        println!("tiny bert {prompt:?}: wasm replay used {fuel} fuel");
    }
}

#[test]
fn minilm_job_agrees_natively_and_in_wasm() {
    let Some(src) = std::env::var_os("ASSAY_MINILM_DIR") else {
        println!("SKIP: ASSAY_MINILM_DIR is not set");
        return;
    };
    let dir = tmp("minilm");
    assay_convert::convert(std::path::Path::new(&src), &dir).expect("convert MiniLM");
    let (rec, native) = native_record(&dir, "Proof of Sampling compares output hashes.");
    let (wasm, fuel) = replay_output(&runtime(), &rec, &dir, Limits::default()).expect("replay");
    assert_eq!(native, wasm);
    println!(
        "MiniLM job: model {}, output {}, trace {}, fuel {fuel}",
        rec.model_id, rec.output_hash, rec.trace_root
    );
    // Golden values of this converter and engine on the published weights.
    assert_eq!(
        rec.model_id.to_string(),
        "0xf8f0ae6602891967557ba9eb660eba4c0d289e159ee71cae01c54427f41335bd"
    );
    assert_eq!(
        rec.output_hash.to_string(),
        "0xb882a2e79cd88e40789e0eac1372b096f1c4f2852c362ad6e05aae4544605af0"
    );
    assert_eq!(
        rec.trace_root.to_string(),
        "0xa0866126c179047d1d0ee5863f350b63f38f75cb8ad3cb71e328e7706d452f42"
    );
}

#[test]
fn tiny_llama_generation_agrees_natively_and_in_wasm() {
    let d = tmp("tiny-llama");
    ModelDir::write(&d, &tiny_llama(5).to_blob(), LLAMA_CONFIG_KEYS).expect("write");
    let rt = runtime();
    for (prompt, seed) in [("the weather is", 0), ("hello there", 42), ("", 7)] {
        let input = JobSpec::user(prompt, 8, seed);
        let (rec, native) = native_job(&d, input);
        let (wasm, fuel) = replay_output(&rt, &rec, &d, Limits::default()).expect("replay");
        assert_eq!(native, wasm, "generation {prompt:?} differs");
        println!("tiny llama {prompt:?} seed {seed}: {} tokens, {fuel} fuel", native.tokens.len());
    }
}

#[test]
fn smollm2_job_agrees_natively_and_in_wasm() {
    let Some(src) = std::env::var_os("ASSAY_SMOLLM2_GGUF") else {
        println!("SKIP: ASSAY_SMOLLM2_GGUF is not set");
        return;
    };
    let d = tmp("smollm2");
    assay_convert::convert(std::path::Path::new(&src), &d).expect("convert SmolLM2");
    let input = JobSpec::user("What is the capital of France?", 8, 0);
    let (rec, native) = native_job(&d, input);
    let (wasm, fuel) = replay_output(&runtime(), &rec, &d, Limits::default()).expect("replay");
    assert_eq!(native, wasm);
    println!(
        "SmolLM2 job: model {}, output {}, trace {}, fuel {fuel}",
        rec.model_id, rec.output_hash, rec.trace_root
    );
    // Golden values of this converter and engine on the published weights.
    assert_eq!(
        rec.model_id.to_string(),
        "0xfd6e6926d77d904e038cedaff6d50d7d3142646edeabb080484546c417c31e7d"
    );
    assert_eq!(
        rec.output_hash.to_string(),
        "0xcacd7f032f09d86755e6f776b1a80ae6a36b7994b6cb01ee2921d74f5453d65a"
    );
    assert_eq!(
        rec.trace_root.to_string(),
        "0xf242aed51d4381df0d1c66c130446bac22ac72d653f97593ff1cd8f582a1f9b6"
    );
}

#[test]
fn wasm_replays_open_the_same_leaf_outputs_as_native_runs() {
    use assay_engine::{job::Model, kernels::Scalar, trace::Keep};
    let dir = tmp("leaf-data");
    tiny_model_dir(&dir);
    let (rec, _) = native_record(&dir, "the cat sat on the mat");
    let blob = ModelDir::open(&dir).expect("open").blob;
    let (_, trace) = Model::load(&blob)
        .expect("load")
        .run_keeping(&Scalar, &rec.input.to_input(), Keep::All)
        .expect("run");
    let all: Vec<u32> = (0..trace.leaves().len() as u32).collect();
    let wasm = leaf_data(&runtime(), &rec, &dir, Limits::default(), &all).expect("leaf data");
    for (i, data) in all.iter().zip(&wasm) {
        assert_eq!(Some(data.as_slice()), trace.data(*i as usize), "leaf {i}");
    }
    let past = all.len() as u32;
    let err = leaf_data(&runtime(), &rec, &dir, Limits::default(), &[past]).expect_err("no leaf");
    assert!(matches!(err, Error::Engine { status: 2, .. }), "{err}");
}
