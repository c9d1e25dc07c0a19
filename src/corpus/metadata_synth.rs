//! A generated OAI metadata snapshot at dump scale (`replicate metadata
//! synth`): the real snapshot's fields and shapes (every field of
//! `arxiv-metadata-oai-snapshot.json`, abstracts with the leading spaces and
//! hard line breaks of the real file, `versions` with RFC 2822 stamps, old-style
//! ids like `math/0301001`), nulls in every nullable field, plain or gzipped.
//! For the index benchmark and its tests: a pipeline check, never data.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use serde::Serialize;

use super::synth::prose::Dice;

#[derive(Serialize)]
struct Version {
    version: String,
    created: Option<String>,
}

#[derive(Serialize)]
struct OaiRecord {
    id: String,
    submitter: Option<String>,
    authors: Option<String>,
    title: Option<String>,
    comments: Option<String>,
    #[serde(rename = "journal-ref")]
    journal_ref: Option<String>,
    doi: Option<String>,
    #[serde(rename = "report-no")]
    report_no: Option<String>,
    categories: Option<String>,
    license: Option<String>,
    #[serde(rename = "abstract")]
    abstract_text: Option<String>,
    versions: Option<Vec<Version>>,
    update_date: Option<String>,
    authors_parsed: Option<Vec<[String; 3]>>,
}

/// What `synth` wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SynthSnapshotReport {
    pub records: u64,
    pub gzip: bool,
    pub bytes: u64,
}

