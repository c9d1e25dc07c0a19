//! Where papers come from: bulk tars (`arXiv_src_YYMM_NNN.tar`), directories
//! of per-paper files, or single per-paper files, read as a stream of raw
//! (still compressed) papers.
//!
//! An *input unit* is the grain of sharding and resuming: one bulk tar, or a
//! run of up to [`FILES_PER_UNIT`] per-paper files in sorted order.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::id::{arxiv_id_from_name, name_stem};
use super::manifest::MANIFEST_FILE_NAME;

/// Per-paper files grouped into one resumable unit.
pub const FILES_PER_UNIT: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum InputUnit {
    BulkTar { path: PathBuf },
    PaperFiles { files: Vec<PathBuf> },
}

impl InputUnit {
    /// A short human label for logs and reports.
    pub fn label(&self) -> String {
        match self {
            InputUnit::BulkTar { path } => path.display().to_string(),
            InputUnit::PaperFiles { files } => match (files.first(), files.last()) {
                (Some(a), Some(b)) if files.len() > 1 => {
                    format!("{} … {} ({} files)", a.display(), b.display(), files.len())
                }
                (Some(a), _) => a.display().to_string(),
                _ => "(no files)".to_string(),
            },
        }
    }

    /// Paths, sizes and modification times: a unit whose fingerprint changed
    /// is reprocessed instead of resumed.
    pub fn fingerprint(&self) -> String {
        let describe = |p: &Path| {
            let meta = std::fs::metadata(p).ok();
            let len = meta.as_ref().map_or(0, |m| m.len());
            let mtime = meta
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}\t{len}\t{mtime}\n", p.display())
        };
        match self {
            InputUnit::BulkTar { path } => format!("tar\n{}", describe(path)),
            InputUnit::PaperFiles { files } => {
                let mut s = String::from("files\n");
                files.iter().for_each(|f| s.push_str(&describe(f)));
                s
            }
        }
    }

    /// Compressed bytes on disk.
    pub fn size_on_disk(&self) -> u64 {
        let size = |p: &PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
        match self {
            InputUnit::BulkTar { path } => size(path),
            InputUnit::PaperFiles { files } => files.iter().map(size).sum(),
        }
    }
}

/// arXiv's bulk source tars are named `arXiv_src_YYMM_NNN.tar`.
pub fn is_bulk_tar_name(name: &str) -> bool {
    name.starts_with("arXiv_src_") && name.ends_with(".tar")
}

/// Expands `--src` paths into input units in a deterministic order: paths in
/// the order given; inside a directory, entries sorted by name, recursively.
/// Inside directories only bulk tars and files named like an arXiv id are
/// taken (the sample folder also holds a README and metadata); a file named
/// explicitly is always taken.
pub fn plan_inputs(src: &[PathBuf]) -> Result<Vec<InputUnit>> {
    if src.is_empty() {
        anyhow::bail!(
            "no input: pass at least one --src (a bulk tar, a directory of per-paper files, or a file)"
        );
    }
    let mut units = Vec::new();
    for path in src {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("--src {} does not exist or cannot be read", path.display()))?;
        if !meta.is_dir() {
            crate::io::require_regular_file(path, "--src")?;
        }
        let mut loose = Vec::new();
        if meta.is_dir() {
            collect_dir(path, &mut units, &mut loose)?;
        } else if path.file_name().and_then(|n| n.to_str()).is_some_and(is_bulk_tar_name) {
            units.push(InputUnit::BulkTar { path: path.clone() });
        } else {
            loose.push(path.clone());
        }
        units.extend(loose.chunks(FILES_PER_UNIT).map(|c| InputUnit::PaperFiles { files: c.to_vec() }));
    }
    Ok(units)
}

fn collect_dir(dir: &Path, units: &mut Vec<InputUnit>, loose: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list the --src directory {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot list the --src directory {}", dir.display()))?;
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if name.starts_with('.') || name == MANIFEST_FILE_NAME {
            continue;
        }
        if path.is_dir() {
            collect_dir(&path, units, loose)?;
        } else if is_bulk_tar_name(&name) || arxiv_id_from_name(&name).is_some() {
            // A FIFO named like a paper would block the reader forever.
            crate::io::require_regular_file(&path, "--src")?;
            if is_bulk_tar_name(&name) {
                units.push(InputUnit::BulkTar { path });
            } else {
                loose.push(path);
            }
        }
    }
    Ok(())
}

