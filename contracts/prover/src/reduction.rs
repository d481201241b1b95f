//! One step of a reduction longer than a row (`crates/engine/TRACE.md`, "Narrowing"): the
//! accumulator after one term from the agreed one before it, or the element from the agreed
//! final accumulator. The terms, by the disputed leaf's op:
//!
//! - `Context` element `(i, c)`: term `m` is `context_term(p, v)`, the probability of position
//!   `m` in the `Softmax` leaf just before (row `(i, head)`) times channel `c`'s value of
//!   position `m` (its key/value head's channel of the `Value` leaf that wrote it, as
//!   `proof::scores` finds keys); a position after the causal mask's `p0 + i` adds nothing.
//!   There are as many terms as the softmax row is wide; the element is `context_element(sum)`.
//! - `Softmax` element `(r, j)`: `2·W` terms over the row of `W` inputs (the `Scores` or head
//!   `Logits` leaf just before): the first `W` take the running maximum, the next `W` add the
//!   `lut.exp` entries; masked positions add nothing. The element is `softmax_element` of its own
//!   input's entry and the sum.
//! - `Pool` element `c`: term `m` adds element `(m, c)` of the last `LayerNorm` (just before);
//!   the element is `pool_element(sum, rows)`.
//! - A chosen token (the head's `Tokens`): term `m` is `argmax_step` over logit `m` of the
//!   `Logits` leaf just before; the element is the index chosen. A token sampled from a `Softmax`
//!   is not decided (`sampled`).
//!
//! Terms past a reduction's length leave the accumulator as it is, so any count at least the
//! real one gives the same final accumulator.

use assay_step::{
    attention,
    nonlin::{self, LUT_LEN},
    op,
    reduce::{self, Kind, State},
};

use crate::proof::{Opened, Openings, Target};

/// The accumulator after term `m` from `acc`, the one before it; `None` when the openings are not
/// the term's inputs.
pub fn term(target: &Target, m: u64, acc: &State, o: &Openings<'_>) -> Option<State> {
    match Kind::of(&target.header)? {
        Kind::Context => context_term(target, m, acc, o),
        Kind::Softmax => softmax_term(target, m, acc, o),
        Kind::Pool => {
            let (input, rows) = pool_input(target, o)?;
            if m >= rows {
                return Some(*acc);
            }
            let x = input.cells.i32_at(m, target.col)?;
            Some(reduce::sum_state(reduce::sum_of(acc).wrapping_add(i64::from(x))))
        }
        Kind::Choice => {
            let logits = choice_input(target, o)?;
            let [1, vocab] = logits.leaf.dims() else { return None };
            if m >= u64::from(*vocab) {
                return Some(*acc);
            }
            let v = logits.cells.i32_at(0, m)?;
            let best = reduce::argmax_step(reduce::argmax_of(acc), u32::try_from(m).ok()?, v);
            Some(reduce::argmax_state(best))
        }
    }
}

/// The element from the final accumulator `acc`, little endian.
pub fn finish(target: &Target, acc: &State, o: &Openings<'_>) -> Option<alloc::vec::Vec<u8>> {
    Some(match Kind::of(&target.header)? {
        Kind::Context => {
            (o.leaves.is_empty() && o.model.is_empty() && o.config.is_none()).then_some(())?;
            attention::context_element(reduce::sum_of(acc)).to_le_bytes().to_vec()
        }
        Kind::Softmax => {
            let row = softmax_row(target, o)?;
            let (max, sum) = reduce::softmax_of(acc);
            let p = if target.col >= row.len {
                (o.model.is_empty()).then_some(0)?
            } else {
                let s = row.input.cells.i32_at(target.row, target.col)?;
                nonlin::softmax_element(exp_entry(o, max, s)?, sum)
            };
            p.to_le_bytes().to_vec()
        }
        Kind::Pool => {
            let (input, rows) = pool_input(target, o)?;
            (input.cells.opened.is_empty() && rows > 0).then_some(())?;
            let sum = reduce::sum_of(acc);
            nonlin::pool_element(sum, i64::try_from(rows).ok()?).to_le_bytes().to_vec()
        }
        Kind::Choice => {
            choice_input(target, o)?.cells.opened.is_empty().then_some(())?;
            let chosen = reduce::argmax_of(acc).map_or(0, |(i, _)| i);
            chosen.to_le_bytes().to_vec()
        }
    })
}

