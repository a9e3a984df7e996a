"""The seed's gateway-with-breaker scenario in SimPy: a yardstick for cascade's speed.

Same model as scenarios/gateway-with-breaker.toml: closed-loop Locust-style users
(think time uniform 1-2 s, spawned 10 per second), a gateway step of lognormal work
(median 1 ms, p99 5 ms), a call to product (lognormal 3 ms / 15 ms, 5 s timeout), and
a call to recommendations, which hangs 30 s then answers 408, through a gobreaker-
style breaker (3 consecutive failures, open 5 s, one half-open trial) with a 5 s
timeout and a degraded fallback. Unbounded workers everywhere (goroutines).

Usage: python gateway.py USERS DURATION_S [SPAWN_RATE [SEED]] [--count-events]
prints: completed, mean latency (ms), rps (Locust's: completed / last completion),
events (SimPy events processed, with --count-events), and the simulation's own wall
and CPU time in seconds (building the model and running it, as cascade's bench times
models::simulate; the interpreter's start-up and imports are left out).
"""

import math
import random
import sys
import time

import simpy

Z99 = 2.326347874040841


def lognormal(rng, median, p99):
    sigma = math.log(p99 / median) / Z99
    return rng.lognormvariate(math.log(median), sigma)


class Breaker:
    """gobreaker semantics: lazy strict-time transitions, generations, max requests."""

    def __init__(self, env, failures, open_for, max_requests):
        self.env, self.failures, self.open_for, self.max_requests = env, failures, open_for, max_requests
        self.state, self.generation, self.expiry = "closed", 0, None
        self.requests = self.consecutive_failures = self.consecutive_successes = 0

    def _new_generation(self):
        self.generation += 1
        self.requests = self.consecutive_failures = self.consecutive_successes = 0
        self.expiry = self.env.now + self.open_for if self.state == "open" else None

    def _set(self, state):
        if state != self.state:
            self.state = state
            self._new_generation()

    def _observe(self):
        if self.state == "open" and self.expiry < self.env.now:
            self._set("half_open")

    def allow(self):
        self._observe()
        if self.state == "open":
            return None
        if self.state == "half_open" and self.requests >= self.max_requests:
            return None
        self.requests += 1
        return self.generation

    def record(self, generation, success):
        self._observe()
        if generation != self.generation:
            return
        if success:
            self.consecutive_successes += 1
            self.consecutive_failures = 0
            if self.state == "half_open" and self.consecutive_successes >= self.max_requests:
                self._set("closed")
        else:
            self.consecutive_failures += 1
            self.consecutive_successes = 0
            if self.state == "half_open" or self.consecutive_failures >= self.failures:
                self._set("open")


def spawn_time(spawn_rate, index):
    """Locust starts users in batches of floor(rate) once a second (cascade's spawn_time)."""
    batch = max(math.floor(spawn_rate), 1)
    return math.floor(index / batch) * (batch / spawn_rate)


class CountingEnvironment(simpy.Environment):
    """Counts the events SimPy processes, to compare with cascade's event count."""

    events = 0

    def step(self):
        self.events += 1
        super().step()


def main():
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    users = int(args[0])
    duration = float(args[1])
    spawn_rate = float(args[2]) if len(args) > 2 else 10.0
    seed = int(args[3]) if len(args) > 3 else 42
    # Counting slows SimPy down a little, so timed runs do not count.
    count_events = "--count-events" in sys.argv
    started, started_cpu = time.perf_counter(), time.process_time()
    rng = random.Random(seed)
    env = CountingEnvironment() if count_events else simpy.Environment()
    breaker = Breaker(env, failures=3, open_for=5.0, max_requests=1)
    stats = {"completed": 0, "latency": 0.0, "last": 0.0}

    def product():
        yield env.timeout(lognormal(rng, 0.003, 0.015))

    def recommendations():
        yield env.timeout(30.0)  # the hang; then 408
        return 408

    def call_with_timeout(process, timeout):
        call = env.process(process())
        result = yield call | env.timeout(timeout)
        if call in result:
            return result[call]
        return "timeout"  # the callee keeps running, as in cascade

    def request():
        yield env.timeout(lognormal(rng, 0.001, 0.005))
        yield from call_with_timeout(product, 5.0)
        ticket = breaker.allow()
        if ticket is not None:
            outcome = yield from call_with_timeout(recommendations, 5.0)
            breaker.record(ticket, outcome == 200)

    def user(index):
        yield env.timeout(spawn_time(spawn_rate, index))
        while True:
            start = env.now
            yield from request()
            stats["completed"] += 1
            stats["latency"] += env.now - start
            stats["last"] = env.now
            yield env.timeout(rng.uniform(1.0, 2.0))

    for index in range(users):
        env.process(user(index))
    env.run(until=duration)
    wall_s, cpu_s = time.perf_counter() - started, time.process_time() - started_cpu
    completed = stats["completed"]
    events = env.events if count_events else "-"
    print(completed, 1000 * stats["latency"] / max(completed, 1), completed / max(stats["last"], 1e-9), events, wall_s, cpu_s)


if __name__ == "__main__":
    main()
