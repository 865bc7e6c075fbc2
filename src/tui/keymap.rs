//! Keymaps as data: (mode, key) → command. The footer hints and the `?` help are generated from
//! the same table, and the user config can rebind or unbind any key per mode.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::{BTreeMap, HashMap};

/// What the UI is doing; each mode has its own bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// The pairs table (with or without the detail pane).
    Table,
    /// Typing a `/` filter.
    Filter,
    /// Typing a `:` command.
    Command,
    /// The side-by-side diff.
    Diff,
    /// The YAML of one side.
    Yaml,
    Help,
    /// A fix confirmation: `y` applies, anything else cancels.
    Confirm,
    /// An explanation popup (read-only, squatter): any key closes it.
    Message,
    /// Choosing a context from a list.
    Picker,
}

impl Mode {
    pub const ALL: [Mode; 9] = [
        Mode::Table,
        Mode::Filter,
        Mode::Command,
        Mode::Diff,
        Mode::Yaml,
        Mode::Help,
        Mode::Confirm,
        Mode::Message,
        Mode::Picker,
    ];

    /// The name used in the config file (`keys: { table: { … } }`).
    pub fn name(self) -> &'static str {
        match self {
            Mode::Table => "table",
            Mode::Filter => "filter",
            Mode::Command => "command",
            Mode::Diff => "diff",
            Mode::Yaml => "yaml",
            Mode::Help => "help",
            Mode::Confirm => "confirm",
            Mode::Message => "message",
            Mode::Picker => "picker",
        }
    }

    pub fn from_name(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == s)
    }
}

/// A command a key can trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cmd {
    Quit,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextTab,
    PrevTab,
    /// Jump to tab 0..=4.
    GoTab(u8),
    ToggleDetail,
    Diff,
    YamlVirtual,
    YamlHost,
    /// In the YAML view: show the other side.
    OtherSide,
    Help,
    Back,
    StartFilter,
    StartCommand,
    ToggleProblems,
    SortNext,
    SortReverse,
    Fix,
    FixAll,
    Confirm,
    Cancel,
    /// Enter in an input line or picker.
    Submit,
    DeleteChar,
}

/// Every command with its config name and help text; the single source for both.
const COMMANDS: &[(Cmd, &str, &str)] = &[
    (Cmd::Quit, "quit", "quit"),
    (Cmd::Up, "up", "move up"),
    (Cmd::Down, "down", "move down"),
    (Cmd::PageUp, "page-up", "page up"),
    (Cmd::PageDown, "page-down", "page down"),
    (Cmd::Top, "top", "go to top"),
    (Cmd::Bottom, "bottom", "go to bottom"),
    (Cmd::NextTab, "next-tab", "next tab"),
    (Cmd::PrevTab, "prev-tab", "previous tab"),
    (Cmd::GoTab(0), "tab-pods", "Pods tab"),
    (Cmd::GoTab(1), "tab-services", "Services tab"),
    (Cmd::GoTab(2), "tab-ingresses", "Ingresses tab"),
    (Cmd::GoTab(3), "tab-replicated", "Replicated tab"),
    (Cmd::GoTab(4), "tab-dns", "DNS tab"),
    (Cmd::ToggleDetail, "detail", "detail pane"),
    (Cmd::Diff, "diff", "diff desired vs host"),
    (Cmd::YamlVirtual, "yaml-virtual", "YAML (virtual)"),
    (Cmd::YamlHost, "yaml-host", "YAML (host)"),
    (Cmd::OtherSide, "other-side", "other side"),
    (Cmd::Help, "help", "help"),
    (Cmd::Back, "back", "back"),
    (Cmd::StartFilter, "filter", "filter (! inverts)"),
    (
        Cmd::StartCommand,
        "command",
        "command (:pods :svc :ing :ns :ctx :q)",
    ),
    (Cmd::ToggleProblems, "problems", "problems only"),
    (Cmd::SortNext, "sort", "sort by next column"),
    (Cmd::SortReverse, "sort-reverse", "reverse sort"),
    (Cmd::Fix, "fix", "fix pair"),
    (Cmd::FixAll, "fix-all", "fix all problems in view"),
    (Cmd::Confirm, "confirm", "apply"),
    (Cmd::Cancel, "cancel", "cancel"),
    (Cmd::Submit, "submit", "accept"),
    (Cmd::DeleteChar, "delete-char", "delete character"),
];

