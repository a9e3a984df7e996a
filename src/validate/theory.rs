//! Closed-form results of queueing theory, for checking the simulator against them.

/// Erlang C: the probability that an arrival to an M/M/c queue waits, with offered
/// load `a = lambda / mu` (< c).
pub fn erlang_c(c: u32, a: f64) -> f64 {
    let b = erlang_b(c, a);
    let rho = a / f64::from(c);
    b / (1.0 - rho * (1.0 - b))
}

/// Erlang B: the blocking probability of an M/M/c/c loss system, by the stable
/// recursion B(k) = a B(k-1) / (k + a B(k-1)).
pub fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (f64::from(k) + a * b))
}

/// Steady state of one service, as theory predicts it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    pub waited_share: f64,
    pub wait_mean_s: f64,
    pub response_mean_s: f64,
    pub utilisation: f64,
    pub blocking: f64,
    pub throughput: f64,
}

/// M/M/c with an unbounded queue (Erlang C).
pub fn mmc(lambda: f64, mean_service_s: f64, c: u32) -> Prediction {
    let a = lambda * mean_service_s;
    let p_wait = erlang_c(c, a);
    let wait = p_wait / (f64::from(c) / mean_service_s - lambda);
    Prediction {
        waited_share: p_wait,
        wait_mean_s: wait,
        response_mean_s: wait + mean_service_s,
        utilisation: a / f64::from(c),
        blocking: 0.0,
        throughput: lambda,
    }
}

/// M/M/c/K with `queue` places besides the `c` workers (K = c + queue), from the
/// birth-death chain: p_n ∝ a^n / n! for n <= c, then ∝ p_c ρ^(n-c).
pub fn mmck(lambda: f64, mean_service_s: f64, c: u32, queue: u32) -> Prediction {
    let mu = 1.0 / mean_service_s;
    let a = lambda / mu;
    let k = c + queue;
    let mut weights = Vec::with_capacity(k as usize + 1);
    let mut weight = 1.0;
    weights.push(weight);
    for n in 1..=k {
        weight *= a / f64::from(n.min(c));
        weights.push(weight);
    }
    let total: f64 = weights.iter().sum();
    let p: Vec<f64> = weights.iter().map(|w| w / total).collect();
    let blocking = p[k as usize];
    let admitted = 1.0 - blocking;
    let throughput = lambda * admitted;
    // PASTA: an admitted arrival waits when it finds c..K-1 jobs.
    // fold from +0.0: an empty f64 sum is -0.0, which would print as "-0.00000".
    let waited_share = (c..k).map(|n| p[n as usize]).fold(0.0, |a, b| a + b) / admitted;
    let queue_mean: f64 = (c..=k).map(|n| f64::from(n - c) * p[n as usize]).sum();
    let busy_mean: f64 = (0..=k).map(|n| f64::from(n.min(c)) * p[n as usize]).sum();
    let wait = queue_mean / throughput;
    Prediction {
        waited_share,
        wait_mean_s: wait,
        response_mean_s: wait + mean_service_s,
        utilisation: busy_mean / f64::from(c),
        blocking,
        throughput,
    }
}

/// M/G/1 by Pollaczek-Khinchine, from the service time's first two moments.
pub fn mg1(lambda: f64, mean_service_s: f64, second_moment_s2: f64) -> Prediction {
    let rho = lambda * mean_service_s;
    let wait = lambda * second_moment_s2 / (2.0 * (1.0 - rho));
    Prediction {
        waited_share: rho,
        wait_mean_s: wait,
        response_mean_s: wait + mean_service_s,
        utilisation: rho,
        blocking: 0.0,
        throughput: lambda,
    }
}

/// Exact mean-value analysis of `users` customers cycling between a think time of
/// mean `think_s` (a delay station) and one exponential FCFS server.
pub fn mva(users: u32, think_s: f64, mean_service_s: f64) -> Prediction {
    let mut queue = 0.0;
    let (mut throughput, mut response) = (0.0, 0.0);
    for n in 1..=users {
        response = mean_service_s * (1.0 + queue);
        throughput = f64::from(n) / (think_s + response);
        queue = throughput * response;
    }
    let utilisation = throughput * mean_service_s;
    Prediction {
        // Arrival theorem: an arrival sees the network with one customer fewer.
        waited_share: f64::NAN,
        wait_mean_s: response - mean_service_s,
        response_mean_s: response,
        utilisation,
        blocking: 0.0,
        throughput,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn textbook_values() {
        // Erlang B(10, 8) = 0.12166; Erlang C(10, 9) = 0.668732.
        assert!(
            close(erlang_b(10, 8.0), 0.12166, 1e-5),
            "{}",
            erlang_b(10, 8.0)
        );
        assert!(
            close(erlang_c(10, 9.0), 0.668732, 1e-6),
            "{}",
            erlang_c(10, 9.0)
        );
        // M/M/1 at rho 0.8 with mu = 1: W = 5, Wq = 4.
        let mm1 = mmc(0.8, 1.0, 1);
        assert!(close(mm1.response_mean_s, 5.0, 1e-12) && close(mm1.wait_mean_s, 4.0, 1e-12));
        assert!(close(mm1.waited_share, 0.8, 1e-12));
        // M/D/1 at rho 0.7: Wq = 0.7 / (2 * 0.3) = 1.1667.
        assert!(close(mg1(0.7, 1.0, 1.0).wait_mean_s, 7.0 / 6.0, 1e-12));
        // M/G/1 with exponential service is M/M/1.
        assert!(close(mg1(0.8, 1.0, 2.0).response_mean_s, 5.0, 1e-12));
    }

    #[test]
    fn finite_queue_reduces_to_the_limits() {
        let loss = mmck(8.0, 1.0, 10, 0);
        assert!(close(loss.blocking, erlang_b(10, 8.0), 1e-12));
        assert!(close(loss.waited_share, 0.0, 1e-12));
        let long = mmck(9.0, 1.0, 10, 5000);
        let infinite = mmc(9.0, 1.0, 10);
        assert!(close(long.wait_mean_s, infinite.wait_mean_s, 1e-9));
        assert!(close(long.waited_share, infinite.waited_share, 1e-9));
    }

    #[test]
    fn mva_matches_the_single_user_and_saturation_limits() {
        let one = mva(1, 5.0, 1.0);
        assert!(close(one.throughput, 1.0 / 6.0, 1e-12) && close(one.response_mean_s, 1.0, 1e-12));
        let many = mva(200, 5.0, 1.0);
        assert!(
            close(many.throughput, 1.0, 1e-9),
            "saturates at the service rate"
        );
    }
}