/// Whether the openings show that the disputed token was sampled from a `Softmax` (the leaf just
/// before it), which the prover does not decide: the game then ends without a verdict.
pub fn sampled(target: &Target, o: &Openings<'_>) -> bool {
    let ([before], [], None) = (o.leaves.as_slice(), o.model.as_slice(), o.config) else {
        return false;
    };
    Kind::of(&target.header) == Some(Kind::Choice)
        && before.index.checked_add(1) == Some(target.leaf)
        && before.leaf.op == op::SOFTMAX
        && before.leaf.step == target.header.step
}

/// The leaf just before the target, of op `code` in the same step and layer.
fn just_before<'o, 'a>(target: &Target, leaf: &'o Opened<'a>, code: u32) -> Option<&'o Opened<'a>> {
    let (t, l) = (&target.header, &leaf.leaf);
    (leaf.index.checked_add(1) == Some(target.leaf)
        && l.op == code
        && (l.step, l.layer) == (t.step, t.layer)
        && l.dtype == op::DTYPE_I32)
        .then_some(leaf)
}

/// Pool's input (the last `LayerNorm`, just before) and its number of rows.
fn pool_input<'o, 'a>(target: &Target, o: &'o Openings<'a>) -> Option<(&'o Opened<'a>, u64)> {
    let ([input], [], None) = (o.leaves.as_slice(), o.model.as_slice(), o.config) else {
        return None;
    };
    let t = &target.header;
    let ([1, h], [rows, in_h]) = (t.dims(), input.leaf.dims()) else { return None };
    let l = &input.leaf;
    (input.index.checked_add(1) == Some(target.leaf)
        && l.op == op::LAYER_NORM
        && l.step == t.step
        && l.dtype == op::DTYPE_I32
        && in_h == h)
        .then_some((input, u64::from(*rows)))
}

/// A greedy choice's input: the head's `Logits`, just before.
fn choice_input<'o, 'a>(target: &Target, o: &'o Openings<'a>) -> Option<&'o Opened<'a>> {
    let ([logits], [], None) = (o.leaves.as_slice(), o.model.as_slice(), o.config) else {
        return None;
    };
    (target.header.dims() == [1, 1]).then_some(())?;
    just_before(target, logits, op::LOGITS)
}

/// A softmax row: its input leaf (`Scores`, or the head's `Logits`), its width and how many of
/// its positions are not masked.
struct SoftmaxRow<'o, 'a> {
    input: &'o Opened<'a>,
    width: u64,
    len: u64,
}

