//! Tests of the synthetic corpus as a reader sees it: the files on disk.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use md5::{Digest, Md5};

use super::*;
use crate::ledger::DropReason;

const SEED: u64 = 2602;

/// One corpus per size, generated once for the whole test binary.
fn corpus(papers: u32) -> &'static SynthSummary {
    static SMALL: OnceLock<(tempfile::TempDir, SynthSummary)> = OnceLock::new();
    static LARGE: OnceLock<(tempfile::TempDir, SynthSummary)> = OnceLock::new();
    let cell = if papers == 40 { &SMALL } else { &LARGE };
    &cell
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let summary = generate(papers, SEED, dir.path()).expect("generate");
            (dir, summary)
        })
        .1
}

/// A paper as read back from the bulk tars, in input order.
struct ReadPaper {
    index: u32,
    member: String,
    bytes: Vec<u8>,
}

fn read_papers(summary: &SynthSummary) -> Vec<ReadPaper> {
    let mut out = Vec::new();
    for tar_path in &summary.tars {
        let bytes = std::fs::read(tar_path).expect("read tar");
        let mut archive = tar::Archive::new(bytes.as_slice());
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            if entry.header().entry_type().is_dir() {
                continue;
            }
            let member = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let mut body = Vec::new();
            entry.read_to_end(&mut body).expect("member");
            out.push(ReadPaper { index: out.len() as u32, member, bytes: body });
        }
    }
    out
}

fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Members of a tar as (path, size, bytes); sizes come from headers so the
/// oversized member need not be read.
fn tar_members(bytes: &[u8], read_limit: u64) -> Vec<(String, u64, Vec<u8>)> {
    let mut archive = tar::Archive::new(bytes);
    let mut out = Vec::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let size = entry.header().size().expect("size");
        let mut body = Vec::new();
        if size <= read_limit {
            entry.read_to_end(&mut body).expect("member body");
        }
        out.push((path, size, body));
    }
    out
}

fn is_tar(bytes: &[u8]) -> bool {
    bytes.len() >= 512 && &bytes[257..262] == b"ustar"
}

/// The LaTeX of a paper's main file, decoding Latin-1 where UTF-8 fails.
fn main_tex(bytes: &[u8]) -> Option<String> {
    let inner = if is_gzip(bytes) { gunzip(bytes).ok()? } else { bytes.to_vec() };
    let tex = if is_tar(&inner) {
        tar_members(&inner, 6_000_000).into_iter().find(|(path, _, _)| path == "main.tex")?.2
    } else {
        inner
    };
    Some(String::from_utf8(tex.clone()).unwrap_or_else(|_| tex.iter().map(|&b| char::from(b)).collect()))
}

fn records(summary: &SynthSummary) -> HashMap<String, Record> {
    std::fs::read_to_string(&summary.metadata)
        .expect("metadata")
        .lines()
        .map(|line| {
            let record: Record = serde_json::from_str(line).expect("record");
            (record.id.clone(), record)
        })
        .collect()
}

fn ids(summary: &SynthSummary) -> Vec<String> {
    let rows = read_ground_truth(&summary.ground_truth).expect("ground truth");
    rows.iter().filter(|r| r.spec == "Y01").map(|r| r.id.clone()).collect()
}

