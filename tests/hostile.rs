//! Hostile input, concurrent runs and kills: each case is
//! generated here, small, and run through the `replicate` binary as a child
//! that reports its own peak resident memory (`VmHWM`, with
//! `REPLICATE_PEAK_RSS`; `wait4`'s rusage would also count the test
//! process's memory the child was forked with). Every case must end in a
//! clear error or a ledger reason with bounded memory; a child that aborts
//! reports nothing and fails the bound.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arxiv_to_model::corpus::synth::pack::{tar_gz, Member};

/// The bound every case is held to.
const MAX_RSS_BYTES: u64 = 512 << 20;

struct Finished {
    code: i32,
    stdout: String,
    stderr: String,
    peak_rss: u64,
}

impl Finished {
    fn output(&self) -> String {
        format!("exit {}\nstdout:\n{}\nstderr:\n{}", self.code, self.stdout, self.stderr)
    }
}

fn replicate() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_replicate"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("REPLICATE_LOG", "warn")
        .env("REPLICATE_PEAK_RSS", "1")
        .arg("--quiet");
    command
}

/// The stage cache and report directories under `dir`, for the commands that take them.
fn dirs(command: &mut Command, dir: &Path) {
    command.arg("--work-dir").arg(dir.join("work"));
    reports(command, dir);
}

fn reports(command: &mut Command, dir: &Path) {
    command.arg("--reports-dir").arg(dir.join("reports"));
}

/// Runs `command` to the end (killing it past `limit`) and reads its peak RSS.
fn measured(mut command: Command, limit: Duration) -> Finished {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("replicate starts");
    let pipe = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            r.read_to_string(&mut s).ok();
            s
        })
    };
    let out = pipe(Box::new(child.stdout.take().unwrap()));
    let err = pipe(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for replicate") {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().ok();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    use std::os::unix::process::ExitStatusExt;
    let code = status.code().unwrap_or_else(|| -status.signal().unwrap_or(0));
    let stderr = err.join().unwrap();
    let peak_rss =
        stderr.lines().find_map(|l| l.strip_prefix("peak-rss-bytes: ")).and_then(|n| n.parse().ok());
    Finished { code, stdout: out.join().unwrap(), stderr, peak_rss: peak_rss.unwrap_or(0) }
}

/// A refused case: bounded memory, a failing exit and `needle` in the error.
fn assert_refused(case: &str, f: &Finished, needle: &str) {
    check_memory(case, f);
    assert_ne!(f.code, 0, "{case}: {}", f.output());
    assert!(f.stderr.contains(needle), "{case}: missing {needle:?}\n{}", f.output());
}

fn check_memory(case: &str, f: &Finished) {
    eprintln!("{case}: peak RSS {:.1} MiB, exit {}", f.peak_rss as f64 / (1 << 20) as f64, f.code);
    assert!(
        f.peak_rss > 0 && f.peak_rss < MAX_RSS_BYTES,
        "{case}: peak RSS {} bytes\n{}",
        f.peak_rss,
        f.output()
    );
}

/// `replicate prepare --spec F01 --profile smoke` over `src`.
fn prepare(dir: &Path, src: &[&Path], extra: &[&str], env: &[(&str, &str)]) -> Finished {
    let mut command = replicate();
    command.args(["prepare", "--spec", "F01", "--profile", "smoke", "--out"]).arg(dir.join("out"));
    command.arg("--src").args(src).args(extra);
    command.envs(env.iter().copied());
    measured(command, Duration::from_secs(120))
}

/// The ledger of `dir/out` as id → `stage/reason` rows, in order.
fn ledger(dir: &Path) -> Vec<(String, String)> {
    let mut reader = csv::Reader::from_path(dir.join("out").join("ledger.csv")).expect("ledger.csv written");
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), format!("{}/{}", &r[2], &r[3]))
        })
        .collect()
}

const PROSE: &str = "We study how the preprocessing of scientific text changes the number of usable tokens, \
and we show that careful cleaning keeps more of every paper while removing markup noise from the corpus. ";

