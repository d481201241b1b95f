//! A side's answers over a reduction longer than a row (phases Reduction and Terms of
//! `IDisputeGame`, `contracts/dispute/src/reduction.rs`): every running accumulator of the
//! disputed element, and the one-step proofs of one term or of the element from the final
//! accumulator.

use assay_engine::{hash, trace::LeafInfo};
use assay_step::{
    attention::context_term,
    nonlin::exp_index,
    op,
    reduce::{self, State},
};

use super::{GameError, Reads, Side, cell_index};

/// Which reduction an element is, with what its terms read.
enum Reduction {
    /// `Softmax` leaf, its row, the row's length, value channel, the value head's leaves by
    /// position, llama or not.
    Context { softmax: u64, row: u64, len: u64, width: u64, channel: u64, llama: bool },
    /// Input leaf (`Scores` or `Logits`), row, width, unmasked length.
    Softmax { input: u64, row: u64, width: u64, len: u64 },
    /// The last `LayerNorm`, its rows.
    Pool { input: u64, rows: u64 },
    /// The head's `Logits`, the vocabulary.
    Choice { logits: u64, vocab: u64 },
}

impl Side<'_> {
    /// Whether the disputed leaf `leaf` is a token sampled from a `Softmax`, which the prover
    /// does not decide ([`Side::sampled_proof`] ends such a game without a verdict).
    pub fn sampled(&self, leaf: u64) -> bool {
        let info = self.trace.info();
        let at = |i: u64| usize::try_from(i).ok().and_then(|i| info.get(i));
        at(leaf).is_some_and(|l| l.op == op::TOKENS && l.layer >= 1)
            && leaf.checked_sub(1).and_then(at).is_some_and(|l| l.op == op::SOFTMAX)
    }

    /// Phase Reduction: the proof that the disputed token `leaf` was sampled (the header of the
    /// `Softmax` before it).
    ///
    /// # Errors
    /// [`GameError::NotProvable`] when it was not; [`GameError::NotKept`].
    pub fn sampled_proof(&self, leaf: u64, height: u32) -> Result<Vec<u8>, GameError> {
        if !self.sampled(leaf) {
            return Err(GameError::NotProvable { leaf, op: op::TOKENS });
        }
        self.assemble(leaf, &Reads { leaves: vec![(leaf - 1, vec![])], ..Reads::default() }, height)
    }

    /// Phases Reduction and Terms: the accumulators of element `(row, col)` of leaf `leaf`
    /// before the first term and after each (so `terms + 1` of them).
    ///
    /// # Errors
    /// [`GameError::NotProvable`] for an element that is not a reduction; [`GameError::NoLeaf`],
    /// [`GameError::NotKept`], [`GameError::NoTensor`].
    pub fn accumulators(&self, leaf: u64, at: (u64, u64)) -> Result<Vec<State>, GameError> {
        let reduction = self.reduction(leaf, at)?;
        let mut acc = match reduction {
            Reduction::Context { .. } | Reduction::Pool { .. } => reduce::sum_state(0),
            Reduction::Softmax { .. } => reduce::softmax_state(i32::MIN, 0),
            Reduction::Choice { .. } => reduce::argmax_state(None),
        };
        let terms = match reduction {
            Reduction::Context { width, .. } => width,
            Reduction::Softmax { width, .. } => 2 * width,
            Reduction::Pool { rows, .. } => rows,
            Reduction::Choice { vocab, .. } => vocab,
        };
        let lut = match reduction {
            Reduction::Softmax { .. } => self.lut_exp()?,
            _ => Vec::new(),
        };
        let mut out = Vec::with_capacity(terms as usize + 1);
        out.push(acc);
        for m in 0..terms {
            acc = self.next(&reduction, (at.1, &lut), m, &acc)?;
            out.push(acc);
        }
        Ok(out)
    }

    /// Phase Step after a reduction's phases: the proof of the accumulator after term `term`.
    ///
    /// # Errors
    /// As [`Side::accumulators`].
    pub fn term_proof(
        &self,
        leaf: u64,
        at: (u64, u64),
        term: u64,
        height: u32,
    ) -> Result<Vec<u8>, GameError> {
        let reads = match self.reduction(leaf, at)? {
            Reduction::Context { softmax, row, len, channel, llama, .. } => {
                if term >= len {
                    Reads { leaves: vec![(softmax, vec![])], config: true, ..Reads::default() }
                } else {
                    let sm = self.info(softmax)?;
                    let (value, value_row) = self.value_of(leaf, term, llama)?;
                    let mut leaves = vec![
                        (softmax, vec![cell_index(sm, row, term)]),
                        (value, vec![cell_index(self.info(value)?, value_row, channel)]),
                    ];
                    if llama {
                        leaves.push((0, vec![]));
                    }
                    Reads { leaves, config: true, ..Reads::default() }
                }
            }
            Reduction::Softmax { input, row, width, len } => {
                let (pass, pos) = if term < width { (0, term) } else { (1, term - width) };
                if pos >= len || term >= 2 * width {
                    Reads { leaves: vec![(input, vec![])], config: true, ..Reads::default() }
                } else {
                    let info = self.info(input)?;
                    let tensors = if pass == 0 {
                        vec![]
                    } else {
                        let max =
                            reduce::softmax_of(&self.accumulators(leaf, at)?[width as usize]).0;
                        let s = self.i32_at(input, (row, pos))?;
                        vec![(
                            "lut.exp".to_owned(),
                            vec![exp_index(max, s) / hash::cell_elements(4)],
                        )]
                    };
                    Reads {
                        leaves: vec![(input, vec![cell_index(info, row, pos)])],
                        tensors,
                        config: true,
                    }
                }
            }
            Reduction::Pool { input, rows } => {
                let cells = if term < rows {
                    vec![cell_index(self.info(input)?, term, at.1)]
                } else {
                    vec![]
                };
                Reads { leaves: vec![(input, cells)], ..Reads::default() }
            }
            Reduction::Choice { logits, vocab } => {
                let cells = if term < vocab {
                    vec![cell_index(self.info(logits)?, 0, term)]
                } else {
                    vec![]
                };
                Reads { leaves: vec![(logits, cells)], ..Reads::default() }
            }
        };
        self.assemble(leaf, &reads, height)
    }

    /// Phase Step after a reduction's phases, when both sides posted the same final
    /// accumulator: the proof of the element from it.
    ///
    /// # Errors
    /// As [`Side::accumulators`].
    pub fn finish_proof(
        &self,
        leaf: u64,
        at: (u64, u64),
        height: u32,
    ) -> Result<Vec<u8>, GameError> {
        let reads = match self.reduction(leaf, at)? {
            Reduction::Context { .. } => Reads::default(),
            Reduction::Softmax { input, row, width, len } => {
                let col = at.1;
                if col >= len {
                    Reads { leaves: vec![(input, vec![])], config: true, ..Reads::default() }
                } else {
                    let acc = self.accumulators(leaf, at)?;
                    let max = reduce::softmax_of(&acc[2 * width as usize]).0;
                    let s = self.i32_at(input, (row, col))?;
                    let entry = exp_index(max, s) / hash::cell_elements(4);
                    Reads {
                        leaves: vec![(input, vec![cell_index(self.info(input)?, row, col)])],
                        tensors: vec![("lut.exp".to_owned(), vec![entry])],
                        config: true,
                    }
                }
            }
            Reduction::Pool { input, .. } => {
                Reads { leaves: vec![(input, vec![])], ..Reads::default() }
            }
            Reduction::Choice { logits, .. } => {
                Reads { leaves: vec![(logits, vec![])], ..Reads::default() }
            }
        };
        self.assemble(leaf, &reads, height)
    }

    fn info(&self, leaf: u64) -> Result<&LeafInfo, GameError> {
        let leaves = self.trace.info().len();
        usize::try_from(leaf)
            .ok()
            .and_then(|i| self.trace.info().get(i))
            .ok_or(GameError::NoLeaf { leaf, leaves })
    }

    /// The `Value` leaf and row that wrote position `m` (llama: the prompt's rows in step 0,
    /// then one per step; BERT: the one three leaves back).
    fn value_of(&self, leaf: u64, m: u64, llama: bool) -> Result<(u64, u64), GameError> {
        let target = self.info(leaf)?;
        let not_provable = GameError::NotProvable { leaf, op: target.op };
        if !llama {
            return Ok((leaf.checked_sub(3).ok_or(not_provable)?, m));
        }
        let prompt_len = u64::from(self.info(0)?.dims[1]);
        let (step, row) = match m.checked_sub(prompt_len) {
            None => (0, m),
            Some(after) => (after + 1, 0),
        };
        let value =
            self.trace.info().iter().position(|v| {
                (u64::from(v.step), v.layer, v.op) == (step, target.layer, op::VALUE)
            });
        Ok((value.ok_or(not_provable)? as u64, row))
    }

    /// What element `(row, col)` of leaf `leaf` reduces over.
    fn reduction(&self, leaf: u64, (row, col): (u64, u64)) -> Result<Reduction, GameError> {
        let info = self.info(leaf)?;
        let not_provable = GameError::NotProvable { leaf, op: info.op };
        let before = leaf.checked_sub(1).ok_or(not_provable.clone())?;
        let input = self.info(before)?;
        let arch = || {
            let model = self.model.ok_or_else(|| GameError::NoTensor("config".into()))?;
            model.cfg("arch").map_err(|_| GameError::NoTensor("config".into()))
        };
        Ok(match (info.op, &input.dims[..]) {
            (op::CONTEXT, &[a, b, width]) => {
                let llama = arch()? == op::ARCH_LLAMA;
                let (a, b, width) = (u64::from(a), u64::from(b), u64::from(width));
                let (heads, len) = if llama { (b, width - a + row + 1) } else { (a, width) };
                let hd = u64::from(info.dims[1]) / heads;
                let hq = col / hd;
                let r = if llama { row * heads + hq } else { hq * u64::from(info.dims[0]) + row };
                let (value, _) = self.value_of(leaf, 0, llama)?;
                let kvd = u64::from(self.info(value)?.dims[1]);
                let group = heads / (kvd / hd);
                let channel = hq / group * hd + col % hd;
                Reduction::Context { softmax: before, row: r, len, width, channel, llama }
            }
            (op::SOFTMAX, dims) => {
                let width = u64::from(*dims.last().ok_or(not_provable)?);
                let len = match dims {
                    &[a, b, _] if arch()? == op::ARCH_LLAMA => {
                        width - u64::from(a) + row / u64::from(b) + 1
                    }
                    _ => width,
                };
                Reduction::Softmax { input: before, row, width, len }
            }
            (op::POOL, &[rows, _]) => Reduction::Pool { input: before, rows: u64::from(rows) },
            (op::TOKENS, &[1, vocab]) if info.layer >= 1 && input.op == op::LOGITS => {
                Reduction::Choice { logits: before, vocab: u64::from(vocab) }
            }
            _ => return Err(not_provable),
        })
    }

    /// The accumulator after term `m` of `reduction` from `acc`, for the element in column
    /// `col` (`lut` is the model's `lut.exp` for a softmax).
    fn next(
        &self,
        reduction: &Reduction,
        (col, lut): (u64, &[i32]),
        m: u64,
        acc: &State,
    ) -> Result<State, GameError> {
        Ok(match *reduction {
            Reduction::Context { softmax, row, len, channel, llama, .. } => {
                if m >= len {
                    return Ok(*acc);
                }
                let p =
                    u16::from_le_bytes(self.element(softmax, (row, m))?.try_into().expect("u16"));
                let (value, value_row) = self.value_of(softmax + 1, m, llama)?;
                let v = self.i32_at(value, (value_row, channel))?;
                reduce::sum_state(reduce::sum_of(acc).wrapping_add(context_term(p, v)))
            }
            Reduction::Softmax { input, row, width, len } => {
                let (max, sum) = reduce::softmax_of(acc);
                let (pass, at) = if m < width { (0, m) } else { (1, m - width) };
                if at >= len || m >= 2 * width {
                    return Ok(*acc);
                }
                let s = self.i32_at(input, (row, at))?;
                if pass == 0 {
                    reduce::softmax_state(max.max(s), sum)
                } else {
                    let e = lut
                        .get(exp_index(max, s))
                        .ok_or_else(|| GameError::NoTensor("lut.exp".into()))?;
                    reduce::softmax_state(max, sum.wrapping_add(i64::from(*e)))
                }
            }
            Reduction::Pool { input, rows } => {
                if m >= rows {
                    return Ok(*acc);
                }
                let x = self.i32_at(input, (m, col))?;
                reduce::sum_state(reduce::sum_of(acc).wrapping_add(i64::from(x)))
            }
            Reduction::Choice { logits, vocab } => {
                if m >= vocab {
                    return Ok(*acc);
                }
                let v = self.i32_at(logits, (0, m))?;
                reduce::argmax_state(reduce::argmax_step(reduce::argmax_of(acc), m as u32, v))
            }
        })
    }

    /// Element `(row, col)` of leaf `leaf`, its bytes.
    fn element(&self, leaf: u64, (row, col): (u64, u64)) -> Result<&[u8], GameError> {
        let (info, data) = self.output(leaf)?;
        let size = info.element_size();
        let at = (row as usize * info.row_len() + col as usize) * size;
        let none = GameError::NoNode { level: 0, index: col, width: info.row_len() as u64 };
        data.get(at..at + size).ok_or(none)
    }

    fn lut_exp(&self) -> Result<Vec<i32>, GameError> {
        let no = || GameError::NoTensor("lut.exp".into());
        let model = self.model.ok_or_else(no)?;
        model.i32s("lut.exp", &[assay_step::nonlin::LUT_LEN]).map_err(|_| no())
    }
}
