//! `replicate report`: the paper's tables and figures from a profile's run outputs.
//!
//! Reads what the runner left in `reports/<profile>/` (each run's seed-0
//! values and record, yield waterfall, ledger, per-document tokens and
//! training curve; the scaling fit in `scaling.json`; the claim verdicts in
//! `claims.json`) and writes `index.md` with tables (CSV + Markdown) and
//! figures (PNG + SVG), plus the uncommitted `timing/` page of
//! machine-dependent numbers. Verdicts and the fit are shown as the runner
//! wrote them, never judged or fitted again; the arithmetic here is display
//! only: ratios of measured values (tokens vs Y06, `1 - Y01/Y06` and
//! `exp(val_loss)` beside the paper's numbers, tokens per parameter) and the
//! fitted curve drawn from the fit's parameters.

pub mod figures;
pub mod table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use self::figures::{save, Bars, Curve, Lines};
use self::table::{Cell, Table};
use crate::io::write_atomic;
use crate::metrics::{columns_of, MetricInfo, ReportTable};
use crate::prepare::output::{LedgerRow, YieldRow, LEDGER_FILE, YIELD_FILE};
use crate::replicate::layout::{measured, run_dir, CLAIMS_FILE, RECORD_FILE, SCALING_FILE, TIMING_DIR};
use crate::replicate::scaling::{ScalingReport, SCALING_RUNS};
use crate::replicate::verdicts::{ClaimVerdict, Measured, SideStats};
use crate::spec::{Group, SpecSet};
use crate::tokenize::shards::{DocumentTokens, DOCUMENT_TOKENS_FILE};

/// One training step of a run's `metrics.csv` (the columns the report draws).
#[derive(Debug, Clone)]
pub struct StepRow {
    pub step: f64,
    pub train_loss: f64,
    pub grad_norm: f64,
    pub spike: bool,
}

/// The corpus a group's runs read, as their records say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusUsed {
    pub description: String,
    /// Generated text: per-paper views mean nothing there.
    pub synthetic: bool,
}

/// Everything the report reads for one profile.
pub struct ReportInputs {
    pub set: SpecSet,
    pub measured: Measured,
    pub scaling: Option<ScalingReport>,
    /// What each group's runs read, for captions and section headers
    /// ("synthetic corpus of 40 papers, seed 2602"); groups without a record are absent.
    pub corpora: BTreeMap<Group, CorpusUsed>,
    pub dir: PathBuf,
}

impl ReportInputs {
    pub fn load(set: SpecSet, reports_dir: &Path) -> Result<Self> {
        let dir = reports_dir.join(&set.profile.profile);
        let measured = measured(&set, reports_dir)?;
        let scaling_path = dir.join(SCALING_FILE);
        let scaling = if scaling_path.exists() {
            let text = std::fs::read_to_string(&scaling_path)?;
            Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("{} is malformed", scaling_path.display()))?,
            )
        } else {
            None
        };
        let corpora = corpus_descriptions(&set, reports_dir);
        Ok(ReportInputs { set, measured, scaling, corpora, dir })
    }

    fn value(&self, run: &str, metric: &str) -> Option<f64> {
        self.measured.get(run).and_then(|v| v.get(metric)).copied()
    }

    /// Whether `group`'s runs read the embedded synthetic corpus.
    fn synthetic(&self, group: Group) -> bool {
        self.corpora.get(&group).is_some_and(|c| c.synthetic)
    }

    /// What `group`'s runs read.
    fn corpus(&self, group: Group) -> &str {
        self.corpora.get(&group).map_or("no runs yet", |c| c.description.as_str())
    }

    fn caption(&self, group: Group, what: &str) -> String {
        format!("{what} (profile {}, {})", self.set.profile.profile, self.corpus(group))
    }

    /// The line under a section's heading that says which corpus its numbers come from.
    fn corpus_line(&self, group: Group) -> String {
        format!("Corpus: {}.\n\n", self.corpus(group))
    }

    /// Every group's corpus, grouped by corpus ("Y, T: …; S, D, I, F: …").
    fn corpus_summary(&self) -> String {
        let mut by_corpus: Vec<(&str, Vec<char>)> = Vec::new();
        for (group, used) in &self.corpora {
            let corpus = used.description.as_str();
            match by_corpus.iter_mut().find(|(c, _)| *c == corpus) {
                Some((_, letters)) => letters.push(group.letter()),
                None => by_corpus.push((corpus, vec![group.letter()])),
            }
        }
        if by_corpus.is_empty() {
            return "no runs yet".into();
        }
        let parts: Vec<String> = by_corpus
            .iter()
            .map(|(corpus, letters)| {
                let letters: Vec<String> = letters.iter().map(char::to_string).collect();
                format!("{}: {corpus}", letters.join(", "))
            })
            .collect();
        parts.join("; ")
    }

    fn run_file(&self, id: &str, name: &str) -> PathBuf {
        run_dir(self.dir.parent().unwrap_or(Path::new(".")), &self.set.profile.profile, id).join(name)
    }
}

