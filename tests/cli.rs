//! The `replicate` binary as users call it.

use std::process::{Command, Output};

fn replicate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replicate"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("REPLICATE_LOG", "error")
        .output()
        .expect("the replicate binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn list_prints_24_runs_in_six_groups() {
    let out = replicate(&["list"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let runs = text.lines().filter(|l| l.starts_with("  ")).count();
    let groups = text.lines().filter(|l| !l.starts_with(' ')).count();
    assert_eq!((runs, groups), (24, 6), "{text}");
}

#[test]
fn show_f01_at_paper_scale_prints_the_model_card_shape() {
    let out = replicate(&["show", "F01", "--profile", "paper"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for needle in [
        "layers: 24",
        "hidden: 2048",
        "heads: 16",
        "ffn: 5504",
        "context: 768",
        "lr: 0.0002",
        "warmup_steps: 500",
        "weight_decay: 0.1",
        "clip_norm: 1.0",
        "1,345,423,360 parameters",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn check_specs_passes_and_fails_precisely_on_a_broken_copy() {
    assert!(replicate(&["check-specs"]).status.success());

    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    std::fs::create_dir_all(runs.join("profiles")).unwrap();
    for sub in ["", "profiles"] {
        for entry in
            std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runs").join(sub))
                .unwrap()
        {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, runs.join(sub).join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    let f01 = runs.join("F01.yaml");
    let text =
        std::fs::read_to_string(&f01).unwrap().replace("extends: base.yaml", "extends: base.yaml\nmodle: {}");
    std::fs::write(&f01, text).unwrap();
    let out = replicate(&["check-specs", "--runs-dir", runs.to_str().unwrap(), "--profile", "ci"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("F01.yaml:2: key `modle`: unknown field `modle`"), "{err}");
}

#[test]
fn flags_without_a_command_are_a_usage_error() {
    for args in [&["-q"][..], &["--profile", "smoke"], &["--profile", "smoke", "verify"]] {
        let out = replicate(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Usage:") && !err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn the_spec_set_is_built_in_and_says_where_it_comes_from() {
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_replicate"))
        .args(["list"])
        .current_dir(elsewhere.path())
        .output()
        .expect("the replicate binary runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout(&out).lines().filter(|l| l.starts_with("  ")).count(), 24);

    let built_in = stdout(&replicate(&["show", "--source", "F01"]));
    assert!(
        built_in.contains("<built-in>/runs/F01.yaml") && built_in.contains("profiles/ci.yaml"),
        "{built_in}"
    );
    let runs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
    let on_disk = stdout(&replicate(&["show", "--source", "F01", "--runs-dir", runs.to_str().unwrap()]));
    assert!(on_disk.contains(&runs.join("F01.yaml").display().to_string()), "{on_disk}");
}

#[test]
fn unknown_run_id_is_an_error_naming_it() {
    let work = tempfile::tempdir().unwrap();
    let out = replicate(&["run", "Z99", "--work-dir", work.path().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Z99"));
}

#[test]
fn stage_commands_chain_from_a_synthetic_corpus_to_a_trained_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = |p: &str| dir.path().join(p).to_str().unwrap().to_string();
    let ok = |args: &[&str]| {
        let out = replicate(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        stdout(&out)
    };
    ok(&["corpus", "synth", "--papers", "40", "--seed", "7", "--out", &path("corpus")]);
    let prepared = ok(&[
        "prepare",
        "--spec",
        "Y06",
        "--profile",
        "smoke",
        "--src",
        &path("corpus/src"),
        "--metadata",
        &path("corpus/arxiv-metadata-oai-snapshot.json"),
        "--out",
        &path("prepared"),
    ]);
    assert!(prepared.contains("40 papers seen"), "{prepared}");
    let ledger = std::fs::read_to_string(dir.path().join("prepared/ledger.csv")).unwrap();
    assert_eq!(ledger.lines().count(), 41, "a header and one row per paper");
    let docs = path("prepared/documents.jsonl");
    ok(&[
        "tokenizer",
        "train",
        "--spec",
        "T03",
        "--profile",
        "smoke",
        "--docs",
        &docs,
        "--out",
        &path("tok"),
    ]);
    ok(&["tokenize", "--tokenizer", &path("tok/tokenizer.json"), "--docs", &docs, "--out", &path("shards")]);
    let (shards, tokenizer, model, refused_model) =
        (path("shards"), path("tok/tokenizer.json"), path("model"), path("model2"));
    let train = |out: &str, extra: &[&str]| {
        let mut args = vec!["-q", "train", "--spec", "F01", "--profile", "smoke", "--shards", &shards];
        args.extend(["--tokenizer", &tokenizer, "--docs", &docs, "--out", out]);
        args.extend_from_slice(extra);
        replicate(&args)
    };
    let trained = train(&model, &[]);
    assert!(trained.status.success(), "train: {}", String::from_utf8_lossy(&trained.stderr));
    let trained = stdout(&trained);
    let summary: serde_json::Value = serde_json::from_str(&trained).unwrap();
    assert!(summary["val_loss"].as_f64().unwrap().is_finite());
    assert!(dir.path().join("model/metrics.csv").is_file());
    // smoke trains as the paper's two data-parallel replicas, threads on the CPU.
    assert_eq!(summary["devices"], 2);
    assert!(summary["data_parallel"].as_str().unwrap().starts_with("2 replicas"), "{summary}");

    let refused = train(&refused_model, &["--devices", "2"]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("the CPU backend has one"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_the_process_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    // A pipe whose reading end is closed before the child starts, as
    // `replicate show … | head -0` leaves it: the first write must end the
    // process (closing it after spawn would race the child's first write).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_replicate"))
        .args(["show", "F01", "--profile", "paper"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("the replicate binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.signal(), Some(13), "ended by SIGPIPE like any Unix tool");
}
