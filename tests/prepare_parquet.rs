//! `ledger.parquet` and `yield.parquet` beside their CSV, and `prepare merge`'s
//! account of the shards' ledgers (`merge.csv`), on the embedded real corpus.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arxiv_to_model::corpus::real::RealCorpus;
use arxiv_to_model::prepare::merge_ledgers::OutcomeCount;
use arxiv_to_model::prepare::output::{LedgerRow, YieldRow};
use arxiv_to_model::prepare::parquet::read_parquet;
use arxiv_to_model::prepare::{merge, run, PrepareInput, PrepareOptions};
use arxiv_to_model::spec::DataConfig;
use polars::prelude::{DataFrame, DataType};

fn data(run: &str) -> DataConfig {
    let runs = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
    arxiv_to_model::spec::load_one(&runs, run, "ci").unwrap().0.into_spec().data
}

fn input() -> PrepareInput {
    let corpus = RealCorpus::locate().expect("the embedded real corpus");
    PrepareInput { src: corpus.tars, metadata: Some(corpus.metadata) }
}

fn read_csv<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    csv::Reader::from_path(path).unwrap().deserialize().collect::<Result<_, _>>().unwrap()
}

fn schema(df: &DataFrame) -> Vec<(String, DataType)> {
    df.schema().iter().map(|(n, t)| (n.to_string(), t.clone())).collect()
}

fn strings(df: &DataFrame, name: &str) -> Vec<String> {
    df.column(name).unwrap().str().unwrap().iter().map(|v| v.unwrap().to_string()).collect()
}

fn numbers(df: &DataFrame, name: &str) -> Vec<u64> {
    df.column(name).unwrap().u64().unwrap().iter().map(|v| v.unwrap()).collect()
}

/// The ledger rows of a `ledger.parquet`, read column by column by name.
fn ledger_from_parquet(path: &Path) -> Vec<LedgerRow> {
    let df = read_parquet(path).unwrap();
    let want = [
        ("id", DataType::String),
        ("status", DataType::String),
        ("stage", DataType::String),
        ("reason", DataType::String),
        ("bytes_in", DataType::UInt64),
        ("chars_out", DataType::UInt64),
    ];
    assert_eq!(schema(&df), want.map(|(n, t)| (n.to_string(), t)).to_vec(), "{}", path.display());
    let (id, status, stage, reason) =
        (strings(&df, "id"), strings(&df, "status"), strings(&df, "stage"), strings(&df, "reason"));
    let (bytes_in, chars_out) = (numbers(&df, "bytes_in"), numbers(&df, "chars_out"));
    (0..df.height())
        .map(|i| LedgerRow {
            id: id[i].clone(),
            status: status[i].clone(),
            stage: stage[i].clone(),
            reason: reason[i].clone(),
            bytes_in: bytes_in[i],
            chars_out: chars_out[i],
        })
        .collect()
}

fn yield_from_parquet(path: &Path) -> Vec<YieldRow> {
    let df = read_parquet(path).unwrap();
    let want = [
        ("stage", DataType::String),
        ("papers_in", DataType::UInt64),
        ("papers_out", DataType::UInt64),
        ("bytes_out", DataType::UInt64),
        ("chars_out", DataType::UInt64),
    ];
    assert_eq!(schema(&df), want.map(|(n, t)| (n.to_string(), t)).to_vec(), "{}", path.display());
    let stage = strings(&df, "stage");
    let (papers_in, papers_out) = (numbers(&df, "papers_in"), numbers(&df, "papers_out"));
    let (bytes_out, chars_out) = (numbers(&df, "bytes_out"), numbers(&df, "chars_out"));
    (0..df.height())
        .map(|i| YieldRow {
            stage: stage[i].clone(),
            papers_in: papers_in[i],
            papers_out: papers_out[i],
            bytes_out: bytes_out[i],
            chars_out: chars_out[i],
        })
        .collect()
}

#[test]
fn the_parquet_tables_hold_the_csv_rows_with_typed_columns() {
    let out = tempfile::tempdir().unwrap();
    let summary = run(&data("Y01"), &input(), out.path(), &PrepareOptions::default()).unwrap();
    let ledger: Vec<LedgerRow> = read_csv(&out.path().join("ledger.csv"));
    assert_eq!(ledger.len() as u64, summary.papers_seen);
    // The real corpus leaves papers at several stages: the rows are not all alike.
    let outcomes: std::collections::BTreeSet<&str> = ledger.iter().map(|r| r.stage.as_str()).collect();
    assert!(outcomes.len() >= 3, "{outcomes:?}");
    assert_eq!(ledger_from_parquet(&out.path().join("ledger.parquet")), ledger);
    let waterfall: Vec<YieldRow> = read_csv(&out.path().join("yield.csv"));
    assert_eq!(waterfall, summary.waterfall);
    assert_eq!(yield_from_parquet(&out.path().join("yield.parquet")), waterfall);
}

