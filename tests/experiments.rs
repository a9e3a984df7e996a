//! Experiments: variants side by side, steady-state verdicts and their exit codes,
//! `--set`, and the CSV files.

mod common;

use common::{cascade, scratch};

use std::path::Path;

fn json(args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let (code, stdout, stderr) = cascade(&all);
    assert!(code == 0 || code == 3 || code == 4, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn gateway_compare_runs_both_variants_with_common_random_numbers() {
    let report = json(&["run", "scenarios/gateway-compare.toml"]);
    let variants = report["variants"].as_array().unwrap();
    let names: Vec<&str> = variants
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["v1", "v2"]);
    // Each variant is the same run as its stand-alone scenario: same streams, same seed.
    let alone_v1 = json(&["run", "scenarios/gateway-without-breaker.toml"]);
    let alone_v2 = json(&["run", "scenarios/gateway-with-breaker.toml"]);
    for (variant, alone) in variants.iter().zip([&alone_v1, &alone_v2]) {
        let alone = &alone["variants"][0];
        for key in [
            "requests",
            "completed",
            "failures",
            "degraded",
            "latency_ms",
            "throughput_rps",
            "services",
        ] {
            assert_eq!(
                variant[key], alone[key],
                "{} differs in {key}",
                variant["name"]
            );
        }
        let per_window = |report: &serde_json::Value| {
            report["timeline"]["windows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["completed"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(per_window(variant), per_window(alone));
    }
    let (code, text, _) = cascade(&["run", "scenarios/gateway-compare.toml"]);
    assert_eq!(code, 0);
    let table = &text[text.find("comparison").expect("a comparison table")..];
    assert!(table.lines().next().unwrap().contains("v2/v1"), "{table}");
    let req_line = table.lines().find(|l| l.starts_with("req/s")).unwrap();
    let ratio: f64 = req_line.split_whitespace().last().unwrap().parse().unwrap();
    assert!(
        (15.0..30.0).contains(&ratio),
        "v2 serves ~21x the requests of v1: {req_line}"
    );
}

#[test]
fn provider_down_before_deviates_and_after_completes() {
    let (code, text, _) = cascade(&["run", "scenarios/provider-down-before.toml"]);
    assert_eq!(code, 3, "deviated has its own exit code");
    assert!(
        text.contains("Experiment ended with status: deviated"),
        "{text}"
    );
    assert!(
        text.contains("=> failed: status 500 after 10.0"),
        "the 500 comes after Feign's 10 s connect timeout:\n{text}"
    );
    let (code, text, _) = cascade(&["run", "scenarios/provider-down-after.toml"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("Experiment ended with status: completed"),
        "{text}"
    );
    let report = json(&["run", "scenarios/provider-down-after.toml"]);
    assert_eq!(report["verdict"], "completed");
    assert_eq!(report["variants"][0]["hypothesis"]["met_after"], true);
}

#[test]
fn a_hypothesis_that_fails_before_the_method_is_failed() {
    // Nothing answers 418, so the probe is out of tolerance from the start.
    let report = json(&[
        "run",
        "scenarios/provider-down-after.toml",
        "--set",
        "hypothesis.probes[0].tolerance=418",
    ]);
    let hypothesis = &report["variants"][0]["hypothesis"];
    assert_eq!(hypothesis["verdict"], "failed");
    assert_eq!(
        hypothesis["met_after"],
        serde_json::Value::Null,
        "the after-check is skipped"
    );
    let (code, _, _) = cascade(&[
        "run",
        "scenarios/provider-down-after.toml",
        "--set",
        "hypothesis.probes[0].tolerance=418",
    ]);
    assert_eq!(code, 4);
}

#[test]
fn set_overrides_the_base_and_bad_ones_are_clear_errors() {
    let report = json(&[
        "run",
        "scenarios/gateway-with-breaker.toml",
        "--set",
        "breakers.recommendations.failures=10",
    ]);
    let transitions = report["variants"][0]["breakers"][0]["transitions"]
        .as_array()
        .unwrap();
    assert!(transitions[0]["at_ms"].as_f64().unwrap() >= 5000.0);
    let baseline = json(&["run", "scenarios/gateway-with-breaker.toml"]);
    assert_ne!(
        report["variants"][0]["latency_ms"],
        baseline["variants"][0]["latency_ms"]
    );

    let cases = [
        (
            "breakers.recommendation.failures=10",
            "did you mean `recommendations`",
        ),
        (
            "breakers.recommendations.failures=0",
            "breakers.recommendations.failures: expected a whole number from 1",
        ),
        (
            "breakers.recommendations.failures=many",
            "`failures`: invalid type: string \"many\"",
        ),
        ("scenario.duration=-5s", "durations cannot be negative"),
        ("breakers.recommendations", "expected PATH=VALUE"),
    ];
    for (set, expected) in cases {
        let (code, stdout, stderr) =
            cascade(&["run", "scenarios/gateway-with-breaker.toml", "--set", set]);
        assert_eq!(code, 2, "--set {set}");
        assert!(stdout.is_empty());
        assert!(stderr.starts_with("error: --set "), "--set {set}: {stderr}");
        assert!(stderr.contains(expected), "--set {set}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
}

fn read_csv(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|record| {
            headers
                .iter()
                .cloned()
                .zip(record.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

#[test]
fn csv_files_add_up_to_the_report() {
    let dir = scratch("csv");
    let dir_str = dir.to_str().unwrap();
    let report = json(&[
        "run",
        "scenarios/gateway-compare.toml",
        "--csv",
        dir_str,
        "--trace",
        "--force",
    ]);
    let timeseries = read_csv(&dir.join("timeseries.csv"));
    let stats = read_csv(&dir.join("stats.csv"));
    let transitions = read_csv(&dir.join("transitions.csv"));
    let requests = read_csv(&dir.join("requests.csv"));
    for variant in report["variants"].as_array().unwrap() {
        let name = variant["name"].as_str().unwrap();
        let rows: Vec<_> = timeseries
            .iter()
            .filter(|row| row["variant"] == name)
            .collect();
        let sum = |column: &str| {
            rows.iter()
                .map(|row| row[column].parse::<u64>().unwrap())
                .sum::<u64>()
        };
        assert_eq!(
            sum("requests"),
            variant["completed"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(sum("ok"), variant["ok"].as_u64().unwrap(), "{name}");
        assert_eq!(
            sum("degraded"),
            variant["degraded"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            sum("failures"),
            variant["failures"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            sum("rejected"),
            variant["rejected"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(rows.len(), 12, "2 minutes in 10 s windows");
        let stat = stats.iter().find(|row| row["Variant"] == name).unwrap();
        assert_eq!(stat["Request Count"], variant["completed"].to_string());
        assert_eq!(stat["Failure Count"], variant["failures"].to_string());
        assert_eq!(stat["Name"], "gateway/product-details");
        let expected_transitions = variant["breakers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["transitions"].as_array().unwrap().len())
            .sum::<usize>();
        assert_eq!(
            transitions
                .iter()
                .filter(|row| row["variant"] == name)
                .count(),
            expected_transitions
        );
        let traced: Vec<_> = requests
            .iter()
            .filter(|row| row["variant"] == name)
            .collect();
        assert_eq!(traced.len() as u64, variant["completed"].as_u64().unwrap());
        let degraded = traced
            .iter()
            .filter(|row| row["outcome"] == "degraded")
            .count() as u64;
        assert_eq!(degraded, variant["degraded"].as_u64().unwrap());
    }
    let leftovers: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn csv_refuses_a_non_empty_directory_unless_forced() {
    let dir = scratch("nonempty");
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let dir_str = dir.to_str().unwrap();
    let (code, _, stderr) = cascade(&[
        "run",
        "scenarios/gateway-with-breaker.toml",
        "--csv",
        dir_str,
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("not empty") && stderr.contains("--force"),
        "{stderr}"
    );
    assert!(!dir.join("stats.csv").exists());
    let (code, _, stderr) = cascade(&[
        "run",
        "scenarios/gateway-with-breaker.toml",
        "--csv",
        dir_str,
        "--force",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(dir.join("stats.csv").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unwritable_outputs_are_clear_errors_with_nothing_left_behind() {
    // /proc refuses new files even to root.
    let (code, stdout, stderr) = cascade(&[
        "run",
        "scenarios/gateway-with-breaker.toml",
        "--csv",
        "/proc/cascade-csv",
    ]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.starts_with("error: --csv /proc/cascade-csv: cannot create it"),
        "{stderr}"
    );
    let (code, stdout, stderr) = cascade(&[
        "run",
        "scenarios/gateway-with-breaker.toml",
        "--out",
        "/proc/cascade.json",
    ]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(
        stderr.starts_with("error: /proc/cascade.json: cannot write the report"),
        "{stderr}"
    );
    let file = scratch("file-not-dir").join("plain");
    std::fs::write(&file, "x").unwrap();
    let (code, _, stderr) = cascade(&[
        "run",
        "scenarios/gateway-with-breaker.toml",
        "--csv",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is not a directory"), "{stderr}");
}

#[test]
fn trace_requires_csv() {
    let (code, _, stderr) = cascade(&["run", "scenarios/gateway-with-breaker.toml", "--trace"]);
    assert_eq!(code, 2, "{stderr}");
}

/// Regression: steps written as standard tables (`[[...steps]]` with
/// `[...steps.work.lognormal]`) made an implicit table that toml cannot span, and
/// the loader rejected a valid file.
#[test]
fn standard_table_style_loads_like_inline_style() {
    let standard = r#"
[scenario]
name = "std"
seed = 1
duration = "10s"

[load]
kind = "closed"
users = 3
spawn_rate = 3
target = "a/get"
[load.wait]
between = ["1s", "2s"]

[services.a]
workers = 2
[[services.a.endpoints.get.steps]]
[services.a.endpoints.get.steps.work.lognormal]
median = "1ms"
p99 = "5ms"
[[services.a.endpoints.get.steps]]
call = "b/get"
fallback = 503
"#;
    let inline = r#"
[scenario]
name = "std"
seed = 1
duration = "10s"

[load]
kind = "closed"
users = 3
spawn_rate = 3
target = "a/get"
wait = { between = ["1s", "2s"] }

[services.a]
workers = 2
endpoints.get.steps = [
  { work = { lognormal = { median = "1ms", p99 = "5ms" } } },
  { call = "b/get", fallback = 503 },
]
"#;
    let back =
        "\n[services.b]\nworkers = 1\nendpoints.get.steps = [{ work = { constant = \"1ms\" } }]\n";
    let a = cascade::scenario::experiment_from_str("std.toml", &format!("{standard}{back}"), &[])
        .unwrap_or_else(|e| panic!("{}", e.rendered));
    let b = cascade::scenario::experiment_from_str("inline.toml", &format!("{inline}{back}"), &[])
        .unwrap_or_else(|e| panic!("{}", e.rendered));
    assert_eq!(a.variants[0].scenario, b.variants[0].scenario);
}

#[test]
fn the_report_does_not_depend_on_how_many_threads_ran_the_variants() {
    let file = "scenarios/partial-failure-one-replica-hangs.toml";
    let (code, one, _) = cascade(&["run", file, "--format", "json", "--jobs", "1"]);
    assert_eq!(code, 0);
    for jobs in ["2", "3", "8"] {
        let (code, many, _) = cascade(&["run", file, "--format", "json", "--jobs", jobs]);
        assert_eq!(code, 0);
        assert!(one == many, "--jobs {jobs} changed the report");
    }
}
