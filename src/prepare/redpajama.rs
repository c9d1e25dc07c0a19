//! `replicate bench prepare --redpajama DIR`: our prepare against RedPajama's
//! arXiv cleaner on the same bulk tars (issue 15: at least 8x faster, the same
//! papers kept). Wall time is timed as alternating pairs like the bench's other
//! rows; then the papers each side kept are compared by id, each paper only one
//! side kept with the reason the other side gave for leaving it out (our
//! ledger's stage and reason; the error or warning the cleaner printed for it).
//!
//! DIR is the user's own checkout of togethercomputer/RedPajama-Data's
//! `data_prep/arxiv` (branch `rp_v1`; `main` is RedPajama-V2 and has no
//! `data_prep/`). Its code is not part of this repository: the bench only runs
//! it. What that code does, and what the bench does about it:
//!
//! - `run_clean.py --local --data_dir D --target_dir T` cleans every `D/*.tar`
//!   (not recursive) into `T/arxiv_<uuid>.jsonl`, one `{"text", "meta"}` line
//!   per kept paper, `meta.arxiv_id` the member's stem with the old-style slash
//!   put back (`quant-ph0612901.gz` -> `quant-ph/0612901`, [`redpajama_id`]).
//!   A paper it cannot read (a `.tex` member that is not UTF-8), or whose cleaned
//!   text is empty (no `\section`-like header), is only logged on stdout, which
//!   the bench reads for those reasons ([`cleaner_drops`]). The bench hands
//!   it a scratch `D` of symlinks to the bulk tars of `--src`.
//! - Its `--workers` only partitions tars for slurm (`--setup`); the cleaning
//!   pool is a `ProcessPoolExecutor()` of `os.cpu_count()` processes. The
//!   [`LAUNCHER`] pins `os.cpu_count` to our worker count, so both sides get
//!   the same number of workers on any machine.
//! - It loads the fastText model `models/lid.176.bin` relative to its working
//!   directory, once per paper, so it runs in DIR; the model is not in git (its
//!   README downloads the 126 MB `lid.176.bin`). A smaller model file there
//!   (the 0.9 MB `lid.176.ftz` loads under the same name) makes every paper
//!   cheaper for it, so the report records the model's size.
//! - It writes scratch files under `$WORK_DIR` (default `DIR/work`), which the
//!   bench points into its own scratch directory: DIR is only read.
//! - It imports `fasttext`, `joblib` and `numpy` (`arxiv_requirements.txt`);
//!   fasttext 0.9.x calls `np.array(copy=False)`, which numpy 2 refuses.
//!
//! Anything that keeps the cleaner from running (no python3, a file missing in
//! DIR, a missing package, a crash) skips this row with the reason; it never
//! fails the rest of the bench.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::output::{LedgerRow, LEDGER_FILE};
use crate::bench::{measure_pairs, Paired};
use crate::corpus::id::arxiv_id_from_name;
use crate::corpus::source::{plan_inputs, InputUnit};

/// The files of RedPajama's `data_prep/arxiv` the cleaner runs from.
pub const CLEANER_FILES: [&str; 3] = ["run_clean.py", "arxiv_cleaner.py", "utils.py"];
/// The language-ID model the cleaner loads, relative to the directory it runs in.
pub const LID_MODEL: &str = "models/lid.176.bin";
/// Below this the model is not the 126 MB `lid.176.bin` the cleaner's README downloads.
const FULL_LID_MODEL_BYTES: u64 = 100_000_000;
/// Ids printed per side of the kept-set difference (the report holds them all).
const SHOWN_IDS: usize = 10;
/// Lines of the cleaner's stderr quoted when it fails.
const STDERR_LINES: usize = 12;

/// Runs `run_clean.py` from the working directory with `os.cpu_count()` pinned to
/// `argv[1]` (its process pool takes its size from there; `--workers` does not reach it).
pub const LAUNCHER: &str = r#"import os, runpy, sys
n = int(sys.argv[1])
os.cpu_count = lambda: n
if hasattr(os, "process_cpu_count"):
    os.process_cpu_count = lambda: n
sys.path.insert(0, os.getcwd())
sys.argv = ["run_clean.py"] + sys.argv[2:]
runpy.run_path("run_clean.py", run_name="__main__")
"#;

/// A RedPajama `data_prep/arxiv` checkout and the interpreter that runs it.
#[derive(Debug, Clone)]
pub struct Cleaner {
    pub dir: PathBuf,
    pub python: OsString,
}

/// What one side made of the papers, by our id: the ids it kept, and why it left
/// out the others it says anything about.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub kept: BTreeSet<String>,
    pub dropped: BTreeMap<String, String>,
}

