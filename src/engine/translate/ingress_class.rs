//! `sync.fromHost.ingressClasses.selector` (§5; upstream `ingresses/syncer.go`
//! `applyLimitByClass`): with ingress classes synced from the host and a non-empty selector,
//! an ingress whose class is missing or deleting on the host, or does not match the selector,
//! is not synced; vCluster says why in a SyncWarning event.

use crate::cluster::snapshot::ObjKey;
use crate::engine::ctx::Ctx;
use crate::vcluster::config::LabelSelectorConfig;
use k8s_openapi::api::networking::v1::Ingress;
use std::collections::BTreeMap;

const SELECTOR_PATH: &str = "sync.fromHost.ingressClasses.selector";

/// Why the ingress is not synced, in upstream's words, or `None` when it may be.
pub fn blocked(ctx: &Ctx, ving: &Ingress) -> Option<String> {
    let cfg = &ctx.config.sync.from_host.ingress_classes;
    let sel = &cfg.selector;
    if !cfg.enabled || (sel.match_labels.is_empty() && sel.match_expressions.is_empty()) {
        return None;
    }
    let class = ving
        .spec
        .as_ref()?
        .ingress_class_name
        .as_deref()
        .filter(|c| !c.is_empty())?;
    let name = ving.metadata.name.as_deref().unwrap_or("");
    let host = ctx
        .snapshot
        .host
        .ingress_classes
        .get(&ObjKey::new("", class));
    let reach = |why: String| {
        Some(format!(
            "did not sync ingress {name:?} to host because the ingress class {class:?} couldn't be reached in the host: {why}"
        ))
    };
    let Some(ic) = host else {
        return reach(format!(
            "ingressclasses.networking.k8s.io {class:?} not found"
        ));
    };
    if ic.metadata.deletion_timestamp.is_some() {
        return reach("it is being deleted".to_string());
    }
    let empty = BTreeMap::new();
    match matches(sel, ic.metadata.labels.as_ref().unwrap_or(&empty)) {
        Err(e) => Some(format!(
            "did not sync ingress {name:?} to host because the ingress class {class:?} in the host could not be checked against the selector under '{SELECTOR_PATH}': {e}"
        )),
        Ok(false) => Some(format!(
            "did not sync ingress {name:?} to host because the ingress class {class:?} in the host does not match the selector under '{SELECTOR_PATH}'"
        )),
        Ok(true) => None,
    }
}

/// A Kubernetes label selector (`matchLabels` AND every `matchExpressions` entry).
pub fn matches(
    sel: &LabelSelectorConfig,
    labels: &BTreeMap<String, String>,
) -> Result<bool, String> {
    if sel
        .match_labels
        .iter()
        .any(|(k, v)| labels.get(k) != Some(v))
    {
        return Ok(false);
    }
    for (i, e) in sel.match_expressions.iter().enumerate() {
        let field = |f: &str| e.get(f).and_then(|v| v.as_str()).map(str::to_string);
        let key = field("key").ok_or(format!("matchExpressions[{i}].key: Required value"))?;
        let op =
            field("operator").ok_or(format!("matchExpressions[{i}].operator: Required value"))?;
        let values: Vec<String> = e
            .get("values")
            .and_then(|v| v.as_sequence())
            .map(|s| {
                s.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let have = labels.get(&key);
        let ok = match op.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                return Err(format!(
                    "matchExpressions[{i}].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
                ));
            }
            "In" => have.is_some_and(|v| values.contains(v)),
            "NotIn" => have.is_none_or(|v| !values.contains(v)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            other => {
                return Err(format!(
                    "matchExpressions[{i}].operator: Unsupported value: {other:?}: supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\""
                ));
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::snapshot::Snapshot;
    use crate::vcluster::config::VClusterConfig;
    use serde_json::json;

    fn config(selector: serde_json::Value) -> VClusterConfig {
        serde_json::from_value(json!({"sync": {"fromHost": {"ingressClasses": {"enabled": true, "selector": selector}}}}))
            .unwrap()
    }

    fn ingress(class: &str) -> Ingress {
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "shop"},
            "spec": {"ingressClassName": class}}))
        .unwrap()
    }

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::new("vc", "vcluster-vc");
        for (name, labels, deleting) in [
            ("nginx", json!({"team": "web"}), false),
            ("alb", json!({"team": "infra"}), false),
            ("old", json!({"team": "web"}), true),
        ] {
            let mut ic = json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                "metadata": {"name": name, "labels": labels}});
            if deleting {
                ic["metadata"]["deletionTimestamp"] = json!("2026-11-26T10:00:00Z");
            }
            s.host.insert_json(ic).unwrap();
        }
        s
    }

    #[test]
    fn only_classes_that_exist_and_match_let_the_ingress_sync() {
        let s = snapshot();
        let cfg = config(json!({"matchLabels": {"team": "web"}}));
        let ctx = Ctx::new(&s, &cfg);
        assert_eq!(blocked(&ctx, &ingress("nginx")), None);
        assert_eq!(
            blocked(&ctx, &ingress("alb")).unwrap(),
            "did not sync ingress \"web\" to host because the ingress class \"alb\" in the host does not match the selector under 'sync.fromHost.ingressClasses.selector'"
        );
        assert_eq!(
            blocked(&ctx, &ingress("gone")).unwrap(),
            "did not sync ingress \"web\" to host because the ingress class \"gone\" couldn't be reached in the host: ingressclasses.networking.k8s.io \"gone\" not found"
        );
        assert!(
            blocked(&ctx, &ingress("old"))
                .unwrap()
                .contains("being deleted")
        );
        // No class name, no selector, or class sync off: nothing is held back.
        assert_eq!(blocked(&ctx, &ingress("")), None);
        let open = config(json!({}));
        assert_eq!(blocked(&Ctx::new(&s, &open), &ingress("alb")), None);
        let mut off = config(json!({"matchLabels": {"team": "web"}}));
        off.sync.from_host.ingress_classes.enabled = false;
        assert_eq!(blocked(&Ctx::new(&s, &off), &ingress("gone")), None);
    }

    #[test]
    fn match_expressions_follow_label_selector_rules() {
        let labels: BTreeMap<String, String> = [("team".to_string(), "web".to_string())].into();
        let sel = |e: serde_json::Value| -> LabelSelectorConfig {
            serde_json::from_value(json!({"matchExpressions": e})).unwrap()
        };
        let t = |e| matches(&sel(e), &labels);
        assert_eq!(
            t(json!([{"key": "team", "operator": "In", "values": ["web", "api"]}])),
            Ok(true)
        );
        assert_eq!(
            t(json!([{"key": "team", "operator": "NotIn", "values": ["web"]}])),
            Ok(false)
        );
        assert_eq!(t(json!([{"key": "team", "operator": "Exists"}])), Ok(true));
        assert_eq!(
            t(json!([{"key": "tier", "operator": "DoesNotExist"}])),
            Ok(true)
        );
        assert!(t(json!([{"key": "team", "operator": "Near"}])).is_err());
        assert!(t(json!([{"key": "team", "operator": "In"}])).is_err());
    }
}
