//! Shared by the inspector's fixture tests: base world + one case file → rows.
#![allow(dead_code)]

use serde_yaml::Value;
use vinspect::cluster::snapshot::Snapshot;
use vinspect::inspect::fixture::{self, Expect};
use vinspect::inspect::{PairRow, rows};
use vinspect::vcluster::config::VClusterConfig;

pub fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inspect")
}

/// base.yaml with the case's lists appended and its other keys set.
pub fn merged(case: &str) -> String {
    let base: Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir().join("base.yaml")).unwrap()).unwrap();
    let over: Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir().join(case)).unwrap()).unwrap();
    let mut base = base.as_mapping().unwrap().clone();
    for (k, v) in over.as_mapping().unwrap() {
        match (base.get_mut(k), v) {
            (Some(Value::Sequence(a)), Value::Sequence(b)) => a.extend(b.iter().cloned()),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
    serde_yaml::to_string(&Value::Mapping(base)).unwrap()
}

pub fn load(case: &str) -> (Snapshot, VClusterConfig, Vec<Expect>) {
    fixture::load(&merged(case)).unwrap_or_else(|e| panic!("{case}: {e}"))
}

pub fn find<'a>(rows: &'a [PairRow], kind: &str, ns: &str, name: &str) -> &'a PairRow {
    rows.iter()
        .find(|r| {
            serde_json::to_value(r.kind).unwrap() == kind && r.namespace == ns && r.name == name
        })
        .unwrap_or_else(|| {
            panic!(
                "no {kind} row {ns}/{name}; rows: {:#?}",
                rows.iter()
                    .map(|r| format!(
                        "{:?} {}/{} {} {}",
                        r.kind,
                        r.namespace,
                        r.name,
                        r.status.word(),
                        r.reason
                    ))
                    .collect::<Vec<_>>()
            )
        })
}

/// Load a case, build rows, check every `expect` entry; returns the rows for extra checks.
pub fn check_case(case: &str) -> Vec<PairRow> {
    let (snap, config, expect) = load(case);
    let rows = rows(&snap, &config);
    for e in &expect {
        let r = find(&rows, &e.kind, &e.namespace, &e.name);
        assert_eq!(
            r.status.word(),
            e.status,
            "{case}: {} {}/{}: reason {:?}",
            e.kind,
            e.namespace,
            e.name,
            r.reason
        );
        if let Some(want) = &e.reason {
            assert!(
                r.reason.contains(want.as_str()),
                "{case}: {} {}/{}: reason {:?} lacks {want:?}",
                e.kind,
                e.namespace,
                e.name,
                r.reason
            );
        }
    }
    rows
}
