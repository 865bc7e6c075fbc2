//! Kube contexts of a vCluster: the `vcluster_<name>_<namespace>_<hostcontext>` names that
//! `vcluster connect` writes, kubeconfig loading as kubectl does it, and the resolution of the
//! command-line flags into one virtual context, one host context, a vCluster and its namespace.
//!
//! Name handling and resolution are pure; [`load_kubeconfig`] is the only function that reads
//! files or the environment.

use kube::config::Kubeconfig;
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

use super::naming::default_host_namespace;

/// Prefix of the contexts `vcluster connect` writes.
pub const CONTEXT_PREFIX: &str = "vcluster_";

/// The parts of a `vcluster_<name>_<namespace>_<hostcontext>` context name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VClusterContextName {
    pub vcluster: String,
    pub host_namespace: String,
    /// The host cluster's context; may itself contain `_` (e.g. `gke_proj_zone_cluster`).
    pub host_context: String,
}

impl VClusterContextName {
    pub fn new(
        vcluster: impl Into<String>,
        host_namespace: impl Into<String>,
        host_context: impl Into<String>,
    ) -> Self {
        Self {
            vcluster: vcluster.into(),
            host_namespace: host_namespace.into(),
            host_context: host_context.into(),
        }
    }

    /// Parse a context name. vCluster names and namespaces are DNS labels (no `_`), so the
    /// first two `_` after the prefix end them and the rest is the host context. `None` when
    /// the name is not of that form or a part is empty.
    pub fn parse(context: &str) -> Option<Self> {
        let rest = context.strip_prefix(CONTEXT_PREFIX)?;
        let mut parts = rest.splitn(3, '_');
        let vcluster = parts.next()?;
        let host_namespace = parts.next()?;
        let host_context = parts.next()?;
        if vcluster.is_empty() || host_namespace.is_empty() || host_context.is_empty() {
            return None;
        }
        Some(Self::new(vcluster, host_namespace, host_context))
    }
}

impl fmt::Display for VClusterContextName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{CONTEXT_PREFIX}{}_{}_{}",
            self.vcluster, self.host_namespace, self.host_context
        )
    }
}

/// `vcluster_<name>_<namespace>_<hostcontext>`.
pub fn format_context_name(vcluster: &str, host_namespace: &str, host_context: &str) -> String {
    VClusterContextName::new(vcluster, host_namespace, host_context).to_string()
}

/// What went wrong finding the kubeconfig or the contexts in it. One line each, naming the
/// file or context and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    #[error("kubeconfig {path}: file not found")]
    NotFound { path: String },
    #[error("kubeconfig {path}: cannot read it: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("kubeconfig {path} is empty")]
    Empty { path: String },
    #[error("kubeconfig {path} is not a valid kubeconfig: {reason}")]
    Malformed { path: String, reason: String },
    #[error("kubeconfig {path} cannot be merged with the files before it: {reason}")]
    Merge { path: String, reason: String },
    #[error("no kubeconfig: none of the files in $KUBECONFIG exist ({paths}); pass --kubeconfig")]
    NoEnvFile { paths: String },
    #[error("no kubeconfig: {path} does not exist and $KUBECONFIG is not set; pass --kubeconfig")]
    NoDefault { path: String },
    #[error(
        "no kubeconfig: cannot find the home directory and $KUBECONFIG is not set; pass --kubeconfig"
    )]
    NoHome,
    #[error("context {context:?} not found in kubeconfig (available: {available})")]
    ContextNotFound { context: String, available: String },
    #[error(
        "host context {context:?} (taken from context {from:?}) not found in kubeconfig (available: {available}); pass --host-context"
    )]
    InferredHostContextNotFound {
        context: String,
        from: String,
        available: String,
    },
    #[error("host context {context:?} not found in kubeconfig (available: {available})")]
    HostContextNotFound { context: String, available: String },
    #[error(
        "no context given and the kubeconfig has no current-context; pass --context (available: {available})"
    )]
    NoCurrentContext { available: String },
    #[error(
        "no context for vcluster {vcluster:?} in kubeconfig (expected vcluster_{vcluster}_<namespace>_<hostcontext>; available: {available}); pass --context"
    )]
    NoContextForVCluster { vcluster: String, available: String },
    #[error("several contexts match vcluster {vcluster:?} ({matches}); pass --context")]
    AmbiguousVCluster { vcluster: String, matches: String },
    #[error(
        "cannot tell which vCluster context {context:?} belongs to: it is not of the form vcluster_<name>_<namespace>_<hostcontext>; pass --vcluster and --host-context"
    )]
    NotAVClusterContext { context: String },
    #[error(
        "cannot tell the host context of {context:?}: pass --host-context (available: {available})"
    )]
    NoHostContext { context: String, available: String },
}