/// What each group's runs read, from the first record of the group.
fn corpus_descriptions(set: &SpecSet, reports_dir: &Path) -> BTreeMap<Group, CorpusUsed> {
    let mut corpora = BTreeMap::new();
    for spec in &set.specs {
        if corpora.contains_key(&spec.group) {
            continue;
        }
        let path = run_dir(reports_dir, &set.profile.profile, &spec.id).join(RECORD_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let Ok(record) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
        let input = &record["input"];
        let used = CorpusUsed {
            description: describe_input(input),
            synthetic: input["kind"].as_str() == Some("synthetic"),
        };
        corpora.insert(spec.group, used);
    }
    corpora
}

fn describe_input(input: &serde_json::Value) -> String {
    match input["kind"].as_str() {
        Some("synthetic") => {
            format!("synthetic corpus of {} papers, seed {}", input["papers"], input["seed"])
        }
        Some("real") => {
            format!("embedded real arXiv corpus of {} papers (tests/data/arxiv-real)", input["papers"])
        }
        _ => format!("arXiv sources {}", input["src"]),
    }
}

/// Writes `reports/<profile>/index.md`, its tables and figures; returns the index path.
pub fn write_report(set: SpecSet, reports_dir: &Path) -> Result<PathBuf> {
    let inputs = ReportInputs::load(set, reports_dir)?;
    let tables = inputs.dir.join("tables");
    let figures = inputs.dir.join("figures");
    let synthetic_note = if inputs.synthetic(Group::DataYield) {
        " The data-yield runs read a generated corpus: its case mix is chosen, not found, so their \
         results are pipeline checks against ground truth, never a replication of the paper's yield."
    } else {
        ""
    };
    let mut index = format!(
        "# ArXiv-to-Model replication: profile `{}`\n\n> **Corpus: {}.**{synthetic_note}\n\nGenerated by \
         `replicate report`; numbers come from each run's `runs/<ID>/values.json`, verdicts from `claims.json`, \
         figures are in `figures/` (PNG and SVG), tables in `tables/` (CSV and Markdown).\n\n",
        inputs.set.profile.profile,
        inputs.corpus_summary()
    );
    index.push_str(&claims_section(&inputs, &tables)?);
    index.push_str(&paper_section(&inputs, &tables)?);
    index.push_str(&yield_section(&inputs, &tables, &figures)?);
    index.push_str(&tokenizer_section(&inputs, &tables, &figures)?);
    index.push_str(&training_section(&inputs, &tables, &figures)?);
    index.push_str(&scaling_section(&inputs, &figures)?);
    index.push_str(&io_section(&inputs, &figures)?);
    write_timing_report(&inputs)?;
    let path = inputs.dir.join("index.md");
    write_atomic(&path, index.as_bytes())?;
    Ok(path)
}

fn figure_markdown(file: &str, caption: &str) -> String {
    format!("![{caption}](figures/{file}.png)\n\n*{caption}.* ([SVG](figures/{file}.svg))\n\n")
}

/// `mean ± sd (n)`; a bare number as itself.
fn side_text(side: Option<SideStats>) -> Cell {
    match side {
        None => Cell::Missing,
        Some(s) if s.n == 0 => Cell::Float(s.mean),
        Some(s) => {
            format!("{} ± {} ({})", table::format_float(s.mean), table::format_float(s.sd), s.n).into()
        }
    }
}

/// The verdicts the runner wrote to `claims.json`; the report never judges again.
/// The verdicts `replicate` wrote to `path` (none before any run).
fn read_claims(path: &Path) -> Result<Vec<ClaimVerdict>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a claims file", path.display()))
}

