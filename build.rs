// Build facts that run records and the stage cache need:
// - the compiler version (results can depend on it);
// - a hash of the code that computes results (src/, runs/ are data and are
//   hashed per stage; Cargo.lock pins the dependencies), so a stage output
//   cached by an older build is never taken for this build's.
use std::path::{Path, PathBuf};

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=REPLICATE_RUSTC_VERSION={version}");

    let mut files = vec![PathBuf::from("Cargo.lock")];
    collect_files(Path::new("src"), &mut files);
    files.sort();
    let mut hash = Fnv1a::default();
    for file in &files {
        hash.write(file.to_string_lossy().as_bytes());
        hash.write(&std::fs::read(file).unwrap_or_default());
    }
    println!("cargo:rustc-env=REPLICATE_SOURCE_HASH={:016x}", hash.0);
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=src");
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// FNV-1a, 64 bits, with each field's length first: stable across Rust
/// releases (std's hasher is not) and needs no build dependency.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for byte in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