/// The merged kubeconfig and the files it came from, in precedence order.
#[derive(Debug, Clone, Default)]
pub struct LoadedKubeconfig {
    pub config: Kubeconfig,
    pub files: Vec<PathBuf>,
}

impl LoadedKubeconfig {
    /// Context names, in file order.
    pub fn context_names(&self) -> Vec<&str> {
        context_names(&self.config)
    }
}

/// Load the kubeconfig as kubectl does: `--kubeconfig PATH`, else every file of `$KUBECONFIG`
/// (merged, the first occurrence of a name wins; missing files skipped), else `~/.kube/config`.
pub fn load_kubeconfig(flag: Option<&Path>) -> Result<LoadedKubeconfig, ContextError> {
    let env = std::env::var_os("KUBECONFIG");
    load_kubeconfig_with(flag, env.as_deref(), dirs::home_dir().as_deref())
}

/// [`load_kubeconfig`] with the environment passed in (for tests and embedding).
pub fn load_kubeconfig_with(
    flag: Option<&Path>,
    env: Option<&OsStr>,
    home: Option<&Path>,
) -> Result<LoadedKubeconfig, ContextError> {
    if let Some(path) = flag {
        if !path.exists() {
            return Err(ContextError::NotFound {
                path: path.display().to_string(),
            });
        }
        return merge_files(vec![path.to_path_buf()]);
    }
    if let Some(value) = env {
        let listed: Vec<PathBuf> = std::env::split_paths(value)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if !listed.is_empty() {
            let existing: Vec<PathBuf> = listed.iter().filter(|p| p.exists()).cloned().collect();
            if existing.is_empty() {
                return Err(ContextError::NoEnvFile {
                    paths: join_paths(&listed),
                });
            }
            return merge_files(existing);
        }
    }
    let Some(home) = home else {
        return Err(ContextError::NoHome);
    };
    let path = home.join(".kube").join("config");
    if !path.exists() {
        return Err(ContextError::NoDefault {
            path: path.display().to_string(),
        });
    }
    merge_files(vec![path])
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn merge_files(files: Vec<PathBuf>) -> Result<LoadedKubeconfig, ContextError> {
    let mut merged: Option<Kubeconfig> = None;
    for path in &files {
        let one = read_one(path)?;
        merged = Some(match merged {
            None => one,
            Some(base) => base.merge(one).map_err(|e| ContextError::Merge {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?,
        });
    }
    Ok(LoadedKubeconfig {
        config: merged.unwrap_or_default(),
        files,
    })
}

fn read_one(path: &Path) -> Result<Kubeconfig, ContextError> {
    let shown = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| ContextError::Unreadable {
        path: shown.clone(),
        reason: io_reason(&e),
    })?;
    if text.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ContextError::Empty { path: shown });
    }
    // `read_from` resolves relative certificate/token paths against the file's directory.
    Kubeconfig::read_from(path).map_err(|e| ContextError::Malformed {
        path: shown,
        reason: parse_reason(&e.to_string()),
    })
}