fn claims_section(inputs: &ReportInputs, tables: &Path) -> Result<String> {
    let claims = read_claims(&inputs.dir.join(CLAIMS_FILE))?;
    let table = claims_table(inputs, &claims)?;
    table.save(tables, "claims")?;
    Ok(format!(
        "## The paper's claims and the pipeline's checks\n\nEach claim compares runs over {} seed(s) per run \
         (weight init and data order vary). `effect` is the difference of the means in the stated direction \
         (relative to the left side); a paper claim is `replicated` only when the effect exceeds twice the \
         pooled standard deviation, `not replicated` when it is at most minus twice that, else `inconclusive` \
         (`paper/verdicts.md`). Pipeline checks hold by construction of the pipeline: they are checked, never \
         called a replication. Verdicts hold for this profile and corpus only. Claims on timings (data wait) \
         are in [`timing/index.md`](timing/index.md), written on every run and not committed: their numbers \
         change with the machine's load.\n\n{}\n{}",
        inputs.set.profile.seeds,
        table.to_markdown(),
        same_runs(inputs)
    ))
}

/// One row per claim: statement, provenance, both sides over seeds, effect and verdict.
fn claims_table(inputs: &ReportInputs, claims: &[ClaimVerdict]) -> Result<Table> {
    let mut table = Table::new(&[
        "claim",
        "kind",
        "stated by",
        "source",
        "paper",
        "check",
        "left (mean ± sd, seeds)",
        "right",
        "effect",
        "effect / sd",
        "verdict",
    ]);
    let yield_runs = ids(inputs, Group::DataYield);
    for c in claims {
        let label = if inputs.synthetic(Group::DataYield) && yield_runs.contains(&c.run) {
            format!("{} (pipeline check against ground truth: synthetic corpus)", c.label)
        } else {
            c.label.clone()
        };
        let effect = c.relative_effect.map(|r| {
            format!("{} ({:+.1}%)", table::format_float(c.judgement.map_or(0.0, |j| j.effect)), 100.0 * r)
        });
        table.push(vec![
            c.statement.clone().into(),
            serde_json::to_value(c.kind)?.as_str().unwrap_or_default().into(),
            c.run.clone().into(),
            serde_json::to_value(c.source)?.as_str().unwrap_or_default().into(),
            c.paper_value.clone().map_or(Cell::Missing, Cell::from),
            format!("`{}`", c.check).into(),
            side_text(c.lhs),
            side_text(c.rhs),
            effect.map_or(Cell::Missing, Cell::from),
            c.judgement.and_then(|j| j.effect_size).into(),
            match &c.note {
                Some(note) => format!("{label} ({note})"),
                None => label,
            }
            .into(),
        ]);
    }
    Ok(table)
}

/// `timing/index.md`: what changes on every rerun (throughput, MFU, data wait, and the
/// claims that read them), kept out of the committed report.
fn write_timing_report(inputs: &ReportInputs) -> Result<()> {
    let dir = inputs.dir.join(TIMING_DIR);
    let metrics = columns_of(ReportTable::Timing);
    let mut columns = vec!["run"];
    columns.extend(metrics.iter().map(|m| m.name));
    let mut table = Table::new(&columns);
    for spec in &inputs.set.specs {
        let mut row: Vec<Cell> = vec![spec.id.clone().into()];
        row.extend(metrics.iter().map(|m| Cell::from(inputs.value(&spec.id, m.name))));
        table.push(row);
    }
    table.save(&dir.join("tables"), "timing")?;
    let claims = claims_table(inputs, &read_claims(&dir.join(CLAIMS_FILE))?)?;
    claims.save(&dir.join("tables"), "claims")?;
    let runs = ids(inputs, Group::Infrastructure);
    let wait: Vec<f64> = runs.iter().map(|id| inputs.value(id, "data_wait_share").unwrap_or(0.0)).collect();
    let caption = inputs.caption(Group::Infrastructure, "Loaders: share of step time waiting for data");
    save(
        &Bars {
            caption: caption.clone(),
            y_label: "share".into(),
            labels: runs,
            series: vec![("data wait share".into(), wait)],
        },
        &dir.join("figures"),
        "data_wait",
    )?;
    let text = format!(
        "# Timings: profile `{}`\n\nMachine-dependent numbers of the last run on this machine: they change \
         with its load, so this folder is not committed (the committed report holds only what a rerun \
         reproduces). Throughput and MFU per run (seed 0):\n\n{}\n## Claims on timings\n\n{}\n{}",
        inputs.set.profile.profile,
        table.to_markdown(),
        claims.to_markdown(),
        figure_markdown("data_wait", &caption)
    );
    write_atomic(&dir.join("index.md"), text.as_bytes())
}

