//! The four tokenizer recipes of runs T01–T06: one function per recipe builds
//! the pipeline (pre-tokenizer, decoder, special tokens) around a BPE model, so
//! training and the hand-built vocabularies of the tests share the same rules.

use anyhow::{anyhow, Result};
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::Split;
use tokenizers::pre_tokenizers::whitespace::Whitespace;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use crate::spec::tokenizer::Recipe;
use crate::tex::commands::{CONTROL_SYMBOL, CONTROL_WORD, ENVIRONMENT_DELIMITER};

/// Special tokens of our recipes, in id order (bos 0, eos 1, pad 2).
pub const SPECIAL_TOKENS: [&str; 3] = ["<|bos|>", "<|eos|>", "<|pad|>"];
/// Special tokens of the released tokenizer script (PAPER.md), in its order.
pub const RELEASED_SPECIAL_TOKENS: [&str; 4] = ["[PAD]", "[UNK]", "[BOS]", "[EOS]"];
/// The released script's unknown token: its vocabulary is characters, not bytes.
pub const RELEASED_UNK: &str = "[UNK]";
/// Plain added tokens of the released script (PAPER.md): digits, operators, a
/// few Greek letters and LaTeX commands, matched before pre-tokenization.
pub const RELEASED_ADDED_TOKENS: [&str; 42] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "+", "-", "=", "*", "/", "^", "_", "(", ")", "{", "}",
    "[", "]", "<", ">", "\\alpha", "\\beta", "\\gamma", "\\theta", "\\pi", "\\phi", "\\psi", "\\frac",
    "\\sqrt", "\\int", "\\sum", "\\infty", "\\text", "\\begin", "\\end", "\\(", "\\)",
];

/// The end-of-document tokens the shards look for, ours first.
pub const EOS_CANDIDATES: [&str; 2] = ["<|eos|>", "[EOS]"];
/// Padding tokens: ours, then the released script's.
pub const PAD_CANDIDATES: [&str; 2] = ["<|pad|>", "[PAD]"];

/// Pre-split for `latex-aware` (T03, T05). Alternatives, in priority order:
/// environment openers/closers as one unit (`\begin{equation}`: the name is
/// what carries meaning, and arXiv papers use a few dozen names), commands
/// `\alpha` (a starred form such as `\section*` stays one unit), control
/// symbols `\\`, `\{`, `\,`; math delimiters `$$`, `$`; braces and sub/superscript
/// marks alone (so `_{` never merges with the command before it, the case
/// `x_{\alpha}` in every paper); digits one by one; then the GPT-2 split for
/// the prose, except that whitespace never attaches to the next piece (a
/// leading space would give ` \alpha` and `\alpha` two different tokens).
pub fn latex_split_pattern() -> String {
    let starred_word = format!(r"{CONTROL_WORD}\*?");
    let rest = [
        r"\$\$|\$",
        r"[{}_^]",
        r"\p{N}",
        r"'s|'t|'re|'ve|'m|'ll|'d",
        r"\p{L}+",
        r"[^\s\p{L}\p{N}\\$\{\}_^]+",
        r"\s+",
    ];
    [ENVIRONMENT_DELIMITER, &starred_word, CONTROL_SYMBOL]
        .into_iter()
        .chain(rest)
        .collect::<Vec<_>>()
        .join("|")
}

/// An untrained pipeline for `recipe` around `model`: pre-tokenizer, decoder
/// and special tokens exactly as training and the shards use them.
pub fn recipe_tokenizer(recipe: Recipe, model: BPE) -> Result<Tokenizer> {
    let mut tokenizer = Tokenizer::new(model);
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer(recipe)?));
    tokenizer.with_decoder(decoder(recipe));
    tokenizer
        .add_special_tokens(special_tokens(recipe))
        .map_err(|e| anyhow!("cannot add special tokens: {e}"))?;
    tokenizer
        .add_tokens(added_tokens(recipe))
        .map_err(|e| anyhow!("cannot add the released added tokens: {e}"))?;
    Ok(tokenizer)
}

/// The pre-tokenizer of each recipe; one arm per recipe holds its rule.
pub fn pre_tokenizer(recipe: Recipe) -> Result<PreTokenizerWrapper> {
    Ok(match recipe {
        Recipe::Gpt2Bytelevel => gpt2_bytelevel().into(),
        Recipe::Gpt2BytelevelDigits => {
            Sequence::new(vec![Digits::new(true).into(), gpt2_bytelevel().into()]).into()
        }
        Recipe::LatexAware => Sequence::new(vec![
            latex_split()?.into(),
            // The split above already made the pieces; the byte mapping must not re-split
            // them with the GPT-2 regex (it would cut `\alpha` into `\` + `alpha`).
            ByteLevel::new(false, false, false).into(),
        ])
        .into(),
        Recipe::Released => Sequence::new(vec![Whitespace {}.into(), Digits::new(true).into()]).into(),
    })
}

