//! Preamble split, macro harvesting and bounded macro expansion
//! (`macros: expand`).
//!
//! Authors write `\R`, `\norm{x}`, `\eps` and define them in the preamble
//! or a local `.sty`; left unexpanded, every paper speaks its own dialect of
//! LaTeX and the tokenizer sees thousands of one-paper symbols. We expand
//! the definitions LaTeX's own commands make (`\newcommand` with arguments
//! and an optional default, `\def` with `#1#2` parameters,
//! `\DeclareMathOperator`, `\let`), and nothing that needs a TeX engine.

use std::borrow::Cow;

use foldhash::HashMap;
use serde::{Deserialize, Serialize};

use super::comments::strip_comments;
use crate::tex::scan::VERBATIM_ENVIRONMENTS;
use crate::tex::scan::{
    control_seq, environment_name, find_byte, find_end, group_content, is_word, optional_end, skip_blanks,
};

/// One user macro: replacement text with `#1`…`#9` placeholders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Macro {
    pub params: usize,
    /// `\newcommand{\x}[2][d]{…}`: `#1` is optional and defaults to `d`.
    pub default: Option<String>,
    pub body: String,
    /// `\let\a\b` with `\b` a LaTeX command: `\a` means `\b` as it is now,
    /// so its replacement is output as is, never expanded again (a later
    /// `\renewcommand\b{… \a}`, the usual wrapping idiom, would loop).
    #[serde(default)]
    pub frozen: bool,
}

/// Macros by name (without the backslash).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MacroTable {
    macros: HashMap<String, Macro>,
}

impl MacroTable {
    pub fn get(&self, name: &str) -> Option<&Macro> {
        self.macros.get(name)
    }

    pub fn len(&self) -> usize {
        self.macros.len()
    }

    pub fn is_empty(&self) -> bool {
        self.macros.is_empty()
    }

    /// Records a definition the way LaTeX would.
    fn apply(&mut self, definition: Definition) {
        let Definition { name, kind, value } = definition;
        if STRUCTURAL.contains(&name.as_str()) {
            return;
        }
        let value = match value {
            DefinedAs::Macro(value) => value,
            // `\let\a\b` copies `\b`'s meaning now; later changes to `\b` do not follow.
            DefinedAs::LetTo(target) => match self.macros.get(&target) {
                Some(existing) => existing.clone(),
                None => Macro { params: 0, default: None, body: format!("\\{target}"), frozen: true },
            },
            // Something we cannot model (delimited parameters, TeX
            // programming): forget any earlier meaning rather than expand a stale one.
            DefinedAs::Opaque => {
                self.macros.remove(&name);
                return;
            }
        };
        match kind {
            // `\providecommand` defines only what is undefined; `\newcommand` on
            // a defined name is a LaTeX error that leaves the first meaning.
            DefinitionKind::Provide | DefinitionKind::New => {
                self.macros.entry(name).or_insert(value);
            }
            DefinitionKind::Renew => {
                self.macros.insert(name, value);
            }
        }
    }
}

/// Document-structure commands whose (re)definitions are ignored: the
/// cleaning rules after expansion must still find `\cite`, `\footnote`,
/// `\section`, and a class or package redefining them (1801.03879's
/// `accessibilityMeta.sty` wraps `\maketitle` in PDF tagging) is layout
/// machinery, not notation.
const STRUCTURAL: &[&str] = &[
    "documentclass",
    "usepackage",
    "begin",
    "end",
    "par",
    "item",
    "input",
    "include",
    "maketitle",
    "title",
    "author",
    "date",
    "thanks",
    "abstract",
    "appendix",
    "part",
    "chapter",
    "section",
    "subsection",
    "subsubsection",
    "paragraph",
    "subparagraph",
    "caption",
    "footnote",
    "footnotetext",
    "cite",
    "citep",
    "citet",
    "ref",
    "eqref",
    "label",
    "url",
    "href",
    "includegraphics",
    "bibliography",
    "bibliographystyle",
    "emph",
    "textbf",
    "textit",
    "newpage",
    "clearpage",
];

