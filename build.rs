// Build facts that run records and the stage cache need:
// - the compiler version (results can depend on it);
// - a hash of the code that computes results (src/, runs/ are data and are
//   hashed per stage; Cargo.lock pins the dependencies), so a stage output
//   cached by an older build is never taken for this build's;
// - the spec set (runs/) and the paper's reference numbers, embedded so an
//   installed binary works from any directory.
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
    embed_spec_set();
}

/// Writes `$OUT_DIR/embedded_specs.rs`: every file under runs/ and
/// paper/reference.csv as `(path relative to the checkout, text)`.
fn embed_spec_set() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect_files(&root.join("runs"), &mut files);
    files.push(root.join("paper/reference.csv"));
    files.sort();
    let mut out = String::from("pub(crate) const FILES: &[(&str, &str)] = &[\n");
    for file in &files {
        let relative = file.strip_prefix(&root).expect("under the checkout");
        let key: Vec<String> =
            relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        out.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            key.join("/"),
            file.display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded_specs.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
    println!("cargo:rerun-if-changed=runs");
    println!("cargo:rerun-if-changed=paper/reference.csv");
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
