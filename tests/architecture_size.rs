//! Keeps the source tree's shape (issue #15): no file under `src/` has more than
//! [`MAX_LINES_BEFORE_TESTS`] lines before its unit-test module, and no files import each other,
//! directly or around a longer circle.
//!
//! "A imports B" means A's production code (everything but its `#[cfg(test)] mod … { … }` module)
//! names one of B's items through a `crate::…`, `super::…` or `self::…` path, in a `use` or in code,
//! or through a bare path that starts with one of A's own child modules. A path is followed to the
//! file that defines the item, through `pub use` re-exports, so a `mod.rs` that only re-exports its
//! children is a facade, not an importer. Files that are test modules themselves (declared as
//! `#[cfg(test)] mod x;`) are left out of both checks: they are all unit tests. A module file using
//! its own child modules is containment, not an import (the children still import it, and a
//! circle through a file outside the module is found).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

mod source_scan;

use source_scan::{Token, collect_rs_files, is_ident_char, strip_comments_and_strings, tokenize};

/// The most lines a source file may have before its unit tests.
const MAX_LINES_BEFORE_TESTS: usize = 500;

/// Files allowed over [`MAX_LINES_BEFORE_TESTS`] for now, each with the reason (none today): a
/// file that has to grow past it is split by concern instead, or listed here with why it cannot be.
const SIZE_ALLOWED: &[&str] = &[];

/// Import cycles allowed for now, as the sorted set of files in the cycle (none today); any other
/// cycle fails.
const CYCLES_ALLOWED: &[&[&str]] = &[];

#[test]
fn no_source_file_is_over_the_line_limit_before_its_tests() {
    let tree = SourceTree::load();
    let mut too_long: Vec<String> = tree
        .files
        .iter()
        .filter(|file| !file.test_only)
        .filter(|file| file.production_lines > MAX_LINES_BEFORE_TESTS)
        .filter(|file| !SIZE_ALLOWED.contains(&file.relative.as_str()))
        .map(|file| format!("{} ({} lines before its tests)", file.relative, file.production_lines))
        .collect();
    too_long.sort();
    let stale: Vec<&&str> = SIZE_ALLOWED
        .iter()
        .filter(|allowed| {
            !tree.files.iter().any(|f| f.relative == **allowed && f.production_lines > MAX_LINES_BEFORE_TESTS)
        })
        .collect();
    assert!(
        stale.is_empty(),
        "SIZE_ALLOWED lists files that are within the limit now; remove them: {stale:?}"
    );
    assert!(
        too_long.is_empty(),
        "these files have more than {MAX_LINES_BEFORE_TESTS} lines before their #[cfg(test)] module; \
         split them by concern:\n  {}",
        too_long.join("\n  ")
    );
}

#[test]
fn no_files_import_each_other() {
    let tree = SourceTree::load();
    let graph = tree.import_graph();
    let mut cycles: Vec<String> = Vec::new();
    let mut allowed_seen = Vec::new();
    for component in strongly_connected(&graph, tree.files.len()) {
        let mut names: Vec<&str> = component.iter().map(|&i| tree.files[i].relative.as_str()).collect();
        names.sort();
        if CYCLES_ALLOWED.contains(&names.as_slice()) {
            allowed_seen.push(names);
            continue;
        }
        let members: BTreeSet<usize> = component.iter().copied().collect();
        let mut edges = Vec::new();
        for &from in &members {
            for (&to, &line) in &graph[from] {
                if members.contains(&to) {
                    edges.push(format!(
                        "{}:{} imports {}",
                        tree.files[from].relative, line, tree.files[to].relative
                    ));
                }
            }
        }
        cycles.push(format!("{}\n    {}", names.join(" <-> "), edges.join("\n    ")));
    }
    cycles.sort();
    let stale: Vec<&&[&str]> =
        CYCLES_ALLOWED.iter().filter(|allowed| !allowed_seen.iter().any(|seen| seen == **allowed)).collect();
    assert!(
        stale.is_empty(),
        "CYCLES_ALLOWED lists cycles that are gone (or changed); remove or update them: {stale:?}"
    );
    assert!(
        cycles.is_empty(),
        "these files import each other (move the shared items to the file lower in the layering, \
         or pass what is needed in):\n  {}",
        cycles.join("\n  ")
    );
}

