//! Stage 2, archive validation: what a per-paper source file really is, and
//! whether it is safe and small enough to read.
//!
//! arXiv's `<id>.gz` may be a gzipped tar (multi-file submission), a gzipped
//! single `.tex`, or even plain LaTeX under a `.gz` name, so the content is
//! sniffed, never the suffix. Members are read in memory, never extracted to
//! disk. Reasons are checked in a fixed order: empty → corrupt → not LaTeX
//! at all (PDF, PostScript, HTML, unknown) → `not-a-tar` (released mode) →
//! unsafe member → too large → no `.tex`.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::io::Read;
use std::rc::Rc;

use flate2::bufread::MultiGzDecoder;
use serde::{Deserialize, Serialize};

use crate::ledger::DropReason;
use crate::spec::data::{Validation, ValidationMode};

/// What a paper's source turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// Gzipped tar: arXiv's multi-file submission.
    TarGz,
    /// Bare tar.
    Tar,
    /// Gzipped single LaTeX file: arXiv's single-file submission.
    TexGz,
    /// Plain LaTeX (possibly under a `.gz` name).
    Tex,
}

/// What the bytes look like, before any decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Empty,
    Gzip,
    Tar,
    Pdf,
    PostScript,
    Html,
    Text,
    Unknown,
}

/// One archive member kept for the later stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidSource {
    pub kind: SourceKind,
    pub members: Vec<Member>,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// How much of a file the text sniffer looks at.
const SNIFF_BYTES: usize = 64 * 1024;

pub fn sniff(bytes: &[u8]) -> Sniffed {
    if bytes.is_empty() {
        Sniffed::Empty
    } else if bytes.starts_with(&GZIP_MAGIC) {
        Sniffed::Gzip
    } else if looks_like_tar(bytes) {
        Sniffed::Tar
    } else if bytes.starts_with(b"%PDF-") {
        Sniffed::Pdf
    } else if bytes.starts_with(b"%!PS") {
        // Not just "%!": TeXShop's magic comment `%!TEX program = …` opens many LaTeX files.
        Sniffed::PostScript
    } else if looks_like_html(bytes) {
        Sniffed::Html
    } else if looks_like_text(bytes) {
        Sniffed::Text
    } else {
        Sniffed::Unknown
    }
}

/// A POSIX/GNU tar has `ustar` at offset 257; a V7 tar (old arXiv
/// submissions) has none, so its header checksum decides.
pub fn looks_like_tar(bytes: &[u8]) -> bool {
    if bytes.len() < 512 {
        return false;
    }
    let header = &bytes[..512];
    if &header[257..262] == b"ustar" {
        return true;
    }
    let stored = std::str::from_utf8(&header[148..156])
        .ok()
        .map(|s| s.trim_matches(|c: char| c == '\0' || c == ' '))
        .and_then(|s| u32::from_str_radix(s, 8).ok());
    let computed: u32 =
        header.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { b as u32 }).sum();
    header[0] != 0 && stored == Some(computed)
}

fn looks_like_html(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(512)];
    let text = String::from_utf8_lossy(head).to_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    ["<!doctype html", "<html", "<head"].iter().any(|tag| text.starts_with(tag))
}

/// Text: no NUL and at most 1% control bytes other than tab, newlines, form
/// feed and escape in the first 64 KiB (Latin-1 and UTF-8 bytes count as text).
pub fn looks_like_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    if head.contains(&0) {
        return false;
    }
    let control =
        head.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b)).count();
    control * 100 <= head.len()
}

/// Decompresses a gzip stream without ever holding more than `cap` bytes:
/// reading stops at the cap (`too-large`); a stream that ends early or fails
/// its CRC is `corrupt`.
pub fn gunzip_capped(bytes: &[u8], cap: u64) -> Result<Vec<u8>, DropReason> {
    let mut out = Vec::new();
    let mut decoder = MultiGzDecoder::new(bytes).take(cap.saturating_add(1));
    decoder.read_to_end(&mut out).map_err(|_| DropReason::Corrupt)?;
    if out.len() as u64 > cap {
        return Err(DropReason::TooLarge);
    }
    Ok(out)
}