/// One paper as stored, before any decompression.
#[derive(Debug)]
pub struct RawPaper {
    pub id: String,
    /// Member or file name it came from.
    pub name: String,
    /// Compressed size as stored.
    pub bytes_in: u64,
    pub content: RawContent,
}

#[derive(Debug)]
pub enum RawContent {
    Bytes(Vec<u8>),
    /// The caller did not need the content (the paper was already dropped).
    NotRead,
    /// Stored size above the per-paper cap: not read at all.
    TooLarge,
    /// The stored bytes end early or cannot be read.
    Unreadable(String),
}

/// What reading a unit found besides papers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitReadReport {
    /// md5 of the whole bulk tar, when asked for.
    pub md5: Option<String>,
    /// Problems that stopped or skipped part of the unit (a truncated bulk tar).
    pub errors: Vec<String>,
}

/// Streams the papers of `unit` to `visit`, one at a time, in stored order.
/// `wants_content(id)` false skips reading a paper's bytes; papers stored
/// larger than `cap` bytes are not read. Fails only when the unit cannot be
/// opened; damage inside it is reported in [`UnitReadReport::errors`].
pub fn read_unit(
    unit: &InputUnit,
    cap: u64,
    hash_bulk_tar: bool,
    wants_content: &dyn Fn(&str) -> bool,
    visit: &mut dyn FnMut(RawPaper) -> Result<()>,
) -> Result<UnitReadReport> {
    match unit {
        InputUnit::BulkTar { path } => read_bulk_tar(path, cap, hash_bulk_tar, wants_content, visit),
        InputUnit::PaperFiles { files } => {
            for file in files {
                visit(read_paper_file(file, cap, wants_content)?)?;
            }
            Ok(UnitReadReport::default())
        }
    }
}

fn paper_id(name: &str) -> String {
    arxiv_id_from_name(name).unwrap_or_else(|| name_stem(name))
}

fn read_paper_file(file: &Path, cap: u64, wants_content: &dyn Fn(&str) -> bool) -> Result<RawPaper> {
    let name = file.display().to_string();
    let id = paper_id(&name);
    let bytes_in = std::fs::metadata(file)
        .with_context(|| format!("cannot read the input file {}", file.display()))?
        .len();
    let content = if !wants_content(&id) {
        RawContent::NotRead
    } else if bytes_in > cap {
        RawContent::TooLarge
    } else {
        match std::fs::read(file) {
            Ok(bytes) => RawContent::Bytes(bytes),
            Err(e) => RawContent::Unreadable(e.to_string()),
        }
    };
    Ok(RawPaper { id, name, bytes_in, content })
}

/// Feeds every byte read through an md5, so the manifest check costs no second pass.
struct HashingReader<R> {
    inner: R,
    md5: Option<Md5>,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(md5) = self.md5.as_mut() {
            md5.update(&buf[..n]);
        }
        Ok(n)
    }
}

