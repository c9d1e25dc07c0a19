//! The runner's bookkeeping with a stand-in executor: shared stages run once,
//! one failing run does not stop the others, records and values are written,
//! and scaling and claims are judged from the values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Result};
use arxiv_to_model::corpus::real::RealCorpus;
use arxiv_to_model::replicate::plan::StageName;
use arxiv_to_model::replicate::record::RunStatus;
use arxiv_to_model::replicate::stages::{Executor, StageContext, VALUES_FILE};
use arxiv_to_model::replicate::verdicts::Verdict;
use arxiv_to_model::replicate::{run, RunOptions};
use arxiv_to_model::spec::model::ShapeRef;

/// Records every execution; fails T06's training; reports losses on a known power law.
#[derive(Default)]
struct StandIn {
    executed: Mutex<Vec<(StageName, String)>>,
}

const ALPHA: f64 = 0.5;

impl Executor for StandIn {
    fn synthesize(&self, papers: u32, _seed: u64, out: &Path) -> Result<()> {
        std::fs::write(out.join("arXiv_src_2401_001.tar"), vec![0u8; papers as usize])?;
        std::fs::write(out.join("arxiv-metadata-oai-snapshot.json"), b"")?;
        Ok(())
    }

    fn execute(&self, stage: StageName, ctx: &StageContext<'_>, out: &Path) -> Result<()> {
        let synthetic = ctx.sources.src[0].ends_with("arXiv_src_2401_001.tar");
        let real = RealCorpus::locate().is_ok_and(|r| r.tars.contains(&ctx.sources.src[0]));
        assert!(synthetic || real, "a run reads the synthetic or the embedded real corpus");
        self.executed.lock().unwrap().push((stage, ctx.spec.id.clone()));
        let mut values = BTreeMap::new();
        match stage {
            StageName::Prepare => {
                let kept = if ctx.spec.id == "Y01" { 70.0 } else { 100.0 };
                values.insert("tokens_kept".to_string(), kept);
            }
            StageName::Train if ctx.spec.id == "T06" => bail!("diverged at step 3"),
            StageName::Train => {
                let ShapeRef::Dims(dims) = ctx.spec.model.shape else { bail!("unresolved") };
                let n = dims.non_embedding_parameters() as f64;
                values.insert("non_embedding_params".to_string(), n);
                // A little seed noise, far below the gaps between rungs.
                let noise = 1e-3 * (ctx.spec.train.seed % 3) as f64;
                values.insert("val_loss".to_string(), 2.0 + 50.0 * n.powf(-ALPHA) + noise);
                std::fs::write(out.join("metrics.csv"), "split,step,loss,grad_norm,spike\ntrain,1,3.0,1.5,false\ntrain,2,2.5,1.2,true\nval,2,2.6,,\n")?;
            }
            _ => {}
        }
        std::fs::write(out.join(VALUES_FILE), serde_json::to_vec(&values)?)?;
        Ok(())
    }
}

fn options(root: &Path, force: bool) -> RunOptions {
    profile_options(root, force, "smoke")
}

fn profile_options(root: &Path, force: bool, profile: &str) -> RunOptions {
    RunOptions {
        runs: Path::new(env!("CARGO_MANIFEST_DIR")).join("runs").into(),
        work_dir: root.join("work"),
        reports_dir: root.join("reports"),
        profile: profile.into(),
        ids: None,
        sources: None,
        force,
        show_progress: false,
    }
}

fn count(executor: &StandIn, stage: StageName) -> usize {
    executor.executed.lock().unwrap().iter().filter(|(s, _)| *s == stage).count()
}

