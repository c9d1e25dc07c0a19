//! `arXiv_src_manifest.xml`: arXiv's list of bulk source tars with their md5 sums.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use anyhow::{Context, Result};
use regex::Regex;

/// The name arXiv gives the manifest in its bulk-data bucket.
pub const MANIFEST_FILE_NAME: &str = "arXiv_src_manifest.xml";

/// One `<file>` element of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// As written in the manifest, e.g. `src/arXiv_src_2612_001.tar`.
    pub filename: String,
    /// md5 of the whole tar, lower-case hex.
    pub md5sum: String,
    pub num_items: Option<u64>,
}

/// Manifest entries keyed by the tar's file name without directories.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    entries: HashMap<String, ManifestEntry>,
}

static FILE_BLOCK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)<file>(.*?)</file>").expect("static regex"));

impl Manifest {
    /// The entry for a tar, matched on its file name (the manifest writes
    /// `src/…` while a local copy sits anywhere).
    pub fn entry_for(&self, tar: &Path) -> Option<&ManifestEntry> {
        let name = tar.file_name()?.to_str()?;
        self.entries.get(name)
    }
}

/// The manifest that sits next to a bulk tar, if there is one.
pub fn manifest_next_to(tar: &Path) -> Option<PathBuf> {
    let path = tar.parent()?.join(MANIFEST_FILE_NAME);
    path.is_file().then_some(path)
}

pub fn read_manifest(path: &Path) -> Result<Manifest> {
    let xml = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the arXiv manifest {}; remove it or set validation.check_manifest: false",
            path.display()
        )
    })?;
    parse_manifest(&xml).with_context(|| {
        format!(
            "{} is not a valid arXivSRC manifest; fetch it again from the bulk-data bucket",
            path.display()
        )
    })
}

/// Parses the flat `arXivSRC` format: a list of `<file>` elements, each with
/// `<filename>` and `<md5sum>` children (other children are ignored).
pub fn parse_manifest(xml: &str) -> Result<Manifest> {
    if !xml.contains("<arXivSRC") {
        anyhow::bail!("no <arXivSRC> root element");
    }
    let mut entries = HashMap::new();
    for (index, block) in FILE_BLOCK.captures_iter(xml).enumerate() {
        let body = &block[1];
        let filename = child_text(body, "filename")
            .with_context(|| format!("<file> element {} has no <filename>", index + 1))?;
        let md5sum = child_text(body, "md5sum")
            .filter(|m| m.len() == 32 && m.bytes().all(|b| b.is_ascii_hexdigit()))
            .with_context(|| format!("<file> element {filename} has no 32-digit hex <md5sum>"))?
            .to_ascii_lowercase();
        let num_items = child_text(body, "num_items").and_then(|n| n.parse().ok());
        let key = filename.rsplit('/').next().unwrap_or(&filename).to_string();
        entries.insert(key, ManifestEntry { filename, md5sum, num_items });
    }
    Ok(Manifest { entries })
}

/// Bulk tars whose MD5 matched their manifest in an earlier run, one stamp
/// file each, named by the tar's path, size and modification time and by the
/// MD5 the manifest expects.
///
/// Why: hashing is the one part of `prepare` that cannot be split across
/// workers (MD5 reads a tar start to end, about 650 MB/s on one core), and a
/// dump is prepared many times over (Y01–Y06, reruns): 1.4 TB costs half an
/// hour of hashing each time. A tar that is rewritten, truncated or touched
/// changes its size or time and is hashed again, as is every tar when the
/// store is not given (`prepare --reverify`). What the quick check cannot
/// see is damage that keeps both (bit rot on disk after the first check).
#[derive(Debug, Clone)]
pub struct VerifiedTars {
    dir: PathBuf,
}

/// A verdict the store can record once the tar's MD5 matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarStamp {
    path: PathBuf,
}

