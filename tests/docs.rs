//! Keeps the documentation honest: the README stays a front page, every link in it and in `docs/`
//! leads somewhere, the console's key table is the generated one, and every `tables.toml` snippet
//! passes the same validation as `dynashift --check`.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every Markdown file under docs/, with their text.
fn documents() -> Vec<(PathBuf, String)> {
    let mut paths = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("a docs/ folder")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths.into_iter().map(|path| (path.clone(), std::fs::read_to_string(&path).unwrap())).collect()
}

/// The fenced code blocks of a Markdown text whose info string starts with `lang`, with the line
/// each starts on.
fn code_blocks(text: &str, lang: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, bool, String)> = None;
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match open.as_mut() {
            None if trimmed.starts_with("```") => {
                let info = trimmed.trim_start_matches('`').trim();
                let wanted = info.split_whitespace().next() == Some(lang);
                open = Some((number + 1, wanted, String::new()));
            }
            None => {}
            Some(_) if trimmed.starts_with("```") => {
                let (start, wanted, body) = open.take().unwrap();
                if wanted {
                    blocks.push((start, body));
                }
            }
            Some((_, _, body)) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    blocks
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to dashes.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors_of(text: &str) -> Vec<String> {
    let mut fence = false;
    let mut anchors = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
        } else if !fence && line.starts_with('#') {
            anchors.push(anchor(line.trim_start_matches('#')));
        }
    }
    anchors
}

#[test]
fn the_readme_is_a_front_page() {
    let size = std::fs::metadata(root().join("README.md")).unwrap().len();
    assert!(size < 12 * 1024, "README.md is {size} bytes: move reference material into docs/");
}

