//! Attribute paths: which (possibly nested) attribute a column reads.
//!
//! Written as a dotted string (`detail.total`) where a segment may be double-quoted to hold dots
//! (`meta."a.b"`), or as a TOML array of segments (`["meta", "a.b"]`). Names with dashes and
//! spaces need no quoting. A segment `[n]` indexes a list.

use std::fmt;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    /// A map key / top-level attribute name.
    Name(String),
    /// A list index.
    Index(usize),
}

/// A parsed attribute path, never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath(Vec<PathSegment>);

impl AttrPath {
    /// A path from explicit segments (the TOML array form); every element is a name.
    pub fn from_names<I: IntoIterator<Item = String>>(names: I) -> Result<AttrPath, String> {
        let segments: Vec<PathSegment> = names.into_iter().map(PathSegment::Name).collect();
        if segments.is_empty() {
            return Err("an attribute path needs at least one name".into());
        }
        if segments.iter().any(|s| matches!(s, PathSegment::Name(n) if n.is_empty())) {
            return Err("attribute names in a path cannot be empty".into());
        }
        Ok(AttrPath(segments))
    }

    /// Parses the dotted string form.
    pub fn parse(text: &str) -> Result<AttrPath, String> {
        let mut segments = Vec::new();
        let mut chars = text.chars().peekable();
        let mut current = String::new();
        let mut quoted_segment = false;
        loop {
            match chars.next() {
                None => {
                    push_name(&mut segments, &mut current, quoted_segment, text)?;
                    break;
                }
                Some('.') => {
                    push_name(&mut segments, &mut current, quoted_segment, text)?;
                    quoted_segment = false;
                }
                Some('"') if current.is_empty() && !quoted_segment => {
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some(c) => current.push(c),
                            None => return Err(format!("`{text}`: a quoted name is not closed")),
                        }
                    }
                    quoted_segment = true;
                    if !matches!(chars.peek(), None | Some('.') | Some('[')) {
                        return Err(format!("`{text}`: a quoted name must be followed by `.` or the end"));
                    }
                }
                Some('[') => {
                    push_name(&mut segments, &mut current, quoted_segment, text)?;
                    quoted_segment = false;
                    let mut digits = String::new();
                    loop {
                        match chars.next() {
                            Some(']') => break,
                            Some(c) if c.is_ascii_digit() => digits.push(c),
                            _ => return Err(format!("`{text}`: a list index is written [0], [1]…")),
                        }
                    }
                    let index =
                        digits.parse().map_err(|_| format!("`{text}`: a list index is written [0], [1]…"))?;
                    segments.push(PathSegment::Index(index));
                    if chars.peek() == Some(&'.') {
                        chars.next();
                        if chars.peek().is_none() {
                            return Err(format!("`{text}`: the path ends with `.`"));
                        }
                    }
                }
                Some(c) => current.push(c),
            }
        }
        if segments.is_empty() {
            return Err("an attribute path cannot be empty".into());
        }
        if matches!(segments.first(), Some(PathSegment::Index(_))) {
            return Err(format!("`{text}`: a path starts with an attribute name"));
        }
        Ok(AttrPath(segments))
    }

    pub fn segments(&self) -> &[PathSegment] {
        &self.0
    }

    /// The top-level attribute this path starts at.
    pub fn root(&self) -> &str {
        match &self.0[0] {
            PathSegment::Name(name) => name,
            PathSegment::Index(_) => unreachable!("paths start with a name (checked on parse)"),
        }
    }

    /// The attribute name when the path is a single top-level attribute.
    pub fn as_single(&self) -> Option<&str> {
        match self.0.as_slice() {
            [PathSegment::Name(name)] => Some(name),
            _ => None,
        }
    }
}

fn push_name(
    segments: &mut Vec<PathSegment>,
    current: &mut String,
    quoted: bool,
    text: &str,
) -> Result<(), String> {
    if current.is_empty() && !quoted {
        if segments.last().is_some_and(|s| matches!(s, PathSegment::Index(_))) {
            return Ok(());
        }
        return Err(format!("`{text}`: empty attribute name (two dots, or a leading/trailing dot)"));
    }
    if current.is_empty() {
        return Err(format!("`{text}`: attribute names cannot be empty"));
    }
    segments.push(PathSegment::Name(std::mem::take(current)));
    Ok(())
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Name(name) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if name.contains(['.', '"', '[']) {
                        write!(f, "\"{name}\"")?;
                    } else {
                        f.write_str(name)?;
                    }
                }
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(path: &AttrPath) -> Vec<String> {
        path.segments()
            .iter()
            .map(|s| match s {
                PathSegment::Name(n) => n.clone(),
                PathSegment::Index(i) => format!("[{i}]"),
            })
            .collect()
    }

    #[test]
    fn parses_nested_quoted_and_indexed_paths() {
        assert_eq!(names(&AttrPath::parse("detail.total").unwrap()), ["detail", "total"]);
        assert_eq!(names(&AttrPath::parse(r#"meta."a.b".c"#).unwrap()), ["meta", "a.b", "c"]);
        assert_eq!(names(&AttrPath::parse("gift note").unwrap()), ["gift note"]);
        assert_eq!(names(&AttrPath::parse("x-y.z").unwrap()), ["x-y", "z"]);
        assert_eq!(names(&AttrPath::parse("lines[0].sku").unwrap()), ["lines", "[0]", "sku"]);
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in ["", ".a", "a.", "a..b", r#""open"#, "a[x]", "[0]"] {
            assert!(AttrPath::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["a", "a.b", r#"m."a.b""#, "l[2].x"] {
            assert_eq!(AttrPath::parse(text).unwrap().to_string(), text);
        }
    }
}