impl Cmd {
    pub fn name(self) -> &'static str {
        COMMANDS
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or("?", |(_, n, _)| n)
    }

    pub fn description(self) -> &'static str {
        COMMANDS
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or("?", |(_, _, d)| d)
    }

    pub fn from_name(s: &str) -> Option<Cmd> {
        COMMANDS
            .iter()
            .find(|(_, n, _)| *n == s)
            .map(|(c, _, _)| *c)
    }
}

/// A key with modifiers, normalised so that `F` and `shift-f` are the same binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl KeySpec {
    pub fn new(code: KeyCode, mods: KeyModifiers) -> Self {
        let mut mods = mods & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match code {
            // Terminals report an uppercase letter with or without SHIFT; the char says it all.
            KeyCode::Char(_) => {
                mods.remove(KeyModifiers::SHIFT);
                code
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                code
            }
            other => other,
        };
        Self { code, mods }
    }

    pub fn char(c: char) -> Self {
        Self::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    pub fn from_event(ev: &KeyEvent) -> Self {
        Self::new(ev.code, ev.modifiers)
    }

    /// Parse `q`, `F`, `ctrl-c`, `alt-x`, `enter`, `esc`, `tab`, `backtab`, `pgdn`, `f5`, `space`…
    pub fn parse(s: &str) -> Result<KeySpec, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            if lower.len() > 1 && (lower.starts_with("ctrl-") || lower.starts_with("ctrl+")) {
                mods |= KeyModifiers::CONTROL;
                rest = &rest[5..];
            } else if lower.len() > 1 && (lower.starts_with("alt-") || lower.starts_with("alt+")) {
                mods |= KeyModifiers::ALT;
                rest = &rest[4..];
            } else if lower.len() > 1
                && (lower.starts_with("shift-") || lower.starts_with("shift+"))
            {
                mods |= KeyModifiers::SHIFT;
                rest = &rest[6..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => {
                if mods.contains(KeyModifiers::SHIFT) && c.is_ascii_lowercase() {
                    KeyCode::Char(c.to_ascii_uppercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            (None, _) => return Err("empty key".to_string()),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" if mods.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "pgup" | "pageup" => KeyCode::PageUp,
                "pgdn" | "pagedown" => KeyCode::PageDown,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "space" => KeyCode::Char(' '),
                f if f.starts_with('f') && f.len() <= 3 => match f[1..].parse::<u8>() {
                    Ok(n) if (1..=12).contains(&n) => KeyCode::F(n),
                    _ => return Err(format!("unknown key \"{s}\"")),
                },
                _ => return Err(format!("unknown key \"{s}\"")),
            },
        };
        Ok(KeySpec::new(code, mods))
    }
}

impl std::fmt::Display for KeySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("del"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::F(n) => write!(f, "f{n}"),
            _ => f.write_str("?"),
        }
    }
}

/// One entry of the keymap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub mode: Mode,
    pub key: KeySpec,
    pub cmd: Cmd,
}

