//! Opt-in RBAC for sandbox users: a user added with [`SandboxServer::add_rbac_user`] is
//! authorized the way the apiserver's RBAC authorizer does it, from Role/ClusterRole and
//! RoleBinding/ClusterRoleBinding manifests (the same YAML one would `kubectl apply`). Other
//! users are unaffected, so tests that do not ask for RBAC see no difference.
//!
//! Matching follows the apiserver: a rule allows a request when its verbs, apiGroups and
//! resources (`pods`, `pods/status`, `*`, `*/status`) match, and, if it lists resourceNames, the
//! request names one of them (a list or watch names one only through a
//! `metadata.name=` field selector; `create` never does). A RoleBinding grants its role inside
//! its own namespace only; a ClusterRoleBinding grants everywhere.
//!
//! [`SandboxServer::add_rbac_user`]: super::SandboxServer::add_rbac_user

use serde_json::Value;

/// One rule of a Role or ClusterRole.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
}

/// A request as the authorizer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes<'a> {
    pub verb: &'a str,
    pub api_group: &'a str,
    pub resource: &'a str,
    /// `status`, `binding`, ... or empty.
    pub subresource: &'a str,
    /// Empty for cluster-scoped requests and all-namespace lists.
    pub namespace: &'a str,
    /// Empty when the request names no object.
    pub name: &'a str,
}

#[derive(Debug, Clone)]
struct Role {
    /// `None` for a ClusterRole.
    namespace: Option<String>,
    name: String,
    rules: Vec<PolicyRule>,
}

#[derive(Debug, Clone)]
struct Binding {
    /// `None` for a ClusterRoleBinding.
    namespace: Option<String>,
    role_kind: String,
    role_name: String,
    /// User names (service accounts as `system:serviceaccount:<ns>:<name>`).
    subjects: Vec<String>,
}

/// Roles and bindings of one server.
#[derive(Debug, Clone, Default)]
pub struct Authorizer {
    roles: Vec<Role>,
    bindings: Vec<Binding>,
}

/// A manifest the authorizer cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("RBAC manifest {what}: {problem}")]
pub struct ManifestError {
    pub what: String,
    pub problem: String,
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn matches_any(list: &[String], value: &str) -> bool {
    list.iter().any(|x| x == "*" || x == value)
}

impl PolicyRule {
    fn from_value(v: &Value) -> Self {
        Self {
            verbs: strings(v, "verbs"),
            api_groups: strings(v, "apiGroups"),
            resources: strings(v, "resources"),
            resource_names: strings(v, "resourceNames"),
        }
    }

    /// Whether this rule allows the request.
    pub fn allows(&self, a: &Attributes<'_>) -> bool {
        if !matches_any(&self.verbs, a.verb) || !matches_any(&self.api_groups, a.api_group) {
            return false;
        }
        let resource_ok = self.resources.iter().any(|r| {
            if a.subresource.is_empty() {
                r == "*" || r == a.resource
            } else {
                r == "*"
                    || *r == format!("{}/{}", a.resource, a.subresource)
                    || *r == format!("*/{}", a.subresource)
                    || *r == format!("{}/*", a.resource)
            }
        });
        if !resource_ok {
            return false;
        }
        self.resource_names.is_empty()
            || (!a.name.is_empty() && self.resource_names.iter().any(|n| n == a.name))
    }
}

impl Authorizer {
    /// Reads every Role, ClusterRole, RoleBinding and ClusterRoleBinding in `manifests`;
    /// other kinds are ignored (a deploy file also carries Deployments, ServiceAccounts, ...).
    pub fn from_manifests(manifests: &[Value]) -> Result<Self, ManifestError> {
        let mut me = Self::default();
        for m in manifests {
            let kind = text(m, "/kind");
            let name = text(m, "/metadata/name").to_string();
            let namespace = m
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_string);
            let what = format!("{kind} {name:?}");
            let bad = |problem: &str| ManifestError {
                what: what.clone(),
                problem: problem.to_string(),
            };
            match kind {
                "Role" | "ClusterRole" => {
                    if kind == "Role" && namespace.is_none() {
                        return Err(bad("a Role needs metadata.namespace"));
                    }
                    let rules = m
                        .get("rules")
                        .and_then(Value::as_array)
                        .map(|r| r.iter().map(PolicyRule::from_value).collect())
                        .unwrap_or_default();
                    me.roles.push(Role {
                        namespace: if kind == "Role" { namespace } else { None },
                        name,
                        rules,
                    });
                }
                "RoleBinding" | "ClusterRoleBinding" => {
                    if kind == "RoleBinding" && namespace.is_none() {
                        return Err(bad("a RoleBinding needs metadata.namespace"));
                    }
                    let role_kind = text(m, "/roleRef/kind").to_string();
                    if kind == "ClusterRoleBinding" && role_kind != "ClusterRole" {
                        return Err(bad("a ClusterRoleBinding can only refer to a ClusterRole"));
                    }
                    let subjects = m
                        .get("subjects")
                        .and_then(Value::as_array)
                        .map(|s| s.iter().filter_map(subject_name).collect())
                        .unwrap_or_default();
                    me.bindings.push(Binding {
                        namespace: if kind == "RoleBinding" {
                            namespace
                        } else {
                            None
                        },
                        role_kind,
                        role_name: text(m, "/roleRef/name").to_string(),
                        subjects,
                    });
                }
                _ => {}
            }
        }
        Ok(me)
    }

