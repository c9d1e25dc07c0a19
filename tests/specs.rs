//! The spec set: every run resolves under every profile, the paper's facts are
//! encoded, and every kind of mistake in a spec is reported with file, line and key.

use std::path::{Path, PathBuf};

use arxiv_to_model::replicate::plan::{plan, Input, StageName};
use arxiv_to_model::spec::model::ShapeRef;
use arxiv_to_model::spec::profile::PROFILES;
use arxiv_to_model::spec::tokenizer::VocabRef;
use arxiv_to_model::spec::{load_one, load_set, Group, SpecError, SpecErrorKind, RUN_IDS};
use arxiv_to_model::train::BackendChoice;
use rstest::rstest;

fn runs() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("runs").leak()
}

#[rstest]
fn all_24_resolve(#[values("paper", "gpu", "ci", "smoke")] profile: &str) {
    let set = load_set(runs(), profile).unwrap_or_else(|e| panic!("{e:?}"));
    let ids: Vec<&str> = set.specs.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, RUN_IDS);
    for group in Group::ALL {
        assert!(set.specs.iter().any(|s| s.group == group), "{group:?} has no run");
    }
    for spec in &set.specs {
        assert!(matches!(spec.model.shape, ShapeRef::Dims(_)), "{}: shape left symbolic", spec.id);
        assert!(matches!(spec.tokenizer.vocab, VocabRef::Size(_)), "{}: vocab left symbolic", spec.id);
    }
}

#[test]
fn profiles_listed_in_code_are_the_files() {
    let mut files: Vec<String> = std::fs::read_dir(runs().join("profiles"))
        .unwrap()
        .map(|e| e.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut listed: Vec<String> = PROFILES.iter().map(|p| p.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed);
}

#[test]
fn f01_at_paper_scale_is_the_model_card() {
    let (f01, _) = load_one(runs(), "F01", "paper").unwrap();
    let ShapeRef::Dims(dims) = f01.model.shape else { panic!("unresolved shape") };
    assert_eq!((dims.layers, dims.hidden, dims.heads, dims.ffn), (24, 2048, 16, 5504));
    assert_eq!(
        dims.parameters(f01.tokenizer.vocab.size().unwrap(), f01.model.tied_embeddings),
        1_345_423_360
    );
    let t = &f01.train;
    assert_eq!(t.context, 768);
    assert_eq!(t.optimizer.lr, 2e-4);
    assert_eq!(t.warmup_steps, 500);
    assert_eq!(t.optimizer.weight_decay, 0.1);
    assert_eq!(t.clip_norm, 1.0);
    // 32 sequences x 32 accumulation x 2 GPUs x 768 tokens, about 1.57M tokens per step.
    assert_eq!(t.batch_sequences * t.accumulation * t.devices * t.context, 1_572_864);
    // The paper's 52.18B tokens, in whole steps (the profile's budget rounds up: 33,176 steps).
    assert_eq!(t.tokens, 52_180_000_000u64.div_ceil(1_572_864) * 1_572_864);
}

#[rstest]
fn y06_is_the_described_pipeline_of_base(#[values("paper", "ci")] profile: &str) {
    let set = load_set(runs(), profile).unwrap();
    assert_eq!(set.get("Y06").unwrap().data, set.get("F01").unwrap().data);
    assert_ne!(set.get("Y01").unwrap().data, set.get("Y06").unwrap().data);
}

/// Leaf keys (`a.b.c`) whose values differ between two serialized settings.
fn differing_keys(a: &serde_json::Value, b: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match (a, b) {
        (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let null = serde_json::Value::Null;
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                differing_keys(x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null), &path, out);
            }
        }
        _ if a != b => out.push(prefix.to_string()),
        _ => {}
    }
}

#[rstest]
#[case("Y01", "Y02", &["validation.mode"])]
#[case("Y02", "Y03", &["extraction.mode"])]
#[case("Y03", "Y04", &["cleaning.cleaner", "normalization.whitespace"])]
#[case("Y04", "Y05", &["filters.language.mode"])]
fn each_y_step_changes_exactly_the_decision_paper_md_gives_it(
    #[case] before: &str,
    #[case] after: &str,
    #[case] want: &[&str],
) {
    let set = load_set(runs(), "ci").unwrap();
    let data = |id: &str| serde_json::to_value(&set.get(id).unwrap().data).unwrap();
    let mut changed = Vec::new();
    differing_keys(&data(before), &data(after), "", &mut changed);
    assert_eq!(changed, want, "{before} -> {after}");
}