/// Which ids are one training configuration under several names.
fn same_runs(inputs: &ReportInputs) -> String {
    let mut lines = String::new();
    for spec in &inputs.set.specs {
        let Ok(text) = std::fs::read_to_string(inputs.run_file(&spec.id, RECORD_FILE)) else { continue };
        let Ok(record) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
        if let Some(first) = record["same_run_as"].as_str() {
            lines.push_str(&format!(
                "- {}: same run as {first} (one training per seed, reported under both ids)\n",
                spec.id
            ));
        }
    }
    if lines.is_empty() {
        return lines;
    }
    format!("Runs that are one configuration under several names:\n\n{lines}\n")
}

/// One row of `paper/reference.csv`.
#[derive(Debug, serde::Deserialize)]
struct Reference {
    quantity: String,
    value: f64,
    unit: String,
    provenance: String,
}

/// The paper's numbers beside what this profile measured for the same quantity.
fn paper_section(inputs: &ReportInputs, tables: &Path) -> Result<String> {
    let Some((path, text)) = inputs.set.files.reference_table() else {
        return Ok(String::new());
    };
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let references: Vec<Reference> = reader
        .deserialize()
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a reference table", path.display()))?;
    let v = |run: &str, metric: &str| inputs.value(run, metric);
    // Each measured counterpart, with what it is.
    let measured = |quantity: &str| -> Option<(Option<f64>, &'static str)> {
        Some(match quantity {
            "usable_token_loss_max" => (
                v("Y01", "tokens_kept").zip(v("Y06", "tokens_kept")).map(|(a, b)| 1.0 - a / b),
                "1 - Y01.tokens_kept / Y06.tokens_kept",
            ),
            "tokens_per_parameter" => (v("F01", "tokens_per_param"), "F01.tokens_per_param"),
            "val_loss" => (v("F01", "val_loss"), "F01.val_loss"),
            "val_perplexity" => (v("F01", "val_loss").map(f64::exp), "exp(F01.val_loss)"),
            // Only a GPU measures utilisation; a CPU's data wait is not the same quantity.
            "gpu_utilization" => (v("F01", "gpu_busy_share"), "F01.gpu_busy_share (GPU runs only)"),
            _ => return None,
        })
    };
    let mut table = Table::new(&["quantity", "paper", "unit", "provenance", "measured here", "as"]);
    for r in &references {
        if let Some((value, how)) = measured(&r.quantity) {
            table.push(vec![
                r.quantity.clone().into(),
                Cell::Float(r.value),
                r.unit.clone().into(),
                r.provenance.clone().into(),
                value.into(),
                format!("`{how}`").into(),
            ]);
        }
    }
    table.save(tables, "paper_vs_measured")?;
    Ok(format!(
        "## The paper's numbers beside this profile's\n\nFrom `paper/reference.csv`. Small profiles keep ratios, \
         not absolute scale: losses and utilisation are not expected to match the paper's.\n\n{}\n",
        table.to_markdown()
    ))
}

fn ids(inputs: &ReportInputs, group: Group) -> Vec<String> {
    inputs.set.specs.iter().filter(|s| s.group == group).map(|s| s.id.clone()).collect()
}