fn main_tex(body: &str) -> String {
    format!(
        "\\documentclass{{article}}\n\\begin{{document}}\n{}\n{body}\n\\end{{document}}\n",
        PROSE.repeat(4)
    )
}

/// Writes a per-paper `.tar.gz` named after `id` into `dir/src/`.
fn paper(dir: &Path, id: &str, files: &[(String, String)]) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let members: Vec<Member> =
        files.iter().map(|(p, t)| Member::new(p.clone(), t.as_bytes().to_vec())).collect();
    let path = src.join(format!("{id}.tar.gz"));
    std::fs::write(&path, tar_gz(&members).unwrap()).unwrap();
    path
}

#[test]
fn include_fan_out_bomb_is_dropped_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = vec![("main.tex".to_string(), main_tex(&"\\input{l1}\n".repeat(10)))];
    for i in 1..15 {
        files.push((format!("l{i}.tex"), format!("\\input{{l{}}}\n", i + 1).repeat(10)));
    }
    files.push(("l15.tex".to_string(), "boom ".repeat(20)));
    let src = paper(dir.path(), "2101.00001", &files);
    let done = prepare(dir.path(), &[&src], &[], &[]);
    check_memory("include fan-out bomb", &done);
    assert_eq!(done.code, 0, "{}", done.output());
    assert_eq!(ledger(dir.path()), [("2101.00001".to_string(), "extraction/include-budget".to_string())]);
}

#[test]
fn pathological_latex_finishes_linearly_and_the_watchdog_gives_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let patterns =
        ["\\[", "\\cite{", "\\footnote{", "\\verb", "\\begin{", "\\begin{figure}", "\\end{", "\\x{", "\\x["];
    let sources: Vec<PathBuf> = patterns
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let body = p.repeat(400_000 / p.len());
            paper(dir.path(), &format!("2101.{:05}", 10 + i), &[("main.tex".to_string(), main_tex(&body))])
        })
        .collect();
    let src_dir = dir.path().join("src");
    let done = prepare(dir.path(), &[&src_dir], &[], &[]);
    check_memory("pathological latex (9 x 400 KB)", &done);
    assert_eq!(done.code, 0, "{}", done.output());
    let rows = ledger(dir.path());
    assert_eq!(rows.len(), sources.len(), "{rows:?}");
    // No budget reason at the default limit: these finish in well under it.
    assert!(rows.iter().all(|(_, r)| !r.contains("time-limit")), "{rows:?}");

    // With a budget far below what a paper needs, the stage says so.
    let tight = tempfile::tempdir().unwrap();
    let one =
        paper(tight.path(), "2101.00099", &[("main.tex".to_string(), main_tex(&"\\[ x ".repeat(50_000)))]);
    let done = prepare(tight.path(), &[&one], &[], &[("REPLICATE_STAGE_SECONDS", "0.000001")]);
    check_memory("watchdog", &done);
    assert_eq!(done.code, 0, "{}", done.output());
    assert_eq!(
        ledger(tight.path()),
        [("2101.00099".to_string(), "extraction/extraction-time-limit".to_string())]
    );
}