#[test]
fn all_runs_share_stages_survive_a_failure_and_are_judged() {
    let root = tempfile::tempdir().unwrap();
    let executor = StandIn::default();
    let summary = run(&options(root.path(), false), &executor).unwrap();

    assert_eq!(summary.runs.len(), 24);
    let failed: Vec<&str> =
        summary.runs.iter().filter(|r| r.status == RunStatus::Failed).map(|r| r.id.as_str()).collect();
    assert_eq!(failed, vec!["T06"]);
    let t06 = summary.runs.iter().find(|r| r.id == "T06").unwrap();
    assert_eq!(t06.failed_stage, Some(StageName::Train));
    assert!(t06.error.as_deref().unwrap().contains("diverged at step 3"));
    assert!(summary.render().contains("T06  FAILED at train: diverged at step 3"));

    // Y01..Y05 differ in data; Y06 and every other run share base.yaml's data section.
    assert_eq!(count(&executor, StageName::Prepare), 6);
    // Tokenizers: Y01-Y06 (own corpora), T01, T02, T04 and T05 (large vocab; T06 shares it).
    assert_eq!(count(&executor, StageName::Tokenizer), 10);
    // Four runs are the packed base configuration under another name (Y06, T03, S05, I02),
    // and I01 and F01 are both the padded/truncated loader on base data: each trains once.
    assert_eq!(count(&executor, StageName::Train), 20);

    for r in &summary.runs {
        let record: serde_json::Value = serde_json::from_slice(&std::fs::read(&r.record).unwrap()).unwrap();
        assert_eq!(record["stages"].as_array().unwrap().len(), 4, "{}", r.id);
        assert!(record["versions"]["dependencies"].is_object());
        assert_eq!(record["spec"]["id"], r.id.as_str());
    }
    let run_dir = root.path().join("reports/smoke/runs");
    assert!(run_dir.join("F01/metrics.csv").is_file(), "artifacts are copied");
    let t06 = std::fs::read_to_string(run_dir.join("T06/values.json")).unwrap();
    assert!(
        t06.contains("tokens_kept") && !t06.contains("val_loss"),
        "a failed run reports its finished stages: {t06}"
    );

    let scaling = summary.scaling.expect("S01-S05 all have losses");
    assert!((scaling.fit.alpha - ALPHA).abs() < 0.05, "fitted alpha {}", scaling.fit.alpha);
    let verdict = |id: &str| summary.claims.iter().find(|c| c.id == id).unwrap().verdict;
    assert_eq!(verdict("yield-gap"), Verdict::NotJudged, "smoke has one seed");
    assert_eq!(verdict("yield-papers"), Verdict::NotRun, "no run reported papers_kept");
    assert_eq!(verdict("mismatch-worse-loss"), Verdict::NotRun, "T06 failed");
    assert!(root.path().join("reports/smoke/claims.json").is_file());
}

#[test]
fn rerun_reuses_everything_and_force_redoes_each_stage_once() {
    let root = tempfile::tempdir().unwrap();
    let first = StandIn::default();
    run(&options(root.path(), false), &first).unwrap();
    let distinct = first.executed.lock().unwrap().len();

    let second = StandIn::default();
    let summary = run(&options(root.path(), false), &second).unwrap();
    assert!(
        second.executed.lock().unwrap().iter().all(|(s, id)| *s == StageName::Train && id == "T06"),
        "only the failed stage runs again"
    );
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary.runs[0].record).unwrap()).unwrap();
    assert!(record["stages"].as_array().unwrap().iter().all(|s| s["status"] == "reused"));

    let forced = StandIn::default();
    run(&options(root.path(), true), &forced).unwrap();
    assert_eq!(
        forced.executed.lock().unwrap().len(),
        distinct,
        "each stage key once, however many runs share it"
    );
}

