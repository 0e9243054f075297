//! Fitting text into cells: wrapping long SQL and error chains for the popups (done before
//! rendering, so the popups know their exact line count and can clamp scrolling), and shortening
//! values that must stay on one line.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Display width of `text` in terminal cells.
pub(super) fn width(text: &str) -> usize {
    text.width()
}

/// Breaks `text` into lines of at most `max` cells: at its own newlines, then between words,
/// splitting words longer than a line. Leading indentation of a source line is kept on its
/// continuation lines, so wrapped SQL stays readable.
pub(super) fn wrap(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut lines = Vec::new();
    for source_line in text.lines() {
        wrap_line(source_line.trim_end(), max, &mut lines);
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

fn wrap_line(line: &str, max: usize, out: &mut Vec<String>) {
    let indent_len = line.len() - line.trim_start().len();
    let indent = &line[..indent_len];
    let indent = if width(indent) * 2 > max { "" } else { indent };
    let mut current = indent.to_owned();
    let mut current_width = width(indent);
    let start_width = current_width;
    for word in line.trim_start().split(' ').filter(|w| !w.is_empty()) {
        let word_width = width(word);
        let gap = usize::from(current_width > start_width);
        if current_width + gap + word_width <= max {
            if gap == 1 {
                current.push(' ');
            }
            current.push_str(word);
            current_width += gap + word_width;
            continue;
        }
        if current_width > start_width {
            out.push(std::mem::replace(&mut current, indent.to_owned()));
            current_width = start_width;
        }
        for ch in word.chars() {
            let ch_width = ch.width().unwrap_or(0);
            if current_width + ch_width > max && current_width > start_width {
                out.push(std::mem::replace(&mut current, indent.to_owned()));
                current_width = start_width;
            }
            current.push(ch);
            current_width += ch_width;
        }
    }
    out.push(current);
}

/// `text` cut to `max` cells, ending in `…` when something was cut.
pub(super) fn ellipsize(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in text.chars() {
        let w = ch.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        out.push(ch);
        used += w;
    }
    out.push('…');
    out
}

/// `text` cut in the middle to `max` cells: keeps both the start and the distinctive end of an
/// ARN or a path (`arn:aws:dynamodb:…/export/0173-ab12`).
pub(super) fn ellipsize_middle(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    if max < 3 {
        return ellipsize(text, max);
    }
    let tail_budget = (max - 1) / 2 + (max - 1) % 2;
    let head_budget = max - 1 - tail_budget;
    let head = take_width(text.chars(), head_budget);
    let mut tail: Vec<char> = take_width(text.chars().rev(), tail_budget).chars().collect();
    tail.reverse();
    format!("{head}…{}", tail.into_iter().collect::<String>())
}

fn take_width(chars: impl Iterator<Item = char>, max: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for ch in chars {
        let w = ch.width().unwrap_or(0);
        if used + w > max {
            break;
        }
        out.push(ch);
        used += w;
    }
    out
}

/// The first line of `text`, for one-line cells (a multi-line error shows its first line).
pub(super) fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_between_words() {
        assert_eq!(wrap("select a, b from t where x = 1", 12), ["select a, b", "from t where", "x = 1"]);
    }

    #[test]
    fn keeps_newlines_and_indentation() {
        let sql = "MERGE INTO t\n    USING stage s ON s.k = t.k";
        assert_eq!(wrap(sql, 20), ["MERGE INTO t", "    USING stage s ON", "    s.k = t.k"]);
    }

    #[test]
    fn splits_words_longer_than_a_line() {
        assert_eq!(wrap("arn:aws:dynamodb:us-east-1", 10), ["arn:aws:dy", "namodb:us-", "east-1"]);
    }

    #[test]
    fn empty_text_is_one_empty_line() {
        assert_eq!(wrap("", 10), [""]);
    }

    #[test]
    fn no_line_is_wider_than_asked() {
        let text = "a failed statement: UNIQUE constraint failed: orders.order_id (row 12) — see the log";
        for max in 5..40 {
            assert!(wrap(text, max).iter().all(|l| width(l) <= max), "width {max}");
        }
    }

    #[test]
    fn ellipsis_marks_a_cut() {
        assert_eq!(ellipsize("committed", 20), "committed");
        assert_eq!(ellipsize("committed", 6), "commi…");
        assert_eq!(ellipsize("x", 0), "");
    }

    #[test]
    fn middle_ellipsis_keeps_both_ends() {
        let arn = "arn:aws:dynamodb:us-east-1:123:table/orders/export/01732-ab12";
        let short = ellipsize_middle(arn, 21);
        assert_eq!(width(&short), 21);
        assert!(short.starts_with("arn:aws:d"));
        assert!(short.ends_with("1732-ab12"));
        assert_eq!(ellipsize_middle("short", 10), "short");
    }

    #[test]
    fn first_line_of_multiline_text() {
        assert_eq!(first_line("one\ntwo"), "one");
        assert_eq!(first_line(""), "");
    }
}
