//! The diff model: desired host object (what the engine would write) against the actual one,
//! as side-by-side YAML lines. Fields the API server sets are hidden first, so only differences
//! the engine cares about light up.

use super::types::DiffSource;
use super::yaml::{redact, to_yaml_lines};
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

/// Metadata the API server owns; never part of what the engine writes.
const SERVER_METADATA: [&str; 7] = [
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionGracePeriodSeconds",
];

/// Fields the API server defaults or allocates; hidden from `actual` when `desired` leaves them
/// out (the engine leaves them to the server, so they are not drift).
const SERVER_DEFAULTED: [&str; 8] = [
    "/status",
    "/spec/clusterIPs",
    "/spec/ipFamilies",
    "/spec/ipFamilyPolicy",
    "/spec/internalTrafficPolicy",
    "/spec/sessionAffinity",
    "/spec/nodeName",
    "/spec/terminationGracePeriodSeconds",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Same,
    /// Present on both sides, different.
    Changed,
    /// Only in desired.
    Removed,
    /// Only in actual.
    Added,
}

/// One row of the side-by-side view; line numbers are 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub kind: LineKind,
    pub left: Option<(usize, String)>,
    pub right: Option<(usize, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiffModel {
    pub lines: Vec<DiffLine>,
    /// Paths hidden from the comparison (shown under the diff so nothing is silently dropped).
    pub hidden: Vec<String>,
    /// Count of rows that differ.
    pub changes: usize,
    pub desired_missing: bool,
    pub actual_missing: bool,
}

fn remove_pointer(v: &mut Value, pointer: &str) -> bool {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return false;
    };
    let parent = if parent.is_empty() {
        Some(v)
    } else {
        v.pointer_mut(parent)
    };
    match parent {
        Some(Value::Object(map)) => map.remove(last).is_some(),
        _ => false,
    }
}

/// Strip server-set fields from both objects; returns the paths hidden from either.
pub fn normalise(desired: &mut Option<Value>, actual: &mut Option<Value>) -> Vec<String> {
    let mut hidden = Vec::new();
    for obj in [desired.as_mut(), actual.as_mut()].into_iter().flatten() {
        redact(obj);
        if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
            for f in SERVER_METADATA {
                if meta.remove(f).is_some() {
                    let path = format!("metadata.{f}");
                    if !hidden.contains(&path) {
                        hidden.push(path);
                    }
                }
            }
            if let Some(Value::Object(ann)) = meta.get_mut("annotations")
                && ann
                    .remove("kubectl.kubernetes.io/last-applied-configuration")
                    .is_some()
            {
                hidden.push("metadata.annotations[last-applied-configuration]".to_string());
            }
        }
    }
    if let (Some(d), Some(a)) = (desired.as_ref(), actual.as_mut()) {
        for p in SERVER_DEFAULTED {
            if d.pointer(p).is_none() && remove_pointer(a, p) {
                hidden.push(p.trim_start_matches('/').replace('/', "."));
            }
        }
    }
    hidden
}

/// Build the side-by-side diff. Replaced blocks are paired line by line so a changed value sits
/// next to its old value.
pub fn build(src: &DiffSource) -> DiffModel {
    let mut desired = src.desired.clone();
    let mut actual = src.actual.clone();
    let hidden = normalise(&mut desired, &mut actual);
    let left = desired.as_ref().map(to_yaml_lines).unwrap_or_default();
    let right = actual.as_ref().map(to_yaml_lines).unwrap_or_default();
    let left_text = join(&left);
    let right_text = join(&right);
    let diff = TextDiff::from_lines(&left_text, &right_text);

    let mut lines = Vec::new();
    let mut changes = 0;
    for op in diff.ops() {
        let mut removed = Vec::new();
        let mut added = Vec::new();
        for change in diff.iter_changes(op) {
            let text = change.value().trim_end_matches('\n').to_string();
            match change.tag() {
                ChangeTag::Equal => {
                    let (Some(o), Some(n)) = (change.old_index(), change.new_index()) else {
                        continue;
                    };
                    lines.push(DiffLine {
                        kind: LineKind::Same,
                        left: Some((o + 1, text.clone())),
                        right: Some((n + 1, text)),
                    });
                }
                ChangeTag::Delete => removed.push((change.old_index().unwrap_or(0) + 1, text)),
                ChangeTag::Insert => added.push((change.new_index().unwrap_or(0) + 1, text)),
            }
        }
        let pairs = removed.len().max(added.len());
        let mut removed = removed.into_iter();
        let mut added = added.into_iter();
        for _ in 0..pairs {
            let l = removed.next();
            let r = added.next();
            let kind = match (&l, &r) {
                (Some(_), Some(_)) => LineKind::Changed,
                (Some(_), None) => LineKind::Removed,
                _ => LineKind::Added,
            };
            changes += 1;
            lines.push(DiffLine {
                kind,
                left: l,
                right: r,
            });
        }
    }
    DiffModel {
        lines,
        hidden,
        changes,
        desired_missing: desired.is_none(),
        actual_missing: actual.is_none(),
    }
}

fn join(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    if !s.is_empty() {
        s.push('\n');
    }
    s
}
