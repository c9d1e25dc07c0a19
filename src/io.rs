//! Filesystem helpers every stage shares.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// Writes `bytes` to `path` so that readers see either the old file or the
/// complete new one: the data goes to a temporary file in the same directory,
/// is flushed to disk, then renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create directory {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        // As any other output: readable as the process umask allows (the
        // default 0600 of temporary files hid reports from a group).
        .permissions(umask_permissions(0o666))
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path).with_context(|| format!("cannot move the finished file onto {}", path.display()))?;
    Ok(())
}

/// `mode` for a file created now; the kernel applies the process umask.
#[cfg(unix)]
pub fn umask_permissions(mode: u32) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(mode)
}

/// Holds an exclusive advisory lock on `path` (created if missing) until
/// dropped; logs when another process holds it and waits.
pub fn exclusive_lock(path: &Path, what: &str) -> Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    if file.try_lock().is_err() {
        tracing::info!(lock = %path.display(), "waiting for another process that holds {what}");
        file.lock().with_context(|| format!("cannot lock {}", path.display()))?;
    }
    Ok(file)
}

/// Errors unless `path` is a regular file: a FIFO would block forever and a
/// device (`/dev/zero`) read until memory runs out. `what` names the option.
pub fn require_regular_file(path: &Path, what: &str) -> Result<()> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("{what} {}: cannot read it", path.display()))?;
    if !meta.is_file() {
        anyhow::bail!(
            "{what} {}: not a regular file ({}); pass a file or a directory of files",
            path.display(),
            file_kind(&meta)
        );
    }
    Ok(())
}

/// In words, for errors: `directory`, `FIFO`, `character device`, …
pub fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_file() {
        "a regular file"
    } else {
        "not a file"
    }
}

/// Serializes `value` as pretty JSON and writes it atomically.
pub fn write_json_atomic(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Total size of the regular files under `path` (0 when it does not exist).
pub fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    std::fs::read_dir(path).into_iter().flatten().flatten().map(|entry| tree_size(&entry.path())).sum()
}

/// Peak resident set size of this process (`VmHWM` in `/proc/self/status`),
/// bytes; `None` off Linux. It is the whole process's peak, so a figure covers
/// one stage only when that stage is what the process did.
pub fn peak_rss_bytes() -> Option<u64> {
    status_field_kib(Path::new("/proc/self/status"), "VmHWM:").map(|kib| kib * 1024)
}

/// CPU seconds (user and system) this process has used so far, all threads.
pub fn process_cpu_seconds() -> Option<f64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given and touches nothing else.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return None;
        }
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    Some(seconds(usage.ru_utime) + seconds(usage.ru_stime))
}

fn status_field_kib(path: &Path, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    status.lines().find_map(|l| l.strip_prefix(field))?.split_whitespace().next()?.parse().ok()
}

/// Reads and parses a JSON file, naming the file in either error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not what this build expects", path.display()))
}

/// SHA-256 of a file's bytes, hex, streamed.
pub fn file_sha256(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("cannot open {} to hash it", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_rss_is_read_from_proc_status() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status");
        std::fs::write(&path, "Name:\tx\nVmPeak:\t  999 kB\nVmHWM:\t   12345 kB\n").unwrap();
        assert_eq!(status_field_kib(&path, "VmHWM:"), Some(12345));
        assert_eq!(status_field_kib(&path, "VmSwap:"), None);
    }

    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.txt");
        write_atomic(&path, b"first version, longer").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["out.txt".to_string()]);
    }

    #[test]
    fn tree_size_sums_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(&dir.path().join("a"), &[0; 10]).unwrap();
        write_atomic(&dir.path().join("b/c"), &[0; 5]).unwrap();
        assert_eq!(tree_size(dir.path()), 15);
        assert_eq!(tree_size(&dir.path().join("missing")), 0);
    }
}