/// Splits a LaTeX document into its preamble (before `\begin{document}`)
/// and body (between `\begin{document}` and `\end{document}`); text after
/// `\end{document}` is never typeset. Without `\begin{document}` (a file
/// that is all body) the preamble is empty.
pub fn split_preamble(text: &str) -> (&str, &str) {
    const BEGIN: &str = "\\begin{document}";
    const END: &str = "\\end{document}";
    let Some(begin) = text.find(BEGIN) else {
        return ("", text);
    };
    let body_start = begin + BEGIN.len();
    let body_end = text[body_start..].find(END).map_or(text.len(), |i| body_start + i);
    (&text[..begin], &text[body_start..body_end])
}

/// Collects the macro definitions of local `.sty` files (in the order
/// given) and then of the preamble, which may redefine them.
pub fn harvest_macros(preamble: &str, sty_files: &[&str]) -> MacroTable {
    let mut table = MacroTable::default();
    for sty in sty_files {
        // Package files make `@` a letter (`\def\foo@bar`).
        harvest_into(&mut table, &strip_comments(sty), true);
    }
    harvest_into(&mut table, preamble, false);
    table
}

fn harvest_into(table: &mut MacroTable, text: &str, at_letter: bool) {
    crate::tex::scan::indexed(text, || harvest_definitions(table, text, at_letter));
}

fn harvest_definitions(table: &mut MacroTable, text: &str, at_letter: bool) {
    let mut at = 0;
    while let Some(offset) = find_byte(&text[at..], b'\\') {
        if crate::tex::watchdog::expired() {
            break;
        }
        let start = at + offset;
        match parse_definition(text, start, at_letter) {
            Some((definition, end)) => {
                table.apply(definition);
                at = end;
            }
            None => at = control_seq(text, start, at_letter).end.max(start + 1),
        }
    }
}

/// The body after expansion and what it cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expanded {
    pub text: String,
    pub expansions: u32,
    /// An expansion or growth cap was hit; the rest was copied unexpanded.
    pub degraded: bool,
}

/// Expands the macros of `table`, and those the body itself defines from the
/// point of definition on, in `body`. Definitions in the body are removed.
/// Stops expanding (and marks the result degraded) after `max_expansions`
/// expansions or once the text would exceed `max_growth` × its source length,
/// so a self-recursive `\def\x{\x}` or `\def\x{x\x}` costs bounded time and memory.
pub fn expand_macros(body: &str, table: &MacroTable, max_expansions: u32, max_growth: f64) -> Expanded {
    let mut expander = Expander {
        table: table.clone(),
        frames: vec![Frame { text: Cow::Borrowed(body), at: 0 }],
        out: String::with_capacity(body.len()),
        expansions: 0,
        max_expansions,
        max_len: (body.len().max(GROWTH_FLOOR) as f64 * max_growth.max(1.0)) as usize,
        degraded: false,
    };
    // The body is the text most scans run over: index it, so that repeated
    // searches from nearby positions (unclosed groups) stay linear.
    crate::tex::scan::indexed(body, || expander.run());
    Expanded { text: expander.out, expansions: expander.expansions, degraded: expander.degraded }
}

/// Bodies shorter than this are capped as if this long: a one-line body
/// calling one 30-byte macro is not runaway growth.
const GROWTH_FLOOR: usize = 1024;

/// Pending input: a replacement text (or the body) and how far it is read.
struct Frame<'a> {
    /// The body itself (borrowed, so its scans are indexed) or a replacement.
    text: Cow<'a, str>,
    at: usize,
}

struct Expander<'a> {
    table: MacroTable,
    /// Innermost replacement last; the body is `frames[0]`.
    frames: Vec<Frame<'a>>,
    out: String,
    expansions: u32,
    max_expansions: u32,
    max_len: usize,
    degraded: bool,
}

/// What to do at a backslash.
enum Step {
    /// Copy this many bytes to the output unchanged.
    Copy(usize),
    /// Consume this many bytes (a definition) and record it.
    Define(Definition, usize),
    /// Replace this many bytes with the text, which is read again.
    Expand(String, usize),
    /// Replace this many bytes with the text, output as is (a frozen `\let`).
    Emit(String, usize),
    /// The macro's arguments run past the end of this replacement text.
    NeedsMore,
}

