//! The loader returns an error value for any text, never a panic: random bytes, and
//! bundled scenarios mutated by deleting, inserting and replacing pieces. Mutants
//! that still load and are small enough are also simulated, to catch engine panics
//! on odd but valid values.

use cascade::scenario;
use proptest::prelude::*;

fn seeds() -> Vec<String> {
    let mut texts = Vec::new();
    for dir in ["scenarios", "scenarios/invalid"] {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        paths.sort();
        texts.extend(
            paths
                .iter()
                .map(|path| std::fs::read_to_string(path).unwrap()),
        );
    }
    texts
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    ReplaceQuoted { nth: usize, text: String },
    ReplaceNumber { nth: usize, text: String },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let fragments = prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("\"\"".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("99999999999999999999".to_string()),
        Just("\"unbounded\"".to_string()),
        Just("[".to_string()),
        Just("{ }".to_string()),
        Just("\n[services.x]\n".to_string()),
        "[ -~]{0,12}",
    ];
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), fragments.clone()).prop_map(|(at, text)| Mutation::Insert { at, text }),
        (
            any::<usize>(),
            prop_oneof![
                Just("0s".to_string()),
                Just("-1s".to_string()),
                Just("1e9h".to_string()),
                Just("x/y".to_string()),
                Just("front".to_string()),
                "[ -~]{0,8}"
            ]
        )
            .prop_map(|(nth, text)| Mutation::ReplaceQuoted { nth, text }),
        (any::<usize>(), fragments).prop_map(|(nth, text)| Mutation::ReplaceNumber { nth, text }),
    ]
}

fn boundary(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &str, mutation: &Mutation) -> String {
    match mutation {
        Mutation::Delete { at, len } => {
            let start = boundary(text, *at);
            let end = boundary(text, (start + len).min(text.len()));
            format!("{}{}", &text[..start], &text[end.max(start)..])
        }
        Mutation::Insert { at, text: piece } => {
            let at = boundary(text, *at);
            format!("{}{piece}{}", &text[..at], &text[at..])
        }
        Mutation::ReplaceQuoted { nth, text: piece } => {
            let quotes: Vec<usize> = text.match_indices('"').map(|(i, _)| i).collect();
            if quotes.len() < 2 {
                return text.to_string();
            }
            let pair = nth % (quotes.len() / 2);
            let (open, close) = (quotes[2 * pair], quotes[2 * pair + 1]);
            format!("{}{piece}{}", &text[..=open], &text[close..])
        }
        Mutation::ReplaceNumber { nth, text: piece } => {
            let numbers: Vec<(usize, usize)> = text
                .char_indices()
                .filter(|&(i, c)| {
                    c.is_ascii_digit()
                        && (i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric())
                })
                .map(|(i, _)| {
                    let end = text[i..]
                        .find(|c: char| !c.is_ascii_digit())
                        .map_or(text.len(), |e| i + e);
                    (i, end)
                })
                .collect();
            if numbers.is_empty() {
                return text.to_string();
            }
            let (start, end) = numbers[nth % numbers.len()];
            format!("{}{piece}{}", &text[..start], &text[end..])
        }
    }
}

fn load_and_maybe_run(text: &str) {
    if let Ok(built) = scenario::load_str("mutant.toml", text) {
        let scenario = &built.scenario;
        let seconds = scenario.duration.as_secs_f64();
        let small = seconds <= 300.0
            && match scenario.load.model {
                models::spec::LoadModel::Closed { users, .. } => users <= 200,
                models::spec::LoadModel::Open { rate, ref schedule } => {
                    let peak = schedule.iter().map(|c| c.rate).fold(rate, f64::max);
                    peak * seconds <= 100_000.0
                }
            };
        if small {
            let _ = models::simulate(&built.scenario);
        }
    }
}

/// CI runs a fixed number of cases; `PROPTEST_CASES=20000 cargo test --release`
/// runs a longer search.
fn cases_or(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases_or(400)))]

    #[test]
    fn mutated_scenarios_never_panic(pick in any::<usize>(), mutations in proptest::collection::vec(mutation(), 1..4)) {
        let seeds = seeds();
        let mut text = seeds[pick % seeds.len()].clone();
        for mutation in &mutations {
            text = apply(&text, mutation);
        }
        load_and_maybe_run(&text);
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,300}") {
        load_and_maybe_run(&text);
    }
}

#[test]
fn errors_always_carry_a_location_or_the_file_name() {
    for text in [
        "",
        "[scenario]",
        "= 1",
        "\u{feff}[x]\u{0}",
        "[[faults]]\n[[faults]]",
    ] {
        let error = scenario::load_str("m.toml", text)
            .err()
            .expect("not a scenario");
        assert!(
            error.rendered.starts_with("error: m.toml"),
            "{}",
            error.rendered
        );
    }
}
