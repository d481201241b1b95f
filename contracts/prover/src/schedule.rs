//! The schedule check's inputs: the model's shape from its config leaf (the schedule itself is
//! `assay_step::schedule`, which the engine's traces are tested against).

use assay_step::{op, schedule::Shape};

use crate::proof::Config;

/// The model's shape from its opened config leaf.
pub fn shape(config: &Config<'_>) -> Option<Shape> {
    let value = |name: &[u8]| u32::try_from(config.value(name)?).ok();
    let llama = match config.value(b"arch")? {
        op::ARCH_LLAMA => true,
        op::ARCH_BERT => false,
        _ => return None,
    };
    let (hidden, heads) = (value(b"hidden")?, value(b"heads")?);
    let kv_width =
        if llama { hidden.checked_div(heads)?.checked_mul(value(b"kv_heads")?)? } else { hidden };
    let eos = if llama { value(b"eos")? } else { 0 };
    Some(Shape {
        llama,
        layers: value(b"layers")?,
        hidden,
        heads,
        kv_width,
        ffn: value(b"ffn")?,
        vocab: value(b"vocab")?,
        eos,
    })
}
