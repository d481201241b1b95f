//! The workers as child processes: each runs the real `worker run` binary under a memory limit
//! (`RLIMIT_AS`, so a runaway allocation aborts that worker and nothing else), with its output in
//! a log file; a worker that exits is restarted after a short delay (at most
//! [`MAX_RESTARTS_PER_MINUTE`] a minute); [`Supervisor::stop`] sends SIGTERM (the worker finishes
//! or hands back its in-flight jobs), then SIGKILL after [`STOP_GRACE`]. A child dies with the
//! devnet (`PR_SET_PDEATHSIG`), so none is left behind even when the devnet itself is killed.

use std::{
    collections::VecDeque,
    ffi::OsString,
    fmt::Write as _,
    os::unix::process::ExitStatusExt,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use eyre::{Result, WrapErr, bail};
use tokio::{process::Child, task::JoinHandle, time::Instant};
use tokio_util::sync::CancellationToken;

/// Restarts of one worker allowed within a minute; past that the next start waits.
pub const MAX_RESTARTS_PER_MINUTE: usize = 5;
/// Delay before a worker that exited is started again.
pub const RESTART_DELAY: Duration = Duration::from_secs(1);
/// How long a worker has to exit after SIGTERM before it is killed (its own grace for in-flight
/// jobs is 10 s).
pub const STOP_GRACE: Duration = Duration::from_secs(15);

/// The default memory limit of a worker process: a worker serving the bundled models peaks at
/// about 0.5 GiB of it (see `deploy/README.md` for the measurement); the rest is headroom.
pub const DEFAULT_MEMORY_LIMIT: &str = "4GiB";

/// Parses a size such as `4GiB`, `512MiB`, `4G` or a plain number of bytes (binary units, case
/// ignored); at least 64 MiB.
///
/// # Errors
/// A message naming what is wrong with `text`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: u64 =
        number.parse().map_err(|_| format!("`{text}` is not a size such as 4GiB or 512MiB"))?;
    let shift = match unit.trim() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => return Err(format!("`{other}` in `{text}` is not a unit (KiB, MiB, GiB, TiB)")),
    };
    let bytes = number.checked_mul(1 << shift).ok_or_else(|| format!("`{text}` is too large"))?;
    if bytes < 64 << 20 {
        return Err(format!("`{text}` is below 64 MiB: no worker runs in that"));
    }
    Ok(bytes)
}

/// A size in bytes as GiB or MiB, as people write it.
pub fn show_size(bytes: u64) -> String {
    if bytes.is_multiple_of(1 << 30) {
        format!("{} GiB", bytes >> 30)
    } else if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
    } else {
        format!("{} MiB", bytes >> 20)
    }
}

/// The `worker` binary: `given` (`--worker-bin` / `ASSAY_WORKER_BIN`), else `worker` next to this
/// executable or one folder up (test binaries live in `target/<profile>/deps`).
///
/// # Errors
/// When the file is not there, with the command that builds it.
pub fn find_worker_bin(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = given {
        if !path.is_file() {
            bail!(
                "the worker binary {} (--worker-bin / ASSAY_WORKER_BIN) does not exist",
                path.display()
            );
        }
        return Ok(path.to_path_buf());
    }
    let exe = std::env::current_exe().wrap_err("locating the devnet executable")?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let candidates: Vec<PathBuf> =
        [Some(dir), dir.parent()].into_iter().flatten().map(|d| d.join("worker")).collect();
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    bail!(
        "the worker binary is missing (looked for {}): build it with `cargo build -p assay-worker \
         --bin worker` (add --release for a release devnet), or name it with --worker-bin or \
         ASSAY_WORKER_BIN",
        looked.join(" and ")
    )
}

/// How to run one worker process.
#[derive(Debug, Clone)]
pub struct Spec {
    /// What messages call it (`worker 0`, `arbitrator`).
    pub name: String,
    /// The `worker` binary.
    pub bin: PathBuf,
    /// Its arguments (`run ...`).
    pub args: Vec<OsString>,
    /// Address-space limit in bytes (`RLIMIT_AS`).
    pub memory_limit: u64,
    /// File its stdout and stderr are appended to.
    pub log: PathBuf,
}

/// What the supervisor knows of one worker process.
#[derive(Debug, Default, Clone)]
pub struct State {
    /// The running process's id.
    pub pid: Option<u32>,
    /// Processes started so far.
    pub starts: u32,
    /// How each earlier process ended (or why it could not start).
    pub exits: Vec<String>,
}