impl Expander<'_> {
    fn run(&mut self) {
        while let Some(frame) = self.frames.last_mut() {
            let rest = &frame.text[frame.at..];
            let Some(offset) = find_byte(rest, b'\\') else {
                push_tex(&mut self.out, rest);
                self.frames.pop();
                continue;
            };
            push_tex(&mut self.out, &rest[..offset]);
            frame.at += offset;
            if self.degraded || crate::tex::watchdog::expired() {
                let at = frame.at;
                push_tex(&mut self.out, &frame.text[at..]);
                self.frames.pop();
                continue;
            }
            let step = self.step();
            self.apply(step);
        }
    }

    /// Decides what the backslash at the top frame's position starts.
    fn step(&self) -> Step {
        let Some(frame) = self.frames.last() else {
            return Step::Copy(0);
        };
        let (text, at) = (&*frame.text, frame.at);
        let cs = control_seq(text, at, false);
        let len = |end: usize| end - at;
        if let Some(end) = verbatim_environment_end(text, cs.name, cs.end) {
            return Step::Copy(len(end));
        }
        if is_definition_command(cs.name) {
            return match parse_definition(text, at, false) {
                Some((definition, end)) => Step::Define(definition, len(end)),
                None if self.frames.len() > 1 => Step::NeedsMore,
                None => Step::Copy(len(cs.end)),
            };
        }
        let Some(found) = self.table.get(cs.name).filter(|_| is_word(cs.name)) else {
            return Step::Copy(len(cs.end));
        };
        if found.frozen {
            return Step::Emit(found.body.clone(), len(cs.end));
        }
        match read_arguments(text, cs.end, found) {
            Some((args, end)) => Step::Expand(substitute(&found.body, &args), len(end)),
            None if self.frames.len() > 1 => Step::NeedsMore,
            None => Step::Copy(len(cs.end)),
        }
    }

    fn apply(&mut self, step: Step) {
        match step {
            Step::Copy(len) => {
                if let Some(frame) = self.frames.last_mut() {
                    push_tex(&mut self.out, &frame.text[frame.at..frame.at + len]);
                    frame.at += len;
                }
            }
            Step::Define(definition, len) => {
                self.advance(len);
                self.table.apply(definition);
            }
            Step::Expand(replacement, len) => {
                self.expansions += 1;
                if self.over_budget(replacement.len().saturating_sub(len)) {
                    // Leave the call unexpanded so the text stays complete.
                    self.degraded = true;
                    self.expansions -= 1;
                    return;
                }
                self.advance(len);
                self.frames.push(Frame { text: replacement.into(), at: 0 });
            }
            Step::Emit(replacement, len) => {
                self.expansions += 1;
                self.advance(len);
                push_tex(&mut self.out, &replacement);
            }
            Step::NeedsMore => self.merge_top_frames(),
        }
    }

    fn advance(&mut self, len: usize) {
        if let Some(frame) = self.frames.last_mut() {
            frame.at += len;
        }
    }

    fn pending_len(&self) -> usize {
        self.frames.iter().map(|f| f.text.len() - f.at).sum()
    }

    fn over_budget(&self, extra: usize) -> bool {
        self.expansions > self.max_expansions || self.out.len() + self.pending_len() + extra > self.max_len
    }

    /// A replacement ends in a macro whose arguments follow the call
    /// (`\def\a{\b}` then `\a{x}` with a one-argument `\b`): join the top
    /// replacement with the text below it. Each join counts as an expansion,
    /// so a macro that keeps eating its own arguments hits the cap.
    fn merge_top_frames(&mut self) {
        self.expansions += 1;
        if self.over_budget(0) {
            self.degraded = true;
            return;
        }
        let (Some(top), Some(below)) = (self.frames.pop(), self.frames.pop()) else {
            return;
        };
        let mut text = String::with_capacity(top.text.len() - top.at + below.text.len() - below.at);
        text.push_str(&top.text[top.at..]);
        text.push_str(&below.text[below.at..]);
        self.frames.push(Frame { text: text.into(), at: 0 });
    }
}