fn read_bulk_tar(
    path: &Path,
    cap: u64,
    hash: bool,
    wants_content: &dyn Fn(&str) -> bool,
    visit: &mut dyn FnMut(RawPaper) -> Result<()>,
) -> Result<UnitReadReport> {
    let file = File::open(path).with_context(|| format!("cannot open the bulk tar {}", path.display()))?;
    let reader = HashingReader { inner: BufReader::with_capacity(1 << 20, file), md5: hash.then(Md5::new) };
    let mut archive = tar::Archive::new(reader);
    let mut report = UnitReadReport::default();
    let entries =
        archive.entries().with_context(|| format!("cannot read the bulk tar {}", path.display()))?;
    for entry in entries {
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                // A truncated or damaged bulk tar: the papers after this point
                // cannot be named, so the reader stops and says so.
                report.errors.push(format!(
                    "{}: stopped reading, the tar is damaged after this point: {e}",
                    path.display()
                ));
                break;
            }
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let id = paper_id(&name);
        let bytes_in = entry.size();
        let content = if !wants_content(&id) {
            RawContent::NotRead
        } else if bytes_in > cap {
            RawContent::TooLarge
        } else {
            let mut bytes = Vec::with_capacity(bytes_in as usize);
            match entry.read_to_end(&mut bytes) {
                Ok(_) if bytes.len() as u64 == bytes_in => RawContent::Bytes(bytes),
                Ok(n) => RawContent::Unreadable(format!("member ends after {n} of {bytes_in} bytes")),
                Err(e) => RawContent::Unreadable(e.to_string()),
            }
        };
        visit(RawPaper { id, name, bytes_in, content })?;
    }
    if hash {
        // tar stops at the end-of-archive blocks; the md5 covers the whole file.
        let mut reader = archive.into_inner();
        std::io::copy(&mut reader, &mut std::io::sink())
            .with_context(|| format!("cannot read the bulk tar {} to its end", path.display()))?;
        report.md5 = reader.md5.map(|m| hex::encode(m.finalize()));
    }
    Ok(report)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tar of regular files (shared by other modules' tests).
    pub(crate) fn tar_with(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn collect(unit: &InputUnit, cap: u64) -> (Vec<(String, u64, String)>, UnitReadReport) {
        let mut seen = Vec::new();
        let report = read_unit(unit, cap, true, &|id| id != "skip/0000001", &mut |p| {
            let kind = match p.content {
                RawContent::Bytes(b) => format!("bytes:{}", b.len()),
                RawContent::NotRead => "not-read".into(),
                RawContent::TooLarge => "too-large".into(),
                RawContent::Unreadable(_) => "unreadable".into(),
            };
            seen.push((p.id, p.bytes_in, kind));
            Ok(())
        })
        .unwrap();
        (seen, report)
    }

    #[test]
    fn bulk_tar_members_are_named_by_member_file_names_and_hashed_whole() {
        let dir = tempfile::tempdir().unwrap();
        let tar = tar_with(&[
            ("2612/2612.90003.gz", b"abc"),
            ("0601/math0601001.gz", b"defg"),
            ("0601/skip0000001.gz", b"x"),
            ("2612/2612.90004.pdf", &[0u8; 100]),
        ]);
        let path = dir.path().join("arXiv_src_2612_001.tar");
        std::fs::write(&path, &tar).unwrap();
        let (seen, report) = collect(&InputUnit::BulkTar { path }, 50);
        assert_eq!(
            seen,
            vec![
                ("2612.90003".into(), 3, "bytes:3".into()),
                ("math/0601001".into(), 4, "bytes:4".into()),
                ("skip/0000001".into(), 1, "not-read".into()),
                ("2612.90004".into(), 100, "too-large".into()),
            ]
        );
        assert_eq!(report.md5, Some(hex::encode(Md5::digest(&tar))));
        assert!(report.errors.is_empty());
    }

    #[test]
    fn a_truncated_bulk_tar_reports_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let mut tar = tar_with(&[("a/2612.90003.gz", &[1u8; 600]), ("a/2612.90004.gz", b"x")]);
        tar.truncate(700);
        let path = dir.path().join("arXiv_src_2612_002.tar");
        std::fs::write(&path, &tar).unwrap();
        let (seen, report) = collect(&InputUnit::BulkTar { path }, 1 << 20);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].2, "unreadable");
        assert!(report.md5.is_some());
    }

    #[test]
    fn directories_are_walked_in_order_and_keep_only_paper_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("sub")).unwrap();
        // A README, dotfiles and the manifest sit beside papers in real dumps.
        for name in [
            "README.md",
            "2612.90003.gz",
            "sub/math0601001.pdf",
            ".DS_Store",
            "arXiv_src_2612_001.tar",
            MANIFEST_FILE_NAME,
        ] {
            std::fs::write(root.join(name), b"x").unwrap();
        }
        let units = plan_inputs(&[root.to_path_buf()]).unwrap();
        assert_eq!(
            units,
            vec![
                InputUnit::BulkTar { path: root.join("arXiv_src_2612_001.tar") },
                InputUnit::PaperFiles {
                    files: vec![root.join("2612.90003.gz"), root.join("sub/math0601001.pdf")]
                },
            ]
        );
    }

    #[test]
    fn missing_or_no_src_is_a_clear_error() {
        assert!(plan_inputs(&[]).unwrap_err().to_string().contains("--src"));
        let err = plan_inputs(&[PathBuf::from("/no/such/arXiv_src_0001_001.tar")]).unwrap_err();
        assert!(err.to_string().contains("/no/such"), "{err}");
    }
}