/// Our side of one pair: prepare's wall seconds, the papers it read and what it kept.
#[derive(Debug, Clone, Default)]
pub struct OurRun {
    pub seconds: f64,
    pub papers: u64,
    pub outcome: Outcome,
}

/// A paper only one side kept, with the other side's reason for leaving it out
/// (`None` when that side said nothing about it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneSided {
    pub id: String,
    pub other_side: Option<String>,
}

/// The papers each side kept, by our id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptDiff {
    pub ours: usize,
    pub theirs: usize,
    /// Kept by our prepare and not by RedPajama's cleaner, sorted, with the cleaner's reason.
    pub only_ours: Vec<OneSided>,
    /// Kept by RedPajama's cleaner and not by our prepare, sorted, with our ledger's reason.
    pub only_theirs: Vec<OneSided>,
}

impl KeptDiff {
    pub fn of(ours: &Outcome, theirs: &Outcome) -> Self {
        let only = |this: &Outcome, other: &Outcome| {
            this.kept
                .difference(&other.kept)
                .map(|id| OneSided { id: id.clone(), other_side: other.dropped.get(id).cloned() })
                .collect()
        };
        Self {
            ours: ours.kept.len(),
            theirs: theirs.kept.len(),
            only_ours: only(ours, theirs),
            only_theirs: only(theirs, ours),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedPajamaComparison {
    /// The `data_prep/arxiv` directory that was run.
    pub dir: PathBuf,
    /// A: RedPajama's cleaner, B: our prepare, same input and worker count (wall seconds).
    pub timing: Paired,
    /// Papers our prepare read.
    pub papers: u64,
    /// The last timed run of each side.
    pub kept: KeptDiff,
    /// Size of `DIR/models/lid.176.bin`, which the cleaner loads once per paper.
    pub lid_model_bytes: u64,
}

/// The RedPajama row of `bench prepare`: measured, or why it was not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum RedPajamaRow {
    Compared(Box<RedPajamaComparison>),
    Skipped { dir: PathBuf, reason: String },
}

/// A failure on RedPajama's side (tells a skipped row from a failure of ours inside `measure_pairs`).
#[derive(Debug)]
struct CleanerFailed(String);

impl fmt::Display for CleanerFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CleanerFailed {}

impl Cleaner {
    /// `dir` run with the `python3` found on PATH.
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf(), python: "python3".into() }
    }

    /// What must be in place before anything is timed; returns the model's size.
    pub fn check(&self) -> Result<u64> {
        let dir = self.dir.display();
        anyhow::ensure!(
            self.dir.is_dir(),
            "--redpajama {dir} is not a directory: pass your checkout of RedPajama-Data's data_prep/arxiv \
             (togethercomputer/RedPajama-Data, branch rp_v1)"
        );
        for file in CLEANER_FILES {
            anyhow::ensure!(
                self.dir.join(file).is_file(),
                "{file} missing in {dir}: --redpajama must be RedPajama-Data's data_prep/arxiv directory \
                 (branch rp_v1), which holds {}",
                CLEANER_FILES.join(", ")
            );
        }
        let model = self.dir.join(LID_MODEL);
        let model_bytes = std::fs::metadata(&model).map(|m| m.len()).with_context(|| {
            format!(
                "{} missing: RedPajama's cleaner loads this fastText language-ID model from the directory \
                 it runs in; download lid.176.bin into {dir}/models as its README says",
                model.display()
            )
        })?;
        let version = Command::new(&self.python)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.spawn_error(e))?;
        anyhow::ensure!(
            version.status.success(),
            "{} --version failed ({}): RedPajama's cleaner needs a working Python 3",
            self.python.to_string_lossy(),
            version.status
        );
        Ok(model_bytes)
    }

    fn spawn_error(&self, e: std::io::Error) -> anyhow::Error {
        let python = self.python.to_string_lossy();
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!(
                "{python} not found on PATH: RedPajama's cleaner is a Python 3 script; install Python 3 and \
                 the packages of {}/arxiv_requirements.txt",
                self.dir.display()
            )
        } else {
            anyhow::anyhow!("cannot start {python} for RedPajama's cleaner in {}: {e}", self.dir.display())
        }
    }

    /// Cleans every `*.tar` in `tars` on `workers` processes into a fresh scratch
    /// directory; returns the wall seconds of the cleaner's process (start to exit)
    /// and what it kept (its output) and dropped (its stdout).
    pub fn run(&self, tars: &Path, workers: usize) -> Result<(f64, Outcome)> {
        let scratch =
            tempfile::tempdir().context("cannot create a scratch directory for RedPajama's cleaner")?;
        let (out, work) = (scratch.path().join("processed"), scratch.path().join("work"));
        std::fs::create_dir(&work).with_context(|| format!("cannot create {}", work.display()))?;
        let log = |name: &str| -> Result<std::fs::File> {
            let path = scratch.path().join(name);
            std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))
        };
        let workers = workers.max(1).to_string();
        let mut command = Command::new(&self.python);
        command
            .current_dir(&self.dir)
            .arg("-c")
            .arg(LAUNCHER)
            .arg(&workers)
            .arg("--local")
            .arg("--data_dir")
            .arg(tars)
            .arg("--target_dir")
            .arg(&out)
            .arg("--workers")
            .arg(&workers)
            .env("WORK_DIR", &work)
            .env("SLURM_CPUS_PER_TASK", &workers)
            .stdin(Stdio::null())
            .stdout(log("stdout.log")?)
            .stderr(log("stderr.log")?);
        let clock = Instant::now();
        let status = command.status().map_err(|e| self.spawn_error(e))?;
        let seconds = clock.elapsed().as_secs_f64();
        if !status.success() {
            let stderr = std::fs::read_to_string(scratch.path().join("stderr.log")).unwrap_or_default();
            bail!(
                "RedPajama's cleaner ({}/run_clean.py) failed ({status}){}\n{}",
                self.dir.display(),
                hint(&stderr, &self.dir),
                tail(&stderr, STDERR_LINES)
            );
        }
        let stdout = scratch.path().join("stdout.log");
        let log = std::fs::read_to_string(&stdout)
            .with_context(|| format!("cannot read the cleaner's log {}", stdout.display()))?;
        Ok((seconds, Outcome { kept: read_kept(&out)?, dropped: cleaner_drops(&log) }))
    }
}