/// What the released cleaner leaves of a body, closely enough for the
/// language and length claims: comments, preamble and `\end{document}`
/// gone, whitespace collapsed. Math and commands stay.
fn released_body(tex: &str) -> String {
    let start = tex.find("\\begin{document}").map_or(0, |i| i + "\\begin{document}".len());
    let body = tex[start..].replace("\\end{document}", "");
    let no_comments: Vec<&str> = body.lines().map(|l| l.split('%').next().unwrap_or("")).collect();
    no_comments.join(" ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Math, environments' names and commands masked: what a prose-only check sees.
fn prose_only(text: &str) -> String {
    let mut text = text.to_string();
    // Display environments first, then inline math.
    for env in ["align", "equation"] {
        let open = format!("\\begin{{{env}}}");
        let close = format!("\\end{{{env}}}");
        while let Some(s) = text.find(&open) {
            let e = text[s..].find(&close).map_or(text.len(), |e| s + e + close.len());
            text.replace_range(s..e, " ");
        }
    }
    let mut masked = String::new();
    let mut in_math = false;
    for c in text.chars() {
        if c == '$' {
            in_math = !in_math;
            masked.push(' ');
        } else if !in_math {
            masked.push(c);
        }
    }
    let no_commands = regex::Regex::new(r"\\[A-Za-z]+\*?").expect("regex").replace_all(&masked, " ");
    no_commands.replace(['{', '}', '[', ']', '~'], " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

fn document(record: &Record, body: &str) -> String {
    format!(
        "Title: {}\nAbstract: {}\nBody: {}",
        record.title,
        record.abstract_text.as_deref().unwrap_or(""),
        body
    )
}

/// English with the spec's minimum confidence, as the quality stage asks.
fn says_english(text: &str, min_confidence: f64) -> (bool, String) {
    match whatlang::detect(text) {
        Some(info) => (
            info.lang() == whatlang::Lang::Eng && info.confidence() >= min_confidence,
            format!("{} {:.3}", info.lang().code(), info.confidence()),
        ),
        None => (false, "none".to_string()),
    }
}

fn spec(id: &str, profile: &str) -> crate::spec::ValidatedSpec {
    let runs = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
    crate::spec::load_one(&runs, id, profile).unwrap_or_else(|e| panic!("loading {id} at {profile}: {e}")).0
}

fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("prefix").to_path_buf();
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    out
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = tempfile::tempdir().expect("dir");
    let b = tempfile::tempdir().expect("dir");
    let c = tempfile::tempdir().expect("dir");
    generate(40, 11, a.path()).expect("first run");
    generate(40, 11, b.path()).expect("second run");
    generate(40, 12, c.path()).expect("other seed");
    let (fa, fb, fc) = (files_under(a.path()), files_under(b.path()), files_under(c.path()));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (path, bytes) in &fa {
        if path.ends_with(SUMMARY_FILE) {
            continue; // holds the output directory's path
        }
        assert!(bytes == &fb[path], "{} differs between two runs", path.display());
    }
    let tar = Path::new(SRC_DIR).join("arXiv_src_2401_001.tar");
    assert_ne!(fa[&tar], fc[&tar], "another seed must give other papers");
}

#[test]
fn forty_papers_cover_every_case() {
    let summary = corpus(40);
    assert_eq!(summary.cases.len(), 32, "{:?}", summary.cases);
    assert_eq!(summary.cases.values().sum::<u32>(), 40);
    for case in Case::ALL {
        assert!(summary.cases.get(&case.name()).copied().unwrap_or(0) >= 1, "{case:?} missing");
    }
    assert_eq!(summary.tars.len(), 1);
    assert!(corpus(160).tars.len() > 1, "more than ~50 papers spread over several tars");
}

#[test]
fn rejects_zero_and_too_many_papers() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(generate(0, 1, dir.path()).is_err());
    assert!(generate(MAX_PAPERS + 1, 1, dir.path()).is_err());
}

#[test]
fn manifest_md5_sums_and_items_are_right() {
    let summary = corpus(160);
    let xml = std::fs::read_to_string(&summary.manifest).expect("manifest");
    assert!(xml.starts_with("<?xml version='1.0' standalone='yes'?>\n<arXivSRC>\n"));
    let field = |block: &str, tag: &str| -> String {
        let open = format!("<{tag}>");
        let s = block.find(&open).expect(tag) + open.len();
        let e = block[s..].find("</").expect("close") + s;
        block[s..e].to_string()
    };
    let blocks: Vec<&str> = xml.split("<file>").skip(1).collect();
    assert_eq!(blocks.len(), summary.tars.len());
    let mut total_items = 0;
    for (k, (block, tar_path)) in blocks.iter().zip(&summary.tars).enumerate() {
        let bytes = std::fs::read(tar_path).expect("tar");
        let name = tar_path.file_name().expect("name").to_string_lossy().into_owned();
        assert_eq!(field(block, "filename"), format!("src/{name}"));
        assert_eq!(field(block, "md5sum"), hex::encode(Md5::digest(&bytes)));
        assert_eq!(field(block, "size"), bytes.len().to_string());
        assert_eq!(field(block, "seq_num"), (k + 1).to_string());
        let members = tar_members(&bytes, u64::MAX);
        let files: Vec<_> = members.iter().filter(|(p, _, _)| !p.ends_with('/')).collect();
        let mut content = Md5::new();
        for (_, _, body) in &members {
            content.update(body);
        }
        assert_eq!(field(block, "content_md5sum"), hex::encode(content.finalize()));
        assert_eq!(field(block, "num_items"), files.len().to_string());
        let stem = |p: &str| p.rsplit('/').next().unwrap_or(p).rsplit_once('.').map(|s| s.0.to_string());
        assert_eq!(Some(field(block, "first_item")), stem(&files[0].0));
        assert_eq!(Some(field(block, "last_item")), stem(&files[files.len() - 1].0));
        total_items += files.len();
    }
    assert_eq!(total_items, 160);
}

#[test]
fn manifest_content_md5_matches_arxiv_definition_on_the_real_sample() {
    let corpus = crate::corpus::real::RealCorpus::locate().expect("the embedded real corpus");
    let xml = std::fs::read_to_string(corpus.dir.join(MANIFEST_FILE)).expect("real corpus manifest");
    for tar_path in &corpus.tars {
        let bytes = std::fs::read(tar_path).expect("real corpus tar");
        let mut content = Md5::new();
        for (_, _, body) in tar_members(&bytes, u64::MAX) {
            content.update(&body);
        }
        let expected = format!("<content_md5sum>{}</content_md5sum>", hex::encode(content.finalize()));
        assert!(xml.contains(&expected), "{}: {expected} not in the manifest", tar_path.display());
        let whole = format!("<md5sum>{}</md5sum>", hex::encode(Md5::digest(&bytes)));
        assert!(xml.contains(&whole), "{}: {whole} not in the manifest", tar_path.display());
    }
}

#[test]
fn metadata_is_json_lines_with_the_snapshot_fields() {
    let summary = corpus(40);
    let text = std::fs::read_to_string(&summary.metadata).expect("metadata");
    let expected: Vec<&str> = vec![
        "id",
        "submitter",
        "authors",
        "title",
        "comments",
        "journal-ref",
        "doi",
        "report-no",
        "categories",
        "license",
        "abstract",
        "versions",
        "update_date",
        "authors_parsed",
    ];
    let real =
        Path::new(crate::corpus::real::REAL_CORPUS_DIR).join("arxiv-metadata-oai-snapshot.head200.json");
    let real_text = std::fs::read_to_string(&real).expect("the embedded OAI head");
    let first: serde_json::Value =
        serde_json::from_str(real_text.lines().next().expect("line")).expect("json");
    let real_keys: Vec<&str> = first.as_object().expect("object").keys().map(String::as_str).collect();
    let mut sorted_expected = expected.clone();
    sorted_expected.sort_unstable();
    let mut sorted_real = real_keys.clone();
    sorted_real.sort_unstable();
    assert_eq!(sorted_expected, sorted_real, "the real snapshot's fields");
    let mut null_abstracts = 0;
    let mut null_comments = 0;
    for line in text.lines() {
        // Key order as in the snapshot (serde_json::Value would sort keys).
        let keys: Vec<usize> = expected
            .iter()
            .map(|k| line.find(&format!("\"{k}\":")).unwrap_or_else(|| panic!("{k} missing in {line}")))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "field order in {line}");
        let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        null_abstracts += usize::from(value["abstract"].is_null());
        null_comments += usize::from(value["comments"].is_null());
        let created = value["versions"][0]["created"].as_str().expect("created");
        assert!(created.ends_with(" GMT"), "{created}");
    }
    assert!(null_abstracts >= 1 && null_comments >= 1);
    let records = records(summary);
    let truth = read_ground_truth(&summary.ground_truth).expect("truth");
    for row in truth.iter().filter(|r| r.spec == "Y01") {
        let missing = row.reason == Some(DropReason::NoMetadataRecord);
        assert_eq!(records.contains_key(&row.id), !missing, "{}", row.id);
    }
    assert!(records.len() as u32 == summary.metadata_records);
}

#[test]
fn ground_truth_has_a_row_per_paper_and_run_in_ledger_spelling() {
    let summary = corpus(40);
    let text = std::fs::read_to_string(&summary.ground_truth).expect("csv");
    assert!(text.starts_with("id,spec,status,stage,reason\n"));
    assert!(text.contains("\n2401.00001,Y01,kept,end,\n"), "kept rows: stage end, empty reason");
    assert!(text.contains(",Y01,dropped,validation,not-a-tar\n"));
    assert!(text.contains(",Y06,dropped,dedup,near-duplicate\n"));
    assert!(text.contains("\nmath/0601001,Y01,kept,end,\n"), "old-style ids keep their slash");
    let rows = read_ground_truth(&summary.ground_truth).expect("rows");
    assert_eq!(rows.len(), 40 * 6);
    for row in &rows {
        assert_eq!(row.reason.map(DropReason::stage).unwrap_or(crate::ledger::LedgerStage::End), row.stage);
    }
    assert_eq!(summary.kept.len(), 6);
    assert!(summary.kept["Y06"] > summary.kept["Y01"], "{:?}", summary.kept);
}

#[test]
fn each_member_sniffs_as_its_case_intends() {
    let summary = corpus(40);
    let max_member = spec("Y06", "ci").data.validation.max_member_bytes;
    let max_tex = spec("Y01", "ci").data.extraction.max_tex_bytes;
    let mut ids_seen = BTreeSet::new();
    for paper in read_papers(summary) {
        let case = Case::at(paper.index);
        let b = &paper.bytes;
        ids_seen.insert(paper.member.clone());
        let inner_tar = || -> Vec<(String, u64, Vec<u8>)> {
            let inner = gunzip(b).expect("gzip stream");
            assert!(is_tar(&inner), "{case:?}: gzip of a tar");
            tar_members(&inner, 6_000_000)
        };
        match case {
            Case::PdfOnly => {
                assert!(b.starts_with(b"%PDF-1.5") && paper.member.ends_with(".pdf"));
            }
            Case::ZeroByte => assert!(b.is_empty()),
            Case::PlainTexNamedGz => {
                assert!(b.starts_with(b"\\documentclass") && paper.member.ends_with(".gz"));
            }
            Case::SingleFileGzip => {
                let inner = gunzip(b).expect("gzip");
                assert!(inner.starts_with(b"\\documentclass") && !is_tar(&inner));
            }
            Case::HtmlOnly => assert!(gunzip(b).expect("gzip").starts_with(b"<!DOCTYPE html>")),
            Case::PostScript => assert!(gunzip(b).expect("gzip").starts_with(b"%!PS-Adobe")),
            Case::TruncatedGzip => {
                assert!(is_gzip(b) && b.len() > 100);
                assert!(gunzip(b).is_err(), "a truncated stream must fail to decode");
            }
            Case::PathTraversal => {
                assert!(inner_tar().iter().any(|(p, _, _)| p == "../evil.tex"));
            }
            Case::OversizedMember => {
                let members = inner_tar();
                assert!(members.iter().any(|(_, size, _)| *size > max_member));
                assert!(b.len() < 1_000_000, "compressible: the tar stays small");
            }
            Case::FiguresOnly => {
                let members = inner_tar();
                assert!(!members.is_empty());
                assert!(members.iter().all(|(p, _, _)| p.ends_with(".png") || p.ends_with(".eps")));
            }
            Case::HugeTex => {
                let members = inner_tar();
                let tex: Vec<_> = members.iter().filter(|(p, _, _)| p.ends_with(".tex")).collect();
                assert_eq!(tex.len(), 1);
                assert!(tex[0].1 > max_tex && tex[0].1 < max_member);
                assert!(b.len() < 1_000_000, "compressible: the tar stays small");
            }
            Case::MacosDotfiles => {
                let members = inner_tar();
                assert!(members
                    .iter()
                    .any(|(p, _, body)| p == "._main.tex" && body.starts_with(&[0, 5, 22, 7])));
                assert!(members.iter().any(|(p, _, _)| p == "main.tex"));
            }
            Case::Latin1 => {
                let tex = &inner_tar()[0].2;
                assert!(std::str::from_utf8(tex).is_err(), "Latin-1 bytes are not UTF-8");
                assert!(tex.windows(8).any(|w| w == b"Poincar\xe9"));
            }
            Case::MultiFile => {
                let paths: Vec<String> = inner_tar().into_iter().map(|(p, _, _)| p).collect();
                assert!(paths.contains(&"sections/proofs/lemma.tex".to_string()), "{paths:?}");
            }
            Case::OldStyleId | Case::Pre1995 => {
                assert!(!paper.member.contains("2401."), "{}", paper.member);
                assert!(inner_tar().iter().any(|(p, _, _)| p == "main.tex"));
            }
            _ => assert!(inner_tar().iter().any(|(p, _, _)| p == "main.tex"), "{case:?}"),
        }
    }
    assert!(ids_seen.contains("0601/math0601001.gz"));
    assert!(ids_seen.contains("9311/hep-th9311001.gz"));
}

#[test]
fn caps_of_the_size_cases_follow_every_y_spec() {
    for (id, _) in Y_RUNS {
        for profile in ["smoke", "ci", "gpu", "paper"] {
            let data = spec(id, profile).into_spec().data;
            assert!(OVERSIZED_MEMBER_BYTES > data.validation.max_member_bytes, "{id} {profile}");
            assert!(OVERSIZED_MEMBER_BYTES < data.validation.max_paper_bytes, "{id} {profile}");
            assert!(HUGE_TEX_BYTES as u64 > data.extraction.max_tex_bytes, "{id} {profile}");
            assert!((HUGE_TEX_BYTES as u64) < data.validation.max_member_bytes, "{id} {profile}");
        }
    }
}

#[test]
fn markers_sit_in_the_files_they_name() {
    let summary = corpus(40);
    let markers = read_markers(&summary.markers).expect("markers");
    let papers: HashMap<String, ReadPaper> = ids(summary).into_iter().zip(read_papers(summary)).collect();
    let kinds: BTreeSet<String> = markers.iter().map(|m| format!("{:?}", m.kind)).collect();
    assert_eq!(kinds.len(), 5, "{kinds:?}");
    for m in &markers {
        let paper = &papers[&m.id];
        let members = tar_members(&gunzip(&paper.bytes).expect("gzip"), 6_000_000);
        for (path, _, body) in &members {
            let text = String::from_utf8_lossy(body);
            let here = text.contains(&m.sentence);
            assert_eq!(here, *path == m.file, "{} in {path} ({:?})", m.sentence, m.kind);
        }
    }
}

/// The language claims the ground truth rests on, checked with `whatlang`
/// itself on the released document `Title: …\nAbstract: …\nBody: …`.
#[test]
fn whatlang_agrees_with_the_language_design() {
    let summary = corpus(160);
    let min_confidence = spec("Y01", "ci").data.filters.language.min_confidence;
    let records = records(summary);
    let mut checked = BTreeMap::<&str, usize>::new();
    for (id, paper) in ids(summary).into_iter().zip(read_papers(summary)) {
        let case = Case::at(paper.index);
        let Some(record) = records.get(&id) else {
            continue;
        };
        let Some(tex) = main_tex(&paper.bytes) else {
            continue;
        };
        if matches!(case, Case::HugeTex | Case::OversizedMember | Case::PathTraversal | Case::TooShort) {
            continue;
        }
        let whole = document(record, &released_body(&tex));
        let prose = prose_only(&whole);
        let (whole_en, whole_said) = says_english(&whole, min_confidence);
        let (prose_en, prose_said) = says_english(&prose, min_confidence);
        match case {
            Case::FormulaHeavy => {
                assert!(!whole_en, "{id}: whole text must not pass as English, got {whole_said}");
                assert!(prose_en, "{id}: masked prose must be English, got {prose_said}:\n{prose}");
                // Margins: a detector tweak or a slightly different cleaner
                // must not flip the outcome.
                let whole_conf = whatlang::detect(&whole)
                    .filter(|i| i.lang() == whatlang::Lang::Eng)
                    .map_or(0.0, |i| i.confidence());
                assert!(whole_conf <= min_confidence - 0.15, "{id}: {whole_said}");
                assert!(says_english(&prose, 0.9).0, "{id}: {prose_said}");
                *checked.entry("formula-heavy").or_default() += 1;
            }
            Case::NonEnglish => {
                assert!(!whole_en && !prose_en, "{id}: {whole_said} / {prose_said}");
                *checked.entry("non-english").or_default() += 1;
            }
            _ => {
                // Ordinary papers pass both checks with a wide margin.
                let (sure, said) = says_english(&whole, 0.9);
                assert!(sure, "{id} ({case:?}) whole text: {said}");
                assert!(prose_en, "{id} ({case:?}) prose: {prose_said}");
                *checked.entry("english").or_default() += 1;
            }
        }
    }
    assert!(checked["formula-heavy"] >= 4 && checked["non-english"] >= 3, "{checked:?}");
}

fn shingles(text: &str, k: usize) -> BTreeSet<Vec<&str>> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words.windows(k).map(<[&str]>::to_vec).collect()
}

