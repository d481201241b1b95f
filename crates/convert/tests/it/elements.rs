//! Every element of every op of a llama trace, recomputed from the trace's own kept outputs and
//! the model's tensors with `assay-step` alone (what the dispute contract's one-step prover
//! runs), equals the engine's: the format of `crates/engine/TRACE.md` opens every element, and
//! the per-element definitions are the engine's.

use assay_convert::random::tiny_llama;
use assay_engine::{
    chat::Message,
    fixed::{Multiplier, quantize_max},
    job::{JobInput, Model},
    kernels::Scalar,
    model::ModelFile,
    nonlin::{exp_index, lut_act, rms_norm_element, rms_norm_inv, softmax_element},
    prng::Prng,
    trace::{Keep, Op, Trace},
};
use assay_step::{
    attention::{context_element, context_term, dot_i8, gated, rope_pair, score},
    linear::{BLOCK, linear_element},
    reduce::{Walk, argmax_step, cdf_step},
};

fn i32s(b: &[u8]) -> Vec<i32> {
    b.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().expect("4"))).collect()
}

fn u32s(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4"))).collect()
}

fn u16s(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2).map(|c| u16::from_le_bytes(c.try_into().expect("2"))).collect()
}

/// One linear layer's tensors, read from the model as a contract reads rows of them.
struct Lin {
    w: Vec<i8>,
    m: Vec<Multiplier>,
    r: Vec<i32>,
    b: Vec<i32>,
    k: usize,
}

impl Lin {
    fn load(f: &ModelFile<'_>, name: &str, n: usize, k: usize) -> Self {
        Self {
            w: f.i8s(&format!("{name}.w"), &[n, k]).expect("w"),
            m: f.mults(&format!("{name}.m"), n).expect("m"),
            r: f.i32s(&format!("{name}.r"), &[n, k / BLOCK]).expect("r"),
            b: f.i32s(&format!("{name}.b"), &[n]).expect("b"),
            k,
        }
    }

    /// Output channel `j` for the input row `x`.
    fn at(&self, x: &[i32], j: usize) -> i32 {
        let (k, nb) = (self.k, self.k / BLOCK);
        let (w, r) = (&self.w[j * k..(j + 1) * k], &self.r[j * nb..(j + 1) * nb]);
        linear_element(x, w, r, self.m[j], self.b[j]).expect("shapes")
    }

    fn rows(&self, x: &[i32], n: usize) -> Vec<i32> {
        x.chunks_exact(self.k).flat_map(|row| (0..n).map(move |j| self.at(row, j))).collect()
    }
}

/// The kept output of the leaf of `op` that is `nth` in its (step, layer).
fn out(trace: &Trace, step: u32, layer: u32, op: Op, nth: usize) -> (usize, Vec<u32>, &[u8]) {
    let (i, info) = trace
        .info()
        .iter()
        .enumerate()
        .filter(|(_, l)| (l.step, l.layer, l.op) == (step, layer, op as u32))
        .nth(nth)
        .unwrap_or_else(|| panic!("no {op:?} #{nth} in step {step} layer {layer}"));
    (i, info.dims.clone(), trace.data(i).expect("kept"))
}

#[test]
fn every_llama_element_is_recomputed_from_the_trace_by_the_step_crate() {
    recompute_llama(0);
    recompute_llama(42);
}