/// The checks must be able to fail: a short file cut at its test module, a cycle found through
/// `super::`, `crate::` and a re-export, and a facade re-export that is no import.
#[test]
fn the_checks_see_what_they_are_meant_to_see() {
    let source = "use crate::a::B;\nfn f() {}\n#[cfg(test)]\nmod x;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n";
    assert_eq!(production_lines(source), 4);
    let after_tests = "fn f() {}\n#[cfg(test)]\nmod tests {\n    fn t() { let _ = '}'; }\n}\nfn g() {}\n";
    assert_eq!(production_lines(after_tests), 2, "code after the test module still counts");
    assert_eq!(
        strip_comments_and_strings("let s = \"crate::x\"; // crate::y\n/* crate::z */ '\"'"),
        "let s = \"\"; \n ' '"
    );

    let tree = SourceTree::from_sources(vec![
        ("src/lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
        ("src/a/mod.rs", "mod inner;\npub use inner::Thing;\npub struct Shared;\n"),
        ("src/a/inner.rs", "use super::Shared;\npub struct Thing(Shared);\n"),
        ("src/b.rs", "use crate::a::Thing;\npub fn make() -> Option<Thing> { None }\n"),
        ("src/c.rs", "pub fn helper() {}\nfn g() { crate::b::make(); }\n"),
    ]);
    let graph = tree.import_graph();
    let index = |name: &str| tree.files.iter().position(|f| f.relative == name).unwrap();
    assert!(graph[index("src/b.rs")].contains_key(&index("src/a/inner.rs")), "{graph:?}");
    assert!(graph[index("src/a/inner.rs")].contains_key(&index("src/a/mod.rs")));
    assert!(!graph[index("src/a/mod.rs")].contains_key(&index("src/a/inner.rs")), "a re-export is no import");
    assert!(graph[index("src/c.rs")].contains_key(&index("src/b.rs")), "a path in code counts");
    assert!(strongly_connected(&graph, tree.files.len()).is_empty());

    let cyclic = SourceTree::from_sources(vec![
        ("src/lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
        ("src/a.rs", "use crate::{b::{self, Two}};\npub struct One;\n"),
        ("src/b.rs", "pub struct Two;\nfn f() { super::c::three(); }\n"),
        ("src/c.rs", "pub fn three() { let _ = crate::a::One; }\n"),
    ]);
    let components = strongly_connected(&cyclic.import_graph(), cyclic.files.len());
    assert_eq!(components.len(), 1, "a three-file circle is one cycle");
    assert_eq!(components[0].len(), 3);
}

/// One `.rs` file under `src/`.
struct SourceFile {
    /// Path from the crate root, with `/` separators, e.g. `src/config/raw.rs`.
    relative: String,
    /// Module path inside the library, e.g. `["config", "raw"]`; `None` for `main.rs`.
    module: Option<Vec<String>>,
    /// Lines outside its inline test modules: with the tests at the end, the lines before them.
    production_lines: usize,
    /// Production code with comments, string contents and test modules blanked, lines kept.
    code: String,
    /// Declared `#[cfg(test)] mod x;` in its parent: a test module in a file of its own.
    test_only: bool,
}

struct SourceTree {
    files: Vec<SourceFile>,
    by_module: HashMap<Vec<String>, usize>,
    /// Per file: the item names it defines.
    defined: Vec<BTreeSet<String>>,
    /// Per file: `pub use` re-exports, name -> absolute path of the original.
    reexports: Vec<BTreeMap<String, Vec<String>>>,
    /// Per file: absolute module paths of `pub use path::*`.
    glob_reexports: Vec<Vec<Vec<String>>>,
}

impl SourceTree {
    fn load() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut paths = Vec::new();
        collect_rs_files(&root.join("src"), &mut paths);
        let sources: Vec<(String, String)> = paths
            .iter()
            .map(|path| {
                let relative = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
                let text =
                    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                (relative, text)
            })
            .collect();
        Self::build(sources)
    }

    fn from_sources(sources: Vec<(&str, &str)>) -> Self {
        Self::build(sources.into_iter().map(|(p, t)| (p.to_string(), t.to_string())).collect())
    }

    fn build(sources: Vec<(String, String)>) -> Self {
        let mut files: Vec<SourceFile> = sources
            .iter()
            .map(|(relative, text)| {
                let (code, lines) = production_code(text);
                SourceFile {
                    relative: relative.clone(),
                    module: module_path(relative),
                    production_lines: lines,
                    code,
                    test_only: false,
                }
            })
            .collect();
        let by_module: HashMap<Vec<String>, usize> = files
            .iter()
            .enumerate()
            .filter_map(|(i, file)| file.module.clone().map(|module| (module, i)))
            .collect();
        let test_children: Vec<Vec<String>> = files
            .iter()
            .filter_map(|file| file.module.as_ref().map(|m| (m, &file.code)))
            .flat_map(|(module, code)| {
                test_module_declarations(code).into_iter().map(move |child| {
                    let mut path = module.clone();
                    path.push(child);
                    path
                })
            })
            .collect();
        for path in test_children {
            if let Some(&i) = by_module.get(&path) {
                files[i].test_only = true;
            }
        }
        let mut tree = SourceTree {
            defined: files.iter().map(|file| defined_items(&file.code)).collect(),
            reexports: vec![BTreeMap::new(); files.len()],
            glob_reexports: vec![Vec::new(); files.len()],
            files,
            by_module,
        };
        for i in 0..tree.files.len() {
            let Some(module) = tree.files[i].module.clone() else { continue };
            for statement in use_statements(&tree.files[i].code).into_iter().filter(|s| s.public) {
                for path in statement.paths {
                    let Some(absolute) = tree.absolute(&module, &path) else { continue };
                    match path.last().map(String::as_str) {
                        Some("*") => tree.glob_reexports[i].push(absolute[..absolute.len() - 1].to_vec()),
                        Some(last) => {
                            let name =
                                statement.aliases.get(&path).cloned().unwrap_or_else(|| last.to_string());
                            tree.reexports[i].insert(name, absolute);
                        }
                        None => {}
                    }
                }
            }
        }
        tree
    }

    /// For every file, the files it imports, each with the first line that does.
    fn import_graph(&self) -> Vec<BTreeMap<usize, usize>> {
        let mut graph = vec![BTreeMap::new(); self.files.len()];
        for (i, file) in self.files.iter().enumerate() {
            let Some(module) = &file.module else { continue };
            if file.test_only {
                continue;
            }
            for (line, path) in path_references(&file.code, &self.child_modules(module)) {
                let Some(absolute) = self.absolute(module, &path) else { continue };
                if let Some(target) = self.defining_file(&absolute, 0)
                    && target != i
                    && !self.files[target].test_only
                    && !self.is_descendant(target, module)
                {
                    graph[i].entry(target).or_insert(line);
                }
            }
        }
        graph
    }

    /// Is `file` inside `module` (a child module's file, or deeper)? A module file using its own
    /// children is containment, not an import.
    fn is_descendant(&self, file: usize, module: &[String]) -> bool {
        self.files[file].module.as_ref().is_some_and(|m| m.len() > module.len() && m.starts_with(module))
    }

    fn child_modules(&self, module: &[String]) -> BTreeSet<String> {
        self.by_module
            .keys()
            .filter(|path| path.len() == module.len() + 1 && path.starts_with(module))
            .map(|path| path[module.len()].clone())
            .collect()
    }

    /// `path` as seen from `module`, made absolute from the crate root; `None` for other crates.
    fn absolute(&self, module: &[String], path: &[String]) -> Option<Vec<String>> {
        let mut base: Vec<String> = module.to_vec();
        let mut rest = path;
        match path.first()?.as_str() {
            "crate" => {
                base.clear();
                rest = &path[1..];
            }
            "self" => rest = &path[1..],
            "super" => {
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
            }
            first => {
                let mut child = module.to_vec();
                child.push(first.to_string());
                if !self.by_module.contains_key(&child) {
                    return None;
                }
            }
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// The file that defines what the absolute `path` names, following re-exports.
    fn defining_file(&self, path: &[String], depth: usize) -> Option<usize> {
        if depth > 16 {
            return None;
        }
        let mut module: Vec<String> = Vec::new();
        let mut file = *self.by_module.get(&module)?;
        for segment in path {
            let mut child = module.clone();
            child.push(segment.clone());
            if let Some(&child_file) = self.by_module.get(&child) {
                module = child;
                file = child_file;
                continue;
            }
            if segment == "*" || self.defined[file].contains(segment) {
                return Some(file);
            }
            if let Some(original) = self.reexports[file].get(segment) {
                return self.defining_file(original, depth + 1).or(Some(file));
            }
            for glob in &self.glob_reexports[file] {
                let mut candidate = glob.clone();
                candidate.push(segment.clone());
                if let Some(found) = self.defining_file(&candidate, depth + 1)
                    && self.files[found].module.as_deref() != Some(glob.as_slice())
                {
                    return Some(found);
                }
            }
            return Some(file);
        }
        Some(file)
    }
}

/// `src/lib.rs` -> `[]`, `src/a/mod.rs` and `src/a.rs` -> `["a"]`, `src/a/b.rs` -> `["a", "b"]`;
/// `None` for `src/main.rs`, the binary's own crate.
fn module_path(relative: &str) -> Option<Vec<String>> {
    let inside = relative.strip_prefix("src/")?.strip_suffix(".rs")?;
    if inside == "main" {
        return None;
    }
    let mut segments: Vec<String> = inside.split('/').map(str::to_string).collect();
    if matches!(segments.last().map(String::as_str), Some("mod" | "lib")) {
        segments.pop();
    }
    Some(segments)
}

/// The code of a file without its inline test modules (`#[cfg(test)] mod tests { … }`, from the
/// attribute to the closing brace), with comments and strings blanked, and how many lines are
/// left. Test modules' lines are blanked, not removed, so line numbers stay true; a
/// `#[cfg(test)] mod x;` declaration or a test-only helper is production code and counts.
fn production_code(text: &str) -> (String, usize) {
    let code = strip_comments_and_strings(text);
    let mut lines: Vec<String> = code.lines().map(str::to_string).collect();
    let mut test_lines = 0;
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "#[cfg(test)]" {
            i += 1;
            continue;
        }
        let Some(item) = (i + 1..lines.len()).find(|&j| {
            let line = lines[j].trim();
            !line.is_empty() && !line.starts_with("#[")
        }) else {
            break;
        };
        let declaration = lines[item].trim().trim_start_matches("pub(crate) ").trim_start_matches("pub ");
        if !(declaration.starts_with("mod ") && declaration.ends_with('{')) {
            i += 1;
            continue;
        }
        let mut depth = 0i64;
        let mut end = lines.len() - 1;
        'scan: for (j, line) in lines.iter().enumerate().skip(item) {
            for c in line.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = j;
                            break 'scan;
                        }
                    }
                    _ => {}
                }
            }
        }
        for line in &mut lines[i..=end] {
            line.clear();
        }
        test_lines += end + 1 - i;
        i = end + 1;
    }
    let count = lines.len() - test_lines;
    (lines.join("\n"), count)
}

