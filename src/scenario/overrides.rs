//! Overrides by dotted path: `services.gateway.workers`, `breakers.recs.failures`,
//! `services.gateway.endpoints.product-details.steps[2].timeout`. The same mechanism
//! serves `[[variants]]`, `--set` and (later) sweeps.
//!
//! Overrides act on the TOML tree before it is checked, so an override is held to
//! exactly the rules of the file: unknown keys, wrong types and impossible values
//! are caught by the same checks, with the same messages.

use toml::{Table, Value};

#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// One `path = value` (or `path` removed, when `value` is `None`).
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub path: String,
    pub value: Option<Value>,
}

impl Override {
    /// Parses `--set path=value`. The value is read as a TOML value when it is one
    /// (`3`, `"5s"`, `true`, `[1, 2]`, `{ constant = "5ms" }`), else taken as a
    /// string, so that `--set scenario.duration=30s` works without shell quoting.
    pub fn from_cli(argument: &str) -> Result<Override, String> {
        let Some((path, text)) = argument.split_once('=') else {
            return Err(format!(
                "--set {argument}: expected PATH=VALUE, e.g. --set services.gateway.workers=50"
            ));
        };
        let path = path.trim();
        parse_path(path).map_err(|message| format!("--set {argument}: {message}"))?;
        Ok(Override {
            path: path.to_string(),
            value: Some(value_from_text(text.trim())),
        })
    }
}

/// A TOML value where the text is one (`3`, `"5s"`, `true`, `[1, 2]`), else the text
/// as a string: what `--set` and sweep values accept.
pub fn value_from_text(text: &str) -> Value {
    toml::from_str::<Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut table| table.remove("v"))
        .unwrap_or_else(|| Value::String(text.to_string()))
}

fn parse_path(text: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("the path is empty".into());
    }
    loop {
        let (key, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| format!("unclosed quote in path `{text}`"))?;
            (quoted[..end].to_string(), &quoted[end + 1..])
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len());
            if end == 0 {
                return Err(format!("path `{text}`: expected a key at `{rest}`"));
            }
            (rest[..end].to_string(), &rest[end..])
        };
        segments.push(Segment::Key(key));
        rest = after;
        while let Some(inner) = rest.strip_prefix('[') {
            let end = inner
                .find(']')
                .ok_or_else(|| format!("path `{text}`: unclosed `[`"))?;
            let index = inner[..end]
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("path `{text}`: `[{}]` is not an index", &inner[..end]))?;
            segments.push(Segment::Index(index));
            rest = &inner[end + 1..];
        }
        if rest.is_empty() {
            return Ok(segments);
        }
        rest = rest
            .strip_prefix('.')
            .ok_or_else(|| format!("path `{text}`: expected `.` or `[` at `{rest}`"))?;
    }
}

/// Applies one override to `document`. Intermediate keys must exist; the last key
/// may be new (the checks that follow reject keys the file format does not know).
pub fn apply(document: &mut Table, change: &Override) -> Result<(), String> {
    let segments = parse_path(&change.path)?;
    let (last, parents) = segments.split_last().expect("a parsed path is never empty");
    let mut node = TableOrArray::Table(document);
    let mut walked = String::new();
    for segment in parents {
        node = node.child(segment, &walked)?;
        push_segment(&mut walked, segment);
    }
    match (node, last, &change.value) {
        (TableOrArray::Table(table), Segment::Key(key), Some(value)) => {
            table.insert(key.clone(), value.clone());
            Ok(())
        }
        (TableOrArray::Table(table), Segment::Key(key), None) => table
            .remove(key)
            .map(|_| ())
            .ok_or_else(|| missing_key(table, key, &walked)),
        (TableOrArray::Array(array), Segment::Index(index), Some(value)) => {
            let length = array.len();
            let slot = array
                .get_mut(*index)
                .ok_or_else(|| format!("`{walked}` has {length} items; there is no [{index}]"))?;
            *slot = value.clone();
            Ok(())
        }
        (TableOrArray::Array(_), Segment::Index(_), None) => Err(format!(
            "cannot remove an item of the list `{walked}`; set the whole list instead"
        )),
        (TableOrArray::Table(_), Segment::Index(index), _) => Err(format!(
            "`{walked}` is a table, not a list: `[{index}]` does not apply"
        )),
        (TableOrArray::Array(_), Segment::Key(key), _) => Err(format!(
            "`{walked}` is a list: use an index such as `{walked}[0]`, not `.{key}`"
        )),
    }
}

enum TableOrArray<'a> {
    Table(&'a mut Table),
    Array(&'a mut Vec<Value>),
}

impl<'a> TableOrArray<'a> {
    fn child(self, segment: &Segment, walked: &str) -> Result<TableOrArray<'a>, String> {
        let item = match (self, segment) {
            (TableOrArray::Table(table), Segment::Key(key)) => {
                if !table.contains_key(key) {
                    return Err(missing_key(table, key, walked));
                }
                table.get_mut(key).expect("checked above")
            }
            (TableOrArray::Array(array), Segment::Index(index)) => {
                let length = array.len();
                array.get_mut(*index).ok_or_else(|| {
                    format!("`{walked}` has {length} items; there is no [{index}]")
                })?
            }
            (TableOrArray::Table(_), Segment::Index(index)) => {
                return Err(format!(
                    "`{walked}` is a table, not a list: `[{index}]` does not apply"
                ));
            }
            (TableOrArray::Array(_), Segment::Key(key)) => {
                return Err(format!(
                    "`{walked}` is a list: use an index such as `{walked}[0]`, not `.{key}`"
                ));
            }
        };
        match item {
            Value::Table(table) => Ok(TableOrArray::Table(table)),
            Value::Array(array) => Ok(TableOrArray::Array(array)),
            other => Err(format!(
                "`{walked}{}{}` is a {}, which has nothing inside",
                if walked.is_empty() { "" } else { "." },
                segment_text(segment),
                other.type_str()
            )),
        }
    }
}

