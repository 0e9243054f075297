//! The layering of issue #15, checked on every test run so that the compiler-invisible direction
//! of the imports cannot drift back:
//!
//! - the adapters and config (`warehouse/`, `source/`, `store/`, `config/`, `ddb/`, `aws/`) never
//!   reach into `crate::pipeline`: what they share with it lives in `crate::contract`;
//! - the front ends (`tui/`, `headless.rs`, `headless/`) never import an adapter module
//!   (`crate::source`, `crate::warehouse`, `crate::store`): they get the adapters from `wiring`,
//!   the composition root, and the types from `crate::contract`;
//! - `src/contract/` is a leaf: it imports nothing else of the crate;
//! - `config/` imports only itself and the contract (no demo source, no DynamoDB formats);
//! - no lower layer (the adapters, config, the pipeline, the contract) imports a front end.
//!
//! It reads the source text rather than the compiler's view: every path that starts with
//! `crate::`, `self::` or `super::` (in `use` lines, in code and inside macro calls, grouped
//! `crate::{a, b}` included) is resolved to the top-level module it reaches. Comments and
//! string literals are skipped. File size and import cycles are checked in
//! `tests/architecture_size.rs`.

use std::path::Path;

mod source_scan;

use source_scan::{collect_rs_files, strip_comments_and_strings, tokenize};

/// Folders whose files must not import `crate::pipeline`.
const ADAPTERS: &[&str] = &["warehouse", "source", "store", "config", "ddb", "aws"];
/// Front ends: they must not import [`ADAPTER_MODULES`].
const FRONT_ENDS: &[&str] = &["tui", "headless"];
const ADAPTER_MODULES: &[&str] = &["source", "warehouse", "store"];
/// The leaf module: it may import only itself.
const CONTRACT: &str = "contract";
/// Layers below the front ends: they must not import [`FRONT_ENDS`].
const LOWER_LAYERS: &[&str] =
    &["warehouse", "source", "store", "config", "ddb", "aws", "pipeline", "contract"];

#[test]
fn the_layers_import_only_downwards() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect_rs_files(&src, &mut files);
    assert!(files.len() > 100, "expected the crate's sources under {}, found {}", src.display(), files.len());
    let mut problems = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let text = std::fs::read_to_string(file).unwrap();
        for (line, message) in violations(&module_of(relative), &text) {
            problems.push(format!("src/{}:{line}: {message}", relative.display()));
        }
    }
    assert!(problems.is_empty(), "the layering is broken:\n{}", problems.join("\n"));
}

/// The module path of a file relative to `src/`: `warehouse/redshift/mod.rs` → `warehouse::redshift`.
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if let Some(last) = parts.last_mut() {
        *last = last.trim_end_matches(".rs").to_owned();
    }
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The rules `file_module`'s text breaks, as (line, message).
fn violations(file_module: &[String], text: &str) -> Vec<(usize, String)> {
    let Some(layer) = file_module.first().map(String::as_str) else { return Vec::new() };
    let mut found = Vec::new();
    for (line, target) in references(file_module, text) {
        let message = if ADAPTERS.contains(&layer) && target == "pipeline" {
            format!(
                "{layer}/ imports crate::pipeline; take the type from crate::contract (move it there if it \
                 crosses layers)"
            )
        } else if FRONT_ENDS.contains(&layer) && ADAPTER_MODULES.contains(&target.as_str()) {
            format!(
                "the front end imports the adapter module crate::{target}; take the type from crate::contract, \
                 and the adapters from wiring (the composition root)"
            )
        } else if layer == CONTRACT && target != CONTRACT {
            format!(
                "src/contract/ is a leaf but imports crate::{target}; move what it needs into the contract"
            )
        } else if LOWER_LAYERS.contains(&layer) && FRONT_ENDS.contains(&target.as_str()) {
            format!("{layer}/ imports the front end crate::{target}; data flows to the front ends, not back")
        } else if layer == "config" && ![CONTRACT, "config"].contains(&target.as_str()) {
            format!(
                "config/ imports crate::{target}; the config depends only on the contract (move the fact it \
                 needs into config or the contract)"
            )
        } else {
            continue;
        };
        found.push((line, message));
    }
    found
}

/// Every top-level module of the crate that `text` (the file of module `file_module`) refers to,
/// with its line.
fn references(file_module: &[String], text: &str) -> Vec<(usize, String)> {
    let tokens = tokens(&strip_comments_and_strings(text));
    let mut inline_mods: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut found = Vec::new();
    for (i, (line, token)) in tokens.iter().enumerate() {
        let at = |k: usize| tokens.get(k).map(|(_, t)| t.as_str());
        match token.as_str() {
            "{" => {
                depth += 1;
                continue;
            }
            "}" => {
                depth = depth.saturating_sub(1);
                inline_mods.retain(|(_, opened)| *opened <= depth);
                continue;
            }
            "mod" if at(i + 2) == Some("{") => {
                inline_mods.push((at(i + 1).unwrap_or_default().to_owned(), depth + 1));
                continue;
            }
            _ => {}
        }
        let starts_path = matches!(token.as_str(), "crate" | "self" | "super")
            && at(i + 1) == Some("::")
            && !matches!(i.checked_sub(1).and_then(at), Some("::" | "$"));
        if !starts_path {
            continue;
        }
        let mut prefix: Vec<String> = file_module.to_vec();
        prefix.extend(inline_mods.iter().map(|(name, _)| name.clone()));
        let mut k = i;
        match token.as_str() {
            "crate" => {
                prefix.clear();
                k += 2;
            }
            "self" => k += 2,
            _ => {
                while at(k) == Some("super") && at(k + 1) == Some("::") {
                    prefix.pop();
                    k += 2;
                }
            }
        }
        if let Some(top) = prefix.first() {
            found.push((*line, top.clone()));
        } else if at(k) == Some("{") {
            found.extend(group_heads(&tokens, k).into_iter().map(|head| (*line, head)));
        } else if let Some(head) = at(k).filter(|t| is_module_name(t)) {
            found.push((*line, head.to_owned()));
        }
    }
    found
}