/// Only the designed pairs are near-duplicates at the Y06 threshold; every
/// other pair of kept papers is far below it; word counts sit on the right
/// side of `min_words`.
#[test]
fn similarity_and_length_follow_the_design() {
    let summary = corpus(160);
    let y06 = spec("Y06", "ci").into_spec().data;
    let near = y06.dedup.near.clone().expect("Y06 has near dedup");
    let min_words = y06.filters.min_words as usize;
    let records = records(summary);
    let truth = read_ground_truth(&summary.ground_truth).expect("truth");
    let kept_in_y06_or_near: BTreeSet<&str> = truth
        .iter()
        .filter(|r| {
            r.spec == "Y06" && (r.status == Status::Kept || r.reason == Some(DropReason::NearDuplicate))
        })
        .map(|r| r.id.as_str())
        .collect();
    let mut docs: Vec<(String, Case, String)> = Vec::new();
    for (id, paper) in ids(summary).into_iter().zip(read_papers(summary)) {
        let case = Case::at(paper.index);
        let (Some(record), Some(tex)) = (records.get(&id), main_tex(&paper.bytes)) else {
            continue;
        };
        let doc = document(record, &released_body(&tex));
        let words = doc.split_whitespace().count();
        if !tex.starts_with("\\documentclass") {
            continue; // PDF, HTML, PostScript: no LaTeX to count
        }
        if case == Case::TooShort {
            assert!(words + 4 <= min_words, "{id}: {words} words");
        } else if !matches!(case, Case::HugeTex | Case::OversizedMember) {
            assert!(words >= 2 * min_words, "{id} ({case:?}): {words} words");
        }
        if kept_in_y06_or_near.contains(id.as_str()) {
            docs.push((id, case, doc));
        }
    }
    let sets: Vec<_> = docs.iter().map(|(_, _, d)| shingles(d, near.shingle_words as usize)).collect();
    let mut near_pairs = 0;
    for i in 0..docs.len() {
        for j in i + 1..docs.len() {
            let inter = sets[i].intersection(&sets[j]).count() as f64;
            let union = (sets[i].len() + sets[j].len()) as f64 - inter;
            let similarity = inter / union;
            if docs[j].1 == Case::NearDuplicate && similarity >= near.threshold {
                assert!(similarity >= near.threshold + 0.1, "{} ~ {}: {similarity}", docs[i].0, docs[j].0);
                near_pairs += 1;
            } else {
                assert!(similarity < 0.5, "{} ~ {} ({:?}): {similarity}", docs[i].0, docs[j].0, docs[j].1);
            }
        }
    }
    assert_eq!(near_pairs, summary.cases["near-duplicate"]);
}
