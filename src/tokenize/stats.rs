//! Symbol-stability metrics (`replicate tokenizer stats`): how a tokenizer
//! treats LaTeX commands, math symbols and numbers. Every metric is computed
//! three ways: on the whole text, on the math spans and on the prose (the rest);
//! `paper/metrics.md` defines the same numbers for readers of the report.
//!
//! Each occurrence (command, symbol, digit run, token, word) belongs to math
//! when its first byte lies inside a math span, delimiters included (see
//! [`math_spans`](crate::tex::math::math_spans), the one definition of where math is).
//!
//! - **Round-trip exactness** (`roundtrip_exact`): share of units with
//!   `decode(encode(x)) == x` byte for byte; units are documents (whole text)
//!   and math spans encoded alone (math); not defined for prose.
//! - **Command integrity** (`command_integrity`): share of command occurrences
//!   whose bytes are covered only by tokens lying entirely inside the command.
//!   A command is `\` + letters, `\` + one other character, or an environment
//!   delimiter with its name (`\begin{align}`, whose name is what it means).
//! - **Fragmentation**: mean tokens touching a command (`tokens_per_command`),
//!   a symbol (`tokens_per_symbol`: a character outside commands that is
//!   neither alphanumeric nor whitespace) and a digit run (`[0-9]+` outside
//!   commands); `top_commands` lists the 50 most frequent commands.
//! - **Context consistency** (`context_consistency`): for every command and
//!   symbol type, the occurrences tokenized as the type's most frequent token
//!   sequence (the ids of the tokens touching it), summed over types and
//!   divided by all occurrences (frequency-weighted).
//! - **Compression and fertility**: `bytes_per_token` = UTF-8 bytes / tokens;
//!   `fertility` = tokens / whitespace-separated words.
//! - **Unknown rate** (`unk_rate`): tokens that are the model's unknown token
//!   or a byte-fallback token `<0xNN>`, over all tokens (0 for byte-level BPE,
//!   whose alphabet is every byte).

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::Path;

use anyhow::{anyhow, Result};
use serde::{Deserialize, Serialize};
use tokenizers::models::ModelWrapper;
use tokenizers::Tokenizer;

use super::shards::load_tokenizer;
use crate::io::write_json_atomic;
use crate::prepare::output::{for_each_document, Document};
use crate::tex::commands::command_spans;
use crate::tex::math::math_spans;

/// How many commands `top_commands` lists.
pub const TOP_COMMANDS: usize = 50;
const BATCH_TEXT_BYTES: usize = 8 << 20;

/// One scope's numbers (whole text, math or prose). A ratio is `None` when its
/// denominator is zero (no command in the prose, say).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopeStats {
    pub roundtrip_units: u64,
    pub roundtrip_exact: Option<f64>,
    pub commands: u64,
    pub command_integrity: Option<f64>,
    pub tokens_per_command: Option<f64>,
    pub symbols: u64,
    pub tokens_per_symbol: Option<f64>,
    pub digit_runs: u64,
    pub tokens_per_digit_run: Option<f64>,
    pub command_consistency: Option<f64>,
    pub symbol_consistency: Option<f64>,
    pub context_consistency: Option<f64>,
    pub bytes: u64,
    pub tokens: u64,
    pub words: u64,
    pub bytes_per_token: Option<f64>,
    pub fertility: Option<f64>,
    pub unknown_tokens: u64,
    pub unk_rate: Option<f64>,
}

/// A frequent command and how the tokenizer cuts it (whole text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandStats {
    pub command: String,
    pub occurrences: u64,
    pub tokens_per_occurrence: f64,
    pub integrity: f64,
    pub consistency: f64,
}

/// What `stats.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymbolStats {
    pub tokenizer_sha256: String,
    pub vocab_size: u32,
    pub documents: u64,
    /// The registry's metrics (`src/metrics.rs`) under their registered names.
    pub metrics: BTreeMap<String, f64>,
    pub whole: ScopeStats,
    pub math: ScopeStats,
    pub prose: ScopeStats,
    pub top_commands: Vec<CommandStats>,
}

