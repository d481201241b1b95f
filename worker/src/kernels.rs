//! Native kernels: the engine's exact int8 GEMMs (plain and block-scaled) split over output
//! channels with rayon. Each output element is still one exact integer expression computed by one
//! thread, so the bits are those of the scalar kernels (and of the WASM replay). A step's trace
//! leaves are hashed on the pool too, eight at a time with AVX-512 and four with AVX2.
//!
//! On x86-64 each task runs the engine's register-tiled kernels for the widest instruction set the
//! CPU has ([`isa`]: AVX-512 VNNI, AVX2 or the SSE2 baseline), detected once; the environment
//! variable `ASSAY_KERNELS` (`sse2`, `avx2`, `avx512vnni`) caps the level, to compare them.

#[cfg(target_arch = "x86_64")]
use assay_engine::x86::{Isa, Level};
use assay_engine::{
    gemm::MAX_K,
    hash::{BatchHasher, Hash},
    kernels::Kernels,
    linear::Linear,
};
use rayon::prelude::*;

/// Rayon-parallel kernels.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parallel;

/// Output channels per rayon task.
const COLS_PER_TASK: usize = 32;

/// The kernels of the widest x86-64 level this CPU supports, capped by `ASSAY_KERNELS`; detected
/// on first use.
#[cfg(target_arch = "x86_64")]
pub fn isa() -> Isa {
    static ISA: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
    *ISA.get_or_init(|| {
        let cap = match std::env::var("ASSAY_KERNELS").as_deref() {
            Ok("sse2") => Level::Sse2,
            Ok("avx2") => Level::Avx2,
            _ => Level::Avx512Vnni,
        };
        let vnni = std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512vnni");
        let level = if vnni {
            Level::Avx512Vnni
        } else if std::is_x86_feature_detected!("avx2") {
            Level::Avx2
        } else {
            Level::Sse2
        };
        // SAFETY: the CPU has the features of `level` (just detected), hence of any lower level.
        unsafe { Isa::new_unchecked(level.min(cap)) }
    })
}

/// Runs `f(cols, buf)` for column ranges in parallel and scatters the `[m, cols]` buffers into
/// the `[m, n]` output.
fn by_columns<T: Copy + Default + Send>(
    m: usize,
    n: usize,
    out: &mut [T],
    f: impl Fn(core::ops::Range<usize>, &mut [T]) + Sync,
) {
    let blocks: Vec<(core::ops::Range<usize>, Vec<T>)> = (0..n.div_ceil(COLS_PER_TASK))
        .into_par_iter()
        .map(|b| {
            let cols = b * COLS_PER_TASK..((b + 1) * COLS_PER_TASK).min(n);
            let mut buf = vec![T::default(); m * cols.len()];
            f(cols.clone(), &mut buf);
            (cols, buf)
        })
        .collect();
    for (cols, buf) in blocks {
        scatter(m, n, cols, &buf, out);
    }
}

/// Copies the `[rows, cols.len()]` block `buf` into columns `cols` of the `[rows, n]` `out`.
fn scatter<T: Copy>(
    rows: usize,
    n: usize,
    cols: core::ops::Range<usize>,
    buf: &[T],
    out: &mut [T],
) {
    let width = cols.len();
    for i in 0..rows {
        out[i * n + cols.start..i * n + cols.end].copy_from_slice(&buf[i * width..(i + 1) * width]);
    }
}

/// Columns `cols` of the plain product with the detected kernels.
fn gemm_i8_cols(
    a: &[i8],
    m: usize,
    k: usize,
    w: &[i8],
    cols: core::ops::Range<usize>,
    out: &mut [i32],
) {
    #[cfg(target_arch = "x86_64")]
    isa().gemm_i8_cols(a, m, k, w, cols, out);
    #[cfg(not(target_arch = "x86_64"))]
    assay_engine::gemm::gemm_i8_cols(a, m, k, w, cols, out);
}

/// Columns `cols` of the block-scaled product with the detected kernels.
#[allow(clippy::too_many_arguments)]
fn gemm_blocked_cols(
    a: &[i8],
    m: usize,
    k: usize,
    w: &[i8],
    block: usize,
    a_s: &[u32],
    w_s: &[i32],
    cols: core::ops::Range<usize>,
    out: &mut [i128],
) {
    #[cfg(target_arch = "x86_64")]
    isa().gemm_blocked_cols(a, m, k, w, block, a_s, w_s, cols, out);
    #[cfg(not(target_arch = "x86_64"))]
    assay_engine::gemm::gemm_blocked_cols(a, m, k, w, block, a_s, w_s, cols, out);
}

