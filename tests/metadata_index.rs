//! The metadata index (`replicate metadata index`) against the snapshot it
//! was built from: `prepare` gives the same ledger, yield table and documents
//! through either file, on the embedded real corpus and on a generated
//! snapshot with nulls, malformed lines and repeated ids; gzip input; and a
//! damaged index fails with an error that names it.

use std::io::Write;
use std::path::{Path, PathBuf};

use arxiv_to_model::corpus::metadata::for_each_record;
use arxiv_to_model::corpus::metadata_synth;
use arxiv_to_model::corpus::real::RealCorpus;
use arxiv_to_model::ledger::DropReason;
use arxiv_to_model::prepare::metadata_index::{build, is_index};
use arxiv_to_model::prepare::metadata_table::MetadataTable;
use arxiv_to_model::prepare::{run, PrepareInput, PrepareOptions, PrepareSummary};
use arxiv_to_model::spec::DataConfig;

fn corpus() -> RealCorpus {
    RealCorpus::locate().expect("the embedded real corpus")
}

fn data(run: &str) -> DataConfig {
    let runs = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
    arxiv_to_model::spec::load_one(&runs, run, "ci").unwrap().0.into_spec().data
}

fn prepare(run_id: &str, metadata: &Path, out: &Path) -> anyhow::Result<PrepareSummary> {
    let input = PrepareInput { src: corpus().tars, metadata: Some(metadata.to_path_buf()) };
    run(&data(run_id), &input, out, &PrepareOptions { jobs: 2, ..Default::default() })
}

/// The outputs that must not depend on which metadata file was read.
fn results(out: &Path) -> Vec<(String, Vec<u8>)> {
    ["ledger.csv", "yield.csv", "documents.jsonl"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(out.join(f)).unwrap()))
        .collect()
}

/// Prepares through the snapshot and through its index and asserts the same results.
fn same_results_both_ways(run_id: &str, snapshot: &Path, dir: &Path) -> PrepareSummary {
    let index = dir.join(format!("{run_id}.index"));
    build(snapshot, &index).unwrap();
    assert!(is_index(&index).unwrap() && !is_index(snapshot).unwrap());
    let via_snapshot = prepare(run_id, snapshot, &dir.join(format!("{run_id}-snapshot"))).unwrap();
    let via_index = prepare(run_id, &index, &dir.join(format!("{run_id}-index"))).unwrap();
    assert_eq!(
        results(&dir.join(format!("{run_id}-snapshot"))),
        results(&dir.join(format!("{run_id}-index"))),
        "{run_id}: prepare differs through the index"
    );
    let (a, b) = (via_snapshot.metadata.clone().unwrap(), via_index.metadata.clone().unwrap());
    assert_eq!(
        (a.records, a.malformed_lines, a.duplicate_ids, &a.first_errors),
        (b.records, b.malformed_lines, b.duplicate_ids, &b.first_errors)
    );
    assert_eq!(via_snapshot.drops, via_index.drops);
    via_index
}

#[test]
fn the_real_corpus_prepares_the_same_through_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let metadata = corpus().metadata;
    // Y01 (released filter) and Y06 (the described one, which drops at metadata).
    let y01 = same_results_both_ways("Y01", &metadata, dir.path());
    assert!(y01.papers_kept > 0);
    let y06 = same_results_both_ways("Y06", &metadata, dir.path());
    assert!(
        y06.drops.keys().any(|r| r == "abstract-too-short" || r == "category" || r == "license"),
        "{:?}",
        y06.drops
    );
}

/// A generated snapshot (gzipped, nulls anywhere) with the real corpus's
/// records, a few malformed lines and repeated ids appended as a second
/// gzip member.
fn hostile_snapshot(dir: &Path) -> PathBuf {
    let path = dir.join("snapshot.json.gz");
    metadata_synth::generate(5_000, 11, true, &path).unwrap();
    let real = std::fs::read_to_string(corpus().metadata).unwrap();
    let first_real: serde_json::Value = serde_json::from_str(real.lines().next().unwrap()).unwrap();
    let mut tail = real.clone();
    // Repeats: a real paper again with fewer versions (loses) and with more
    // versions and another title (wins); a generated id again with one version.
    let mut fewer = first_real.clone();
    fewer["versions"] = serde_json::json!([]);
    fewer["title"] = serde_json::json!("LOSES");
    let mut more = first_real.clone();
    more["versions"] = serde_json::json!([{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}, {"version": "v2", "created": null}, {"version": "v3", "created": null}, {"version": "v4", "created": null}, {"version": "v5", "created": null}]);
    more["title"] = serde_json::json!("WINS");
    tail.push_str(&format!("{fewer}\n{more}\n{fewer}\n"));
    tail.push_str(
        "{\"id\":\"0704.0001\",\"versions\":[{\"version\":\"v1\",\"created\":null}],\"abstract\":null}\n",
    );
    // Malformed: under the 1% share that prepare tolerates.
    tail.push_str("{truncated\n[1,2,3]\n{\"id\":null}\n");
    let file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    gz.write_all(tail.as_bytes()).unwrap();
    gz.finish().unwrap();
    path
}

