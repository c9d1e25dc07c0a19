//! Byte-stable tar and gzip writers for the synthetic corpus (and for the
//! tests that hand-build arXiv-format inputs).
//!
//! Same seed, same bytes: every tar header carries a fixed mtime, uid/gid 0,
//! empty owner names and fixed modes, and every gzip header has mtime 0, no
//! file name and a fixed OS byte, so two runs (or two machines) agree.

use std::io::Write;

use anyhow::{Context, Result};
use flate2::{Compression, GzBuilder};

/// The mtime stamped on every tar member: 2024-02-01 00:00:00 UTC, when the
/// synthetic month `2401` would have been packed by arXiv.
pub const TAR_MTIME: u64 = 1_706_745_600;

/// One file inside a per-paper or bulk tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub path: String,
    pub bytes: Vec<u8>,
}

impl Member {
    pub fn new(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Member { path: path.into(), bytes: bytes.into() }
    }
}

/// Gzip with a fixed header (mtime 0, no name, OS byte 255 "unknown").
pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder =
        GzBuilder::new().mtime(0).operating_system(255).write(Vec::new(), Compression::default());
    encoder.write_all(bytes).context("gzip of a synthetic member")?;
    encoder.finish().context("finishing a synthetic gzip stream")
}

/// A ustar header with the project's fixed metadata.
fn fixed_header(size: u64, mode: u32, kind: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_size(size);
    header.set_mode(mode);
    header.set_mtime(TAR_MTIME);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(kind);
    header
}

/// Writes `path` into the header's name field without the tar crate's path
/// checks: the path-traversal case needs a literal `../evil.tex`, which
/// `Builder::append_data` refuses to write (as it should for real use).
fn set_raw_name(header: &mut tar::Header, path: &str) -> Result<()> {
    let name = &mut header.as_old_mut().name;
    anyhow::ensure!(
        path.len() < name.len(),
        "synthetic member path {path:?} is longer than a tar name field"
    );
    name.fill(0);
    name[..path.len()].copy_from_slice(path.as_bytes());
    Ok(())
}

/// A bare (uncompressed) tar of `members` in the given order; a directory
/// entry is written before the first member of each top-level directory, as
/// arXiv's bulk tars do (`2612/` in the real sample).
pub fn tar(members: &[Member], with_dir_entries: bool) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs_written: Vec<&str> = Vec::new();
    for member in members {
        if with_dir_entries {
            if let Some((dir, _)) = member.path.split_once('/') {
                if !dirs_written.contains(&dir) {
                    dirs_written.push(dir);
                    let mut header = fixed_header(0, 0o755, tar::EntryType::Directory);
                    set_raw_name(&mut header, &format!("{dir}/"))?;
                    header.set_cksum();
                    builder.append(&header, std::io::empty())?;
                }
            }
        }
        let mut header = fixed_header(member.bytes.len() as u64, 0o644, tar::EntryType::Regular);
        set_raw_name(&mut header, &member.path)?;
        header.set_cksum();
        builder
            .append(&header, member.bytes.as_slice())
            .with_context(|| format!("writing synthetic tar member {}", member.path))?;
    }
    builder.into_inner().context("finishing a synthetic tar")
}

/// A gzipped tar, the usual arXiv package of a multi-file submission.
pub fn tar_gz(members: &[Member]) -> Result<Vec<u8>> {
    gzip(&tar(members, false)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn gzip_header_is_fixed() {
        let gz = gzip(b"hello").expect("gzip");
        // magic, deflate, no flags, mtime 0, xfl, OS 255.
        assert_eq!(&gz[..4], &[0x1f, 0x8b, 8, 0]);
        assert_eq!(&gz[4..8], &[0, 0, 0, 0]);
        assert_eq!(gz[9], 255);
    }

    #[test]
    fn raw_names_keep_parent_components() {
        let bytes = tar(&[Member::new("../evil.tex", b"x".to_vec())], false).expect("tar");
        let mut archive = tar::Archive::new(bytes.as_slice());
        let entry = archive.entries().expect("entries").next().expect("one entry").expect("entry");
        assert_eq!(entry.path_bytes().as_ref(), b"../evil.tex");
    }

    #[test]
    fn tar_round_trips_with_fixed_metadata() {
        let members = [Member::new("2401/a.gz", b"aaa".to_vec()), Member::new("2401/b.gz", b"bb".to_vec())];
        let bytes = tar(&members, true).expect("tar");
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            assert_eq!(entry.header().mtime().expect("mtime"), TAR_MTIME);
            assert_eq!(entry.header().uid().expect("uid"), 0);
            let mut body = Vec::new();
            entry.read_to_end(&mut body).expect("read");
            seen.push((String::from_utf8_lossy(&entry.path_bytes()).into_owned(), body));
        }
        assert_eq!(seen[0].0, "2401/");
        assert_eq!(seen[1], ("2401/a.gz".to_string(), b"aaa".to_vec()));
        assert_eq!(seen[2], ("2401/b.gz".to_string(), b"bb".to_vec()));
    }
}