impl SymbolStats {
    pub fn save(&self, path: &Path) -> Result<()> {
        write_json_atomic(path, self)
    }
}

/// Measures the tokenizer file `tokenizer` on every document of `docs`.
pub fn stats(tokenizer: &Path, docs: &Path) -> Result<SymbolStats> {
    let (tok, hash) = load_tokenizer(tokenizer)?;
    let mut acc = StatsAcc::new(&tok);
    let mut batch: Vec<Document> = Vec::new();
    let mut batch_bytes = 0usize;
    for_each_document(docs, |doc| {
        batch_bytes += doc.text.len();
        batch.push(doc);
        if batch_bytes >= BATCH_TEXT_BYTES {
            batch_bytes = 0;
            let texts: Vec<&str> = batch.iter().map(|d| d.text.as_str()).collect();
            acc.add_texts(&tok, &texts)?;
            batch.clear();
        }
        Ok(())
    })?;
    let texts: Vec<&str> = batch.iter().map(|d| d.text.as_str()).collect();
    acc.add_texts(&tok, &texts)?;
    let mut out = acc.finish(&tok);
    out.tokenizer_sha256 = hash;
    Ok(out)
}

/// Measures `tokenizer` on `texts` (the tokenizer hash is left empty).
pub fn measure(tokenizer: &Tokenizer, texts: &[&str]) -> Result<SymbolStats> {
    let mut acc = StatsAcc::new(tokenizer);
    acc.add_texts(tokenizer, texts)?;
    Ok(acc.finish(tokenizer))
}

/// A token with its byte span in the source text.
#[derive(Debug, Clone, Copy)]
struct Token {
    id: u32,
    start: usize,
    end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    Whole,
    Math,
    Prose,
}

const SCOPES: [Scope; 3] = [Scope::Whole, Scope::Math, Scope::Prose];

/// Token-id sequences seen per type, with counts.
type Forms = BTreeMap<String, BTreeMap<Vec<u32>, u64>>;

#[derive(Default)]
struct ScopeAcc {
    roundtrip_units: u64,
    roundtrip_exact: u64,
    commands: u64,
    commands_intact: u64,
    command_tokens: u64,
    symbols: u64,
    symbol_tokens: u64,
    digit_runs: u64,
    digit_run_tokens: u64,
    command_forms: Forms,
    symbol_forms: Forms,
    bytes: u64,
    tokens: u64,
    words: u64,
    unknown_tokens: u64,
}

struct StatsAcc {
    scopes: BTreeMap<Scope, ScopeAcc>,
    /// Whole-text command counts for `top_commands`: (occurrences, tokens, intact).
    per_command: BTreeMap<String, (u64, u64, u64)>,
    unknown_ids: HashSet<u32>,
    documents: u64,
}

/// Symbols (one character each) and digit runs outside the commands.
fn symbols_and_digit_runs(text: &str, commands: &[Range<usize>]) -> (Vec<Range<usize>>, Vec<Range<usize>>) {
    let mut symbols = Vec::new();
    let mut digit_runs: Vec<Range<usize>> = Vec::new();
    let mut next_command = commands.iter().peekable();
    for (i, c) in text.char_indices() {
        while next_command.peek().is_some_and(|r| r.end <= i) {
            next_command.next();
        }
        if next_command.peek().is_some_and(|r| r.contains(&i)) {
            continue;
        }
        let end = i + c.len_utf8();
        if c.is_ascii_digit() {
            match digit_runs.last_mut() {
                Some(run) if run.end == i => run.end = end,
                _ => digit_runs.push(i..end),
            }
        } else if !c.is_alphanumeric() && !c.is_whitespace() {
            symbols.push(i..end);
        }
    }
    (symbols, digit_runs)
}

