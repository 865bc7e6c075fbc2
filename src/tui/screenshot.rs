//! Screenshots: a rendered ratatui [`Buffer`] as an SVG of monospace text cells, in the colours
//! the theme gave each cell. Pure, so the pictures in `screenshots/` are produced by the same
//! code as the terminal and a test can tell when they are stale.

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use std::fmt::Write as _;

/// Cell size in SVG pixels: a 14 px monospace font is about 8.4 px wide and 17 px tall.
const CELL_W: f32 = 8.4;
const CELL_H: f32 = 17.0;
const FONT_SIZE: f32 = 14.0;

/// The colours a terminal uses for cells whose colour is `Reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    pub fg: (u8, u8, u8),
    pub bg: (u8, u8, u8),
}

impl Default for Palette {
    /// A dark terminal (the dark theme leaves the base colours to the terminal).
    fn default() -> Self {
        Palette {
            fg: (0xc0, 0xca, 0xf5),
            bg: (0x1a, 0x1b, 0x26),
        }
    }
}

/// The xterm colours of the 16 named ANSI colours, as most terminals show them.
fn ansi16(i: u8) -> (u8, u8, u8) {
    const T: [(u8, u8, u8); 16] = [
        (0x00, 0x00, 0x00),
        (0xcd, 0x00, 0x00),
        (0x00, 0xcd, 0x00),
        (0xcd, 0xcd, 0x00),
        (0x00, 0x00, 0xee),
        (0xcd, 0x00, 0xcd),
        (0x00, 0xcd, 0xcd),
        (0xe5, 0xe5, 0xe5),
        (0x7f, 0x7f, 0x7f),
        (0xff, 0x00, 0x00),
        (0x00, 0xff, 0x00),
        (0xff, 0xff, 0x00),
        (0x5c, 0x5c, 0xff),
        (0xff, 0x00, 0xff),
        (0x00, 0xff, 0xff),
        (0xff, 0xff, 0xff),
    ];
    T[usize::from(i % 16)]
}

/// The xterm 256-colour palette.
fn indexed(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => ansi16(i),
        16..=231 => {
            let n = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            (level(n / 36), level((n / 6) % 6), level(n % 6))
        }
        _ => {
            let v = 8 + (i - 232) * 10;
            (v, v, v)
        }
    }
}

/// RGB of a ratatui colour; `None` for `Reset` (the terminal's default).
pub fn rgb(c: Color) -> Option<(u8, u8, u8)> {
    Some(match c {
        Color::Reset => return None,
        Color::Black => ansi16(0),
        Color::Red => ansi16(1),
        Color::Green => ansi16(2),
        Color::Yellow => ansi16(3),
        Color::Blue => ansi16(4),
        Color::Magenta => ansi16(5),
        Color::Cyan => ansi16(6),
        Color::Gray => ansi16(7),
        Color::DarkGray => ansi16(8),
        Color::LightRed => ansi16(9),
        Color::LightGreen => ansi16(10),
        Color::LightYellow => ansi16(11),
        Color::LightBlue => ansi16(12),
        Color::LightMagenta => ansi16(13),
        Color::LightCyan => ansi16(14),
        Color::White => ansi16(15),
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Indexed(i) => indexed(i),
    })
}

fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn escape(s: &str, out: &mut String) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Control characters are not allowed in XML; a terminal shows nothing for them.
            c if (c as u32) < 0x20 => out.push(' '),
            c => out.push(c),
        }
    }
}

/// How one cell is drawn, after `REVERSED` is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Look {
    fg: (u8, u8, u8),
    bg: (u8, u8, u8),
    bold: bool,
    italic: bool,
    underline: bool,
    dim: bool,
}

fn look(cell: &ratatui::buffer::Cell, palette: &Palette) -> Look {
    let mut fg = rgb(cell.fg).unwrap_or(palette.fg);
    let mut bg = rgb(cell.bg).unwrap_or(palette.bg);
    if cell.modifier.contains(Modifier::REVERSED) {
        std::mem::swap(&mut fg, &mut bg);
    }
    Look {
        fg,
        bg,
        bold: cell.modifier.contains(Modifier::BOLD),
        italic: cell.modifier.contains(Modifier::ITALIC),
        underline: cell.modifier.contains(Modifier::UNDERLINED),
        dim: cell.modifier.contains(Modifier::DIM),
    }
}

