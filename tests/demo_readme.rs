//! The operator README stays true: its keybindings table is the keymap's, its RBAC files parse,
//! its demo commands exist. Regenerate the table with `UPDATE_README=1 cargo nextest run -E 'test(readme)'`.

use std::path::PathBuf;
use vinspect::tui::keymap::Keymap;

const START: &str = "<!-- keys:start (generated from the keymap by tests/demo_readme.rs) -->";
const END: &str = "<!-- keys:end -->";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The table, one section per mode, as the help screen lists it.
fn keys_markdown() -> String {
    let mut out = String::new();
    for (mode, entries) in Keymap::default().help() {
        out.push_str(&format!(
            "\n**{}**\n\n| key | does |\n|---|---|\n",
            mode.name()
        ));
        for (keys, what) in entries {
            let keys = keys.replace('|', "\\|");
            out.push_str(&format!("| `{keys}` | {what} |\n"));
        }
    }
    out.push('\n');
    out
}

/// The README files that carry the generated table (README.operator.md until it is merged
/// into README.md).
fn readmes() -> Vec<PathBuf> {
    ["README.md", "README.operator.md"]
        .iter()
        .map(|f| root().join(f))
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains(START)))
        .collect()
}

#[test]
fn readme_keybindings_table_matches_the_keymap() {
    let files = readmes();
    assert!(
        !files.is_empty(),
        "no README carries the keybindings markers"
    );
    let want = keys_markdown();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let (head, rest) = text.split_once(START).unwrap();
        let (table, tail) = rest.split_once(END).expect("keys:end marker");
        if std::env::var_os("UPDATE_README").is_some() {
            std::fs::write(&path, format!("{head}{START}{want}{END}{tail}")).unwrap();
            continue;
        }
        assert_eq!(
            table,
            want,
            "{} keybindings are stale: UPDATE_README=1 cargo nextest run -E 'test(readme)'",
            path.display()
        );
    }
}

#[test]
fn readme_rbac_files_are_valid_kubernetes_yaml() {
    let dir = root().join("deploy/rbac");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v: serde_yaml::Value = serde::Deserialize::deserialize(doc).unwrap();
            if v.is_null() {
                continue;
            }
            let kind = v["kind"].as_str().unwrap_or_default().to_string();
            assert!(
                [
                    "Role",
                    "ClusterRole",
                    "RoleBinding",
                    "ClusterRoleBinding",
                    "ServiceAccount"
                ]
                .contains(&kind.as_str()),
                "{}: {kind}",
                path.display()
            );
            assert!(
                v["metadata"]["name"].as_str().is_some(),
                "{}",
                path.display()
            );
            seen += 1;
        }
    }
    assert!(seen >= 4, "{seen}");
}

#[test]
fn readme_mentions_only_scenarios_that_exist() {
    for path in readmes() {
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| l.contains("--scenario ")) {
            let name = line
                .split("--scenario ")
                .nth(1)
                .and_then(|r| r.split(|c: char| c.is_whitespace() || c == '`').next())
                .unwrap();
            // Placeholders (`NAME`) are not scenario names.
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
                continue;
            }
            assert!(
                vinspect::sandbox::scenario::load(name).is_ok(),
                "{}: unknown scenario {name}",
                path.display()
            );
        }
    }
}
