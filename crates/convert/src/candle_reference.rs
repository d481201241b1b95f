//! Float32 reference forward passes through candle-transformers (feature `candle-reference`):
//! its BERT on a Hugging Face safetensors folder and its quantized llama on a GGUF file, on
//! candle's CPU device. An independent check on the integer engine next to [`crate::reference`];
//! never used to produce a hashed value.

use std::{io::Cursor, path::Path};

use candle_core::{
    D, DType, Device, IndexOp, Tensor,
    quantized::{GgmlDType, QTensor, gguf_file},
};
use candle_nn::VarBuilder;
use candle_transformers::models::{
    bert::{BertModel, Config},
    quantized_llama::ModelWeights,
};

use crate::{Error, Result};

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Io(path.display().to_string(), e))
}

/// candle-transformers' `BertModel` with the sentence-transformers pooling (mean over the
/// tokens, L2 normalisation).
pub struct CandleBert {
    model: BertModel,
}

impl CandleBert {
    /// Loads `config.json` and `model.safetensors` from a Hugging Face BERT folder.
    ///
    /// # Errors
    /// [`Error::Io`] for unreadable files, [`Error::Source`] for a bad config,
    /// [`Error::Candle`] when candle rejects the weights.
    pub fn load(dir: &Path) -> Result<Self> {
        let config: Config = serde_json::from_slice(&read(&dir.join("config.json"))?)
            .map_err(|e| Error::Source(format!("config.json: {e}")))?;
        let vb = VarBuilder::from_buffered_safetensors(
            read(&dir.join("model.safetensors"))?,
            DType::F32,
            &Device::Cpu,
        )?;
        Ok(Self { model: BertModel::load(vb, &config)? })
    }

    /// Sentence embedding of `tokens` (already tokenized, with `[CLS]` and `[SEP]`).
    ///
    /// # Errors
    /// [`Error::Candle`] when the forward pass fails.
    pub fn embed(&self, tokens: &[u32]) -> Result<Vec<f32>> {
        let ids = Tensor::new(tokens, &Device::Cpu)?.unsqueeze(0)?;
        let hidden = self.model.forward(&ids, &ids.zeros_like()?, None)?;
        let mean = hidden.mean(1)?.squeeze(0)?;
        let norm = mean.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?.max(1e-12);
        Ok((mean / f64::from(norm))?.to_vec1()?)
    }
}

/// candle-transformers' quantized llama on a GGUF file whose tensors were all dequantized to
/// f32 first, so every matmul is a candle f32 matmul on the file's exact weights.
pub struct CandleLlama {
    model: ModelWeights,
}

impl CandleLlama {
    /// Reads a llama GGUF file and dequantizes its tensors to f32.
    ///
    /// # Errors
    /// [`Error::Io`] for an unreadable file, [`Error::Candle`] when candle rejects it.
    pub fn from_gguf(path: &Path) -> Result<Self> {
        let mut src = Cursor::new(read(path)?);
        let content = gguf_file::Content::read(&mut src)?;
        let mut names: Vec<&String> = content.tensor_infos.keys().collect();
        names.sort();
        let tensors = names
            .iter()
            .map(|n| {
                let t = content.tensor(&mut src, n, &Device::Cpu)?.dequantize(&Device::Cpu)?;
                QTensor::quantize(&t, GgmlDType::F32)
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let metadata: Vec<(&str, &gguf_file::Value)> =
            content.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let named: Vec<(&str, &QTensor)> =
            names.iter().map(|n| n.as_str()).zip(tensors.iter()).collect();
        let mut f32_file = Cursor::new(Vec::new());
        gguf_file::write(&mut f32_file, &metadata, &named)?;
        drop(tensors);
        f32_file.set_position(0);
        let content = gguf_file::Content::read(&mut f32_file)?;
        Ok(Self { model: ModelWeights::from_gguf(content, &mut f32_file, &Device::Cpu)? })
    }

    /// Greedy next token at every position of `tokens`, fed one token at a time through the KV
    /// cache (teacher forcing; the same work as generating `tokens`).
    ///
    /// # Errors
    /// [`Error::Candle`] when the forward pass fails.
    pub fn next_tokens(&mut self, tokens: &[u32]) -> Result<Vec<u32>> {
        self.model.clear_kv_cache();
        tokens
            .iter()
            .enumerate()
            .map(|(pos, &t)| {
                let logits = self.model.forward(&Tensor::new(&[[t]], &Device::Cpu)?, pos)?;
                Ok(logits.i(0)?.argmax(D::Minus1)?.to_scalar::<u32>()?)
            })
            .collect()
    }
}