fn missing_key(table: &Table, key: &str, walked: &str) -> String {
    let place = if walked.is_empty() {
        "at the top of the file".to_string()
    } else {
        format!("in `{walked}`")
    };
    let closest = table
        .keys()
        .map(|known| (strsim::damerau_levenshtein(key, known), known))
        .filter(|&(distance, known)| distance <= 2.max(known.len() / 3))
        .min()
        .map(|(_, known)| format!("; did you mean `{known}`?"))
        .unwrap_or_default();
    format!("unknown path: there is no `{key}` {place}{closest}")
}

fn segment_text(segment: &Segment) -> String {
    match segment {
        Segment::Key(key) => key.clone(),
        Segment::Index(index) => format!("[{index}]"),
    }
}

fn push_segment(walked: &mut String, segment: &Segment) {
    match segment {
        Segment::Key(key) => {
            if !walked.is_empty() {
                walked.push('.');
            }
            walked.push_str(key);
        }
        Segment::Index(index) => walked.push_str(&format!("[{index}]")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Table {
        toml::from_str(
            r#"
            [services.gateway]
            workers = 10
            endpoints.get.steps = [{ work = { constant = "1ms" } }, { call = "b/get", timeout = "5s" }]
            "#,
        )
        .unwrap()
    }

    fn set(path: &str, value: Value) -> Override {
        Override {
            path: path.into(),
            value: Some(value),
        }
    }

    #[test]
    fn sets_values_through_tables_and_lists() {
        let mut doc = document();
        apply(
            &mut doc,
            &set("services.gateway.workers", Value::Integer(3)),
        )
        .unwrap();
        apply(
            &mut doc,
            &set(
                "services.gateway.endpoints.get.steps[1].timeout",
                Value::String("30s".into()),
            ),
        )
        .unwrap();
        apply(
            &mut doc,
            &set(
                "services.gateway.endpoints.get.steps[1].breaker",
                Value::String("b".into()),
            ),
        )
        .unwrap();
        let gateway = &doc["services"]["gateway"];
        assert_eq!(gateway["workers"].as_integer(), Some(3));
        let call = &gateway["endpoints"]["get"]["steps"][1];
        assert_eq!(call["timeout"].as_str(), Some("30s"));
        assert_eq!(call["breaker"].as_str(), Some("b"));
    }

    #[test]
    fn removes_keys() {
        let mut doc = document();
        apply(
            &mut doc,
            &Override {
                path: "services.gateway.workers".into(),
                value: None,
            },
        )
        .unwrap();
        assert!(doc["services"]["gateway"].get("workers").is_none());
    }

    #[test]
    fn unknown_paths_name_what_is_missing() {
        let mut doc = document();
        let error =
            apply(&mut doc, &set("services.gatewy.workers", Value::Integer(1))).unwrap_err();
        assert!(
            error.contains("no `gatewy` in `services`") && error.contains("did you mean `gateway`"),
            "{error}"
        );
        let error = apply(
            &mut doc,
            &set(
                "services.gateway.endpoints.get.steps[5].timeout",
                Value::Integer(1),
            ),
        )
        .unwrap_err();
        assert!(error.contains("has 2 items"), "{error}");
        let error = apply(
            &mut doc,
            &set("services.gateway.workers.x", Value::Integer(1)),
        )
        .unwrap_err();
        assert!(
            error.contains("is a integer") || error.contains("nothing inside"),
            "{error}"
        );
    }

    #[test]
    fn cli_values_are_toml_or_else_strings() {
        assert_eq!(
            Override::from_cli("a.b=3").unwrap().value,
            Some(Value::Integer(3))
        );
        assert_eq!(
            Override::from_cli("a.b=30s").unwrap().value,
            Some(Value::String("30s".into()))
        );
        assert_eq!(
            Override::from_cli("a.b=\"x y\"").unwrap().value,
            Some(Value::String("x y".into()))
        );
        assert!(Override::from_cli("a.b").is_err());
        assert!(Override::from_cli("a..b=1").is_err());
        assert!(Override::from_cli("=1").is_err());
    }

    #[test]
    fn paths_parse_quotes_and_indices() {
        assert_eq!(
            parse_path(r#"a."b.c"[2][0].d"#).unwrap(),
            vec![
                Segment::Key("a".into()),
                Segment::Key("b.c".into()),
                Segment::Index(2),
                Segment::Index(0),
                Segment::Key("d".into())
            ]
        );
        assert!(parse_path("a[x]").is_err());
        assert!(parse_path("a.").is_err());
    }
}