/// Generates with `seed` (0: greedy) and recomputes every element of the trace.
fn recompute_llama(seed: u64) {
    let blob = tiny_llama(5).to_blob();
    let model = Model::load(&blob).expect("load");
    let f = ModelFile::parse(&blob).expect("parse");
    let cfg = |k: &str| f.cfg_usize(k).expect("cfg");
    let (h, layers, nh, nkv, ffn, vocab) =
        (cfg("hidden"), cfg("layers"), cfg("heads"), cfg("kv_heads"), cfg("ffn"), cfg("vocab"));
    let (hd, eps) = (h / nh, f.cfg("eps_q24").expect("eps"));
    let kvd = hd * nkv;
    let max_pos = cfg("max_pos");
    let emb = f.i8s("emb.w", &[vocab, h]).expect("emb");
    let emb_m = f.mults("emb.m", vocab).expect("emb.m");
    let head_m = f.mults("head.m", vocab).expect("head.m");
    let final_norm = f.i32s("final_norm", &[h]).expect("final norm");
    let cos = f.i32s("rope.cos", &[max_pos, hd / 2]).expect("cos");
    let sin = f.i32s("rope.sin", &[max_pos, hd / 2]).expect("sin");
    let scale = f.mults("attn.scale", 1).expect("scale")[0];
    let exp_lut = f.i32s("lut.exp", &[1 << 16]).expect("exp");
    let silu = f.i32s("lut.silu", &[1 << 16]).expect("silu");

    let input =
        JobInput::Generate { messages: vec![Message::user("the weather is")], max_tokens: 4, seed };
    let (output, trace) = model.run_keeping(&Scalar, &input, Keep::All).expect("run");
    let steps = trace.info().last().expect("leaves").step;
    let mut checked = std::collections::BTreeSet::new();
    // Per layer, the key and value rows of every position so far (the KV cache, from the trace).
    let mut keys: Vec<Vec<Vec<i32>>> = vec![Vec::new(); layers];
    let mut values: Vec<Vec<Vec<i32>>> = vec![Vec::new(); layers];
    let mut chosen = Vec::new();
    let mut rng = Prng::new(seed);
    for s in 0..steps {
        let (_, dims, tok) = out(&trace, s, 0, Op::Tokens, 0);
        let tokens = u32s(tok);
        let t = dims[1] as usize;
        let p0 = keys[0].len();
        let (_, _, e) = out(&trace, s, 0, Op::Embed, 0);
        let mut x = i32s(e);
        let want: Vec<i32> = tokens
            .iter()
            .flat_map(|&id| {
                let id = id as usize;
                (0..h).map(move |c| (id, c))
            })
            .map(|(id, c)| emb_m[id].apply(i32::from(emb[id * h + c]), 0))
            .collect();
        assert_eq!(x, want, "step {s}: Embed");
        checked.insert(Op::Embed as u32);
        for l in 0..layers {
            let layer = l as u32 + 1;
            let op = |o: Op, nth: usize| i32s(out(&trace, s, layer, o, nth).2);
            let lin = |name: &str, n: usize, k: usize| Lin::load(&f, &format!("l{l}.{name}"), n, k);
            let norm = |x: &[i32], gamma: &[i32]| -> Vec<i32> {
                x.chunks_exact(h)
                    .flat_map(|row| {
                        let inv = rms_norm_inv(row, eps);
                        row.iter().zip(gamma).map(move |(&v, &g)| rms_norm_element(v, inv, g))
                    })
                    .collect()
            };
            let attn_norm = f.i32s(&format!("l{l}.attn_norm"), &[h]).expect("norm");
            let n1 = op(Op::RmsNorm, 0);
            assert_eq!(n1, norm(&x, &attn_norm), "step {s} layer {layer}: RmsNorm");
            // Rotary: channel c pairs with c ^ 1 within its head.
            let rotate = |lin: &Lin, width: usize| -> Vec<i32> {
                let mut y = Vec::new();
                for (r, row) in n1.chunks_exact(h).enumerate() {
                    let (cs, sn) = (&cos[(p0 + r) * hd / 2..], &sin[(p0 + r) * hd / 2..]);
                    for c in 0..width {
                        let p = (c % hd) / 2;
                        let (a, b) = (lin.at(row, c & !1), lin.at(row, c | 1));
                        let (ra, rb) = rope_pair(a, b, cs[p], sn[p]);
                        y.push(if c % 2 == 0 { ra } else { rb });
                    }
                }
                y
            };
            let q = op(Op::Query, 0);
            assert_eq!(q, rotate(&lin("q", h, h), h), "step {s} layer {layer}: Query");
            let k = op(Op::Key, 0);
            assert_eq!(k, rotate(&lin("k", kvd, h), kvd), "step {s} layer {layer}: Key");
            let v = op(Op::Value, 0);
            assert_eq!(v, lin("v", kvd, h).rows(&n1, kvd), "step {s} layer {layer}: Value");
            keys[l].extend(k.chunks_exact(kvd).map(<[i32]>::to_vec));
            values[l].extend(v.chunks_exact(kvd).map(<[i32]>::to_vec));
            let width = p0 + t;
            let (mut scores, mut probs, mut ctx) =
                (vec![0i32; t * nh * width], vec![0u16; t * nh * width], vec![0i32; t * h]);
            for i in 0..t {
                for hq in 0..nh {
                    let kvh = hq / (nh / nkv);
                    let mut q8 = vec![0i8; hd];
                    let qmax = quantize_max(&q[i * h + hq * hd..i * h + (hq + 1) * hd], &mut q8);
                    let row = (i * nh + hq) * width;
                    let len = p0 + i + 1;
                    for j in 0..len {
                        let mut k8 = vec![0i8; hd];
                        let kmax = quantize_max(&keys[l][j][kvh * hd..(kvh + 1) * hd], &mut k8);
                        scores[row + j] = score(dot_i8(&q8, &k8), qmax, kmax, scale);
                    }
                    let srow = &scores[row..row + len];
                    let max = *srow.iter().max().expect("a position");
                    let sum: i64 =
                        srow.iter().map(|&v| i64::from(exp_lut[exp_index(max, v)])).sum();
                    for j in 0..len {
                        probs[row + j] = softmax_element(exp_lut[exp_index(max, srow[j])], sum);
                    }
                    for d in 0..hd {
                        let acc: i64 = (0..len)
                            .map(|j| context_term(probs[row + j], values[l][j][kvh * hd + d]))
                            .sum();
                        ctx[i * h + hq * hd + d] = context_element(acc);
                    }
                }
            }
            assert_eq!(op(Op::Scores, 0), scores, "step {s} layer {layer}: Scores");
            assert_eq!(u16s(out(&trace, s, layer, Op::Softmax, 0).2), probs, "Softmax");
            assert_eq!(op(Op::Context, 0), ctx, "step {s} layer {layer}: Context");
            let o = op(Op::AttnOut, 0);
            assert_eq!(o, lin("o", h, h).rows(&ctx, h), "step {s} layer {layer}: AttnOut");
            let r1: Vec<i32> = x.iter().zip(&o).map(|(a, b)| a.saturating_add(*b)).collect();
            assert_eq!(op(Op::Residual, 0), r1, "step {s} layer {layer}: Residual");
            let ffn_norm = f.i32s(&format!("l{l}.ffn_norm"), &[h]).expect("norm");
            let n2 = op(Op::RmsNorm, 1);
            assert_eq!(n2, norm(&r1, &ffn_norm), "step {s} layer {layer}: RmsNorm (ffn)");
            let g = op(Op::FfnGate, 0);
            assert_eq!(g, lin("gate", ffn, h).rows(&n2, ffn), "FfnGate");
            let u = op(Op::FfnUp, 0);
            assert_eq!(u, lin("up", ffn, h).rows(&n2, ffn), "FfnUp");
            let a = op(Op::Activation, 0);
            let want: Vec<i32> =
                g.iter().zip(&u).map(|(&g, &u)| gated(lut_act(&silu, g), u)).collect();
            assert_eq!(a, want, "step {s} layer {layer}: Activation");
            let d = op(Op::FfnDown, 0);
            assert_eq!(d, lin("down", h, ffn).rows(&a, h), "FfnDown");
            x = r1.iter().zip(&d).map(|(a, b)| a.saturating_add(*b)).collect();
            assert_eq!(op(Op::Residual, 1), x, "step {s} layer {layer}: Residual (ffn)");
            for o in [Op::RmsNorm, Op::Query, Op::Key, Op::Value, Op::Scores, Op::Softmax] {
                checked.insert(o as u32);
            }
            for o in [Op::Context, Op::AttnOut, Op::Residual, Op::FfnGate, Op::FfnUp] {
                checked.insert(o as u32);
            }
            checked.extend([Op::Activation as u32, Op::FfnDown as u32]);
        }
        // The head reads the last position's row.
        let head = layers as u32 + 1;
        let last = &x[(t - 1) * h..];
        let inv = rms_norm_inv(last, eps);
        let normed: Vec<i32> =
            last.iter().zip(&final_norm).map(|(&v, &g)| rms_norm_element(v, inv, g)).collect();
        assert_eq!(i32s(out(&trace, s, head, Op::RmsNorm, 0).2), normed, "step {s}: final norm");
        let mut q8 = vec![0i8; h];
        let max = quantize_max(&normed, &mut q8);
        let logits: Vec<i32> = (0..vocab)
            .map(|c| head_m[c].apply_scaled(dot_i8(&q8, &emb[c * h..(c + 1) * h]), max))
            .collect();
        assert_eq!(i32s(out(&trace, s, head, Op::Logits, 0).2), logits, "step {s}: Logits");
        let next = u32s(out(&trace, s, head, Op::Tokens, 0).2);
        if seed == 0 {
            let best = (0..).zip(&logits).fold(None, |b, (i, &v)| argmax_step(b, i, v));
            assert_eq!(next, [best.expect("logits").0], "step {s}: chosen token");
        } else {
            // Sampling draws from the probabilities over the vocabulary, which are traced.
            let max = *logits.iter().max().expect("logits");
            let sum: i64 = logits.iter().map(|&v| i64::from(exp_lut[exp_index(max, v)])).sum();
            let probs: Vec<u16> =
                logits.iter().map(|&v| softmax_element(exp_lut[exp_index(max, v)], sum)).collect();
            assert_eq!(u16s(out(&trace, s, head, Op::Softmax, 0).2), probs, "step {s}: probs");
            let total: u64 = probs.iter().map(|&p| u64::from(p)).sum();
            let draw = Walk::Left(rng.below(total));
            let walk = (0..).zip(&probs).fold(draw, |w, (i, &p)| cdf_step(w, i, p));
            assert_eq!(walk, Walk::Chosen(next[0]), "step {s}: sampled token");
        }
        chosen.push(next[0]);
        checked.extend([Op::Logits as u32, Op::Tokens as u32]);
    }
    let (_, _, o) = out(&trace, steps, 0, Op::Output, 0);
    let eos = cfg("eos") as u32;
    let generated: Vec<u32> = chosen.into_iter().take_while(|&c| c != eos).collect();
    assert_eq!(u32s(o), generated);
    assert_eq!(output.tokens, generated);
    checked.insert(Op::Output as u32);
    // Every kind of op the llama trace holds was recomputed.
    let kinds: std::collections::BTreeSet<u32> = trace.info().iter().map(|l| l.op).collect();
    assert_eq!(kinds.difference(&checked).count(), 0, "{kinds:?} vs {checked:?}");
    assert!(kinds.len() >= 16, "{kinds:?}");
}