fn metadata_line(id: &str, versions: usize) -> String {
    let versions: Vec<String> =
        (0..versions).map(|_| r#"{"created":"Mon, 2 Apr 2021 19:18:42 GMT"}"#.to_string()).collect();
    format!(
        r#"{{"id":"{id}","title":"T","abstract":"{}","categories":"cs.CL","license":null,"versions":[{}]}}"#,
        PROSE.trim(),
        versions.join(",")
    )
}

#[test]
fn malformed_metadata_is_an_error_or_a_warning_and_dev_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = paper(dir.path(), "2101.00001", &[("main.tex".to_string(), main_tex(""))]);
    // 25 of 46 lines malformed: an error naming the first bad lines.
    let mut lines: Vec<String> = (0..21).map(|i| metadata_line(&format!("2101.{:05}", i + 1), 1)).collect();
    lines.extend((0..25).map(|i| format!("{{broken line {i}")));
    let meta = dir.path().join("bad.jsonl");
    std::fs::write(&meta, lines.join("\n")).unwrap();
    let done = prepare(dir.path(), &[&src], &["--metadata", meta.to_str().unwrap()], &[]);
    check_memory("malformed metadata", &done);
    assert_ne!(done.code, 0);
    assert!(
        done.stderr.contains("25 of 46 lines") && done.stderr.contains("bad.jsonl:22"),
        "{}",
        done.output()
    );

    // One malformed line in 200: a warning on the terminal, and duplicates
    // resolved by the most versions and counted.
    let mut lines: Vec<String> = (0..198).map(|i| metadata_line(&format!("2101.{:05}", i + 1), 1)).collect();
    lines.push(metadata_line("2101.00001", 2));
    lines.push("{broken".to_string());
    std::fs::write(&meta, lines.join("\n")).unwrap();
    let done = prepare(dir.path(), &[&src], &["--metadata", meta.to_str().unwrap()], &[]);
    check_memory("one malformed metadata line", &done);
    assert_eq!(done.code, 0, "{}", done.output());
    assert!(done.stderr.contains("not usable records"), "{}", done.output());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["metadata"]["duplicate_ids"], 1);
    assert_eq!(ledger(dir.path()), [("2101.00001".to_string(), "end/".to_string())]);

    let done = prepare(dir.path(), &[&src], &["--metadata", "/dev/zero"], &[]);
    assert_refused("--metadata /dev/zero", &done, "not a regular file");
}

#[test]
fn overlong_metadata_line_is_an_error_not_an_abort() {
    let dir = tempfile::tempdir().unwrap();
    let src = paper(dir.path(), "2101.00001", &[("main.tex".to_string(), main_tex(""))]);
    let meta = dir.path().join("long.jsonl");
    std::fs::write(&meta, vec![b'x'; 17 << 20]).unwrap();
    let done = prepare(dir.path(), &[&src], &["--metadata", meta.to_str().unwrap()], &[]);
    assert_refused("17 MiB metadata line", &done, "longer than 16 MiB");
}

#[test]
fn inputs_must_be_regular_files_nonempty_and_unique() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("2101.00001.gz");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    for (case, src) in [("FIFO", fifo.as_path()), ("/dev/zero", Path::new("/dev/zero"))] {
        let done = prepare(dir.path(), &[src], &[], &[]);
        assert_refused(case, &done, "not a regular file");
    }

    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let done = prepare(dir.path(), &[&empty], &[], &[]);
    assert_refused("empty --src", &done, "--allow-empty");
    let done = prepare(dir.path(), &[&empty], &["--allow-empty"], &[]);
    assert_eq!(done.code, 0, "{}", done.output());

    let twice = tempfile::tempdir().unwrap();
    let src = paper(twice.path(), "2101.00002", &[("main.tex".to_string(), main_tex(""))]);
    let done = prepare(twice.path(), &[&src, &src], &[], &[]);
    check_memory("same paper twice", &done);
    assert_eq!(done.code, 0, "{}", done.output());
    let rows = ledger(twice.path());
    assert_eq!(rows[1], ("2101.00002".to_string(), "validation/duplicate-input".to_string()), "{rows:?}");
    assert_eq!(rows.iter().filter(|(_, r)| r == "end/").count(), 1, "{rows:?}");

    // Outputs follow the umask (0022 here): readable by group and others.
    use std::os::unix::fs::PermissionsExt;
    for name in ["ledger.csv", "summary.json", "documents.jsonl"] {
        let mode = std::fs::metadata(twice.path().join("out").join(name)).unwrap().permissions().mode();
        let umask = current_umask();
        assert_eq!(mode & 0o666, 0o666 & !umask, "{name}: mode {mode:o} under umask {umask:o}");
    }
}

fn current_umask() -> u32 {
    // SAFETY: umask only swaps the mask; it is put back at once.
    unsafe {
        let old = libc::umask(0o022);
        libc::umask(old);
        old as u32
    }
}