/// Lines of `text` that are not in an inline test module.
fn production_lines(text: &str) -> usize {
    production_code(text).1
}

/// Names of child modules declared `#[cfg(test)] mod x;` (files of their own).
fn test_module_declarations(code: &str) -> Vec<String> {
    let lines: Vec<&str> = code.lines().map(str::trim).collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let declaration = line.trim_start_matches("pub(crate) ").trim_start_matches("pub ");
        let Some(name) = declaration.strip_prefix("mod ").and_then(|rest| rest.strip_suffix(';')) else {
            continue;
        };
        let attributes = lines[..i].iter().rev().take_while(|l| l.starts_with("#["));
        if attributes.into_iter().any(|l| l.contains("cfg(test)")) {
            found.push(name.trim().to_string());
        }
    }
    found
}

/// One `use` item: the paths it brings in (braces expanded), and whether it re-exports.
struct UseStatement {
    public: bool,
    paths: Vec<Vec<String>>,
    /// Path -> the `as` name it is brought in under.
    aliases: HashMap<Vec<String>, String>,
}

fn use_statements(code: &str) -> Vec<UseStatement> {
    let tokens = tokenize(code);
    let mut statements = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if token.text != "use" || !starts_item(&tokens, i) {
            continue;
        }
        let public = i > 0
            && (tokens[i - 1].text == "pub" || (tokens[i - 1].text == ")" && visibility_before(&tokens, i)));
        let mut aliases = HashMap::new();
        let mut paths = Vec::new();
        let mut position = i + 1;
        parse_tree(&tokens, &mut position, Vec::new(), &mut paths, &mut aliases);
        statements.push(UseStatement { public, paths: paths.into_iter().map(|(_, p)| p).collect(), aliases });
    }
    statements
}

