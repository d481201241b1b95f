use assay_convert::{
    BERT_CONFIG_KEYS, dir,
    random::tiny_bert,
    record::{InputRecord, JobRecord},
};
use assay_engine::{
    job::{JobOutput, Model},
    kernels::Scalar,
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
pub(crate) fn tiny_model_dir(dir: &std::path::Path) -> dir::Manifest {
    dir::write(dir, &tiny_bert(1).to_blob(), BERT_CONFIG_KEYS).expect("write model dir")
}

/// Runs an embedding job natively and returns its record.
pub(crate) fn native_record(dir: &std::path::Path, prompt: &str) -> (JobRecord, JobOutput) {
    native_job(dir, InputRecord::Embed { prompt: prompt.into() })
}

/// Runs a job natively and returns its record.
pub(crate) fn native_job(dir: &std::path::Path, input: InputRecord) -> (JobRecord, JobOutput) {
    let m = dir::ModelDir::open(dir).expect("open");
    let model = Model::load(&m.blob).expect("load");
    let (out, _) = model.run(&Scalar, &input.to_input()).expect("run");
    let mut rec = JobRecord::new(&m.model_id, input, &out);
    rec.model_dir = Some(dir.display().to_string());
    (rec, out)
}

pub(crate) fn runtime() -> Runtime {
    Runtime::new().expect("compile the engine module")
}