/// Verbatim material is never expanded.
fn verbatim_environment_end(text: &str, name: &str, after: usize) -> Option<usize> {
    if name != "begin" {
        return None;
    }
    let (env, body) = environment_name(text, skip_blanks(text, after))?;
    if !VERBATIM_ENVIRONMENTS.contains(&env) {
        return None;
    }
    Some(find_end(text, body, env).map_or(text.len(), |(_, end)| end))
}

/// Reads a call's arguments: the optional one (when the macro has a
/// default) and then undelimited ones: a braced group or a single token.
fn read_arguments(text: &str, after: usize, found: &Macro) -> Option<(Vec<String>, usize)> {
    let mut args = Vec::with_capacity(found.params);
    let mut at = after;
    let mut mandatory = found.params;
    if let Some(default) = &found.default {
        let open = skip_blanks(text, at);
        if text.as_bytes().get(open) == Some(&b'[') {
            let end = optional_end(text, open)?;
            args.push(text[open + 1..end - 1].to_string());
            at = end;
        } else {
            args.push(default.clone());
        }
        mandatory = mandatory.saturating_sub(1);
    }
    for _ in 0..mandatory {
        let (arg, end) = undelimited_argument(text, at)?;
        args.push(arg.to_string());
        at = end;
    }
    Some((args, at))
}

fn undelimited_argument(text: &str, after: usize) -> Option<(&str, usize)> {
    let at = skip_blanks(text, after);
    match text.as_bytes().get(at)? {
        b'{' => group_content(text, at),
        b'}' => None,
        b'\\' => {
            let end = control_seq(text, at, false).end;
            Some((&text[at..end], end))
        }
        _ => {
            let c = text[at..].chars().next()?;
            Some((&text[at..at + c.len_utf8()], at + c.len_utf8()))
        }
    }
}

/// Fills `#1`…`#9` with the arguments; `##` stands for one `#`.
fn substitute(body: &str, args: &[String]) -> String {
    let mut out = String::with_capacity(body.len() + args.iter().map(String::len).sum::<usize>());
    let mut literal_start = 0;
    let mut at = 0;
    let bytes = body.as_bytes();
    while at < bytes.len() {
        if bytes[at] != b'#' {
            at += 1;
            continue;
        }
        let (piece, next): (&str, usize) = match bytes.get(at + 1) {
            Some(b'#') => ("#", at + 2),
            Some(d @ b'1'..=b'9') => {
                let index = usize::from(d - b'1');
                (args.get(index).map_or("", String::as_str), at + 2)
            }
            _ => {
                at += 1;
                continue;
            }
        };
        push_tex(&mut out, &body[literal_start..at]);
        push_tex(&mut out, piece);
        literal_start = next;
        at = next;
    }
    push_tex(&mut out, &body[literal_start..]);
    out
}

/// Appends `piece`, separating it with a space when it starts with a letter
/// and `out` ends with a control word: TeX had already tokenized both, so
/// `\Re` followed by the expansion `X` must not read back as `\ReX`.
fn push_tex(out: &mut String, piece: &str) {
    if piece.starts_with(|c: char| c.is_ascii_alphabetic()) && ends_with_control_word(out) {
        out.push(' ');
    }
    out.push_str(piece);
}

