//! What the scheduler publishes and every part reads: connected workers per model, counters,
//! and the readable model names.

use std::{
    collections::{BTreeMap, HashMap},
    sync::RwLock,
};

use alloy_primitives::B256;

use crate::metrics::Metrics;

/// State the scheduler publishes for the HTTP handlers.
#[derive(Debug, Default)]
pub struct Shared {
    /// Model id → connected workers serving it.
    pub served: RwLock<HashMap<B256, usize>>,
    /// Counters.
    pub metrics: Metrics,
}

/// Readable model names (configuration and manifest) ↔ model ids.
#[derive(Debug, Default)]
pub struct ModelNames {
    pub(crate) by_name: BTreeMap<String, B256>,
}

impl ModelNames {
    /// The name of `id`, or its hex form.
    pub fn name_of(&self, id: B256) -> String {
        self.by_name
            .iter()
            .find(|(_, v)| **v == id)
            .map_or_else(|| id.to_string(), |(k, _)| k.clone())
    }

    /// A model id from a name or a hex id.
    pub fn resolve(&self, model: &str) -> Option<B256> {
        self.by_name.get(model).copied().or_else(|| model.parse().ok())
    }

    /// Every named id.
    pub fn ids(&self) -> impl Iterator<Item = B256> + '_ {
        self.by_name.values().copied()
    }
}