#[test]
fn report_shows_claims_scaling_and_curves_from_the_outputs() {
    let root = tempfile::tempdir().unwrap();
    run(&options(root.path(), false), &StandIn::default()).unwrap();
    let set =
        arxiv_to_model::spec::load_set(Path::new(env!("CARGO_MANIFEST_DIR")).join("runs"), "smoke").unwrap();
    let expected: usize = set.specs.iter().map(|spec| spec.claims.len()).sum();
    assert_eq!(expected, 20, "the spec set's claims");
    let index = arxiv_to_model::report::write_report(set, &root.path().join("reports")).unwrap();
    let text = std::fs::read_to_string(&index).unwrap();
    assert!(text.contains("synthetic corpus of 40 papers, seed 2602"), "captions name the corpus");
    assert!(text.contains("| Loss falls smoothly with size (rung 2 below rung 1) | paper | S05 |"), "{text}");
    assert!(text.contains("not judged: one seed"));
    assert!(text.contains("F01: same run as I01"), "{text}");
    let figures = index.parent().unwrap().join("figures");
    for name in ["scaling", "usable_tokens", "loss_F"] {
        assert!(figures.join(format!("{name}.png")).is_file(), "{name}.png");
        assert!(figures.join(format!("{name}.svg")).is_file(), "{name}.svg");
    }
    let rows = |path: &str| std::fs::read_to_string(index.parent().unwrap().join(path)).unwrap();
    let (claims, timing) = (rows("tables/claims.csv"), rows("timing/tables/claims.csv"));
    assert!(timing.contains("I01.data_wait_share"), "{timing}");
    assert!(!claims.contains("data_wait_share"), "timing claims stay out of the committed report");
    assert_eq!(
        claims.lines().count() + timing.lines().count(),
        2 + expected,
        "a header each and one row per claim"
    );
}

/// Records which sources each run saw; writes a ledger and per-document tokens for the per-paper view.
#[derive(Default)]
struct SourceSpy {
    seen: Mutex<BTreeMap<String, PathBuf>>,
}

impl Executor for SourceSpy {
    fn synthesize(&self, papers: u32, seed: u64, out: &Path) -> Result<()> {
        StandIn::default().synthesize(papers, seed, out)
    }

    fn execute(&self, stage: StageName, ctx: &StageContext<'_>, out: &Path) -> Result<()> {
        self.seen.lock().unwrap().insert(ctx.spec.id.clone(), ctx.sources.src[0].clone());
        match stage {
            StageName::Prepare => std::fs::write(
                out.join("ledger.csv"),
                "id,status,stage,reason,bytes_in,chars_out\n1911.02782,kept,end,,100,1234\n\
                 2612.90031,dropped,quality,too-few-words,10,0\n",
            )?,
            StageName::Tokenize => {
                std::fs::write(out.join("document_tokens.csv"), "id,tokens\n1911.02782,321\n")?
            }
            _ => {}
        }
        std::fs::write(out.join(VALUES_FILE), b"{}")?;
        Ok(())
    }
}

