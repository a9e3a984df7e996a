//! Sweeps: the same bytes whatever the number of threads, shards that merge back
//! into the whole, clear errors before any run, and the Kubernetes manifest's own
//! command run shard by shard.

mod common;

use common::{cascade, scratch};

use std::process::Command;

const FILE: &str = "scenarios/gateway-with-breaker.toml";
const FAILURES: &str = "breakers.recommendations.failures=1..4";
const TIMEOUT: &str = "services.gateway.endpoints.product-details.steps[2].timeout=1s..3s:1s";

fn sweep(extra: &[&str]) -> String {
    let mut args = vec![
        "sweep",
        FILE,
        "--set",
        FAILURES,
        "--set",
        TIMEOUT,
        "--replications",
        "2",
    ];
    args.extend(extra);
    let (code, stdout, stderr) = cascade(&args);
    assert_eq!(code, 0, "{stderr}");
    stdout
}

#[test]
fn the_csv_does_not_depend_on_the_number_of_threads() {
    let one = sweep(&["--jobs", "1"]);
    let two = sweep(&["--jobs", "2"]);
    let five = sweep(&["--jobs", "5"]);
    assert_eq!(one, two);
    assert_eq!(one, five);
    let text = one;
    assert_eq!(
        text.lines().count(),
        1 + 4 * 3,
        "a header and one row per point"
    );
    let header = text.lines().next().unwrap();
    assert!(
        header.starts_with("point,variant,breakers.recommendations.failures,"),
        "{header}"
    );
    assert!(header.contains("p99_ms,p99_ms_ci95"), "{header}");
}

#[test]
fn merged_shards_are_the_whole_sweep() {
    let dir = scratch("shards");
    let whole = sweep(&[]);
    let mut shard_files = Vec::new();
    for k in 1..=3 {
        let path = dir.join(format!("shard-{k}.csv"));
        let shard = format!("{k}/3");
        sweep(&["--shard", &shard, "--out", path.to_str().unwrap()]);
        shard_files.push(path.to_str().unwrap().to_string());
    }
    // Any order of the shard files merges the same.
    shard_files.reverse();
    let mut args = vec!["merge"];
    args.extend(shard_files.iter().map(String::as_str));
    let (code, merged, stderr) = cascade(&args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(merged, whole);
    // A missing shard is an error, not a smaller file.
    let (code, _, stderr) = cascade(&["merge", &shard_files[0], &shard_files[1]]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is a shard missing"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_sweeps_fail_before_any_run() {
    let dir = scratch("bad");
    let out = dir.join("never.csv");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &["--set", "breakers.recommendation.failures=1..3"],
            "did you mean `recommendations`",
        ),
        (
            &["--set", "breakers.recommendations.failures=a,b"],
            "`failures`: invalid type: string \"a\"",
        ),
        (
            &["--set", "breakers.recommendations.failures=5..1"],
            "is empty",
        ),
        (
            &["--set", "breakers.recommendations.failures=0..2"],
            "expected a whole number from 1",
        ),
        (
            &["--set", FAILURES, "--shard", "4/3"],
            "K must be from 1 to N",
        ),
        (
            &["--set", FAILURES, "--objective", "speed"],
            "--objective speed",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["sweep", FILE, "--out", out];
        args.extend(extra);
        let (code, stdout, stderr) = cascade(&args);
        assert_eq!(code, 2, "{extra:?}: {stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
        assert!(
            !std::path::Path::new(out).exists(),
            "{extra:?} wrote a file"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_summary_names_the_best_and_worst_points() {
    let dir = scratch("summary");
    let out = dir.join("sweep.csv");
    let (code, stdout, stderr) = cascade(&[
        "sweep",
        FILE,
        "--set",
        FAILURES,
        "--set",
        TIMEOUT,
        "--objective",
        "mean",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let summary = stdout;
    let best = summary.lines().nth(1).unwrap();
    // The shortest timeout gives the lowest mean: slow calls end sooner.
    assert!(best.contains("timeout=1s"), "{summary}");
    let worst = &summary[summary.find("worst").unwrap()..];
    assert!(
        worst.lines().nth(1).unwrap().contains("timeout=3s"),
        "{summary}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The manifest's command, run as each completion index would run it, merges into
/// the unsharded sweep.
#[test]
fn the_kubernetes_manifest_shards_and_merges() {
    let manifest = std::fs::read_to_string("deploy/sweep-job.yaml").unwrap();
    let completions: u64 = manifest
        .lines()
        .find_map(|line| line.trim().strip_prefix("completions:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("the manifest sets completions");
    let command = manifest
        .lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix("- cascade sweep "))
        .expect("the manifest runs cascade sweep");
    assert!(
        command.contains(&format!(
            "--shard $((JOB_COMPLETION_INDEX + 1))/{completions}"
        )),
        "{command}"
    );
    let dir = scratch("k8s");
    let results = dir.join("results");
    std::fs::create_dir_all(&results).unwrap();
    let binary = env!("CARGO_BIN_EXE_cascade");
    let local = command.replace("/results", results.to_str().unwrap());
    for index in 0..completions {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("{binary} sweep {local}"))
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "shard {index}");
    }
    let shards: Vec<String> = (0..completions)
        .map(|index| {
            results
                .join(format!("shard-{index}.csv"))
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut args = vec!["merge"];
    args.extend(shards.iter().map(String::as_str));
    let (code, merged, stderr) = cascade(&args);
    assert_eq!(code, 0, "{stderr}");
    // The same sweep without --shard and --out, through the same shell.
    let unsharded = local.split(" --shard").next().unwrap();
    let whole = Command::new("sh")
        .arg("-c")
        .arg(format!("{binary} sweep {unsharded}"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(whole.status.success());
    let whole = String::from_utf8(whole.stdout).unwrap();
    assert_eq!(merged, whole);
    std::fs::remove_dir_all(&dir).unwrap();
}
