//! The synthetic corpus as oracle: for every paper and every Y run, the
//! ledger outcome equals the generator's ground truth; and under `resolve`
//! the documents hold every included file's marker sentence and none of the
//! text that comments, `\iffalse` or `comment` environments hide.

use std::collections::BTreeMap;
use std::path::Path;

use arxiv_to_model::corpus::synth::{generate, read_markers, MarkerKind};
use arxiv_to_model::prepare::{run, PrepareInput, PrepareOptions, PrepareSummary};

/// Papers in the oracle corpus: two full blocks of the generator's cases.
const PAPERS: u32 = 100;
const SEED: u64 = 2602;

fn rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    csv::Reader::from_path(path).unwrap().deserialize().collect::<Result<_, _>>().unwrap()
}

type Outcome = (String, String, String);

fn outcomes(rows: impl Iterator<Item = BTreeMap<String, String>>) -> BTreeMap<String, Outcome> {
    rows.map(|r| (r["id"].clone(), (r["status"].clone(), r["stage"].clone(), r["reason"].clone()))).collect()
}

fn prepare(dir: &Path, id: &str, out: &Path) -> PrepareSummary {
    let runs = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
    let (spec, _) = arxiv_to_model::spec::load_one(&runs, id, "ci").unwrap();
    let input = PrepareInput {
        src: vec![dir.join("src")],
        metadata: Some(dir.join("arxiv-metadata-oai-snapshot.json")),
    };
    run(&spec.data, &input, out, &PrepareOptions::default()).unwrap()
}

#[test]
fn ledger_outcomes_equal_the_synthetic_ground_truth_for_every_y_run() {
    let corpus = tempfile::tempdir().unwrap();
    generate(PAPERS, SEED, corpus.path()).unwrap();
    let truth = rows(&corpus.path().join("ground_truth.csv"));
    for id in ["Y01", "Y02", "Y03", "Y04", "Y05", "Y06"] {
        let out = tempfile::tempdir().unwrap();
        prepare(corpus.path(), id, out.path());
        let got = outcomes(rows(&out.path().join("ledger.csv")).into_iter());
        let want = outcomes(truth.iter().filter(|r| r["spec"] == id).cloned());
        let wrong: Vec<_> =
            want.iter().filter(|(k, v)| got.get(*k) != Some(v)).map(|(k, v)| (k, v, got.get(k))).collect();
        assert!(wrong.is_empty(), "{id}: {} of {} papers differ: {wrong:#?}", wrong.len(), want.len());
        assert_eq!(got.len(), want.len(), "{id}: every paper is one ledger row");
    }
}

#[test]
fn resolved_documents_hold_included_text_and_no_hidden_text() {
    let corpus = tempfile::tempdir().unwrap();
    generate(PAPERS, SEED, corpus.path()).unwrap();
    let markers = read_markers(&corpus.path().join("include_markers.csv")).unwrap();
    let out = tempfile::tempdir().unwrap();
    prepare(corpus.path(), "Y06", out.path());
    let documents: BTreeMap<String, String> = std::fs::read_to_string(out.path().join("documents.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["id"].as_str().unwrap().to_string(), v["text"].as_str().unwrap().to_string())
        })
        .collect();
    let mut checked = 0;
    for marker in &markers {
        let Some(text) = documents.get(&marker.id) else { continue };
        let present = text.contains(&marker.sentence);
        match marker.kind {
            MarkerKind::IncludedFile => assert!(present, "{}: included {} missing", marker.id, marker.file),
            _ => {
                assert!(!present, "{}: hidden text of {} ({:?}) leaked", marker.id, marker.file, marker.kind)
            }
        }
        checked += 1;
    }
    assert!(checked > 0, "the corpus has marker sentences in kept documents");
    for (id, text) in &documents {
        assert!(
            !text.contains("\\input") && !text.contains("\\include{"),
            "{id} still has an include command"
        );
    }
}

/// A unit's records reach the finishing pass two ways: handed over as the
/// writer writes them (a unit whose manifest verdict is known at its start)
/// or read back from its part (resumed units, hashed tars). Both must judge
/// alike, near and exact duplicates included.
#[test]
fn records_streamed_to_the_finishing_pass_and_read_back_from_parts_give_the_same_outputs() {
    let corpus = tempfile::tempdir().unwrap();
    generate(PAPERS, SEED, corpus.path()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let streamed = prepare(corpus.path(), "Y06", out.path());
    assert_eq!(streamed.units_resumed, 0);
    assert!(!streamed.near_duplicate_of.is_empty(), "the corpus plants near-duplicates");
    assert!(streamed.drops.get("exact-duplicate").copied().unwrap_or(0) > 0, "and exact ones");
    let outputs = ["documents.jsonl", "ledger.csv", "yield.csv"];
    let first: Vec<Vec<u8>> = outputs.iter().map(|f| std::fs::read(out.path().join(f)).unwrap()).collect();
    for file in outputs {
        std::fs::remove_file(out.path().join(file)).unwrap();
    }
    let read_back = prepare(corpus.path(), "Y06", out.path());
    assert_eq!(read_back.units_processed, 0, "every unit is resumed from its part");
    for (file, bytes) in outputs.iter().zip(&first) {
        assert!(std::fs::read(out.path().join(file)).unwrap() == *bytes, "{file} differs");
    }
    assert_eq!(read_back.near_duplicate_of, streamed.near_duplicate_of);
    assert_eq!(read_back.drops, streamed.drops);
}