/// The tokens touching `span` (in order) and whether they all lie inside it.
fn tokens_touching(tokens: &[Token], span: &Range<usize>) -> (Vec<u32>, bool) {
    let first = tokens.partition_point(|t| t.end <= span.start);
    let touching: Vec<&Token> =
        tokens[first..].iter().take_while(|t| t.start < span.end).filter(|t| t.end > span.start).collect();
    let inside = !touching.is_empty() && touching.iter().all(|t| t.start >= span.start && t.end <= span.end);
    (touching.iter().map(|t| t.id).collect(), inside)
}

fn in_math(spans: &[Range<usize>], pos: usize) -> bool {
    let i = spans.partition_point(|s| s.end <= pos);
    spans.get(i).is_some_and(|s| s.contains(&pos))
}

/// The scopes an occurrence starting at `pos` counts in.
fn scopes_of(spans: &[Range<usize>], pos: usize) -> [Scope; 2] {
    if in_math(spans, pos) {
        [Scope::Whole, Scope::Math]
    } else {
        [Scope::Whole, Scope::Prose]
    }
}

/// Ids that mean "could not represent this text": the model's unknown token
/// and byte-fallback tokens `<0xNN>`.
fn unknown_ids(tokenizer: &Tokenizer) -> HashSet<u32> {
    let mut ids: HashSet<u32> = tokenizer
        .get_vocab(true)
        .into_iter()
        .filter(|(token, _)| is_byte_fallback(token))
        .map(|(_, id)| id)
        .collect();
    if let ModelWrapper::BPE(bpe) = tokenizer.get_model() {
        if let Some(unk) = bpe.get_unk_token() {
            ids.extend(tokenizer.token_to_id(unk));
        }
    }
    ids
}

fn is_byte_fallback(token: &str) -> bool {
    let b = token.as_bytes();
    b.len() == 6 && b.starts_with(b"<0x") && b[5] == b'>' && b[3..5].iter().all(u8::is_ascii_hexdigit)
}

impl StatsAcc {
    fn new(tokenizer: &Tokenizer) -> Self {
        Self {
            scopes: SCOPES.iter().map(|s| (*s, ScopeAcc::default())).collect(),
            per_command: BTreeMap::new(),
            unknown_ids: unknown_ids(tokenizer),
            documents: 0,
        }
    }

    fn scope(&mut self, scope: Scope) -> &mut ScopeAcc {
        self.scopes.entry(scope).or_default()
    }

    fn add_texts(&mut self, tokenizer: &Tokenizer, texts: &[&str]) -> Result<()> {
        let encodings =
            tokenizer.encode_batch(texts.to_vec(), false).map_err(|e| anyhow!("encoding failed: {e}"))?;
        for (text, encoding) in texts.iter().zip(&encodings) {
            let tokens: Vec<Token> = encoding
                .get_ids()
                .iter()
                .zip(encoding.get_offsets())
                .map(|(&id, &(start, end))| Token { id, start, end })
                .collect();
            let decoded =
                tokenizer.decode(encoding.get_ids(), false).map_err(|e| anyhow!("decoding failed: {e}"))?;
            let spans = math_spans(text);
            self.add_document(text, &tokens, &spans, decoded == *text);
            self.add_math_roundtrips(tokenizer, text, &spans)?;
        }
        Ok(())
    }

    fn add_document(&mut self, text: &str, tokens: &[Token], spans: &[Range<usize>], roundtrip: bool) {
        self.documents += 1;
        let whole = self.scope(Scope::Whole);
        whole.roundtrip_units += 1;
        whole.roundtrip_exact += u64::from(roundtrip);
        self.add_bytes_tokens_words(text, tokens, spans);
        let commands = command_spans(text);
        for span in &commands {
            self.add_command(text, tokens, span, spans);
        }
        let (symbols, digit_runs) = symbols_and_digit_runs(text, &commands);
        for span in &symbols {
            self.add_symbol(text, tokens, span, spans);
        }
        for span in &digit_runs {
            let (ids, _) = tokens_touching(tokens, span);
            for scope in scopes_of(spans, span.start) {
                let acc = self.scope(scope);
                acc.digit_runs += 1;
                acc.digit_run_tokens += ids.len() as u64;
            }
        }
    }