#[test]
fn every_relative_link_leads_to_a_file_and_heading_that_exist() {
    let mut broken = Vec::new();
    for (path, text) in documents() {
        let folder = path.parent().unwrap();
        for (start, _) in text.match_indices("](") {
            let rest = &text[start + 2..];
            let Some(end) = rest.find(')') else { continue };
            let link = &rest[..end];
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (file, fragment) = link.split_once('#').unwrap_or((link, ""));
            let target = if file.is_empty() { path.clone() } else { folder.join(file) };
            if !target.exists() {
                broken.push(format!("{}: {link}: no such file", path.display()));
                continue;
            }
            let is_markdown = target.extension().is_some_and(|ext| ext == "md");
            if !fragment.is_empty() && is_markdown {
                let headings = anchors_of(&std::fs::read_to_string(&target).unwrap());
                if !headings.iter().any(|heading| heading == fragment) {
                    broken.push(format!("{}: {link}: no such heading", path.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_console_docs_carry_the_generated_key_table() {
    // assets/keys.md is itself checked against the keymap by the console's snapshot tests.
    let keys = std::fs::read_to_string(root().join("assets/keys.md")).unwrap();
    let console = std::fs::read_to_string(root().join("docs/console.md")).unwrap();
    assert!(
        console.contains(keys.trim_end()),
        "docs/console.md's key table differs from assets/keys.md: paste the generated table in"
    );
}

/// What a snippet that shows only some sections is completed with before it is validated (each
/// section only where the snippet has none): a table of the exports source in an S3 bucket,
/// which every warehouse accepts.
const COMPLETION: &str = r#"
[defaults]
source = "exports"
bucket = "s3://example-bucket/dynashift/"
region = "eu-north-1"

[[table]]
name = "orders"
key = ["pk"]
"#;

/// The snippet as a whole tables file: its own sections, and the completion's for those it lacks.
/// A snippet of plain keys (`key = …`, `columns = […]`) shows one table's settings: it becomes
/// that table.
fn completed(snippet: &str) -> String {
    let mut document: toml::Table = snippet.parse().expect("a snippet parses as TOML");
    let is_section = |value: &toml::Value| match value {
        toml::Value::Table(_) => true,
        toml::Value::Array(items) => !items.is_empty() && items.iter().all(toml::Value::is_table),
        _ => false,
    };
    if document.values().any(|value| !is_section(value)) {
        document.entry("name").or_insert_with(|| "orders".into());
        document = toml::Table::from_iter([("table".to_owned(), toml::Value::Array(vec![document.into()]))]);
    }
    let completion: toml::Table = COMPLETION.parse().unwrap();
    for (section, value) in completion {
        match (document.get_mut(&section), value) {
            (None, value) => {
                document.insert(section, value);
            }
            // A section the snippet has gets the completion's keys it lacks.
            (Some(toml::Value::Table(own)), toml::Value::Table(completion)) => {
                for (key, value) in completion {
                    own.entry(key).or_insert(value);
                }
            }
            // Tables the snippet shows get a key when they name neither key nor columns.
            (Some(toml::Value::Array(tables)), _) => {
                for table in tables.iter_mut().filter_map(toml::Value::as_table_mut) {
                    if !table.contains_key("key") && !table.contains_key("columns") {
                        table.insert("key".into(), toml::Value::Array(vec!["pk".into()]));
                    }
                }
            }
            _ => {}
        }
    }
    toml::to_string(&document).unwrap()
}

#[test]
fn every_config_snippet_in_the_docs_passes_check() {
    let folder = tempfile::tempdir().unwrap();
    // Files the snippets name (a CA bundle) exist beside the tables file, as they would for a user.
    std::fs::write(folder.path().join("rds-global-bundle.pem"), "").unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, text) in documents() {
        for (line, snippet) in code_blocks(&text, "toml") {
            let tables_file = folder.path().join("tables.toml");
            let whole = completed(&snippet);
            if let Err(error) = dynashift::config::load_str(&whole, &tables_file) {
                failures.push(format!("{}:{line}: {error}\n{whole}", path.display()));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "snippets that fail --check:\n{}", failures.join("\n\n"));
    assert!(checked >= 3, "only {checked} toml snippets found: did the fences change?");
}

#[test]
fn the_shipped_example_configs_pass_check() {
    for name in ["tables.toml", "assets/tables.aws.example.toml"] {
        let path: &Path = &root().join(name);
        dynashift::config::load(path).unwrap_or_else(|error| panic!("{name}: {error}"));
    }
}

/// The first ```text block of a Markdown file.
fn first_text_block(path: &str) -> String {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    code_blocks(&text, "text").into_iter().next().map(|(_, body)| body).unwrap_or_default()
}

/// Replaces the first ```text block of a Markdown file with `body` (`DYNASHIFT_BLESS=1`).
fn bless_first_text_block(path: &str, body: &str) {
    let path = root().join(path);
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("```text\n").expect("a text block") + "```text\n".len();
    let end = start + text[start..].find("```").expect("a closed text block");
    std::fs::write(&path, format!("{}{body}\n{}", &text[..start], &text[end..])).unwrap();
}

#[test]
fn the_console_pictures_are_the_generated_capture() {
    // assets/console.txt is itself checked against the console's drawing by its snapshot tests.
    let capture = std::fs::read_to_string(root().join("assets/console.txt")).unwrap();
    let capture = capture.trim_end();
    // The front page leaves out the panes' empty rows.
    let empty_row = |line: &&str| line.starts_with('│') && line.replace('│', "").trim().is_empty();
    let front =
        capture.lines().filter(|line| !empty_row(line)).map(str::trim_end).collect::<Vec<_>>().join("\n");
    if std::env::var_os("DYNASHIFT_BLESS").is_some() {
        bless_first_text_block("docs/console.md", capture);
        bless_first_text_block("README.md", &front);
    }
    let bless = "run `DYNASHIFT_BLESS=1 cargo test --test docs` to paste assets/console.txt";
    assert_eq!(first_text_block("docs/console.md").trim_end(), capture, "docs/console.md: {bless}");
    assert_eq!(first_text_block("README.md").trim_end(), front, "README.md, without empty rows: {bless}");
}