#[rstest]
fn f01_pads_and_truncates_documents_without_packing(#[values("paper", "ci", "smoke")] profile: &str) {
    use arxiv_to_model::spec::train::LoaderKind;
    let set = load_set(runs(), profile).unwrap();
    let f01 = set.get("F01").unwrap();
    assert_eq!(f01.loader.kind, LoaderKind::JsonlOnTheFly, "the paper's run pads/truncates, no packing");
    let base = set.get("D03").unwrap();
    assert_eq!(
        (&f01.train.optimizer, f01.train.warmup_steps),
        (&base.train.optimizer, base.train.warmup_steps)
    );
}

#[rstest]
fn d_runs_are_sized_in_epochs_and_d02_is_a_two_stage_curriculum(
    #[values("paper", "ci", "smoke")] profile: &str,
) {
    use arxiv_to_model::spec::train::DataOrder;
    let set = load_set(runs(), profile).unwrap();
    let data = |id: &str| set.get(id).unwrap().train.data.clone();
    assert_eq!(
        (data("D01").epochs, data("D03").epochs, data("D02").epochs),
        (Some(10.0), Some(1.0), Some(1.0))
    );
    assert_eq!(data("D02").order, DataOrder::Curriculum);
    assert_eq!(data("D03").order, DataOrder::Shuffled);
}

#[test]
fn t06_wraps_only_its_train_shard() {
    use arxiv_to_model::spec::tokenizer::ShardDtype;
    let set = load_set(runs(), "ci").unwrap();
    assert_eq!(set.get("T06").unwrap().tokenizer.shard_dtype, ShardDtype::LegacyU16);
    assert_eq!(set.get("T05").unwrap().tokenizer.shard_dtype, ShardDtype::Auto);
}

#[rstest]
fn profiles_keep_the_ratios_runs_are_about(#[values("paper", "gpu", "ci", "smoke")] profile: &str) {
    let set = load_set(runs(), profile).unwrap();
    let p = &set.profile;
    // T05/T06: the model card's 102,400 against the released 32,000.
    let ratio = p.vocab.large as f64 / p.vocab.standard as f64;
    assert!((ratio - 3.2).abs() < 0.01 * 3.2, "large/standard = {ratio}");
    // T06: the share of ids that the uint16 format wraps.
    let wrapped = 1.0 - p.vocab.u16_limit as f64 / p.vocab.large as f64;
    assert!((wrapped - 0.36).abs() < 0.01, "wrapped share = {wrapped}");
    // S01-S05: a geometric ladder ending at the final shape.
    let sizes: Vec<f64> = p.shapes.ladder.iter().map(|d| d.non_embedding_parameters() as f64).collect();
    let steps: Vec<f64> = sizes.windows(2).map(|w| w[1] / w[0]).collect();
    let mean = (sizes[4] / sizes[0]).powf(0.25);
    for step in &steps {
        assert!((step / mean - 1.0).abs() < 0.35, "ladder steps {steps:?} stray from geometric mean {mean}");
    }
    assert_eq!(p.shapes.ladder[4], p.shapes.final_shape);
    // D01: ten passes over its share where D03 makes one.
    assert_eq!(set.get("D01").unwrap().train.data.epochs, Some(10.0));
}

#[test]
fn stage_keys_are_shared_where_runs_agree_upstream() {
    let set = load_set(runs(), "ci").unwrap();
    let input = Input::synthetic(&set.profile);
    let keys = |id: &str| -> Vec<_> {
        plan(set.get(id).unwrap(), &set.profile, &input, BackendChoice::Cpu)
            .into_iter()
            .map(|s| (s.stage, s.key))
            .collect()
    };
    let key = |id: &str, stage: StageName| keys(id).into_iter().find(|(s, _)| *s == stage).unwrap().1;
    for t in ["T01", "T02", "T04", "T05", "T06", "S01", "D01", "I01"] {
        assert_eq!(
            key(t, StageName::Prepare),
            key("T03", StageName::Prepare),
            "{t} shares the prepared corpus"
        );
    }
    for s in ["S01", "S02", "S03", "S04"] {
        assert_eq!(key(s, StageName::Tokenize), key("S05", StageName::Tokenize), "{s} shares shards");
        assert_ne!(key(s, StageName::Train), key("S05", StageName::Train));
    }
    assert_eq!(key("T06", StageName::Tokenizer), key("T05", StageName::Tokenizer));
    assert_ne!(key("T06", StageName::Tokenize), key("T05", StageName::Tokenize));
    assert_ne!(key("Y01", StageName::Prepare), key("Y02", StageName::Prepare));
}

