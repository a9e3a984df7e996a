//! Pictures: the HTML report is one self-contained file, every SVG is well-formed
//! XML with a title, axes and a legend, the same seed gives the same bytes, bad
//! output paths and undrawable sweeps fail before any file appears, and a trace
//! follows one request hop by hop.

mod common;

use std::path::Path;

use common::{cascade, scratch};

const COMPARE: &str = "scenarios/gateway-compare.toml";
const BREAKER: &str = "scenarios/gateway-with-breaker.toml";
const FAILURES: &str = "breakers.recommendations.failures=1..3";
const TIMEOUT: &str = "services.gateway.endpoints.product-details.steps[2].timeout=1s..2s:1s";
const OPEN_FOR: &str = "breakers.recommendations.open_for=2s,5s";

fn run_pictures(dir: &Path, extra: &[&str]) -> (String, Vec<(String, String)>) {
    let html = dir.join("report.html");
    let svg = dir.join("svg");
    let mut args = vec![
        "run",
        COMPARE,
        "--html",
        html.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ];
    args.extend(extra);
    let (code, _, stderr) = cascade(&args);
    assert_eq!(code, 0, "{stderr}");
    (std::fs::read_to_string(&html).unwrap(), read_svgs(&svg))
}

/// (file name, text) of every file in `dir`, sorted by name.
fn read_svgs(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// The `<svg>…</svg>` elements inlined in a page.
fn inline_svgs(html: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<svg") {
        let end = rest[start..].find("</svg>").expect("every svg is closed") + start + 6;
        found.push(&rest[start..end]);
        rest = &rest[end..];
    }
    found
}

/// Parses `text` as XML and checks what every chart must have.
fn check_chart(name: &str, text: &str) {
    let document = roxmltree::Document::parse(text)
        .unwrap_or_else(|error| panic!("{name} is not well-formed XML: {error}"));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{name}");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg"),
        "{name}"
    );
    let title = root
        .children()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text())
        .unwrap_or_else(|| panic!("{name} has no title"));
    assert!(!title.is_empty(), "{name}");
    let texts: Vec<&str> = root
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert!(texts.contains(&title), "{name}: the title is drawn");
    assert!(
        texts.len() >= 6,
        "{name}: a title, a legend and labelled axes need text"
    );
    // A legend swatch sits beside every legend label; ids used by fills exist.
    for node in root.descendants() {
        if let Some(fill) = node.attribute("fill") {
            if let Some(id) = fill.strip_prefix("url(#").and_then(|f| f.strip_suffix(')')) {
                assert!(
                    root.descendants().any(|n| n.attribute("id") == Some(id)),
                    "{name}: fill {fill} names no pattern"
                );
            }
        }
    }
}

#[test]
fn the_html_report_is_self_contained() {
    let dir = scratch("self-contained");
    let (html, _) = run_pictures(&dir, &[]);
    assert!(html.starts_with("<!DOCTYPE html>"));
    for forbidden in [
        "<link",
        "<script",
        "<img",
        "<iframe",
        "<object",
        "@import",
        "@font-face",
        " src=",
        "href=\"http",
        "href='http",
        "href=\"//",
        "url(http",
        "url(\"http",
        "url(//",
    ] {
        assert!(!html.contains(forbidden), "the report contains {forbidden}");
    }
    // The only absolute URL is the SVG namespace, which is a name, not a fetch.
    let without_namespace = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!without_namespace.contains("http://"));
    assert!(!without_namespace.contains("https://"));
    // Every in-page link points at an id on the page.
    for link in html.split("href=\"#").skip(1) {
        let id = &link[..link.find('"').unwrap()];
        assert!(
            html.contains(&format!("id=\"{id}\"")),
            "#{id} is on the page"
        );
    }
    for section in [
        "Variant v1",
        "Variant v2",
        "Variants side by side",
        "Throughput by outcome",
        "Latency percentiles",
        "Breaker state",
        "Workers and queue",
    ] {
        assert!(html.contains(section), "the page shows {section}");
    }
}