/// Hashes a step's trace leaves on the rayon pool: longest first, in runs of eight of similar
/// length (the AVX-512 keccak hashes eight at once, the AVX2 one four).
fn keccak_par(pre: &[&[u8]], out: &mut [Hash]) {
    let mut order: Vec<usize> = (0..pre.len()).collect();
    order.sort_by_key(|&i| core::cmp::Reverse(pre[i].len()));
    let hashed: Vec<Vec<Hash>> = order
        .par_chunks(8)
        .map(|run| {
            let msgs: Vec<&[u8]> = run.iter().map(|&i| pre[i]).collect();
            let mut h = vec![[0u8; 32]; run.len()];
            #[cfg(target_arch = "x86_64")]
            isa().keccak256_many(&msgs, &mut h);
            #[cfg(not(target_arch = "x86_64"))]
            h.iter_mut().zip(&msgs).for_each(|(h, m)| *h = assay_engine::hash::keccak(m));
            h
        })
        .collect();
    for (&i, h) in order.iter().zip(hashed.iter().flatten()) {
        out[i] = *h;
    }
}

impl Kernels for Parallel {
    fn batch_hasher(&self) -> Option<BatchHasher> {
        Some(keccak_par)
    }

    /// All layers' output channels in one parallel pass, each task requantising its own block.
    fn linear(&self, layers: &[&Linear], x_q: &[i8], x_max: &[u32], rows: usize) -> Vec<Vec<i32>> {
        let tasks: Vec<(usize, core::ops::Range<usize>)> = layers
            .iter()
            .enumerate()
            .flat_map(|(l, lin)| {
                (0..lin.n.div_ceil(COLS_PER_TASK))
                    .map(move |b| (l, b * COLS_PER_TASK..((b + 1) * COLS_PER_TASK).min(lin.n)))
            })
            .collect();
        #[cfg(target_arch = "x86_64")]
        let packed = isa().pack(x_q, x_max, rows, layers.first().map_or(0, |l| l.k));
        let blocks: Vec<Vec<i32>> = tasks
            .par_iter()
            .map(|(l, cols)| {
                let lin = layers[*l];
                let mut y = vec![0i32; rows * cols.len()];
                #[cfg(target_arch = "x86_64")]
                isa().linear_cols(lin, x_q, x_max, rows, &packed, cols.clone(), &mut y);
                #[cfg(not(target_arch = "x86_64"))]
                {
                    let mut acc = vec![0i128; rows * cols.len()];
                    gemm_blocked_cols(
                        x_q,
                        rows,
                        lin.k,
                        &lin.w,
                        assay_engine::linear::BLOCK,
                        x_max,
                        &lin.r,
                        cols.clone(),
                        &mut acc,
                    );
                    lin.requantize(&acc, cols.clone(), &mut y);
                }
                y
            })
            .collect();
        let mut out: Vec<Vec<i32>> = layers.iter().map(|l| vec![0; rows * l.n]).collect();
        for ((l, cols), buf) in tasks.into_iter().zip(blocks) {
            scatter(rows, layers[l].n, cols, &buf, &mut out[l]);
        }
        out
    }

    fn gemm_i8(&self, a: &[i8], m: usize, k: usize, w: &[i8], n: usize, out: &mut [i32]) {
        assert!(k <= MAX_K, "gemm K {k} exceeds {MAX_K}");
        by_columns(m, n, out, |cols, buf| gemm_i8_cols(a, m, k, w, cols, buf));
    }

    fn gemm_blocked(
        &self,
        a: &[i8],
        m: usize,
        k: usize,
        w: &[i8],
        n: usize,
        block: usize,
        a_s: &[u32],
        w_s: &[i32],
        out: &mut [i128],
    ) {
        by_columns(m, n, out, |cols, buf| {
            gemm_blocked_cols(a, m, k, w, block, a_s, w_s, cols, buf)
        });
    }
}