#[test]
fn a_generated_snapshot_with_nulls_repeats_and_bad_lines_gives_the_same_verdicts_and_results() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = hostile_snapshot(dir.path());
    let index = dir.path().join("index.parquet");
    let report = build(&snapshot, &index).unwrap();
    assert_eq!(report.malformed_lines, 3);
    assert_eq!(report.duplicate_ids, 4);

    // Every id judged the same, text included, under two filters.
    let mut ids = Vec::new();
    for_each_record(&snapshot, |r| {
        ids.push(r.id);
        Ok(())
    })
    .unwrap();
    ids.push("9999.99999".into());
    for run_id in ["Y01", "Y06"] {
        let filter = &data(run_id).metadata_filter;
        let a = MetadataTable::load(&snapshot, filter).unwrap();
        let b = MetadataTable::load(&index, filter).unwrap();
        assert_eq!(a.stats, b.stats);
        assert_eq!(a.len(), b.len());
        let mut kept = 0;
        for id in &ids {
            let (x, y) = (a.judge(id).unwrap(), b.judge(id).unwrap());
            kept += usize::from(x.is_ok());
            assert_eq!(x, y, "{run_id}: {id}");
            assert_eq!(a.verdict(id), b.verdict(id), "{run_id}: {id}");
        }
        assert!(kept > 0 && kept < ids.len(), "{run_id}: {kept} of {} kept", ids.len());
        assert_eq!(a.judge("9999.99999").unwrap(), Err(DropReason::NoMetadataRecord));
    }
    // The repeat with most versions wins in both.
    let first_real = corpus_first_id();
    let table = MetadataTable::load(&index, &data("Y01").metadata_filter).unwrap();
    assert_eq!(table.judge(&first_real).unwrap().map(|m| m.title.clone()), Ok("WINS".to_string()));

    let summary = same_results_both_ways("Y01", &snapshot, dir.path());
    assert_eq!(summary.metadata.unwrap().duplicate_ids, 4);
    same_results_both_ways("Y06", &snapshot, dir.path());
}

fn corpus_first_id() -> String {
    let real = std::fs::read_to_string(corpus().metadata).unwrap();
    let first: serde_json::Value = serde_json::from_str(real.lines().next().unwrap()).unwrap();
    first["id"].as_str().unwrap().to_string()
}

#[test]
fn plain_and_gzipped_snapshots_build_the_same_index() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("s.json.gz");
    let plain = dir.path().join("s.json");
    metadata_synth::generate(2_000, 3, true, &gz).unwrap();
    metadata_synth::generate(2_000, 3, false, &plain).unwrap();
    assert_ne!(std::fs::read(&gz).unwrap(), std::fs::read(&plain).unwrap());
    let (a, b) = (dir.path().join("a.idx"), dir.path().join("b.idx"));
    build(&gz, &a).unwrap();
    build(&plain, &b).unwrap();
    let filter = data("Y06").metadata_filter;
    let (ta, tb) = (MetadataTable::load(&a, &filter).unwrap(), MetadataTable::load(&b, &filter).unwrap());
    assert_eq!(ta.len(), 2_000);
    let mut ids = Vec::new();
    for_each_record(&plain, |r| {
        ids.push(r.id);
        Ok(())
    })
    .unwrap();
    for id in &ids {
        assert_eq!(ta.judge(id).unwrap(), tb.judge(id).unwrap(), "{id}");
    }
}

#[test]
fn too_many_malformed_lines_fail_the_same_through_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("bad.json");
    let mut text = std::fs::read_to_string(corpus().metadata).unwrap();
    text.push_str("not json\n{also not\n");
    std::fs::write(&snapshot, text).unwrap();
    let index = dir.path().join("bad.index");
    build(&snapshot, &index).unwrap();
    let a = prepare("Y01", &snapshot, &dir.path().join("a")).unwrap_err();
    let b = prepare("Y01", &index, &dir.path().join("b")).unwrap_err();
    for (e, path) in [(a, &snapshot), (b, &index)] {
        let e = format!("{e:#}");
        assert!(e.contains("not usable records") && e.contains(&path.display().to_string()), "{e}");
    }
}

#[test]
fn a_damaged_index_is_an_error_that_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("s.json.gz");
    metadata_synth::generate(40_000, 5, true, &snapshot).unwrap();
    let index = dir.path().join("good.index");
    build(&snapshot, &index).unwrap();
    let bytes = std::fs::read(&index).unwrap();
    let filter = data("Y01").metadata_filter;

    let truncated = dir.path().join("truncated.index");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let e = format!("{:#}", MetadataTable::load(&truncated, &filter).unwrap_err());
    assert!(
        e.contains("truncated.index") && e.contains("truncated or damaged") && e.contains("metadata index"),
        "{e}"
    );

    let magic_only = dir.path().join("magic.index");
    std::fs::write(&magic_only, b"PAR1").unwrap();
    let e = format!("{:#}", MetadataTable::load(&magic_only, &filter).unwrap_err());
    assert!(e.contains("magic.index"), "{e}");

    // The footer intact, a data page overwritten: the verdict columns come
    // first in the file, so loading reads the damage.
    let damaged = dir.path().join("damaged.index");
    let mut broken = bytes.clone();
    for b in &mut broken[64..4_096] {
        *b = 0xA5;
    }
    std::fs::write(&damaged, &broken).unwrap();
    let e = format!("{:#}", MetadataTable::load(&damaged, &filter).unwrap_err());
    assert!(e.contains("damaged.index"), "{e}");
}
