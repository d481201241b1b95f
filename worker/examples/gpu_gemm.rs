//! The GPU check of the exact GEMM route: the int8 GEMMs through candle's f32 matmul (K-chunks of
//! at most 1024, see `assay_worker::float_gemm`) against the engine's integer kernels on random
//! and adversarial shapes and values (the run fails on any mismatch), then their throughput
//! against candle's bf16 matmul on the same shapes.
//!
//! ```sh
//! cargo run --release -p assay-worker --features cuda --example gpu_gemm            # CUDA device 0
//! cargo run --release -p assay-worker --features candle --example gpu_gemm -- --cpu  # candle's CPU device
//! ```
//! `worker/scripts/gpu-check.sh` builds and runs it on a GPU machine.

use std::time::{Duration, Instant};

use assay_engine::{
    kernels::{Kernels, Scalar},
    prng::Prng,
};
use assay_worker::float_gemm::CandleKernels;
use candle_core::{DType, Device, Tensor};

/// How the operands are filled.
#[derive(Clone, Copy, Debug)]
enum Fill {
    Random,
    AllMin,
    AllMax,
    /// -128 against 127 and back: the largest negative products.
    Alternating,
}

fn values(fill: Fill, len: usize, rng: &mut Prng, flip: bool) -> Vec<i8> {
    (0..len)
        .map(|i| match fill {
            Fill::Random => rng.next_u64() as i8,
            Fill::AllMin => -128,
            Fill::AllMax => 127,
            Fill::Alternating => {
                if (i % 2 == 0) ^ flip {
                    -128
                } else {
                    127
                }
            }
        })
        .collect()
}

/// Shapes `(m, k, n)`: K around the 1024-wide chunk and the i32 limits, odd sizes, single rows,
/// then seeded random ones.
fn shapes(rng: &mut Prng) -> Vec<(usize, usize, usize)> {
    let mut shapes = vec![
        (1, 1, 1),
        (1, 1023, 7),
        (2, 1024, 3),
        (3, 1025, 5),
        (4, 1040, 9),
        (5, 1041, 11),
        (7, 2048, 13),
        (2, 2049, 17),
        (1, 4099, 3),
        (33, 384, 65),
        (64, 576, 129),
        (16, 1536, 384),
    ];
    for _ in 0..24 {
        let dim = |rng: &mut Prng, max: u64| 1 + (rng.next_u64() % max) as usize;
        shapes.push((dim(rng, 48), dim(rng, 3000), dim(rng, 96)));
    }
    shapes
}

/// Counts the elements where the device route differs from the engine's scalar kernels.
fn check(kern: &CandleKernels) -> (usize, usize) {
    let mut rng = Prng::new(2026);
    let (mut cases, mut mismatches) = (0, 0);
    for (m, k, n) in shapes(&mut rng) {
        for fill in [Fill::Random, Fill::AllMin, Fill::AllMax, Fill::Alternating] {
            let a = values(fill, m * k, &mut rng, false);
            let w = values(fill, n * k, &mut rng, true);
            let (mut got, mut want) = (vec![0i32; m * n], vec![0i32; m * n]);
            kern.gemm_i8(&a, m, k, &w, n, &mut got);
            Scalar.gemm_i8(&a, m, k, &w, n, &mut want);
            let bad = got.iter().zip(&want).filter(|(g, w)| g != w).count();
            if bad > 0 {
                println!("MISMATCH gemm_i8 m={m} k={k} n={n} {fill:?}: {bad} of {}", m * n);
            }
            mismatches += bad;

            let nb = k.div_ceil(32);
            let a_s: Vec<u32> = (0..m * nb).map(|_| rng.next_u64() as u32).collect();
            let w_s: Vec<i32> = (0..n * nb).map(|_| (rng.next_u64() >> 40) as i32).collect();
            let (mut got, mut want) = (vec![0i128; m * n], vec![0i128; m * n]);
            kern.gemm_blocked(&a, m, k, &w, n, 32, &a_s, &w_s, &mut got);
            Scalar.gemm_blocked(&a, m, k, &w, n, 32, &a_s, &w_s, &mut want);
            let bad = got.iter().zip(&want).filter(|(g, w)| g != w).count();
            if bad > 0 {
                println!("MISMATCH gemm_blocked m={m} k={k} n={n} {fill:?}: {bad} of {}", m * n);
            }
            mismatches += bad;
            cases += 2;
        }
    }
    (cases, mismatches)
}

/// Mean time of `f` over enough runs to fill about half a second (after one warm-up run).
fn time(device: &Device, mut f: impl FnMut()) -> Duration {
    f();
    device.synchronize().expect("synchronize");
    let (start, mut runs) = (Instant::now(), 0u32);
    while runs < 3 || start.elapsed() < Duration::from_millis(500) {
        f();
        device.synchronize().expect("synchronize");
        runs += 1;
    }
    start.elapsed() / runs
}

fn throughput(kern: &CandleKernels, device: &Device) {
    println!(
        "| m x k x n | exact int8 GEMM (host i8 in, i32 out) | candle bf16 matmul (on device) | exact / bf16 |"
    );
    println!("|---|---:|---:|---:|");
    let mut rng = Prng::new(7);
    for (m, k, n) in [(128, 384, 1536), (64, 576, 1536), (512, 2048, 2048), (1024, 4096, 4096)] {
        let a = values(Fill::Random, m * k, &mut rng, false);
        let w = values(Fill::Random, n * k, &mut rng, false);
        let mut out = vec![0i32; m * n];
        let exact = time(device, || kern.gemm_i8(&a, m, k, &w, n, &mut out));
        let bf16 = |x: &[i8], rows: usize| {
            let v: Vec<f32> = x.iter().map(|&q| f32::from(q)).collect();
            Tensor::from_vec(v, (rows, k), device).and_then(|t| t.to_dtype(DType::BF16))
        };
        let (ta, tw) = (bf16(&a, m).expect("a"), bf16(&w, n).expect("w"));
        let tw = tw.t().expect("transpose");
        let half = time(device, || {
            ta.matmul(&tw).expect("bf16 matmul");
        });
        let ops = 2.0 * (m * k * n) as f64;
        let gops = |d: Duration| ops / d.as_secs_f64() / 1e9;
        println!(
            "| {m} x {k} x {n} | {:.1} GOP/s | {:.1} GOP/s | {:.3}x |",
            gops(exact),
            gops(half),
            half.as_secs_f64() / exact.as_secs_f64()
        );
    }
}

fn main() {
    let cpu = std::env::args().any(|a| a == "--cpu");
    let device = if cpu { Device::Cpu } else { Device::new_cuda(0).expect("CUDA device 0") };
    println!("device: {device:?}");
    let kern = CandleKernels::new(device.clone());
    let (cases, mismatches) = check(&kern);
    println!("exactness: {cases} GEMMs (plain and block-scaled), {mismatches} mismatched elements");
    throughput(&kern, &device);
    if mismatches > 0 {
        std::process::exit(1);
    }
}
