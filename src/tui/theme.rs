//! Themes: semantic slots (what a colour means, not where it goes), loaded from YAML.
//!
//! A theme file names slots (`accent`, `status.drift`, `diff.added`, …); each slot is a style
//! (`{ fg, bg, bold, italic, underline, reversed, dim }`) or a bare colour string meaning `fg`.
//! Slots a file leaves out come from the theme it `extends` (default `dark`), so a user theme can
//! be three lines. Built-in themes are compiled in; `--theme` takes a built-in name or a path.

use crate::inspect::Status;
use ratatui::style::{Color, Modifier, Style};
use std::path::Path;
use std::str::FromStr;

pub const BUILTIN: [(&str, &str); 4] = [
    ("dark", include_str!("../../themes/dark.yaml")),
    ("light", include_str!("../../themes/light.yaml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.yaml"),
    ),
    ("colorblind", include_str!("../../themes/colorblind.yaml")),
];

/// A theme that could not be loaded; names the file and the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThemeError {
    #[error(
        "unknown theme \"{0}\" (built-in: dark, light, high-contrast, colorblind; or a path to a .yaml file)"
    )]
    Unknown(String),
    #[error("theme {origin}: cannot read: {message}")]
    Read { origin: String, message: String },
    #[error("theme {origin}: not valid YAML: {message}")]
    Yaml { origin: String, message: String },
    #[error("theme {origin}: key \"{key}\": {message}")]
    Key {
        origin: String,
        key: String,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusStyles {
    pub synced: Style,
    pub drift: Style,
    pub missing: Style,
    pub orphan: Style,
    pub squatter: Style,
    pub disabled: Style,
    pub waiting: Style,
    pub error: Style,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffStyles {
    pub added: Style,
    pub removed: Style,
    pub context: Style,
    pub gutter: Style,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub name: String,
    /// Text and background of everything not otherwise styled.
    pub base: Style,
    /// Active tab, titles, the context names in the header.
    pub accent: Style,
    /// Secondary text: ages, labels, explanations.
    pub muted: Style,
    pub border: Style,
    /// The header bar.
    pub header: Style,
    /// The table's column titles.
    pub table_header: Style,
    /// The selected row.
    pub selection: Style,
    /// Filter matches inside cells.
    pub matched: Style,
    /// Keys in the footer and help.
    pub key: Style,
    pub dialog: Style,
    pub dialog_border: Style,
    /// The dead-side banner.
    pub banner: Style,
    /// The READ-ONLY badge.
    pub read_only: Style,
    pub toast_info: Style,
    pub toast_error: Style,
    /// An IP that differs between the sides.
    pub mismatch: Style,
    pub status: StatusStyles,
    pub diff: DiffStyles,
}

/// Every slot name a theme file may use, in the order the docs list them.
pub const SLOTS: [&str; 28] = [
    "base",
    "accent",
    "muted",
    "border",
    "header",
    "table_header",
    "selection",
    "matched",
    "key",
    "dialog",
    "dialog_border",
    "banner",
    "read_only",
    "toast.info",
    "toast.error",
    "mismatch",
    "status.synced",
    "status.drift",
    "status.missing",
    "status.orphan",
    "status.squatter",
    "status.disabled",
    "status.waiting",
    "status.error",
    "diff.added",
    "diff.removed",
    "diff.context",
    "diff.gutter",
];

impl Theme {
    fn slot_mut(&mut self, name: &str) -> Option<&mut Style> {
        Some(match name {
            "base" => &mut self.base,
            "accent" => &mut self.accent,
            "muted" => &mut self.muted,
            "border" => &mut self.border,
            "header" => &mut self.header,
            "table_header" => &mut self.table_header,
            "selection" => &mut self.selection,
            "matched" => &mut self.matched,
            "key" => &mut self.key,
            "dialog" => &mut self.dialog,
            "dialog_border" => &mut self.dialog_border,
            "banner" => &mut self.banner,
            "read_only" => &mut self.read_only,
            "toast.info" => &mut self.toast_info,
            "toast.error" => &mut self.toast_error,
            "mismatch" => &mut self.mismatch,
            "status.synced" => &mut self.status.synced,
            "status.drift" => &mut self.status.drift,
            "status.missing" => &mut self.status.missing,
            "status.orphan" => &mut self.status.orphan,
            "status.squatter" => &mut self.status.squatter,
            "status.disabled" => &mut self.status.disabled,
            "status.waiting" => &mut self.status.waiting,
            "status.error" => &mut self.status.error,
            "diff.added" => &mut self.diff.added,
            "diff.removed" => &mut self.diff.removed,
            "diff.context" => &mut self.diff.context,
            "diff.gutter" => &mut self.diff.gutter,
            _ => return None,
        })
    }

    /// The style of a status word.
    pub fn status(&self, status: &Status) -> Style {
        match status {
            Status::Synced => self.status.synced,
            Status::Drift { .. } => self.status.drift,
            Status::Missing => self.status.missing,
            Status::Orphan => self.status.orphan,
            Status::Squatter => self.status.squatter,
            Status::Disabled => self.status.disabled,
            Status::Waiting { .. } => self.status.waiting,
            Status::Error { .. } => self.status.error,
        }
    }

    /// A slot with every colour removed; used for the `NO_COLOR` check in tests.
    fn blank() -> Theme {
        let s = Style::default();
        Theme {
            name: String::new(),
            base: s,
            accent: s,
            muted: s,
            border: s,
            header: s,
            table_header: s,
            selection: s,
            matched: s,
            key: s,
            dialog: s,
            dialog_border: s,
            banner: s,
            read_only: s,
            toast_info: s,
            toast_error: s,
            mismatch: s,
            status: StatusStyles {
                synced: s,
                drift: s,
                missing: s,
                orphan: s,
                squatter: s,
                disabled: s,
                waiting: s,
                error: s,
            },
            diff: DiffStyles {
                added: s,
                removed: s,
                context: s,
                gutter: s,
            },
        }
    }

    /// The default theme.
    pub fn dark() -> Theme {
        Theme::builtin("dark").unwrap_or_else(|_| Theme::monochrome())
    }

    /// A built-in theme by name.
    pub fn builtin(name: &str) -> Result<Theme, ThemeError> {
        let (_, text) = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| ThemeError::Unknown(name.to_string()))?;
        Theme::parse(text, &format!("built-in \"{name}\""))
    }

    /// `--theme NAME|PATH`: a built-in name, else a file path.
    pub fn load(spec: &str) -> Result<Theme, ThemeError> {
        if BUILTIN.iter().any(|(n, _)| *n == spec) {
            return Theme::builtin(spec);
        }
        let path = Path::new(spec);
        let looks_like_path = spec.contains('/') || spec.contains('\\') || spec.ends_with(".yaml");
        if !looks_like_path && !path.exists() {
            return Err(ThemeError::Unknown(spec.to_string()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| ThemeError::Read {
            origin: spec.to_string(),
            message: e.to_string(),
        })?;
        Theme::parse(&text, spec)
    }

    /// Parse a theme file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Theme, ThemeError> {
        let key_err = |key: &str, message: String| ThemeError::Key {
            origin: origin.to_string(),
            key: key.to_string(),
            message,
        };
        let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| ThemeError::Yaml {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        let map = doc
            .as_mapping()
            .ok_or_else(|| key_err("(top)", "expected a mapping of slot names".to_string()))?;
        let string_of = |key: &str| -> Result<Option<String>, ThemeError> {
            match map.get(key) {
                None => Ok(None),
                Some(serde_yaml::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(key_err(key, "expected a string".to_string())),
            }
        };
        let mut theme = match string_of("extends")? {
            None => Theme::blank_or_dark(origin),
            Some(parent) if BUILTIN.iter().any(|(n, _)| *n == parent) && parent != origin => {
                Theme::builtin(&parent)?
            }
            Some(parent) => {
                return Err(key_err(
                    "extends",
                    format!("\"{parent}\" is not a built-in theme"),
                ));
            }
        };
        theme.name = string_of("name")?.unwrap_or_else(|| origin.to_string());

        for (k, v) in map {
            let key = k
                .as_str()
                .ok_or_else(|| key_err("(top)", "keys must be strings".to_string()))?;
            match key {
                "name" | "extends" => {}
                "status" | "diff" | "toast" => {
                    let group = v
                        .as_mapping()
                        .ok_or_else(|| key_err(key, "expected a mapping of slots".to_string()))?;
                    for (gk, gv) in group {
                        let sub = gk.as_str().unwrap_or("?");
                        let full = format!("{key}.{sub}");
                        let style = parse_style(gv, &full).map_err(|m| key_err(&full, m))?;
                        let slot = theme
                            .slot_mut(&full)
                            .ok_or_else(|| key_err(&full, unknown_slot()))?;
                        *slot = style;
                    }
                }
                _ => {
                    let style = parse_style(v, key).map_err(|m| key_err(key, m))?;
                    let slot = theme
                        .slot_mut(key)
                        .ok_or_else(|| key_err(key, unknown_slot()))?;
                    *slot = style;
                }
            }
        }
        Ok(theme)
    }

    /// Built-in files are complete; user files without `extends` start from dark.
    fn blank_or_dark(origin: &str) -> Theme {
        if origin.starts_with("built-in") {
            Theme::blank()
        } else {
            Theme::dark()
        }
    }

    /// No colours at all, only modifiers: what `NO_COLOR` gets.
    pub fn monochrome() -> Theme {
        let mut t = Theme::blank();
        t.name = "monochrome".to_string();
        t.accent = Style::new().add_modifier(Modifier::BOLD);
        t.table_header = Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
        t.selection = Style::new().add_modifier(Modifier::REVERSED);
        t.matched = Style::new().add_modifier(Modifier::UNDERLINED);
        t.key = Style::new().add_modifier(Modifier::BOLD);
        t.header = Style::new().add_modifier(Modifier::BOLD);
        t.banner = Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD);
        t.read_only = Style::new().add_modifier(Modifier::REVERSED);
        t.toast_error = Style::new().add_modifier(Modifier::BOLD);
        t.muted = Style::new().add_modifier(Modifier::DIM);
        t.mismatch = Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
        for st in [
            &mut t.status.drift,
            &mut t.status.missing,
            &mut t.status.orphan,
            &mut t.status.squatter,
            &mut t.status.error,
        ] {
            *st = Style::new().add_modifier(Modifier::BOLD);
        }
        t.diff.added = Style::new().add_modifier(Modifier::BOLD);
        t.diff.removed = Style::new().add_modifier(Modifier::CROSSED_OUT);
        t
    }

    /// Honour `NO_COLOR` (any non-empty value): the monochrome theme replaces any other.
    pub fn honour_no_color(self, no_color: Option<&str>) -> Theme {
        match no_color {
            Some(v) if !v.is_empty() => Theme::monochrome(),
            _ => self,
        }
    }
}

fn unknown_slot() -> String {
    format!("unknown slot (known: {})", SLOTS.join(", "))
}

fn parse_color(v: &serde_yaml::Value, key: &str) -> Result<Color, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("{key}: expected a colour string"))?;
    Color::from_str(s).map_err(|_| {
        format!("\"{s}\" is not a colour (use a name like red or light-blue, #rrggbb, or 0-255)")
    })
}

fn parse_style(v: &serde_yaml::Value, key: &str) -> Result<Style, String> {
    if v.is_string() {
        return parse_color(v, "fg").map(|c| Style::new().fg(c));
    }
    let map = v
        .as_mapping()
        .ok_or_else(|| "expected a colour or a mapping with fg/bg/bold/…".to_string())?;
    let mut style = Style::new();
    for (k, val) in map {
        let field = k.as_str().unwrap_or("?");
        match field {
            "fg" => style = style.fg(parse_color(val, field)?),
            "bg" => style = style.bg(parse_color(val, field)?),
            "bold" | "italic" | "underline" | "reversed" | "dim" => {
                let on = val
                    .as_bool()
                    .ok_or_else(|| format!("{field}: expected true or false"))?;
                let m = match field {
                    "bold" => Modifier::BOLD,
                    "italic" => Modifier::ITALIC,
                    "underline" => Modifier::UNDERLINED,
                    "reversed" => Modifier::REVERSED,
                    _ => Modifier::DIM,
                };
                if on {
                    style = style.add_modifier(m);
                }
            }
            other => {
                return Err(format!(
                    "unknown field \"{other}\" in {key} (use fg, bg, bold, italic, underline, reversed, dim)"
                ));
            }
        }
    }
    Ok(style)
}
