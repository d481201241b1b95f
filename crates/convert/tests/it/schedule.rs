//! The schedule the dispute game's prover checks leaf headers against (`assay_step::schedule`)
//! is the engine's: for every leaf of a llama generation (greedy and sampled) and a BERT
//! embedding, the header computed from the three leaves before it, the prompt's `Tokens` leaf
//! and the config is the leaf's own, or one of two candidates where the chain cannot tell which
//! (whether the head samples, whether generation goes on after a token that is not the end of
//! turn), and the trace ends after its `Output`.

use assay_convert::random::{tiny_bert, tiny_llama};
use assay_engine::{
    chat::Message,
    job::{JobInput, Model},
    kernels::Scalar,
    model::ModelFile,
    trace::{Keep, LeafInfo, Op, Trace},
};
use assay_step::{
    commit::{MAX_RANK, OpLeaf},
    op,
    schedule::{Next, Shape, next},
};

fn header(info: &LeafInfo) -> OpLeaf {
    let mut dims = [0u32; MAX_RANK];
    dims[..info.dims.len()].copy_from_slice(&info.dims);
    OpLeaf {
        step: info.step,
        layer: info.layer,
        op: info.op,
        dtype: info.dtype,
        rank: info.dims.len() as u8,
        dims,
        cells_root: [0; 32],
    }
}

fn shape(f: &ModelFile<'_>) -> Shape {
    let cfg = |k: &str| f.cfg(k).expect("cfg") as u32;
    let llama = u64::from(cfg("arch")) == op::ARCH_LLAMA;
    let (hidden, heads) = (cfg("hidden"), cfg("heads"));
    Shape {
        llama,
        layers: cfg("layers"),
        hidden,
        heads,
        kv_width: if llama { hidden / heads * cfg("kv_heads") } else { hidden },
        ffn: cfg("ffn"),
        vocab: cfg("vocab"),
        eos: if llama { cfg("eos") } else { 0 },
    }
}

/// Checks every leaf of `trace`; returns at how many the schedule named two candidates.
fn check(shape: &Shape, trace: &Trace) -> usize {
    let infos = trace.info();
    let prompt = header(&infos[0]);
    let mut undecided = 0;
    for i in 1..=infos.len() {
        let back: Vec<OpLeaf> = (1..=3.min(i)).map(|k| header(&infos[i - k])).collect();
        let prev = &infos[i - 1];
        let chosen = (prev.op == Op::Tokens as u32 && prev.layer >= 1).then(|| {
            u32::from_le_bytes(trace.data(i - 1).expect("kept")[..4].try_into().expect("4"))
        });
        let got = next(shape, &prompt, &back, chosen).unwrap_or_else(|| panic!("leaf {i}"));
        match (infos.get(i), got) {
            (None, Next::End) => {}
            (Some(info), Next::Leaf(h)) => assert_eq!(h, header(info), "leaf {i}: {info:?}"),
            (Some(info), Next::Either(a, b)) => {
                // After the head's logits (greedy or sampled), or after a chosen token that is
                // not the end of turn (another step, or the output at max_tokens): the leaf is
                // one of the two.
                let head = shape.layers + 1;
                assert!(prev.layer == head && shape.llama, "leaf {i}: {info:?}");
                assert!(prev.op == Op::Logits as u32 || chosen.is_some_and(|c| c != shape.eos));
                assert!([a, b].contains(&header(info)), "leaf {i}: {info:?} not in {a:?}, {b:?}");
                undecided += 1;
            }
            (info, got) => panic!("leaf {i}: {info:?} but the schedule says {got:?}"),
        }
    }
    undecided
}

#[test]
fn the_schedule_is_the_engines_at_every_leaf() {
    let blob = tiny_llama(5).to_blob();
    let (model, file) =
        (Model::load(&blob).expect("load"), ModelFile::parse(&blob).expect("parse"));
    let llama = shape(&file);
    for seed in [0, 42] {
        let input = JobInput::Generate {
            messages: vec![Message::user("the weather is")],
            max_tokens: 4,
            seed,
        };
        let (out, trace) = model.run_keeping(&Scalar, &input, Keep::All).expect("runs");
        let steps = trace.info().last().expect("leaves").step as usize;
        // Each step's logits, and each chosen token but an end of turn.
        let stopped_at_eos = out.tokens.len() < 4;
        let want = steps + steps - usize::from(stopped_at_eos);
        assert_eq!(check(&llama, &trace), want, "seed {seed}");
    }
    let blob = tiny_bert(1).to_blob();
    let (model, file) =
        (Model::load(&blob).expect("load"), ModelFile::parse(&blob).expect("parse"));
    let input = JobInput::Embed { text: "the cat sat on the mat".into() };
    let (_, trace) = model.run_keeping(&Scalar, &input, Keep::All).expect("runs");
    assert_eq!(check(&shape(&file), &trace), 0, "an encoder's schedule is decided");
}