/// The first name of each item of the `{…}` group opening at `open`: `{a::b, c}` → a, c.
fn group_heads(tokens: &[(usize, String)], open: usize) -> Vec<String> {
    let mut heads = Vec::new();
    let mut nesting = 0;
    let mut item_start = true;
    for (_, token) in &tokens[open..] {
        match token.as_str() {
            "{" => nesting += 1,
            "}" => {
                nesting -= 1;
                if nesting == 0 {
                    break;
                }
            }
            "," if nesting == 1 => item_start = true,
            name if nesting == 1 && item_start => {
                item_start = false;
                if is_module_name(name) {
                    heads.push(name.to_owned());
                }
            }
            _ => {}
        }
    }
    heads
}

fn is_module_name(token: &str) -> bool {
    token != "self"
        && token.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Identifiers, `::` and single punctuation characters, each with its line.
fn tokens(code: &str) -> Vec<(usize, String)> {
    tokenize(code).into_iter().map(|token| (token.line, token.text)).collect()
}

/// The checker itself: each of these would let a broken arrow through if the scan missed it.
mod checker {
    use super::*;

    fn module(path: &str) -> Vec<String> {
        module_of(Path::new(path))
    }

    fn lines(path: &str, text: &str) -> Vec<usize> {
        violations(&module(path), text).into_iter().map(|(line, _)| line).collect()
    }

    #[test]
    fn files_map_to_their_module_paths() {
        assert_eq!(module("warehouse/redshift/mod.rs"), ["warehouse", "redshift"]);
        assert_eq!(module("headless/lines.rs"), ["headless", "lines"]);
        assert_eq!(module("headless.rs"), ["headless"]);
        assert!(module("lib.rs").is_empty());
    }

    #[test]
    fn an_adapter_importing_the_pipeline_is_named_by_line() {
        let text = "//! doc\nuse crate::config::Mode;\nuse crate::pipeline::events::EventKind;\n";
        let found = violations(&module("warehouse/redshift/batch.rs"), text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 3);
        assert!(found[0].1.contains("crate::pipeline"), "{}", found[0].1);
        assert_eq!(lines("ddb/item_paths.rs", text), [3]);
        assert!(lines("pipeline/run.rs", text).is_empty(), "the pipeline may import itself");
    }

    #[test]
    fn grouped_inline_macro_and_super_paths_count() {
        assert_eq!(lines("config/a.rs", "use crate::{config::Mode, pipeline::staged::StagedSet};"), [1]);
        assert_eq!(
            lines("ddb/a.rs", "fn t() {\n    assert_eq!(crate::pipeline::staged::x(&t).len(), 7);\n}"),
            [2]
        );
        assert_eq!(lines("warehouse/sqlite/plan.rs", "use super::super::super::pipeline::X;"), [1]);
        assert!(lines("warehouse/sqlite/plan.rs", "use super::super::shape::X;").is_empty());
        assert_eq!(lines("source/a.rs", "fn f<'a>(x: &'a str) -> crate::pipeline::X { todo() }"), [1]);
    }

    #[test]
    fn comments_and_strings_are_not_imports() {
        let text = "// crate::pipeline::x\n/* crate::pipeline */ let a = \"crate::pipeline::x\";\n\
                    let b = r#\"crate::pipeline\"#; let c = '\"'; let d = crate::contract::Mode::Full;";
        assert!(lines("store/a.rs", text).is_empty());
    }

    #[test]
    fn front_ends_may_not_import_adapters_but_may_use_wiring() {
        assert_eq!(lines("tui/run_view.rs", "use crate::source::{ExportSpec, ExportStatus};"), [1]);
        assert_eq!(lines("headless.rs", "use crate::{config, store::S3Store};"), [1]);
        assert_eq!(lines("headless/lines.rs", "fn plan(e: &[crate::warehouse::X]) {}"), [1]);
        assert!(lines("tui/runner.rs", "use crate::wiring::{self, ConnectError};").is_empty());
        assert!(lines("tui/a.rs", "use crate::contract::ExportSpec;").is_empty());
    }

    #[test]
    fn the_contract_imports_only_itself() {
        assert_eq!(lines("contract/events.rs", "use crate::config::Mode;"), [1]);
        assert_eq!(lines("contract/events.rs", "use super::super::config::Mode;"), [1]);
        assert!(lines("contract/events.rs", "use super::mode::Mode;").is_empty());
        let inline = "pub mod a;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n";
        assert!(lines("contract/mod.rs", inline).is_empty(), "a test module's super is the contract");
        assert_eq!(lines("contract/mod.rs", "use self::x::Y;\nuse crate::pipeline::Z;"), [2]);
    }

    #[test]
    fn config_imports_only_the_contract_and_no_lower_layer_imports_a_front_end() {
        assert_eq!(lines("config/catalog.rs", "use crate::source::demo::{CATALOG, catalog_key};"), [1]);
        assert_eq!(lines("config/table.rs", "use crate::ddb::item_paths::path_problem;"), [1]);
        assert!(
            lines("config/table.rs", "use crate::contract::ExpectedKeyType;\nuse super::path::X;").is_empty()
        );
        assert_eq!(lines("pipeline/run.rs", "use crate::headless::lines;"), [1]);
        assert_eq!(lines("warehouse/mod.rs", "use crate::tui::App;"), [1]);
        assert!(lines("wiring.rs", "use crate::headless::X;").is_empty(), "wiring is no lower layer");
    }
}