struct Supervised {
    spec: Spec,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

/// The worker processes of a network and their supervising tasks.
pub struct Supervisor {
    workers: Vec<Supervised>,
    stop: CancellationToken,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Supervisor {
    /// Starts one supervised process per spec (each restarted whenever it exits, until
    /// [`Supervisor::stop`]).
    pub fn start(specs: Vec<Spec>) -> Self {
        let stop = CancellationToken::new();
        let workers = specs
            .into_iter()
            .map(|spec| {
                let state = Arc::new(Mutex::new(State::default()));
                let task = tokio::spawn(supervise(spec.clone(), state.clone(), stop.child_token()));
                Supervised { spec, state, task }
            })
            .collect();
        Self { workers, stop }
    }

    /// Worker `index`'s state now.
    ///
    /// # Panics
    /// When there is no such worker.
    pub fn state(&self, index: usize) -> State {
        lock(&self.workers[index].state).clone()
    }

    /// What messages call process `index` (`worker 0`, `arbitrator`).
    ///
    /// # Panics
    /// When there is no such process.
    pub fn name(&self, index: usize) -> &str {
        &self.workers[index].spec.name
    }

    /// Worker `index`'s log file.
    ///
    /// # Panics
    /// When there is no such worker.
    pub fn log(&self, index: usize) -> &Path {
        &self.workers[index].spec.log
    }

    /// The first worker that has exited, with how (for start-up, when none should have).
    pub fn first_exit(&self) -> Option<(usize, String)> {
        self.workers
            .iter()
            .enumerate()
            .find_map(|(i, w)| lock(&w.state).exits.first().map(|how| (i, how.clone())))
    }

    /// Stops every worker: SIGTERM, SIGKILL after [`STOP_GRACE`]; returns once all have exited.
    pub async fn stop(self) {
        self.stop.cancel();
        for w in self.workers {
            w.task.await.ok();
        }
    }
}

/// The last `lines` lines of a log file, indented, for an error message.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned());
    let Ok(text) = text else { return String::new() };
    let all: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for line in &all[all.len().saturating_sub(lines)..] {
        writeln!(out, "      | {line}").ok();
    }
    out
}

/// How a worker process ended, in words.
pub fn describe(status: ExitStatus, memory_limit: u64) -> String {
    let limit = show_size(memory_limit);
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(libc::SIGKILL)) => format!(
            "killed by signal 9 (SIGKILL: the kernel's OOM killer or a kill -9; memory limit \
             {limit}?)"
        ),
        (None, Some(libc::SIGABRT)) => format!(
            "killed by signal 6 (SIGABRT: an abort, such as an allocation refused at the memory \
             limit {limit}?)"
        ),
        (None, Some(libc::SIGSEGV)) => {
            "killed by signal 11 (SIGSEGV: a crash, or a stack overflow)".to_string()
        }
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

fn spawn(spec: &Spec) -> Result<Child> {
    if let Some(dir) = spec.log.parent() {
        std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log)
        .wrap_err_with(|| format!("opening {}", spec.log.display()))?;
    let mut cmd = tokio::process::Command::new(&spec.bin);
    cmd.args(&spec.args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: a Ctrl-C in the terminal reaches the devnet, which stops the
        // workers itself, not the workers directly (they would exit under its supervision).
        .process_group(0)
        .kill_on_drop(true);
    // Settings meant for a worker started by hand must not override the ones given here.
    for var in ["ASSAY_WORKER_PRIVATE_KEY", "ASSAY_KEYSTORE_PASSWORD", "ASSAY_WORKER_SLOTS"] {
        cmd.env_remove(var);
    }
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "info");
    }
    // A log file, not a terminal: no colour codes.
    cmd.env("NO_COLOR", "1");
    // glibc reserves 64 MiB of address space per malloc arena (up to 8 per core): with many
    // cores that alone could exhaust an address-space limit sized for the models.
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        cmd.env("MALLOC_ARENA_MAX", "4");
    }
    let limit = spec.memory_limit;
    let parent = std::process::id();
    // SAFETY: between fork and exec the closure only makes async-signal-safe system calls
    // (`setrlimit`, `open`, `write`, `close`, `prctl`, `getppid`) and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let rlimit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
            if libc::setrlimit(libc::RLIMIT_AS, &rlimit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Should the machine itself run out of memory, the kernel's OOM killer picks a
            // worker first, never the devnet (best effort: raising one's own score needs no
            // privilege).
            let fd = libc::open(c"/proc/self/oom_score_adj".as_ptr(), libc::O_WRONLY);
            if fd >= 0 {
                libc::write(fd, b"1000".as_ptr().cast(), 4);
                libc::close(fd);
            }
            // SIGKILL when the devnet dies (the thread that forked it, strictly: a tokio worker
            // thread, which lives as long as the runtime).
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The devnet may have died before the line above took effect.
            if libc::getppid() != parent as libc::pid_t {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    cmd.spawn().wrap_err_with(|| format!("starting {}", spec.bin.display()))
}

/// SIGTERM, then SIGKILL after [`STOP_GRACE`]; waits for the exit.
async fn stop_child(child: &mut Child, name: &str) {
    let Some(pid) = child.id() else { return };
    // SAFETY: plain system call on the child's pid, which is not reaped until `wait` below.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_err() {
        eprintln!("{name} did not exit within {STOP_GRACE:?} of SIGTERM: killing it");
        child.kill().await.ok();
    }
}

