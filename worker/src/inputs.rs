//! The inputs of the jobs this worker ran, kept on disk so that it can replay any of them in a
//! dispute game, also after a restart: `<state dir>/inputs/<model id>/<input root>.json`, each a
//! [`JobSpec`]. A job is found by what the chain records of it (`JobMarket.job`: its model and
//! input root); the engine is deterministic, so the same input replays the same trace.

use std::path::{Path, PathBuf};

use alloy_primitives::B256;
use assay_protocol::job::JobSpec;

use crate::error::Error;

/// The inputs kept under one state directory.
#[derive(Debug, Clone)]
pub struct Inputs {
    dir: PathBuf,
}

impl Inputs {
    /// The inputs under `state_dir` (created when missing).
    ///
    /// # Errors
    /// [`Error::Usage`] when the directory cannot be created.
    pub fn open(state_dir: &Path) -> Result<Self, Error> {
        let dir = state_dir.join("inputs");
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::Usage(format!("cannot create the state directory {}: {e}", dir.display()))
        })?;
        Ok(Self { dir })
    }

    fn path(&self, model_id: B256, input_root: B256) -> PathBuf {
        self.dir.join(model_id.to_string()).join(format!("{input_root}.json"))
    }

    /// Keeps `spec`, run on model `model_id` (written to a temporary file, then renamed, so a
    /// crash never leaves half a file).
    ///
    /// # Errors
    /// The I/O error, as text.
    pub fn save(&self, model_id: B256, spec: &JobSpec) -> Result<(), String> {
        let path = self.path(model_id, spec.input_root());
        if path.exists() {
            return Ok(());
        }
        let parent = path.parent().expect("a model directory");
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        let tmp = path.with_extension("json.tmp");
        let json = serde_json::to_vec(spec).expect("a spec serialises");
        std::fs::write(&tmp, json).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The input with root `input_root` run on model `model_id`, if this worker kept it (a file
    /// whose input does not hash to its name is ignored).
    pub fn load(&self, model_id: B256, input_root: B256) -> Option<JobSpec> {
        let bytes = std::fs::read(self.path(model_id, input_root)).ok()?;
        let spec: JobSpec = serde_json::from_slice(&bytes).ok()?;
        (spec.input_root() == input_root).then_some(spec)
    }
}

#[cfg(test)]
mod tests {
    use assay_engine::chat::Message;

    use super::*;

    #[test]
    fn inputs_are_found_by_model_and_input_root_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (model, other) = (B256::repeat_byte(1), B256::repeat_byte(2));
        let spec = JobSpec::Generate {
            messages: vec![Message::user("the weather is")],
            max_tokens: 4,
            seed: 7,
        };
        let inputs = Inputs::open(dir.path()).unwrap();
        inputs.save(model, &spec).unwrap();
        inputs.save(model, &spec).unwrap();

        let reopened = Inputs::open(dir.path()).unwrap();
        assert_eq!(reopened.load(model, spec.input_root()), Some(spec.clone()));
        assert_eq!(reopened.load(other, spec.input_root()), None, "another model's");
        assert_eq!(reopened.load(model, B256::repeat_byte(3)), None, "another input");

        // A file edited on disk no longer matches its name: it is not replayed.
        let path = reopened.path(model, spec.input_root());
        let edited = String::from_utf8(std::fs::read(&path).unwrap()).unwrap().replace('4', "5");
        std::fs::write(&path, edited).unwrap();
        assert_eq!(reopened.load(model, spec.input_root()), None);
    }
}
