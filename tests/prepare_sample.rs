//! `prepare` on the embedded real arXiv corpus (`tests/data/arxiv-real`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arxiv_to_model::prepare::output::{LedgerRow, YieldRow};
use arxiv_to_model::prepare::{run, PrepareInput, PrepareOptions};

fn sample() -> PathBuf {
    PathBuf::from(arxiv_to_model::corpus::real::REAL_CORPUS_DIR)
}

fn y01() -> arxiv_to_model::spec::DataConfig {
    let runs = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
    arxiv_to_model::spec::load_one(&runs, "Y01", "ci").unwrap().0.data
}

fn read_csv<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    csv::Reader::from_path(path).unwrap().deserialize().collect::<Result<_, _>>().unwrap()
}

/// What the released scripts would keep at validation: the `.gz` is a tar
/// (gzipped or not) with at least one member ending in `.tex` (macOS `._*` aside).
fn released_validation_keeps(gz: &[u8]) -> bool {
    use std::io::Read;
    let mut content = Vec::new();
    if flate2::read::MultiGzDecoder::new(gz).read_to_end(&mut content).is_err() {
        return false;
    }
    let mut archive = tar::Archive::new(&content[..]);
    let Ok(entries) = archive.entries() else {
        return false;
    };
    let mut has_tex = false;
    for entry in entries {
        let Ok(entry) = entry else { return false };
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let base = name.rsplit('/').next().unwrap_or(&name).to_string();
        has_tex |= name.ends_with(".tex") && !base.starts_with("._");
    }
    has_tex
}

#[test]
fn y01_on_the_real_sample_accounts_for_every_paper() {
    let dir = sample();
    let tar = dir.join("arXiv_src_2612_001.tar");
    let out = tempfile::tempdir().unwrap();
    let input = PrepareInput { src: vec![tar.clone()], metadata: None };
    let summary = run(&y01(), &input, out.path(), &PrepareOptions::default()).unwrap();

    // Every paper in the tar is exactly one ledger row.
    let mut archive = tar::Archive::new(std::fs::File::open(&tar).unwrap());
    let mut expected_validation: BTreeMap<String, bool> = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let id = name.rsplit('/').next().unwrap().trim_end_matches(".gz").to_string();
        let mut gz = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut gz).unwrap();
        expected_validation.insert(id, released_validation_keeps(&gz));
    }
    let ledger: Vec<LedgerRow> = read_csv(&out.path().join("ledger.csv"));
    let ids: BTreeMap<String, &LedgerRow> = ledger.iter().map(|r| (r.id.clone(), r)).collect();
    assert_eq!(ledger.len(), 10);
    assert_eq!(ids.len(), 10, "one row per paper, no repeats");
    assert_eq!(ids.keys().collect::<Vec<_>>(), expected_validation.keys().collect::<Vec<_>>());

    for row in &ledger {
        println!(
            "Y01 ledger: {},{},{},{},{},{}",
            row.id, row.status, row.stage, row.reason, row.bytes_in, row.chars_out
        );
        let passes_validation = row.stage != "metadata" && row.stage != "validation";
        assert_eq!(passes_validation, expected_validation[&row.id], "{}: validation verdict", row.id);
        assert_eq!(row.reason.is_empty(), row.status == "kept");
    }
    // Y01 keeps exactly the tars with a .tex member, unless a later released
    // filter (words, language, duplicates) drops them, and says which.
    for row in ledger.iter().filter(|r| r.status == "dropped" && expected_validation[&r.id]) {
        assert!(
            ["quality", "dedup", "extraction", "cleaning"].contains(&row.stage.as_str()),
            "{} dropped at {} ({})",
            row.id,
            row.stage,
            row.reason
        );
    }

    // The waterfall sums match the ledger.
    let waterfall: Vec<YieldRow> = read_csv(&out.path().join("yield.csv"));
    for row in &waterfall {
        println!(
            "Y01 yield: {},{},{},{},{}",
            row.stage, row.papers_in, row.papers_out, row.bytes_out, row.chars_out
        );
    }
    assert_eq!(waterfall.len(), 7);
    assert_eq!(waterfall[0].papers_in, 10);
    for pair in waterfall.windows(2) {
        assert_eq!(pair[1].papers_in, pair[0].papers_out);
    }
    for row in &waterfall {
        let dropped_here =
            ledger.iter().filter(|r| r.status == "dropped" && r.stage == row.stage).count() as u64;
        assert_eq!(row.papers_in - row.papers_out, dropped_here, "stage {}", row.stage);
    }
    let kept: Vec<&LedgerRow> = ledger.iter().filter(|r| r.status == "kept").collect();
    let last = waterfall.last().unwrap();
    assert_eq!(last.papers_out, kept.len() as u64);
    assert_eq!(last.chars_out, kept.iter().map(|r| r.chars_out).sum::<u64>());
    assert_eq!(last.bytes_out, kept.iter().map(|r| r.bytes_in).sum::<u64>());
    assert_eq!(waterfall[0].bytes_out, ledger.iter().map(|r| r.bytes_in).sum::<u64>());
    assert_eq!(summary.papers_kept, kept.len() as u64);
    assert_eq!(summary.skipped_stages, vec!["metadata".to_string()]);

    // Kept documents are the released layout, with the title from the LaTeX.
    let docs = std::fs::read_to_string(out.path().join("documents.jsonl")).unwrap();
    assert_eq!(docs.lines().count(), kept.len());
    let every = u64::from(y01().split.validation_every);
    for (ordinal, line) in (1u64..).zip(docs.lines()) {
        let doc: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = doc["text"].as_str().unwrap();
        assert!(text.starts_with("Title: "), "{}", &text[..60.min(text.len())]);
        assert!(text.contains("\nAbstract: ") && text.contains("\nBody: "));
        assert!(!text.contains("\\begin{document}") || doc["id"] != "2212.11082");
        let split = if ordinal % every == 0 { "validation" } else { "train" };
        assert_eq!(doc["split"], split, "every {every}-th kept document is held out");
        assert_eq!(doc["source"], "tar-gz");
    }
}