#[test]
fn every_bert_element_is_recomputed_from_the_trace_by_the_step_crate() {
    use assay_convert::random::tiny_bert;
    use assay_engine::nonlin::{
        layer_norm_element, layer_norm_stats, normalize_element, normalize_inv, pool_element,
    };
    let blob = tiny_bert(1).to_blob();
    let model = Model::load(&blob).expect("load");
    let f = ModelFile::parse(&blob).expect("parse");
    let cfg = |k: &str| f.cfg_usize(k).expect("cfg");
    let (h, layers, nh, ffn) = (cfg("hidden"), cfg("layers"), cfg("heads"), cfg("ffn"));
    let (hd, eps) = (h / nh, f.cfg("eps_q24").expect("eps"));
    let (vocab, max_pos) = (cfg("vocab"), cfg("max_pos"));
    let table = |name: &str, rows: usize| {
        let w = f.i8s(&format!("{name}.w"), &[rows, h]).expect("w");
        (w, f.mults(&format!("{name}.m"), rows).expect("m"))
    };
    let (word, pos, typ) =
        (table("emb.word", vocab), table("emb.pos", max_pos), table("emb.type", 1));
    let ln = |name: &str| {
        let g = f.i32s(&format!("{name}.g"), &[h]).expect("g");
        (g, f.i32s(&format!("{name}.b"), &[h]).expect("b"))
    };
    let norm = |x: &[i32], (g, b): &(Vec<i32>, Vec<i32>)| -> Vec<i32> {
        x.chunks_exact(h)
            .flat_map(|row| {
                let stats = layer_norm_stats(row, eps);
                row.iter()
                    .zip(g)
                    .zip(b)
                    .map(move |((&v, &g), &b)| layer_norm_element(v, stats, g, b))
            })
            .collect()
    };
    let scale = f.mults("attn.scale", 1).expect("scale")[0];
    let exp_lut = f.i32s("lut.exp", &[1 << 16]).expect("exp");
    let gelu = f.i32s("lut.gelu", &[1 << 16]).expect("gelu");

    let input = JobInput::Embed { text: "the cat sat on the mat".into() };
    let (output, trace) = model.run_keeping(&Scalar, &input, Keep::All).expect("run");
    let tokens = u32s(out(&trace, 0, 0, Op::Tokens, 0).2);
    let t = tokens.len();
    let embed: Vec<i32> = tokens
        .iter()
        .enumerate()
        .flat_map(|(i, &id)| (0..h).map(move |c| (i, id as usize, c)))
        .map(|(i, id, c)| {
            let deq = |(w, m): &(Vec<i8>, Vec<Multiplier>), r: usize| {
                m[r].apply(i32::from(w[r * h + c]), 0)
            };
            deq(&word, id).saturating_add(deq(&pos, i)).saturating_add(deq(&typ, 0))
        })
        .collect();
    assert_eq!(i32s(out(&trace, 0, 0, Op::Embed, 0).2), embed, "Embed");
    let mut x = norm(&embed, &ln("emb.ln"));
    assert_eq!(i32s(out(&trace, 0, 0, Op::LayerNorm, 0).2), x, "embedding LayerNorm");
    for l in 0..layers {
        let layer = l as u32 + 1;
        let op = |o: Op, nth: usize| i32s(out(&trace, 0, layer, o, nth).2);
        let lin = |name: &str, n: usize, k: usize| Lin::load(&f, &format!("l{l}.{name}"), n, k);
        let (q, k, v) = (op(Op::Query, 0), op(Op::Key, 0), op(Op::Value, 0));
        assert_eq!(q, lin("q", h, h).rows(&x, h), "layer {layer}: Query");
        assert_eq!(k, lin("k", h, h).rows(&x, h), "layer {layer}: Key");
        assert_eq!(v, lin("v", h, h).rows(&x, h), "layer {layer}: Value");
        let quant = |m: &[i32], i: usize, head: usize| {
            let mut q8 = vec![0i8; hd];
            let max = quantize_max(&m[i * h + head * hd..i * h + (head + 1) * hd], &mut q8);
            (q8, max)
        };
        let (mut scores, mut probs, mut ctx) =
            (vec![0i32; nh * t * t], vec![0u16; nh * t * t], vec![0i32; t * h]);
        for head in 0..nh {
            for i in 0..t {
                let (q8, qmax) = quant(&q, i, head);
                let row = (head * t + i) * t;
                for j in 0..t {
                    let (k8, kmax) = quant(&k, j, head);
                    scores[row + j] = score(dot_i8(&q8, &k8), qmax, kmax, scale);
                }
                let srow = &scores[row..row + t];
                let max = *srow.iter().max().expect("a position");
                let sum: i64 = srow.iter().map(|&s| i64::from(exp_lut[exp_index(max, s)])).sum();
                for j in 0..t {
                    probs[row + j] = softmax_element(exp_lut[exp_index(max, srow[j])], sum);
                }
                for d in 0..hd {
                    let col = head * hd + d;
                    let acc: i64 =
                        (0..t).map(|j| context_term(probs[row + j], v[j * h + col])).sum();
                    ctx[i * h + col] = context_element(acc);
                }
            }
        }
        assert_eq!(op(Op::Scores, 0), scores, "layer {layer}: Scores");
        assert_eq!(u16s(out(&trace, 0, layer, Op::Softmax, 0).2), probs, "layer {layer}: Softmax");
        assert_eq!(op(Op::Context, 0), ctx, "layer {layer}: Context");
        let o = op(Op::AttnOut, 0);
        assert_eq!(o, lin("o", h, h).rows(&ctx, h), "layer {layer}: AttnOut");
        let r1: Vec<i32> = x.iter().zip(&o).map(|(a, b)| a.saturating_add(*b)).collect();
        assert_eq!(op(Op::Residual, 0), r1, "layer {layer}: Residual");
        let n1 = norm(&r1, &ln(&format!("l{l}.ln1")));
        assert_eq!(op(Op::LayerNorm, 0), n1, "layer {layer}: LayerNorm");
        let up = op(Op::FfnUp, 0);
        assert_eq!(up, lin("up", ffn, h).rows(&n1, ffn), "layer {layer}: FfnUp");
        let act: Vec<i32> = up.iter().map(|&u| lut_act(&gelu, u)).collect();
        assert_eq!(op(Op::Activation, 0), act, "layer {layer}: Activation");
        let down = op(Op::FfnDown, 0);
        assert_eq!(down, lin("down", h, ffn).rows(&act, h), "layer {layer}: FfnDown");
        let r2: Vec<i32> = n1.iter().zip(&down).map(|(a, b)| a.saturating_add(*b)).collect();
        assert_eq!(op(Op::Residual, 1), r2, "layer {layer}: Residual (ffn)");
        x = norm(&r2, &ln(&format!("l{l}.ln2")));
        assert_eq!(op(Op::LayerNorm, 1), x, "layer {layer}: LayerNorm (ffn)");
    }
    let head = layers as u32 + 1;
    let pooled: Vec<i32> = (0..h)
        .map(|c| pool_element((0..t).map(|i| i64::from(x[i * h + c])).sum(), t as i64))
        .collect();
    assert_eq!(i32s(out(&trace, 0, head, Op::Pool, 0).2), pooled, "Pool");
    let inv = normalize_inv(&pooled);
    let emb: Vec<i16> = pooled.iter().map(|&v| normalize_element(v, inv)).collect();
    let normalize = out(&trace, 0, head, Op::Normalize, 0).2;
    let as_i16 = |b: &[u8]| -> Vec<i16> {
        b.chunks_exact(2).map(|c| i16::from_le_bytes(c.try_into().expect("2"))).collect()
    };
    assert_eq!(as_i16(normalize), emb, "Normalize");
    assert_eq!(as_i16(out(&trace, 1, 0, Op::Output, 0).2), emb, "Output");
    assert_eq!(output.embedding, emb);
    // Every kind of op the BERT trace holds was recomputed above (Tokens is the input).
    let kinds: std::collections::BTreeSet<u32> = trace.info().iter().map(|l| l.op).collect();
    let checked = [
        Op::Tokens,
        Op::Embed,
        Op::LayerNorm,
        Op::Query,
        Op::Key,
        Op::Value,
        Op::Scores,
        Op::Softmax,
        Op::Context,
        Op::AttnOut,
        Op::Residual,
        Op::FfnUp,
        Op::Activation,
        Op::FfnDown,
        Op::Pool,
        Op::Normalize,
        Op::Output,
    ];
    assert_eq!(kinds, checked.iter().map(|&o| o as u32).collect());
}
