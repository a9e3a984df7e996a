//! Independent runs on several threads, with results in the order of the inputs, so
//! that what is written never depends on the number of threads or on which run
//! finished first.

use rayon::prelude::*;

/// `task` applied to every item on `jobs` threads; the results in item order.
pub fn map_in_order<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    task: impl Fn(&T) -> R + Sync + Send,
) -> Vec<R> {
    match rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
    {
        Ok(pool) => pool.install(|| items.par_iter().map(&task).collect()),
        // No threads to be had: the same results, one after another.
        Err(_) => items.iter().map(task).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::map_in_order;

    #[test]
    fn results_keep_the_input_order_whatever_the_threads() {
        let items: Vec<u64> = (0..500).collect();
        // Uneven work, so that runs finish out of order.
        let work =
            |&n: &u64| (0..(n * 7919) % 2000).fold(n, |a, b| a.wrapping_mul(31).wrapping_add(b));
        let one = map_in_order(&items, 1, work);
        for jobs in [2, 3, 8] {
            assert_eq!(map_in_order(&items, jobs, work), one);
        }
    }
}