/// Is the `use` at `i` the start of an item (not e.g. part of an identifier)?
fn starts_item(tokens: &[Token], i: usize) -> bool {
    i == 0 || matches!(tokens[i - 1].text.as_str(), ";" | "}" | "{" | "pub" | ")" | "]")
}

/// `pub(crate) use`, `pub(super) use`, `pub(in path) use`.
fn visibility_before(tokens: &[Token], use_index: usize) -> bool {
    let open = tokens[..use_index].iter().rposition(|t| t.text == "(");
    open.is_some_and(|open| open > 0 && tokens[open - 1].text == "pub")
}

/// Every path in the code that starts with `crate`, `super`, `self` or one of `children`, with its
/// line: `use` trees expanded, and paths written in expressions and types.
fn path_references(code: &str, children: &BTreeSet<String>) -> Vec<(usize, Vec<String>)> {
    let tokens = tokenize(code);
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        let after_path_separator = i > 0 && tokens[i - 1].text == "::";
        let is_root =
            matches!(token.text.as_str(), "crate" | "super" | "self") || children.contains(&token.text);
        let in_use_public = token.text == "use" && starts_item(&tokens, i);
        if in_use_public
            && i > 0
            && (tokens[i - 1].text == "pub" || (tokens[i - 1].text == ")" && visibility_before(&tokens, i)))
        {
            // A re-export: a facade, not an import. Skip the whole tree.
            while i < tokens.len() && tokens[i].text != ";" {
                i += 1;
            }
            continue;
        }
        if token.text == "use" && starts_item(&tokens, i) {
            let mut position = i + 1;
            let mut paths = Vec::new();
            parse_tree(&tokens, &mut position, Vec::new(), &mut paths, &mut HashMap::new());
            found.extend(paths);
            i = position.max(i + 1);
            continue;
        }
        if is_root && !after_path_separator && tokens.get(i + 1).is_some_and(|t| t.text == "::") {
            let mut position = i;
            let mut paths = Vec::new();
            parse_tree(&tokens, &mut position, Vec::new(), &mut paths, &mut HashMap::new());
            found.extend(paths);
            i = position.max(i + 1);
            continue;
        }
        i += 1;
    }
    found
}

