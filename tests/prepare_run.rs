//! `prepare::run` and `prepare::merge` end to end on a small hand-made corpus
//! that has one paper per outcome: ledger, documents, waterfall, determinism,
//! resume, shards, manifest check, and runs that cannot proceed saying why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arxiv_to_model::corpus::synth::pack;
use arxiv_to_model::prepare::merge_ledgers::OutcomeCount;
use arxiv_to_model::prepare::output::{LedgerRow, YieldRow};
use arxiv_to_model::prepare::{merge, run, PrepareInput, PrepareOptions};
use arxiv_to_model::spec::DataConfig;

const ENGLISH: &str = "We study how the preprocessing of scientific papers changes the amount of usable text for training language models. Our experiments show that archive validation, the extraction of the main file and the cleaning of comments each decide how many documents survive, and we report the yield of every stage for the whole corpus of papers in mathematics and physics.";
const GERMAN: &str = "Wir untersuchen, wie die Vorverarbeitung wissenschaftlicher Arbeiten die Menge des nutzbaren Textes für das Training von Sprachmodellen verändert. Unsere Experimente zeigen, dass die Prüfung der Archive, die Auswahl der Hauptdatei und die Bereinigung der Kommentare jeweils entscheiden, wie viele Dokumente übrig bleiben, und wir berichten den Ertrag jeder Stufe.";

const LATIN_OWN: &str = "The wave function of a free particle spreads as it evolves, and the width of the packet grows with time at a rate set by the inverse of its mass, which we compute for electrons in a crystal.";

fn spec(id: &str) -> DataConfig {
    let runs = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
    arxiv_to_model::spec::load_one(&runs, id, "ci").unwrap().0.into_spec().data
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    pack::gzip(bytes).unwrap()
}

fn tar(members: &[(&str, &[u8])]) -> Vec<u8> {
    let members: Vec<pack::Member> =
        members.iter().map(|(name, bytes)| pack::Member::new(*name, *bytes)).collect();
    pack::tar(&members, false).unwrap()
}

fn paper(title: &str, body: &str) -> Vec<u8> {
    format!("\\documentclass{{article}}\n\\title{{{title}}}\n\\begin{{document}}\n\\maketitle\n\\begin{{abstract}}\nA study of {title}.\n\\end{{abstract}}\n{body}\n\\end{{document}}\n").into_bytes()
}

fn multi_file(title: &str, body: &str) -> Vec<u8> {
    gz(&tar(&[("ms.tex", &paper(title, body)), ("fig.pdf", b"%PDF-1.4")]))
}

/// A corpus of two units: a bulk tar, then a directory of per-paper files.
struct Corpus {
    _dir: tempfile::TempDir,
    tar: PathBuf,
    loose: PathBuf,
}