#[test]
fn cuda_without_the_feature_and_misspelt_verify_fail_early_and_clearly() {
    let dir = tempfile::tempdir().unwrap();
    if !cfg!(feature = "cuda") {
        let mut command = replicate();
        command.args(["run", "F01", "--profile", "smoke", "--device", "cuda"]);
        dirs(&mut command, dir.path());
        let done = measured(command, Duration::from_secs(60));
        assert_refused("--device cuda", &done, "--features cuda");
        assert!(!dir.path().join("work").join("cache").exists(), "a stage ran before the device check");
    }
    let mut command = replicate();
    command.args(["verify", "--profile", "smoke", "F0l"]);
    reports(&mut command, dir.path());
    let done = measured(command, Duration::from_secs(60));
    assert_ne!(done.code, 0);
    assert!(
        done.stderr.contains("unknown run id(s): F0l") && !done.stderr.contains("bless"),
        "{}",
        done.output()
    );
}

/// A copy of `runs/` where `edit` changes one file.
fn runs_copy(dir: &Path, file: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
    let runs = dir.join("runs");
    for sub in ["", "profiles"] {
        std::fs::create_dir_all(runs.join(sub)).unwrap();
        for entry in std::fs::read_dir(root.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let rel = Path::new(sub).join(path.file_name().unwrap());
                let text = std::fs::read_to_string(&path).unwrap();
                let text = if rel == Path::new(file) { edit(&text) } else { text };
                std::fs::write(runs.join(rel), text).unwrap();
            }
        }
    }
    runs
}

fn check_specs(runs: &Path) -> Finished {
    let mut command = replicate();
    command.args(["check-specs", "--profile", "smoke", "--runs-dir"]).arg(runs);
    measured(command, Duration::from_secs(60))
}

/// A case name, the file to edit, the edit, and what the error must say.
type SpecCase = (&'static str, &'static str, Box<dyn Fn(&str) -> String>, &'static [&'static str]);

#[test]
fn hostile_specs_are_refused_with_the_key_and_line() {
    let cases: [SpecCase; 4] = [
        (
            "extends outside runs/",
            "Y03.yaml",
            Box::new(|t: &str| {
                t.replacen("extends: Y02.yaml", "extends: ../../../../../../../etc/passwd", 1)
            }),
            &["outside the runs directory"],
        ),
        (
            "parameter count overflow",
            "F01.yaml",
            Box::new(|t: &str| {
                format!("{t}\nmodel:\n  shape: {{ layers: 4000000000, hidden: 4000000000, heads: 1, ffn: 4000000000 }}\n")
            }),
            &["model.shape", "overflow"],
        ),
        ("duplicate key", "F01.yaml", Box::new(|t: &str| format!("{t}\nid: F01\n")), &["duplicate"]),
        (
            "200 KB of nested [",
            "F01.yaml",
            Box::new(|t: &str| format!("{t}\nextra: {}\n", "[".repeat(200_000))),
            &["nest"],
        ),
    ];
    for (case, file, edit, needles) in cases {
        let dir = tempfile::tempdir().unwrap();
        let runs = runs_copy(dir.path(), file, &*edit);
        let started = Instant::now();
        let done = check_specs(&runs);
        check_memory(case, &done);
        assert_ne!(done.code, 0, "{case}: {}", done.output());
        assert!(started.elapsed() < Duration::from_secs(10), "{case}: {:?}", started.elapsed());
        let all = format!("{}{}", done.stdout, done.stderr);
        for needle in needles {
            assert!(all.contains(needle), "{case}: missing {needle:?} in\n{}", done.output());
        }
        if case == "duplicate key" {
            let lines = std::fs::read_to_string(runs.join(file)).unwrap().lines().count();
            assert!(all.contains(&format!("F01.yaml:{lines}")), "{case}: wrong line\n{}", done.output());
        }
    }
}