/// Parses one use tree at `position` (`a::b::{c, d::*, e as f}`), adding each leaf path with the
/// line it starts on.
fn parse_tree(
    tokens: &[Token],
    position: &mut usize,
    prefix: Vec<String>,
    out: &mut Vec<(usize, Vec<String>)>,
    aliases: &mut HashMap<Vec<String>, String>,
) {
    let mut path = prefix;
    let line = tokens.get(*position).map_or(0, |t| t.line);
    if tokens.get(*position).is_some_and(|t| t.text == "::") {
        *position += 1;
    }
    while let Some(token) = tokens.get(*position) {
        match token.text.as_str() {
            "{" => {
                *position += 1;
                loop {
                    match tokens.get(*position).map(|t| t.text.as_str()) {
                        None => return,
                        Some("}") => {
                            *position += 1;
                            return;
                        }
                        Some(",") => *position += 1,
                        Some("self") => {
                            out.push((tokens[*position].line, path.clone()));
                            *position += 1;
                        }
                        Some(_) => parse_tree(tokens, position, path.clone(), out, aliases),
                    }
                }
            }
            "*" => {
                path.push("*".to_string());
                *position += 1;
                break;
            }
            text if is_ident_char(text.chars().next()) => {
                path.push(text.to_string());
                *position += 1;
                if tokens.get(*position).is_some_and(|t| t.text == "::") {
                    *position += 1;
                    continue;
                }
                if tokens.get(*position).is_some_and(|t| t.text == "as")
                    && let Some(alias) = tokens.get(*position + 1)
                {
                    aliases.insert(path.clone(), alias.text.clone());
                    *position += 2;
                }
                break;
            }
            _ => break,
        }
    }
    if !path.is_empty() {
        out.push((line, path));
    }
}