fn corpus() -> Corpus {
    let dir = tempfile::tempdir().unwrap();
    let kept = multi_file("Yield", ENGLISH);
    let members: Vec<(&str, Vec<u8>)> = vec![
        ("0601/math0601001.gz", kept.clone()),
        ("0601/math0601002.gz", gz(&paper("Single", &format!("{ENGLISH} Single file.")))),
        ("0601/2601.00003.pdf", b"%PDF-1.4\n%...".to_vec()),
        ("0601/2601.00004.gz", Vec::new()),
        ("0601/2601.00005.gz", kept.clone()),
        ("0601/2601.00006.gz", multi_file("Cut", ENGLISH)[..60].to_vec()),
        ("0601/2601.00007.gz", multi_file("Deutsch", GERMAN)),
        ("0601/2601.00008.gz", multi_file("Short", "Too short.")),
        ("0601/2601.00009.gz", gz(&tar(&[("ms.tex", &paper("Evil", ENGLISH)), ("../../evil.tex", b"x")]))),
        ("0601/2601.00010.gz", gz(&tar(&[("fig.pdf", b"%PDF-1.4")]))),
        ("0601/2601.00013.gz", multi_file("Second", &format!("{ENGLISH} A second distinct paper."))),
        // A Latin-1 source, as common before 2005: "Schr\xf6dinger". A paragraph
        // of its own keeps it clear of Y06's near dedup: with only the shared
        // body its shingles were 0.71 Jaccard from math/0601001's, two standard
        // errors of a 128-bin MinHash (0.05 at this length) below the 0.8 threshold.
        (
            "0601/2601.00014.gz",
            gz(&tar(&[(
                "ms.tex",
                &[paper("Latin", &format!("{ENGLISH} {LATIN_OWN}")), b"Schr\xf6dinger equation.".to_vec()]
                    .concat(),
            )])),
        ),
    ];
    let tar_bytes = tar(&members.iter().map(|(n, b)| (*n, b.as_slice())).collect::<Vec<_>>());
    let tar_path = dir.path().join("bulk/arXiv_src_0601_001.tar");
    std::fs::create_dir_all(tar_path.parent().unwrap()).unwrap();
    std::fs::write(&tar_path, &tar_bytes).unwrap();
    let loose = dir.path().join("loose");
    std::fs::create_dir_all(&loose).unwrap();
    // The same submission again in another unit: a duplicate across shards.
    std::fs::write(loose.join("2601.00011.gz"), &kept).unwrap();
    std::fs::write(
        loose.join("2601.00012v2.tar.gz"),
        multi_file("Third", &format!("{ENGLISH} A third one.")),
    )
    .unwrap();
    std::fs::write(loose.join("notes.txt"), b"not a paper").unwrap();
    Corpus { _dir: dir, tar: tar_path, loose }
}

fn input(c: &Corpus) -> PrepareInput {
    PrepareInput { src: vec![c.tar.clone(), c.loose.clone()], metadata: None }
}

fn ledger(out: &Path) -> Vec<LedgerRow> {
    csv::Reader::from_path(out.join("ledger.csv")).unwrap().deserialize().collect::<Result<_, _>>().unwrap()
}

fn outcomes(out: &Path) -> BTreeMap<String, String> {
    ledger(out).into_iter().map(|r| (r.id, format!("{}/{}", r.stage, r.reason))).collect()
}

fn read(out: &Path, name: &str) -> Vec<u8> {
    std::fs::read(out.join(name)).unwrap()
}

