//! Checks on a spec's text before the YAML parser sees it, and better
//! lines for the parser's errors.
//!
//! The parser recurses per nesting level and backtracks: a 200 KB file of
//! nested `[` took 29 s to reject. A spec is a few KB of shallow mappings,
//! so anything far larger or deeper is refused at once, with the line.

/// Largest spec file read.
pub const MAX_SPEC_BYTES: usize = 256 * 1024;

/// Deepest nesting of flow collections (`[`, `{`) or block indentation levels.
pub const MAX_DEPTH: usize = 32;

/// `Err((line, message))` when `text` is too large or nests too deep.
pub fn check_shape(text: &str) -> Result<(), (Option<usize>, String)> {
    if text.len() > MAX_SPEC_BYTES {
        return Err((None, format!("{} bytes, more than a spec may have ({MAX_SPEC_BYTES})", text.len())));
    }
    let mut flow = 0usize;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let indent = line.len() - line.trim_start_matches(' ').len();
        if indent / 2 > MAX_DEPTH {
            return Err((Some(number), format!("indented {indent} spaces, deeper than a spec nests")));
        }
        let mut quote: Option<char> = None;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') => break,
                (None, '[' | '{') => {
                    flow += 1;
                    if flow > MAX_DEPTH {
                        return Err((Some(number), format!("`[`/`{{` nest more than {MAX_DEPTH} deep")));
                    }
                }
                (None, ']' | '}') => flow = flow.saturating_sub(1),
                _ => {}
            }
        }
    }
    Ok(())
}

/// For the parser's "duplicate entry with key" error (reported at the
/// start of the mapping), the line where the key appears the second time.
pub fn duplicate_key_line(text: &str, message: &str) -> Option<usize> {
    let key = message.split("duplicate entry with key").nth(1)?;
    let key = key.trim_start().trim_start_matches('"');
    let key = &key[..key.find('"')?];
    let mut first: Option<(usize, usize)> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let body = trimmed.trim_start_matches("- ");
        let named = body.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with(':'));
        if !named {
            continue;
        }
        match first {
            Some((_, first_indent)) if first_indent == indent => return Some(index + 1),
            Some(_) => {}
            None => first = Some((index, indent)),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_nesting_is_refused_at_once() {
        let text = format!("id: X01\nmodel: {}", "[".repeat(200_000));
        let clock = std::time::Instant::now();
        let (line, message) = check_shape(&text).unwrap_err();
        assert!(clock.elapsed().as_secs_f64() < 1.0);
        assert!(message.contains("more than a spec") || message.contains("nest"), "{message}");
        assert!(line.is_none() || line == Some(2));
        let (line, _) = check_shape(&format!("a: {}", "[".repeat(40))).unwrap_err();
        assert_eq!(line, Some(1));
    }

    #[test]
    fn ordinary_spec_passes() {
        let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/runs/base.yaml")).unwrap();
        assert_eq!(check_shape(&spec), Ok(()));
    }

    #[test]
    fn duplicate_key_points_at_the_second_occurrence() {
        let text = "id: X\ntrain:\n  seed: 1\n  steps: 2\n  seed: 3\n";
        let message = "train: duplicate entry with key \"seed\" at line 2 column 3";
        assert_eq!(duplicate_key_line(text, message), Some(5));
    }
}
