//! Strict loading: `extends` chains, profile overrides, and errors that name
//! the file, line and key to fix.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};

use super::data::{Cleaner, WhitespaceMode};
use super::files::SpecFiles;
use super::locate::{line_of, Found, Segment};
use super::model::{ModelVocab, ModelVocabName, ShapeRef};
use super::tokenizer::{VocabName, VocabRef};
use super::{is_run_id, Group, Profile, Spec, ValidatedSpec, RUN_IDS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecErrorKind {
    Io,
    Syntax,
    UnknownKey,
    WrongType,
    MissingKey,
    DanglingExtends,
    ExtendsCycle,
    /// A spec sets a key that its profile scales.
    ProfileConflict,
    /// Well-formed but not meaningful (a fraction above 1, heads not dividing hidden, …).
    Invalid,
    MissingRun,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpecError {
    pub kind: SpecErrorKind,
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for SpecError {}

impl SpecError {
    fn new(kind: SpecErrorKind, file: &Path, message: impl Into<String>) -> Self {
        SpecError { kind, file: file.to_path_buf(), line: None, key: None, message: message.into() }
    }

    fn at(mut self, line: Option<usize>, key: Option<String>) -> Self {
        self.line = line;
        self.key = key;
        self
    }
}

/// All 24 specs resolved under one profile.
#[derive(Debug, Clone)]
pub struct SpecSet {
    pub files: SpecFiles,
    pub profile: Profile,
    /// In [`RUN_IDS`] order.
    pub specs: Vec<ValidatedSpec>,
}

impl SpecSet {
    pub fn get(&self, id: &str) -> Option<&ValidatedSpec> {
        self.specs.iter().find(|s| s.id == id)
    }
}

/// A YAML file with its text kept for locating keys.
struct SourceFile {
    path: PathBuf,
    text: String,
    value: Value,
}

impl SourceFile {
    fn read(files: &SpecFiles, path: &Path) -> Result<Self, SpecError> {
        if let SpecFiles::Dir(_) = files {
            crate::io::require_regular_file(path, "spec")
                .map_err(|e| SpecError::new(SpecErrorKind::Io, path, format!("{e:#}")))?;
        }
        let text = files
            .read(path)
            .map_err(|e| SpecError::new(SpecErrorKind::Io, path, format!("cannot read: {e}")))?;
        if let Err((line, message)) = super::guard::check_shape(&text) {
            return Err(SpecError::new(SpecErrorKind::Syntax, path, message).at(line, None));
        }
        let value: Value = serde_norway::from_str(&text).map_err(|e| {
            let line = super::guard::duplicate_key_line(&text, &e.to_string())
                .or_else(|| e.location().map(|l| l.line()));
            SpecError::new(SpecErrorKind::Syntax, path, format!("not valid YAML: {e}")).at(line, None)
        })?;
        if !value.is_mapping() {
            return Err(SpecError::new(SpecErrorKind::WrongType, path, "the file must be a YAML mapping"));
        }
        Ok(SourceFile { path: path.to_path_buf(), text, value })
    }

    fn line(&self, path: &[Segment]) -> Option<Found> {
        line_of(&self.text, path)
    }
}

pub fn profile_path(runs_dir: &Path, name: &str) -> PathBuf {
    runs_dir.join("profiles").join(format!("{name}.yaml"))
}

/// Loads `runs/profiles/NAME.yaml`.
pub fn load_profile(runs: impl Into<SpecFiles>, name: &str) -> Result<Profile, SpecError> {
    load_profile_file(&runs.into(), name).map(|(profile, _)| profile)
}

fn load_profile_file(files: &SpecFiles, name: &str) -> Result<(Profile, SourceFile), SpecError> {
    let runs_dir = &files.root();
    let path = profile_path(runs_dir, name);
    if !files.is_file(&path) {
        let known = files.yaml_stems(&runs_dir.join("profiles")).join(", ");
        return Err(SpecError::new(
            SpecErrorKind::Io,
            &path,
            format!("no profile `{name}` (profiles in {}: {known})", runs_dir.join("profiles").display()),
        ));
    }
    let file = SourceFile::read(files, &path)?;
    let profile: Profile = deserialize(file.value.clone(), &[&file])?;
    let fail = |key: &str, msg: String| {
        let segs = key_segments(key);
        let line = file.line(&segs).map(found_line);
        SpecError::new(SpecErrorKind::Invalid, &path, msg).at(line, Some(key.to_string()))
    };
    if profile.profile != name {
        return Err(fail("profile", format!("says `{}` but the file is named `{name}`", profile.profile)));
    }
    if profile.shapes.ladder[4] != profile.shapes.final_shape {
        return Err(fail("shapes.ladder", "the fifth rung must equal `shapes.final`".into()));
    }
    let sizes: Vec<u64> = profile.shapes.ladder.iter().map(|d| d.non_embedding_parameters()).collect();
    if sizes.windows(2).any(|w| w[0] >= w[1]) {
        return Err(fail(
            "shapes.ladder",
            format!("rungs must grow in non-embedding parameters, got {sizes:?}"),
        ));
    }
    if let Some(rung) = profile.budget.as_ref().and_then(|b| b.ablation_rung) {
        if !(1..=5).contains(&rung) {
            return Err(fail("budget.ablation_rung", format!("is {rung}; the ladder has rungs 1 to 5")));
        }
    }
    if !profile.overrides.is_mapping() {
        return Err(fail("overrides", "must be a mapping laid over every spec".into()));
    }
    Ok((profile, file))
}

/// Loads and resolves every run under `runs_dir` for `profile_name`, reporting
/// every error found rather than the first.
pub fn load_set(runs: impl Into<SpecFiles>, profile_name: &str) -> Result<SpecSet, Vec<SpecError>> {
    let files = runs.into();
    let runs_dir = &files.root();
    let (profile, profile_file) = load_profile_file(&files, profile_name).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let mut specs = Vec::new();
    for id in RUN_IDS {
        let path = runs_dir.join(format!("{id}.yaml"));
        if !files.is_file(&path) {
            errors.push(SpecError::new(
                SpecErrorKind::MissingRun,
                &path,
                format!("run {id} has no spec file"),
            ));
            continue;
        }
        match load_spec_file(&files, &path, &profile, &profile_file) {
            Ok(spec) => specs.push(spec),
            Err(e) => errors.push(e),
        }
    }
    for stem in files.yaml_stems(runs_dir) {
        if is_run_id(&stem) && !RUN_IDS.contains(&stem.as_str()) {
            let path = runs_dir.join(format!("{stem}.yaml"));
            errors.push(SpecError::new(
                SpecErrorKind::Invalid,
                &path,
                format!("{stem} is not one of the 24 runs"),
            ));
        }
    }
    errors.extend(check_claim_ids(runs_dir, &specs));
    if errors.is_empty() {
        Ok(SpecSet { files, profile, specs })
    } else {
        Err(errors)
    }
}

/// One error listing every problem of a set that does not load.
pub fn set_error(errors: Vec<SpecError>) -> anyhow::Error {
    let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
    anyhow::anyhow!("the spec set does not load ({} errors):\n{}", errors.len(), lines.join("\n"))
}

/// Loads one run, e.g. for `replicate show`, without requiring the rest of the set.
pub fn load_one(
    runs: impl Into<SpecFiles>,
    id: &str,
    profile_name: &str,
) -> Result<(ValidatedSpec, Profile), SpecError> {
    let files = runs.into();
    let (profile, profile_file) = load_profile_file(&files, profile_name)?;
    let path = files.root().join(format!("{id}.yaml"));
    if !files.is_file(&path) {
        return Err(SpecError::new(
            SpecErrorKind::MissingRun,
            &path,
            format!("no spec `{id}` (run `replicate list` for the 24 ids)"),
        ));
    }
    let spec = load_spec_file(&files, &path, &profile, &profile_file)?;
    Ok((spec, profile))
}

/// The files `id` is read from, root of its `extends` chain first, then the profile's.
pub fn spec_sources(
    runs: impl Into<SpecFiles>,
    id: &str,
    profile_name: &str,
) -> Result<Vec<PathBuf>, SpecError> {
    let files = runs.into();
    let (_, profile_file) = load_profile_file(&files, profile_name)?;
    let chain = read_chain(&files, &files.root().join(format!("{id}.yaml")), &mut Vec::new())?;
    Ok(chain.into_iter().chain([profile_file]).map(|f| f.path).collect())
}

fn load_spec_file(
    files: &SpecFiles,
    path: &Path,
    profile: &Profile,
    profile_file: &SourceFile,
) -> Result<ValidatedSpec, SpecError> {
    let chain = read_chain(files, path, &mut Vec::new())?;
    check_profile_conflicts(&chain, profile, profile_file)?;
    let mut merged = Value::Mapping(Mapping::new());
    for file in &chain {
        merge(&mut merged, file.value.clone());
    }
    merge(&mut merged, profile.overrides.clone());
    // Errors are looked up child-first: the file that set a key last is the one to edit.
    let mut lookup: Vec<&SourceFile> = vec![profile_file];
    lookup.extend(chain.iter().rev());
    let mut spec: Spec = deserialize(merged, &lookup)?;
    let leaf = chain.last().expect("a chain holds at least the spec file");
    resolve(&mut spec, profile);
    let problems = validate(&spec, path);
    if let Some((key, message)) = problems.into_iter().next() {
        let segs = key_segments(&key);
        let line = lookup.iter().skip(1).find_map(|f| f.line(&segs).map(found_line));
        return Err(SpecError::new(SpecErrorKind::Invalid, &leaf.path, message).at(line, Some(key)));
    }
    ValidatedSpec::new(spec).map_err(|(key, message)| {
        SpecError::new(SpecErrorKind::Invalid, &leaf.path, message).at(None, Some(key.to_string()))
    })
}

/// Reads `path` and the files it extends, root first.
fn read_chain(files: &SpecFiles, path: &Path, seen: &mut Vec<PathBuf>) -> Result<Vec<SourceFile>, SpecError> {
    let mut file = SourceFile::read(files, path)?;
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if seen.contains(&canonical) {
        let cycle: Vec<String> = seen.iter().chain([&canonical]).map(|p| p.display().to_string()).collect();
        return Err(SpecError::new(
            SpecErrorKind::ExtendsCycle,
            path,
            format!("`extends` loops: {}", cycle.join(" -> ")),
        ));
    }
    seen.push(canonical);
    let extends = file.value.as_mapping_mut().and_then(|m| m.remove("extends"));
    let Some(extends) = extends else {
        return Ok(vec![file]);
    };
    let line = file.line(&[Segment::Key("extends".into())]).map(found_line);
    let Some(target) = extends.as_str() else {
        return Err(SpecError::new(
            SpecErrorKind::WrongType,
            path,
            "`extends` must be a file name such as base.yaml",
        )
        .at(line, Some("extends".into())));
    };
    let parent = path.parent().unwrap_or(Path::new(".")).join(target);
    // `extends` names a file of the runs directory (the first spec's), never
    // one elsewhere: `../../../etc/passwd` is not a base spec.
    let root = seen.first().and_then(|p| p.parent()).map(Path::to_path_buf);
    let inside = match (parent.canonicalize(), root) {
        (Ok(target), Some(root)) => target.starts_with(root),
        _ => true,
    };
    if !inside {
        return Err(SpecError::new(
            SpecErrorKind::DanglingExtends,
            path,
            format!("extends `{target}`, which is outside the runs directory; name a file next to the specs"),
        )
        .at(line, Some("extends".into())));
    }
    if !files.is_file(&parent) {
        return Err(SpecError::new(
            SpecErrorKind::DanglingExtends,
            path,
            format!("extends `{target}`, but {} does not exist", parent.display()),
        )
        .at(line, Some("extends".into())));
    }
    let mut chain = read_chain(files, &parent, seen)?;
    chain.push(file);
    Ok(chain)
}

/// Deep-merges mappings; anything else in `over` replaces what `base` had.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(base), Value::Mapping(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

/// Key paths of every non-mapping value.
fn leaf_paths(value: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        // An empty mapping sets nothing (`overrides: {}`).
        Value::Mapping(map) => {
            for (k, v) in map {
                prefix.push(k.as_str().map(str::to_string).unwrap_or_else(|| format!("{k:?}")));
                leaf_paths(v, prefix, out);
                prefix.pop();
            }
        }
        _ => out.push(prefix.clone()),
    }
}

fn check_profile_conflicts(
    chain: &[SourceFile],
    profile: &Profile,
    profile_file: &SourceFile,
) -> Result<(), SpecError> {
    let mut scaled = Vec::new();
    leaf_paths(&profile.overrides, &mut Vec::new(), &mut scaled);
    // The root of a chain (base.yaml) states paper-scale defaults that profiles may replace.
    for file in chain.iter().skip(1) {
        let mut set = Vec::new();
        leaf_paths(&file.value, &mut Vec::new(), &mut set);
        for key in &set {
            let clash = scaled.iter().find(|s| s.starts_with(key) || key.starts_with(s));
            if let Some(scaled_key) = clash {
                let segs: Vec<Segment> = key.iter().cloned().map(Segment::Key).collect();
                let mut profile_segs = vec![Segment::Key("overrides".into())];
                profile_segs.extend(scaled_key.iter().cloned().map(Segment::Key));
                let profile_line = profile_file.line(&profile_segs).map(found_line).unwrap_or(0);
                return Err(SpecError::new(
                    SpecErrorKind::ProfileConflict,
                    &file.path,
                    format!(
                        "is scaled by the profile ({}:{profile_line}); a spec must not set what profiles scale. \
                         Move the paper-scale value to base.yaml",
                        profile_file.path.display()
                    ),
                )
                .at(file.line(&segs).map(found_line), Some(key.join("."))));
            }
        }
    }
    Ok(())
}

/// Deserializes strictly and turns serde's message into a located error.
fn deserialize<T: serde::de::DeserializeOwned>(value: Value, files: &[&SourceFile]) -> Result<T, SpecError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let mut segs: Vec<Segment> = err
            .path()
            .iter()
            .filter_map(|s| match s {
                serde_path_to_error::Segment::Seq { index } => Some(Segment::Index(*index)),
                serde_path_to_error::Segment::Map { key } => Some(Segment::Key(key.clone())),
                serde_path_to_error::Segment::Enum { variant } => Some(Segment::Key(variant.clone())),
                serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        let message = err.inner().to_string();
        let named = backticked(&message);
        let kind = if message.starts_with("unknown field") {
            SpecErrorKind::UnknownKey
        } else if message.starts_with("missing field") {
            SpecErrorKind::MissingKey
        } else if message.starts_with("claim check") {
            SpecErrorKind::Invalid
        } else {
            SpecErrorKind::WrongType
        };
        if matches!(kind, SpecErrorKind::UnknownKey | SpecErrorKind::MissingKey) {
            if let Some(name) = named {
                if segs.last() != Some(&Segment::Key(name.to_string())) {
                    segs.push(Segment::Key(name.to_string()));
                }
            }
        }
        let key = render_segments(&segs);
        let (file, line) = locate(files, &segs);
        let hint = match kind {
            SpecErrorKind::MissingKey => " (set it in this file or in the file it extends)",
            SpecErrorKind::UnknownKey => " (check the spelling; `replicate show` prints a complete spec)",
            _ => "",
        };
        SpecError::new(kind, &file, format!("{message}{hint}")).at(line, Some(key))
    })
}

/// The child-most file that sets the key exactly, else the deepest enclosing line of the first file.
fn locate(files: &[&SourceFile], segs: &[Segment]) -> (PathBuf, Option<usize>) {
    let profile_segs = |f: &SourceFile| -> Vec<Segment> {
        if f.value.get("overrides").is_some() && f.value.get("shapes").is_some() {
            let mut s = vec![Segment::Key("overrides".into())];
            s.extend(segs.iter().cloned());
            s
        } else {
            segs.to_vec()
        }
    };
    for f in files {
        let probe = profile_segs(f);
        if let Some(Found::Exact(line)) = f.line(&probe) {
            return (f.path.clone(), Some(line));
        }
    }
    let leaf = files.iter().find(|f| f.value.get("shapes").is_none()).unwrap_or(&files[0]);
    (leaf.path.clone(), leaf.line(segs).map(found_line))
}

fn found_line(found: Found) -> usize {
    match found {
        Found::Exact(l) | Found::Nearest(l) => l,
    }
}

fn backticked(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

fn render_segments(segs: &[Segment]) -> String {
    let mut out = String::new();
    for s in segs {
        match s {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn key_segments(key: &str) -> Vec<Segment> {
    let mut segs = Vec::new();
    for part in key.split('.') {
        let (name, indices) = part.split_once('[').map_or((part, ""), |(n, rest)| (n, rest));
        if !name.is_empty() {
            segs.push(Segment::Key(name.to_string()));
        }
        for index in indices.split('[').filter_map(|i| i.trim_end_matches(']').parse().ok()) {
            segs.push(Segment::Index(index));
        }
    }
    segs
}

/// Turns profile names (`final`, `ladder-3`, `standard`) into numbers.
fn resolve(spec: &mut Spec, profile: &Profile) {
    if let ShapeRef::Named(name) = spec.model.shape {
        let ablation_rung = profile.budget.as_ref().and_then(|b| b.ablation_rung);
        let ablation = !matches!(spec.group, Group::Scaling | Group::Final);
        let dims = match (name.ladder_rung(), ablation_rung) {
            (Some(rung), _) => profile.shapes.ladder[rung],
            (None, Some(rung)) if ablation => profile.shapes.ladder[rung.clamp(1, 5) - 1],
            (None, _) => profile.shapes.final_shape,
        };
        spec.model.shape = ShapeRef::Dims(dims);
    }
    let named = |name: VocabName| match name {
        VocabName::Standard => profile.vocab.standard,
        VocabName::Large => profile.vocab.large,
    };
    if let VocabRef::Named(name) = spec.tokenizer.vocab {
        spec.tokenizer.vocab = VocabRef::Size(named(name));
    }
    let tokenizer_vocab = spec.tokenizer.vocab.size().expect("resolved above");
    if let ModelVocab::Named(name) = spec.model.vocab {
        spec.model.vocab = ModelVocab::Size(match name {
            ModelVocabName::Tokenizer => tokenizer_vocab,
            ModelVocabName::Standard => named(VocabName::Standard),
            ModelVocabName::Large => named(VocabName::Large),
        });
    }
    if let (Some(budget), ShapeRef::Dims(dims)) = (&profile.budget, spec.model.shape) {
        let n = dims.non_embedding_parameters();
        let t = &spec.train;
        let per_step = [t.context, t.batch_sequences, t.accumulation, t.devices]
            .into_iter()
            .map(u64::from)
            .product::<u64>();
        if let Some(tokens) = budget.tokens(spec.group, n, per_step) {
            spec.train.tokens = tokens;
        }
        if spec.group == Group::Scaling {
            spec.train.optimizer.lr = budget.ladder_lr.lr(n, spec.train.optimizer.lr);
        }
    }
}

/// Meaning checks on a resolved spec: (key, message) for each problem.
fn validate(spec: &Spec, path: &Path) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut check = |ok: bool, key: &str, message: String| {
        if !ok {
            problems.push((key.to_string(), message));
        }
    };
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    check(spec.id == stem, "id", format!("is `{}` but the file is {stem}.yaml", spec.id));
    let letter = spec.id.chars().next().and_then(Group::from_letter);
    check(
        letter == Some(spec.group),
        "group",
        format!("`{}` runs have ids starting with {}", spec.group.name(), spec.group.letter()),
    );
    if let ShapeRef::Dims(d) = spec.model.shape {
        let problem = d.problem();
        check(problem.is_none(), "model.shape", problem.unwrap_or_default());
        let vocab = spec.tokenizer.vocab.size().unwrap_or(0);
        check(
            d.checked_parameters(vocab, false).is_some(),
            "model.shape",
            format!(
                "{} layers x hidden {} x ffn {} overflow a 64-bit parameter count; use sizes a model can have",
                d.layers, d.hidden, d.ffn
            ),
        );
    }
    let vocab = spec.tokenizer.vocab.size().unwrap_or(0);
    check(vocab >= 300, "tokenizer.vocab", format!("{vocab} is too small for byte-level BPE (at least 300)"));
    let t = &spec.train;
    let fraction = t.data.fraction;
    check(fraction > 0.0 && fraction <= 1.0, "train.data.fraction", format!("{fraction} is not in (0, 1]"));
    check(t.optimizer.lr > 0.0, "train.optimizer.lr", "must be positive".into());
    for (key, beta) in
        [("train.optimizer.beta1", t.optimizer.beta1), ("train.optimizer.beta2", t.optimizer.beta2)]
    {
        check((0.0..1.0).contains(&beta), key, format!("{beta} is not in [0, 1)"));
    }
    check(t.context >= 8, "train.context", "must be at least 8 tokens".into());
    check(
        t.batch_sequences > 0 && t.accumulation > 0 && t.devices > 0,
        "train.batch_sequences",
        "batch, accumulation and devices must be positive".into(),
    );
    check(
        t.eval_every > 0 && t.eval_batches > 0,
        "train.eval_every",
        "eval_every and eval_batches must be positive".into(),
    );
    check(t.stability.spike_sigmas > 0.0, "train.stability.spike_sigmas", "must be positive".into());
    check(t.min_lr_ratio >= 0.0 && t.min_lr_ratio <= 1.0, "train.min_lr_ratio", "must be in [0, 1]".into());
    // The released cleaner's sixth pass collapses every whitespace run, so
    // paragraphs are gone before `normalization.whitespace` could keep them.
    check(
        spec.data.cleaning.cleaner != Cleaner::Released
            || spec.data.normalization.whitespace == WhitespaceMode::CollapseAll,
        "data.cleaning.cleaner",
        "`released` collapses every whitespace run itself (its sixth pass), so \
         `normalization.whitespace: paragraphs` would lose its paragraphs; use `cleaner: tex` to keep \
         them, or `whitespace: collapse-all` for the released behaviour"
            .into(),
    );
    check(spec.data.split.validation_every >= 2, "data.split.validation_every", "must be at least 2".into());
    if let Some(near) = &spec.data.dedup.near {
        check(
            near.threshold > 0.0 && near.threshold <= 1.0,
            "data.dedup.near.threshold",
            "must be in (0, 1]".into(),
        );
        let divides = near.bands > 0 && near.permutations % near.bands == 0;
        check(
            divides,
            "data.dedup.near.bands",
            format!("{} bands do not divide {} permutations", near.bands, near.permutations),
        );
    }
    problems
}

fn check_claim_ids(runs_dir: &Path, specs: &[ValidatedSpec]) -> Vec<SpecError> {
    let mut seen = BTreeSet::new();
    let mut errors = Vec::new();
    for spec in specs {
        for claim in &spec.claims {
            if !seen.insert(claim.id.clone()) {
                let path = runs_dir.join(format!("{}.yaml", spec.id));
                errors.push(SpecError::new(
                    SpecErrorKind::Invalid,
                    &path,
                    format!("claim id `{}` is used twice in the set", claim.id),
                ));
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_is_deep_and_lists_replace() {
        let mut base: Value = serde_norway::from_str("a: {b: 1, c: 2}\nl: [1, 2]").unwrap();
        let over: Value = serde_norway::from_str("a: {c: 3}\nl: [9]").unwrap();
        merge(&mut base, over);
        let want: Value = serde_norway::from_str("a: {b: 1, c: 3}\nl: [9]").unwrap();
        assert_eq!(base, want);
    }

    #[test]
    fn key_segments_round_trip() {
        let segs = key_segments("claims[2].check");
        assert_eq!(render_segments(&segs), "claims[2].check");
    }
}