#[test]
fn y01_gives_every_paper_its_released_outcome() {
    let c = corpus();
    let out = tempfile::tempdir().unwrap();
    let summary = run(&spec("Y01"), &input(&c), out.path(), &PrepareOptions::default()).unwrap();
    let want: BTreeMap<String, String> = [
        ("math/0601001", "end/"),
        ("math/0601002", "validation/not-a-tar"),
        ("2601.00003", "validation/pdf-only"),
        ("2601.00004", "validation/empty"),
        ("2601.00005", "dedup/exact-duplicate"),
        ("2601.00006", "validation/corrupt"),
        ("2601.00007", "quality/not-english"),
        ("2601.00008", "quality/too-few-words"),
        ("2601.00009", "validation/unsafe-member"),
        ("2601.00010", "validation/no-tex"),
        ("2601.00013", "end/"),
        ("2601.00014", "end/"),
        ("2601.00011", "dedup/exact-duplicate"),
        ("2601.00012", "end/"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(outcomes(out.path()), want);
    assert_eq!(summary.papers_seen, 14);
    assert_eq!(summary.papers_kept, 4);
    assert_eq!(summary.drops["exact-duplicate"], 2);

    let waterfall: Vec<YieldRow> = csv::Reader::from_path(out.path().join("yield.csv"))
        .unwrap()
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap();
    let counts: Vec<(u64, u64)> = waterfall.iter().map(|r| (r.papers_in, r.papers_out)).collect();
    assert_eq!(counts, vec![(14, 14), (14, 8), (8, 8), (8, 8), (8, 8), (8, 6), (6, 4)]);

    let docs = String::from_utf8(read(out.path(), "documents.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(docs.lines().next().unwrap()).unwrap();
    assert_eq!(first["id"], "math/0601001");
    assert_eq!(first["title"], "Yield");
    assert_eq!(first["source"], "tar-gz");
    assert_eq!(first["encoding"], "UTF-8");
    assert!(first["categories"].is_null());
    let text = first["text"].as_str().unwrap();
    assert!(text.starts_with("Title: Yield\nAbstract: A study of Yield.\nBody: \\maketitle"), "{text}");
}

#[test]
fn sniff_mode_keeps_the_single_file_submission_and_detect_mode_reads_latin1() {
    let c = corpus();
    let doc_of = |out: &Path, id: &str| -> serde_json::Value {
        let docs = String::from_utf8(read(out, "documents.jsonl")).unwrap();
        docs.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|d| d["id"] == id)
            .unwrap()
    };
    let y01 = tempfile::tempdir().unwrap();
    run(&spec("Y01"), &input(&c), y01.path(), &PrepareOptions::default()).unwrap();
    let latin = doc_of(y01.path(), "2601.00014");
    assert!(latin["text"].as_str().unwrap().contains("Schr\u{fffd}dinger"));
    assert_eq!(latin["encoding"], "UTF-8");

    let y02 = tempfile::tempdir().unwrap();
    run(&spec("Y02"), &input(&c), y02.path(), &PrepareOptions::default()).unwrap();
    assert_eq!(outcomes(y02.path())["math/0601002"], "end/");
    assert_eq!(doc_of(y02.path(), "math/0601002")["source"], "tex-gz");
    // Y02 changes only the archive sniffing; encoding detection is Y06's decision.
    assert_eq!(doc_of(y02.path(), "2601.00014")["encoding"], "UTF-8");
    let y06 = tempfile::tempdir().unwrap();
    run(&spec("Y06"), &input(&c), y06.path(), &PrepareOptions::default()).unwrap();
    let latin = doc_of(y06.path(), "2601.00014");
    let text = latin["text"].as_str().unwrap();
    // Detection decodes the latin-1 bytes: no replacement characters (Y01 had one).
    assert!(!text.contains('\u{fffd}'), "{text}");
    assert_eq!(latin["encoding"], "windows-1252");
}

#[test]
fn same_input_gives_the_same_bytes_whatever_the_worker_count() {
    let c = corpus();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run(&spec("Y01"), &input(&c), a.path(), &PrepareOptions { jobs: 1, ..Default::default() }).unwrap();
    run(&spec("Y01"), &input(&c), b.path(), &PrepareOptions { jobs: 3, ..Default::default() }).unwrap();
    for name in ["documents.jsonl", "ledger.csv", "yield.csv"] {
        assert_eq!(read(a.path(), name), read(b.path(), name), "{name}");
    }
}

/// Three bulk tars of papers whose sizes differ by two orders of magnitude
/// (a long one first in each), so that with several workers later papers
/// finish before earlier ones and the writer must restore the input order.
fn uneven_corpus() -> (tempfile::TempDir, Vec<PathBuf>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let (mut tars, mut ids) = (Vec::new(), Vec::new());
    for unit in 0..3 {
        let mut members = Vec::new();
        for i in 0..17 {
            let id = format!("2601.{:05}", unit * 100 + i);
            let repeats = if i % 8 == 0 { 400 } else { 1 + i % 3 };
            let body = format!("{ENGLISH} Paper {id}. ").repeat(repeats);
            let bytes = match i % 5 {
                3 => b"%PDF-1.4 not a source".to_vec(),
                4 => gz(&paper(&format!("Single {id}"), &body)),
                _ => multi_file(&format!("Paper {id}"), &body),
            };
            members.push((format!("2601/{id}.gz"), bytes));
            ids.push(id);
        }
        let bytes = tar(&members.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect::<Vec<_>>());
        let path = dir.path().join(format!("arXiv_src_2601_{:03}.tar", unit + 1));
        std::fs::write(&path, bytes).unwrap();
        tars.push(path);
    }
    (dir, tars, ids)
}

#[test]
fn streaming_keeps_input_order_and_accounts_for_every_paper_at_any_worker_count() {
    let (_dir, tars, ids) = uneven_corpus();
    let input = PrepareInput { src: tars, metadata: None };
    let outs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    for (out, jobs) in outs.iter().zip([1, 2, 5]) {
        let summary =
            run(&spec("Y06"), &input, out.path(), &PrepareOptions { jobs, ..Default::default() }).unwrap();
        assert_eq!(summary.papers_seen, ids.len() as u64, "jobs {jobs}");
        assert_eq!(summary.papers_kept + summary.papers_dropped, summary.papers_seen, "jobs {jobs}");
        assert_eq!(summary.inputs.iter().map(|u| u.papers).sum::<u64>(), ids.len() as u64);
        let order: Vec<String> = ledger(out.path()).into_iter().map(|r| r.id).collect();
        assert_eq!(order, ids, "jobs {jobs}: one ledger row per paper, in input order");
    }
    let kept = outcomes(outs[0].path()).values().filter(|o| o.starts_with("end/")).count();
    assert!(kept > 20 && kept < ids.len(), "the corpus keeps some papers and drops others ({kept})");
    for out in &outs[1..] {
        for name in ["documents.jsonl", "ledger.csv", "yield.csv"] {
            assert_eq!(read(outs[0].path(), name), read(out.path(), name), "{name}");
        }
        let parts = |dir: &Path| {
            let mut names: Vec<PathBuf> = std::fs::read_dir(dir.join("parts"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
                .collect();
            names.sort();
            names.iter().map(|p| std::fs::read(p).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(parts(outs[0].path()), parts(out.path()), "per-unit parts");
    }
}

#[test]
fn a_rerun_resumes_completed_units_and_redoes_a_missing_one() {
    let c = corpus();
    let out = tempfile::tempdir().unwrap();
    let first = run(&spec("Y01"), &input(&c), out.path(), &PrepareOptions::default()).unwrap();
    let ledger_before = read(out.path(), "ledger.csv");
    assert_eq!((first.units_processed, first.units_resumed), (2, 0));

    let again = run(&spec("Y01"), &input(&c), out.path(), &PrepareOptions::default()).unwrap();
    assert_eq!((again.units_processed, again.units_resumed), (0, 2));
    assert_eq!(read(out.path(), "ledger.csv"), ledger_before);

    // A run killed during unit 1 left no records file for it.
    let parts = out.path().join("parts");
    let unit1 = std::fs::read_dir(&parts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name().unwrap().to_str().unwrap().starts_with("000001-")
                && p.extension().unwrap() == "jsonl"
        })
        .unwrap();
    std::fs::remove_file(unit1).unwrap();
    let resumed = run(&spec("Y01"), &input(&c), out.path(), &PrepareOptions::default()).unwrap();
    assert_eq!((resumed.units_processed, resumed.units_resumed), (1, 1));
    assert_eq!(read(out.path(), "ledger.csv"), ledger_before);

    // Other settings never reuse these parts.
    let y02 = run(&spec("Y02"), &input(&c), out.path(), &PrepareOptions::default()).unwrap();
    assert_eq!(y02.units_resumed, 0);
}

#[test]
fn shards_merge_into_exactly_the_unsharded_run_with_dedup_across_shards() {
    let c = corpus();
    let whole = tempfile::tempdir().unwrap();
    run(&spec("Y01"), &input(&c), whole.path(), &PrepareOptions::default()).unwrap();
    let shards: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for (i, dir) in shards.iter().enumerate() {
        run(
            &spec("Y01"),
            &input(&c),
            dir.path(),
            &PrepareOptions { shard: Some((i, 2)), ..Default::default() },
        )
        .unwrap();
    }
    // Alone, shard 1 keeps 2601.00011: its first copy lives in shard 0.
    assert_eq!(outcomes(shards[1].path())["2601.00011"], "end/");
    let merged = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = shards.iter().map(|d| d.path().to_path_buf()).collect();
    let summary = merge(&dirs, merged.path()).unwrap();
    assert_eq!(summary.papers_seen, 14);
    for name in ["documents.jsonl", "ledger.csv", "yield.csv"] {
        assert_eq!(read(whole.path(), name), read(merged.path(), name), "{name}");
    }
    // merge.csv: 2601.00011 moves from kept (shard 1 alone) to exact-duplicate.
    let account: Vec<OutcomeCount> = csv::Reader::from_path(merged.path().join("merge.csv"))
        .unwrap()
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap();
    let counts = |stage: &str, reason: &str| {
        let row = account.iter().find(|r| r.stage == stage && r.reason == reason).unwrap();
        (row.papers_in_shards, row.papers_merged)
    };
    assert_eq!(counts("dedup", "exact-duplicate"), (1, 2));
    assert_eq!(counts("end", ""), (5, 4));
    assert_eq!(counts("quality", "not-english"), (1, 1));
    let err = merge(&dirs[..1], merged.path()).unwrap_err().to_string();
    assert!(err.contains("every shard"), "{err}");
}

#[test]
fn a_manifest_md5_mismatch_drops_the_tars_papers() {
    let c = corpus();
    let mut cfg = spec("Y01");
    cfg.validation.check_manifest = true;
    let manifest = c.tar.parent().unwrap().join("arXiv_src_manifest.xml");
    let write_manifest = |md5: &str| {
        std::fs::write(&manifest, format!("<arXivSRC><file><filename>src/arXiv_src_0601_001.tar</filename><md5sum>{md5}</md5sum></file></arXivSRC>")).unwrap();
    };
    write_manifest("00000000000000000000000000000000");
    let out = tempfile::tempdir().unwrap();
    run(&cfg, &input(&c), out.path(), &PrepareOptions::default()).unwrap();
    let got = outcomes(out.path());
    assert_eq!(got["math/0601001"], "validation/manifest-md5-mismatch");
    assert_eq!(got["2601.00007"], "validation/manifest-md5-mismatch");
    assert_eq!(got["2601.00011"], "end/", "papers outside the tar are unaffected");

    use md5::Digest;
    write_manifest(&hex::encode(md5::Md5::digest(std::fs::read(&c.tar).unwrap())));
    let out = tempfile::tempdir().unwrap();
    let summary = run(&cfg, &input(&c), out.path(), &PrepareOptions::default()).unwrap();
    assert_eq!(outcomes(out.path())["math/0601001"], "end/");
    assert_eq!(serde_json::to_value(&summary.inputs[0].manifest).unwrap()["status"], "match");
}

#[test]
fn a_tar_verified_in_an_earlier_run_is_hashed_again_only_once_it_changes() {
    use md5::Digest;
    let c = corpus();
    let mut cfg = spec("Y01");
    cfg.validation.check_manifest = true;
    let bytes = std::fs::read(&c.tar).unwrap();
    std::fs::write(
        c.tar.parent().unwrap().join("arXiv_src_manifest.xml"),
        format!(
            "<arXivSRC><file><filename>src/arXiv_src_0601_001.tar</filename><md5sum>{}</md5sum></file></arXivSRC>",
            hex::encode(md5::Md5::digest(&bytes))
        ),
    )
    .unwrap();
    let stamps = tempfile::tempdir().unwrap();
    let with_stamps =
        PrepareOptions { verified_tars: Some(stamps.path().to_path_buf()), ..Default::default() };
    let status = |opts: &PrepareOptions| {
        let out = tempfile::tempdir().unwrap();
        let summary = run(&cfg, &input(&c), out.path(), opts).unwrap();
        let status = serde_json::to_value(&summary.inputs[0].manifest).unwrap()["status"].clone();
        (status.as_str().unwrap().to_string(), outcomes(out.path())["math/0601001"].clone())
    };
    // A stamp that cannot be written (the store's path is a file) costs only the next run's hash.
    let blocked = stamps.path().join("not-a-directory");
    std::fs::write(&blocked, "").unwrap();
    let unwritable = PrepareOptions { verified_tars: Some(blocked.join("stamps")), ..Default::default() };
    assert_eq!(status(&unwritable), ("match".to_string(), "end/".to_string()));
    std::fs::remove_file(&blocked).unwrap();

    assert_eq!(status(&with_stamps), ("match".to_string(), "end/".to_string()));
    assert_eq!(std::fs::read_dir(stamps.path()).unwrap().count(), 1, "one stamp for the one bulk tar");

    // Damage that keeps the size and the modification time is what the stamp
    // cannot see: the stamped run trusts it, a run without stamps does not.
    let modified = std::fs::metadata(&c.tar).unwrap().modified().unwrap();
    let mut damaged = bytes.clone();
    damaged[600] ^= 0xff;
    std::fs::write(&c.tar, &damaged).unwrap();
    std::fs::File::options().write(true).open(&c.tar).unwrap().set_modified(modified).unwrap();
    assert_eq!(status(&with_stamps).0, "match");
    let unstamped = status(&PrepareOptions::default());
    assert_eq!(unstamped.0, "mismatch");
    assert_eq!(unstamped.1, "validation/manifest-md5-mismatch");

    // Touched: hashed again, and the damage is found.
    std::fs::File::options()
        .write(true)
        .open(&c.tar)
        .unwrap()
        .set_modified(modified + std::time::Duration::from_secs(1))
        .unwrap();
    assert_eq!(status(&with_stamps).0, "mismatch");
}

#[test]
fn metadata_filter_drops_name_their_rule_and_kept_docs_carry_categories() {
    let c = corpus();
    let dir = tempfile::tempdir().unwrap();
    let meta = dir.path().join("oai.json");
    let abstract_text = "word ".repeat(25);
    let lines = [
        format!(
            r#"{{"id":"math/0601001","title":"From metadata","abstract":"{abstract_text}","categories":"physics.optics","versions":[{{"created":"Mon, 2 Jan 2006 00:00:00 GMT"}}]}}"#
        ),
        format!(r#"{{"id":"math/0601002","abstract":"{abstract_text}","categories":"q-fin.ST"}}"#),
        r#"{"id":"2601.00003","abstract":null,"categories":"cs.LG"}"#.to_string(),
        format!(
            r#"{{"id":"2601.00004","abstract":"{abstract_text}","categories":"cs.LG","versions":[{{"created":"Sun, 1 Jan 1994 00:00:00 GMT"}}]}}"#
        ),
        format!(
            r#"{{"id":"2601.00005","abstract":"{abstract_text}","categories":"cs.LG","comments":"Paper WITHDRAWN"}}"#
        ),
    ];
    std::fs::write(&meta, lines.join("\n")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let summary = run(
        &spec("Y01"),
        &PrepareInput { metadata: Some(meta), ..input(&c) },
        out.path(),
        &PrepareOptions::default(),
    )
    .unwrap();
    let got = outcomes(out.path());
    assert_eq!(got["math/0601001"], "end/", "physics.optics passes the released substring match via \"cs\"");
    assert_eq!(got["math/0601002"], "metadata/category");
    assert_eq!(got["2601.00003"], "metadata/abstract-too-short");
    assert_eq!(got["2601.00004"], "metadata/first-version-year");
    assert_eq!(got["2601.00005"], "metadata/withdrawn");
    assert_eq!(got["2601.00012"], "metadata/no-metadata-record");
    assert!(summary.skipped_stages.is_empty());
    let docs = String::from_utf8(read(out.path(), "documents.jsonl")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(docs.lines().next().unwrap()).unwrap();
    assert_eq!(doc["categories"], "physics.optics");
    assert!(doc["text"].as_str().unwrap().starts_with("Title: From metadata\nAbstract: word word"));
}

#[test]
fn every_nth_kept_document_goes_to_validation() {
    let c = corpus();
    let mut cfg = spec("Y01");
    cfg.split.validation_every = 2;
    let out = tempfile::tempdir().unwrap();
    let summary = run(&cfg, &input(&c), out.path(), &PrepareOptions::default()).unwrap();
    let docs = String::from_utf8(read(out.path(), "documents.jsonl")).unwrap();
    let splits: Vec<String> = docs
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["split"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(splits, ["train", "validation", "train", "validation"]);
    assert_eq!((summary.train_documents, summary.validation_documents), (2, 2));
}

#[test]
fn runs_that_cannot_proceed_say_why() {
    let c = corpus();
    let out = tempfile::tempdir().unwrap();
    let none = run(&spec("Y01"), &PrepareInput::default(), out.path(), &PrepareOptions::default());
    assert!(none.unwrap_err().to_string().contains("--src"));
    let blocked = out.path().join("a-file");
    std::fs::write(&blocked, b"x").unwrap();
    let err = run(&spec("Y01"), &input(&c), &blocked.join("out"), &PrepareOptions::default()).unwrap_err();
    assert!(err.to_string().contains("cannot create the output directory"), "{err}");
    let err = run(
        &spec("Y01"),
        &input(&c),
        out.path(),
        &PrepareOptions { shard: Some((2, 2)), ..Default::default() },
    )
    .unwrap_err();
    assert!(err.to_string().contains("--shard"), "{err}");
}

#[test]
fn a_single_per_paper_file_is_an_input_named_by_its_file() {
    let c = corpus();
    let out = tempfile::tempdir().unwrap();
    let file = c.loose.join("2601.00012v2.tar.gz");
    let summary = run(
        &spec("Y01"),
        &PrepareInput { src: vec![file.clone()], metadata: None },
        out.path(),
        &PrepareOptions::default(),
    )
    .unwrap();
    assert_eq!(summary.papers_seen, 1);
    let rows = ledger(out.path());
    assert_eq!(rows[0].id, "2601.00012");
    assert_eq!(rows[0].bytes_in, std::fs::metadata(&file).unwrap().len());
}

#[test]
fn stage_times_count_every_copy_the_workers_processed() {
    let c = corpus();
    let once = PrepareInput { src: vec![c.tar.clone()], metadata: None };
    let copy = c.tar.parent().unwrap().parent().unwrap().join("again/arXiv_src_0601_001.tar");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&c.tar, &copy).unwrap();
    let twice = PrepareInput { src: vec![c.tar.clone(), copy], metadata: None };
    let prepare = |input: &PrepareInput| {
        let out = tempfile::tempdir().unwrap();
        run(&spec("Y01"), input, out.path(), &PrepareOptions { jobs: 2, ..Default::default() }).unwrap()
    };
    let (a, b) = (prepare(&once), prepare(&twice));
    // Without repeats the workers' counts are the ledger's: the papers that entered each stage.
    let waterfall: Vec<u64> = a.waterfall.iter().take(6).map(|r| r.papers_in).collect();
    let entered: Vec<u64> = a.timings.stages.iter().map(|s| s.papers).collect();
    assert_eq!(entered, waterfall);
    assert_eq!(entered[1], 12, "every paper of the tar is validated");
    // The second copy is processed in full by the workers, then dropped as duplicate-input.
    let doubled: Vec<u64> = b.timings.stages.iter().map(|s| s.papers).collect();
    assert_eq!(doubled, entered.iter().map(|n| 2 * n).collect::<Vec<_>>());
    assert_eq!((b.papers_seen, b.papers_kept), (2 * a.papers_seen, a.papers_kept));
    assert_eq!(b.drops.get("duplicate-input"), Some(&a.papers_seen));
}

#[test]
fn bench_covers_the_whole_input_and_every_per_paper_stage() {
    let c = corpus();
    let report = arxiv_to_model::prepare::bench(
        &spec("Y01"),
        &input(&c),
        &PrepareOptions { jobs: 2, ..Default::default() },
        arxiv_to_model::bench::MIN_PAIRS,
        None,
    )
    .unwrap();
    assert_eq!(report.papers, 14);
    assert!(report.redpajama.is_none(), "no --redpajama, no RedPajama row");
    let loose_bytes: u64 = ["2601.00011.gz", "2601.00012v2.tar.gz"]
        .iter()
        .map(|n| std::fs::metadata(c.loose.join(n)).unwrap().len())
        .sum();
    let tar_members: u64 = tar::Archive::new(std::fs::File::open(&c.tar).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().size())
        .sum();
    assert_eq!(report.compressed_bytes, tar_members + loose_bytes);
    let stages: Vec<&str> = report.stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(stages, ["metadata", "validation", "encoding", "extraction", "cleaning", "quality"]);
    assert_eq!(report.stages[1].papers_in, 14);
    assert_eq!(report.stages[2].papers_in, 8);
    assert!(report.first_run.is_none(), "Y01 checks no manifest: no first-run hashing to time");
    for paired in [
        &report.vs_raw_one_worker,
        &report.vs_raw,
        report.vs_one_job.as_ref().expect("jobs 2 is compared with jobs 1"),
    ] {
        assert_eq!(paired.a_seconds.len(), arxiv_to_model::bench::MIN_PAIRS);
        assert_eq!(paired.b_seconds.len(), arxiv_to_model::bench::MIN_PAIRS);
        assert!(paired.a_seconds.iter().chain(&paired.b_seconds).all(|s| *s > 0.0));
    }
    // The jobs comparison carries the CPU time of each of its runs (this process's, so more than 0).
    let cpu = report.one_job_cpu.as_ref().expect("jobs 2 records its CPU use");
    assert_eq!(cpu.a_cpu_seconds.len(), arxiv_to_model::bench::MIN_PAIRS);
    assert_eq!(cpu.b_cpu_seconds.len(), arxiv_to_model::bench::MIN_PAIRS);
    assert!(cpu.a_cpu_seconds.iter().chain(&cpu.b_cpu_seconds).all(|s| *s > 0.0), "{cpu:?}");
    assert!(
        arxiv_to_model::prepare::bench::render(&report).contains("cores busy (CPU / wall, medians): jobs 1 ")
    );
    // A stage that took no measurable time gets no rate (no division by ~0).
    for stage in &report.stages {
        assert_eq!(stage.compressed_mb_per_s.is_none(), stage.seconds < 1e-3, "{stage:?}");
        assert_eq!(stage.papers_per_s.is_none(), stage.seconds < 1e-3, "{stage:?}");
    }

    // With a manifest to check, the first run's hashing is timed against a rerun.
    use md5::Digest;
    let md5 = hex::encode(md5::Md5::digest(std::fs::read(&c.tar).unwrap()));
    std::fs::write(
        c.tar.parent().unwrap().join("arXiv_src_manifest.xml"),
        format!("<arXivSRC><file><filename>src/arXiv_src_0601_001.tar</filename><md5sum>{md5}</md5sum></file></arXivSRC>"),
    )
    .unwrap();
    let mut cfg = spec("Y01");
    cfg.validation.check_manifest = true;
    let report = arxiv_to_model::prepare::bench(
        &cfg,
        &input(&c),
        &PrepareOptions { jobs: 1, ..Default::default() },
        arxiv_to_model::bench::MIN_PAIRS,
        Some(&c.tar.parent().unwrap().join("no-redpajama-here")),
    )
    .unwrap();
    // A RedPajama checkout that is not there skips its row and nothing else.
    match &report.redpajama {
        Some(arxiv_to_model::prepare::redpajama::RedPajamaRow::Skipped { reason, .. }) => {
            assert!(reason.contains("no-redpajama-here is not a directory"), "{reason}")
        }
        other => panic!("expected a skipped RedPajama row, got {other:?}"),
    }
    assert!(arxiv_to_model::prepare::bench::render(&report).contains("RedPajama's cleaner"));
    let first_run = report.first_run.expect("the tar is hashed on a first run");
    assert_eq!((first_run.a.as_str(), first_run.b.as_str()), ("rerun", "first run"));
    assert_eq!(first_run.b_seconds.len(), arxiv_to_model::bench::MIN_PAIRS);
    assert!(report.vs_one_job.is_none(), "one job has nothing to be compared with");
}
