//! Where the spec set is read from: a `runs/` directory on disk, or the copy
//! of the checkout's `runs/` built into the binary (so `replicate` works from
//! any directory once installed).

use std::path::{Path, PathBuf};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_specs.rs"));
}

/// The root that embedded files are named under in errors and `show --source`.
const EMBEDDED_ROOT: &str = "<built-in>/runs";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SpecFiles {
    /// The copy of `runs/` (and `paper/reference.csv`) taken when this binary was built.
    #[default]
    Embedded,
    /// A spec directory laid out like `runs/`.
    Dir(PathBuf),
}

impl<P: AsRef<Path> + ?Sized> From<&P> for SpecFiles {
    fn from(dir: &P) -> Self {
        SpecFiles::Dir(dir.as_ref().to_path_buf())
    }
}

impl From<PathBuf> for SpecFiles {
    fn from(dir: PathBuf) -> Self {
        SpecFiles::Dir(dir)
    }
}

impl SpecFiles {
    /// The directory the set's files are named under.
    pub fn root(&self) -> PathBuf {
        match self {
            SpecFiles::Embedded => PathBuf::from(EMBEDDED_ROOT),
            SpecFiles::Dir(dir) => dir.clone(),
        }
    }

    /// One line saying where the set comes from.
    pub fn describe(&self) -> String {
        match self {
            SpecFiles::Embedded => {
                format!(
                    "{EMBEDDED_ROOT}: the runs/ directory built into this binary (override with --runs-dir)"
                )
            }
            SpecFiles::Dir(dir) => format!("{}: a spec directory given with --runs-dir", dir.display()),
        }
    }

    pub(crate) fn read(&self, path: &Path) -> std::io::Result<String> {
        match self {
            SpecFiles::Dir(_) => std::fs::read_to_string(path),
            SpecFiles::Embedded => embedded_text(path).map(str::to_string).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "not in the built-in spec set")
            }),
        }
    }

    pub(crate) fn is_file(&self, path: &Path) -> bool {
        match self {
            SpecFiles::Dir(_) => path.is_file(),
            SpecFiles::Embedded => embedded_text(path).is_some(),
        }
    }

    /// Stems of the `.yaml` files directly in `dir`, sorted.
    pub(crate) fn yaml_stems(&self, dir: &Path) -> Vec<String> {
        let mut stems: Vec<String> = match self {
            SpecFiles::Dir(_) => std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let p = e.path();
                    (p.extension()? == "yaml").then(|| p.file_stem()?.to_str().map(str::to_string))?
                })
                .collect(),
            SpecFiles::Embedded => embedded::FILES
                .iter()
                .map(|(name, _)| Path::new(EMBEDDED_ROOT).parent().unwrap_or(Path::new("")).join(name))
                .filter(|p| p.parent() == Some(dir) && p.extension().is_some_and(|e| e == "yaml"))
                .filter_map(|p| p.file_stem()?.to_str().map(str::to_string))
                .collect(),
        };
        stems.sort();
        stems
    }

    /// `paper/reference.csv` beside the spec directory: the paper's numbers, if present.
    pub fn reference_table(&self) -> Option<(PathBuf, String)> {
        let path = self.root().parent().unwrap_or(Path::new(".")).join("paper/reference.csv");
        let text = match self {
            SpecFiles::Dir(_) => std::fs::read_to_string(&path).ok()?,
            SpecFiles::Embedded => embedded_text(&path)?.to_string(),
        };
        Some((path, text))
    }
}

/// The embedded file named `path` (under [`EMBEDDED_ROOT`]'s parent).
fn embedded_text(path: &Path) -> Option<&'static str> {
    let checkout = Path::new(EMBEDDED_ROOT).parent()?;
    let relative = path.strip_prefix(checkout).ok()?;
    let key: Vec<&str> = relative.components().filter_map(|c| c.as_os_str().to_str()).collect();
    let key = key.join("/");
    embedded::FILES.iter().find(|(name, _)| *name == key).map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_set_matches_the_checkouts_runs_directory() {
        let disk = SpecFiles::from(Path::new(env!("CARGO_MANIFEST_DIR")).join("runs"));
        let built_in = SpecFiles::Embedded;
        for sub in ["", "profiles"] {
            let stems = disk.yaml_stems(&disk.root().join(sub));
            assert!(!stems.is_empty());
            assert_eq!(built_in.yaml_stems(&built_in.root().join(sub)), stems);
            for stem in stems {
                let name = Path::new(sub).join(format!("{stem}.yaml"));
                assert_eq!(
                    built_in.read(&built_in.root().join(&name)).unwrap(),
                    disk.read(&disk.root().join(&name)).unwrap(),
                    "{}",
                    name.display()
                );
            }
        }
        assert_eq!(built_in.reference_table().map(|t| t.1), disk.reference_table().map(|t| t.1));
    }
}