/// kube's YAML errors carry a multi-line source snippet after ` --> `; the position before it
/// says the same in one line.
fn parse_reason(message: &str) -> String {
    let flat = one_line(message);
    let head = flat.split(" --> ").next().unwrap_or(&flat);
    let head = head
        .strip_prefix("failed to parse kubeconfig YAML: ")
        .unwrap_or(head);
    head.strip_prefix("error: ").unwrap_or(head).to_string()
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "it is a directory".to_string(),
        _ => one_line(&e.to_string()),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Context names of a kubeconfig, in file order.
pub fn context_names(config: &Kubeconfig) -> Vec<&str> {
    config.contexts.iter().map(|c| c.name.as_str()).collect()
}

fn available(config: &Kubeconfig) -> String {
    let names = context_names(config);
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

fn has_context(config: &Kubeconfig, name: &str) -> bool {
    config.contexts.iter().any(|c| c.name == name)
}

/// What the user asked for on the command line (`--context`, `--host-context`, `--vcluster`,
/// `--host-namespace`). Unset fields are inferred.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextSelection {
    pub context: Option<String>,
    pub host_context: Option<String>,
    pub vcluster: Option<String>,
    pub host_namespace: Option<String>,
}

/// Both sides of one vCluster, as found in a kubeconfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedContexts {
    pub virtual_context: String,
    pub host_context: String,
    pub vcluster: String,
    pub host_namespace: String,
}

/// Resolve the selection against a kubeconfig.
///
/// The virtual context is `--context`, else the one `vcluster_<vc>_…` context matching
/// `--vcluster` (and `--host-namespace`/`--host-context` when given), else the
/// current-context. A `vcluster_…` virtual context supplies the vCluster, host namespace and
/// host context that were not given; the host namespace otherwise defaults to `vcluster-<vc>`.
/// Both contexts must exist in the kubeconfig.
pub fn resolve_contexts(
    config: &Kubeconfig,
    sel: &ContextSelection,
) -> Result<ResolvedContexts, ContextError> {
    let virtual_context = match (&sel.context, &sel.vcluster) {
        (Some(ctx), _) => ctx.clone(),
        (None, Some(vc)) => find_vcluster_context(config, vc, sel)?,
        (None, None) => config
            .current_context
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ContextError::NoCurrentContext {
                available: available(config),
            })?,
    };
    if !has_context(config, &virtual_context) {
        return Err(ContextError::ContextNotFound {
            context: virtual_context,
            available: available(config),
        });
    }
    let parsed = VClusterContextName::parse(&virtual_context);
    let host_context = match (&sel.host_context, &parsed) {
        (Some(h), _) => {
            if !has_context(config, h) {
                return Err(ContextError::HostContextNotFound {
                    context: h.clone(),
                    available: available(config),
                });
            }
            h.clone()
        }
        (None, Some(p)) => {
            if !has_context(config, &p.host_context) {
                return Err(ContextError::InferredHostContextNotFound {
                    context: p.host_context.clone(),
                    from: virtual_context,
                    available: available(config),
                });
            }
            p.host_context.clone()
        }
        (None, None) => {
            return Err(if sel.vcluster.is_some() {
                ContextError::NoHostContext {
                    context: virtual_context,
                    available: available(config),
                }
            } else {
                ContextError::NotAVClusterContext {
                    context: virtual_context,
                }
            });
        }
    };
    let vcluster = match (&sel.vcluster, &parsed) {
        (Some(vc), _) => vc.clone(),
        (None, Some(p)) => p.vcluster.clone(),
        (None, None) => {
            return Err(ContextError::NotAVClusterContext {
                context: virtual_context,
            });
        }
    };
    let host_namespace = match (&sel.host_namespace, &parsed) {
        (Some(ns), _) => ns.clone(),
        (None, Some(p)) if sel.vcluster.is_none() || p.vcluster == vcluster => {
            p.host_namespace.clone()
        }
        _ => default_host_namespace(&vcluster),
    };
    Ok(ResolvedContexts {
        virtual_context,
        host_context,
        vcluster,
        host_namespace,
    })
}