/// macOS resource forks (`._name`) and Finder's `.DS_Store` ride along in
/// tars made on a Mac (sample paper 1801.03879 has a `._defective-fpt.tex`
/// of binary junk); they are skipped silently, not counted as members.
pub fn is_macos_metadata(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    base.starts_with("._") || base == ".DS_Store"
}

/// Absolute paths, `..` components, links and devices could reach outside a
/// paper if extracted; such a paper is dropped whole.
pub fn is_unsafe_member(name: &str, kind: tar::EntryType) -> bool {
    let absolute = name.starts_with('/') || name.starts_with('\\');
    let escapes = name.split(['/', '\\']).any(|c| c == "..");
    let special = matches!(
        kind,
        tar::EntryType::Symlink
            | tar::EntryType::Link
            | tar::EntryType::Char
            | tar::EntryType::Block
            | tar::EntryType::Fifo
    );
    absolute || escapes || special
}

/// Released: only names ending in `.tex` count as LaTeX (case-sensitive, as `str.endswith`).
pub fn is_tex_member(name: &str) -> bool {
    name.ends_with(".tex")
}

/// Counts decompressed bytes against the per-paper cap. Past the cap a read
/// fails and `hit` is set, so the caller can tell `too-large` from `corrupt`
/// and nothing past the cap is ever decompressed into memory.
struct CappedReader<R> {
    inner: R,
    left: u64,
    hit: Rc<Cell<bool>>,
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            self.hit.set(true);
            return Err(std::io::Error::other("decompressed size cap reached"));
        }
        let max = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Reads every member of a tar stream (decompressed on the fly), applying the
/// safety rules and caps to all of them; only the members the later stages
/// read (`reads`, by name) are held in memory. The others (figures, mostly:
/// most of a paper's bytes) are decompressed and walked past, so that their
/// damage and size still count, but never copied out.
pub fn read_tar_members(
    tar: impl Read,
    v: &Validation,
    reads: fn(&str) -> bool,
) -> Result<Vec<Member>, DropReason> {
    let hit = Rc::new(Cell::new(false));
    let capped = CappedReader { inner: tar, left: v.max_paper_bytes, hit: Rc::clone(&hit) };
    let scanned = scan_tar_members(capped, v, reads);
    if hit.get() {
        return Err(DropReason::TooLarge);
    }
    scanned
}

fn scan_tar_members(
    reader: impl Read,
    v: &Validation,
    reads: fn(&str) -> bool,
) -> Result<Vec<Member>, DropReason> {
    let mut archive = tar::Archive::new(reader);
    let (mut unsafe_member, mut too_large) = (false, false);
    let (mut count, mut total) = (0u64, 0u64);
    let mut members = Vec::new();
    for entry in archive.entries().map_err(|_| DropReason::Corrupt)? {
        // Corrupt outranks every later reason, so damage anywhere wins.
        let mut entry = entry.map_err(|_| DropReason::Corrupt)?;
        count += 1;
        if count > u64::from(v.max_members) {
            too_large = true;
            break;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if is_unsafe_member(&name, kind) {
            unsafe_member = true;
            continue;
        }
        if !kind.is_file() || is_macos_metadata(&name) {
            continue;
        }
        let size = entry.size();
        total = total.saturating_add(size);
        if size > v.max_member_bytes || total > v.max_paper_bytes {
            too_large = true;
            continue;
        }
        // LaTeX is always held: it decides `no-tex`.
        if !(is_tex_member(&name) || reads(&name)) {
            if read_past(&mut entry)? != size {
                return Err(DropReason::Corrupt);
            }
            continue;
        }
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        entry.read_to_end(&mut bytes).map_err(|_| DropReason::Corrupt)?;
        if bytes.len() as u64 != size {
            return Err(DropReason::Corrupt);
        }
        members.push(Member { name, bytes });
    }
    // The rest of the stream (end blocks, padding) still has to decompress
    // cleanly: a gzip CRC error there is a corrupt paper.
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink()).map_err(|_| DropReason::Corrupt)?;
    if unsafe_member {
        return Err(DropReason::UnsafeMember);
    }
    if too_large {
        return Err(DropReason::TooLarge);
    }
    if !members.iter().any(|m| is_tex_member(&m.name)) {
        return Err(DropReason::NoTex);
    }
    Ok(members)
}