fn yield_section(inputs: &ReportInputs, tables: &Path, figures: &Path) -> Result<String> {
    let runs = ids(inputs, Group::DataYield);
    let mut table = Table::new(&[
        "run",
        "title",
        "papers seen",
        "papers kept",
        "chars kept",
        "words kept",
        "tokens kept",
        "tokens vs Y06",
    ]);
    let full = inputs.value("Y06", "tokens_kept");
    for id in &runs {
        let spec = inputs.set.get(id).expect("listed from the set");
        let tokens = inputs.value(id, "tokens_kept");
        let share = tokens.zip(full).filter(|(_, f)| *f > 0.0).map(|(t, f)| t / f);
        table.push(vec![
            id.clone().into(),
            spec.title.clone().into(),
            inputs.value(id, "papers_seen").into(),
            inputs.value(id, "papers_kept").into(),
            inputs.value(id, "chars_kept").into(),
            inputs.value(id, "words_kept").into(),
            tokens.into(),
            share.into(),
        ]);
    }
    table.save(tables, "yield")?;
    let mut out = format!(
        "## Data yield (Y01–Y06)\n\n{}{}\n",
        inputs.corpus_line(Group::DataYield),
        table.to_markdown()
    );
    let tokens: Vec<f64> = runs.iter().map(|id| inputs.value(id, "tokens_kept").unwrap_or(0.0)).collect();
    if tokens.iter().any(|&t| t > 0.0) {
        let caption = inputs.caption(
            Group::DataYield,
            "Usable tokens kept by each preprocessing decision, Y01 (released) to Y06 (described)",
        );
        save(
            &Bars {
                caption: caption.clone(),
                y_label: "tokens kept".into(),
                labels: runs.clone(),
                series: vec![("tokens".into(), tokens)],
            },
            figures,
            "usable_tokens",
        )?;
        out.push_str(&figure_markdown("usable_tokens", &caption));
    }
    for id in &runs {
        let Some(rows) = read_rows::<YieldRow>(&inputs.run_file(id, YIELD_FILE))? else { continue };
        let caption =
            inputs.caption(Group::DataYield, &format!("{id}: papers left after each pipeline stage"));
        let bars = Bars {
            caption: caption.clone(),
            y_label: "papers".into(),
            labels: rows.iter().map(|r| r.stage.clone()).collect(),
            series: vec![("papers out".into(), rows.iter().map(|r| r.papers_out as f64).collect())],
        };
        let name = format!("yield_{id}");
        save(&bars, figures, &name)?;
        out.push_str(&figure_markdown(&name, &caption));
    }
    out.push_str(&drop_reasons(inputs, &runs));
    out.push_str(&per_paper(inputs, &runs, tables)?);
    Ok(out)
}

/// Each real paper under each Y run: kept with its characters and tokens, or
/// the stage and reason it left at (from the runs' `ledger.csv` and
/// `document_tokens.csv`). Generated corpora get none: their papers are not papers.
fn per_paper(inputs: &ReportInputs, runs: &[String], tables: &Path) -> Result<String> {
    if inputs.corpora.get(&Group::DataYield).is_none_or(|c| c.synthetic) {
        return Ok(String::new());
    }
    let mut papers: BTreeMap<String, BTreeMap<String, (LedgerRow, Option<u64>)>> = BTreeMap::new();
    let mut long = Table::new(&["paper", "run", "status", "stage", "reason", "chars kept", "tokens kept"]);
    for id in runs {
        let Some(ledger) = read_rows::<LedgerRow>(&inputs.run_file(id, LEDGER_FILE))? else { continue };
        let tokens: BTreeMap<String, u64> =
            read_rows::<DocumentTokens>(&inputs.run_file(id, DOCUMENT_TOKENS_FILE))?
                .unwrap_or_default()
                .into_iter()
                .map(|d| (d.id, d.tokens))
                .collect();
        for row in ledger {
            let kept_tokens = tokens.get(&row.id).copied();
            long.push(vec![
                row.id.clone().into(),
                id.clone().into(),
                row.status.clone().into(),
                row.stage.clone().into(),
                row.reason.clone().into(),
                Cell::Int(row.chars_out as i64),
                kept_tokens.map_or(Cell::Missing, |t| Cell::Int(t as i64)),
            ]);
            papers.entry(row.id.clone()).or_default().insert(id.clone(), (row, kept_tokens));
        }
    }
    if papers.is_empty() {
        return Ok(String::new());
    }
    long.save(tables, "per_paper")?;
    let mut columns = vec!["paper"];
    columns.extend(runs.iter().map(String::as_str));
    let mut wide = Table::new(&columns);
    for (paper, per_run) in &papers {
        let mut row: Vec<Cell> = vec![paper.clone().into()];
        for id in runs {
            row.push(match per_run.get(id) {
                None => Cell::Missing,
                Some((r, tokens)) if r.status == "kept" => {
                    let tokens = tokens.map_or_else(|| "?".to_string(), |t| t.to_string());
                    format!("kept: {} chars, {tokens} tokens", r.chars_out).into()
                }
                Some((r, _)) => format!("left at {}: {}", r.stage, r.reason).into(),
            });
        }
        wide.push(row);
    }
    Ok(format!(
        "### Per paper ({} papers)\n\nKept (characters in `documents.jsonl`, tokens in the shards with the \
         end-of-document token) or the stage and reason the paper left at; `tables/per_paper.csv` has one row per \
         paper and run.\n\n{}\n",
        papers.len(),
        wide.to_markdown()
    ))
}