/// What to do about a failure whose stderr says why.
fn hint(stderr: &str, dir: &Path) -> String {
    if stderr.contains("Unable to avoid copy") {
        "; fasttext 0.9.x calls np.array(copy=False), which numpy 2 refuses: install numpy < 2 \
         (python3 -m pip install 'numpy<2')"
            .to_string()
    } else if stderr.contains("ModuleNotFoundError") {
        format!(
            "; a package it imports is missing: python3 -m pip install -r {}/arxiv_requirements.txt \
             (run_clean.py needs fasttext, joblib and numpy)",
            dir.display()
        )
    } else {
        String::new()
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Our id for the `meta.arxiv_id` RedPajama writes: it takes the member's stem
/// and puts an old-style slash back (`quant-ph/0612901`), keeps a subject class
/// or version it cannot parse as is (`math.AG0601001`, `2612.90003v2`); we read
/// ids from the same member names ([`arxiv_id_from_name`]), so the slash comes
/// out first and the rest is parsed our way. A name that is no arXiv id stays
/// as it is, like our fallback label.
pub fn redpajama_id(raw: &str) -> String {
    let glued = raw.trim().replace('/', "");
    arxiv_id_from_name(&glued).unwrap_or(glued)
}

/// Why the cleaner left papers out, from its stdout: `UnicodeDecodeError: PATH`
/// and `[ERROR] EXCEPTION: PATH` when it cannot read a paper, `empty text for ID`
/// when no section-like header survives cleaning, `failed  to process ID` when
/// cleaning raised. Other lines (progress) are not about a dropped paper.
pub fn cleaner_drops(stdout: &str) -> BTreeMap<String, String> {
    let stem = |path: &str| {
        let name = path.trim().rsplit('/').next().unwrap_or_default();
        redpajama_id(name.strip_suffix(".gz").unwrap_or(name))
    };
    let mut dropped = BTreeMap::new();
    for line in stdout.lines() {
        let (id, reason) = if let Some((_, path)) = line.split_once("][ERROR] UnicodeDecodeError: ") {
            (stem(path), "a .tex file is not UTF-8".to_string())
        } else if let Some((_, id)) = line.split_once("][WARNING] empty text for ") {
            (redpajama_id(id), "empty text (no section-like header)".to_string())
        } else if let Some((_, id)) = line.split_once("][ERROR] failed  to process ") {
            (redpajama_id(id), "cleaning raised an exception".to_string())
        } else if let Some((error, path)) = line.strip_prefix("[ERROR] ").and_then(|l| l.rsplit_once(": ")) {
            (stem(path), format!("unreadable ({error})"))
        } else {
            continue;
        };
        dropped.entry(id).or_insert(reason);
    }
    dropped
}

/// The ids kept in every `*.jsonl` of the cleaner's output directory.
pub fn read_kept(out: &Path) -> Result<BTreeSet<String>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out)
        .with_context(|| format!("RedPajama's cleaner left no output directory {}", out.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    anyhow::ensure!(!files.is_empty(), "RedPajama's cleaner wrote no *.jsonl into {}", out.display());
    let mut kept = BTreeSet::new();
    for file in files {
        read_kept_file(&file, &mut kept)?;
    }
    Ok(kept)
}

/// Adds the ids of one output file (`{"text": …, "meta": {"arxiv_id": …}}` per line) to `kept`.
pub fn read_kept_file(path: &Path, kept: &mut BTreeSet<String>) -> Result<()> {
    #[derive(Deserialize)]
    struct Record {
        meta: Meta,
    }
    #[derive(Deserialize)]
    struct Meta {
        arxiv_id: String,
    }
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {} at line {}", path.display(), index + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(&line).with_context(|| {
            format!("{}:{}: not a RedPajama record with meta.arxiv_id", path.display(), index + 1)
        })?;
        kept.insert(redpajama_id(&record.meta.arxiv_id));
    }
    Ok(())
}