/// The first `n` decompressed bytes, enough to tell a tar from anything else.
fn gunzip_prefix(bytes: &[u8], n: u64) -> Result<Vec<u8>, DropReason> {
    let mut head = Vec::new();
    MultiGzDecoder::new(bytes).take(n).read_to_end(&mut head).map_err(|_| DropReason::Corrupt)?;
    Ok(head)
}

/// Reads a member nobody keeps to its end; returns its length. Steps are
/// 256 KiB: inflate copies the last 32 KiB of each call's output into its
/// window, so the archive's own 32 KiB skip copied every byte a second time.
fn read_past(member: &mut impl Read) -> Result<u64, DropReason> {
    thread_local! {
        static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; 256 << 10]);
    }
    SCRATCH.with_borrow_mut(|scratch| {
        let mut len = 0;
        loop {
            match member.read(scratch) {
                Ok(0) => return Ok(len),
                Ok(n) => len += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Err(DropReason::Corrupt),
            }
        }
    })
}

/// Judges one paper's stored bytes. `id` names the member of a single-file
/// submission; `reads` picks the members of an archive the later stages read
/// (see [`read_tar_members`]).
pub fn validate_source(
    raw: &[u8],
    id: &str,
    v: &Validation,
    reads: fn(&str) -> bool,
) -> Result<ValidSource, DropReason> {
    match sniff(raw) {
        Sniffed::Empty => Err(DropReason::Empty),
        Sniffed::Tar => Ok(ValidSource { kind: SourceKind::Tar, members: read_tar_members(raw, v, reads)? }),
        Sniffed::Gzip if looks_like_tar(&gunzip_prefix(raw, 512)?) => Ok(ValidSource {
            kind: SourceKind::TarGz,
            members: read_tar_members(MultiGzDecoder::new(raw), v, reads)?,
        }),
        Sniffed::Gzip => {
            let content = gunzip_capped(raw, v.max_paper_bytes)?;
            judge_content(Cow::Owned(content), true, id, v, reads)
        }
        _ => judge_content(Cow::Borrowed(raw), false, id, v, reads),
    }
}

/// Content that is not a tar: what it is decides the reason.
fn judge_content(
    content: Cow<[u8]>,
    gzipped: bool,
    id: &str,
    v: &Validation,
    reads: fn(&str) -> bool,
) -> Result<ValidSource, DropReason> {
    match sniff(&content) {
        Sniffed::Empty => Err(DropReason::Empty),
        Sniffed::Tar => Ok(ValidSource {
            kind: if gzipped { SourceKind::TarGz } else { SourceKind::Tar },
            members: read_tar_members(&content[..], v, reads)?,
        }),
        Sniffed::Pdf => Err(DropReason::PdfOnly),
        Sniffed::PostScript => Err(DropReason::PostscriptOnly),
        Sniffed::Html => Err(DropReason::HtmlOnly),
        // gzip inside gzip, binary junk
        Sniffed::Gzip | Sniffed::Unknown => Err(DropReason::UnknownFormat),
        Sniffed::Text => single_file_source(content.into_owned(), gzipped, id, v),
    }
}