fn ends_with_control_word(text: &str) -> bool {
    let stem = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if stem.len() == text.len() {
        return false;
    }
    // An odd run of backslashes: `\\ab` is a line break and letters.
    let backslashes = stem.len() - stem.trim_end_matches('\\').len();
    backslashes % 2 == 1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DefinitionKind {
    New,
    Renew,
    Provide,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DefinedAs {
    Macro(Macro),
    LetTo(String),
    Opaque,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Definition {
    name: String,
    kind: DefinitionKind,
    value: DefinedAs,
}

fn is_definition_command(name: &str) -> bool {
    matches!(
        name,
        "newcommand"
            | "renewcommand"
            | "providecommand"
            | "DeclareRobustCommand"
            | "def"
            | "gdef"
            | "edef"
            | "xdef"
            | "DeclareMathOperator"
            | "let"
    )
}

/// Parses the definition whose backslash is at `at`; `None` when `at` does
/// not start a definition or its syntax is broken.
fn parse_definition(text: &str, at: usize, at_letter: bool) -> Option<(Definition, usize)> {
    let cs = control_seq(text, at, at_letter);
    let mut after = cs.end;
    if matches!(
        cs.name,
        "newcommand" | "renewcommand" | "providecommand" | "DeclareRobustCommand" | "DeclareMathOperator"
    ) && text.as_bytes().get(after) == Some(&b'*')
    {
        after += 1;
    }
    let starred = after > cs.end;
    let (definition, end) = match cs.name {
        "newcommand" | "renewcommand" | "providecommand" | "DeclareRobustCommand" => {
            let kind = match cs.name {
                "newcommand" => DefinitionKind::New,
                "providecommand" => DefinitionKind::Provide,
                _ => DefinitionKind::Renew,
            };
            parse_newcommand(text, after, kind, at_letter)?
        }
        "def" | "gdef" => parse_def(text, after, at_letter)?,
        // `\edef` expands its body when defined (1703.09710 numbers its
        // affiliations with `\edef\sagan{\arabic{affilcounter}}` and a
        // counter step); without TeX's state we cannot know that value.
        "edef" | "xdef" => {
            let (mut definition, end) = parse_def(text, after, at_letter)?;
            definition.value = DefinedAs::Opaque;
            (definition, end)
        }
        "DeclareMathOperator" => {
            let (name, at) = defined_name(text, after, at_letter)?;
            let (operator, end) = group_content(text, skip_blanks(text, at))?;
            let star = if starred { "*" } else { "" };
            let body = format!("\\operatorname{star}{{{operator}}}");
            (macro_definition(name, DefinitionKind::New, 0, None, body), end)
        }
        "let" => parse_let(text, after, at_letter)?,
        _ => return None,
    };
    Some((definition, end))
}

/// `\newcommand{\name}[n][default]{body}` (braces around the name optional).
fn parse_newcommand(
    text: &str,
    after: usize,
    kind: DefinitionKind,
    at_letter: bool,
) -> Option<(Definition, usize)> {
    let (name, mut at) = defined_name(text, after, at_letter)?;
    let mut params = 0;
    let mut default = None;
    let open = skip_blanks(text, at);
    if text.as_bytes().get(open) == Some(&b'[') {
        let end = optional_end(text, open)?;
        params = text[open + 1..end - 1].trim().parse::<usize>().ok().filter(|&n| n <= 9)?;
        at = end;
        let open = skip_blanks(text, at);
        if text.as_bytes().get(open) == Some(&b'[') {
            let end = optional_end(text, open)?;
            default = Some(text[open + 1..end - 1].to_string());
            at = end;
        }
    }
    let (body, end) = group_content(text, skip_blanks(text, at))?;
    Some((macro_definition(name, kind, params, default, body.to_string()), end))
}

/// `\def\name#1#2{body}`. Delimited parameters (`\def\x#1.{…}`) need TeX's
/// matcher; such definitions are consumed but not expanded.
fn parse_def(text: &str, after: usize, at_letter: bool) -> Option<(Definition, usize)> {
    let at = skip_blanks(text, after);
    if text.as_bytes().get(at) != Some(&b'\\') {
        return None;
    }
    let cs = control_seq(text, at, at_letter);
    let name = cs.name.to_string();
    let open = cs.end + text[cs.end..].find('{')?;
    let parameter_text = &text[cs.end..open];
    let (body, end) = group_content(text, open)?;
    let params = simple_parameter_count(parameter_text);
    let definition = match params {
        Some(params) => macro_definition(name, DefinitionKind::Renew, params, None, body.to_string()),
        None => Definition { name, kind: DefinitionKind::Renew, value: DefinedAs::Opaque },
    };
    Some((definition, end))
}

/// `#1#2…#n` in order gives `n`; anything else (delimiters) gives `None`.
fn simple_parameter_count(parameter_text: &str) -> Option<usize> {
    let compact: String = parameter_text.split_whitespace().collect();
    let expected: String = (1..=compact.len() / 2).map(|i| format!("#{i}")).collect();
    (compact == expected && compact.len() <= 18).then_some(compact.len() / 2)
}

/// `\let\a\b`, `\let\a=\b`, `\let\a= x`.
fn parse_let(text: &str, after: usize, at_letter: bool) -> Option<(Definition, usize)> {
    let at = skip_blanks(text, after);
    if text.as_bytes().get(at) != Some(&b'\\') {
        return None;
    }
    let cs = control_seq(text, at, at_letter);
    let mut target = skip_blanks(text, cs.end);
    if text.as_bytes().get(target) == Some(&b'=') {
        target = skip_blanks(text, target + 1);
    }
    let value = match text.as_bytes().get(target)? {
        b'\\' => {
            let to = control_seq(text, target, at_letter);
            (DefinedAs::LetTo(to.name.to_string()), to.end)
        }
        _ => {
            let c = text[target..].chars().next()?;
            let body = c.to_string();
            (DefinedAs::Macro(Macro { params: 0, default: None, body, frozen: false }), target + c.len_utf8())
        }
    };
    let definition = Definition { name: cs.name.to_string(), kind: DefinitionKind::Renew, value: value.0 };
    Some((definition, value.1))
}

/// The name being defined: `\name` or `{\name}`.
fn defined_name(text: &str, after: usize, at_letter: bool) -> Option<(String, usize)> {
    let at = skip_blanks(text, after);
    match text.as_bytes().get(at)? {
        b'\\' => {
            let cs = control_seq(text, at, at_letter);
            Some((cs.name.to_string(), cs.end))
        }
        b'{' => {
            let (inner, end) = group_content(text, at)?;
            let inner = inner.trim();
            let name = inner.strip_prefix('\\')?;
            (!name.is_empty()).then(|| (name.to_string(), end))
        }
        _ => None,
    }
}

/// Builds a definition, marking TeX programming as opaque.
fn macro_definition(
    name: String,
    kind: DefinitionKind,
    params: usize,
    default: Option<String>,
    body: String,
) -> Definition {
    // `\newcommand{\Coq}{Coq\xspace}` (2509.12337): `\xspace` only adds the
    // space TeX would eat after `\Coq`; expansion keeps that space anyway.
    let body = match body.trim_end().strip_suffix("\\xspace") {
        Some(stripped) => stripped.to_string(),
        None => body,
    };
    let value = if is_programming(&body) {
        DefinedAs::Opaque
    } else {
        DefinedAs::Macro(Macro { params, default, body, frozen: false })
    };
    Definition { name, kind, value }
}

/// Control sequences that mark a definition as TeX programming rather than
/// notation: expanding `\ifmmode…\else…\fi` or `\@ifnextchar` into the
/// text yields internals, not the symbol the reader sees. Internal names
/// contain `@`.
const PROGRAMMING: &[&str] = &[
    "expandafter",
    "csname",
    "futurelet",
    "afterassignment",
    "def",
    "edef",
    "gdef",
    "xdef",
    "let",
    "newcommand",
    "renewcommand",
    "providecommand",
    "else",
    "fi",
    "begingroup",
    "endgroup",
    "global",
    "catcode",
    "makeatletter",
    "newcounter",
    "setcounter",
    "addtocounter",
    "stepcounter",
    "refstepcounter",
];

fn is_programming(body: &str) -> bool {
    if body.contains('@') {
        return true;
    }
    let mut at = 0;
    while let Some(offset) = find_byte(&body[at..], b'\\') {
        let cs = control_seq(body, at + offset, false);
        if PROGRAMMING.contains(&cs.name) || (cs.name.starts_with("if") && cs.name.len() > 2) {
            return true;
        }
        at = cs.end.max(at + offset + 1);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const CAP: u32 = 1000;
    const GROWTH: f64 = 4.0;

    fn expand_document(preamble: &str, body: &str) -> Expanded {
        expand_macros(body, &harvest_macros(preamble, &[]), CAP, GROWTH)
    }

    #[rstest]
    #[case::no_args(r"\newcommand{\R}{\mathbb{R}}", r"$x\in\R$", r"$x\in\mathbb{R}$")]
    #[case::unbraced_name(r"\newcommand\eps{\varepsilon}", r"$\eps$", r"$\varepsilon$")]
    #[case::starred(r"\newcommand*{\N}{\mathbb{N}}", r"$\N$", r"$\mathbb{N}$")]
    #[case::two_args(r"\newcommand{\ip}[2]{\langle #1,#2\rangle}", r"\ip{x}{y}", r"\langle x,y\rangle")]
    #[case::unbraced_arg(r"\newcommand{\norm}[1]{\|#1\|}", r"\norm x", r"\|x\|")]
    #[case::control_sequence_arg(r"\newcommand{\norm}[1]{\|#1\|}", r"\norm\phi", r"\|\phi\|")]
    #[case::nested_braces_arg(r"\newcommand{\abs}[1]{|#1|}", r"\abs{\frac{a}{b}}", r"|\frac{a}{b}|")]
    #[case::default_used(r"\newcommand{\e}[2][1]{e_{#1}^{#2}}", r"\e{n}", r"e_{1}^{n}")]
    #[case::default_overridden(r"\newcommand{\e}[2][1]{e_{#1}^{#2}}", r"\e[k]{n}", r"e_{k}^{n}")]
    #[case::renew_overrides(r"\newcommand\x{a}\renewcommand\x{b}", r"\x", "b")]
    #[case::provide_keeps_first(r"\newcommand\x{a}\providecommand\x{b}", r"\x", "a")]
    #[case::provide_defines_new(r"\providecommand\x{b}", r"\x", "b")]
    #[case::def_simple(r"\def\v#1{\mathbf{#1}}", r"\v{u}", r"\mathbf{u}")]
    #[case::def_two_params(r"\def\pair#1#2{(#1,#2)}", r"\pair ab", "(a,b)")]
    #[case::edef_not_expanded(r"\edef\sagan{\arabic{affil}}\stepcounter{affil}", r"\sagan", r"\sagan")]
    #[case::counter_step_not_expanded(r"\newcommand\fn{\stepcounter{n}\arabic{n}}", r"\fn", r"\fn")]
    #[case::def_delimited_not_expanded(r"\def\x#1.{[#1]}", r"\x a.", r"\x a.")]
    #[case::math_operator(r"\DeclareMathOperator{\tr}{tr}", r"$\tr A$", r"$\operatorname{tr} A$")]
    #[case::math_operator_starred(
        r"\DeclareMathOperator*{\argmax}{arg\,max}",
        r"\argmax",
        r"\operatorname*{arg\,max}"
    )]
    #[case::let_copies_meaning(r"\newcommand\a{x}\let\b\a\renewcommand\a{y}", r"\b\a", "xy")]
    #[case::let_to_primitive(r"\let\eps=\varepsilon", r"\eps", r"\varepsilon")]
    #[case::wrapping_idiom_does_not_loop(
        r"\let\oldtilde\tilde\renewcommand{\tilde}[1]{\oldtilde{\mathrm{#1}}}",
        r"$\tilde{x}$",
        r"$\tilde{\mathrm{x}}$"
    )]
    #[case::structural_redefinition_ignored(
        r"\let\oldcite\cite\renewcommand{\cite}[1]{[\oldcite{#1}]}",
        r"\cite{k}",
        r"\cite{k}"
    )]
    #[case::nested_expansion(r"\newcommand\R{\mathbb{R}}\newcommand\Rn{\R^n}", r"\Rn", r"\mathbb{R}^n")]
    #[case::replacement_takes_following_args(
        r"\newcommand\vect[1]{\mathbf{#1}}\newcommand\bv{\vect}",
        r"\bv{x}",
        r"\mathbf{x}"
    )]
    #[case::xspace_dropped(r"\newcommand{\Coq}{Coq\xspace}", r"\Coq's proof", "Coq's proof")]
    #[case::space_after_zero_arg_macro_kept(r"\newcommand\eg{e.g.}", r"\eg the", "e.g. the")]
    #[case::longer_name_not_matched(r"\newcommand\R{X}", r"\Re\R", r"\Re X")]
    #[case::programming_not_expanded(r"\newcommand\R{\ifmmode\mathbb{R}\else R\fi}", r"\R", r"\R")]
    #[case::internal_not_expanded(r"\def\x{\@tempa}", r"\x", r"\x")]
    #[case::verbatim_untouched(
        r"\newcommand\R{X}",
        "\\begin{verbatim}\\R\\end{verbatim}",
        "\\begin{verbatim}\\R\\end{verbatim}"
    )]
    #[case::hash_escape(r"\newcommand\h{a##b}", r"\h", "a#b")]
    #[case::control_word_arg_then_letter(r"\newcommand\f[1]{#1x}", r"$\f\alpha$", r"$\alpha x$")]
    #[case::control_word_before_letter_arg(r"\newcommand\f[1]{\alpha#1}", r"$\f{x}$", r"$\alpha x$")]
    fn expands_macros(#[case] preamble: &str, #[case] body: &str, #[case] expected: &str) {
        let expanded = expand_document(preamble, body);
        assert_eq!(expanded.text, expected);
        assert!(!expanded.degraded);
    }

    #[rstest]
    #[case::used_before_definition(r"\x and \newcommand\x{y}\x", r"\x and y")]
    #[case::body_def(r"\def\q{Q}\q", "Q")]
    #[case::body_redefinition(r"\newcommand\x{a}\x\renewcommand\x{b}\x", "ab")]
    fn body_definitions_count_from_where_they_appear(#[case] body: &str, #[case] expected: &str) {
        assert_eq!(expand_document("", body).text, expected);
    }

    #[rstest]
    #[case::self_recursive(r"\def\x{\x}", r"\x")]
    #[case::self_recursive_growing(r"\def\x{a\x}", r"\x")]
    #[case::mutually_recursive(r"\def\a{\b}\def\b{\a}", r"\a")]
    #[case::passes_its_argument_on(r"\def\f#1{\f{#1}}", r"\f{1}")]
    #[case::exponential(r"\def\x{\x\x}", r"\x")]
    fn runaway_macros_hit_the_cap(#[case] preamble: &str, #[case] body: &str) {
        let expanded = expand_document(preamble, body);
        assert!(expanded.degraded, "not degraded: {expanded:?}");
        assert!(expanded.expansions <= CAP + 1);
        assert!(expanded.text.len() as f64 <= GROWTH * GROWTH_FLOOR as f64 + body.len() as f64);
    }

    #[test]
    fn sty_files_are_harvested_before_the_preamble() {
        let sty = "\\makeatletter\n\\def\\my@internal{z}\n\\newcommand{\\R}{\\mathbb{R}} % reals\n\\newcommand{\\C}{\\mathbb{C}}";
        let table = harvest_macros(r"\renewcommand{\C}{\mathcal{C}}", &[sty]);
        assert_eq!(table.get("R").map(|m| m.body.as_str()), Some(r"\mathbb{R}"));
        assert_eq!(table.get("C").map(|m| m.body.as_str()), Some(r"\mathcal{C}"));
        assert_eq!(table.get("my@internal").map(|m| m.body.as_str()), Some("z"));
    }

    #[rstest]
    #[case::standard(
        "\\documentclass{article}\n\\begin{document}\nHi\n\\end{document}\nafter",
        "\\documentclass{article}\n",
        "\nHi\n"
    )]
    #[case::no_end("pre\\begin{document}body", "pre", "body")]
    #[case::no_begin("just body", "", "just body")]
    fn splits_the_preamble(#[case] text: &str, #[case] preamble: &str, #[case] body: &str) {
        assert_eq!(split_preamble(text), (preamble, body));
    }
}
