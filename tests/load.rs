//! Locust's wait times: constant_pacing and constant_throughput start a task every
//! interval when tasks are shorter, and back to back when they are longer.

fn throughput(wait: &str, work: &str) -> f64 {
    let source = format!(
        r#"
[scenario]
name = "pacing"
seed = 1
duration = "100s"

[load]
kind = "closed"
users = 10
spawn_rate = 1000
wait = {wait}
target = "s/get"

[services.s]
workers = "unbounded"
endpoints.get.steps = [{{ work = {{ constant = "{work}" }} }}]
"#
    );
    let experiment = cascade::scenario::experiment_from_str("pacing.toml", &source, &[])
        .unwrap_or_else(|e| panic!("{}", e.rendered));
    models::simulate(&experiment.variants[0].scenario).throughput_rps
}

#[test]
fn constant_pacing_starts_a_task_every_interval() {
    // 10 users, a task every 1 s each: 10 per second, whatever the 200 ms of work.
    let rps = throughput(r#"{ constant_pacing = "1s" }"#, "200ms");
    assert!((rps - 10.0).abs() < 0.15, "{rps}");
    // constant_throughput(0.5) is constant_pacing(2 s).
    let rps = throughput("{ constant_throughput = 0.5 }", "200ms");
    assert!((rps - 5.0).abs() < 0.1, "{rps}");
}

#[test]
fn constant_pacing_never_waits_after_a_task_longer_than_the_interval() {
    // Tasks of 1.5 s with a 1 s pace run back to back: 10 users / 1.5 s.
    let rps = throughput(r#"{ constant_pacing = "1s" }"#, "1500ms");
    assert!((rps - 10.0 / 1.5).abs() < 0.15, "{rps}");
}

#[test]
fn a_constant_wait_adds_to_the_task() {
    let rps = throughput(r#"{ constant = "1s" }"#, "200ms");
    assert!((rps - 10.0 / 1.2).abs() < 0.15, "{rps}");
}
