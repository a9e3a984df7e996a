//! Bad input never panics: each file under `scenarios/invalid/` gives exit code 2 and
//! a first line `error: FILE:LINE:COL: message`; the rendered messages are snapshotted.

mod common;

use common::{cascade, scratch};

fn assert_one_positioned_error(path: &str, stderr: &str) {
    assert!(!stderr.contains("panicked"), "{path} panicked:\n{stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    let rest = first
        .strip_prefix(&format!("error: {path}:"))
        .unwrap_or_else(|| panic!("{path}: first line lacks the location: {first}"));
    let mut parts = rest.splitn(3, ':');
    let line = parts.next().unwrap();
    let col = parts.next().unwrap_or_default();
    assert!(
        line.parse::<u32>().is_ok() && col.parse::<u32>().is_ok(),
        "{path}: {first}"
    );
    assert_eq!(
        stderr.matches("error:").count(),
        1,
        "{path}: one error expected:\n{stderr}"
    );
}

#[test]
fn every_invalid_scenario_is_a_clear_positioned_error() {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::glob!("../scenarios/invalid", "*.toml", |path| {
            let path = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().to_str().unwrap();
            let path = path.trim_start_matches('/');
            for command in ["check", "run"] {
                let (code, stdout, stderr) = cascade(&[command, path]);
                assert_eq!(code, 2, "{command} {path}: exit code");
                assert!(stdout.is_empty(), "{command} {path}: nothing on stdout");
                assert_one_positioned_error(path, &stderr);
                if command == "check" {
                    insta::assert_snapshot!(stderr);
                }
            }
        });
    });
}

#[test]
fn a_missing_file_is_an_input_error() {
    let (code, _, stderr) = cascade(&["run", "scenarios/no-such-file.toml"]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: scenarios/no-such-file.toml: cannot read the scenario file"),
        "{stderr}"
    );
}

#[test]
fn valid_scenarios_check_clean() {
    for path in [
        "scenarios/gateway-with-breaker.toml",
        "scenarios/gateway-without-breaker.toml",
    ] {
        let (code, stdout, stderr) = cascade(&["check", path]);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.starts_with(&format!("ok: {path}")), "{stdout}");
    }
}

#[test]
fn out_file_is_written_whole_and_not_on_error() {
    let dir = scratch("out");
    let target = dir.join("report.json");
    let target_str = target.to_str().unwrap();
    let (code, _, _) = cascade(&[
        "run",
        "scenarios/invalid/zero-workers.toml",
        "--out",
        target_str,
    ]);
    assert_eq!(code, 2);
    assert!(!target.exists(), "no report file for a bad scenario");
    let (code, _, stderr) = cascade(&[
        "run",
        "scenarios/gateway-with-breaker.toml",
        "--format",
        "json",
        "--out",
        target_str,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let written = std::fs::read_to_string(&target).unwrap();
    let (_, stdout, _) = cascade(&[
        "run",
        "scenarios/gateway-with-breaker.toml",
        "--format",
        "json",
    ]);
    assert_eq!(written, stdout);
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    std::fs::remove_dir_all(&dir).unwrap();
}
