//! The deployment file `deploy` writes and every other binary reads: which chain, which block,
//! and where each contract and model is.

use std::{collections::BTreeMap, path::Path};

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

/// Errors reading or writing a deployment file.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    /// The file could not be read or written.
    #[error("deployment manifest {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a manifest.
    #[error("deployment manifest {path} is not valid: {source}")]
    Parse {
        /// The file.
        path: String,
        /// Cause.
        source: serde_json::Error,
    },
    /// A contract the caller needs is not in the manifest.
    #[error("deployment manifest has no {0} contract (re-run `deploy`)")]
    Missing(String),
}

/// A registered model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedModel {
    /// Short name (`minilm`, `smollm2`, ...).
    pub name: String,
    /// Model id (the row-by-row commitment of its blob, `ModelFile::id`).
    pub model_id: B256,
    /// Price per unit of work, in wei.
    pub price: alloy_primitives::U256,
}

/// What `deploy` wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// Chain id the contracts live on.
    pub chain_id: u64,
    /// Block the first contract was deployed in (where event scans start).
    pub deploy_block: u64,
    /// Contract name (`AssayToken`, `Staking`, `ModelRegistry`, `JobMarket`, ...) to address.
    pub contracts: BTreeMap<String, Address>,
    /// Registered models.
    #[serde(default)]
    pub models: Vec<DeployedModel>,
}

impl Deployment {
    /// Reads a deployment file.
    ///
    /// # Errors
    /// [`DeploymentError::Io`] or [`DeploymentError::Parse`].
    pub fn load(path: &Path) -> Result<Self, DeploymentError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| DeploymentError::Io { path: path.display().to_string(), source })?;
        serde_json::from_str(&text)
            .map_err(|source| DeploymentError::Parse { path: path.display().to_string(), source })
    }

    /// Writes the deployment file as pretty JSON (through a temporary file, so a crash never leaves a
    /// half-written file).
    ///
    /// # Errors
    /// [`DeploymentError::Io`].
    pub fn save(&self, path: &Path) -> Result<(), DeploymentError> {
        let io = |source| DeploymentError::Io { path: path.display().to_string(), source };
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).expect("a deployment serialises");
        std::fs::write(&tmp, text + "\n").map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// The address of contract `name`.
    ///
    /// # Errors
    /// [`DeploymentError::Missing`] when it was not deployed.
    pub fn contract(&self, name: &str) -> Result<Address, DeploymentError> {
        self.contracts.get(name).copied().ok_or_else(|| DeploymentError::Missing(name.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_loads_and_names_missing_contracts() {
        let dir = std::env::temp_dir().join(format!("assay-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("deployment.json");
        let m = Deployment {
            chain_id: 412346,
            deploy_block: 3,
            contracts: [("Staking".to_string(), Address::repeat_byte(1))].into(),
            models: vec![DeployedModel {
                name: "minilm".into(),
                model_id: B256::repeat_byte(2),
                price: alloy_primitives::U256::from(5),
            }],
        };
        m.save(&path).expect("save");
        assert_eq!(Deployment::load(&path).expect("load"), m);
        assert_eq!(m.contract("Staking").expect("present"), Address::repeat_byte(1));
        assert!(m.contract("JobMarket").unwrap_err().to_string().contains("JobMarket"));
        std::fs::write(&path, "{").expect("write");
        assert!(matches!(Deployment::load(&path), Err(DeploymentError::Parse { .. })));
        std::fs::remove_dir_all(&dir).ok();
    }
}