#[test]
fn a_changed_setting_changes_its_key_and_downstream_only() {
    let set = load_set(runs(), "ci").unwrap();
    let input = Input::synthetic(&set.profile);
    let base = set.get("F01").unwrap().clone().into_spec();
    let before = plan(&base, &set.profile, &input, BackendChoice::Cpu);

    let mut seeded = base.clone();
    seeded.train.seed += 1;
    let after = plan(&seeded, &set.profile, &input, BackendChoice::Cpu);
    let changed: Vec<StageName> =
        before.iter().zip(&after).filter(|(a, b)| a.key != b.key).map(|(a, _)| a.stage).collect();
    assert_eq!(changed, vec![StageName::Train]);

    let mut shorter = base.clone();
    shorter.data.filters.min_words += 1;
    let after = plan(&shorter, &set.profile, &input, BackendChoice::Cpu);
    assert!(before.iter().zip(&after).all(|(a, b)| a.key != b.key), "a data change reaches every stage");

    let mut other_corpus = set.profile.clone();
    other_corpus.corpus.seed += 1;
    let after = plan(&base, &set.profile, &Input::synthetic(&other_corpus), BackendChoice::Cpu);
    assert_ne!(before[0].key, after[0].key, "the corpus is an input of prepare");

    // Training on another device is another output (verified with cross-device
    // tolerances), so it never reuses the CPU's; the data stages are shared.
    let on_gpu = plan(&base, &set.profile, &input, BackendChoice::Wgpu);
    let changed: Vec<StageName> =
        before.iter().zip(&on_gpu).filter(|(a, b)| a.key != b.key).map(|(a, _)| a.stage).collect();
    assert_eq!(changed, vec![StageName::Train]);
}

/// A copy of runs/ to break.
fn scratch_runs() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("runs");
    std::fs::create_dir_all(root.join("profiles")).unwrap();
    for sub in ["", "profiles"] {
        for entry in std::fs::read_dir(runs().join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, root.join(sub).join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    (dir, root)
}

fn edit(root: &Path, file: &str, f: impl FnOnce(String) -> String) {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, f(text)).unwrap();
}

fn only_error(root: &Path, profile: &str) -> SpecError {
    let errors = load_set(root, profile).expect_err("the broken set must not load");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors.into_iter().next().unwrap()
}

