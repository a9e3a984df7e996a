//! Every bundled scenario is a regression test: its JSON report is snapshotted under
//! `snapshots/`, and running it twice must give the same bytes. Adding a scenario file
//! adds a test, with no code.

use cascade::render;

fn json_report(path: &str) -> String {
    let report =
        cascade::report_for_file(path, None).unwrap_or_else(|error| panic!("{}", error.rendered));
    render::json::render(&report)
}

#[test]
fn every_scenario_report_matches_its_snapshot_and_is_deterministic() {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::glob!("../scenarios", "*.toml", |path| {
            let path = path.to_str().expect("utf-8 path");
            let first = json_report(path);
            let second = json_report(path);
            assert_eq!(first, second, "{path}: two runs with the same seed differ");
            insta::assert_snapshot!(first);
        });
    });
}

#[test]
fn a_different_seed_changes_the_report() {
    let path = "scenarios/gateway-with-breaker.toml";
    let a = render::json::render(&cascade::report_for_file(path, Some(1)).unwrap());
    let b = render::json::render(&cascade::report_for_file(path, Some(2)).unwrap());
    assert_ne!(a, b);
}