/// `merge.csv` recomputed from the CSV ledgers: papers per (stage, reason).
fn oracle(shards: &[PathBuf], merged: &Path) -> BTreeMap<(String, String), (u64, u64)> {
    let mut counts: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for dir in shards {
        for r in read_csv::<LedgerRow>(&dir.join("ledger.csv")) {
            counts.entry((r.stage, r.reason)).or_default().0 += 1;
        }
    }
    for r in read_csv::<LedgerRow>(&merged.join("ledger.csv")) {
        counts.entry((r.stage, r.reason)).or_default().1 += 1;
    }
    counts
}

fn shard_runs(cfg: &DataConfig, count: usize) -> (Vec<tempfile::TempDir>, Vec<PathBuf>) {
    let dirs: Vec<tempfile::TempDir> = (0..count).map(|_| tempfile::tempdir().unwrap()).collect();
    for (i, dir) in dirs.iter().enumerate() {
        let opts = PrepareOptions { shard: Some((i, count)), ..Default::default() };
        run(cfg, &input(), dir.path(), &opts).unwrap();
    }
    let paths = dirs.iter().map(|d| d.path().to_path_buf()).collect();
    (dirs, paths)
}

#[test]
fn three_shards_of_the_real_corpus_merge_into_the_unsharded_run_and_account_for_every_paper() {
    let cfg = data("Y01");
    let whole = tempfile::tempdir().unwrap();
    let unsharded = run(&cfg, &input(), whole.path(), &PrepareOptions::default()).unwrap();
    let (_keep, shards) = shard_runs(&cfg, 3);
    let merged = tempfile::tempdir().unwrap();
    let summary = merge(&shards, merged.path()).unwrap();
    assert_eq!(summary.papers_seen, unsharded.papers_seen);
    for name in ["documents.jsonl", "ledger.csv", "yield.csv"] {
        let read = |dir: &Path| std::fs::read(dir.join(name)).unwrap();
        assert_eq!(read(whole.path()), read(merged.path()), "{name}");
    }
    for name in ["ledger.parquet", "yield.parquet"] {
        let (a, b) = (
            read_parquet(&whole.path().join(name)).unwrap(),
            read_parquet(&merged.path().join(name)).unwrap(),
        );
        assert!(a.equals(&b), "{name} differs between the unsharded run and the merge");
    }
    let got: Vec<OutcomeCount> = read_csv(&merged.path().join("merge.csv"));
    let got: BTreeMap<(String, String), (u64, u64)> =
        got.into_iter().map(|r| ((r.stage, r.reason), (r.papers_in_shards, r.papers_merged))).collect();
    assert_eq!(got, oracle(&shards, merged.path()));
    let total: u64 = got.values().map(|c| c.1).sum();
    assert_eq!(total, unsharded.papers_seen);
}

#[test]
fn a_shard_without_its_ledger_parquet_fails_the_merge_by_name_before_any_output() {
    let (_keep, shards) = shard_runs(&data("Y01"), 3);
    let stale = shards[1].join("ledger.parquet");
    std::fs::remove_file(&stale).unwrap();
    let merged = tempfile::tempdir().unwrap();
    let err = format!("{:#}", merge(&shards, merged.path()).unwrap_err());
    assert!(err.contains(&stale.display().to_string()) && err.contains("rerun"), "{err}");
    assert!(!merged.path().join("ledger.csv").exists());
}

#[test]
fn a_shard_ledger_that_does_not_match_its_parts_fails_the_merge() {
    let (_keep, shards) = shard_runs(&data("Y01"), 3);
    // Shard 2's ledger replaced by shard 0's: the papers no longer add up.
    std::fs::copy(shards[0].join("ledger.parquet"), shards[2].join("ledger.parquet")).unwrap();
    let merged = tempfile::tempdir().unwrap();
    let err = format!("{:#}", merge(&shards, merged.path()).unwrap_err());
    assert!(err.contains("the shards' ledgers hold"), "{err}");
}