fn line_of(root: &Path, file: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(root.join(file)).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[rstest]
#[case::unknown_key(
    "T04.yaml",
    "tokenizer:\n  recipe: released",
    "tokenizer:\n  recipe: released\n  vocab_size: 10",
    SpecErrorKind::UnknownKey,
    "tokenizer.vocab_size",
    "vocab_size"
)]
#[case::wrong_type(
    "T04.yaml",
    "recipe: released",
    "recipe: [gpt2]",
    SpecErrorKind::WrongType,
    "tokenizer.recipe",
    "recipe: [gpt2]"
)]
#[case::unknown_variant(
    "T04.yaml",
    "recipe: released",
    "recipe: gpt3",
    SpecErrorKind::WrongType,
    "tokenizer.recipe",
    "recipe: gpt3"
)]
#[case::invalid_value(
    "D01.yaml",
    "epochs: 10 }",
    "epochs: 10, fraction: 1.5 }",
    SpecErrorKind::Invalid,
    "train.data.fraction",
    "fraction: 1.5"
)]
#[case::overridden_setting(
    "Y06.yaml",
    "  cleaning:\n    macros: expand",
    "  cleaning:\n    cleaner: released\n    macros: expand",
    SpecErrorKind::Invalid,
    "data.cleaning.cleaner",
    "cleaner: released"
)]
#[case::bad_claim(
    "D01.yaml",
    "D01.loss_spikes >",
    "D01.loss_spikez >",
    SpecErrorKind::Invalid,
    "claims[0].check",
    "loss_spikez"
)]
#[case::dangling_extends(
    "F01.yaml",
    "extends: base.yaml",
    "extends: bsae.yaml",
    SpecErrorKind::DanglingExtends,
    "extends",
    "extends: bsae.yaml"
)]
#[case::profile_conflict(
    "I02.yaml",
    "kind: packed-mmap",
    "kind: packed-mmap\ntrain:\n  context: 64",
    SpecErrorKind::ProfileConflict,
    "train.context",
    "context: 64"
)]
fn mistakes_are_reported_with_file_line_and_key(
    #[case] file: &str,
    #[case] from: &str,
    #[case] to: &str,
    #[case] kind: SpecErrorKind,
    #[case] key: &str,
    #[case] line_text: &str,
) {
    let (_keep, root) = scratch_runs();
    edit(&root, file, |t| {
        assert!(t.contains(from), "{file} no longer contains {from:?}");
        t.replacen(from, to, 1)
    });
    let error = only_error(&root, "ci");
    assert_eq!(error.kind, kind, "{error}");
    assert_eq!(error.file, root.join(file), "{error}");
    assert_eq!(error.key.as_deref(), Some(key), "{error}");
    assert_eq!(error.line, Some(line_of(&root, file, line_text)), "{error}");
    let shown = error.to_string();
    assert!(
        shown.starts_with(&format!("{}:{}: key `{key}`", root.join(file).display(), error.line.unwrap())),
        "{shown}"
    );
}

#[test]
fn missing_key_names_the_key_and_the_spec() {
    let (_keep, root) = scratch_runs();
    edit(&root, "base.yaml", |t| t.replace("  min_lr_ratio: 0.0\n", ""));
    let errors = load_set(&root, "ci").unwrap_err();
    assert_eq!(errors.len(), 24, "every spec inherits the gap");
    let f01 = errors.iter().find(|e| e.file == root.join("F01.yaml")).unwrap();
    assert_eq!(f01.kind, SpecErrorKind::MissingKey);
    assert_eq!(f01.key.as_deref(), Some("train.min_lr_ratio"));
    assert!(f01.to_string().contains("missing field `min_lr_ratio`"), "{f01}");
}

#[test]
fn extends_cycle_is_reported() {
    let (_keep, root) = scratch_runs();
    edit(&root, "T01.yaml", |t| t.replace("extends: base.yaml", "extends: T02.yaml"));
    let errors = load_set(&root, "ci").unwrap_err();
    assert!(errors.iter().all(|e| e.kind == SpecErrorKind::ExtendsCycle), "{errors:#?}");
    assert!(errors[0].message.contains("T01.yaml") && errors[0].message.contains("T02.yaml"));
}

#[test]
fn yaml_syntax_error_has_a_line() {
    let (_keep, root) = scratch_runs();
    edit(&root, "S03.yaml", |t| t.replace("model:\n  shape: ladder-3", "model:\n  shape: [ladder-3"));
    let error = only_error(&root, "ci");
    assert_eq!(error.kind, SpecErrorKind::Syntax);
    assert!(error.line.is_some(), "{error}");
}

#[test]
fn a_missing_run_file_is_named() {
    let (_keep, root) = scratch_runs();
    std::fs::remove_file(root.join("S03.yaml")).unwrap();
    let error = only_error(&root, "ci");
    assert_eq!(error.kind, SpecErrorKind::MissingRun);
    assert!(error.message.contains("S03"));
}

#[test]
fn profile_conflict_only_applies_to_profiles_that_scale_the_key() {
    let (_keep, root) = scratch_runs();
    edit(&root, "I02.yaml", |t| t.replace("kind: packed-mmap", "kind: packed-mmap\ntrain:\n  context: 64"));
    assert!(load_set(&root, "paper").is_ok(), "paper scales nothing");
    assert_eq!(only_error(&root, "smoke").kind, SpecErrorKind::ProfileConflict);
}

#[test]
fn unknown_profile_lists_the_known_ones() {
    let errors = load_set(runs(), "laptop").unwrap_err();
    assert!(errors[0].message.contains("ci, gpu, paper, smoke"), "{}", errors[0]);
}