/// `--all --profile smoke` on `shared/work` and `shared/reports`.
fn smoke_all(shared: &Path) -> Command {
    let mut command = replicate();
    command.args(["--all", "--profile", "smoke"]);
    dirs(&mut command, shared);
    command
}

#[test]
fn two_concurrent_runs_on_shared_directories_both_succeed_and_verify() {
    let shared = tempfile::tempdir().unwrap();
    let spawn = || {
        let command = smoke_all(shared.path());
        std::thread::spawn(move || measured(command, Duration::from_secs(900)))
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    check_memory("concurrent --all (first)", &a);
    check_memory("concurrent --all (second)", &b);
    assert_eq!((a.code, b.code), (0, 0), "first:\n{}\nsecond:\n{}", a.output(), b.output());
    let mut command = replicate();
    command.args(["verify", "--profile", "smoke"]);
    reports(&mut command, shared.path());
    let verified = measured(command, Duration::from_secs(60));
    assert_eq!(verified.code, 0, "{}", verified.output());
    let leftovers: Vec<String> = walk(&shared.path().join("work").join("cache"))
        .into_iter()
        .filter(|p| p.contains(".tmp-") || p.contains(".work-"))
        .collect();
    assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        out.push(entry.path().display().to_string());
        if entry.path().is_dir() {
            out.extend(walk(&entry.path()));
        }
    }
    out
}

/// The loss curve of a run's `metrics.csv`: split, step, tokens, loss, lr, grad norm.
fn curve(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader.records().map(|r| r.unwrap().iter().take(7).map(str::to_string).collect()).collect()
}

#[test]
fn training_killed_at_a_random_checkpoint_resumes_with_the_same_loss_curve() {
    let dir = tempfile::tempdir().unwrap();
    // Smoke trains 64 steps; a checkpoint every 4 gives 16 places to be killed after.
    let runs = runs_copy(dir.path(), "profiles/smoke.yaml", |t| {
        t.replace("checkpoint_every: 32", "checkpoint_every: 4")
    });
    let run = |shared: &Path| {
        let mut command = replicate();
        command.args(["run", "F01", "--profile", "smoke", "--runs-dir"]).arg(&runs);
        dirs(&mut command, shared);
        command
    };
    let straight = tempfile::tempdir().unwrap();
    let full = measured(run(straight.path()), Duration::from_secs(600));
    assert_eq!(full.code, 0, "{}", full.output());

    let killed = tempfile::tempdir().unwrap();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    // A random checkpoint step of the 64 (4, 8, …, 56) to be killed right after.
    let kill_at = 4 * (1 + u64::from(nanos % 14));
    let mut child = run(killed.path()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let train_cache = killed.path().join("work").join("cache").join("train");
    // Training keeps the newest checkpoints only, so watch the step numbers.
    let newest_step = || {
        walk(&train_cache)
            .iter()
            .filter(|p| p.contains(".work-"))
            .filter_map(|p| p.rsplit_once("step-")?.1.strip_suffix(".ckpt")?.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
    };
    let started = Instant::now();
    while newest_step() < kill_at && started.elapsed() < Duration::from_secs(600) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let seen = newest_step();
    eprintln!("killed with the newest checkpoint at step {seen} (aimed at {kill_at})");
    assert!(seen > 0 && seen < 64, "the kill did not land inside training (newest checkpoint {seen})");

    let resumed = measured(run(killed.path()), Duration::from_secs(600));
    check_memory("resumed training", &resumed);
    assert_eq!(resumed.code, 0, "{}", resumed.output());
    assert!(resumed.stderr.contains("training resumed from the checkpoint of step"), "{}", resumed.output());
    let metrics = |d: &Path| d.join("reports").join("smoke").join("runs").join("F01").join("metrics.csv");
    assert_eq!(curve(&metrics(straight.path())), curve(&metrics(killed.path())));
    let leftovers: Vec<String> =
        walk(&train_cache).into_iter().filter(|p| p.contains(".work-") || p.contains(".tmp-")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