fn find_vcluster_context(
    config: &Kubeconfig,
    vcluster: &str,
    sel: &ContextSelection,
) -> Result<String, ContextError> {
    let matches: Vec<&str> = context_names(config)
        .into_iter()
        .filter(|name| {
            VClusterContextName::parse(name).is_some_and(|p| {
                p.vcluster == vcluster
                    && sel
                        .host_namespace
                        .as_ref()
                        .is_none_or(|n| *n == p.host_namespace)
                    && sel
                        .host_context
                        .as_ref()
                        .is_none_or(|h| *h == p.host_context)
            })
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(ContextError::NoContextForVCluster {
            vcluster: vcluster.to_string(),
            available: available(config),
        }),
        many => Err(ContextError::AmbiguousVCluster {
            vcluster: vcluster.to_string(),
            matches: many.join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn parse_and_format_round_trip() {
        let p = VClusterContextName::parse("vcluster_my-vc_vcluster-my-vc_kind-kind").unwrap();
        assert_eq!(
            p,
            VClusterContextName::new("my-vc", "vcluster-my-vc", "kind-kind")
        );
        assert_eq!(p.to_string(), "vcluster_my-vc_vcluster-my-vc_kind-kind");
        assert_eq!(
            format_context_name("a", "b", "c"),
            "vcluster_a_b_c".to_string()
        );
    }

    #[test]
    fn host_context_may_contain_underscores() {
        let p = VClusterContextName::parse("vcluster_vc_ns_gke_my-proj_europe-west1_prod").unwrap();
        assert_eq!(p.vcluster, "vc");
        assert_eq!(p.host_namespace, "ns");
        assert_eq!(p.host_context, "gke_my-proj_europe-west1_prod");
        assert_eq!(
            p.to_string(),
            "vcluster_vc_ns_gke_my-proj_europe-west1_prod"
        );
    }

    #[test]
    fn other_names_are_not_vcluster_contexts() {
        for name in [
            "kind-kind",
            "vcluster_",
            "vcluster_a",
            "vcluster_a_b",
            "vcluster_a_b_",
            "vcluster__b_c",
            "vcluster_a__c",
            "vcluster-platform_a_b_c",
            "",
        ] {
            assert_eq!(VClusterContextName::parse(name), None, "{name}");
        }
    }

    fn kubeconfig(contexts: &[&str], current: Option<&str>) -> Kubeconfig {
        let mut yaml = String::from(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n",
        );
        for c in contexts {
            yaml.push_str(&format!(
                "- name: {c}\n  context: {{cluster: c, user: u}}\n"
            ));
        }
        if let Some(cur) = current {
            yaml.push_str(&format!("current-context: {cur}\n"));
        }
        Kubeconfig::from_yaml(&yaml).unwrap()
    }

    fn sel(context: Option<&str>) -> ContextSelection {
        ContextSelection {
            context: context.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn virtual_context_resolves_both_sides() {
        let cfg = kubeconfig(&["kind-kind", "vcluster_demo_team-a_kind-kind"], None);
        let r = resolve_contexts(&cfg, &sel(Some("vcluster_demo_team-a_kind-kind"))).unwrap();
        assert_eq!(
            r,
            ResolvedContexts {
                virtual_context: "vcluster_demo_team-a_kind-kind".into(),
                host_context: "kind-kind".into(),
                vcluster: "demo".into(),
                host_namespace: "team-a".into(),
            }
        );
    }

    #[test]
    fn current_context_is_used_when_none_is_given() {
        let cfg = kubeconfig(
            &["kind-kind", "vcluster_demo_team-a_kind-kind"],
            Some("vcluster_demo_team-a_kind-kind"),
        );
        let r = resolve_contexts(&cfg, &ContextSelection::default()).unwrap();
        assert_eq!(r.vcluster, "demo");
        let empty = kubeconfig(&["kind-kind"], None);
        assert_eq!(
            resolve_contexts(&empty, &ContextSelection::default())
                .unwrap_err()
                .to_string(),
            "no context given and the kubeconfig has no current-context; pass --context (available: kind-kind)"
        );
    }

    #[test]
    fn missing_inferred_host_context_lists_what_is_there() {
        let cfg = kubeconfig(&["minikube", "vcluster_demo_ns_kind-kind"], None);
        let e = resolve_contexts(&cfg, &sel(Some("vcluster_demo_ns_kind-kind"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "host context \"kind-kind\" (taken from context \"vcluster_demo_ns_kind-kind\") not found in kubeconfig (available: minikube, vcluster_demo_ns_kind-kind); pass --host-context"
        );
        // An explicit host context fixes it, and explicit flags win over the name.
        let r = resolve_contexts(
            &cfg,
            &ContextSelection {
                context: Some("vcluster_demo_ns_kind-kind".into()),
                host_context: Some("minikube".into()),
                host_namespace: Some("other".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.host_context, "minikube");
        assert_eq!(r.host_namespace, "other");
        assert_eq!(r.vcluster, "demo");
    }

    #[test]
    fn unknown_contexts_are_errors() {
        let cfg = kubeconfig(&["a", "b"], None);
        assert_eq!(
            resolve_contexts(&cfg, &sel(Some("x")))
                .unwrap_err()
                .to_string(),
            "context \"x\" not found in kubeconfig (available: a, b)"
        );
        let e = resolve_contexts(
            &cfg,
            &ContextSelection {
                context: Some("a".into()),
                host_context: Some("zz".into()),
                vcluster: Some("vc".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "host context \"zz\" not found in kubeconfig (available: a, b)"
        );
        let e = resolve_contexts(&cfg, &sel(Some("a"))).unwrap_err();
        assert!(matches!(e, ContextError::NotAVClusterContext { .. }), "{e}");
    }

    #[test]
    fn plain_contexts_work_with_explicit_flags() {
        let cfg = kubeconfig(&["virt", "host"], Some("virt"));
        let r = resolve_contexts(
            &cfg,
            &ContextSelection {
                host_context: Some("host".into()),
                context: Some("virt".into()),
                vcluster: Some("vc".into()),
                host_namespace: None,
            },
        )
        .unwrap();
        assert_eq!(r.host_namespace, "vcluster-vc");
        assert_eq!(r.virtual_context, "virt");
        assert_eq!(r.host_context, "host");
    }

    #[test]
    fn vcluster_flag_finds_its_context() {
        let cfg = kubeconfig(
            &[
                "kind-kind",
                "gke_p_z_c",
                "vcluster_a_ns1_kind-kind",
                "vcluster_b_ns2_kind-kind",
                "vcluster_b_ns3_gke_p_z_c",
            ],
            Some("kind-kind"),
        );
        let by_vc = |vc: &str, ns: Option<&str>| {
            resolve_contexts(
                &cfg,
                &ContextSelection {
                    vcluster: Some(vc.into()),
                    host_namespace: ns.map(str::to_string),
                    ..Default::default()
                },
            )
        };
        let r = by_vc("a", None).unwrap();
        assert_eq!(r.virtual_context, "vcluster_a_ns1_kind-kind");
        assert_eq!(r.host_namespace, "ns1");
        let e = by_vc("b", None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "several contexts match vcluster \"b\" (vcluster_b_ns2_kind-kind, vcluster_b_ns3_gke_p_z_c); pass --context"
        );
        let r = by_vc("b", Some("ns3")).unwrap();
        assert_eq!(r.host_context, "gke_p_z_c");
        assert!(matches!(
            by_vc("zz", None).unwrap_err(),
            ContextError::NoContextForVCluster { .. }
        ));
    }

    const GOOD: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster: {server: 'https://127.0.0.1:6443'}\nusers:\n- name: u1\n  user: {token: t}\ncontexts:\n- name: one\n  context: {cluster: c1, user: u1}\n- name: shared\n  context: {cluster: c1, user: u1, namespace: first}\ncurrent-context: one\n";
    const SECOND: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c2\n  cluster: {server: 'https://127.0.0.1:7443'}\nusers:\n- name: u2\n  user: {token: t}\ncontexts:\n- name: two\n  context: {cluster: c2, user: u2}\n- name: shared\n  context: {cluster: c2, user: u2, namespace: second}\ncurrent-context: two\n";

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        path
    }

    #[test]
    fn kubeconfig_env_merges_first_wins() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a", GOOD);
        let b = write(dir.path(), "b", SECOND);
        let missing = dir.path().join("missing");
        let env = std::env::join_paths([&a, &missing, &b]).unwrap();
        let loaded = load_kubeconfig_with(None, Some(&env), None).unwrap();
        assert_eq!(loaded.context_names(), vec!["one", "shared", "two"]);
        assert_eq!(loaded.config.current_context.as_deref(), Some("one"));
        let shared = loaded
            .config
            .contexts
            .iter()
            .find(|c| c.name == "shared")
            .unwrap();
        assert_eq!(
            shared.context.as_ref().unwrap().namespace.as_deref(),
            Some("first")
        );
        assert_eq!(loaded.files, vec![a, b]);
    }

    #[test]
    fn kubeconfig_flag_beats_env_and_home() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a", GOOD);
        let b = write(dir.path(), "b", SECOND);
        let loaded = load_kubeconfig_with(Some(&b), Some(a.as_os_str()), None).unwrap();
        assert_eq!(loaded.context_names(), vec!["two", "shared"]);
        // Home fallback.
        std::fs::create_dir_all(dir.path().join(".kube")).unwrap();
        write(&dir.path().join(".kube"), "config", GOOD);
        let loaded = load_kubeconfig_with(None, None, Some(dir.path())).unwrap();
        assert_eq!(loaded.context_names(), vec!["one", "shared"]);
        // An empty $KUBECONFIG counts as unset.
        let loaded = load_kubeconfig_with(None, Some(OsStr::new("")), Some(dir.path())).unwrap();
        assert_eq!(loaded.files, vec![dir.path().join(".kube").join("config")]);
    }

    #[test]
    fn bad_kubeconfigs_are_one_line_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let empty = write(dir.path(), "empty", "\n  \n");
        let bad = write(dir.path(), "bad", "clusters: [\n  - {name: x\n");
        let wrong = write(dir.path(), "wrong", "contexts: 5\n");
        let missing = dir.path().join("nope");
        let shown = |p: &Path| p.display().to_string();

        let e = load_kubeconfig_with(Some(&empty), None, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("kubeconfig {} is empty", shown(&empty))
        );
        for path in [&bad, &wrong] {
            let e = load_kubeconfig_with(Some(path), None, None)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(&format!(
                    "kubeconfig {} is not a valid kubeconfig: ",
                    shown(path)
                )),
                "{e}"
            );
            assert!(!e.contains('\n') && !e.contains("-->"), "{e}");
            assert!(e.contains("line 1") || e.contains("line 2"), "{e}");
        }
        let e = load_kubeconfig_with(Some(&missing), None, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("kubeconfig {}: file not found", shown(&missing))
        );
        let e = load_kubeconfig_with(Some(dir.path()), None, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("kubeconfig {}: cannot read it", shown(dir.path()))),
            "{e}"
        );
        let e = load_kubeconfig_with(None, Some(missing.as_os_str()), None).unwrap_err();
        assert!(matches!(e, ContextError::NoEnvFile { .. }));
        let e = load_kubeconfig_with(None, None, Some(dir.path())).unwrap_err();
        assert!(matches!(e, ContextError::NoDefault { .. }));
        assert_eq!(
            load_kubeconfig_with(None, None, None).unwrap_err(),
            ContextError::NoHome
        );
        // A bad file anywhere in $KUBECONFIG is named.
        let good = write(dir.path(), "good", GOOD);
        let env = std::env::join_paths([&good, &bad]).unwrap();
        let e = load_kubeconfig_with(None, Some(&env), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(&shown(&bad)), "{e}");
    }
}