/// The target's softmax row. llama's attention rows `[t, heads, p0 + t]` are causal (row
/// `i · heads + head` reads `p0 + i + 1` positions); BERT's `[heads, t, t]` and the head's
/// `[1, V]` are not. The config's `arch` tells the two attentions apart.
fn softmax_row<'o, 'a>(target: &Target, o: &'o Openings<'a>) -> Option<SoftmaxRow<'o, 'a>> {
    let ([input, ..], Some(config)) = (o.leaves.as_slice(), o.config) else { return None };
    let t = &target.header;
    (o.leaves.len() == 1 && input.leaf.dims() == t.dims()).then_some(())?;
    let width = u64::from(*t.dims().last()?);
    let len = match t.dims() {
        [1, _] => {
            just_before(target, input, op::LOGITS)?;
            width
        }
        [rows, heads, _] => {
            just_before(target, input, op::SCORES)?;
            match config.value(b"arch")? {
                op::ARCH_BERT => width,
                op::ARCH_LLAMA => {
                    let p0 = width.checked_sub(u64::from(*rows))?;
                    let i = target.row.checked_div(u64::from(*heads))?;
                    p0.checked_add(i)?.checked_add(1)?
                }
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(SoftmaxRow { input, width, len })
}

/// The `lut.exp` entry of score `s` in a row whose maximum is `max` (the one model opening).
fn exp_entry(o: &Openings<'_>, max: i32, s: i32) -> Option<i32> {
    let [lut] = o.model.as_slice() else { return None };
    (lut.is(b"lut.exp", op::DTYPE_I32, &[LUT_LEN as u32])).then_some(())?;
    lut.cells.i32_at(0, nonlin::exp_index(max, s) as u64)
}

fn softmax_term(target: &Target, m: u64, acc: &State, o: &Openings<'_>) -> Option<State> {
    let row = softmax_row(target, o)?;
    let (max, sum) = reduce::softmax_of(acc);
    // The first pass takes the maximum, the second sums the table entries.
    let (pass, at) = match m.checked_sub(row.width) {
        None => (0, m),
        Some(at) => (1, at),
    };
    if at >= row.len || m >= row.width.checked_mul(2)? {
        return (o.model.is_empty()).then_some(*acc);
    }
    let s = row.input.cells.i32_at(target.row, at)?;
    if pass == 0 {
        return (o.model.is_empty()).then_some(reduce::softmax_state(max.max(s), sum));
    }
    let e = exp_entry(o, max, s)?;
    Some(reduce::softmax_state(max, sum.wrapping_add(i64::from(e))))
}

/// Context: the `Softmax` just before (the probability of position `m`), the `Value` leaf that
/// wrote position `m` (llama: the prompt's `Tokens` header as the third opening) and the config.
fn context_term(target: &Target, m: u64, acc: &State, o: &Openings<'_>) -> Option<State> {
    let (Some(config), [], [softmax, rest @ ..]) =
        (o.config, o.model.as_slice(), o.leaves.as_slice())
    else {
        return None;
    };
    let t = &target.header;
    let (s, llama) = (&softmax.leaf, config.value(b"arch")? == op::ARCH_LLAMA);
    let ([rows, h], [a, b, width]) = (t.dims(), s.dims()) else { return None };
    (softmax.index.checked_add(1) == Some(target.leaf)
        && s.op == op::SOFTMAX
        && (s.step, s.layer) == (t.step, t.layer)
        && s.dtype == op::DTYPE_U16
        && t.layer >= 1)
        .then_some(())?;
    let (i, c) = (target.row, target.col);
    let (heads, len) = if llama {
        // [t, heads, p0 + t]
        (*a == *rows).then_some(())?;
        let p0 = u64::from(width.checked_sub(*a)?);
        (*b, p0.checked_add(i)?.checked_add(1)?)
    } else {
        // [heads, t, t]
        (*b == *rows && *width == *rows).then_some(())?;
        (*a, u64::from(*width))
    };
    let hd = h.checked_div(heads).filter(|hd| hd.checked_mul(heads) == Some(*h))?;
    let hq = u32::try_from(c).ok()?.checked_div(hd)?;
    if m >= len {
        return rest.is_empty().then_some(*acc);
    }
    let r = if llama {
        i.checked_mul(u64::from(heads))?.checked_add(u64::from(hq))?
    } else {
        u64::from(hq).checked_mul(u64::from(*rows))?.checked_add(i)?
    };
    let p = u16::from_le_bytes(softmax.cells.element(r, m)?.try_into().ok()?);
    let (value, value_row) = match (rest, llama) {
        ([value, prompt], true) => {
            let [1, prompt_len] = prompt.leaf.dims() else { return None };
            (prompt.index == 0 && prompt.leaf.op == op::TOKENS && prompt.leaf.step == 0)
                .then_some(())?;
            let (step, row) = match m.checked_sub(u64::from(*prompt_len)) {
                None => (0, m),
                Some(after) => (u32::try_from(after.checked_add(1)?).ok()?, 0),
            };
            (value.leaf.step == step).then_some((value, row))?
        }
        ([value], false) => (value.index.checked_add(3) == Some(target.leaf)
            && value.leaf.step == t.step)
            .then_some((value, m))?,
        _ => return None,
    };
    let v = &value.leaf;
    let [_, kvd] = v.dims() else { return None };
    (v.op == op::VALUE && v.layer == t.layer && v.dtype == op::DTYPE_I32).then_some(())?;
    let group = heads.checked_div(kvd.checked_div(hd)?)?;
    let channel = hq
        .checked_div(group)?
        .checked_mul(hd)?
        .checked_add(u32::try_from(c).ok()?.checked_rem(hd)?)?;
    let x = value.cells.i32_at(value_row, u64::from(channel))?;
    let sum = reduce::sum_of(acc).wrapping_add(attention::context_term(p, x));
    Some(reduce::sum_state(sum))
}