async fn supervise(spec: Spec, state: Arc<Mutex<State>>, stop: CancellationToken) {
    let name = spec.name.clone();
    let mut starts: VecDeque<Instant> = VecDeque::new();
    loop {
        let now = Instant::now();
        while starts.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
            starts.pop_front();
        }
        if starts.len() >= MAX_RESTARTS_PER_MINUTE {
            let wait = Duration::from_secs(60) - now.duration_since(starts[0]);
            eprintln!(
                "{name}: started {MAX_RESTARTS_PER_MINUTE} times within a minute; next \
                 start in {}s",
                wait.as_secs()
            );
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stop.cancelled() => return,
            }
        }
        starts.push_back(Instant::now());
        let how = match spawn(&spec) {
            Ok(mut child) => {
                {
                    let mut s = lock(&state);
                    s.pid = child.id();
                    s.starts += 1;
                }
                let status = tokio::select! {
                    status = child.wait() => status,
                    () = stop.cancelled() => {
                        stop_child(&mut child, &name).await;
                        lock(&state).pid = None;
                        return;
                    }
                };
                lock(&state).pid = None;
                match status {
                    Ok(status) => describe(status, spec.memory_limit),
                    Err(e) => format!("cannot be waited for: {e}"),
                }
            }
            Err(e) => format!("could not start: {e:#}"),
        };
        eprintln!(
            "{name} exited: {how}; restarting it in {}s (log {}):\n{}",
            RESTART_DELAY.as_secs(),
            spec.log.display(),
            log_tail(&spec.log, 5)
        );
        lock(&state).exits.push(how);
        tokio::select! {
            () = tokio::time::sleep(RESTART_DELAY) => {}
            () = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_units() {
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("4g"), Ok(4 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1073741824"), Ok(1 << 30));
        assert_eq!(
            parse_size("3 furlongs"),
            Err("`furlongs` in `3 furlongs` is not a unit (KiB, MiB, GiB, TiB)".into())
        );
        assert_eq!(parse_size("GiB"), Err("`GiB` is not a size such as 4GiB or 512MiB".into()));
        assert_eq!(
            parse_size("1MiB"),
            Err("`1MiB` is below 64 MiB: no worker runs in that".into())
        );
        assert_eq!(show_size(4 << 30), "4 GiB");
        assert_eq!(show_size(3 << 29), "1.5 GiB");
        assert_eq!(show_size(512 << 20), "512 MiB");
    }

    #[test]
    fn exits_are_described() {
        let limit = 4 << 30;
        assert_eq!(describe(ExitStatus::from_raw(1 << 8), limit), "exit code 1");
        assert_eq!(
            describe(ExitStatus::from_raw(9), limit),
            "killed by signal 9 (SIGKILL: the kernel's OOM killer or a kill -9; memory limit 4 \
             GiB?)"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(6), limit),
            "killed by signal 6 (SIGABRT: an abort, such as an allocation refused at the memory \
             limit 4 GiB?)"
        );
    }

    /// A child runs under its memory limit, is started again when it exits, and gets SIGTERM
    /// when stopped.
    #[tokio::test]
    async fn children_are_limited_restarted_and_stopped() {
        let dir = std::env::temp_dir().join(format!("assay-devnet-sup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sh = |index: usize, script: &str| Spec {
            name: format!("worker {index}"),
            bin: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            memory_limit: 256 << 20,
            log: dir.join(format!("worker-{index}.log")),
        };
        let sup = Supervisor::start(vec![
            sh(0, "echo limit $(ulimit -v) KiB oom $(cat /proc/self/oom_score_adj); exit 3"),
            sh(1, "trap 'echo got TERM; exit 0' TERM; echo up; while :; do sleep 0.1; done"),
        ]);
        // Two runs of child 0 have written their line (a start is counted before the child
        // writes) and child 1 is up.
        let logged = |i: usize, n: usize| {
            std::fs::read_to_string(sup.log(i)).is_ok_and(|l| l.matches('\n').count() >= n)
        };
        for _ in 0..400 {
            if sup.state(0).starts >= 2 && logged(0, 2) && logged(1, 1) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let state = sup.state(0);
        assert!(state.starts >= 2, "restarted: {state:?}");
        assert_eq!(state.exits[0], "exit code 3");
        assert_eq!(sup.first_exit(), Some((0, "exit code 3".to_string())));
        let log = std::fs::read_to_string(sup.log(0)).unwrap();
        assert!(log.starts_with("limit 262144 KiB oom 1000\nlimit 262144 KiB oom 1000\n"), "{log}");
        let (runner, pid) = (sup.state(1), sup.state(1).pid.expect("running"));
        assert_eq!((runner.starts, runner.exits.len()), (1, 0));
        sup.stop().await;
        assert_eq!(std::fs::read_to_string(dir.join("worker-1.log")).unwrap(), "up\ngot TERM\n");
        // SAFETY: signal 0 only checks whether the process exists.
        assert_ne!(unsafe { libc::kill(pid as libc::pid_t, 0) }, 0, "worker 1 is gone");
        std::fs::remove_dir_all(&dir).ok();
    }
}