/// The default bindings, one string per line: `mode key command`. Kept as text so the table
/// reads like the help screen it produces.
const DEFAULTS: &str = "
table q quit
table ctrl-c quit
table j down
table down down
table k up
table up up
table pgdn page-down
table ctrl-d page-down
table pgup page-up
table ctrl-u page-up
table g top
table home top
table G bottom
table end bottom
table tab next-tab
table backtab prev-tab
table 1 tab-pods
table 2 tab-services
table 3 tab-ingresses
table 4 tab-replicated
table 5 tab-dns
table enter detail
table d diff
table y yaml-virtual
table Y yaml-host
table / filter
table : command
table p problems
table s sort
table S sort-reverse
table f fix
table F fix-all
table ? help
table esc back
filter enter submit
filter esc back
filter backspace delete-char
filter ctrl-c quit
command enter submit
command esc back
command backspace delete-char
command ctrl-c quit
diff esc back
diff q back
diff j down
diff down down
diff k up
diff up up
diff pgdn page-down
diff pgup page-up
diff g top
diff G bottom
diff ? help
diff ctrl-c quit
yaml esc back
yaml q back
yaml tab other-side
yaml j down
yaml down down
yaml k up
yaml up up
yaml pgdn page-down
yaml pgup page-up
yaml g top
yaml G bottom
yaml ? help
yaml ctrl-c quit
help esc back
help q back
help ? back
help j down
help down down
help k up
help up up
help ctrl-c quit
confirm y confirm
confirm up up
confirm down down
confirm pgup page-up
confirm pgdn page-down
message ctrl-c quit
picker j down
picker down down
picker k up
picker up up
picker enter submit
picker esc back
picker q back
picker ctrl-c quit
";

/// Commands shown in the footer, per mode, in this order (the first key bound to each).
const HINTS: &[(Mode, &[Cmd])] = &[
    (
        Mode::Table,
        &[
            Cmd::Help,
            Cmd::StartFilter,
            Cmd::StartCommand,
            Cmd::ToggleDetail,
            Cmd::Diff,
            Cmd::YamlVirtual,
            Cmd::YamlHost,
            Cmd::Fix,
            Cmd::FixAll,
            Cmd::ToggleProblems,
            Cmd::SortNext,
            Cmd::Quit,
        ],
    ),
    (Mode::Filter, &[Cmd::Submit, Cmd::Back]),
    (Mode::Command, &[Cmd::Submit, Cmd::Back]),
    (Mode::Diff, &[Cmd::Down, Cmd::Up, Cmd::PageDown, Cmd::Back]),
    (
        Mode::Yaml,
        &[Cmd::OtherSide, Cmd::Down, Cmd::Up, Cmd::PageDown, Cmd::Back],
    ),
    (Mode::Help, &[Cmd::Down, Cmd::Up, Cmd::Back]),
    (Mode::Confirm, &[Cmd::Confirm, Cmd::Down, Cmd::Up]),
    (Mode::Message, &[]),
    (Mode::Picker, &[Cmd::Down, Cmd::Up, Cmd::Submit, Cmd::Back]),
];

/// A keymap: ordered bindings plus an index for resolution.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<Binding>,
    index: HashMap<(Mode, KeySpec), Cmd>,
}

/// A bad key override in the user config; says which entry and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("keys.{mode}.{key}: {message}")]
pub struct KeymapError {
    pub mode: String,
    pub key: String,
    pub message: String,
}

impl Default for Keymap {
    fn default() -> Self {
        let bindings = DEFAULTS
            .lines()
            .filter_map(|line| {
                let mut parts = line.split_whitespace();
                let mode = Mode::from_name(parts.next()?)?;
                let key = KeySpec::parse(parts.next()?).ok()?;
                let cmd = Cmd::from_name(parts.next()?)?;
                Some(Binding { mode, key, cmd })
            })
            .collect();
        Keymap::from_bindings(bindings)
    }
}

impl Keymap {
    pub fn from_bindings(bindings: Vec<Binding>) -> Self {
        let index = bindings.iter().map(|b| ((b.mode, b.key), b.cmd)).collect();
        Self { bindings, index }
    }

    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    pub fn resolve(&self, mode: Mode, key: KeySpec) -> Option<Cmd> {
        self.index.get(&(mode, key)).copied()
    }

