//! Finding the line that sets a key, so spec errors can say `file:line`.
//!
//! Specs are block-style YAML written by people; a small indentation walk
//! finds keys and list items there. Flow-style mappings (`{ a: 1 }`) resolve
//! to the line of the enclosing key, which is still the line to edit.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// One non-blank, non-comment line.
struct Line<'a> {
    number: usize,
    /// Column of the first character.
    indent: usize,
    /// Column where the mapping key starts once any `- ` item markers are skipped.
    key_column: usize,
    key: Option<&'a str>,
}

fn significant_lines(text: &str) -> Vec<Line<'_>> {
    text.lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" {
                return None;
            }
            let indent = raw.len() - trimmed.len();
            let mut body = trimmed;
            let mut key_column = indent;
            while let Some(rest) = body.strip_prefix("- ") {
                let rest_trimmed = rest.trim_start();
                key_column += body.len() - rest_trimmed.len();
                body = rest_trimmed;
            }
            Some(Line { number: i + 1, indent, key_column, key: key_of(body) })
        })
        .collect()
}

fn key_of(body: &str) -> Option<&str> {
    let (key, _) = body.split_once(':')?;
    let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
    let plain =
        !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    plain.then_some(key)
}

/// Where `path` is set in `text`: `Exact` when every segment was found,
/// `Nearest` with the deepest enclosing line otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Exact(usize),
    Nearest(usize),
}

pub fn line_of(text: &str, path: &[Segment]) -> Option<Found> {
    let lines = significant_lines(text);
    let mut range = 0..lines.len();
    let mut parent_column: Option<usize> = None;
    let mut found: Option<usize> = None;
    for segment in path {
        let hit = match segment {
            Segment::Key(key) => find_key(&lines, range.clone(), parent_column, key),
            Segment::Index(n) => find_item(&lines, range.clone(), *n),
        };
        let Some((at, column, end)) = hit else {
            return found.map(Found::Nearest);
        };
        found = Some(lines[at].number);
        parent_column = Some(column);
        range = match segment {
            Segment::Key(_) => at + 1..end,
            Segment::Index(_) => at..end,
        };
    }
    found.map(Found::Exact)
}

/// Returns (line index, column that children must exceed, end of the block).
fn find_key(
    lines: &[Line<'_>],
    range: std::ops::Range<usize>,
    parent_column: Option<usize>,
    key: &str,
) -> Option<(usize, usize, usize)> {
    let deeper = |l: &Line<'_>| parent_column.is_none_or(|p| l.key_column > p);
    let column = range.clone().map(|i| &lines[i]).filter(|l| deeper(l)).map(|l| l.key_column).min()?;
    let at = range.clone().find(|&i| lines[i].key_column == column && lines[i].key == Some(key))?;
    let end = (at + 1..range.end).find(|&i| lines[i].key_column <= column).unwrap_or(range.end);
    Some((at, column, end))
}

fn find_item(lines: &[Line<'_>], range: std::ops::Range<usize>, n: usize) -> Option<(usize, usize, usize)> {
    let is_item = |i: usize| lines[i].key_column > lines[i].indent;
    let dash = range.clone().filter(|&i| is_item(i)).map(|i| lines[i].indent).min()?;
    let items: Vec<usize> = range.clone().filter(|&i| is_item(i) && lines[i].indent == dash).collect();
    let at = *items.get(n)?;
    let end = (at + 1..range.end).find(|&i| lines[i].indent <= dash).unwrap_or(range.end);
    Some((at, dash, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const TEXT: &str = "\
# comment
id: Y01
train:
  optimizer:
    lr: 2.0e-4   # peak
  seed: 7
claims:
  - id: a
    check: x
  - id: b
    check: y
model: { shape: final }
";

    fn path(s: &str) -> Vec<Segment> {
        s.split('.')
            .map(|p| p.parse().map(Segment::Index).unwrap_or_else(|_| Segment::Key(p.to_string())))
            .collect()
    }

    #[rstest]
    #[case("id", Found::Exact(2))]
    #[case("train.optimizer.lr", Found::Exact(5))]
    #[case("train.seed", Found::Exact(6))]
    #[case("claims.1.check", Found::Exact(11))]
    #[case("claims.0.id", Found::Exact(8))]
    #[case("train.optimizer.beta1", Found::Nearest(4))]
    #[case("model.shape", Found::Nearest(12))]
    fn finds_lines(#[case] p: &str, #[case] expected: Found) {
        assert_eq!(line_of(TEXT, &path(p)), Some(expected));
    }

    #[test]
    fn absent_top_level_key_is_none() {
        assert_eq!(line_of(TEXT, &path("nothing")), None);
    }
}