/// GPT-2's byte-level pre-tokenizer: its split regex, no prefix space (so a
/// document's first word is encoded as written and round-trips byte for byte).
fn gpt2_bytelevel() -> ByteLevel {
    ByteLevel::new(false, false, true)
}

fn latex_split() -> Result<Split> {
    Split::new(
        tokenizers::pre_tokenizers::split::SplitPattern::Regex(latex_split_pattern()),
        SplitDelimiterBehavior::Isolated,
        false,
    )
    .map_err(|e| anyhow!("the latex-aware split pattern does not compile: {e}"))
}

/// Byte-level recipes decode bytes back exactly; the released recipe had no
/// decoder, so `decode` joins tokens with spaces (that is what it shipped, and
/// why its round-trip exactness is low).
fn decoder(recipe: Recipe) -> Option<DecoderWrapper> {
    match recipe {
        Recipe::Released => None,
        _ => Some(ByteLevel::default().into()),
    }
}

/// Whether the recipe's alphabet is the 256 bytes (nothing is ever unknown).
pub fn is_byte_level(recipe: Recipe) -> bool {
    !matches!(recipe, Recipe::Released)
}

pub fn special_tokens(recipe: Recipe) -> Vec<AddedToken> {
    let names: &[&str] = match recipe {
        Recipe::Released => &RELEASED_SPECIAL_TOKENS,
        _ => &SPECIAL_TOKENS,
    };
    names.iter().map(|t| AddedToken::from(*t, true)).collect()
}

fn added_tokens(recipe: Recipe) -> Vec<AddedToken> {
    match recipe {
        Recipe::Released => RELEASED_ADDED_TOKENS.iter().map(|t| AddedToken::from(*t, false)).collect(),
        _ => Vec::new(),
    }
}

/// The empty BPE model a recipe trains from (the released one knows `[UNK]`).
pub fn empty_model(recipe: Recipe) -> Result<BPE> {
    let builder = BPE::builder();
    let builder = match recipe {
        Recipe::Released => builder.unk_token(RELEASED_UNK.to_string()),
        _ => builder,
    };
    builder.build().map_err(|e| anyhow!("cannot build an empty BPE model: {e}"))
}

/// The id of the end-of-document token, ours or the released one.
pub fn eos_id(tokenizer: &Tokenizer) -> Option<u32> {
    EOS_CANDIDATES.iter().find_map(|t| tokenizer.token_to_id(t))
}

/// The id of the padding token, ours or the released one.
pub fn pad_id(tokenizer: &Tokenizer) -> Option<u32> {
    PAD_CANDIDATES.iter().find_map(|t| tokenizer.token_to_id(t))
}

/// A recipe's pipeline around a hand-written BPE: the base alphabet (the 256
/// byte symbols, or printable ASCII plus `[UNK]` for `released`) then one token
/// per merge, merges ranked in the order given. Tests and fixtures use it to
/// know exactly which tokens a text becomes.
#[cfg(test)]
pub fn recipe_with_merges(recipe: Recipe, merges: &[(&str, &str)]) -> Result<Tokenizer> {
    let mut symbols: Vec<String> = if is_byte_level(recipe) {
        let mut alphabet: Vec<char> = ByteLevel::alphabet().into_iter().collect();
        alphabet.sort_unstable();
        alphabet.into_iter().map(String::from).collect()
    } else {
        std::iter::once(RELEASED_UNK.to_string())
            .chain((0x21u8..0x7f).map(|b| char::from(b).to_string()))
            .collect()
    };
    for (a, b) in merges {
        let merged = format!("{a}{b}");
        if !symbols.contains(&merged) {
            symbols.push(merged);
        }
    }
    let vocab: tokenizers::models::bpe::Vocab =
        symbols.into_iter().enumerate().map(|(i, s)| (s, i as u32)).collect();
    let merges = merges.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    let mut builder = BPE::builder().vocab_and_merges(vocab, merges);
    if !is_byte_level(recipe) {
        builder = builder.unk_token(RELEASED_UNK.to_string());
    }
    let model = builder.build().map_err(|e| anyhow!("hand-written BPE is inconsistent: {e}"))?;
    recipe_tokenizer(recipe, model)
}
