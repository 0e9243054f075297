//! Colours. The console must read on a 24-bit terminal, on a plain 16-colour one (many ops boxes
//! and tmux setups), and with `NO_COLOR` set (https://no-color.org), where meaning is carried by
//! bold / reverse / dim alone. Panes ask for a role (`ok`, `warn`, `bad`…), never a colour.

use ratatui::style::{Color, Modifier, Style};

/// What the terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ColorSupport {
    /// `NO_COLOR` is set: modifiers only.
    Monochrome,
    /// The 16 ANSI colours (the terminal's own palette).
    Ansi16,
    /// `COLORTERM=truecolor|24bit`.
    TrueColor,
}

impl ColorSupport {
    /// Decides from the values of `NO_COLOR` and `COLORTERM`. `NO_COLOR` counts when it is set to
    /// anything non-empty, as the convention says.
    pub(super) fn detect(no_color: Option<&str>, colorterm: Option<&str>) -> ColorSupport {
        if no_color.is_some_and(|v| !v.is_empty()) {
            return ColorSupport::Monochrome;
        }
        match colorterm.map(str::to_ascii_lowercase).as_deref() {
            Some("truecolor" | "24bit") => ColorSupport::TrueColor,
            _ => ColorSupport::Ansi16,
        }
    }

    /// [`ColorSupport::detect`] on this process's environment.
    pub(super) fn from_env() -> ColorSupport {
        let no_color = std::env::var("NO_COLOR").ok();
        let colorterm = std::env::var("COLORTERM").ok();
        ColorSupport::detect(no_color.as_deref(), colorterm.as_deref())
    }
}

/// A role text can have; panes and popups speak in tones, the theme turns them into styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Tone {
    Plain,
    Dim,
    Accent,
    Ok,
    Warn,
    Bad,
    Heading,
    Key,
}

/// Styles by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Theme {
    pub support: ColorSupport,
    /// Secondary text: labels, placeholders.
    pub dim: Style,
    /// Things in progress, titles of focused panes.
    pub accent: Style,
    /// Committed, finished, healthy lag.
    pub ok: Style,
    /// Lag past the warning threshold, warnings.
    pub warn: Style,
    /// Failures, critical lag.
    pub bad: Style,
    /// The selected row of the focused pane (background only, so cell colours stay).
    pub selected: Style,
    /// The selected row of a pane without focus.
    pub selected_unfocused: Style,
    /// Column headers.
    pub header: Style,
    pub border: Style,
    pub border_focused: Style,
    /// Key names in the footer and help.
    pub key: Style,
    /// The filled part of gauges.
    pub gauge: Style,
}

impl Theme {
    pub(super) fn new(support: ColorSupport) -> Theme {
        match support {
            ColorSupport::Monochrome => Theme::monochrome(),
            ColorSupport::Ansi16 => Theme::colored(support, Palette::ANSI16),
            ColorSupport::TrueColor => Theme::colored(support, Palette::TRUE_COLOR),
        }
    }

    pub(super) fn style(&self, tone: Tone) -> Style {
        match tone {
            Tone::Plain => Style::new(),
            Tone::Dim => self.dim,
            Tone::Accent => self.accent,
            Tone::Ok => self.ok,
            Tone::Warn => self.warn,
            Tone::Bad => self.bad,
            Tone::Heading => self.header,
            Tone::Key => self.key,
        }
    }

    /// The theme for this terminal.
    pub(super) fn from_env() -> Theme {
        Theme::new(ColorSupport::from_env())
    }

    fn monochrome() -> Theme {
        let plain = Style::new();
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Theme {
            support: ColorSupport::Monochrome,
            dim: Style::new().add_modifier(Modifier::DIM),
            accent: bold,
            ok: plain,
            warn: bold,
            bad: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            selected_unfocused: Style::new().add_modifier(Modifier::UNDERLINED),
            header: bold,
            border: plain,
            border_focused: bold,
            key: bold,
            gauge: plain,
        }
    }

    fn colored(support: ColorSupport, p: Palette) -> Theme {
        Theme {
            support,
            dim: Style::new().fg(p.dim),
            accent: Style::new().fg(p.accent),
            ok: Style::new().fg(p.ok),
            warn: Style::new().fg(p.warn),
            bad: Style::new().fg(p.bad).add_modifier(Modifier::BOLD),
            // Background only, so a selected row keeps its colours (lag, state).
            selected: Style::new().bg(p.selected_bg).add_modifier(Modifier::BOLD),
            selected_unfocused: Style::new().add_modifier(Modifier::REVERSED | Modifier::DIM),
            header: Style::new().fg(p.accent).add_modifier(Modifier::BOLD),
            border: Style::new().fg(p.dim),
            border_focused: Style::new().fg(p.accent),
            key: Style::new().fg(p.accent).add_modifier(Modifier::BOLD),
            gauge: Style::new().fg(p.ok),
        }
    }
}

/// The colours one palette assigns to the roles.
struct Palette {
    dim: Color,
    accent: Color,
    ok: Color,
    warn: Color,
    bad: Color,
    selected_bg: Color,
}

impl Palette {
    const ANSI16: Palette = Palette {
        dim: Color::DarkGray,
        accent: Color::Cyan,
        ok: Color::Green,
        warn: Color::Yellow,
        bad: Color::Red,
        selected_bg: Color::DarkGray,
    };

    const TRUE_COLOR: Palette = Palette {
        dim: Color::Rgb(128, 134, 148),
        accent: Color::Rgb(97, 175, 239),
        ok: Color::Rgb(152, 195, 121),
        warn: Color::Rgb(229, 192, 123),
        bad: Color::Rgb(224, 108, 117),
        selected_bg: Color::Rgb(52, 61, 74),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_wins_when_set_and_not_empty() {
        assert_eq!(ColorSupport::detect(Some("1"), Some("truecolor")), ColorSupport::Monochrome);
        assert_eq!(ColorSupport::detect(Some(""), Some("truecolor")), ColorSupport::TrueColor);
    }

    #[test]
    fn truecolor_needs_colorterm() {
        assert_eq!(ColorSupport::detect(None, Some("24bit")), ColorSupport::TrueColor);
        assert_eq!(ColorSupport::detect(None, Some("TrueColor")), ColorSupport::TrueColor);
        assert_eq!(ColorSupport::detect(None, Some("yes")), ColorSupport::Ansi16);
        assert_eq!(ColorSupport::detect(None, None), ColorSupport::Ansi16);
    }

    #[test]
    fn monochrome_uses_no_colour_at_all() {
        let t = Theme::new(ColorSupport::Monochrome);
        for style in [t.dim, t.accent, t.ok, t.warn, t.bad, t.selected, t.header, t.border, t.key, t.gauge] {
            assert_eq!(style.fg, None);
            assert_eq!(style.bg, None);
        }
        assert!(t.selected.add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn sixteen_colours_stay_in_the_ansi_palette() {
        let t = Theme::new(ColorSupport::Ansi16);
        for style in [t.dim, t.accent, t.ok, t.warn, t.bad, t.selected, t.header, t.border, t.key, t.gauge] {
            for color in [style.fg, style.bg].into_iter().flatten() {
                assert!(!matches!(color, Color::Rgb(..) | Color::Indexed(_)), "{color:?}");
            }
        }
    }

    #[test]
    fn roles_differ_from_each_other() {
        let t = Theme::new(ColorSupport::TrueColor);
        assert_ne!(t.ok, t.warn);
        assert_ne!(t.warn, t.bad);
        assert!(matches!(t.ok.fg, Some(Color::Rgb(..))));
    }
}
