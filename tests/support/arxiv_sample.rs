//! Reads the embedded real arXiv corpus (`tests/data/arxiv-real`) into one
//! LaTeX document per paper, for tests and benchmarks (shared with `#[path]`).

use std::io::Read;
use std::path::{Path, PathBuf};

/// The bulk tars of the embedded real corpus (it is committed, so never absent).
pub fn arxiv_sample() -> Vec<PathBuf> {
    arxiv_to_model::corpus::real::RealCorpus::locate().expect("the embedded real corpus").tars
}

fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return None;
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).ok()?;
    Some(out)
}

fn is_tar(bytes: &[u8]) -> bool {
    bytes.len() > 262 && &bytes[257..262] == b"ustar"
}

/// The body of a LaTeX file: after `\begin{document}` when there is one
/// (the preamble is macro definitions, not text a model learns from).
fn body(tex: &str) -> &str {
    let start = tex.find("\\begin{document}").map_or(0, |i| i + "\\begin{document}".len());
    let end = tex.rfind("\\end{document}").filter(|&e| e >= start).unwrap_or(tex.len());
    &tex[start..end]
}

/// One document per paper of every tar: its `.tex` files' bodies.
pub fn sample_papers(tars: &[PathBuf]) -> Vec<(String, String)> {
    tars.iter().flat_map(|tar| tar_papers(tar)).collect()
}

/// One document per paper of one bulk tar (AppleDouble `._*` skipped).
fn tar_papers(tar_path: &Path) -> Vec<(String, String)> {
    let mut papers = Vec::new();
    let mut archive = tar::Archive::new(std::fs::File::open(tar_path).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let Some(inner) = gunzip(&bytes) else {
            continue;
        };
        let id = name.rsplit('/').next().unwrap_or(&name).trim_end_matches(".gz").to_string();
        let mut text = String::new();
        if is_tar(&inner) {
            let mut paper = tar::Archive::new(&inner[..]);
            for file in paper.entries().unwrap() {
                let mut file = file.unwrap();
                let path = file.path().unwrap().to_string_lossy().into_owned();
                let base = path.rsplit('/').next().unwrap_or(&path);
                if !path.ends_with(".tex") || base.starts_with("._") {
                    continue;
                }
                let mut tex = Vec::new();
                file.read_to_end(&mut tex).unwrap();
                text.push_str(body(&String::from_utf8_lossy(&tex)));
                text.push('\n');
            }
        } else {
            text = body(&String::from_utf8_lossy(&inner)).to_string();
        }
        if !text.trim().is_empty() {
            papers.push((id, text));
        }
    }
    papers
}
