//! Label and field selectors as the apiserver parses them from query strings.

use serde_json::Value;

use super::error::ApiError;
use super::registry::KindInfo;

#[derive(Debug, Clone, PartialEq)]
enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
}

#[derive(Debug, Clone, PartialEq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed label selector; requirements are ANDed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    reqs: Vec<Requirement>,
}

pub fn valid_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.')
            && v.as_bytes()[0].is_ascii_alphanumeric()
            && v.as_bytes()[v.len() - 1].is_ascii_alphanumeric())
}

/// A qualified name: `[dns-subdomain-prefix/]name`, name ≤ 63 alphanumerics, `-_.`.
pub fn valid_label_key(k: &str) -> bool {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    if let Some(p) = prefix
        && !crate::vcluster::naming::is_dns1123_subdomain(p)
    {
        return false;
    }
    !name.is_empty() && valid_label_value(name)
}

/// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_set(rest: &str) -> Option<Vec<String>> {
    let rest = rest.trim();
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    let vals: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    if vals.iter().all(|v| valid_label_value(v)) {
        Some(vals)
    } else {
        None
    }
}

impl LabelSelector {
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(Self { reqs });
        }
        for term in split_top(s) {
            let t = term.trim();
            let bad = || {
                ApiError::bad_request(format!(
                    "unable to parse requirement: invalid label selector: {t:?}"
                ))
            };
            if t.is_empty() {
                return Err(bad());
            }
            let req = if let Some(k) = t.strip_prefix('!') {
                Requirement {
                    key: k.trim().to_string(),
                    op: Op::NotExists,
                }
            } else if let Some((k, v)) = t.split_once("!=") {
                Requirement {
                    key: k.trim().to_string(),
                    op: Op::NotIn(vec![v.trim().to_string()]),
                }
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                Requirement {
                    key: k.trim().to_string(),
                    op: Op::In(vec![v.trim().to_string()]),
                }
            } else if let Some(idx) = t.find(" notin") {
                let set = parse_set(&t[idx + 6..]).ok_or_else(bad)?;
                Requirement {
                    key: t[..idx].trim().to_string(),
                    op: Op::NotIn(set),
                }
            } else if let Some(idx) = t.find(" in") {
                let set = parse_set(&t[idx + 3..]).ok_or_else(bad)?;
                Requirement {
                    key: t[..idx].trim().to_string(),
                    op: Op::In(set),
                }
            } else {
                Requirement {
                    key: t.to_string(),
                    op: Op::Exists,
                }
            };
            if !valid_label_key(&req.key) {
                return Err(bad());
            }
            if let Op::In(v) | Op::NotIn(v) = &req.op
                && !v.iter().all(|x| valid_label_value(x))
            {
                return Err(bad());
            }
            reqs.push(req);
        }
        Ok(Self { reqs })
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Matches against an object's `metadata.labels`.
    pub fn matches(&self, obj: &Value) -> bool {
        if self.reqs.is_empty() {
            return true;
        }
        let labels = obj.pointer("/metadata/labels");
        self.reqs.iter().all(|r| {
            let v = labels.and_then(|l| l.get(&r.key)).and_then(Value::as_str);
            match &r.op {
                Op::Exists => v.is_some(),
                Op::NotExists => v.is_none(),
                Op::In(set) => v.is_some_and(|v| set.iter().any(|s| s == v)),
                Op::NotIn(set) => v.is_none_or(|v| !set.iter().any(|s| s == v)),
            }
        })
    }
}

/// Matches a `map[string]string` selector (a Service's `spec.selector`) against labels.
pub fn map_matches(selector: &serde_json::Map<String, Value>, obj: &Value) -> bool {
    let labels = obj.pointer("/metadata/labels");
    selector.iter().all(|(k, want)| {
        labels
            .and_then(|l| l.get(k))
            .is_some_and(|have| have == want)
    })
}

#[derive(Debug, Clone, PartialEq)]
struct FieldReq {
    field: String,
    value: String,
    negate: bool,
}

/// A parsed field selector; requirements are ANDed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector {
    reqs: Vec<FieldReq>,
}

impl FieldSelector {
    pub fn parse(s: &str, kind: &KindInfo) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(Self { reqs });
        }
        for term in s.split(',') {
            let t = term.trim();
            let (field, value, negate) = if let Some((f, v)) = t.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                (f, v, false)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{t}'; can't understand '{t}'"
                )));
            };
            let field = field.trim();
            if field != "metadata.name"
                && field != "metadata.namespace"
                && !kind.fields.contains(&field)
            {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            reqs.push(FieldReq {
                field: field.to_string(),
                value: value.trim().to_string(),
                negate,
            });
        }
        Ok(Self { reqs })
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|r| {
            let have = field_value(obj, &r.field);
            (have == r.value) != r.negate
        })
    }

    /// The single `metadata.name=X` this selector pins, if any (lets lists skip a scan).
    pub fn pinned_name(&self) -> Option<&str> {
        self.reqs
            .iter()
            .find(|r| r.field == "metadata.name" && !r.negate)
            .map(|r| r.value.as_str())
    }
}

/// The string value of a field label, as the apiserver's field sets render it ("" when unset).
pub fn field_value(obj: &Value, field: &str) -> String {
    let path = match field {
        "source" => "source.component",
        f => f,
    };
    let mut cur = obj;
    for seg in path.split('.') {
        match cur.get(seg) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// Decodes an `application/x-www-form-urlencoded` query: `+` is a space, empty pairs are skipped.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(labels: Value) -> Value {
        json!({"metadata": {"name": "p", "labels": labels}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}})
    }

    #[test]
    fn label_ops() {
        let p = pod(json!({"app": "a", "env": "prod"}));
        for (sel, want) in [
            ("app=a", true),
            ("app==a", true),
            ("app!=a", false),
            ("env in (prod,dev)", true),
            ("env notin (prod)", false),
            ("app", true),
            ("!x", true),
            ("!app", false),
            ("app=a,env=dev", false),
            ("", true),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&p),
                want,
                "{sel}"
            );
        }
    }

    #[test]
    fn bad_label_selectors_are_400() {
        for sel in ["a in (", "=x", "a b c", "a=(", "!", "x in (a b)"] {
            let e = LabelSelector::parse(sel).unwrap_err();
            assert_eq!(e.code, 400, "{sel}");
        }
    }

    #[test]
    fn query_decoding_reads_plus_as_space_and_skips_empty_pairs() {
        let q = parse_query("&limit=500&labelSelector=env+in+%28a%2Cb%29");
        assert_eq!(
            q,
            vec![
                ("limit".into(), "500".into()),
                ("labelSelector".into(), "env in (a,b)".into())
            ]
        );
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("a%2"), "a%2");
    }

    #[test]
    fn field_selectors() {
        let pods = crate::sandbox::registry::by_id("pods").unwrap();
        let p = pod(json!({}));
        assert!(
            FieldSelector::parse("spec.nodeName=n1", pods)
                .unwrap()
                .matches(&p)
        );
        assert!(
            !FieldSelector::parse("status.phase!=Running", pods)
                .unwrap()
                .matches(&p)
        );
        let e = FieldSelector::parse("spec.foo=1", pods).unwrap_err();
        assert_eq!(e.message, "field label not supported: spec.foo");
    }
}