#[test]
fn the_sample_manifest_matches_and_metadata_titles_are_used() {
    let dir = sample();
    let mut cfg = y01();
    cfg.validation.check_manifest = true;
    let out = tempfile::tempdir().unwrap();
    let input = PrepareInput {
        src: vec![dir.join("arXiv_src_2612_001.tar")],
        metadata: Some(dir.join("metadata.jsonl")),
    };
    let summary = run(&cfg, &input, out.path(), &PrepareOptions::default()).unwrap();
    assert_eq!(summary.papers_seen, 10);
    assert!(summary.skipped_stages.is_empty());
    assert_eq!(serde_json::to_value(&summary.inputs[0].manifest).unwrap()["status"], "match");
    let ledger: Vec<LedgerRow> = read_csv(&out.path().join("ledger.csv"));
    for row in &ledger {
        println!("Y01+metadata ledger: {},{},{},{}", row.id, row.status, row.stage, row.reason);
    }
    // 1703.09710 is astro-ph.IM physics.data-an stat.CO: it passes the
    // released substring match only through "physi-cs".
    let celerite = ledger.iter().find(|r| r.id == "1703.09710").unwrap();
    assert_ne!(celerite.reason, "category");
    let docs = std::fs::read_to_string(out.path().join("documents.jsonl")).unwrap();
    let _every = u64::from(y01().split.validation_every);
    for (_ordinal, line) in (1u64..).zip(docs.lines()) {
        let doc: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(doc["categories"].is_string());
        if doc["id"] == "1911.02782" {
            assert_eq!(doc["title"], "S2ORC: The Semantic Scholar Open Research Corpus");
        }
    }
}