#[test]
fn ci_reads_the_real_corpus_for_y_and_t_only_and_the_report_says_which() {
    let root = tempfile::tempdir().unwrap();
    let spy = SourceSpy::default();
    let opts = RunOptions {
        profile: "ci".into(),
        ids: Some(vec!["Y01".into(), "T01".into(), "S01".into()]),
        ..options(root.path(), false)
    };
    run(&opts, &spy).unwrap();
    let real = RealCorpus::locate().unwrap();
    let seen = spy.seen.lock().unwrap().clone();
    assert_eq!(seen["Y01"], real.tars[0]);
    assert_eq!(seen["T01"], real.tars[0]);
    assert!(seen["S01"].ends_with("arXiv_src_2401_001.tar"), "S01 read {}", seen["S01"].display());
    let record = |id: &str| -> serde_json::Value {
        let path = root.path().join(format!("reports/ci/runs/{id}/record.json"));
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    assert_eq!(record("Y01")["input"]["kind"], "real");
    assert_eq!(record("T01")["input"]["kind"], "real");
    assert_eq!(record("S01")["input"]["kind"], "synthetic");

    let set = arxiv_to_model::spec::load_set(opts.runs.clone(), "ci").unwrap();
    let index = arxiv_to_model::report::write_report(set, &opts.reports_dir).unwrap();
    let text = std::fs::read_to_string(&index).unwrap();
    let papers = std::fs::read_to_string(&real.metadata).unwrap().lines().count();
    let real_line = format!("Corpus: embedded real arXiv corpus of {papers} papers");
    let yield_at = text.find("## Data yield").expect("a yield section");
    let tokens_at = text.find("## Tokenization").expect("a tokenizer section");
    assert!(text[yield_at..tokens_at].contains(&real_line), "the yield section names its corpus");
    assert!(text[tokens_at..].contains(&real_line), "the tokenizer section names its corpus");
    let summary = format!(
        "Y, T: embedded real arXiv corpus of {papers} papers (tests/data/arxiv-real); \
         S: synthetic corpus of 160 papers, seed 2602"
    );
    assert!(text.contains(&summary), "the header says which corpus each group read: {text}");
    assert!(text.contains("| 1911.02782 | kept: 1234 chars, 321 tokens |"), "{text}");
    assert!(text.contains("| 2612.90031 | left at quality: too-few-words |"), "{text}");
    let per_paper = std::fs::read_to_string(index.parent().unwrap().join("tables/per_paper.csv")).unwrap();
    assert_eq!(per_paper.lines().count(), 3, "a header and one row per paper and Y run: {per_paper}");
}

#[test]
fn each_configuration_trains_once_per_seed_and_verdicts_use_the_seeds() {
    let root = tempfile::tempdir().unwrap();
    let executor = StandIn::default();
    let summary = run(&profile_options(root.path(), false, "ci"), &executor).unwrap();
    // What `replicate plan` counts (one configuration under several names trains once per
    // seed; F01 once at ci), except T06, which fails at its first of three seeds.
    let plan =
        arxiv_to_model::app::plan(&profile_options(root.path(), false, "ci"), Default::default()).unwrap();
    let total = plan.lines().find(|l| l.starts_with("total: ")).unwrap();
    let trainings: usize = total["total: ".len()..].split(' ').next().unwrap().parse().unwrap();
    assert_eq!(count(&executor, StageName::Train), trainings - 2, "{plan}");
    assert!(
        plan.contains("T03") && plan.lines().any(|l| l.starts_with("T03") && l.contains("same run as Y06"))
    );
    let f01 = summary.runs.iter().find(|r| r.id == "S01").unwrap();
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(&f01.record).unwrap()).unwrap();
    assert_eq!(record["seeds"]["train"], serde_json::json!([1234, 1235, 1236]));
    assert_eq!(record["stages"].as_array().unwrap().len(), 6, "four stages and two more trainings");
    let f01: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.path().join("reports/ci/runs/F01/record.json")).unwrap())
            .unwrap();
    assert_eq!(f01["seeds"]["train"], serde_json::json!([1234]), "F01 trains once at ci");
    // 20 x 46,908 non-embedding parameters, rounded up to whole steps of 2 x 4 x 128 tokens.
    assert_eq!(f01["spec"]["train"]["tokens"], 939_008, "20 tokens per non-embedding parameter");
    let claim = |id: &str| summary.claims.iter().find(|c| c.id == id).unwrap();
    // Rung gaps of ~1 nat against seed noise of 1e-3: replicated, with the spread reported.
    let monotone = claim("scaling-monotone-1");
    assert_eq!(monotone.verdict, Verdict::Replicated);
    assert_eq!(monotone.lhs.unwrap().n, 3);
    assert!(monotone.lhs.unwrap().sd > 0.0);
    // Data metrics repeat exactly over seeds: 100 > 70 with no noise.
    assert_eq!(claim("yield-gap").verdict, Verdict::Replicated);
    assert!((claim("yield-gap").relative_effect.unwrap() - 0.3).abs() < 1e-12);
    // A GPU-only metric on a CPU, a paper-profile claim at ci: not run.
    assert_eq!(claim("gpu-utilisation").verdict, Verdict::NotRun);
    assert_eq!(claim("final-loss").verdict, Verdict::NotRun);
}