#[cfg(test)]
mod tests {
    use assay_convert::{
        gguf::Gguf,
        llama::LlamaWeights,
        random::{tiny_bert, tiny_llama},
        read_bert_dir,
    };
    use assay_engine::{
        chat::Message,
        job::{JobInput, Model},
        kernels::Scalar,
        prng::Prng,
    };

    use super::*;

    /// Runs `inputs` on `blob` with the scalar reference, the parallel kernels and (on x86-64)
    /// each kernel level this CPU has, single-threaded: outputs and every trace leaf must agree.
    fn jobs_agree(blob: &[u8], inputs: &[JobInput]) {
        let model = Model::load(blob).expect("load");
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa()` detected at least each of these levels.
        let levels: Vec<Isa> = Level::ALL
            .into_iter()
            .filter(|&l| l <= isa().level())
            .map(|l| unsafe { Isa::new_unchecked(l) })
            .collect();
        for input in inputs {
            let (want, want_trace) = model.run(&Scalar, input).expect("run");
            let (out, trace) = model.run(&Parallel, input).expect("run");
            assert_eq!(out, want, "parallel: {input:?}");
            assert_eq!(trace.leaves(), want_trace.leaves(), "parallel: {input:?}");
            #[cfg(target_arch = "x86_64")]
            for isa in &levels {
                let (out, trace) = model.run(isa, input).expect("run");
                assert_eq!(out, want, "{isa:?}: {input:?}");
                assert_eq!(trace.leaves(), want_trace.leaves(), "{isa:?}: {input:?}");
            }
        }
    }

    fn embed(prompt: &str) -> JobInput {
        JobInput::Embed { text: prompt.into() }
    }

    fn generate(prompt: &str, seed: u64) -> JobInput {
        JobInput::Generate { messages: vec![Message::user(prompt)], max_tokens: 6, seed }
    }

    #[test]
    fn tiny_models_run_the_same_with_every_kernel() {
        jobs_agree(&tiny_bert(1).to_blob(), &[embed("the cat sat on the mat"), embed("")]);
        jobs_agree(&tiny_llama(5).to_blob(), &[generate("the weather is", 0), generate("", 7)]);
    }

    #[test]
    fn real_models_run_the_same_with_every_kernel() {
        if let Some(dir) = std::env::var_os("ASSAY_MINILM_DIR") {
            let blob = read_bert_dir(std::path::Path::new(&dir)).expect("MiniLM").to_blob();
            jobs_agree(&blob, &[embed("Proof of Sampling compares output hashes.")]);
        } else {
            println!("SKIP MiniLM: ASSAY_MINILM_DIR is not set");
        }
        if let Some(path) = std::env::var_os("ASSAY_SMOLLM2_GGUF") {
            let gguf = Gguf::read(std::path::Path::new(&path)).expect("read SmolLM2");
            let blob = LlamaWeights::from_gguf(&gguf).expect("SmolLM2").to_blob();
            jobs_agree(&blob, &[generate("What is the capital of France?", 0)]);
        } else {
            println!("SKIP SmolLM2: ASSAY_SMOLLM2_GGUF is not set");
        }
    }

    #[test]
    fn parallel_gemms_equal_scalar() {
        let mut rng = Prng::new(3);
        for (m, k, n) in [(1, 1041, 100), (5, 64, 33), (3, 7, 1), (7, 1536, 70), (16, 384, 40)] {
            let a: Vec<i8> = (0..m * k).map(|_| rng.next_u64() as i8).collect();
            let w: Vec<i8> = (0..n * k).map(|_| rng.next_u64() as i8).collect();
            let (mut p, mut s) = (vec![0; m * n], vec![0; m * n]);
            Parallel.gemm_i8(&a, m, k, &w, n, &mut p);
            Scalar.gemm_i8(&a, m, k, &w, n, &mut s);
            assert_eq!(p, s);
            let nb = k.div_ceil(32);
            let a_s: Vec<u32> = (0..m * nb).map(|_| rng.next_u64() as u32).collect();
            let w_s: Vec<i32> = (0..n * nb).map(|_| (rng.next_u64() >> 47) as i32).collect();
            let (mut p, mut s) = (vec![0i128; m * n], vec![0i128; m * n]);
            Parallel.gemm_blocked(&a, m, k, &w, n, 32, &a_s, &w_s, &mut p);
            Scalar.gemm_blocked(&a, m, k, &w, n, 32, &a_s, &w_s, &mut s);
            assert_eq!(p, s);
        }
    }
}