    fn add_bytes_tokens_words(&mut self, text: &str, tokens: &[Token], spans: &[Range<usize>]) {
        let math_bytes: u64 = spans.iter().map(|s| s.len() as u64).sum();
        self.scope(Scope::Whole).bytes += text.len() as u64;
        self.scope(Scope::Math).bytes += math_bytes;
        self.scope(Scope::Prose).bytes += text.len() as u64 - math_bytes;
        for token in tokens {
            let unknown = self.unknown_ids.contains(&token.id);
            for scope in scopes_of(spans, token.start) {
                let acc = self.scope(scope);
                acc.tokens += 1;
                acc.unknown_tokens += u64::from(unknown);
            }
        }
        let base = text.as_ptr() as usize;
        for word in text.split_whitespace() {
            for scope in scopes_of(spans, word.as_ptr() as usize - base) {
                self.scope(scope).words += 1;
            }
        }
    }

    fn add_command(&mut self, text: &str, tokens: &[Token], span: &Range<usize>, spans: &[Range<usize>]) {
        let (ids, inside) = tokens_touching(tokens, span);
        let name = &text[span.clone()];
        for scope in scopes_of(spans, span.start) {
            let acc = self.scope(scope);
            acc.commands += 1;
            acc.commands_intact += u64::from(inside);
            acc.command_tokens += ids.len() as u64;
            *acc.command_forms.entry(name.to_string()).or_default().entry(ids.clone()).or_default() += 1;
        }
        let entry = self.per_command.entry(name.to_string()).or_default();
        entry.0 += 1;
        entry.1 += ids.len() as u64;
        entry.2 += u64::from(inside);
    }

    fn add_symbol(&mut self, text: &str, tokens: &[Token], span: &Range<usize>, spans: &[Range<usize>]) {
        let (ids, _) = tokens_touching(tokens, span);
        let symbol = &text[span.clone()];
        for scope in scopes_of(spans, span.start) {
            let acc = self.scope(scope);
            acc.symbols += 1;
            acc.symbol_tokens += ids.len() as u64;
            *acc.symbol_forms.entry(symbol.to_string()).or_default().entry(ids.clone()).or_default() += 1;
        }
    }

    /// Math round-trip: each math span encoded and decoded alone.
    fn add_math_roundtrips(
        &mut self,
        tokenizer: &Tokenizer,
        text: &str,
        spans: &[Range<usize>],
    ) -> Result<()> {
        for span in spans {
            let source = &text[span.clone()];
            let encoding =
                tokenizer.encode_fast(source, false).map_err(|e| anyhow!("encoding failed: {e}"))?;
            let decoded =
                tokenizer.decode(encoding.get_ids(), false).map_err(|e| anyhow!("decoding failed: {e}"))?;
            let acc = self.scope(Scope::Math);
            acc.roundtrip_units += 1;
            acc.roundtrip_exact += u64::from(decoded == source);
        }
        Ok(())
    }

    fn finish(self, tokenizer: &Tokenizer) -> SymbolStats {
        let scope = |s: Scope| {
            self.scopes.get(&s).map(|a| a.finish(s)).unwrap_or_else(|| ScopeAcc::default().finish(s))
        };
        let (whole, math, prose) = (scope(Scope::Whole), scope(Scope::Math), scope(Scope::Prose));
        let whole_forms = self.scopes.get(&Scope::Whole);
        let mut top: Vec<CommandStats> = self
            .per_command
            .iter()
            .map(|(name, &(n, tokens, intact))| CommandStats {
                command: name.clone(),
                occurrences: n,
                tokens_per_occurrence: tokens as f64 / n as f64,
                integrity: intact as f64 / n as f64,
                consistency: whole_forms
                    .and_then(|a| a.command_forms.get(name))
                    .map(|forms| most_frequent(forms) as f64 / n as f64)
                    .unwrap_or(0.0),
            })
            .collect();
        top.sort_by(|a, b| b.occurrences.cmp(&a.occurrences).then(a.command.cmp(&b.command)));
        top.truncate(TOP_COMMANDS);
        let metrics = registry_metrics(&whole, &math, &prose);
        SymbolStats {
            tokenizer_sha256: String::new(),
            vocab_size: tokenizer.get_vocab_size(true) as u32,
            documents: self.documents,
            metrics,
            whole,
            math,
            prose,
            top_commands: top,
        }
    }
}

