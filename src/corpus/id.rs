//! arXiv identifiers as they appear in bulk-source member names and per-paper file names.

use std::sync::LazyLock;

use regex::Regex;

/// New-style ids: `YYMM.NNNN` (2007–2014) or `YYMM.NNNNN` (2015 on).
static NEW_STYLE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d{4}\.\d{4,5}$").expect("static regex"));

/// Old-style ids as file names write them: the archive (`math`, `hep-th`,
/// `cond-mat`, optionally with a subject class such as `math.AG`) glued to
/// seven digits, because a slash cannot appear in a file name.
static OLD_STYLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([a-z]+(?:-[a-z]+)?)(?:\.[A-Z]{2})?(\d{7})$").expect("static regex"));

static VERSION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d)v\d+$").expect("static regex"));

/// Suffixes arXiv uses for per-paper sources, longest first so `.tar.gz` wins over `.gz`.
const SOURCE_SUFFIXES: [&str; 8] = [".tar.gz", ".tgz", ".gz", ".tar", ".pdf", ".ps", ".tex", ".html"];

/// The canonical arXiv id named by a file or archive member name, if any.
///
/// Only the last path component counts: bulk tars such as
/// `arXiv_src_2612_001.tar` mix months, so the `2612/` directory of a member
/// says nothing about its id. `math0601001.gz` is `math/0601001` (old-style ids
/// lose their slash in file names) and a version (`2612.90003v2`) is stripped.
pub fn arxiv_id_from_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next()?;
    let stem = strip_version(strip_source_suffix(base));
    if NEW_STYLE.is_match(&stem) {
        return Some(stem);
    }
    let caps = OLD_STYLE.captures(&stem)?;
    Some(format!("{}/{}", &caps[1], &caps[2]))
}

/// The id a record carries in the OAI snapshot, normalised like file names
/// (trimmed, version stripped) so both sides of the metadata join agree.
pub fn canonical_id(id: &str) -> String {
    strip_version(id.trim())
}

fn strip_source_suffix(base: &str) -> &str {
    SOURCE_SUFFIXES.iter().find_map(|suffix| base.strip_suffix(suffix)).unwrap_or(base)
}

fn strip_version(stem: &str) -> String {
    VERSION.replace(stem, "$1").into_owned()
}

/// The file name without directories and source suffix: the fallback label of
/// a paper whose name is not an arXiv id (a user's own per-paper file).
pub fn name_stem(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    strip_source_suffix(base).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("2612/2612.90003.gz", Some("2612.90003"))]
    #[case("2612.90003v2.gz", Some("2612.90003"))]
    #[case("0704.0001.pdf", Some("0704.0001"))]
    #[case("0704/1911.02782.gz", Some("1911.02782"))]
    #[case("math0601001.gz", Some("math/0601001"))]
    #[case("9901/hep-th9901001.gz", Some("hep-th/9901001"))]
    #[case("cond-mat0601001v3.tar.gz", Some("cond-mat/0601001"))]
    #[case("math.AG0601001.gz", Some("math/0601001"))]
    #[case("papers/1801.03879.tar.gz", Some("1801.03879"))]
    #[case("README.md", None)]
    #[case("metadata.jsonl", None)]
    #[case("2612/", None)]
    #[case("12345.6789.gz", None)]
    fn ids_come_from_member_names(#[case] name: &str, #[case] want: Option<&str>) {
        assert_eq!(arxiv_id_from_name(name).as_deref(), want);
    }

    #[rstest]
    #[case("0704.0001", "0704.0001")]
    #[case(" math/0601001v2 ", "math/0601001")]
    fn oai_ids_are_normalised(#[case] raw: &str, #[case] want: &str) {
        assert_eq!(canonical_id(raw), want);
    }
}
