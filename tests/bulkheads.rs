//! Bulkheads: never more permits in use than allowed, rejections when full, waiting
//! up to `max_wait` (semaphore) or in a bounded queue (thread pool), and the
//! protection they give a shared pool.

fn reports(sets: &[&str]) -> Vec<models::RunReport> {
    let sets: Vec<_> = sets
        .iter()
        .map(|s| cascade::scenario::overrides::Override::from_cli(s).unwrap())
        .collect();
    let experiment =
        cascade::scenario::load_experiment("scenarios/bulkhead-protects-the-pool.toml", &sets)
            .unwrap_or_else(|e| panic!("{}", e.rendered));
    experiment
        .variants
        .iter()
        .map(|v| models::simulate(&v.scenario))
        .collect()
}

#[test]
fn the_bulkhead_caps_concurrency_and_keeps_the_pool_serving() {
    let runs = reports(&[]);
    let (with, without) = (&runs[0], &runs[1]);
    let bulkhead = &with.bulkheads[0];
    assert_eq!(bulkhead.in_use_max, 8);
    assert!(bulkhead.rejected > 0);
    let reviews = with.services.iter().find(|s| s.name == "reviews").unwrap();
    assert!(
        reviews.busy_max <= 8,
        "no more than the permits wait on reviews"
    );
    assert!(
        with.latency_ms.p99 * 100.0 < without.latency_ms.p99,
        "{} vs {}",
        with.latency_ms.p99,
        without.latency_ms.p99
    );
    assert!(with.throughput_rps > 1.5 * without.throughput_rps);
    assert_eq!(
        with.failures, 0,
        "rejections become degraded pages, not errors"
    );
}

#[test]
fn callers_wait_for_a_permit_up_to_max_wait() {
    let runs = reports(&["bulkheads.reviews.max_wait=50ms"]);
    let bulkhead = &runs[0].bulkheads[0];
    assert!(bulkhead.waited > 0);
    assert!(bulkhead.rejected > 0, "the hang outlasts every wait");
    assert!(
        bulkhead.rejected <= bulkhead.waited,
        "only those who waited are rejected"
    );
    assert_eq!(bulkhead.in_use_max, 8);
}

#[test]
fn a_thread_pool_bulkhead_queues_up_to_its_capacity_then_rejects() {
    let runs = reports(&[
        r#"bulkheads.reviews={ kind = "thread_pool", max_concurrent = 4, queue_capacity = 6 }"#,
    ]);
    let with = &runs[0];
    let bulkhead = &with.bulkheads[0];
    // Four threads, six queued: a hung reviews holds at most ten gateway threads.
    assert_eq!(bulkhead.in_use_max, 4);
    assert_eq!(bulkhead.queue_max, 6);
    assert!(bulkhead.waited > 0 && bulkhead.rejected > 0);
    // The queue's wait counts against the call's timeout, so no page waits on
    // reviews for longer than one timeout.
    let timeout_ms = 15_000.0;
    assert!(
        with.latency_ms.max < timeout_ms + 100.0,
        "{}",
        with.latency_ms.max
    );
    let without = &runs[1];
    assert!(with.latency_ms.p99 * 100.0 < without.latency_ms.p99);
    assert!(with.throughput_rps > 1.5 * without.throughput_rps);
}

#[test]
fn a_thread_pool_without_a_queue_rejects_as_soon_as_its_threads_are_busy() {
    // Hystrix's default: a SynchronousQueue, no waiting at all.
    let runs = reports(&[
        r#"bulkheads.reviews={ kind = "thread_pool", max_concurrent = 4, queue_capacity = 0 }"#,
    ]);
    let bulkhead = &runs[0].bulkheads[0];
    assert_eq!(
        (bulkhead.in_use_max, bulkhead.queue_max, bulkhead.waited),
        (4, 0, 0)
    );
    assert!(bulkhead.rejected > 0);
}