impl VerifiedTars {
    /// The sub-directory of a work directory that holds the stamps.
    pub const DIR_NAME: &'static str = "verified-tars";

    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The stamp for `tar` expected to hash to `md5`; `fingerprint` is the
    /// tar's path, size and time as [`crate::corpus::source::InputUnit::fingerprint`] writes them.
    pub fn stamp_for(&self, fingerprint: &str, md5: &str) -> TarStamp {
        use sha2::{Digest, Sha256};
        let key = Sha256::new().chain_update(fingerprint).chain_update("\0").chain_update(md5).finalize();
        TarStamp { path: self.dir.join(format!("{}.json", &hex::encode(key)[..32])) }
    }
}

impl TarStamp {
    /// Whether an earlier run found this tar, as it is now, to hash to the expected MD5.
    pub fn is_recorded(&self) -> bool {
        self.path.is_file()
    }

    /// Records a match (`tar` and `md5` are written into the stamp for whoever reads it).
    pub fn record(&self, tar: &str, md5: &str) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| {
            format!("cannot create {} for the record of verified bulk tars; is it writable?", dir.display())
        })?;
        crate::io::write_json_atomic(&self.path, &serde_json::json!({ "tar": tar, "md5": md5 }))
    }
}

fn child_text(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = body.find(&open)? + open.len();
    let end = start + body[start..].find(&close)?;
    Some(body[start..end].trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "<?xml version='1.0' standalone='yes'?>\n<arXivSRC>\n  <file>\n    <content_md5sum>315a6aa1e24dc83118c09a5b543ee310</content_md5sum>\n    <filename>src/arXiv_src_2612_001.tar</filename>\n    <md5sum>E5F3F3E9ABE285F75A51A198272907BB</md5sum>\n    <num_items>10</num_items>\n  </file>\n</arXivSRC>\n";

    #[test]
    fn entries_are_keyed_by_tar_file_name() {
        let manifest = parse_manifest(SAMPLE).unwrap();
        let entry = manifest.entry_for(Path::new("/data/arXiv_src_2612_001.tar")).unwrap();
        assert_eq!(entry.md5sum, "e5f3f3e9abe285f75a51a198272907bb");
        assert_eq!(entry.num_items, Some(10));
        assert!(manifest.entry_for(Path::new("arXiv_src_2612_002.tar")).is_none());
    }

    #[test]
    fn a_file_without_md5_is_an_error_naming_it() {
        let xml = "<arXivSRC><file><filename>src/a.tar</filename></file></arXivSRC>";
        let err = parse_manifest(xml).unwrap_err().to_string();
        assert!(err.contains("src/a.tar"), "{err}");
    }

    #[test]
    fn not_a_manifest_is_an_error() {
        assert!(parse_manifest("<html></html>").is_err());
    }

    #[test]
    fn a_stamp_is_found_only_for_the_same_tar_state_and_expected_md5() {
        let dir = tempfile::tempdir().unwrap();
        let store = VerifiedTars::new(dir.path().join(VerifiedTars::DIR_NAME));
        let stamp = store.stamp_for("tar\na.tar\t10\t1\n", "e5f3");
        assert!(!stamp.is_recorded());
        stamp.record("a.tar", "e5f3").unwrap();
        assert!(store.stamp_for("tar\na.tar\t10\t1\n", "e5f3").is_recorded());
        // Touched, resized, or expected to hash to something else: not verified.
        assert!(!store.stamp_for("tar\na.tar\t10\t2\n", "e5f3").is_recorded());
        assert!(!store.stamp_for("tar\na.tar\t11\t1\n", "e5f3").is_recorded());
        assert!(!store.stamp_for("tar\na.tar\t10\t1\n", "e5f4").is_recorded());
    }

    #[test]
    fn the_real_sample_manifest_parses() {
        let path = Path::new(crate::corpus::real::REAL_CORPUS_DIR).join(MANIFEST_FILE_NAME);
        let manifest = read_manifest(&path).unwrap();
        let corpus = crate::corpus::real::RealCorpus::locate().unwrap();
        assert_eq!(manifest.entries.len(), corpus.tars.len(), "one manifest entry per bulk tar");
    }
}