#[test]
fn every_svg_parses_as_xml_and_has_a_title_axes_and_a_legend() {
    let dir = scratch("svg-xml");
    let (html, files) = run_pictures(&dir, &[]);
    let inline = inline_svgs(&html);
    assert!(!files.is_empty());
    assert_eq!(inline.len(), files.len(), "the page shows every chart");
    for (index, svg) in inline.iter().enumerate() {
        check_chart(&format!("inline chart {index}"), svg);
    }
    for (name, text) in &files {
        assert!(name.ends_with(".svg"), "{name}");
        check_chart(name, text);
        assert!(
            text.contains(">virtual time (s)</text>"),
            "{name}: the time axis says its unit"
        );
        assert!(
            inline.iter().any(|svg| svg.trim() == text.trim()),
            "{name} is the page's chart"
        );
    }
    let throughput = &files
        .iter()
        .find(|(n, _)| n.ends_with("v1-throughput.svg"))
        .unwrap()
        .1;
    for label in ["ok", "degraded", "failed (error or timeout)", "rejected"] {
        assert!(throughput.contains(&format!(">{label}</text>")), "{label}");
    }
    assert!(
        throughput.contains("fault: recommendations hang 30s then 408"),
        "fault windows are shaded and named"
    );
}

#[test]
fn names_with_markup_characters_are_escaped() {
    let dir = scratch("escaped");
    let html = dir.join("report.html");
    let svg = dir.join("svg");
    let (code, _, stderr) = cascade(&[
        "run",
        BREAKER,
        "--set",
        r#"scenario.name=A&B <"x'>"#,
        "--html",
        html.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h1>A&amp;B &lt;&quot;x&#39;&gt;</h1>"));
    for (name, text) in read_svgs(&svg) {
        assert!(!name.contains(['&', '<', '"', '\'', ' ']), "{name}");
        check_chart(&name, &text);
    }
}

#[test]
fn charts_stay_legible_in_black_and_white() {
    let dir = scratch("black-and-white");
    let (_, files) = run_pictures(&dir, &[]);
    let chart = |suffix: &str| {
        &files
            .iter()
            .find(|(name, _)| name.ends_with(suffix))
            .unwrap_or_else(|| panic!("no chart {suffix}"))
            .1
    };
    // Outcomes and breaker states differ by texture, not colour alone.
    assert!(chart("v2-throughput.svg").contains("<pattern "));
    assert!(chart("v2-breakers.svg").contains("<pattern "));
    // The percentile lines differ by dash pattern.
    let latency = roxmltree::Document::parse(chart("v2-latency.svg"))
        .unwrap()
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .map(|n| {
            n.attribute("stroke-dasharray")
                .unwrap_or("solid")
                .to_string()
        })
        .collect::<std::collections::BTreeSet<String>>();
    assert_eq!(latency.len(), 3, "p50, p95 and p99 each have a dash style");
}

#[test]
fn the_breaker_band_marks_every_transition() {
    let dir = scratch("transitions");
    let (_, files) = run_pictures(&dir, &[]);
    let (code, json, stderr) = cascade(&["run", COMPARE, "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let transitions = report["variants"][1]["breakers"][0]["transitions"]
        .as_array()
        .unwrap()
        .len();
    assert!(transitions > 5, "the v2 breaker trips and recovers");
    let svg = &files
        .iter()
        .find(|(name, _)| name.ends_with("v2-breakers.svg"))
        .unwrap()
        .1;
    let document = roxmltree::Document::parse(svg).unwrap();
    let band = document
        .descendants()
        .find(|n| n.attribute("aria-label") == Some("breaker recommendations"))
        .expect("a group per breaker");
    let marks = band.children().filter(|n| n.has_tag_name("line")).count();
    assert_eq!(marks, transitions);
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let (first, first_svgs) = run_pictures(&scratch("same-seed-1"), &[]);
    let (second, second_svgs) = run_pictures(&scratch("same-seed-2"), &[]);
    assert!(first == second, "two runs, one seed: the same page");
    assert_eq!(first_svgs, second_svgs);
    let (other, _) = run_pictures(&scratch("same-seed-3"), &["--seed", "7"]);
    assert!(first != other, "another seed draws another page");
}

/// Files in `dir`, hidden ones (a staging file) included.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn unwritable_picture_paths_fail_before_the_run_and_leave_nothing() {
    // /proc refuses new files even to root.
    let (code, stdout, stderr) = cascade(&["run", BREAKER, "--html", "/proc/cascade.html"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "no report printed: nothing ran");
    assert!(
        stderr.starts_with("error: --html /proc/cascade.html: cannot write there"),
        "{stderr}"
    );
    let dir = scratch("unwritable");
    let missing = dir.join("no-such-dir").join("report.html");
    let (code, _, stderr) = cascade(&["run", BREAKER, "--html", missing.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot write there"), "{stderr}");
    let (code, _, stderr) = cascade(&["run", BREAKER, "--svg", "/proc/cascade-svg"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with("error: --svg /proc/cascade-svg: cannot create it"),
        "{stderr}"
    );
    let file = dir.join("plain");
    std::fs::write(&file, "x").unwrap();
    let (code, _, stderr) = cascade(&["run", BREAKER, "--svg", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is not a directory"), "{stderr}");
    // An SVG directory that refuses files: nothing is written, the page neither.
    let html = dir.join("report.html");
    let (code, _, stderr) = cascade(&[
        "run",
        BREAKER,
        "--html",
        html.to_str().unwrap(),
        "--svg",
        "/proc/self",
    ]);
    assert_ne!(code, 0, "{stderr}");
    assert_eq!(entries(&dir), ["plain"], "no page, no staging file");
}

#[test]
fn a_heatmap_of_more_than_two_parameters_is_refused_before_any_run() {
    let dir = scratch("three-parameters");
    let html = dir.join("sweep.html");
    let svg = dir.join("svg");
    let (code, stdout, stderr) = cascade(&[
        "sweep",
        BREAKER,
        "--set",
        FAILURES,
        "--set",
        TIMEOUT,
        "--set",
        OPEN_FOR,
        "--html",
        html.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    for named in [
        "--html",
        "breakers.recommendations.failures",
        "services.gateway.endpoints.product-details.steps[2].timeout",
        "breakers.recommendations.open_for",
        "single value",
    ] {
        assert!(
            stderr.contains(named),
            "the message names {named}: {stderr}"
        );
    }
    assert_eq!(entries(&dir), Vec::<String>::new(), "no file at all");
    // A third parameter with a single value is no axis: the heatmap is drawn.
    let (code, _, stderr) = cascade(&[
        "sweep",
        BREAKER,
        "--set",
        FAILURES,
        "--set",
        TIMEOUT,
        "--set",
        "breakers.recommendations.open_for=5s",
        "--html",
        html.to_str().unwrap(),
        "--out",
        dir.join("sweep.csv").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(html.exists());
}

#[test]
fn a_two_parameter_sweep_draws_a_heatmap_with_every_value() {
    let dir = scratch("heatmap");
    let html = dir.join("sweep.html");
    let svg = dir.join("svg");
    let csv = dir.join("sweep.csv");
    let (code, _, stderr) = cascade(&[
        "sweep",
        BREAKER,
        "--set",
        FAILURES,
        "--set",
        TIMEOUT,
        "--objective",
        "mean",
        "--html",
        html.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Best 5 by mean_ms") && page.contains("Worst 5 by mean_ms"));
    let files = read_svgs(&svg);
    assert_eq!(files.len(), 1, "one heatmap for the one variant");
    let (name, text) = &files[0];
    check_chart(name, text);
    // Each cell prints its value: the CSV's means, as the cells round them.
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "mean_ms")
        .unwrap();
    let document = roxmltree::Document::parse(text).unwrap();
    let printed: Vec<&str> = document
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    let mut cells = 0;
    for record in reader.records() {
        let mean: f64 = record.unwrap()[column].parse().unwrap();
        let shown = if mean >= 100.0 {
            format!("{mean:.0}")
        } else if mean >= 10.0 {
            format!("{mean:.1}")
        } else {
            format!("{mean:.2}")
        };
        assert!(printed.contains(&shown.as_str()), "cell {shown} printed");
        cells += 1;
    }
    assert_eq!(cells, 3 * 2);
    assert!(page.contains(text.trim()), "the page shows the same chart");
    // Another thread count, the same page.
    let again = dir.join("again.html");
    let (code, _, stderr) = cascade(&[
        "sweep",
        BREAKER,
        "--set",
        FAILURES,
        "--set",
        TIMEOUT,
        "--objective",
        "mean",
        "--jobs",
        "1",
        "--html",
        again.to_str().unwrap(),
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(std::fs::read_to_string(&again).unwrap() == page);
}

#[test]
fn a_one_parameter_sweep_draws_lines_with_confidence_bands() {
    let dir = scratch("lines");
    let html = dir.join("sweep.html");
    let svg = dir.join("svg");
    let (code, _, stderr) = cascade(&[
        "sweep",
        BREAKER,
        "--set",
        FAILURES,
        "--replications",
        "3",
        "--html",
        html.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
        "--out",
        dir.join("sweep.csv").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let files = read_svgs(&svg);
    assert!(files.len() >= 2, "the objective and the failure rate");
    for (name, text) in &files {
        check_chart(name, text);
        assert!(text.contains("95% confidence"), "{name}");
    }
    let objective = &files[0].1;
    assert!(objective.contains("<polygon "), "the band is drawn");
    assert!(objective.contains(">p99 latency (ms)</text>"));
    // With one replication there is no interval to draw.
    let (code, _, stderr) = cascade(&[
        "sweep",
        BREAKER,
        "--set",
        FAILURES,
        "--svg",
        svg.to_str().unwrap(),
        "--out",
        dir.join("sweep.csv").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!read_svgs(&svg)[0].1.contains("<polygon "));
}

#[test]
fn picture_options_refuse_a_shard() {
    let dir = scratch("shard");
    let html = dir.join("sweep.html");
    let (code, _, stderr) = cascade(&[
        "sweep",
        BREAKER,
        "--set",
        FAILURES,
        "--shard",
        "1/2",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--shard"), "{stderr}");
    assert!(!html.exists());
}

/// (virtual seconds, the rest of the line with runs of spaces as one) of each hop
/// line of a trace.
fn hops(text: &str) -> Vec<(f64, String)> {
    text.lines()
        .skip(2)
        .map(|line| {
            let mut words = line.split_whitespace();
            let time = words.next().unwrap().parse().unwrap();
            (time, words.collect::<Vec<_>>().join(" "))
        })
        .collect()
}

#[test]
fn a_trace_follows_one_request_hop_by_hop() {
    let (code, text, stderr) = cascade(&["trace", COMPARE, "--request", "3", "--variant", "v1"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        text.starts_with("request 3 of 400 · variant v1 · seed 42"),
        "{text}"
    );
    let lines = hops(&text);
    let times: Vec<f64> = lines.iter().map(|(t, _)| *t).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    let expected = [
        "gateway/product-details started: a worker takes it",
        "gateway/product-details calls product/get (timeout 30s)",
        "product/get answers 200",
        "recommendations/get hang fault: holds the worker until",
        "gateway/product-details timed out waiting for recommendations/get",
        "gateway/product-details fallback: gives up, answers 500",
        "user the user sees: error (status 500)",
        "recommendations/get answers 408; nobody waits for it any more: work in vain",
    ];
    let mut position = 0;
    for wanted in expected {
        let found = lines[position..]
            .iter()
            .position(|(_, line)| line.starts_with(wanted))
            .unwrap_or_else(|| panic!("`{wanted}` after line {position} in\n{text}"));
        position += found + 1;
    }
    let timed_out = lines
        .iter()
        .find(|(_, l)| l.contains("timed out"))
        .unwrap()
        .0;
    let called = lines
        .iter()
        .find(|(_, l)| l.contains("calls recommendations/get"))
        .unwrap()
        .0;
    assert!((timed_out - called - 30.0).abs() < 1e-6, "the 30 s timeout");
    // v2 during an open breaker: rejected at once, degraded answer.
    let (code, text, stderr) = cascade(&["trace", COMPARE, "--request", "400", "--variant", "v2"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        text.contains("breaker recommendations rejects the call"),
        "{text}"
    );
    assert!(
        text.contains("the user sees: degraded (status 200)"),
        "{text}"
    );
}

#[test]
fn a_trace_names_what_is_wrong_with_its_arguments() {
    for (args, message) in [
        (vec!["--request", "0"], "numbered from 1"),
        (vec!["--request", "1000000"], "the run issued 400 requests"),
        (
            vec!["--request", "1", "--variant", "v3"],
            "has the variants v1, v2",
        ),
    ] {
        let mut full = vec!["trace", COMPARE];
        full.extend(&args);
        if !args.contains(&"--variant") {
            full.extend(["--variant", "v1"]);
        }
        let (code, stdout, stderr) = cascade(&full);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn the_readme_charts_are_what_the_documented_command_draws() {
    let dir = scratch("readme-charts");
    let (code, _, stderr) = cascade(&["run", COMPARE, "--svg", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let committed = read_svgs(Path::new("docs/gateway-compare"));
    assert!(
        committed == read_svgs(&dir),
        "docs/gateway-compare is out of date: run\n  cargo run --release -- run {COMPARE} --svg docs/gateway-compare"
    );
    let readme = std::fs::read_to_string("README.md").unwrap();
    let shown = readme
        .split("](docs/gateway-compare/")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("the README shows a chart");
    assert!(
        committed.iter().any(|(name, _)| name == shown),
        "the README's chart {shown} exists"
    );
}

/// Regression: a window with completions between two without any drew nothing (a
/// polyline of one point), so v1's first answers, at 30 s, were missing.
#[test]
fn a_window_alone_between_gaps_still_shows() {
    let dir = scratch("lone-window");
    let (_, files) = run_pictures(&dir, &[]);
    let (code, json, stderr) = cascade(&["run", COMPARE, "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let served: Vec<bool> = report["variants"][0]["timeline"]["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["completed"].as_u64().unwrap() > 0)
        .collect();
    let runs = served.split(|&s| !s).filter(|run| !run.is_empty()).count();
    let lone = served.split(|&s| !s).filter(|run| run.len() == 1).count();
    assert!(lone >= 1, "v1 has a window served alone: {served:?}");
    let svg = &files
        .iter()
        .find(|(name, _)| name.ends_with("v1-latency.svg"))
        .unwrap()
        .1;
    let document = roxmltree::Document::parse(svg).unwrap();
    let p99 = document
        .descendants()
        .find(|n| n.attribute("aria-label") == Some("p99"))
        .unwrap();
    let lines = p99
        .children()
        .filter(|n| n.has_tag_name("polyline"))
        .count();
    assert_eq!(lines, runs, "one line per run of served windows");
}

#[test]
fn every_scenario_draws_well_formed_charts() {
    let mut files: Vec<String> = Vec::new();
    for dir in ["scenarios", "scenarios/validation"] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                files.push(path.to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    assert!(files.len() > 10);
    for file in files {
        let dir = scratch("every-scenario");
        let html = dir.join("report.html");
        let svg = dir.join("svg");
        let (code, _, stderr) = cascade(&[
            "run",
            &file,
            "--html",
            html.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
        ]);
        assert!([0, 3, 4].contains(&code), "{file}: exit {code}: {stderr}");
        let page = std::fs::read_to_string(&html).unwrap();
        let svgs = read_svgs(&svg);
        assert_eq!(inline_svgs(&page).len(), svgs.len(), "{file}");
        for (name, text) in svgs {
            check_chart(&format!("{file}: {name}"), &text);
        }
    }
}

#[test]
fn the_hypothesis_checks_are_marked_on_the_time_axis() {
    let dir = scratch("checks");
    let svg = dir.join("svg");
    let (code, _, stderr) = cascade(&[
        "run",
        "scenarios/provider-down-before.toml",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "the experiment deviates: {stderr}");
    let files = read_svgs(&svg);
    let throughput = &files
        .iter()
        .find(|(name, _)| name.ends_with("throughput.svg"))
        .unwrap()
        .1;
    for label in ["hypothesis check", "before-check", "after-check"] {
        assert!(throughput.contains(&format!(">{label}</text>")), "{label}");
    }
    // The file's before_at is 5 s, on a 60 s axis: the mark sits at 1/12 of it.
    let document = roxmltree::Document::parse(throughput).unwrap();
    let before = document
        .descendants()
        .find(|n| n.text() == Some("before-check"))
        .unwrap();
    let x: f64 = before.attribute("x").unwrap().parse().unwrap();
    let (left, right) = (84.0, 960.0 - 24.0);
    let expected = left + (right - left) * 5.0 / 60.0 + 3.0;
    assert!((x - expected).abs() < 0.2, "{x} vs {expected}");
}