    /// Whether `user` may make the request.
    pub fn allows(&self, user: &str, a: &Attributes<'_>) -> bool {
        self.bindings
            .iter()
            .filter(|b| b.subjects.iter().any(|s| s == user))
            .filter(|b| match &b.namespace {
                None => true,
                Some(ns) => ns == a.namespace,
            })
            .filter_map(|b| self.role_of(b))
            .any(|r| r.rules.iter().any(|rule| rule.allows(a)))
    }

    fn role_of(&self, b: &Binding) -> Option<&Role> {
        self.roles.iter().find(|r| {
            r.name == b.role_name
                && match b.role_kind.as_str() {
                    "Role" => r.namespace.is_some() && r.namespace == b.namespace,
                    "ClusterRole" => r.namespace.is_none(),
                    _ => false,
                }
        })
    }
}

fn subject_name(s: &Value) -> Option<String> {
    let name = s.get("name").and_then(Value::as_str)?;
    match s.get("kind").and_then(Value::as_str)? {
        "User" => Some(name.to_string()),
        "ServiceAccount" => Some(format!(
            "system:serviceaccount:{}:{name}",
            s.get("namespace").and_then(Value::as_str).unwrap_or("")
        )),
        _ => None,
    }
}

/// Every document of a multi-document YAML text, skipping empty ones (comment-only files).
pub fn parse_manifests(yaml: &str) -> Result<Vec<Value>, ManifestError> {
    use serde::Deserialize;
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let v = Value::deserialize(doc).map_err(|e| ManifestError {
            what: "YAML".into(),
            problem: e.to_string(),
        })?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs<'a>(verb: &'a str, resource: &'a str, ns: &'a str, name: &'a str) -> Attributes<'a> {
        Attributes {
            verb,
            api_group: "",
            resource,
            subresource: "",
            namespace: ns,
            name,
        }
    }

    #[test]
    fn rules_bindings_and_scopes() {
        let az = Authorizer::from_manifests(&[
            json!({"kind": "Role", "metadata": {"name": "r", "namespace": "a"}, "rules": [
                {"apiGroups": [""], "resources": ["pods", "services/status"], "verbs": ["get", "list"]},
                {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["cfg"], "verbs": ["get", "list"]}
            ]}),
            json!({"kind": "RoleBinding", "metadata": {"name": "b", "namespace": "a"},
                   "roleRef": {"kind": "Role", "name": "r"},
                   "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "a"}]}),
            json!({"kind": "ClusterRole", "metadata": {"name": "c"}, "rules": [
                {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]}),
            json!({"kind": "ClusterRoleBinding", "metadata": {"name": "cb"},
                   "roleRef": {"kind": "ClusterRole", "name": "c"},
                   "subjects": [{"kind": "User", "name": "u"}]}),
        ])
        .unwrap();
        let sa = "system:serviceaccount:a:sa";
        assert!(az.allows(sa, &attrs("get", "pods", "a", "p")));
        assert!(az.allows(sa, &attrs("list", "pods", "a", "")));
        assert!(
            !az.allows(sa, &attrs("list", "pods", "b", "")),
            "other namespace"
        );
        assert!(
            !az.allows(sa, &attrs("list", "pods", "", "")),
            "all namespaces"
        );
        assert!(!az.allows(sa, &attrs("delete", "pods", "a", "p")));
        assert!(!az.allows(sa, &attrs("get", "services", "a", "s")));
        let status = Attributes {
            subresource: "status",
            ..attrs("get", "services", "a", "s")
        };
        assert!(az.allows(sa, &status));
        assert!(az.allows(sa, &attrs("get", "secrets", "a", "cfg")));
        assert!(!az.allows(sa, &attrs("get", "secrets", "a", "other")));
        assert!(!az.allows(sa, &attrs("list", "secrets", "a", "")));
        assert!(az.allows("u", &attrs("list", "nodes", "", "")));
        assert!(!az.allows("u", &attrs("get", "pods", "a", "p")));
        assert!(!az.allows("nobody", &attrs("list", "nodes", "", "")));
    }

    #[test]
    fn bad_manifests_are_named() {
        let e = Authorizer::from_manifests(&[json!({"kind": "Role", "metadata": {"name": "x"}})])
            .unwrap_err();
        assert_eq!(e.what, "Role \"x\"");
        assert_eq!(
            parse_manifests("# only a comment\n---\nkind: Role\n")
                .unwrap()
                .len(),
            1
        );
    }
}
