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

fn run(source: &str) -> models::RunReport {
    let experiment = cascade::scenario::experiment_from_str("load.toml", source, &[])
        .unwrap_or_else(|e| panic!("{}", e.rendered));
    models::simulate(&experiment.variants[0].scenario)
}

/// Open-loop arrivals at an instant service, counted in 10 s windows.
fn open_arrivals(load: &str) -> Vec<u64> {
    let report = run(&format!(
        r#"
[scenario]
name = "schedule"
seed = 4
duration = "100s"

[load]
kind = "open"
{load}
target = "s/get"

[services.s]
workers = "unbounded"
endpoints.get.steps = [{{ work = {{ constant = "0s" }} }}]
"#
    ));
    report
        .timeline
        .windows
        .iter()
        .map(|w| w.completed)
        .collect()
}

/// A Poisson count with mean `mean` is within 4 standard deviations of it.
fn poisson_close(count: u64, mean: f64) -> bool {
    (count as f64 - mean).abs() < 4.0 * mean.sqrt()
}

#[test]
fn a_rate_step_changes_the_arrival_rate_at_its_time() {
    let windows = open_arrivals("rate = 100\nschedule = [{ at = \"50s\", rate = 300 }]");
    for (index, &count) in windows.iter().enumerate() {
        let mean = if index < 5 { 1000.0 } else { 3000.0 };
        assert!(poisson_close(count, mean), "window {index}: {count}");
    }
}

#[test]
fn a_rate_ramp_is_linear() {
    // From 100/s at 0 s to 300/s at 100 s: the window from 10k to 10k+10 s holds
    // 10 x (100 + 2 x (10k + 5)) arrivals on average.
    let windows =
        open_arrivals("rate = 100\nschedule = [{ at = \"0s\", rate = 300, ramp = \"100s\" }]");
    for (index, &count) in windows.iter().enumerate() {
        let mean = 10.0 * (100.0 + 2.0 * (10.0 * index as f64 + 5.0));
        assert!(
            poisson_close(count, mean),
            "window {index}: {count} vs {mean}"
        );
    }
    let total: u64 = windows.iter().sum();
    assert!(poisson_close(total, 20_000.0), "{total}");
}

#[test]
fn a_rate_of_zero_stops_arrivals() {
    let windows = open_arrivals(
        "rate = 200\nschedule = [{ at = \"30s\", rate = 0 }, { at = \"60s\", rate = 200 }]",
    );
    assert_eq!(&windows[3..6], &[0, 0, 0]);
    assert!(poisson_close(windows[7], 2000.0));
}

#[test]
fn weighted_tasks_are_picked_in_proportion() {
    let report = run(r#"
[scenario]
name = "tasks"
seed = 9
duration = "200s"

[load]
kind = "closed"
users = 50
spawn_rate = 50
wait = { constant = "100ms" }
tasks = [
  { target = "s/a", weight = 5 },
  { target = "s/b", weight = 2 },
  { target = "s/c" },
]

[services.s]
workers = "unbounded"
endpoints.a.steps = [{ work = { constant = "1ms" } }]
endpoints.b.steps = [{ work = { constant = "1ms" } }]
endpoints.c.steps = [{ work = { constant = "1ms" } }]
"#);
    let total: u64 = report.tasks.iter().map(|t| t.completed).sum();
    assert_eq!(total, report.completed);
    assert_eq!(report.target, "s/a, s/b, s/c");
    for (task, share) in report.tasks.iter().zip([5.0 / 8.0, 2.0 / 8.0, 1.0 / 8.0]) {
        let n = total as f64;
        let sd = (n * share * (1.0 - share)).sqrt();
        assert!(
            (task.completed as f64 - n * share).abs() < 4.0 * sd,
            "{}: {} of {total}",
            task.target,
            task.completed
        );
    }
}