/// The ids a prepare output directory's ledger marks kept, and the stage and
/// reason of every other row.
pub fn our_outcome(out: &Path) -> Result<Outcome> {
    let path = out.join(LEDGER_FILE);
    let mut reader =
        csv::Reader::from_path(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut outcome = Outcome::default();
    for row in reader.deserialize::<LedgerRow>() {
        let row = row.with_context(|| format!("cannot read {}", path.display()))?;
        if row.status == "kept" {
            outcome.kept.insert(row.id);
        } else {
            // A later copy of a paper (duplicate-input) does not replace the first copy's reason.
            outcome.dropped.entry(row.id).or_insert_with(|| format!("{} at {}", row.reason, row.stage));
        }
    }
    Ok(outcome)
}

/// Symlinks every unit of `src` into `dir` for the cleaner, which reads `*.tar`
/// there; names are numbered so two tars of one name in different folders both go.
pub fn link_bulk_tars(src: &[PathBuf], dir: &Path) -> Result<()> {
    let units = plan_inputs(src)?;
    for (index, unit) in units.iter().enumerate() {
        let InputUnit::BulkTar { path } = unit else {
            bail!(
                "RedPajama's cleaner reads bulk tars (arXiv_src_*.tar) only, and --src also holds per-paper \
                 files ({}); pass bulk tars to compare",
                unit.label()
            );
        };
        let target =
            std::fs::canonicalize(path).with_context(|| format!("cannot resolve {}", path.display()))?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("input.tar");
        let link = dir.join(format!("{index:04}-{name}"));
        symlink(&target, &link)
            .with_context(|| format!("cannot link {} to {}", link.display(), target.display()))?;
    }
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::fs::copy(target, link).map(|_| ())
}

/// Times RedPajama's cleaner (A) against `ours` (B), `pairs` alternating pairs on
/// `workers` workers each, after one untimed run of the cleaner that shows it runs.
/// Errors are ours (`ours` failed); anything on RedPajama's side gives a skipped row.
pub fn compare(
    cleaner: &Cleaner,
    src: &[PathBuf],
    workers: usize,
    pairs: usize,
    mut ours: impl FnMut() -> Result<OurRun>,
) -> Result<RedPajamaRow> {
    let skipped =
        |e: anyhow::Error| RedPajamaRow::Skipped { dir: cleaner.dir.clone(), reason: format!("{e:#}") };
    let lid_model_bytes = match cleaner.check() {
        Ok(bytes) => bytes,
        Err(e) => return Ok(skipped(e)),
    };
    let tars = tempfile::tempdir().context("cannot create a scratch directory for RedPajama's input")?;
    if let Err(e) = link_bulk_tars(src, tars.path()) {
        return Ok(skipped(e));
    }
    if let Err(e) = cleaner.run(tars.path(), workers) {
        return Ok(skipped(e));
    }
    let mut theirs = Outcome::default();
    let mut last_ours = OurRun::default();
    let timing = measure_pairs(
        "RedPajama",
        "prepare",
        pairs,
        || {
            let (seconds, outcome) =
                cleaner.run(tars.path(), workers).map_err(|e| CleanerFailed(format!("{e:#}")))?;
            theirs = outcome;
            Ok(seconds)
        },
        || {
            last_ours = ours()?;
            Ok(last_ours.seconds)
        },
    );
    let timing = match timing {
        Ok(timing) => timing,
        Err(e) => match e.downcast::<CleanerFailed>() {
            Ok(failed) => return Ok(skipped(anyhow::anyhow!("{failed}"))),
            Err(ours_failed) => return Err(ours_failed),
        },
    };
    Ok(RedPajamaRow::Compared(Box::new(RedPajamaComparison {
        dir: cleaner.dir.clone(),
        timing,
        papers: last_ours.papers,
        kept: KeptDiff::of(&last_ours.outcome, &theirs),
        lid_model_bytes,
    })))
}

/// The row as `bench prepare` prints it.
pub fn render(row: &RedPajamaRow) -> String {
    let c = match row {
        RedPajamaRow::Skipped { dir, reason } => {
            return format!("our prepare vs RedPajama's cleaner ({}): skipped: {reason}\n", dir.display());
        }
        RedPajamaRow::Compared(c) => c,
    };
    let mut s = c.timing.describe(
        "our prepare vs RedPajama's cleaner, wall time (target >= 8x faster)",
        &c.timing.speedups(),
    );
    s.push_str(&format!("\n  {}\n", c.timing.load));
    let k = &c.kept;
    s.push_str(&format!(
        "papers kept (target: the same papers): prepare {}, RedPajama {}, of {} papers prepare read\n",
        k.ours, k.theirs, c.papers
    ));
    if k.only_ours.is_empty() && k.only_theirs.is_empty() {
        s.push_str("  both kept the same papers\n");
    }
    for (who, other, papers) in
        [("prepare", "RedPajama", &k.only_ours), ("RedPajama", "prepare", &k.only_theirs)]
    {
        if papers.is_empty() {
            continue;
        }
        s.push_str(&format!("  kept by {who} only ({}):\n", papers.len()));
        for paper in papers.iter().take(SHOWN_IDS) {
            let why = paper.other_side.as_deref().unwrap_or("no reason given");
            s.push_str(&format!("    {} ({other}: {why})\n", paper.id));
        }
        if papers.len() > SHOWN_IDS {
            s.push_str(&format!("    … and {} more\n", papers.len() - SHOWN_IDS));
        }
    }
    if c.lid_model_bytes < FULL_LID_MODEL_BYTES {
        s.push_str(&format!(
            "  note: {}/{LID_MODEL} is {:.1} MB, not the 126 MB lid.176.bin its README downloads; the cleaner \
             loads it for every paper, so a smaller model makes its times shorter than with the real one\n",
            c.dir.display(),
            c.lid_model_bytes as f64 / 1e6
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::source::tests::tar_with;

    #[test]
    fn redpajama_ids_map_to_ours() {
        assert_eq!(redpajama_id("quant-ph/0612901"), "quant-ph/0612901");
        assert_eq!(redpajama_id("hep-th/9901001"), "hep-th/9901001");
        assert_eq!(redpajama_id("2612.90003"), "2612.90003");
        assert_eq!(redpajama_id("0704.0001"), "0704.0001");
        // Its format_arxiv_id cannot parse these and keeps the raw stem.
        assert_eq!(redpajama_id("math.AG0601001"), "math/0601001");
        assert_eq!(redpajama_id("quant-ph0612901"), "quant-ph/0612901");
        assert_eq!(redpajama_id("2612.90003v2"), "2612.90003");
        // Not an arXiv id: the name as our fallback label has it.
        assert_eq!(redpajama_id("mypaper"), "mypaper");
    }

    #[test]
    fn output_files_are_read_for_their_ids() {
        let dir = tempfile::tempdir().unwrap();
        let record = |id: &str| {
            format!(
                "{{\"text\": \"\\\\section{{A}} text\", \"meta\": {{\"timestamp\": null, \"yymm\": \"0612\", \
                 \"arxiv_id\": \"{id}\", \"language\": \"en\", \"url\": \"https://arxiv.org/abs/{id}\", \
                 \"source\": \"arxiv\"}}}}\n"
            )
        };
        let a = dir.path().join("arxiv_a.jsonl");
        std::fs::write(&a, record("quant-ph/0612901") + &record("2612.90003") + "\n").unwrap();
        std::fs::write(dir.path().join("arxiv_b.jsonl"), record("2612.90004")).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not read").unwrap();
        let kept = read_kept(dir.path()).unwrap();
        assert_eq!(
            kept,
            BTreeSet::from(["quant-ph/0612901".into(), "2612.90003".into(), "2612.90004".into()])
        );

        std::fs::write(&a, record("2612.90003") + "{\"text\": \"x\", \"meta\": {}}\n").unwrap();
        let err = format!("{:#}", read_kept(dir.path()).unwrap_err());
        assert!(err.contains("arxiv_a.jsonl:2"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = format!("{:#}", read_kept(empty.path()).unwrap_err());
        assert!(err.contains("no *.jsonl"), "{err}");
    }

    #[test]
    fn our_outcome_comes_from_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = csv::Writer::from_path(dir.path().join(LEDGER_FILE)).unwrap();
        w.serialize(LedgerRow { id: "2612.90003".into(), status: "kept".into(), ..Default::default() })
            .unwrap();
        w.serialize(LedgerRow {
            id: "2612.90004".into(),
            status: "dropped".into(),
            stage: "extraction".into(),
            reason: "no-main-file".into(),
            ..Default::default()
        })
        .unwrap();
        // A second copy of the same paper later in the input.
        w.serialize(LedgerRow {
            id: "2612.90004".into(),
            status: "dropped".into(),
            stage: "validation".into(),
            reason: "duplicate-input".into(),
            ..Default::default()
        })
        .unwrap();
        w.flush().unwrap();
        drop(w);
        let outcome = our_outcome(dir.path()).unwrap();
        assert_eq!(outcome.kept, BTreeSet::from(["2612.90003".to_string()]));
        assert_eq!(
            outcome.dropped,
            BTreeMap::from([("2612.90004".to_string(), "no-main-file at extraction".to_string())])
        );
    }

    #[test]
    fn the_cleaners_drop_reasons_are_read_from_its_log() {
        // Lines as run_clean.py prints them (arxiv_cleaner.py's print calls).
        let log = "Using 2 processes\n\
            [2026-12-03T06:43:18.475842][INFO] start processing /in/arXiv_src_2612_001.tar\n\
            [2026-12-03T06:43:18.724162][ERROR] UnicodeDecodeError: /w/tmp_wb/2612/1801.03879.gz\n\
            [2026-12-03T06:43:18.800000][ERROR] UnicodeDecodeError: /w/tmp_wb/0612/quant-ph0612901.gz\n\
            [ERROR] Compressed file ended before the end-of-stream marker was reached: /w/t/2612/2612.00007.gz\n\
            [2026-12-03T06:43:19.000000][WARNING] empty text for 2612.90016\n\
            [2026-12-03T06:43:19.100000][ERROR] failed  to process 2612.00008v2\n\
            [2026-12-03T06:43:19.200000][INFO] processed 2612.00001\n\
            [2026-12-03T06:43:19.354264][INFO] # Failed loading : 3\n";
        let dropped = cleaner_drops(log);
        let reason = |id: &str| dropped.get(id).map(String::as_str);
        assert_eq!(reason("1801.03879"), Some("a .tex file is not UTF-8"));
        assert_eq!(reason("quant-ph/0612901"), Some("a .tex file is not UTF-8"));
        assert_eq!(
            reason("2612.00007"),
            Some("unreadable (Compressed file ended before the end-of-stream marker was reached)")
        );
        assert_eq!(reason("2612.90016"), Some("empty text (no section-like header)"));
        assert_eq!(reason("2612.00008"), Some("cleaning raised an exception"));
        assert_eq!(dropped.len(), 5, "{dropped:?}");
    }

    #[test]
    fn the_kept_difference_is_per_side_and_printed_capped() {
        let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let ours = Outcome {
            kept: (0..13).map(|i| format!("2612.{i:05}")).chain(["quant-ph/0612901".into()]).collect(),
            dropped: BTreeMap::from([("2612.99999".into(), "near-duplicate at dedup".into())]),
        };
        let theirs = Outcome {
            kept: set(&["quant-ph/0612901", "2612.99999"]),
            dropped: BTreeMap::from([("2612.00001".into(), "a .tex file is not UTF-8".into())]),
        };
        let diff = KeptDiff::of(&ours, &theirs);
        assert_eq!((diff.ours, diff.theirs), (14, 2));
        assert_eq!(diff.only_ours.len(), 13);
        assert_eq!(
            diff.only_ours[..2],
            [
                OneSided { id: "2612.00000".into(), other_side: None },
                OneSided { id: "2612.00001".into(), other_side: Some("a .tex file is not UTF-8".into()) },
            ]
        );
        assert_eq!(
            diff.only_theirs,
            [OneSided { id: "2612.99999".into(), other_side: Some("near-duplicate at dedup".into()) }]
        );
        let paired = Paired {
            a: "RedPajama".into(),
            b: "prepare".into(),
            a_seconds: vec![8.0; 5],
            b_seconds: vec![1.0; 5],
            load: crate::bench::Load { before: None, after: None },
        };
        let row = RedPajamaRow::Compared(Box::new(RedPajamaComparison {
            dir: "/rp".into(),
            timing: paired,
            papers: 20,
            kept: diff,
            lid_model_bytes: 938_013,
        }));
        let text = render(&row);
        assert!(
            text.contains(
                "our prepare vs RedPajama's cleaner, wall time (target >= 8x faster): median 8.00x (min 8.00 – max 8.00) over 5 pairs"
            ),
            "{text}"
        );
        assert!(text.contains("prepare 14, RedPajama 2, of 20 papers"), "{text}");
        assert!(
            text.contains(
                "  kept by prepare only (13):\n    2612.00000 (RedPajama: no reason given)\n    \
                 2612.00001 (RedPajama: a .tex file is not UTF-8)\n"
            ),
            "{text}"
        );
        assert!(text.contains("    2612.00009 (RedPajama: no reason given)\n    … and 3 more\n"), "{text}");
        assert!(!text.contains("2612.00010"), "{text}");
        assert!(
            text.contains(
                "  kept by RedPajama only (1):\n    2612.99999 (prepare: near-duplicate at dedup)\n"
            ),
            "{text}"
        );
        assert!(text.contains("0.9 MB, not the 126 MB"), "{text}");
        let json = serde_json::to_string(&row).unwrap();
        assert!(json.contains("\"outcome\":\"compared\""), "{json}");
        assert_eq!(serde_json::from_str::<RedPajamaRow>(&json).unwrap(), row);
    }

    /// A stand-in for RedPajama's `run_clean.py`: its CLI, `WORK_DIR`, the launcher's
    /// worker pin, a `*.jsonl` of `{"text", "meta": {"arxiv_id"}}` with old-style ids
    /// slashed; it keeps every `.gz` member but `2612.00002`, which it logs as not UTF-8.
    const FAKE_RUN_CLEAN: &str = r#"import argparse, json, os, pathlib, re, sys, tarfile
p = argparse.ArgumentParser()
p.add_argument("--data_dir"); p.add_argument("--target_dir"); p.add_argument("--workers", type=int)
p.add_argument("--local", action="store_true")
a = p.parse_args()
if not a.local or os.cpu_count() != a.workers or os.environ.get("SLURM_CPUS_PER_TASK") != str(a.workers):
    sys.exit("launcher did not pin the workers")
if not os.path.isfile("models/lid.176.bin") or not os.path.isdir(os.environ["WORK_DIR"]):
    sys.exit("not run in its directory with WORK_DIR")
out = pathlib.Path(a.target_dir); out.mkdir()
with open(out / "arxiv_fake.jsonl", "w") as f:
    for tar in sorted(pathlib.Path(a.data_dir).glob("*.tar")):
        for name in tarfile.open(tar).getnames():
            stem = pathlib.Path(name).stem
            if stem == "2612.00002":
                print("[2026-12-03T06:43:18.724162][ERROR] UnicodeDecodeError: /w/t/" + name)
                continue
            m = re.match(r"^([a-zA-Z-]*)([\d.]+)$", stem)
            ident = m.group(1) + "/" + m.group(2) if m and m.group(1) else stem
            f.write(json.dumps({"text": "x", "meta": {"arxiv_id": ident}}) + "\n")
print("done")
"#;

    fn fake_checkout(run_clean: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("run_clean.py"), run_clean).unwrap();
        std::fs::write(dir.path().join("arxiv_cleaner.py"), "").unwrap();
        std::fs::write(dir.path().join("utils.py"), "").unwrap();
        std::fs::create_dir(dir.path().join("models")).unwrap();
        std::fs::write(dir.path().join(LID_MODEL), b"model").unwrap();
        dir
    }

    /// Two bulk tars of one name in different folders, three papers in all.
    fn bulk_tars() -> (tempfile::TempDir, Vec<PathBuf>) {
        let root = tempfile::tempdir().unwrap();
        let mut src = Vec::new();
        for (folder, members) in [
            ("a", vec![("0612/quant-ph0612901.gz", b"x" as &[u8]), ("2612/2612.00001.gz", b"x")]),
            ("b", vec![("2612/2612.00002.gz", b"x" as &[u8])]),
        ] {
            std::fs::create_dir(root.path().join(folder)).unwrap();
            let tar = root.path().join(folder).join("arXiv_src_2612_001.tar");
            std::fs::write(&tar, tar_with(&members)).unwrap();
            src.push(tar);
        }
        (root, src)
    }

    fn python_runs() -> bool {
        Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success())
    }

    #[test]
    fn a_fake_cleaner_is_timed_in_pairs_and_its_kept_set_diffed() {
        let checkout = fake_checkout(FAKE_RUN_CLEAN);
        let (_root, src) = bulk_tars();
        let mut our_runs = 0;
        let row = compare(&Cleaner::new(checkout.path()), &src, 2, 1, || {
            our_runs += 1;
            Ok(OurRun {
                seconds: 0.5,
                papers: 3,
                outcome: Outcome {
                    kept: BTreeSet::from(["quant-ph/0612901".into(), "2612.00002".into()]),
                    dropped: BTreeMap::from([("2612.00001".into(), "no-main-file at extraction".into())]),
                },
            })
        })
        .unwrap();
        if !python_runs() {
            assert!(
                matches!(&row, RedPajamaRow::Skipped { reason, .. } if reason.contains("python3 not found"))
            );
            return;
        }
        let RedPajamaRow::Compared(c) = &row else { panic!("{row:?}") };
        assert_eq!(our_runs, crate::bench::MIN_PAIRS);
        assert_eq!(c.timing.a_seconds.len(), crate::bench::MIN_PAIRS);
        assert!(c.timing.a_seconds.iter().all(|s| *s > 0.0));
        assert_eq!(c.timing.b_seconds, vec![0.5; crate::bench::MIN_PAIRS]);
        assert_eq!(
            c.kept,
            KeptDiff {
                ours: 2,
                theirs: 2,
                only_ours: vec![OneSided {
                    id: "2612.00002".into(),
                    other_side: Some("a .tex file is not UTF-8".into())
                }],
                only_theirs: vec![OneSided {
                    id: "2612.00001".into(),
                    other_side: Some("no-main-file at extraction".into())
                }],
            }
        );
        assert_eq!((c.papers, c.lid_model_bytes), (3, 5));
        // The checkout is only read: WORK_DIR pointed elsewhere.
        assert!(!checkout.path().join("work").exists());
    }

    #[test]
    fn what_keeps_the_cleaner_from_running_skips_the_row_with_the_reason() {
        let (_root, src) = bulk_tars();
        let never = || -> Result<OurRun> { panic!("prepare must not run for a skipped row") };
        let reason = |row: RedPajamaRow| match row {
            RedPajamaRow::Skipped { reason, .. } => reason,
            other => panic!("not skipped: {other:?}"),
        };

        let checkout = fake_checkout(FAKE_RUN_CLEAN);
        std::fs::remove_file(checkout.path().join("run_clean.py")).unwrap();
        let why = reason(compare(&Cleaner::new(checkout.path()), &src, 1, 1, never).unwrap());
        assert!(why.starts_with("run_clean.py missing in "), "{why}");

        let checkout = fake_checkout(FAKE_RUN_CLEAN);
        std::fs::remove_file(checkout.path().join(LID_MODEL)).unwrap();
        let why = reason(compare(&Cleaner::new(checkout.path()), &src, 1, 1, never).unwrap());
        assert!(why.contains("models/lid.176.bin missing"), "{why}");

        let checkout = fake_checkout(FAKE_RUN_CLEAN);
        let cleaner = Cleaner { python: "python3-not-here".into(), ..Cleaner::new(checkout.path()) };
        let why = reason(compare(&cleaner, &src, 1, 1, never).unwrap());
        assert!(why.starts_with("python3-not-here not found on PATH"), "{why}");

        let loose = tempfile::tempdir().unwrap();
        let paper = loose.path().join("2612.00009.gz");
        std::fs::write(&paper, b"x").unwrap();
        let why = reason(compare(&Cleaner::new(checkout.path()), &[paper], 1, 1, never).unwrap());
        assert!(why.contains("bulk tars (arXiv_src_*.tar) only"), "{why}");

        if python_runs() {
            let broken = fake_checkout(
                "import sys\nsys.stderr.write(\"ModuleNotFoundError: No module named 'fasttext'\\n\")\nsys.exit(1)\n",
            );
            let why = reason(compare(&Cleaner::new(broken.path()), &src, 1, 1, never).unwrap());
            assert!(why.contains("run_clean.py) failed"), "{why}");
            assert!(why.contains("arxiv_requirements.txt"), "{why}");
            assert!(why.ends_with("No module named 'fasttext'"), "{why}");
        }
    }

    #[test]
    fn a_failure_of_ours_is_an_error_not_a_skip() {
        let checkout = fake_checkout(FAKE_RUN_CLEAN);
        let (_root, src) = bulk_tars();
        let result = compare(&Cleaner::new(checkout.path()), &src, 1, 1, || bail!("our prepare broke"));
        if python_runs() {
            assert_eq!(result.unwrap_err().to_string(), "our prepare broke");
        } else {
            assert!(matches!(result, Ok(RedPajamaRow::Skipped { .. })), "{result:?}");
        }
    }
}
