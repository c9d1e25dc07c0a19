//! End-to-end checks of `tokenize`: Python `tokenizers` reads what we save,
//! and on real arXiv LaTeX the `latex-aware` recipe keeps commands more stable
//! than the generic byte-level BPE.

use std::path::Path;
use std::process::Command;

use arxiv_to_model::spec::tokenizer::{Recipe, ShardDtype, TokenizerConfig, VocabRef};
use arxiv_to_model::tokenize::{self, ShardReader};
use tokenizers::Tokenizer;

#[path = "support/arxiv_sample.rs"]
mod arxiv_sample;
use arxiv_sample::{arxiv_sample, sample_papers};

const RECIPES: [Recipe; 4] =
    [Recipe::Gpt2Bytelevel, Recipe::Gpt2BytelevelDigits, Recipe::LatexAware, Recipe::Released];

const SAMPLES: [&str; 4] = [
    r"Let $\alpha_{i}^{2}$ be given, so \frac{a}{b} = x^{10}.",
    "\\begin{align}\n  E &= mc^2 \\\\\n  \\nabla \\cdot B &= 0\n\\end{align}",
    "Über die Größe 3.14159 — “quoted” text, αβγ and 😀.",
    "   leading spaces\tand\ttabs\n\nnew paragraph $$\\sum_{n=1}^{\\infty} n^{-2}$$",
];

fn config(recipe: Recipe, vocab: u32) -> TokenizerConfig {
    TokenizerConfig {
        recipe,
        vocab: VocabRef::Size(vocab),
        min_frequency: 2,
        train_sample_bytes: 8 << 20,
        shard_dtype: ShardDtype::Auto,
    }
}

fn write_docs(path: &Path, docs: &[(String, String)], validation_every: usize) {
    let mut out = String::new();
    for (i, (id, text)) in docs.iter().enumerate() {
        let split = if (i + 1) % validation_every == 0 { "validation" } else { "train" };
        out.push_str(&serde_json::json!({ "id": id, "text": text, "split": split }).to_string());
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

fn python_has_tokenizers() -> bool {
    Command::new("python3")
        .args(["-c", "import tokenizers"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn python_tokenizers_loads_each_recipe_and_encodes_the_same_ids() {
    if !python_has_tokenizers() {
        println!("SKIPPED: python3 cannot `import tokenizers` (pip install tokenizers)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let docs_path = dir.path().join("documents.jsonl");
    let docs: Vec<(String, String)> =
        (0..60).map(|i| (format!("d{i}"), format!("{} {i}", SAMPLES[i % SAMPLES.len()]))).collect();
    write_docs(&docs_path, &docs, 10);
    for recipe in RECIPES {
        let out = dir.path().join(format!("{recipe:?}"));
        // What this small sample can fill: the released recipe starts from its
        // characters, the byte-level ones from 256 bytes.
        let vocab = if recipe == Recipe::Released { 150 } else { 300 };
        tokenize::train_tokenizer(&config(recipe, vocab), vocab, &docs_path, &out).unwrap();
        let path = out.join("tokenizer.json");
        let tok = Tokenizer::from_file(&path).unwrap();
        let rust: Vec<Vec<u32>> =
            SAMPLES.iter().map(|s| tok.encode(*s, false).unwrap().get_ids().to_vec()).collect();
        let script = "import json, sys\nfrom tokenizers import Tokenizer\n\
                      t = Tokenizer.from_file(sys.argv[1])\n\
                      texts = json.loads(sys.stdin.read())\n\
                      print(json.dumps([t.encode(x, add_special_tokens=False).ids for x in texts]))";
        let mut child = Command::new("python3")
            .args(["-c", script])
            .arg(&path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(serde_json::to_string(&SAMPLES).unwrap().as_bytes()).unwrap();
        }
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{recipe:?}: python failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let python: Vec<Vec<u32>> = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(python, rust, "{recipe:?}: Python and Rust ids differ");
    }
}

#[test]
fn latex_aware_is_more_stable_than_bytelevel_on_real_arxiv_latex() {
    let tars = arxiv_sample();
    let papers = sample_papers(&tars);
    assert!(papers.len() >= 8, "only {} papers read from {tars:?}", papers.len());
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("documents.jsonl");
    write_docs(&docs, &papers, 5);
    // The ci profile's standard vocabulary.
    let vocab = 2048;
    let mut measured = Vec::new();
    for recipe in RECIPES {
        let out = dir.path().join(format!("{recipe:?}"));
        let record = tokenize::train_tokenizer(&config(recipe, vocab), vocab, &docs, &out).unwrap();
        let tok_path = out.join("tokenizer.json");
        let stats = tokenize::stats(&tok_path, &docs).unwrap();
        assert_eq!(stats.tokenizer_sha256, record.tokenizer_sha256);
        assert_eq!(stats.documents, papers.len() as u64);
        let summary =
            tokenize::write_shards(&tok_path, &docs, ShardDtype::Auto, 65_536, &out.join("shards")).unwrap();
        let train = ShardReader::open(&out.join("shards/train.bin"), Some(&record.tokenizer_sha256)).unwrap();
        assert_eq!(train.len() as u64, summary.shards[0].tokens);
        // Shards hold each document's tokens plus one end-of-document token.
        assert_eq!(summary.tokens(), stats.whole.tokens + papers.len() as u64);
        println!(
            "{recipe:?} vocab {} ({:.2} s, peak {:?} B): {}",
            record.vocab_size,
            record.training_seconds,
            record.peak_memory_bytes,
            serde_json::to_string(&stats.metrics).unwrap()
        );
        println!(
            "  math: integrity {:?} tokens/command {:?} consistency {:?} tokens/symbol {:?} tokens/digit-run {:?}",
            stats.math.command_integrity,
            stats.math.tokens_per_command,
            stats.math.context_consistency,
            stats.math.tokens_per_symbol,
            stats.math.tokens_per_digit_run
        );
        measured.push((recipe, stats));
    }
    let get =
        |r: Recipe, name: &str| measured.iter().find(|(x, _)| *x == r).map(|(_, s)| s.metrics[name]).unwrap();
    for name in ["command_integrity", "context_consistency"] {
        let latex = get(Recipe::LatexAware, name);
        let bytelevel = get(Recipe::Gpt2Bytelevel, name);
        assert!(latex > bytelevel, "{name}: latex-aware {latex} <= gpt2-bytelevel {bytelevel}");
    }
    // Byte-level recipes reproduce the text exactly and never need an unknown token.
    for recipe in [Recipe::Gpt2Bytelevel, Recipe::Gpt2BytelevelDigits, Recipe::LatexAware] {
        assert_eq!(get(recipe, "roundtrip_exact"), 1.0, "{recipe:?}");
        assert_eq!(get(recipe, "unk_rate"), 0.0, "{recipe:?}");
    }
}