    /// Apply user overrides: `mode → key → command name` (`none` unbinds the key).
    pub fn with_overrides(
        mut self,
        overrides: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<Keymap, KeymapError> {
        for (mode_name, keys) in overrides {
            let err = |key: &str, message: String| KeymapError {
                mode: mode_name.clone(),
                key: key.to_string(),
                message,
            };
            let mode = Mode::from_name(mode_name).ok_or_else(|| {
                err(
                    "*",
                    format!(
                        "unknown mode (use one of: {})",
                        Mode::ALL.map(Mode::name).join(", ")
                    ),
                )
            })?;
            for (key_text, cmd_name) in keys {
                let key = KeySpec::parse(key_text).map_err(|m| err(key_text, m))?;
                self.bindings.retain(|b| !(b.mode == mode && b.key == key));
                if cmd_name != "none" {
                    let cmd = Cmd::from_name(cmd_name).ok_or_else(|| {
                        err(
                            key_text,
                            format!(
                                "unknown command \"{cmd_name}\" (use one of: {}, or none)",
                                COMMANDS
                                    .iter()
                                    .map(|(_, n, _)| *n)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                    })?;
                    self.bindings.push(Binding { mode, key, cmd });
                }
            }
        }
        Ok(Keymap::from_bindings(self.bindings))
    }

    /// The first key bound to `cmd` in `mode`.
    pub fn key_for(&self, mode: Mode, cmd: Cmd) -> Option<KeySpec> {
        self.bindings
            .iter()
            .find(|b| b.mode == mode && b.cmd == cmd)
            .map(|b| b.key)
    }

    /// Footer hints for a mode: `(key, description)`, commands without a key left out.
    pub fn hints(&self, mode: Mode) -> Vec<(String, &'static str)> {
        let cmds = HINTS
            .iter()
            .find(|(m, _)| *m == mode)
            .map_or(&[][..], |(_, c)| c);
        cmds.iter()
            .filter_map(|&cmd| {
                let key = self.key_for(mode, cmd)?;
                Some((key.to_string(), short_hint(cmd)))
            })
            .collect()
    }

    /// The help screen: per mode, every command with all its keys (`j, ↓`), in binding order.
    pub fn help(&self) -> Vec<(Mode, Vec<(String, &'static str)>)> {
        let mut out = Vec::new();
        for mode in Mode::ALL {
            let mut entries: Vec<(Cmd, Vec<String>)> = Vec::new();
            for b in self.bindings.iter().filter(|b| b.mode == mode) {
                match entries.iter_mut().find(|(c, _)| *c == b.cmd) {
                    Some((_, keys)) => keys.push(b.key.to_string()),
                    None => entries.push((b.cmd, vec![b.key.to_string()])),
                }
            }
            if mode == Mode::Confirm {
                entries.push((Cmd::Cancel, vec!["any other key".to_string()]));
            }
            if mode == Mode::Message {
                entries.push((Cmd::Back, vec!["any key".to_string()]));
            }
            if !entries.is_empty() {
                out.push((
                    mode,
                    entries
                        .into_iter()
                        .map(|(c, k)| (k.join(", "), c.description()))
                        .collect(),
                ));
            }
        }
        out
    }
}

/// Footer text is tight; a shorter word than the help screen's.
fn short_hint(cmd: Cmd) -> &'static str {
    match cmd {
        Cmd::StartFilter => "filter",
        Cmd::StartCommand => "cmd",
        Cmd::ToggleDetail => "detail",
        Cmd::Diff => "diff",
        Cmd::YamlVirtual => "yaml",
        Cmd::YamlHost => "host yaml",
        Cmd::FixAll => "fix all",
        Cmd::ToggleProblems => "problems",
        Cmd::SortNext => "sort",
        Cmd::PageDown => "page",
        Cmd::Up => "up",
        Cmd::Down => "down",
        Cmd::OtherSide => "side",
        Cmd::Confirm => "apply · any other key cancels",
        Cmd::Submit => "ok",
        other => other.description(),
    }
}