/// The metrics under their names in `src/metrics.rs`; an undefined one is left out.
fn registry_metrics(whole: &ScopeStats, math: &ScopeStats, prose: &ScopeStats) -> BTreeMap<String, f64> {
    [
        ("roundtrip_exact", whole.roundtrip_exact),
        ("command_integrity", whole.command_integrity),
        ("context_consistency", whole.context_consistency),
        ("tokens_per_command", whole.tokens_per_command),
        ("bytes_per_token", whole.bytes_per_token),
        ("fertility_prose", prose.fertility),
        ("fertility_math", math.fertility),
        ("unk_rate", whole.unk_rate),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| (name.to_string(), v)))
    .collect()
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

fn most_frequent(forms: &BTreeMap<Vec<u32>, u64>) -> u64 {
    forms.values().copied().max().unwrap_or(0)
}

/// Occurrences in each type's most frequent form, summed over types.
fn consistent_occurrences(forms: &Forms) -> (u64, u64) {
    forms.values().fold((0, 0), |(same, all), f| (same + most_frequent(f), all + f.values().sum::<u64>()))
}

impl ScopeAcc {
    fn finish(&self, scope: Scope) -> ScopeStats {
        let (cmd_same, cmd_all) = consistent_occurrences(&self.command_forms);
        let (sym_same, sym_all) = consistent_occurrences(&self.symbol_forms);
        ScopeStats {
            roundtrip_units: self.roundtrip_units,
            roundtrip_exact: match scope {
                Scope::Prose => None,
                _ => ratio(self.roundtrip_exact, self.roundtrip_units),
            },
            commands: self.commands,
            command_integrity: ratio(self.commands_intact, self.commands),
            tokens_per_command: ratio(self.command_tokens, self.commands),
            symbols: self.symbols,
            tokens_per_symbol: ratio(self.symbol_tokens, self.symbols),
            digit_runs: self.digit_runs,
            tokens_per_digit_run: ratio(self.digit_run_tokens, self.digit_runs),
            command_consistency: ratio(cmd_same, cmd_all),
            symbol_consistency: ratio(sym_same, sym_all),
            context_consistency: ratio(cmd_same + sym_same, cmd_all + sym_all),
            bytes: self.bytes,
            tokens: self.tokens,
            words: self.words,
            bytes_per_token: ratio(self.bytes, self.tokens),
            fertility: ratio(self.tokens, self.words),
            unknown_tokens: self.unknown_tokens,
            unk_rate: ratio(self.unknown_tokens, self.tokens),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::tokenizer::Recipe;
    use crate::tokenize::recipes::recipe_with_merges;
    use approx::assert_relative_eq;
    use rstest::rstest;

    /// Merges a byte-level BPE plausibly learns from arXiv LaTeX: a math
    /// delimiter or brace glued to the backslash after it (`$\`, `{\`, `=\`),
    /// whole command names, `_{`, `}^`, `}{` and the number `10`.
    const MERGES: [(&str, &str); 16] = [
        ("$", "\\"),
        ("{", "\\"),
        ("a", "l"),
        ("p", "h"),
        ("al", "ph"),
        ("alph", "a"),
        ("\\", "alpha"),
        ("f", "r"),
        ("a", "c"),
        ("fr", "ac"),
        ("\\", "frac"),
        ("_", "{"),
        ("}", "^"),
        ("1", "0"),
        ("}", "{"),
        ("=", "\\"),
    ];

    const ALPHA: &str = r"$\alpha_{i}^{2}$";
    const FRAC: &str = r"\frac{a}{b}";
    const POWER: &str = "x^{10}";
    const ALIGN: &str = r"\begin{align}x&=\frac{a}{b}\end{align}";
    const GREEK: &str = "$α$";

    fn measure_one(recipe: Recipe, text: &str) -> SymbolStats {
        let tok = recipe_with_merges(recipe, &MERGES).unwrap();
        measure(&tok, &[text]).unwrap()
    }

    fn assert_opt(actual: Option<f64>, expected: Option<f64>, what: &str) {
        match (actual, expected) {
            (Some(a), Some(e)) => assert_relative_eq!(a, e, epsilon = 1e-12),
            _ => assert_eq!(actual, expected, "{what}"),
        }
    }

    // Expected values worked out by hand from the merges above; see each recipe's
    // pre-tokenizer in recipes.rs. GPT-2's split keeps punctuation runs together
    // (`$\`, `}^{`, `&=\`), so merges glue delimiters to commands; the LaTeX split
    // and the released added tokens never do.
    #[rstest]
    #[case::alpha_gpt2(Recipe::Gpt2Bytelevel, ALPHA, 9, Some(0.0), Some(2.0), Some(6.0 / 9.0), Some(1.0))]
    #[case::alpha_digits(Recipe::Gpt2BytelevelDigits, ALPHA, 9, Some(0.0), Some(2.0), Some(6.0 / 9.0), Some(1.0))]
    #[case::alpha_latex(Recipe::LatexAware, ALPHA, 11, Some(1.0), Some(1.0), Some(1.0), Some(1.0))]
    #[case::alpha_released(Recipe::Released, ALPHA, 11, Some(1.0), Some(1.0), Some(1.0), Some(1.0))]
    #[case::frac_gpt2(Recipe::Gpt2Bytelevel, FRAC, 7, Some(1.0), Some(2.0), Some(0.6), None)]
    #[case::frac_digits(Recipe::Gpt2BytelevelDigits, FRAC, 7, Some(1.0), Some(2.0), Some(0.6), None)]
    #[case::frac_latex(Recipe::LatexAware, FRAC, 7, Some(1.0), Some(1.0), Some(1.0), None)]
    #[case::frac_released(Recipe::Released, FRAC, 7, Some(1.0), Some(1.0), Some(1.0), None)]
    #[case::power_gpt2(Recipe::Gpt2Bytelevel, POWER, 5, None, None, Some(1.0), Some(1.0))]
    #[case::power_digits(Recipe::Gpt2BytelevelDigits, POWER, 6, None, None, Some(1.0), Some(2.0))]
    #[case::power_latex(Recipe::LatexAware, POWER, 6, None, None, Some(1.0), Some(2.0))]
    #[case::power_released(Recipe::Released, POWER, 6, None, None, Some(1.0), Some(2.0))]
    #[case::align_gpt2(Recipe::Gpt2Bytelevel, ALIGN, 31, Some(2.0 / 3.0), Some(8.0), Some(7.0 / 9.0), None)]
    #[case::align_digits(Recipe::Gpt2BytelevelDigits, ALIGN, 31, Some(2.0 / 3.0), Some(8.0), Some(7.0 / 9.0), None)]
    #[case::align_latex(Recipe::LatexAware, ALIGN, 32, Some(1.0), Some(23.0 / 3.0), Some(1.0), None)]
    #[case::align_released(Recipe::Released, ALIGN, 24, Some(1.0), Some(5.0), Some(1.0), None)]
    fn recipe_metrics_on_latex_snippets(
        #[case] recipe: Recipe,
        #[case] text: &str,
        #[case] tokens: u64,
        #[case] integrity: Option<f64>,
        #[case] per_command: Option<f64>,
        #[case] consistency: Option<f64>,
        #[case] per_digit_run: Option<f64>,
    ) {
        let s = measure_one(recipe, text);
        assert_eq!(s.whole.tokens, tokens, "tokens");
        assert_opt(s.whole.command_integrity, integrity, "command_integrity");
        assert_opt(s.whole.tokens_per_command, per_command, "tokens_per_command");
        assert_opt(s.whole.context_consistency, consistency, "context_consistency");
        assert_opt(s.whole.tokens_per_digit_run, per_digit_run, "tokens_per_digit_run");
        let exact = if recipe == Recipe::Released { 0.0 } else { 1.0 };
        assert_opt(s.whole.roundtrip_exact, Some(exact), "roundtrip_exact");
        assert_opt(s.whole.bytes_per_token, Some(text.len() as f64 / tokens as f64), "bytes_per_token");
    }

    #[rstest]
    #[case::bytelevel(Recipe::LatexAware, 4, 0.0, Some(1.0))]
    #[case::released(Recipe::Released, 3, 1.0 / 3.0, Some(0.0))]
    fn unknown_rate_counts_unrepresentable_characters(
        #[case] recipe: Recipe,
        #[case] tokens: u64,
        #[case] unk_rate: f64,
        #[case] roundtrip: Option<f64>,
    ) {
        let s = measure_one(recipe, GREEK);
        assert_eq!(s.whole.tokens, tokens);
        assert_relative_eq!(s.metrics["unk_rate"], unk_rate, epsilon = 1e-12);
        assert_opt(s.math.roundtrip_exact, roundtrip, "math roundtrip");
    }

    #[test]
    fn math_and_prose_are_split_by_span() {
        // `$\alpha$` is math (1 word); `see` and `now` are prose (2 words).
        let text = r"see $\alpha$ now";
        let s = measure_one(Recipe::LatexAware, text);
        // LaTeX split: `see` ` ` `$` `\alpha` `$` ` ` `now` -> the byte-level
        // pieces of `see` and `now` have no merges, so 3 + 1 + 1 + 1 + 1 + 1 + 3.
        assert_eq!(s.whole.tokens, 11);
        assert_eq!(s.math.tokens, 3);
        assert_eq!(s.prose.tokens, 8);
        assert_eq!((s.math.words, s.prose.words), (1, 2));
        assert_relative_eq!(s.metrics["fertility_math"], 3.0, epsilon = 1e-12);
        assert_relative_eq!(s.metrics["fertility_prose"], 4.0, epsilon = 1e-12);
        assert_eq!(s.math.commands, 1);
        assert_eq!(s.prose.commands, 0);
        assert_eq!(s.prose.command_integrity, None);
        assert_eq!(s.math.bytes, 8);
        assert_eq!(s.math.roundtrip_units, 1);
    }

    #[test]
    fn metric_names_are_registered() {
        let s = measure_one(Recipe::LatexAware, r"see $\alpha$ now");
        assert_eq!(s.metrics.len(), 8);
        for name in s.metrics.keys() {
            let info = crate::metrics::find(name).unwrap_or_else(|| panic!("{name} not in src/metrics.rs"));
            assert_eq!(info.producer, crate::metrics::Producer::Tokenizer);
        }
    }

    #[test]
    fn top_commands_rank_by_frequency() {
        let s = measure_one(Recipe::Gpt2Bytelevel, r"$\alpha$ $\alpha$ \frac{a}{b}");
        let names: Vec<_> = s.top_commands.iter().map(|c| (c.command.as_str(), c.occurrences)).collect();
        assert_eq!(names, vec![(r"\alpha", 2), (r"\frac", 1)]);
        // `$\` + `alpha` both times: 2 tokens, straddled, but always the same form.
        assert_relative_eq!(s.top_commands[0].tokens_per_occurrence, 2.0);
        assert_relative_eq!(s.top_commands[0].integrity, 0.0);
        assert_relative_eq!(s.top_commands[0].consistency, 1.0);
    }

    #[rstest]
    #[case::control_symbols(r"a\\b\{", vec![r"\\", r"\{"])]
    #[case::environment(r"\begin{align*}x\end{align*}", vec![r"\begin{align*}", r"\end{align*}"])]
    #[case::words(r"\alpha2\beta", vec![r"\alpha", r"\beta"])]
    fn commands_are_found(#[case] text: &str, #[case] expected: Vec<&str>) {
        let found: Vec<&str> = command_spans(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(found, expected);
    }
}