const OLD_ARCHIVES: &[&str] = &[
    "math", "hep-th", "hep-ph", "quant-ph", "cond-mat", "astro-ph", "gr-qc", "nucl-th", "cs", "physics",
    "math-ph",
];
const CATEGORIES: &[&str] = &[
    "math.AP",
    "math.PR math.ST stat.TH",
    "math.CO",
    "math.AG math.NT",
    "cs.LG stat.ML",
    "cs.CL cs.AI",
    "cs.CV cs.LG",
    "hep-th",
    "hep-ph hep-ex",
    "quant-ph",
    "astro-ph.GA",
    "astro-ph.CO astro-ph.HE",
    "cond-mat.str-el",
    "cond-mat.mes-hall cond-mat.mtrl-sci",
    "physics.optics",
    "math-ph math.MP",
    "econ.EM",
    "q-bio.NC",
    "eess.SP cs.IT math.IT",
    "stat.ME",
];
const LICENSES: &[&str] = &[
    "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
    "http://creativecommons.org/licenses/by/4.0/",
    "http://creativecommons.org/licenses/by-sa/4.0/",
    "http://creativecommons.org/licenses/by-nc-sa/4.0/",
    "http://creativecommons.org/publicdomain/zero/1.0/",
];
const WORDS: &[&str] = &[
    "we",
    "study",
    "the",
    "of",
    "a",
    "in",
    "and",
    "for",
    "is",
    "on",
    "with",
    "that",
    "this",
    "by",
    "which",
    "model",
    "show",
    "prove",
    "bound",
    "estimate",
    "operator",
    "manifold",
    "algebra",
    "graph",
    "network",
    "quantum",
    "field",
    "theory",
    "energy",
    "spectrum",
    "scattering",
    "gauge",
    "symmetry",
    "lattice",
    "random",
    "process",
    "measure",
    "entropy",
    "convex",
    "optimization",
    "learning",
    "training",
    "data",
    "inference",
    "posterior",
    "kernel",
    "regression",
    "dimension",
    "invariant",
    "cohomology",
    "sheaf",
    "curvature",
    "boundary",
    "solution",
    "equation",
    "nonlinear",
    "stability",
    "dynamics",
    "phase",
    "transition",
    "critical",
    "exponent",
    "coupling",
    "perturbation",
    "expansion",
    "numerical",
    "simulation",
    "observations",
    "galaxy",
    "cluster",
    "dark",
    "matter",
    "neutrino",
    "mass",
    "decay",
    "collider",
    "detector",
    "superconducting",
    "topological",
    "insulator",
    "electron",
    "spin",
    "magnetic",
    "$\\alpha$",
    "$L^2$",
    "$\\mathbb{R}^n$",
    "$O(n\\log n)$",
    "new",
    "general",
    "explicit",
    "sharp",
    "optimal",
    "large",
];
const SURNAMES: &[&str] = &[
    "Nadolsky",
    "Streinu",
    "Pan",
    "Callan",
    "Abu-Shammala",
    "Bal\u{e1}zs",
    "M\u{fc}ller",
    "Smith",
    "Wang",
    "Li",
    "Garc\u{ed}a",
    "Dupont",
    "Kowalski",
    "Tanaka",
    "Ivanov",
    "O'Brien",
    "van der Berg",
];
const INITIALS: &[&str] = &["C.", "E. L.", "P. M.", "A.", "J.", "H.-P.", "M.", "S.", "Y.", "D. R."];
const DAYS: &[&str] = &["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: &[&str] = &["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `yymm` (two-digit year and month) of month number `m` from January `start`.
fn yymm(start_year: u32, m: u32) -> (u32, u32) {
    (start_year + m / 12, m % 12 + 1)
}

/// The id of record `i` of `n`: old-style ids (before April 2007) for the
/// first tenth, four-digit new-style (2007-2014) for the next 30%, five-digit
/// (2015-2026) for the rest, as in the real snapshot; unique by construction.
fn record_id(i: u64, n: u64) -> Result<(String, u32)> {
    let old = n / 10;
    let mid = n * 3 / 10;
    if i < old {
        // 1992-01 .. 2007-03: 183 months × 11 archives, three-digit numbers.
        let slots = 183 * OLD_ARCHIVES.len() as u64;
        let per = old.div_ceil(slots);
        if per > 999 {
            bail!("{n} records are more than the old-style id range holds; ask for fewer");
        }
        let (slot, number) = (i / per, i % per + 1);
        let archive = OLD_ARCHIVES[(slot % OLD_ARCHIVES.len() as u64) as usize];
        let (year, month) = yymm(1992, (slot / OLD_ARCHIVES.len() as u64) as u32);
        return Ok((format!("{archive}/{:02}{month:02}{number:03}", year % 100), year));
    }
    let (i, count, start, months, digits) = if i < old + mid {
        (i - old, mid, 2007 * 12 + 3, 93u64, 4)
    } else {
        (i - old - mid, n - old - mid, 2015 * 12, 144, 5)
    };
    let per = count.div_ceil(months);
    if per >= 10u64.pow(digits) {
        bail!("{n} records are more than the new-style id range holds; ask for fewer");
    }
    let (m, number) = (i / per, i % per + 1);
    let (year, month) = yymm(0, start + m as u32);
    Ok((format!("{:02}{month:02}.{number:0width$}", year % 100, width = digits as usize), year))
}

fn words(dice: &mut Dice, count: usize) -> String {
    let mut text = String::new();
    for k in 0..count {
        if k > 0 {
            // The real file breaks abstract lines near 80 columns.
            text.push(if k % 12 == 0 { '\n' } else { ' ' });
        }
        text.push_str(dice.pick(WORDS));
    }
    text
}

fn stamp(dice: &mut Dice, year: u32) -> String {
    format!(
        "{}, {} {} {year} {:02}:{:02}:{:02} GMT",
        dice.pick(DAYS),
        dice.between(1, 28),
        dice.pick(MONTHS),
        dice.below(24),
        dice.below(60),
        dice.below(60)
    )
}

/// Present with probability `100 - null_percent`.
fn maybe<T>(dice: &mut Dice, null_percent: usize, make: impl FnOnce(&mut Dice) -> T) -> Option<T> {
    if dice.chance(null_percent) {
        None
    } else {
        Some(make(dice))
    }
}

fn record(dice: &mut Dice, i: u64, n: u64) -> Result<OaiRecord> {
    let (id, year) = record_id(i, n)?;
    let people: Vec<[String; 3]> = (0..dice.between(1, 6))
        .map(|_| [dice.pick(SURNAMES).to_string(), dice.pick(INITIALS).to_string(), String::new()])
        .collect();
    let authors = people.iter().map(|p| format!("{} {}", p[1], p[0])).collect::<Vec<_>>().join(", ");
    let abstract_words = dice.between(20, 260);
    Ok(OaiRecord {
        submitter: maybe(dice, 1, |d| format!("{} {}", d.pick(INITIALS), d.pick(SURNAMES))),
        authors: maybe(dice, 1, |_| authors),
        title: maybe(dice, 1, |d| {
            let n = d.between(4, 16);
            words(d, n)
        }),
        comments: maybe(dice, 30, |d| match d.below(40) {
            0 => "This paper has been withdrawn by the author".to_string(),
            _ => format!("{} pages, {} figures", d.between(4, 80), d.below(20)),
        }),
        journal_ref: maybe(dice, 60, |d| {
            format!("Phys.Rev.D{}:{:06},{year}", d.between(40, 110), d.below(999_999))
        }),
        doi: maybe(dice, 55, |d| format!("10.1103/PhysRevD.{}.{:06}", d.between(40, 110), d.below(999_999))),
        report_no: maybe(dice, 85, |d| format!("ANL-HEP-PR-{:02}-{}", year % 100, d.between(1, 99))),
        categories: maybe(dice, 1, |d| d.pick(CATEGORIES).to_string()),
        license: maybe(dice, 40, |d| d.pick(LICENSES).to_string()),
        abstract_text: maybe(dice, 1, |d| format!("  {}\n", words(d, abstract_words))),
        versions: maybe(dice, 1, |d| {
            (1..=d.between(1, 4))
                .map(|v| Version {
                    version: format!("v{v}"),
                    created: maybe(d, 1, |d| stamp(d, year + v as u32 - 1)),
                })
                .collect()
        }),
        update_date: maybe(dice, 1, |d| {
            format!("{}-{:02}-{:02}", year + 1, d.between(1, 12), d.between(1, 28))
        }),
        authors_parsed: maybe(dice, 1, |_| people),
        id,
    })
}

/// Writes `records` records to `out`, gzipped when `gzip`; the same seed
/// writes the same bytes.
pub fn generate(records: u64, seed: u64, gzip: bool, out: &Path) -> Result<SynthSnapshotReport> {
    let file = File::create(out)
        .with_context(|| format!("cannot create {}; is the directory writable?", out.display()))?;
    let write = |sink: &mut dyn Write| -> Result<()> {
        let mut sink = BufWriter::with_capacity(1 << 20, sink);
        let mut dice = Dice::for_paper(seed, 0);
        for i in 0..records {
            serde_json::to_writer(&mut sink, &record(&mut dice, i, records)?)?;
            sink.write_all(b"\n")?;
        }
        sink.flush()?;
        Ok(())
    };
    let context = || format!("cannot write the snapshot {}", out.display());
    if gzip {
        let mut gz = GzEncoder::new(BufWriter::new(file), flate2::Compression::fast());
        write(&mut gz).with_context(context)?;
        gz.finish().with_context(context)?.flush().with_context(context)?;
    } else {
        let mut plain = BufWriter::new(file);
        write(&mut plain).with_context(context)?;
        plain.flush().with_context(context)?;
    }
    let bytes = std::fs::metadata(out)?.len();
    Ok(SynthSnapshotReport { records, gzip, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::metadata::for_each_record;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_of_every_style() {
        let n = 20_000;
        let ids: Vec<String> = (0..n).map(|i| record_id(i, n).unwrap().0).collect();
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), n as usize);
        assert!(ids.iter().any(|id| id.starts_with("math/92")), "{:?}", &ids[..3]);
        assert!(ids.iter().any(|id| id.len() == 9 && id.starts_with("0704.")));
        assert!(ids.iter().any(|id| id.len() == 10 && id.starts_with("26")));
        for id in &ids {
            assert_eq!(crate::corpus::id::canonical_id(id), *id, "not canonical: {id}");
        }
    }

    #[test]
    fn the_generated_snapshot_reads_with_nulls_and_no_malformed_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.json.gz");
        let report = generate(3_000, 7, true, &path).unwrap();
        assert_eq!(report.records, 3_000);
        let (mut null_abstracts, mut null_categories, mut undated) = (0, 0, 0);
        let stats = for_each_record(&path, |r| {
            null_abstracts += usize::from(r.abstract_text.is_none());
            null_categories += usize::from(r.categories.is_none());
            undated += usize::from(r.first_version_year.is_none());
            Ok(())
        })
        .unwrap();
        assert_eq!((stats.records, stats.malformed_lines), (3_000, 0));
        assert!(null_abstracts > 0 && null_categories > 0 && undated > 0);
        let again = dir.path().join("again.json.gz");
        generate(3_000, 7, true, &again).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&again).unwrap());
    }
}