/// Names the code defines at any depth: functions, types, traits, constants, statics, macros and
/// inline modules. (Methods are included; harmless, as paths name items, not methods.)
fn defined_items(code: &str) -> BTreeSet<String> {
    let tokens = tokenize(code);
    let mut names = BTreeSet::new();
    for window in tokens.windows(2) {
        let keyword = window[0].text.as_str();
        if matches!(
            keyword,
            "fn" | "struct"
                | "enum"
                | "trait"
                | "type"
                | "const"
                | "static"
                | "union"
                | "mod"
                | "macro_rules"
        ) && is_ident_char(window[1].text.chars().next())
        {
            names.insert(window[1].text.clone());
        }
    }
    for window in tokens.windows(3) {
        if window[0].text == "macro_rules" && window[1].text == "!" {
            names.insert(window[2].text.clone());
        }
    }
    names
}

/// Tarjan's strongly connected components with more than one file (each is one or more cycles).
fn strongly_connected(graph: &[BTreeMap<usize, usize>], count: usize) -> Vec<Vec<usize>> {
    struct State<'a> {
        graph: &'a [BTreeMap<usize, usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        found: Vec<Vec<usize>>,
    }
    fn visit(state: &mut State, node: usize) {
        state.index[node] = Some(state.next);
        state.low[node] = state.next;
        state.next += 1;
        state.stack.push(node);
        state.on_stack[node] = true;
        let targets: Vec<usize> = state.graph[node].keys().copied().collect();
        for target in targets {
            match state.index[target] {
                None => {
                    visit(state, target);
                    state.low[node] = state.low[node].min(state.low[target]);
                }
                Some(index) if state.on_stack[target] => state.low[node] = state.low[node].min(index),
                Some(_) => {}
            }
        }
        if Some(state.low[node]) == state.index[node] {
            let mut component = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack[member] = false;
                component.push(member);
                if member == node {
                    break;
                }
            }
            if component.len() > 1 {
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: vec![None; count],
        low: vec![0; count],
        on_stack: vec![false; count],
        stack: Vec::new(),
        next: 0,
        found: Vec::new(),
    };
    for node in 0..count {
        if state.index[node].is_none() {
            visit(&mut state, node);
        }
    }
    state.found
}