/// Papers dropped per stage and reason, from the `count.<stage>.<reason>` values.
fn drop_reasons(inputs: &ReportInputs, runs: &[String]) -> String {
    let mut reasons: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for id in runs {
        for (key, value) in inputs.measured.get(id).into_iter().flatten() {
            if let Some(reason) = key.strip_prefix("count.") {
                reasons.entry(reason.to_string()).or_default().insert(id.clone(), *value);
            }
        }
    }
    if reasons.is_empty() {
        return String::new();
    }
    let mut columns = vec!["stage.reason"];
    columns.extend(runs.iter().map(String::as_str));
    let mut table = Table::new(&columns);
    for (reason, per_run) in &reasons {
        let mut row: Vec<Cell> = vec![reason.clone().into()];
        row.extend(runs.iter().map(|id| Cell::from(per_run.get(id).copied())));
        table.push(row);
    }
    format!("### Drop reasons (papers)\n\n{}\n", table.to_markdown())
}

/// A table's columns with the unit and meaning the metric registry gives them.
fn legend(metrics: &[&MetricInfo]) -> String {
    metrics.iter().map(|m| format!("- `{}` ({}): {}\n", m.name, m.unit, m.description)).collect()
}

/// The rows of a CSV a stage wrote, or `None` when the run has no such file.
fn read_rows<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<Vec<T>>> {
    if !path.exists() {
        return Ok(None);
    }
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let rows: Result<Vec<T>, _> = reader.deserialize().collect();
    Ok(Some(rows.with_context(|| format!("{} has rows of the wrong shape", path.display()))?))
}

fn tokenizer_section(inputs: &ReportInputs, tables: &Path, figures: &Path) -> Result<String> {
    let runs = ids(inputs, Group::Tokenization);
    let metrics = columns_of(ReportTable::Tokenizer);
    let mut columns = vec!["run", "recipe", "vocab"];
    columns.extend(metrics.iter().map(|m| m.name));
    let mut table = Table::new(&columns);
    for id in &runs {
        let spec = inputs.set.get(id).expect("listed from the set");
        let mut row: Vec<Cell> = vec![
            id.clone().into(),
            serde_json::to_value(spec.tokenizer.recipe)?.as_str().unwrap_or_default().into(),
            Cell::Int(i64::from(spec.tokenizer_vocab())),
        ];
        row.extend(metrics.iter().map(|m| Cell::from(inputs.value(id, m.name))));
        table.push(row);
    }
    table.save(tables, "tokenizers")?;
    let mut out = format!(
        "## Tokenization and symbol stability (T01–T06)\n\n{}`vocab` is what the spec asked for, `vocab_size` \
         what the corpus allowed. Metric definitions: `paper/metrics.md`.\n\n{}\n{}\n",
        inputs.corpus_line(Group::Tokenization),
        table.to_markdown(),
        legend(&metrics)
    );
    let series: Vec<(String, Vec<f64>)> = ["command_integrity", "context_consistency"]
        .iter()
        .map(|m| (m.replace('_', " "), runs.iter().map(|id| inputs.value(id, m).unwrap_or(0.0)).collect()))
        .collect();
    if series.iter().any(|(_, v)| v.iter().any(|&x| x > 0.0)) {
        let caption = inputs.caption(
            Group::Tokenization,
            "Symbol stability per tokenizer recipe (share of occurrences, higher is better)",
        );
        save(
            &Bars { caption: caption.clone(), y_label: "share of occurrences".into(), labels: runs, series },
            figures,
            "symbol_stability",
        )?;
        out.push_str(&figure_markdown("symbol_stability", &caption));
    }
    Ok(out)
}

