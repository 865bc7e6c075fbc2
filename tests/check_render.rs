//! `check` output and exit codes on fixtures, without a cluster (the pure half of `check`).

mod inspect_support;
use inspect_support::*;
use vinspect::engine::ObjKind;
use vinspect::inspect::check_cmd::{CheckOptions, OutputFormat, build_filter, render};
use vinspect::inspect::fix_cmd::print_plan;
use vinspect::inspect::rows;

fn opts(output: OutputFormat) -> CheckOptions {
    CheckOptions {
        output,
        ..Default::default()
    }
}

#[test]
fn all_synced_exits_0_and_any_problem_exits_1() {
    let (snap, config, _) = load("synced.yaml");
    let o = opts(OutputFormat::Table);
    let (text, code) = render(&snap, &config, &build_filter(&o).unwrap(), &o).unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("KIND"));
    let (snap, config, _) = load("disabled.yaml");
    let (_, code) = render(&snap, &config, &build_filter(&o).unwrap(), &o).unwrap();
    assert_eq!(code, 0, "Disabled is not a problem");
    let (snap, config, _) = load("drift.yaml");
    let (_, code) = render(&snap, &config, &build_filter(&o).unwrap(), &o).unwrap();
    assert_eq!(code, 1);
}

#[test]
fn json_report_has_the_documented_fields() {
    let (snap, config, _) = load("selector-drift.yaml");
    let o = opts(OutputFormat::Json);
    let (text, code) = render(&snap, &config, &build_filter(&o).unwrap(), &o).unwrap();
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["vcluster"], "my-vcluster");
    assert_eq!(v["hostNamespace"], "vcluster-my-vcluster");
    let items = v["items"].as_array().unwrap();
    let web = items
        .iter()
        .find(|i| i["kind"] == "service" && i["name"] == "web")
        .unwrap();
    assert_eq!(web["status"], "Drift");
    assert_eq!(web["namespace"], "default");
    assert!(web["reason"].as_str().unwrap().contains("vcluster#2887"));
    assert_eq!(web["virtual"]["selectedPods"], 2);
    assert_eq!(web["host"]["selectedPods"], 0);
    assert_eq!(web["dns"]["virtual"][0], "web.default.svc.cluster.local");
    assert!(web["events"].is_array());
    assert_eq!(web["plan"][0]["action"], "patch");
    assert!(web["plan"][0]["patch"]["spec"]["selector"].is_object());
    assert_eq!(v["summary"]["problems"], 1);
}

#[test]
fn yaml_report_parses_back() {
    let (snap, config, _) = load("missing.yaml");
    let o = opts(OutputFormat::Yaml);
    let (text, _) = render(&snap, &config, &build_filter(&o).unwrap(), &o).unwrap();
    let v: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert!(
        v["items"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|i| i["status"] == "Missing")
    );
}

#[test]
fn filters_by_namespace_kind_and_ref() {
    let (snap, config, _) = load("drift.yaml");
    let mut o = opts(OutputFormat::Json);
    o.namespace = Some("kube-system".into());
    let (text, code) = render(&snap, &config, &build_filter(&o).unwrap(), &o).unwrap();
    assert_eq!(code, 0, "the drifting web service is in default");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["namespace"] == "kube-system")
    );

    let mut o = opts(OutputFormat::Json);
    o.kinds = vec![ObjKind::Pod];
    let (text, _) = render(&snap, &config, &build_filter(&o).unwrap(), &o).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["kind"] == "pod")
    );

    let mut o = opts(OutputFormat::Json);
    o.refs = vec!["svc/default/web".into()];
    let (text, code) = render(&snap, &config, &build_filter(&o).unwrap(), &o).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(code, 1);

    let mut o = opts(OutputFormat::Json);
    o.refs = vec!["nope".into()];
    assert!(build_filter(&o).is_err());
}

#[test]
fn fix_explains_a_squatter_and_prints_patches() {
    let (snap, config, _) = load("squatter.yaml");
    let all = rows(&snap, &config);
    let api = find(&all, "service", "default", "api");
    let mut out = Vec::new();
    print_plan(&mut out, api).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("will not act"), "{text}");
    assert!(text.contains("what you can do"), "{text}");

    let (snap, config, _) = load("drift.yaml");
    let all = rows(&snap, &config);
    let web = find(&all, "service", "default", "web");
    let mut out = Vec::new();
    print_plan(&mut out, web).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("- patch host service vcluster-my-vcluster/web-x-default-x-my-vcluster"),
        "{text}"
    );
    assert!(text.contains("\"ports\""), "{text}");
}

#[test]
fn json_flags_hashed_host_names() {
    let (snap, config, _) = load("hashed.yaml");
    let o = opts(OutputFormat::Json);
    let (text, code) = render(&snap, &config, &build_filter(&o).unwrap(), &o).unwrap();
    assert_eq!(code, 0, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let items = v["items"].as_array().unwrap();
    let long = items
        .iter()
        .find(|i| i["namespace"] == "production")
        .unwrap();
    assert_eq!(long["hostNameHashed"], true);
    assert!(long["host"]["name"].as_str().unwrap().len() <= 63);
    let web = items.iter().find(|i| i["name"] == "web").unwrap();
    assert_eq!(web["hostNameHashed"], false);
}