/// The buffer as a standalone SVG document. Same buffer, same bytes.
pub fn buffer_to_svg(buf: &Buffer, palette: &Palette) -> String {
    let area = buf.area;
    let width = f32::from(area.width) * CELL_W;
    let height = f32::from(area.height) * CELL_H;
    let mut out = String::with_capacity(usize::from(area.width) * usize::from(area.height) * 8);
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.1}\" height=\"{height:.1}\" viewBox=\"0 0 {width:.1} {height:.1}\" font-family=\"'DejaVu Sans Mono','Menlo','Consolas',monospace\" font-size=\"{FONT_SIZE}\">"
    );
    let _ = writeln!(
        out,
        "<rect width=\"100%\" height=\"100%\" fill=\"{}\"/>",
        hex(palette.bg)
    );
    for y in 0..area.height {
        let row_y = f32::from(y) * CELL_H;
        let cells: Vec<(u16, Look, &str)> = (0..area.width)
            .filter_map(|x| {
                let cell = buf.cell((area.x + x, area.y + y))?;
                Some((x, look(cell, palette), cell.symbol()))
            })
            .collect();
        // Backgrounds: one rect per run of equal colour that differs from the page.
        let mut x0 = 0usize;
        while x0 < cells.len() {
            let bg = cells[x0].1.bg;
            let mut x1 = x0 + 1;
            while x1 < cells.len() && cells[x1].1.bg == bg {
                x1 += 1;
            }
            if bg != palette.bg {
                let _ = writeln!(
                    out,
                    "<rect x=\"{:.1}\" y=\"{row_y:.1}\" width=\"{:.1}\" height=\"{CELL_H:.1}\" fill=\"{}\"/>",
                    f32::from(cells[x0].0) * CELL_W,
                    (x1 - x0) as f32 * CELL_W,
                    hex(bg)
                );
            }
            x0 = x1;
        }
        // Text: one element per run of equal look; each run is stretched to its cells so the
        // columns line up whatever monospace font the viewer has.
        let mut x0 = 0usize;
        while x0 < cells.len() {
            let l = &cells[x0].1;
            let mut x1 = x0 + 1;
            while x1 < cells.len() && cells[x1].1 == *l {
                x1 += 1;
            }
            let text: String = cells[x0..x1].iter().map(|c| c.2).collect();
            if !text.trim().is_empty() {
                let cols = x1 - x0;
                let _ = write!(
                    out,
                    "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{}\" textLength=\"{:.1}\" lengthAdjust=\"spacingAndGlyphs\" xml:space=\"preserve\"",
                    f32::from(cells[x0].0) * CELL_W,
                    row_y + CELL_H * 0.78,
                    hex(l.fg),
                    cols as f32 * CELL_W
                );
                if l.bold {
                    out.push_str(" font-weight=\"bold\"");
                }
                if l.italic {
                    out.push_str(" font-style=\"italic\"");
                }
                if l.underline {
                    out.push_str(" text-decoration=\"underline\"");
                }
                if l.dim {
                    out.push_str(" opacity=\"0.6\"");
                }
                out.push('>');
                escape(&text, &mut out);
                out.push_str("</text>\n");
            }
            x0 = x1;
        }
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    #[test]
    fn cells_become_text_and_rects_in_their_colours() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 2));
        buf.set_string(0, 0, "ok <a&b>", Style::default().fg(Color::Rgb(1, 2, 3)));
        buf.set_string(
            0,
            1,
            "bad",
            Style::default()
                .fg(Color::Red)
                .bg(Color::Indexed(17))
                .add_modifier(Modifier::BOLD),
        );
        let svg = buffer_to_svg(&buf, &Palette::default());
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.contains(">ok &lt;a&amp;b&gt;</text>"), "{svg}");
        assert!(svg.contains("fill=\"#010203\""), "{svg}");
        assert!(
            svg.contains("fill=\"#cd0000\" textLength=\"25.2\""),
            "{svg}"
        );
        assert!(svg.contains("font-weight=\"bold\""), "{svg}");
        assert!(
            svg.contains("<rect x=\"0.0\" y=\"17.0\" width=\"25.2\""),
            "{svg}"
        );
        assert!(svg.contains("fill=\"#00005f\""), "indexed 17: {svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(
            svg,
            buffer_to_svg(&buf, &Palette::default()),
            "deterministic"
        );
    }

    #[test]
    fn reversed_swaps_and_reset_uses_the_palette() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 3, 1));
        buf.set_string(0, 0, "x", Style::default().add_modifier(Modifier::REVERSED));
        let p = Palette {
            fg: (1, 1, 1),
            bg: (2, 2, 2),
        };
        let svg = buffer_to_svg(&buf, &p);
        assert!(
            svg.contains(
                "<rect x=\"0.0\" y=\"0.0\" width=\"8.4\" height=\"17.0\" fill=\"#010101\"/>"
            ),
            "{svg}"
        );
        assert!(svg.contains("fill=\"#020202\""), "{svg}");
    }

    #[test]
    fn control_characters_do_not_break_the_xml() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 3, 1));
        buf.set_string(0, 0, "a", Style::default());
        if let Some(c) = buf.cell_mut((1, 0)) {
            c.set_symbol("\u{7}");
        }
        let svg = buffer_to_svg(&buf, &Palette::default());
        assert!(!svg.contains('\u{7}'));
    }
}