fn training_section(inputs: &ReportInputs, tables: &Path, figures: &Path) -> Result<String> {
    // Reproducible values only: timings are in `timing/index.md`.
    let metrics = columns_of(ReportTable::Training);
    let mut columns = vec!["run"];
    columns.extend(metrics.iter().map(|m| m.name));
    let mut table = Table::new(&columns);
    for spec in &inputs.set.specs {
        let mut row: Vec<Cell> = vec![spec.id.clone().into()];
        row.extend(metrics.iter().map(|m| Cell::from(inputs.value(&spec.id, m.name))));
        table.push(row);
    }
    table.save(tables, "training")?;
    let mut out = format!(
        "## Training (all runs)\n\nCorpus per group: {}.\n\n{}\n{}\n",
        inputs.corpus_summary(),
        table.to_markdown(),
        legend(&metrics)
    );
    for group in Group::ALL {
        let mut loss = Vec::new();
        let mut grad = Vec::new();
        // T runs differ in tokenizer: nats per token do not compare, bits per byte do. The
        // run's own validation ratio (val_bpb / val_loss) converts, and a tokenizer that does
        // not round-trip every document is flagged as lossy.
        let bits_per_byte = group == Group::Tokenization;
        for id in ids(inputs, group) {
            let Some(steps) = read_curve(&inputs.run_file(&id, crate::train::METRICS_FILE))? else {
                continue;
            };
            let scale = match (bits_per_byte, inputs.value(&id, "val_bpb"), inputs.value(&id, "val_loss")) {
                (true, Some(bpb), Some(nats)) if nats > 0.0 => bpb / nats,
                (true, _, _) => continue,
                _ => 1.0,
            };
            let lossy = bits_per_byte && inputs.value(&id, "roundtrip_exact").is_some_and(|r| r < 1.0);
            let name = if lossy { format!("{id} (lossy tokenizer)") } else { id.clone() };
            let spikes = steps.iter().filter(|s| s.spike).map(|s| (s.step, scale * s.train_loss)).collect();
            loss.push(Curve {
                name,
                points: steps.iter().map(|s| (s.step, scale * s.train_loss)).collect(),
                marks: spikes,
            });
            grad.push(Curve {
                name: id,
                points: steps.iter().map(|s| (s.step, s.grad_norm)).collect(),
                marks: Vec::new(),
            });
        }
        if loss.is_empty() {
            continue;
        }
        let letter = group.letter();
        let caption = inputs
            .caption(group, &format!("{} runs: training loss per step, loss spikes marked x", group.name()));
        save(
            &Lines {
                caption: caption.clone(),
                x_label: "step".into(),
                y_label: if bits_per_byte { "train loss (bits/byte)" } else { "train loss (nats/token)" }
                    .into(),
                log_x: false,
                series: loss,
            },
            figures,
            &format!("loss_{letter}"),
        )?;
        out.push_str(&figure_markdown(&format!("loss_{letter}"), &caption));
        let caption = inputs.caption(
            group,
            &format!("{} runs: global gradient norm per step (before clipping)", group.name()),
        );
        save(
            &Lines {
                caption: caption.clone(),
                x_label: "step".into(),
                y_label: "gradient norm".into(),
                log_x: false,
                series: grad,
            },
            figures,
            &format!("grad_norm_{letter}"),
        )?;
        out.push_str(&figure_markdown(&format!("grad_norm_{letter}"), &caption));
    }
    Ok(out)
}

/// Reads the `train` rows of `metrics.csv` by column name.
fn read_curve(path: &Path) -> Result<Option<Vec<StepRow>>> {
    if !path.exists() {
        return Ok(None);
    }
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(split), Some(step), Some(loss)) = (column("split"), column("step"), column("loss")) else {
        return Ok(None);
    };
    let (grad, spike) = (column("grad_norm"), column("spike"));
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        if record.get(split) != Some("train") {
            continue;
        }
        let number = |i: Option<usize>| i.and_then(|i| record.get(i)).and_then(|v| v.parse::<f64>().ok());
        let (Some(step), Some(train_loss)) = (number(Some(step)), number(Some(loss))) else { continue };
        let spike = spike.and_then(|i| record.get(i)).is_some_and(|v| v == "1" || v == "true");
        rows.push(StepRow { step, train_loss, grad_norm: number(grad).unwrap_or(f64::NAN), spike });
    }
    Ok(Some(rows))
}

