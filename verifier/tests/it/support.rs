use assay_convert::{BERT_CONFIG_KEYS, random::tiny_bert};
use assay_engine::{
    job::{JobOutput, Model},
    kernels::Scalar,
};
use assay_protocol::{
    job::{JobFile, JobSpec},
    model_dir::{ModelDir, ModelManifest},
};
use assay_verifier::runtime::Runtime;

/// A fresh temporary directory for one test.
pub(crate) fn tmp(name: &str) -> TmpDir {
    let dir = tempfile::Builder::new().prefix(&format!("assay-verifier-{name}-")).tempdir();
    TmpDir(dir.expect("temporary directory"))
}

/// A temporary directory removed when dropped (also when the test fails); derefs to its path.
pub(crate) struct TmpDir(tempfile::TempDir);

impl std::ops::Deref for TmpDir {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        self.0.path()
    }
}

/// Writes the seeded tiny BERT to a model directory and returns its manifest.
pub(crate) fn tiny_model_dir(dir: &std::path::Path) -> ModelManifest {
    ModelDir::write(dir, &tiny_bert(1).to_blob(), BERT_CONFIG_KEYS).expect("write model dir")
}

/// Runs an embedding job natively and returns its job file.
pub(crate) fn native_record(dir: &std::path::Path, prompt: &str) -> (JobFile, JobOutput) {
    native_job(dir, JobSpec::Embed { prompt: prompt.into() })
}

/// Runs a job natively and returns its job file.
pub(crate) fn native_job(dir: &std::path::Path, input: JobSpec) -> (JobFile, JobOutput) {
    let m = ModelDir::open(dir).expect("open");
    let model = Model::load(&m.blob).expect("load");
    let (out, _) = model.run(&Scalar, &input.to_input()).expect("run");
    let mut rec = JobFile::new(m.model_id, input, &out);
    rec.model_dir = Some(dir.display().to_string());
    (rec, out)
}

pub(crate) fn runtime() -> Runtime {
    Runtime::new().expect("compile the engine module")
}