/// A single LaTeX file: invalid in the released `tar-only` mode (the author's
/// script calls `tarfile.open` and gives up), a one-member source in `sniff` mode.
fn single_file_source(
    content: Vec<u8>,
    gzipped: bool,
    id: &str,
    v: &Validation,
) -> Result<ValidSource, DropReason> {
    if v.mode == ValidationMode::TarOnly {
        return Err(DropReason::NotATar);
    }
    if content.len() as u64 > v.max_member_bytes {
        return Err(DropReason::TooLarge);
    }
    Ok(ValidSource {
        kind: if gzipped { SourceKind::TexGz } else { SourceKind::Tex },
        members: vec![Member { name: format!("{}.tex", id.replace('/', "")), bytes: content }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use rstest::rstest;
    use std::io::Write;

    pub(crate) fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Default::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    /// A tar built header by header, so unsafe names and types can be written.
    pub(crate) fn tar_of(members: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, kind, data) in members {
            let mut header = tar::Header::new_gnu();
            header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            header.set_entry_type(*kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend_from_slice(&[0; 1024]);
        out
    }

    fn file<'a>(name: &'a str, data: &'static [u8]) -> (&'a str, tar::EntryType, &'static [u8]) {
        (name, tar::EntryType::Regular, data)
    }

    fn caps(mode: ValidationMode) -> Validation {
        Validation {
            mode,
            check_manifest: false,
            max_paper_bytes: 4096,
            max_member_bytes: 2048,
            max_members: 4,
        }
    }

    const TEX: &[u8] = b"\\documentclass{article}\\begin{document}Hi\\end{document}";

    fn outcome(raw: &[u8], mode: ValidationMode) -> Result<(SourceKind, Vec<String>), DropReason> {
        validate_source(raw, "math/0601001", &caps(mode), |_| true)
            .map(|s| (s.kind, s.members.into_iter().map(|m| m.name).collect()))
    }

    #[rstest]
    #[case::tar_gz(gz(&tar_of(&[file("ms.tex", TEX)])), Ok(SourceKind::TarGz))]
    #[case::bare_tar(tar_of(&[file("ms.tex", TEX)]), Ok(SourceKind::Tar))]
    #[case::empty(Vec::new(), Err(DropReason::Empty))]
    #[case::empty_gzip(gz(b""), Err(DropReason::Empty))]
    #[case::truncated_gzip(gz(&tar_of(&[file("ms.tex", TEX)]))[..40].to_vec(), Err(DropReason::Corrupt))]
    #[case::pdf(b"%PDF-1.4\n...".to_vec(), Err(DropReason::PdfOnly))]
    #[case::gzipped_pdf(gz(b"%PDF-1.5\n"), Err(DropReason::PdfOnly))]
    #[case::postscript(gz(b"%!PS-Adobe-2.0\n"), Err(DropReason::PostscriptOnly))]
    #[case::html(b"  <!DOCTYPE html><html></html>".to_vec(), Err(DropReason::HtmlOnly))]
    #[case::binary(gz(&[0u8, 1, 2, 3, 200, 0]), Err(DropReason::UnknownFormat))]
    #[case::single_tex_gz(gz(TEX), Err(DropReason::NotATar))]
    #[case::plain_tex_named_gz(TEX.to_vec(), Err(DropReason::NotATar))]
    #[case::texshop_magic_is_not_postscript(
        gz(b"%!TEX program = pdflatex\n\\begin{document}"),
        Err(DropReason::NotATar)
    )]
    #[case::figures_only(gz(&tar_of(&[file("fig.pdf", b"%PDF-1.4")])), Err(DropReason::NoTex))]
    #[case::upper_case_tex_is_not_tex(gz(&tar_of(&[file("MS.TEX", TEX)])), Err(DropReason::NoTex))]
    fn released_tar_only_mode(#[case] raw: Vec<u8>, #[case] want: Result<SourceKind, DropReason>) {
        assert_eq!(outcome(&raw, ValidationMode::TarOnly).map(|o| o.0), want);
    }

    #[rstest]
    #[case::single_tex_gz(gz(TEX), Ok(SourceKind::TexGz))]
    #[case::plain_tex_named_gz(TEX.to_vec(), Ok(SourceKind::Tex))]
    #[case::pdf_still_pdf(gz(b"%PDF-1.5\n"), Err(DropReason::PdfOnly))]
    #[case::oversized_single_file(gz(&[b'a'; 3000]), Err(DropReason::TooLarge))]
    fn sniff_mode_accepts_single_file_latex(
        #[case] raw: Vec<u8>,
        #[case] want: Result<SourceKind, DropReason>,
    ) {
        assert_eq!(outcome(&raw, ValidationMode::Sniff).map(|o| o.0), want);
    }

    #[test]
    fn a_single_file_member_is_named_after_the_id() {
        let got = outcome(&gz(TEX), ValidationMode::Sniff).unwrap();
        assert_eq!(got.1, vec!["math0601001.tex".to_string()]);
    }

    #[rstest]
    #[case::absolute(&[file("/etc/passwd.tex", TEX)], DropReason::UnsafeMember)]
    #[case::dot_dot(&[file("ms.tex", TEX), file("../../x.tex", TEX)], DropReason::UnsafeMember)]
    #[case::symlink(&[file("ms.tex", TEX), ("link.tex", tar::EntryType::Symlink, b"")], DropReason::UnsafeMember)]
    #[case::hard_link(&[file("ms.tex", TEX), ("h.tex", tar::EntryType::Link, b"")], DropReason::UnsafeMember)]
    #[case::device(&[file("ms.tex", TEX), ("dev", tar::EntryType::Char, b"")], DropReason::UnsafeMember)]
    #[case::member_too_large(&[file("ms.tex", &[b'a'; 2049])], DropReason::TooLarge)]
    #[case::paper_too_large(&[file("a.tex", &[b'a'; 2000]), file("b.tex", &[b'a'; 2000]), file("c.tex", &[b'a'; 2000])], DropReason::TooLarge)]
    #[case::too_many_members(&[file("a.tex", TEX), file("b", b""), file("c", b""), file("d", b""), file("e", b"")], DropReason::TooLarge)]
    #[case::unsafe_outranks_too_many(&[file("../b.tex", b""), file("a.tex", TEX), file("b", b""), file("c", b""), file("d", b"")], DropReason::UnsafeMember)]
    #[case::macos_tex_junk_is_not_tex(&[file("._ms.tex", TEX), file(".DS_Store", b"x")], DropReason::NoTex)]
    fn archive_safety_and_caps(#[case] members: &[(&str, tar::EntryType, &[u8])], #[case] want: DropReason) {
        assert_eq!(outcome(&gz(&tar_of(members)), ValidationMode::TarOnly), Err(want));
    }

    #[test]
    fn corrupt_outranks_unsafe() {
        let mut tar = tar_of(&[file("../x.tex", TEX), file("ms.tex", &[b'a'; 1500])]);
        tar.truncate(512 * 3 + 100);
        assert_eq!(outcome(&gz(&tar), ValidationMode::TarOnly), Err(DropReason::Corrupt));
    }

    #[test]
    fn macos_members_are_skipped_silently() {
        let raw = gz(&tar_of(&[
            file("./._ms.tex", b"\0\x05\x16\x07"),
            file("ms.tex", TEX),
            file("sub/.DS_Store", b"\0"),
        ]));
        let got = outcome(&raw, ValidationMode::TarOnly).unwrap();
        assert_eq!(got.1, vec!["ms.tex".to_string()]);
    }

    /// Members the later stages do not read are walked past, not held, and
    /// the paper's verdict does not change: damage or a cap hit inside such a
    /// member (cut at every 64 bytes, gzipped or not, the gzip checksum
    /// flipped) drops it exactly as when every member is read.
    #[test]
    fn members_not_read_are_not_held_and_judged_alike() {
        const FIGURE: [u8; 1500] = [b'%'; 1500];
        let tar = tar_of(&[file("ms.tex", TEX), file("fig.pdf", &FIGURE), file("defs.sty", b"\\def\\x{y}")]);
        let mut inputs = vec![tar.clone(), gz(&tar)];
        for cut in (0..tar.len()).step_by(64) {
            inputs.push(tar[..cut].to_vec());
            inputs.push(gz(&tar[..cut]));
        }
        let mut bad_crc = gz(&tar);
        let crc = bad_crc.len() - 8;
        bad_crc[crc] ^= 0xff;
        inputs.push(bad_crc);
        let verdict = |raw: &[u8], reads: fn(&str) -> bool, cap: u64| {
            let v =
                Validation { max_paper_bytes: cap, max_member_bytes: cap, ..caps(ValidationMode::TarOnly) };
            validate_source(raw, "math/0601001", &v, reads)
                .map(|s| (s.kind, s.members.into_iter().map(|m| m.name).collect::<Vec<_>>()))
        };
        let whole = |reads| verdict(&inputs[1], reads, 1 << 20).map(|(_, names)| names);
        assert_eq!(whole(|_| true), Ok(vec!["ms.tex".into(), "fig.pdf".into(), "defs.sty".into()]));
        assert_eq!(whole(|name| name.ends_with(".sty")), Ok(vec!["ms.tex".into(), "defs.sty".into()]));
        let mut drops = 0;
        for raw in &inputs {
            for cap in [1 << 20, 1024] {
                let all = verdict(raw, |_| true, cap);
                let tex_only = verdict(raw, |name| name.ends_with(".sty"), cap);
                drops += usize::from(all.is_err());
                match (&all, &tex_only) {
                    (Ok((kind, names)), Ok((kind_read, names_read))) => {
                        assert_eq!(kind, kind_read);
                        let read: Vec<_> = names.iter().filter(|n| *n != "fig.pdf").cloned().collect();
                        assert_eq!(names_read, &read, "the .tex is always held");
                    }
                    _ => assert_eq!(all, tex_only, "{} bytes, cap {cap}", raw.len()),
                }
            }
        }
        assert!(drops > inputs.len(), "the damaged inputs were not all judged kept: {drops} drops");
    }

    #[test]
    fn a_bad_gzip_checksum_after_the_tar_end_is_corrupt() {
        let mut raw = gz(&tar_of(&[file("ms.tex", TEX)]));
        let crc = raw.len() - 8;
        raw[crc] ^= 0xff;
        assert_eq!(outcome(&raw, ValidationMode::TarOnly), Err(DropReason::Corrupt));
    }

    #[test]
    fn a_tar_bomb_stops_at_the_paper_cap() {
        let bomb = vec![0u8; 8 << 20];
        let members = [file("ms.tex", TEX), ("zeros.bin", tar::EntryType::Regular, &bomb[..])];
        assert_eq!(outcome(&gz(&tar_of(&members)), ValidationMode::TarOnly), Err(DropReason::TooLarge));
    }

    #[test]
    fn decompression_stops_at_the_cap() {
        let bomb = gz(&vec![0u8; 1 << 20]);
        assert_eq!(gunzip_capped(&bomb, 4096), Err(DropReason::TooLarge));
        assert_eq!(gunzip_capped(&bomb, 1 << 20).map(|v| v.len()), Ok(1 << 20));
    }

    #[test]
    fn v7_tars_without_ustar_magic_are_tars() {
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..6].copy_from_slice(b"ms.tex");
        header.set_size(0);
        header.set_cksum();
        let mut bytes = header.as_bytes().to_vec();
        bytes.extend_from_slice(&[0; 1024]);
        assert!(looks_like_tar(&bytes));
        bytes[0] = b'x';
        assert!(!looks_like_tar(&bytes));
    }
}