fn scaling_section(inputs: &ReportInputs, figures: &Path) -> Result<String> {
    let Some(report) = &inputs.scaling else {
        return Ok(format!(
            "## Scaling ({}–{})\n\nNot fitted: not every ladder run has a validation loss.\n\n",
            SCALING_RUNS[0], SCALING_RUNS[4]
        ));
    };
    let f = &report.fit;
    let lo = report.points.iter().map(|p| p.params).fold(f64::MAX, f64::min);
    let hi = report.points.iter().map(|p| p.params).fold(0.0, f64::max);
    let fitted: Vec<(f64, f64)> =
        (0..=40).map(|i| lo * (hi / lo).powf(i as f64 / 40.0)).map(|n| (n, f.predict(n))).collect();
    let observed = report.points.iter().map(|p| (p.params, p.loss)).collect();
    let caption = inputs.caption(
        Group::Scaling,
        &format!(
            "S01–S05 validation loss vs size; fit alpha = {:.3} [{:.3}, {:.3}]",
            f.alpha, report.alpha_interval.0, report.alpha_interval.1
        ),
    );
    let lines = Lines {
        caption: caption.clone(),
        x_label: "non-embedding parameters".into(),
        y_label: "validation loss (nats/token)".into(),
        log_x: true,
        series: vec![Curve { name: "fit (runs marked x)".into(), points: fitted, marks: observed }],
    };
    save(&lines, figures, "scaling")?;
    let residuals: Vec<String> = report.residuals.iter().map(|r| format!("{r:+.4}")).collect();
    let tokens_per_param: Vec<String> = SCALING_RUNS
        .iter()
        .map(|id| {
            let total = inputs.value(id, "tokens_per_param");
            match (inputs.set.get(id), inputs.value(id, "non_embedding_params"), total) {
                (Some(spec), Some(n), Some(total)) if n > 0.0 => {
                    format!(
                        "{id} {:.1} ({total:.2} per parameter with embeddings)",
                        spec.train.tokens as f64 / n
                    )
                }
                _ => format!("{id} –"),
            }
        })
        .collect();
    let verdict = match &report.degenerate {
        Some(why) => format!("**Degenerate fit** ({why}): the numbers below are not estimates."),
        None => "The fit is not degenerate.".to_string(),
    };
    Ok(format!(
        "## Scaling (S01–S05)\n\n{}{verdict} Huber fit on log-loss (Chinchilla approach 3), seed 0, {} bootstrap \
         resamples: alpha = {:.3} [{:.3}, {:.3}], E = {:.3} [{:.3}, {:.3}]. Residuals (observed − fit, nats): {}. \
         Training tokens per non-embedding parameter (the budget's count, Kaplan et al.'s N): {}.\n\n{}",
        inputs.corpus_line(Group::Scaling),
        report.resamples, f.alpha, report.alpha_interval.0, report.alpha_interval.1, f.e, report.e_interval.0,
        report.e_interval.1, residuals.join(", "), tokens_per_param.join(", "), figure_markdown("scaling", &caption)
    ))
}

fn io_section(inputs: &ReportInputs, figures: &Path) -> Result<String> {
    let runs = ids(inputs, Group::Infrastructure);
    let series: Vec<(String, Vec<f64>)> =
        [("padding share", "padding_share"), ("truncated share", "truncated_share")]
            .iter()
            .map(|(name, m)| {
                (name.to_string(), runs.iter().map(|id| inputs.value(id, m).unwrap_or(0.0)).collect())
            })
            .collect();
    if !series.iter().any(|(_, v)| v.iter().any(|&x| x > 0.0)) {
        return Ok(String::new());
    }
    let caption = inputs
        .caption(Group::Infrastructure, "Loaders: share of positions that are padding and of document tokens cut at the context (data wait: timing/index.md)");
    save(&Bars { caption: caption.clone(), y_label: "share".into(), labels: runs, series }, figures, "io")?;
    Ok(format!(
        "## Infrastructure (I01–I03)\n\n{}{}",
        inputs.corpus_line(Group::Infrastructure),
        figure_markdown("io", &caption)
    ))
}
