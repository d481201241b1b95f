//! The polling filters a node has installed (what each watches, the last block it reported),
//! below both the node that owns them and the `eth_*Filter*` methods of [`super::filters`].

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use alloy_rpc_types_eth::Filter;
use serde_json::{Value, json};

/// What a filter watches and the last block it reported.
#[derive(Clone, Debug)]
pub(super) enum Watch {
    Blocks,
    Logs(Box<Filter>),
}

#[derive(Clone, Debug)]
pub(super) struct Installed {
    pub(super) watch: Watch,
    pub(super) last_seen: u64,
}

/// The installed filters of a node.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filters {
    inner: Arc<Mutex<(u64, HashMap<u64, Installed>)>>,
}

impl Filters {
    pub(super) fn install(&self, watch: Watch, latest: u64) -> Value {
        let mut guard = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.0 += 1;
        let id = guard.0;
        guard.1.insert(id, Installed { watch, last_seen: latest });
        json!(format!("{id:#x}"))
    }

    pub(super) fn get(&self, id: u64) -> Option<Installed> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner).1.get(&id).cloned()
    }

    pub(super) fn advance(&self, id: u64, to: u64) {
        if let Some(filter) =
            self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner).1.get_mut(&id)
        {
            filter.last_seen = to;
        }
    }

    pub(super) fn remove(&self, id: u64) -> bool {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner).1.remove(&id).is_some()
    }
}
